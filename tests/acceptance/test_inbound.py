"""The inbound gateway on a real server: receive, verify, deduplicate, store, then process."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from support.polling import wait_until
from support.receiver import Receiver
from support.server import HooklineProcess, ServerFactory

#: Non-ASCII text, odd whitespace and an unusual key order: re-serialising would change it.
AWKWARD_BODY = (
    '{ "zeta":1,\n\t"amount" : 10.50 ,"name":"Zoë 😀 — naïve",  "nested":{"b":2,"a":[1 ,2]}}'
).encode()
PROVIDER_SECRET = "whsec_" + base64.b64encode(b"provider-secret-0123456789abcdef").decode()


def signed_headers(msg_id: str, body: bytes, secret: str = PROVIDER_SECRET) -> dict[str, str]:
    """Headers a Standard Webhooks provider sends, signed by the official library."""
    now = int(time.time())
    signature = Webhook(secret).sign(msg_id, _when(now), body.decode())
    return {
        "webhook-id": msg_id, "webhook-timestamp": str(now), "webhook-signature": signature,
        "content-type": "application/json", "x-provider-trace": "trace-42",
    }  # fmt: skip


def _when(epoch: int) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC)


def make_source(api: httpx.Client, app_id: str, **fields: Any) -> dict[str, Any]:
    body = {
        "name": "provider",
        "verifier": {"type": "standard_webhooks", "secrets": [PROVIDER_SECRET]},
        **fields,
    }
    made = api.post(f"/api/v1/app/{app_id}/source", json=body)
    assert made.status_code == 201, made.text
    source: dict[str, Any] = made.json()
    return source


def setup(server: HooklineProcess, url: str) -> tuple[str, str, dict[str, Any]]:
    """An application with one endpoint at ``url`` and one source: (app id, secret, source)."""
    with server.client() as api:
        app = api.post("/api/v1/app", json={"name": "Acme"}).json()
        endpoint = api.post(f"/api/v1/app/{app['id']}/endpoint", json={"url": url}).json()
        secret = api.get(f"/api/v1/app/{app['id']}/endpoint/{endpoint['id']}/secret").json()
        return app["id"], secret["key"], make_source(api, app["id"])


def test_received_event_is_forwarded_byte_for_byte_and_verifies(
    server: HooklineProcess, receiver: Receiver
) -> None:
    app_id, endpoint_secret, source = setup(server, f"{receiver.url}/hook")
    assert source["ingestUrl"].startswith(server.url + "/in/hk_in_")
    assert source["verifier"] == {"type": "standard_webhooks", "config": {}, "secretCount": 1}
    with httpx.Client(timeout=10) as provider:
        answer = provider.post(
            source["ingestUrl"], content=AWKWARD_BODY, headers=signed_headers("evt_1", AWKWARD_BODY)
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["duplicate"] is False

    (arrived,) = receiver.wait_for(1)
    assert arrived.body == AWKWARD_BODY
    received = {name.lower(): value for name, value in arrived.headers.items()}
    assert received["x-provider-trace"] == "trace-42"
    assert received["content-type"] == "application/json"
    assert "webhook-timestamp" in received
    # Hookline signs the hop with the endpoint's secret; the receiver verifies it.
    assert Webhook(endpoint_secret).verify(arrived.body, arrived.headers) == json.loads(
        AWKWARD_BODY
    )
    with server.client() as api:
        stored = api.get(f"/api/v1/app/{app_id}/msg/{answer.json()['id']}?with_content=true")
    assert stored.json()["payload"]["name"] == "Zoë 😀 — naïve"


def test_a_bad_signature_is_refused_and_stores_nothing(
    server: HooklineProcess, receiver: Receiver
) -> None:
    app_id, _, source = setup(server, f"{receiver.url}/hook")
    wrong = "whsec_" + base64.b64encode(b"not-the-provider-secret-at-all!!").decode()
    tampered = AWKWARD_BODY.replace(b"10.50", b"99.99")
    with httpx.Client(timeout=10) as provider:
        answers = [
            provider.post(source["ingestUrl"], content=AWKWARD_BODY,
                          headers=signed_headers("evt_1", AWKWARD_BODY, wrong)),
            provider.post(source["ingestUrl"], content=tampered,
                          headers=signed_headers("evt_2", AWKWARD_BODY)),
            provider.post(source["ingestUrl"], content=AWKWARD_BODY),
        ]  # fmt: skip
        unknown = provider.post(source["ingestUrl"] + "x", content=b"{}")
    assert [a.status_code for a in answers] == [401, 401, 401]
    assert {a.json()["detail"] for a in answers} == {"invalid signature"}
    assert unknown.status_code == 404
    with server.client() as api:
        assert api.get(f"/api/v1/app/{app_id}/msg").json()["data"] == []
    assert receiver.snapshot() == []
    time.sleep(0.3)  # log lines are written in batches
    logs = server.logs()
    assert logs.count("inbound request rejected") == 3
    assert inbound_counts(server) == {"rejected": 3}
    assert PROVIDER_SECRET not in logs
    assert wrong not in logs
    assert source["ingestUrl"].rsplit("/", 1)[1] not in logs


def test_fifty_concurrent_copies_of_one_event_are_stored_once(
    server: HooklineProcess, receiver: Receiver
) -> None:
    app_id, _, source = setup(server, f"{receiver.url}/hook")
    headers = signed_headers("evt_dup", AWKWARD_BODY)

    def post(_: int) -> httpx.Response:
        with httpx.Client(timeout=20) as provider:
            return provider.post(source["ingestUrl"], content=AWKWARD_BODY, headers=headers)

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(post, range(50)))
    assert {a.status_code for a in answers} == {200}
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum(not a.json()["duplicate"] for a in answers) == 1
    receiver.wait_for(1)
    time.sleep(1.0)  # room for a second delivery, if there were one
    assert len(receiver.snapshot()) == 1
    with server.client() as api:
        assert len(api.get(f"/api/v1/app/{app_id}/msg").json()["data"]) == 1
    assert inbound_counts(server) == {"stored": 1, "duplicate": 49}


def test_duplicates_are_remembered_only_for_the_window(
    server: HooklineProcess, receiver: Receiver
) -> None:
    with server.client() as api:
        app = api.post("/api/v1/app", json={"name": "Acme"}).json()
        source = make_source(api, app["id"], dedupWindowSeconds=1)
    with httpx.Client(timeout=10) as provider:
        first = provider.post(
            source["ingestUrl"], content=b"{}", headers=signed_headers("evt_w", b"{}")
        ).json()
        again = provider.post(
            source["ingestUrl"], content=b"{}", headers=signed_headers("evt_w", b"{}")
        ).json()
        time.sleep(1.2)
        later = provider.post(
            source["ingestUrl"], content=b"{}", headers=signed_headers("evt_w", b"{}")
        ).json()
    assert (first["duplicate"], again["duplicate"], later["duplicate"]) == (False, True, False)
    assert again["id"] == first["id"]
    assert later["id"] != first["id"]


def test_github_source_takes_type_and_id_from_its_headers(
    server: HooklineProcess, receiver: Receiver
) -> None:
    secret = "It's a Secret to Everybody"
    with server.client() as api:
        app = api.post("/api/v1/app", json={"name": "Acme"}).json()
        api.post("/api/v1/event-type", json={"name": "push", "description": "a push"})
        api.post(
            f"/api/v1/app/{app['id']}/endpoint",
            json={"url": f"{receiver.url}/pushes", "eventTypes": ["push"]},
        )
        source = make_source(api, app["id"], verifier={"type": "github", "secrets": [secret]})
    body = b'{"ref":"refs/heads/main"}'
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    with httpx.Client(timeout=10) as provider:
        for event in ("push", "issues"):  # only push is subscribed
            answer = provider.post(
                source["ingestUrl"], content=body,
                headers={"X-Hub-Signature-256": signature, "X-GitHub-Event": event,
                         "X-GitHub-Delivery": f"d-{event}", "content-type": "application/json"},
            )  # fmt: skip
            assert answer.status_code == 200, answer.text
    (arrived,) = receiver.wait_for(1)
    assert arrived.path == "/pushes"
    assert arrived.headers["x-github-event"] == "push"
    with server.client() as api:
        types = [m["eventType"] for m in api.get(f"/api/v1/app/{app['id']}/msg").json()["data"]]
    assert sorted(types) == ["issues", "push"]


def test_slack_url_verification_is_answered(server: HooklineProcess) -> None:
    secret = "8f742231b10e8888abcd99yyyzzz85a5"
    with server.client() as api:
        app = api.post("/api/v1/app", json={"name": "Acme"}).json()
        source = make_source(api, app["id"], verifier={"type": "slack", "secrets": [secret]})
    body = b'{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",' \
           b'"type":"url_verification"}'  # fmt: skip
    stamp = str(int(time.time()))
    base = b"v0:" + stamp.encode() + b":" + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    with httpx.Client(timeout=10) as provider:
        answer = provider.post(
            source["ingestUrl"], content=body,
            headers={"X-Slack-Signature": signature, "X-Slack-Request-Timestamp": stamp,
                     "content-type": "application/json"},
        )  # fmt: skip
    assert answer.status_code == 200
    assert answer.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


def test_sources_are_managed_and_checked_through_the_api(server: HooklineProcess) -> None:
    with server.client() as api:
        app = api.post("/api/v1/app", json={"name": "Acme"}).json()
        base = f"/api/v1/app/{app['id']}/source"
        bad = api.post(base, json={"name": "x", "verifier": {"type": "no-such-kind"}})
        assert bad.status_code == 422
        assert bad.json()["detail"][0]["loc"][:2] == ["body", "verifier"]
        source = make_source(api, app["id"], uid="stripe-live")
        assert api.get(f"{base}/stripe-live").json()["id"] == source["id"]
        assert PROVIDER_SECRET not in api.get(base).text
        rotated = api.post(f"{base}/{source['id']}/rotate-url").json()
        assert rotated["ingestUrl"] != source["ingestUrl"]
        with httpx.Client(timeout=10) as provider:
            old = provider.post(
                source["ingestUrl"], content=b"{}", headers=signed_headers("e", b"{}")
            )
            new = provider.post(
                rotated["ingestUrl"], content=b"{}", headers=signed_headers("e", b"{}")
            )
        assert (old.status_code, new.status_code) == (404, 200)
        trail = [e["action"] for e in api.get(f"/api/v1/app/{app['id']}/audit").json()["data"]]
        assert trail[:2] == ["source.url.rotated", "source.created"]
        assert api.delete(f"{base}/{source['id']}").status_code == 204
        assert api.get(f"{base}/{source['id']}").status_code == 404


HANDLERS_MODULE = """
import json, pathlib
from hookline import Handlers

