"""Endpoint credentials end to end: API -> sealed storage -> worker -> a real receiver.

Basic and bearer credentials are sent in ``Authorization``, never shown: answers mask
them, attempt records mask them, the server's log and database file never hold them.
"""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path
from typing import Any

import orjson
from test_delivery import attempts_of, publish

from support.certs import Authority, server_context
from support.oauth2 import TokenServer
from support.polling import wait_until
from support.receiver import Answer, Received, Receiver
from support.server import HooklineProcess, ServerFactory

PASSWORD = "pa55-word-never-shown"
TOKEN = "static-bearer-token-never-shown"


def recorded_headers(database: Path, msg_id: str) -> list[dict[str, str]]:
    """The request headers each attempt of ``msg_id`` recorded, as stored."""
    with sqlite3.connect(database) as conn:
        rows = conn.execute("SELECT request_headers FROM attempts WHERE msg_id = ?", (msg_id,))
        return [orjson.loads(row[0]) for row in rows]


def test_basic_and_bearer_credentials_are_sent_and_never_shown(
    server: HooklineProcess, receiver: Receiver, tmp_path: Path
) -> None:
    """Each endpoint gets its Authorization; answers, attempts, logs and the file mask it."""
    with server.client() as api:
        app_id = api.post("/api/v1/app", json={"name": "Acme"}).json()["id"]
        base = f"/api/v1/app/{app_id}/endpoint"
        basic = {"type": "basic", "username": "hookline", "password": PASSWORD}
        made = api.post(base, json={"url": f"{receiver.url}/basic", "auth": basic,
                                    "headers": {"Authorization": "custom, replaced"}})  # fmt: skip
        assert made.status_code == 201, made.text
        shown = made.json()
        assert shown["auth"] == {"type": "basic", "username": "hookline", "password": "<masked>"}
        assert shown["tls"] is None
        bearer = api.post(
            base, json={"url": f"{receiver.url}/bearer", "auth": {"type": "bearer", "token": TOKEN}}
        )
        assert bearer.json()["auth"] == {"type": "bearer", "token": "<masked>"}

        msg_id = publish(api, app_id, {"n": 1})
        requests = {r.path: r for r in receiver.wait_for(2)}
        expected = "Basic " + base64.b64encode(f"hookline:{PASSWORD}".encode()).decode()
        assert requests["/basic"].headers["Authorization"] == expected
        assert requests["/bearer"].headers["Authorization"] == f"Bearer {TOKEN}"
        wait_until(lambda: len(attempts_of(api, app_id, msg_id)) == 2, what="two attempts")
        for headers in recorded_headers(tmp_path / "hookline.db", msg_id):
            assert headers["authorization"] == "<masked>"
            assert "Authorization" not in headers  # the custom spelling was replaced

        # What a GET shows, PUT back, keeps the stored secret; the Svix-shaped PUT without
        # auth keeps it too.
        endpoint = f"{base}/{made.json()['id']}"
        got = api.get(endpoint).json()
        put = api.put(endpoint, json={"url": got["url"], "auth": got["auth"]})
        assert put.status_code == 200, put.text
        assert api.put(endpoint, json={"url": got["url"]}).status_code == 200
        publish(api, app_id, {"n": 2})
        later = [r for r in receiver.wait_for(4) if r.path == "/basic"]
        assert later[-1].headers["Authorization"] == expected

        # Audit entries show a fingerprint at most.
        trail = api.get(f"/api/v1/app/{app_id}/audit").json()["data"]
        assert trail
        assert PASSWORD not in str(trail)
        assert TOKEN not in str(trail)

        # A patch with null clears the credentials.
        cleared = api.patch(endpoint, json={"auth": None})
        assert cleared.status_code == 200
        assert cleared.json()["auth"] is None
    logs = server.logs()
    database = b"".join(p.read_bytes() for p in tmp_path.glob("hookline.db*"))
    for secret in (PASSWORD, TOKEN):
        assert secret not in logs
        assert secret.encode() not in database


def test_bad_credentials_are_refused_clearly(server: HooklineProcess, receiver: Receiver) -> None:
    """Malformed credentials are a 422 naming the field, and nothing is stored."""
    with server.client() as api:
        app_id = api.post("/api/v1/app", json={"name": "Acme"}).json()["id"]
        base = f"/api/v1/app/{app_id}/endpoint"
        cases: list[tuple[dict[str, Any], str]] = [
            ({"type": "basic", "username": "a:b", "password": "x"}, "username"),
            ({"type": "bearer", "token": "line\nbreak"}, "token"),
            ({"type": "kerberos"}, "auth"),
            ({"type": "bearer", "token": "<masked>"}, "token"),
            (
                {
                    "type": "oauth2",
                    "tokenUrl": "http://169.254.169.254/token",
                    "clientId": "c",
                    "clientSecret": "s",
                },
                "tokenUrl",
            ),
        ]
        for auth, field in cases:
            refused = api.post(base, json={"url": receiver.url, "auth": auth})
            assert refused.status_code == 422, (auth, refused.text)
            assert field in refused.text
        tls = {"clientCertificate": "not pem", "clientKey": "not pem"}
        refused = api.post(base, json={"url": "https://example.com/hook", "tls": tls})
        assert refused.status_code == 422
        assert "clientCertificate" in refused.text
        assert api.get(base).json()["data"] == []


