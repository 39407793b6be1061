"""The provider kinds on a real server: made through the API, verified at /in/<token>.

Sources of every kind are accepted by the API (an unknown option is refused naming
it); then, over real HTTP, the providers' handshakes are answered (Zoom, Meta, Adobe
Sign), a credential header stays at the gateway (GitLab), and an Ed25519-signed
Telnyx event is stored while a forged one is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hookline.domain.verifiers import KINDS

from support.receiver import Receiver
from support.server import HooklineProcess

WHSEC = "whsec_" + base64.b64encode(b"provider-secret-0123456789abcdef").decode()


def minimal_verifier(kind: str, telnyx_public: str, rsa_pem: str) -> dict[str, Any]:
    """The least verifier of ``kind`` that the API accepts."""
    config: dict[str, Any] = {
        "hmac": {"algorithm": "sha256", "header": "X-Sig"},
        "api_key": {"header": "X-Key"},
        "meta": {"verify_token": "t"},
    }.get(kind, {})
    secrets = {
        "basic_auth": ["u:p"],
        "none": [],
        "generic-webhook": [],
        "telnyx": [telnyx_public],
        "orum-io": [rsa_pem],
    }.get(kind, [WHSEC])
    return {"type": kind, "config": config, "secrets": secrets}


def rsa_public_pem() -> str:
    """An RSA public key in PEM, as Orum hands it out."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode()


def telnyx_pair() -> tuple[Ed25519PrivateKey, str]:
    """An Ed25519 key and its public key as Telnyx shows it."""
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return private, base64.b64encode(raw).decode()


def new_app(api: httpx.Client, receiver_url: str | None = None) -> str:
    """An application (with an endpoint at ``receiver_url`` if given)."""
    app_id: str = api.post("/api/v1/app", json={"name": "Providers"}).json()["id"]
    if receiver_url is not None:
        made = api.post(f"/api/v1/app/{app_id}/endpoint", json={"url": receiver_url})
        assert made.status_code == 201, made.text
    return app_id


def new_source(api: httpx.Client, app_id: str, verifier: dict[str, Any]) -> dict[str, Any]:
    """A source with ``verifier``; its JSON."""
    made = api.post(f"/api/v1/app/{app_id}/source", json={"name": "p", "verifier": verifier})
    assert made.status_code == 201, made.text
    source: dict[str, Any] = made.json()
    return source


def test_the_api_accepts_a_source_of_every_kind_and_refuses_an_unknown_option(
    server: HooklineProcess,
) -> None:
    """Every registry kind makes a source; an undocumented option is a 422 naming it."""
    _, telnyx_public = telnyx_pair()
    pem = rsa_public_pem()
    with server.client() as api:
        app_id = new_app(api)
        for kind in KINDS:
            source = new_source(api, app_id, minimal_verifier(kind, telnyx_public, pem))
            assert source["verifier"]["type"] == kind
        refused = api.post(
            f"/api/v1/app/{app_id}/source",
            json={"name": "p", "verifier": {"type": "zoom", "config": {"tolerence": 60},
                                            "secrets": ["s"]}},
        )  # fmt: skip
    assert refused.status_code == 422
    (problem,) = refused.json()["detail"]
    assert problem["loc"][-3:] == ["verifier", "config", "tolerence"]