handlers = Handlers("billing")
LOG = pathlib.Path(__file__).with_name("handled.jsonl")

@handlers.on("invoice.paid")
def record(event):
    seen = LOG.read_text().count(event.id) if LOG.exists() else 0
    with LOG.open("a") as log:
        log.write(json.dumps({"id": event.id, "attempt": event.attempt, "app": event.app_id,
                              "amount": event.json()["amount"]}) + "\\n")
    if seen == 0:
        raise RuntimeError("ledger busy, try again")
"""


def test_python_handlers_run_with_retries(
    start_server: ServerFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A received event reaches a Python handler; a raising handler is retried, same event id."""
    (tmp_path / "billing_handlers.py").write_text(HANDLERS_MODULE)
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    server = start_server(
        args=("--handlers", "billing_handlers:handlers"), retry_schedule="1s,1s",
        retry_jitter="0",
    )  # fmt: skip
    with server.client() as api:
        app = api.post("/api/v1/app", json={"name": "Acme"}).json()
        api.post("/api/v1/event-type", json={"name": "invoice.paid", "description": "paid"})
        handler = api.post(f"/api/v1/app/{app['id']}/endpoint", json={"url": "handler:billing"})
        assert handler.status_code == 201, handler.text
        bad = api.post(f"/api/v1/app/{app['id']}/endpoint", json={"url": "handler:no spaces"})
        assert bad.status_code == 422
        portal = api.post(f"/api/v1/auth/app-portal-access/{app['id']}", json={}).json()
    with server.client(portal["token"]) as customer:
        # A customer cannot point events at the operator's own code.
        forged = customer.post(f"/api/v1/app/{app['id']}/endpoint", json={"url": "handler:billing"})
        assert forged.status_code == 403
    with server.client() as api:
        source = make_source(api, app["id"], forwardHeaders=False)
    body = b'{"type":"invoice.paid","amount":1999}'
    with httpx.Client(timeout=10) as provider:
        answer = provider.post(
            source["ingestUrl"], content=body, headers=signed_headers("evt_inv", body)
        )
    assert answer.status_code == 200
    msg_id = answer.json()["id"]

    log = tmp_path / "handled.jsonl"
    calls = wait_until(
        lambda: [json.loads(line) for line in log.read_text().splitlines()]
        if log.exists() and log.read_text().count("\n") >= 2 else None,
        what="the handler's retry",
    )  # fmt: skip
    assert [(c["id"], c["attempt"], c["amount"], c["app"]) for c in calls] == [
        (msg_id, 1, 1999, app["id"]), (msg_id, 2, 1999, app["id"]),
    ]  # fmt: skip
    with server.client() as api:

        def attempts() -> list[dict[str, Any]] | None:
            found = api.get(f"/api/v1/app/{app['id']}/attempt/msg/{msg_id}").json()["data"]
            return found if len(found) == 2 else None

        second, first = wait_until(attempts, what="both attempts recorded")
    assert first["errorClass"] == "handler_error"
    assert "ledger busy" in first["response"]
    assert second["status"] == 0
    assert second["responseStatusCode"] == 200


