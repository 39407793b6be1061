"""Access to a real server: tokens, the first admin token, limits, the audit trail, logs."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from svix.api import ApplicationIn, ApplicationTokenExpireIn, AppPortalAccessIn, Svix, SvixOptions
from svix.exceptions import HttpError

from support.polling import wait_until
from support.receiver import Receiver
from support.server import ADMIN_TOKEN, HooklineProcess, ServerFactory


def table_rows(database: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, read straight from the SQLite file."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        names = [
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        return {
            name: sorted(
                connection.execute(f'SELECT * FROM "{name}"').fetchall(),  # noqa: S608 - own names
                key=repr,
            )
            for name in names
        }
    finally:
        connection.close()


def hookline_cli(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOOKLINE_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "hookline", *args],
        env=env, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


# --- authentication ---------------------------------------------------------------------------


def test_every_route_but_health_needs_a_token(server: HooklineProcess) -> None:
    with server.client() as admin:
        spec = admin.get("/api/v1/openapi.json").json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    with server.client(token=None) as anonymous:
        assert anonymous.get("/api/v1/health").status_code == 204
        assert anonymous.get("/api/v1/openapi.json").status_code == 200
        for path, operations in spec["paths"].items():
            if path == "/api/v1/health":
                continue
            for method in operations:
                answer = anonymous.request(method.upper(), path.replace("{", "x").replace("}", ""))
                assert answer.status_code == 401, f"{method} {path}: {answer.status_code}"
                assert answer.json()["code"] == "authentication_failed"
                assert answer.headers["www-authenticate"] == "Bearer"
        assert "missing Authorization" in anonymous.get("/api/v1/app").json()["detail"]
        basic = anonymous.get("/api/v1/app", headers={"Authorization": "Basic dXNlcjpwdw=="})
        assert "expected 'Bearer <token>'" in basic.json()["detail"]
        wrong = anonymous.get("/api/v1/app", headers={"Authorization": "Bearer hk_wrong"})
        assert (wrong.status_code, wrong.json()["detail"]) == (401, "invalid token")


def test_first_start_creates_an_admin_token_and_shows_it_once(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    first = start_server(admin_token="")
    banner = [line for line in first.logs().splitlines() if line.strip().startswith("hk_")]
    assert len(banner) == 1
    token = banner[0].strip()
    with first.client(token) as api:
        assert api.get("/api/v1/app").status_code == 200
        listed = api.get("/api/v1/auth/token").json()["data"]
    assert [t["id"] for t in listed] == ["tok_first_admin"]
    assert token not in str(listed)
    assert token.startswith(listed[0]["prefix"])
    assert first.terminate() == 0

    again = start_server(admin_token="")
    assert "shown only this once" not in again.logs()
    with again.client(token) as api:
        assert api.get("/api/v1/app").status_code == 200
    raw = (tmp_path / "hookline.db").read_bytes() + _wal(tmp_path / "hookline.db")
    assert token.encode() not in raw


def _wal(database: Path) -> bytes:
    wal = database.with_name(database.name + "-wal")
    return wal.read_bytes() if wal.exists() else b""


def test_tokens_are_created_used_and_revoked(server: HooklineProcess) -> None:
    with server.client() as admin:
        app = admin.post("/api/v1/app", json={"name": "Acme"}).json()
        created = admin.post("/api/v1/auth/token", json={"name": "billing", "appId": app["id"]})
        assert created.status_code == 201
        token = created.json()
        assert token["token"].startswith("hk_")
        assert token["appId"] == app["id"]
        shown = admin.get(f"/api/v1/auth/token/{token['id']}").json()
        assert "token" not in shown
        assert shown["revokedAt"] is None
        missing_app = admin.post("/api/v1/auth/token", json={"name": "x", "appId": "nope"})
        assert missing_app.status_code == 404

    with server.client(token["token"]) as scoped:
        assert scoped.get(f"/api/v1/app/{app['id']}").status_code == 200
        with server.client() as admin:
            assert admin.delete(f"/api/v1/auth/token/{token['id']}").status_code == 204
        revoked = scoped.get(f"/api/v1/app/{app['id']}")
        assert revoked.status_code == 401
        assert revoked.json()["detail"] == "the token has been revoked"


def test_read_only_and_expiring_tokens(server: HooklineProcess) -> None:
    with server.client() as admin:
        app = admin.post("/api/v1/app", json={"name": "Acme"}).json()
        read_only = admin.post(
            "/api/v1/auth/token", json={"name": "viewer", "appId": app["id"], "readOnly": True}
        ).json()["token"]
        short = admin.post("/api/v1/auth/token", json={"name": "brief", "expiry": 60}).json()
        assert short["expiresAt"] is not None
    with server.client(read_only) as viewer:
        assert viewer.get(f"/api/v1/app/{app['id']}/endpoint").status_code == 200
        write = viewer.post(f"/api/v1/app/{app['id']}/endpoint", json={"url": "https://x.io"})
        assert (write.status_code, write.json()["detail"]) == (403, "this token is read-only")


def test_cli_creates_lists_and_revokes_tokens(start_server: ServerFactory) -> None:
    server = start_server(auth_cache_seconds="0")
    made = hookline_cli("token", "create", "--name", "ops laptop", database_url=server.database_url)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    with server.client(token) as api:
        assert api.get("/api/v1/app").status_code == 200
        listed = hookline_cli("token", "list", database_url=server.database_url)
        assert "ops laptop" in listed.stdout
        assert token not in listed.stdout
        token_id = next(
            line.split()[0] for line in listed.stdout.splitlines() if "ops laptop" in line
        )
        revoked = hookline_cli("token", "revoke", token_id, database_url=server.database_url)
        assert revoked.returncode == 0, revoked.stderr
        assert api.get("/api/v1/app").status_code == 401
    unknown = hookline_cli("token", "revoke", "tok_nope", database_url=server.database_url)
    assert unknown.returncode == 1
    assert "not found" in unknown.stderr


def test_portal_tokens_through_the_svix_sdk(server: HooklineProcess) -> None:
    clients: list[Svix] = []

    def client(token: str) -> Svix:
        clients.append(Svix(token, SvixOptions(server_url=server.url)))
        return clients[-1]

    sdk = client(ADMIN_TOKEN)
    try:
        access = sdk.authentication.app_portal_access(
            "customer-7", AppPortalAccessIn(application=ApplicationIn(name="Customer 7", uid="c7"))
        )
        assert access.url.startswith(server.url + "/portal#token=")
        assert access.url.endswith(access.token)
        portal = client(access.token)
        assert portal.application.get("c7").name == "Customer 7"
        with pytest.raises(HttpError) as refused:
            portal.application.create(ApplicationIn(name="another"))
        assert refused.value.status_code == 403

        sdk.authentication.expire_all("c7", ApplicationTokenExpireIn())
        with pytest.raises(HttpError) as expired:
            portal.application.get("c7")
        assert expired.value.status_code == 401
        with server.client() as admin:
            trail = admin.get("/api/v1/app/c7/audit").json()["data"]
        assert trail[0]["action"] == "token.expired"
        assert trail[0]["actor"] == "tok_settings"

        second = sdk.authentication.app_portal_access("c7", AppPortalAccessIn())
        again = client(second.token)
        again.authentication.logout()
        with pytest.raises(HttpError) as logged_out:
            again.application.get("c7")
        assert logged_out.value.status_code == 401
    finally:
        for each in clients:
            # The SDK has no close(); its pooled connections would leak (ResourceWarning).
            each._httpx_client.close()


def test_rate_limit_answers_429_with_retry_after(start_server: ServerFactory) -> None:
    server = start_server(api_rate_limit="1", api_rate_burst="3")
    with server.client() as api:
        answers = [api.get("/api/v1/app") for _ in range(5)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    limited = answers[-1]
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1
    with server.client(token=None) as anonymous:
        assert anonymous.get("/api/v1/health").status_code == 204  # health is never limited


# --- limits: every bad input is refused and changes nothing ----------------------------------


def test_bad_input_is_refused_and_changes_nothing(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    server = start_server(max_request_bytes="65536", max_payload_bytes="2048")
    database = tmp_path / "hookline.db"
    with server.client() as api:
        app = api.post("/api/v1/app", json={"name": "Acme", "uid": "acme"}).json()
        endpoint = api.post(
            f"/api/v1/app/{app['id']}/endpoint", json={"url": "https://example.com/hook"}
        ).json()
        ep = f"/api/v1/app/{app['id']}/endpoint/{endpoint['id']}"
        before = table_rows(database)

        def refused(method: str, path: str, status: int, field: str | None = None,
                    **kwargs: Any) -> None:  # fmt: skip
            answer = api.request(method, path, **kwargs)
            assert answer.status_code == status, f"{method} {path}: {answer.text[:300]}"
            if field is not None:
                locations = [".".join(map(str, d["loc"])) for d in answer.json()["detail"]]
                assert any(field in loc for loc in locations), (field, locations)

        # Oversized: whole bodies (declared and streamed) and payloads.
        huge = b'{"name": "' + b"x" * 70_000 + b'"}'
        refused("POST", "/api/v1/app", 413, content=huge,
                headers={"content-type": "application/json"})  # fmt: skip
        refused("POST", "/api/v1/app", 413, content=iter([huge[:40_000], huge[40_000:]]),
                headers={"content-type": "application/json"})  # fmt: skip
        big_payload = {"eventType": "a.b", "payload": {"blob": "y" * 4000}}
        refused("POST", f"/api/v1/app/{app['id']}/msg", 413, json=big_payload)
        # Malformed and missing.
        refused("POST", "/api/v1/app", 422, content=b"{not json",
                headers={"content-type": "application/json"})  # fmt: skip
        refused("POST", "/api/v1/app", 422, "name", json={})
        refused("POST", f"/api/v1/app/{app['id']}/msg", 422, "eventType", json={"payload": {}})
        refused("POST", f"/api/v1/app/{app['id']}/msg", 422, "payload",
                json={"eventType": "a.b", "payload": [1, 2]})  # fmt: skip
        refused("POST", f"/api/v1/app/{app['id']}/endpoint", 422, "url", json={"url": "ftp://x"})
        refused("PATCH", ep, 422, "url", json={"url": "http://169.254.169.254/latest"})
        # Over length and count bounds.
        refused("POST", "/api/v1/app", 422, "name", json={"name": "n" * 257})
        refused("POST", "/api/v1/app", 422, "uid", json={"name": "a", "uid": "bad uid!"})
        refused("POST", "/api/v1/app", 422, "metadata",
                json={"name": "a", "metadata": {f"k{i}": "v" for i in range(65)}})  # fmt: skip
        refused("PUT", f"{ep}/headers", 422, "headers",
                json={"headers": {f"X-H{i}": "v" for i in range(33)}})  # fmt: skip
        refused("PUT", f"{ep}/headers", 422, "headers", json={"headers": {"X-Big": "v" * 5000}})
        refused("PUT", f"{ep}/headers", 422, "headers",
                json={"headers": {"X-Inject": "a\r\nX-Evil: 1"}})  # fmt: skip
        refused("POST", f"{ep}/secret/rotate", 422, "key", json={"key": "whsec_short"})
        refused("POST", f"/api/v1/app/{app['id']}/endpoint", 422, "description",
                json={"url": "https://example.com", "description": "d" * 5000})  # fmt: skip
        refused("GET", "/api/v1/app", 422, "limit", params={"limit": 251})
        refused("GET", "/api/v1/app", 422, "limit", params={"limit": 0})
        refused("GET", "/api/v1/app", 422, "iterator", params={"iterator": "i" * 301})
        refused("GET", f"/api/v1/app/{app['id']}/msg", 422, "before", params={"before": "soon"})
        refused("POST", "/api/v1/auth/token", 422, "name", json={"name": ""})
        refused("POST", "/api/v1/auth/app-portal-access/acme", 422, "expiry", json={"expiry": 5})
        refused("GET", "/api/v1/app/nope", 404)
        refused("POST", "/api/v1/app", 400, headers={"Idempotency-Key": "k" * 300}, json={})
        after = table_rows(database)
    assert after == before


# --- the audit trail ----------------------------------------------------------------------------


def test_audit_trail_records_who_changed_what(server: HooklineProcess) -> None:
    with server.client() as admin:
        app = admin.post("/api/v1/app", json={"name": "Acme"}).json()
        portal = admin.post(f"/api/v1/auth/app-portal-access/{app['id']}", json={}).json()
        admin.post("/api/v1/event-type", json={"name": "order.paid", "description": "paid"})
    with server.client(portal["token"]) as customer:
        endpoint = customer.post(
            f"/api/v1/app/{app['id']}/endpoint",
            json={"url": "https://example.com/hook", "headers": {"Authorization": "Bearer s3cr3t"}},
        ).json()
        ep = f"/api/v1/app/{app['id']}/endpoint/{endpoint['id']}"
        old = customer.get(f"{ep}/secret").json()["key"]
        new = customer.post(f"{ep}/secret/rotate", json={}).json()["key"]
        customer.patch(ep, json={"disabled": True})
        recovered = customer.post(f"{ep}/recover", json={"since": "2020-01-01T00:00:00Z"})
        assert recovered.status_code == 202, recovered.text
        trail = customer.get(f"/api/v1/app/{app['id']}/audit").json()["data"]
        portal_token_id = customer.get(f"/api/v1/app/{app['id']}/audit").json()["data"][0]["actor"]
    with server.client() as admin:
        admin.delete(ep)
        full = admin.get("/api/v1/audit").json()["data"]

    assert [e["action"] for e in trail] == [
        "endpoint.recover", "endpoint.disabled", "endpoint.secret.rotated", "endpoint.created",
        "token.created", "application.created",
    ]  # fmt: skip
    assert portal_token_id.startswith("tok_")
    assert {e["actor"] for e in trail[:4]} == {portal_token_id}
    assert trail[-1]["actor"] == "tok_settings"
    assert trail[0]["after"]["task_id"] == recovered.json()["id"]
    rotation = trail[2]
    assert rotation["before"]["secret"] != rotation["after"]["secret"]
    text = str(full)
    assert old not in text
    assert new not in text
    assert "s3cr3t" not in text
    assert portal["token"] not in text
    assert [e["action"] for e in full][:1] == ["endpoint.deleted"]
    assert any(e["action"] == "event_type.created" and e["appId"] is None for e in full)


# --- no secrets in logs ---------------------------------------------------------------------------


def test_no_secret_reaches_the_logs(start_server: ServerFactory, receiver: Receiver) -> None:
    server = start_server(log_level="DEBUG", retry_schedule="1s", retry_jitter="0")
    marker = "payload-marker-7f3a"
    with server.client() as admin:
        app = admin.post("/api/v1/app", json={"name": "Acme"}).json()
        endpoint = admin.post(
            f"/api/v1/app/{app['id']}/endpoint",
            json={"url": f"{receiver.url}/hook", "headers": {"X-Api-Key": "receiver-key-9d1"}},
        ).json()
        ep = f"/api/v1/app/{app['id']}/endpoint/{endpoint['id']}"
        first_secret = admin.get(f"{ep}/secret").json()["key"]
        second_secret = admin.post(f"{ep}/secret/rotate", json={}).json()["key"]
        portal = admin.post(f"/api/v1/auth/app-portal-access/{app['id']}", json={}).json()
        admin.post(
            f"/api/v1/app/{app['id']}/msg", json={"eventType": "a.b", "payload": {"m": marker}}
        )
        received = receiver.wait_for(1)
        admin.post(f"{ep}/secret/rotate", json={"key": "not base64 at all!"})
    with server.client("hk_a_guessed_token_that_is_wrong") as stranger:
        stranger.get("/api/v1/app")
    with httpx.Client(base_url=server.url) as raw:
        raw.get("/api/v1/app", headers={"Authorization": f"Bearer {ADMIN_TOKEN}x"})
    time.sleep(0.5)  # log lines are written in batches, at most 0.2 s late

    logs = server.logs()
    assert "hookline listening" in logs
    signature = received[0].headers["webhook-signature"]
    secrets = [ADMIN_TOKEN, first_secret, second_secret, portal["token"], "receiver-key-9d1",
               *signature.split(" "), marker, first_secret.removeprefix("whsec_")]  # fmt: skip
    found = [s for s in secrets if s in logs]
    assert found == []


def test_payloads_are_logged_only_when_asked(start_server: ServerFactory) -> None:
    server = start_server(log_payloads="true")
    with server.client() as admin:
        app = admin.post("/api/v1/app", json={"name": "Acme"}).json()
        admin.post(f"/api/v1/app/{app['id']}/msg", json={"eventType": "a.b", "payload": {"n": 41}})
    wait_until(lambda: '{\\"n\\":41}' in server.logs(), what="the payload in the log")


# --- secret rotation's grace period ---------------------------------------------------------------


def test_rotation_grace_period_is_per_call_and_ends(
    server: HooklineProcess, receiver: Receiver
) -> None:
    """The old secret signs beside the new one for the grace period asked for, then stops."""
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    with server.client() as api:
        app = api.post("/api/v1/app", json={"name": "Acme"}).json()
        made = api.post(f"/api/v1/app/{app['id']}/endpoint", json={"url": f"{receiver.url}/h"})
        ep = f"/api/v1/app/{app['id']}/endpoint/{made.json()['id']}"
        first = api.get(f"{ep}/secret").json()["key"]

        def deliver(n: int) -> Any:
            api.post(f"/api/v1/app/{app['id']}/msg", json={"eventType": "a.b", "payload": {"n": n}})
            return receiver.wait_for(n)[-1]

        second = api.post(f"{ep}/secret/rotate", json={"gracePeriodSeconds": 2}).json()["key"]
        during = deliver(1)
        assert len(during.headers["webhook-signature"].split()) == 2
        assert Webhook(first).verify(during.body, during.headers) == {"n": 1}
        assert Webhook(second).verify(during.body, during.headers) == {"n": 1}

        time.sleep(2.1)
        after = deliver(2)
        assert len(after.headers["webhook-signature"].split()) == 1
        assert Webhook(second).verify(after.body, after.headers) == {"n": 2}
        with pytest.raises(WebhookVerificationError):
            Webhook(first).verify(after.body, after.headers)

        third = api.post(f"{ep}/secret/rotate", json={"gracePeriodSeconds": 0}).json()["key"]
        at_once = deliver(3)
        assert len(at_once.headers["webhook-signature"].split()) == 1
        assert Webhook(third).verify(at_once.body, at_once.headers) == {"n": 3}