def test_zoom_url_validation_is_answered_and_stores_nothing(server: HooklineProcess) -> None:
    """Zoom's signed endpoint.url_validation gets its token and HMAC back; no message."""
    with server.client() as api:
        app_id = new_app(api)
        source = new_source(api, app_id, {"type": "zoom", "secrets": ["zoom-secret"]})
    body = b'{"event": "endpoint.url_validation", "payload": {"plainToken": "tok123"}}'
    now = str(int(time.time()))
    mac = hmac.new(b"zoom-secret", f"v0:{now}:".encode() + body, hashlib.sha256).hexdigest()
    headers = {"x-zm-signature": f"v0={mac}", "x-zm-request-timestamp": now,
               "content-type": "application/json"}  # fmt: skip
    with httpx.Client(timeout=10) as provider:
        answer = provider.post(source["ingestUrl"], content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    expected = hmac.new(b"zoom-secret", b"tok123", hashlib.sha256).hexdigest()
    assert answer.json() == {"plainToken": "tok123", "encryptedToken": expected}
    with server.client() as api:
        assert api.get(f"/api/v1/app/{app_id}/msg").json()["data"] == []


def test_meta_subscription_check_over_get(server: HooklineProcess) -> None:
    """Meta's GET with the right verify token gets the challenge; a wrong token a 401."""
    with server.client() as api:
        app_id = new_app(api)
        source = new_source(
            api, app_id, {"type": "meta", "config": {"verify_token": "vt"}, "secrets": ["app"]}
        )
    check = "?hub.mode=subscribe&hub.verify_token={}&hub.challenge=1158201444"
    with httpx.Client(timeout=10) as provider:
        ok = provider.get(source["ingestUrl"] + check.format("vt"))
        wrong = provider.get(source["ingestUrl"] + check.format("guess"))
    assert (ok.status_code, ok.content) == (200, b"1158201444")
    assert wrong.status_code == 401


def test_adobe_sign_notification_is_stored_and_echoes_the_client_id(
    server: HooklineProcess,
) -> None:
    """An Adobe Sign notification is stored and its answer carries the client id back."""
    with server.client() as api:
        app_id = new_app(api)
        source = new_source(api, app_id, {"type": "adobe-sign", "secrets": ["CBJCH-client"]})
    body = b'{"webhookNotificationId": "n-7", "event": "AGREEMENT_CREATED"}'
    headers = {"X-AdobeSign-ClientId": "CBJCH-client", "content-type": "application/json"}
    with httpx.Client(timeout=10) as provider:
        intent = provider.get(source["ingestUrl"], headers=headers)
        answer = provider.post(source["ingestUrl"], content=body, headers=headers)
    assert intent.json() == {"xAdobeSignClientId": "CBJCH-client"}
    assert answer.status_code == 200, answer.text
    assert answer.json()["xAdobeSignClientId"] == "CBJCH-client"
    with server.client() as api:
        stored = api.get(f"/api/v1/app/{app_id}/msg/{answer.json()['id']}").json()
    assert stored["eventType"] == "AGREEMENT_CREATED"


def test_gitlab_token_is_checked_and_not_forwarded(
    server: HooklineProcess, receiver: Receiver
) -> None:
    """A GitLab event with its token is delivered without the token; a wrong token is 401."""
    with server.client() as api:
        app_id = new_app(api, f"{receiver.url}/hook")
        source = new_source(api, app_id, {"type": "gitlab", "secrets": ["glpat-token"]})
    body = b'{"object_kind": "push", "ref": "refs/heads/main"}'
    headers = {"X-Gitlab-Token": "glpat-token", "X-Gitlab-Event": "Push Hook",
               "X-Gitlab-Event-UUID": "u-1", "content-type": "application/json"}  # fmt: skip
    with httpx.Client(timeout=10) as provider:
        answer = provider.post(source["ingestUrl"], content=body, headers=headers)
        forged = provider.post(
            source["ingestUrl"], content=body, headers={**headers, "X-Gitlab-Token": "guess"}
        )
    assert (answer.status_code, forged.status_code) == (200, 401)
    (arrived,) = receiver.wait_for(1)
    received = {name.lower(): value for name, value in arrived.headers.items()}
    assert received["x-gitlab-event"] == "Push Hook"
    assert "x-gitlab-token" not in received


def test_telnyx_ed25519_event_is_stored_and_a_forged_one_refused(
    server: HooklineProcess,
) -> None:
    """An event signed with Telnyx's private key is stored once; another key's is 401."""
    private, public = telnyx_pair()
    forger, _ = telnyx_pair()
    with server.client() as api:
        app_id = new_app(api)
        source = new_source(api, app_id, {"type": "telnyx", "secrets": [public]})
    body = json.dumps({"data": {"id": "ev-1", "event_type": "call.initiated"}}).encode()

    def signed(key: Ed25519PrivateKey) -> dict[str, str]:
        now = str(int(time.time()))
        signature = base64.b64encode(key.sign(f"{now}|".encode() + body)).decode()
        return {"telnyx-signature-ed25519": signature, "telnyx-timestamp": now,
                "content-type": "application/json"}  # fmt: skip

    with httpx.Client(timeout=10) as provider:
        first = provider.post(source["ingestUrl"], content=body, headers=signed(private))
        again = provider.post(source["ingestUrl"], content=body, headers=signed(private))
        forged = provider.post(source["ingestUrl"], content=body, headers=signed(forger))
    assert (first.status_code, again.status_code, forged.status_code) == (200, 200, 401)
    assert again.json() == {"id": first.json()["id"], "duplicate": True}
    with server.client() as api:
        stored = api.get(f"/api/v1/app/{app_id}/msg/{first.json()['id']}").json()
    assert stored["eventType"] == "call.initiated"