FETCHER_MODULE = """
from datetime import datetime, timedelta, timezone

def fetch(since, until):
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for n in range(5):
        moment = start + timedelta(hours=n)
        if since <= moment < until:
            yield {"id": f"evt_{n}", "body": {"n": n}, "event_type": "invoice.paid",
                   "timestamp": moment}
"""


def test_backfill_command_feeds_missed_events_through_the_inbound_path(
    server: HooklineProcess, receiver: Receiver, tmp_path: Path
) -> None:
    app_id, _, source = setup(server, f"{receiver.url}/hook")
    with httpx.Client(timeout=10) as provider:  # one event that did arrive live
        live = provider.post(
            source["ingestUrl"], content=b'{"n":2}', headers=signed_headers("evt_2", b'{"n":2}')
        )
    assert live.status_code == 200
    (tmp_path / "history.py").write_text(FETCHER_MODULE)
    env = {**os.environ, "HOOKLINE_DATABASE_URL": server.database_url,
           "HOOKLINE_SECRET_KEY_FILE": str(tmp_path / "hookline.key"),
           "PYTHONPATH": str(tmp_path)}  # fmt: skip
    command = [
        sys.executable, "-m", "hookline", "backfill", source["id"], "--app", app_id,
        "--since", "2026-01-01", "--until", "2026-01-02", "--fetcher", "history:fetch",
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "4 stored, 1 already there" in done.stdout
    receiver.wait_for(5)
    assert sorted(r.body for r in receiver.snapshot()) == [
        b'{"n":0}', b'{"n":1}', b'{"n":2}', b'{"n":3}', b'{"n":4}',
    ]  # fmt: skip
    again = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert "already filled in" in again.stdout


def test_the_gateway_refuses_what_it_cannot_take(start_server: ServerFactory) -> None:
    server = start_server(max_request_bytes="4096")
    with server.client() as api:
        app = api.post("/api/v1/app", json={"name": "Acme"}).json()
        source = make_source(api, app["id"])
    big = b'{"blob":"' + b"x" * 5000 + b'"}'
    with httpx.Client(timeout=10) as provider:
        declared = provider.post(source["ingestUrl"], content=big, headers=signed_headers("a", big))
        streamed = provider.post(
            source["ingestUrl"], content=iter([big[:3000], big[3000:]]),
            headers=signed_headers("b", big),
        )  # fmt: skip
        wrong_method = provider.get(source["ingestUrl"])
        nested = provider.post(source["ingestUrl"] + "/extra", content=b"{}")
        binary = b"\xff\xfe\x00"
        not_text = provider.post(
            source["ingestUrl"], content=binary, headers=signed_headers_bytes("c", binary)
        )
    assert (declared.status_code, streamed.status_code) == (413, 413)
    assert "4096" in declared.json()["detail"]
    assert wrong_method.status_code == 405
    assert nested.status_code == 404
    assert not_text.status_code == 415
    with server.client() as api:
        assert api.get(f"/api/v1/app/{app['id']}/msg").json()["data"] == []


def signed_headers_bytes(msg_id: str, body: bytes) -> dict[str, str]:
    """Standard Webhooks headers for a body that is not text (signed with hookline's signer)."""
    from hookline.domain import signing

    return signing.headers(PROVIDER_SECRET, msg_id, int(time.time()), body, svix_headers=False)


def inbound_counts(server: HooklineProcess) -> dict[str, float]:
    """The server's ``hookline_inbound_requests_total`` by result, from /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    with server.client() as api:
        text = api.get("/metrics").text
    return {
        sample.labels["result"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "hookline_inbound_requests_total"
    }