def test_oauth2_endpoint_gets_tokens_from_a_real_token_endpoint(
    server: HooklineProcess, tmp_path: Path
) -> None:
    """Deliveries carry one cached token; a refused client is a token_error attempt."""
    tokens = TokenServer("acme-client", "acme-secret").start()

    def behaviour(request: Received, count: int) -> Answer:
        valid = tokens.valid(request.headers.get("Authorization"))
        return Answer() if valid else Answer(status=401)

    receiver = Receiver(behaviour).start()
    try:
        with server.client() as api:
            app_id = api.post("/api/v1/app", json={"name": "Acme"}).json()["id"]
            base = f"/api/v1/app/{app_id}/endpoint"
            auth = {
                "type": "oauth2", "tokenUrl": tokens.url, "clientId": "acme-client",
                "clientSecret": "acme-secret", "scope": "webhooks", "clientAuth": "form",
            }  # fmt: skip
            made = api.post(base, json={"url": receiver.url, "auth": auth})
            assert made.status_code == 201, made.text
            assert made.json()["auth"]["clientSecret"] == "<masked>"
            ids = [publish(api, app_id, {"n": n}) for n in range(3)]
            receiver.wait_for(3)
            for msg_id in ids:
                wait_until(lambda m=msg_id: attempts_of(api, app_id, m), what="an attempt")
                assert [a["status"] for a in attempts_of(api, app_id, msg_id)] == [0]
            assert tokens.granted == 1
            assert {r.scope for r in tokens.requests} == {"webhooks"}

            endpoint = f"{base}/{made.json()['id']}"
            wrong = {**auth, "clientSecret": "not-the-acme-secret"}
            assert api.patch(endpoint, json={"auth": wrong}).status_code == 200
            msg_id = publish(api, app_id, {"n": 9})
            [attempt] = wait_until(lambda: attempts_of(api, app_id, msg_id), what="an attempt")
            assert attempt["errorClass"] == "token_error"
            assert "invalid_client" in attempt["response"]
            assert len(receiver.snapshot()) == 3  # nothing sent without a token
    finally:
        receiver.stop()
        tokens.stop()
    assert "acme-secret" not in server.logs()


def test_mutual_tls_end_to_end_and_its_refusals(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    """An endpoint with a client certificate reaches a receiver that requires one; its key
    is masked; tls on an http URL, or with the aiohttp client, is a clear 422."""
    server_ca, client_ca = Authority("server CA"), Authority("client CA")
    context = server_context(server_ca.issue("receiver", server=True), client_ca, tmp_path)
    receiver = Receiver(ssl_context=context).start()
    client = client_ca.issue("hookline", server=False)
    tls = {"clientCertificate": client.certificate, "clientKey": client.key,
           "caBundle": server_ca.certificate}  # fmt: skip
    try:
        server = start_server(retry_schedule="1s", retry_jitter="0")
        with server.client() as api:
            app_id = api.post("/api/v1/app", json={"name": "Acme"}).json()["id"]
            base = f"/api/v1/app/{app_id}/endpoint"
            made = api.post(base, json={"url": f"{receiver.url}/mtls", "tls": tls})
            assert made.status_code == 201, made.text
            assert made.json()["tls"]["clientKey"] == "<masked>"
            assert made.json()["tls"]["clientCertificate"] == client.certificate
            msg_id = publish(api, app_id, {"n": 1})
            [request] = receiver.wait_for(1)
            assert request.path == "/mtls"
            wait_until(lambda: attempts_of(api, app_id, msg_id), what="an attempt")
            plain = api.post(base, json={"url": "http://127.0.0.1:9/hook", "tls": tls})
            assert plain.status_code == 422
            assert "https" in plain.text
        aiohttp = start_server(http_client="aiohttp")
        with aiohttp.client() as api:
            app_id = api.post("/api/v1/app", json={"name": "Acme"}).json()["id"]
            refused = api.post(f"/api/v1/app/{app_id}/endpoint",
                               json={"url": f"{receiver.url}/mtls", "tls": tls})  # fmt: skip
            assert refused.status_code == 422
            assert "pyreqwest" in refused.text
    finally:
        receiver.stop()
    key_body = client.key.splitlines()[1]
    assert key_body not in server.logs()
    database = b"".join(p.read_bytes() for p in tmp_path.glob("hookline.db*"))
    assert key_body.encode() not in database
