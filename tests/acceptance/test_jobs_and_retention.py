"""Background jobs and retention through the API, with real processes and a real receiver."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from svix.api import BulkReplayIn, Svix, SvixOptions

from support.polling import wait_until
from support.receiver import Receiver
from support.server import ADMIN_TOKEN, HooklineProcess, ServerFactory

SINCE = {"since": "2000-01-01T00:00:00Z"}


def finished(api: httpx.Client, task_id: str) -> dict[str, Any]:
    task: dict[str, Any] = wait_until(
        lambda: (
            (t := api.get(f"/api/v1/background-task/{task_id}").json())["status"] != "running" and t
        ),
        what=f"task {task_id} to end",
    )
    return task


def test_a_job_recorded_by_the_api_is_run_by_a_worker_started_later(
    start_server: ServerFactory, receiver: Receiver
) -> None:
    api_only = start_server(command="api")
    with api_only.client() as api:
        app = api.post("/api/v1/app", json={"name": "Acme"}).json()
        for n in range(3):
            api.post(f"/api/v1/app/{app['id']}/msg", json={"eventType": "e", "payload": {"n": n}})
        late = api.post(f"/api/v1/app/{app['id']}/endpoint", json={"url": receiver.url}).json()
        task = api.post(
            f"/api/v1/app/{app['id']}/endpoint/{late['id']}/replay-missing", json=SINCE
        ).json()
        assert (task["task"], task["status"]) == ("endpoint.replay", "running")
        start_server(command="worker")  # no worker ran until now: the job waited, stored
        assert finished(api, task["id"])["data"] == {"messagesSent": 3}
        assert sorted(json.loads(r.body)["n"] for r in receiver.wait_for(3)) == [0, 1, 2]


def test_bulk_replay_through_the_svix_sdk(server: HooklineProcess, receiver: Receiver) -> None:
    svix = Svix(ADMIN_TOKEN, SvixOptions(server_url=server.url))
    with server.client() as api:
        app = api.post("/api/v1/app", json={"name": "Acme"}).json()
        ep = api.post(f"/api/v1/app/{app['id']}/endpoint", json={"url": receiver.url}).json()
        for channel in ("eu", "us", "eu"):
            api.post(
                f"/api/v1/app/{app['id']}/msg",
                json={"eventType": "e", "payload": {"c": channel}, "channels": [channel]},
            )
        receiver.wait_for(3)
        since = datetime.now(UTC) - timedelta(minutes=5)
        out = svix.endpoint.bulk_replay(
            app["id"], ep["id"], BulkReplayIn(since=since, channel="eu")
        )
        assert out.status.value in ("running", "finished")
        assert finished(api, out.id)["data"] == {"messagesSent": 2}
        again = receiver.wait_for(5)[3:]
        assert [json.loads(r.body)["c"] for r in again] == ["eu", "eu"]
    svix._httpx_client.close()  # the SDK has no close(): its pooled connections would leak


def test_a_running_job_can_be_cancelled(start_server: ServerFactory) -> None:
    api_only = start_server(command="api")  # no worker: the job stays running until cancelled
    with api_only.client() as api:
        app = api.post("/api/v1/app", json={"name": "Acme"}).json()
        ep = api.post(f"/api/v1/app/{app['id']}/endpoint", json={"url": "https://example.com"})
        task = api.post(
            f"/api/v1/app/{app['id']}/endpoint/{ep.json()['id']}/recover", json=SINCE
        ).json()
        cancelled = api.post(f"/api/v1/background-task/{task['id']}/cancel")
        assert cancelled.status_code == 200
        assert (cancelled.json()["status"], cancelled.json()["data"]) == (
            "failed", {"messagesSent": 0, "cancelled": True},
        )  # fmt: skip


def test_payloads_and_attempts_expire_and_content_can_be_expunged(
    start_server: ServerFactory, receiver: Receiver
) -> None:
    server = start_server(
        payload_retention_days=str(2 / 86400), attempt_retention_days=str(2 / 86400),
        retention_interval="0.5",
    )  # fmt: skip
    with server.client() as api:
        app = api.post("/api/v1/app", json={"name": "Acme"}).json()
        api.post(f"/api/v1/app/{app['id']}/endpoint", json={"url": receiver.url})
        msg = api.post(
            f"/api/v1/app/{app['id']}/msg", json={"eventType": "e", "payload": {"card": "4242"}}
        ).json()
        receiver.wait_for(1)
        url = f"/api/v1/app/{app['id']}/msg/{msg['id']}"
        assert api.get(url, params={"with_content": "true"}).json()["payload"] == {"card": "4242"}
        wait_until(
            lambda: api.get(url, params={"with_content": "true"}).json()["payload"] == {},
            what="the payload to expire",
        )
        wait_until(
            lambda: (
                api.get(f"/api/v1/app/{app['id']}/attempt/msg/{msg['id']}").json()["data"] == []
            ),
            what="the attempt records to expire",
        )
        kept = api.post(
            f"/api/v1/app/{app['id']}/msg",
            json={"eventType": "e", "payload": {"x": 1}, "payloadRetentionPeriod": 30},
        ).json()
        gone = api.delete(f"/api/v1/app/{app['id']}/msg/{kept['id']}/content")
        assert gone.status_code == 204
        content = api.get(
            f"/api/v1/app/{app['id']}/msg/{kept['id']}", params={"with_content": "true"}
        ).json()
        assert content["payload"] == {}


def test_export_writes_messages_and_attempts_as_json_lines(
    server: HooklineProcess, receiver: Receiver, tmp_path: Path
) -> None:
    with server.client() as api:
        api.post("/api/v1/app", json={"name": "Acme", "uid": "acme"})
        api.post("/api/v1/app/acme/endpoint", json={"url": receiver.url})
        sent = [
            api.post("/api/v1/app/acme/msg", json={"eventType": "e", "payload": {"n": n}}).json()
            for n in range(3)
        ]
        receiver.wait_for(3)
        wait_until(
            lambda: len(api.get("/api/v1/app/acme/attempt/msg/" + sent[-1]["id"]).json()["data"]),
            what="the last attempt recorded",
        )
    out = tmp_path / "acme.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "hookline", "export", "--app", "acme", "-o", str(out)],
        env={**os.environ, "HOOKLINE_DATABASE_URL": server.database_url,
             "HOOKLINE_SECRET_KEY_FILE": str(tmp_path / "hookline.key")},
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "exported 6 line(s)" in done.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    messages = [line for line in lines if line["kind"] == "message"]
    attempts = [line for line in lines if line["kind"] == "attempt"]
    assert [m["id"] for m in messages] == [m["id"] for m in sent]
    assert [m["payload"] for m in messages] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert sorted(a["msgId"] for a in attempts) == sorted(m["id"] for m in sent)
    assert {a["responseStatusCode"] for a in attempts} == {200}
