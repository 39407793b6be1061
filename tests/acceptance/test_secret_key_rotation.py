"""Secrets at rest, end to end: a real server seals them, and `hookline rekey` rotates the key."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from hookline.domain.secrets import generate_key

from support.polling import wait_until
from support.receiver import Receiver
from support.server import HooklineProcess, ServerFactory

SECRET = "whsec_" + base64.b64encode(b"acceptance secret, 32 bytes long").decode()


def create_endpoint(api: httpx.Client, url: str) -> tuple[str, str]:
    """An application with one endpoint signing with SECRET; return (app id, endpoint id)."""
    app = api.post("/api/v1/app", json={"name": "Acme"}).json()
    response = api.post(f"/api/v1/app/{app['id']}/endpoint", json={"url": url, "secret": SECRET})
    assert response.status_code == 201, response.text
    return app["id"], response.json()["id"]


def deliver_and_verify(api: httpx.Client, receiver: Receiver, app_id: str, n: int) -> None:
    """Publish a message; the receiver gets it signed with SECRET (the worker unsealed it)."""
    payload = {"n": n}
    response = api.post(f"/api/v1/app/{app_id}/msg", json={"eventType": "t", "payload": payload})
    assert response.status_code == 202, response.text
    request = receiver.wait_for(n)[-1]
    assert Webhook(SECRET).verify(request.body, request.headers) == payload


def assert_no_plaintext_on_disk(database: Path) -> None:
    """Neither the secret nor its base64 body is in the database file or its WAL."""
    body = SECRET.removeprefix("whsec_").encode()
    files = [p for p in (database, database.with_name(database.name + "-wal")) if p.exists()]
    assert files
    for path in files:
        content = path.read_bytes()
        assert SECRET.encode() not in content, path.name
        assert body not in content, path.name


def rekey(database_url: str, secret_key: str, cwd: Path) -> str:
    """Run `hookline rekey` as an operator would; return what it printed."""
    env = {
        **os.environ,
        "HOOKLINE_DATABASE_URL": database_url,
        "HOOKLINE_SECRET_KEY": secret_key,
        "HOOKLINE_LOG_LEVEL": "WARNING",
    }
    done = subprocess.run(
        [sys.executable, "-m", "hookline", "rekey", "--batch-size", "10"],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_server_seals_secrets_and_rekey_rotates_the_key(
    start_server: ServerFactory, receiver: Receiver, tmp_path: Path
) -> None:
    """A first start makes a private key file; secrets stay sealed on disk; a rotation works."""
    server: HooklineProcess = start_server()
    key_file = tmp_path / "hookline.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "generated a new secret key" in server.logs()
    old_key = key_file.read_text().strip()
    assert old_key not in server.logs()
    with server.client() as api:
        app_id, endpoint_id = create_endpoint(api, f"{receiver.url}/hooks")
        secret_path = f"/api/v1/app/{app_id}/endpoint/{endpoint_id}/secret"
        assert api.get(secret_path).json()["key"] == SECRET
        deliver_and_verify(api, receiver, app_id, 1)
    assert_no_plaintext_on_disk(tmp_path / "hookline.db")

    # The rotation, as docs/configuration.md tells it: NEW,OLD everywhere, rekey, then NEW alone.
    new_key = generate_key()
    assert server.terminate() == 0
    both = start_server(secret_key=f"{new_key},{old_key}")
    printed = rekey(both.database_url, f"{new_key},{old_key}", tmp_path)
    assert "rewrote 1 endpoint(s) and source(s)" in printed
    with both.client() as api:
        deliver_and_verify(api, receiver, app_id, 2)
    assert both.terminate() == 0
    rotated = start_server(secret_key=new_key)
    with rotated.client() as api:
        assert api.get(secret_path).json()["key"] == SECRET
        deliver_and_verify(api, receiver, app_id, 3)
    assert_no_plaintext_on_disk(tmp_path / "hookline.db")
    assert new_key not in rotated.logs() + both.logs() + printed


def test_a_delivery_whose_secret_does_not_unseal_is_never_sent(
    start_server: ServerFactory, receiver: Receiver
) -> None:
    """With the wrong key, the attempt fails as secret_unreadable; nothing goes out unsigned."""
    first = start_server(secret_key=generate_key())
    with first.client() as api:
        app = api.post("/api/v1/app", json={"name": "Acme"}).json()
        api.post(f"/api/v1/app/{app['id']}/endpoint", json={"url": f"{receiver.url}/hook"})
    first.kill()
    wrong = start_server(secret_key=generate_key(), retry_schedule="60s")
    with wrong.client() as api:
        msg = api.post(
            f"/api/v1/app/{app['id']}/msg", json={"eventType": "a.b", "payload": {"n": 1}}
        ).json()

        def attempts() -> list[dict[str, Any]]:
            path = f"/api/v1/app/{app['id']}/attempt/msg/{msg['id']}"
            found: list[dict[str, Any]] = api.get(path).json()["data"]
            return found

        (attempt,) = wait_until(attempts, what="the refused attempt")
    assert attempt["errorClass"] == "secret_unreadable"
    assert receiver.snapshot() == []
