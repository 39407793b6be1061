"""Delivery end to end: API -> queue -> worker -> a real receiving server."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from support.polling import wait_until
from support.receiver import Answer, Receiver
from support.server import HooklineProcess, ServerFactory


@pytest.fixture(params=["aiohttp", "pyreqwest"])
def server_defaults(request: pytest.FixtureRequest) -> dict[str, str]:
    """Every delivery test runs with each outbound HTTP client."""
    return {"http_client": request.param}


def setup_endpoint(api: httpx.Client, url: str, **fields: Any) -> tuple[str, str, str]:
    """Create an application and an endpoint; return (app id, endpoint id, secret)."""
    app = api.post("/api/v1/app", json={"name": "Acme"}).json()
    endpoint = api.post(f"/api/v1/app/{app['id']}/endpoint", json={"url": url, **fields})
    assert endpoint.status_code == 201, endpoint.text
    ep = endpoint.json()
    secret = api.get(f"/api/v1/app/{app['id']}/endpoint/{ep['id']}/secret").json()["key"]
    return app["id"], ep["id"], secret


def publish(api: httpx.Client, app_id: str, payload: dict[str, Any], **fields: Any) -> str:
    """Publish one message; return its id."""
    response = api.post(
        f"/api/v1/app/{app_id}/msg", json={"eventType": "test.event", "payload": payload, **fields}
    )
    assert response.status_code == 202, response.text
    msg_id: str = response.json()["id"]
    return msg_id


def attempts_of(api: httpx.Client, app_id: str, msg_id: str) -> list[dict[str, Any]]:
    """The message's attempts, oldest first."""
    page = api.get(f"/api/v1/app/{app_id}/attempt/msg/{msg_id}", params={"limit": 250}).json()
    return list(reversed(page["data"]))


def test_delivered_webhook_verifies_with_standardwebhooks(
    server: HooklineProcess, receiver: Receiver
) -> None:
    """A published message arrives byte-exact and signed, and standardwebhooks verifies it."""
    with server.client() as api:
        app_id, _, secret = setup_endpoint(api, f"{receiver.url}/hooks")
        payload = {"text": "héllo wörld ✓", "n": 1, "nested": {"b": [1, 2], "a": None}}
        msg_id = publish(api, app_id, payload)
        (request,) = receiver.wait_for(1)
        assert request.path == "/hooks"
        assert request.headers["webhook-id"] == msg_id
        assert request.headers["svix-id"] == msg_id
        assert request.headers["Content-Type"] == "application/json"
        verified = Webhook(secret).verify(request.body, request.headers)
        assert verified == payload
        attempts = wait_until(lambda: attempts_of(api, app_id, msg_id), what="attempt log")
        assert [(a["status"], a["responseStatusCode"]) for a in attempts] == [(0, 200)]


def test_receiver_failing_twice_then_succeeding_logs_three_attempts(
    server: HooklineProcess, receiver: Receiver
) -> None:
    """A receiver that fails twice then succeeds gets three attempts; one succeeds."""
    receiver.behaviour = lambda req, n: Answer(status=500, body="boom") if n <= 2 else Answer()
    with server.client() as api:
        app_id, ep_id, _ = setup_endpoint(api, receiver.url)
        msg_id = publish(api, app_id, {"try": "again"})
        requests = receiver.wait_for(3, timeout=20)

        def three_recorded() -> list[dict[str, Any]] | None:
            found = attempts_of(api, app_id, msg_id)
            return found if len(found) == 3 and found[-1]["status"] == 0 else None

        attempts = wait_until(three_recorded, what="three attempts")
        assert [a["responseStatusCode"] for a in attempts] == [500, 500, 200]
        assert [a["status"] for a in attempts] == [2, 2, 0]
        assert attempts[0]["response"] == "boom"
        # The id is stable across retries; the timestamp is per attempt.
        assert {r.headers["webhook-id"] for r in requests} == {msg_id}
        stats = api.get(f"/api/v1/app/{app_id}/endpoint/{ep_id}/stats").json()
        assert stats["success"] == 1
        assert stats["fail"] == 0


def test_gone_disables_endpoint_and_holds_later_messages(
    server: HooklineProcess, receiver: Receiver
) -> None:
    """410 Gone disables the endpoint at once; later messages are held, then recovered."""
    receiver.behaviour = lambda req, n: Answer(status=410)
    with server.client() as api:
        app_id, ep_id, _ = setup_endpoint(api, receiver.url)
        publish(api, app_id, {"n": 1})
        receiver.wait_for(1)
        endpoint_url = f"/api/v1/app/{app_id}/endpoint/{ep_id}"
        wait_until(lambda: api.get(endpoint_url).json()["disabled"], what="endpoint disabled")
        trail = api.get(f"/api/v1/app/{app_id}/audit").json()["data"]
        [automatic] = [e for e in trail if e["action"] == "endpoint.disabled.automatic"]
        assert (automatic["actor"], automatic["resourceId"]) == ("hookline-worker", ep_id)
        held_id = publish(api, app_id, {"n": 2})
        time.sleep(1.5)
        assert len(receiver.snapshot()) == 1  # nothing sent to a disabled endpoint
        assert api.get(f"{endpoint_url}/stats").json()["fail"] == 2

        receiver.behaviour = lambda req, n: Answer()
        assert api.patch(endpoint_url, json={"disabled": False}).status_code == 200
        recovered = api.post(f"{endpoint_url}/recover", json={"since": "2000-01-01T00:00:00Z"})
        assert recovered.status_code == 202
        task_url = f"/api/v1/background-task/{recovered.json()['id']}"
        task = wait_until(
            lambda: (t := api.get(task_url).json())["status"] == "finished" and t,
            what="the recover task to finish",
        )
        assert task["data"]["messagesSent"] == 2
        got = receiver.wait_for(3)
        assert held_id in {r.headers["webhook-id"] for r in got[1:]}


def test_hanging_receiver_times_out_and_is_retried(
    start_server: ServerFactory, receiver: Receiver
) -> None:
    """A receiver that hangs past the timeout is recorded as a timeout and retried."""
    receiver.behaviour = lambda req, n: Answer(delay=5) if n == 1 else Answer()
    server = start_server(request_timeout="0.5", retry_schedule="1s", retry_jitter="0")
    with server.client() as api:
        app_id, _, _ = setup_endpoint(api, receiver.url)
        msg_id = publish(api, app_id, {"slow": True})
        receiver.wait_for(2, timeout=15)
        attempts = wait_until(
            lambda: (a := attempts_of(api, app_id, msg_id)) and len(a) == 2 and a, what="2 attempts"
        )
        assert attempts[0]["errorClass"] == "timeout"
        assert attempts[0]["responseStatusCode"] == 0
        assert attempts[0]["responseDurationMs"] < 2000
        assert attempts[1]["status"] == 0


def test_redirect_is_not_followed(server: HooklineProcess, receiver: Receiver) -> None:
    """A 3xx answer is a failed attempt; the redirect is not followed."""
    receiver.behaviour = lambda req, n: Answer(status=307, headers={"Location": "/elsewhere"})
    with server.client() as api:
        app_id, _, _ = setup_endpoint(api, receiver.url)
        msg_id = publish(api, app_id, {"x": 1})
        receiver.wait_for(1)
        (attempt, *_) = wait_until(lambda: attempts_of(api, app_id, msg_id), what="attempt")
        assert attempt["errorClass"] == "redirect"
        assert attempt["status"] == 2
        assert all(r.path == "/" for r in receiver.snapshot())


def test_exhausted_delivery_is_failed_then_resend_delivers(
    start_server: ServerFactory, receiver: Receiver
) -> None:
    """After the last retry a delivery is failed; a resend queues it again and it succeeds."""
    receiver.behaviour = lambda req, n: Answer(status=503) if n <= 2 else Answer()
    server = start_server(retry_schedule="0.2s", retry_jitter="0")
    with server.client() as api:
        app_id, ep_id, _ = setup_endpoint(api, receiver.url)
        msg_id = publish(api, app_id, {"x": 1})
        receiver.wait_for(2)
        stats_url = f"/api/v1/app/{app_id}/endpoint/{ep_id}/stats"
        wait_until(lambda: api.get(stats_url).json()["fail"] == 1, what="failed delivery")
        time.sleep(0.5)
        assert len(receiver.snapshot()) == 2  # max attempts reached: no third try by itself
        dead = api.get(f"/api/v1/app/{app_id}/endpoint/{ep_id}/msg", params={"status": 2}).json()
        assert [(m["id"], m["status"], m["statusText"]) for m in dead["data"]] == [
            (msg_id, 2, "fail")
        ]
        resend = api.post(f"/api/v1/app/{app_id}/msg/{msg_id}/endpoint/{ep_id}/resend")
        assert resend.status_code == 202
        receiver.wait_for(3)
        attempts = wait_until(
            lambda: (a := attempts_of(api, app_id, msg_id)) and len(a) == 3 and a, what="resend"
        )
        assert attempts[-1]["triggerType"] == 1
        assert attempts[-1]["status"] == 0
        delivered = api.get(f"/api/v1/app/{app_id}/endpoint/{ep_id}/msg").json()["data"]
        assert [(m["id"], m["status"]) for m in delivered] == [(msg_id, 0)]
        assert api.get(f"/api/v1/app/{app_id}/endpoint/{ep_id}/msg?status=2").json()["data"] == []


def test_filters_route_messages_to_matching_endpoints_only(
    server: HooklineProcess, receiver: Receiver
) -> None:
    """Fan-out honours event-type filters and channels; unmatched messages are still stored."""
    with server.client() as api:
        api.post("/api/v1/event-type", json={"name": "invoice.paid", "description": "x"})
        app_id, _, _ = setup_endpoint(api, f"{receiver.url}/typed", eventTypes=["invoice.paid"])
        api.post(
            f"/api/v1/app/{app_id}/endpoint",
            json={"url": f"{receiver.url}/chan", "channels": ["eu"]},
        )
        api.post(f"/api/v1/app/{app_id}/endpoint", json={"url": f"{receiver.url}/all"})
        publish(api, app_id, {"n": 1}, eventType="invoice.paid")
        publish(api, app_id, {"n": 2}, eventType="user.created", channels=["eu"])
        publish(api, app_id, {"n": 3}, eventType="user.created", channels=["us"])
        got = receiver.wait_for(5)
        time.sleep(0.5)
        paths = sorted((r.path, r.body) for r in receiver.snapshot())
        assert paths == [
            ("/all", b'{"n":1}'), ("/all", b'{"n":2}'), ("/all", b'{"n":3}'),
            ("/chan", b'{"n":2}'), ("/typed", b'{"n":1}'),
        ]  # fmt: skip
        assert len(got) == 5


def test_endpoints_that_hang_do_not_starve_the_others(
    start_server: ServerFactory, receiver: Receiver
) -> None:
    """Requests unanswered after ``slow_after`` stop counting against the worker's
    concurrency: while one endpoint's requests hang, another's are still delivered."""
    receiver.behaviour = lambda req, n: Answer(delay=8.0 if req.path == "/hang" else 0.0)
    # Four slots, and the hanging endpoint may fill them all: without the slow lane the
    # healthy endpoint would wait for the hanging requests' 10 s timeout.
    server = start_server(
        worker_concurrency="4", endpoint_concurrency="4", request_timeout="10", slow_after="0.2"
    )
    with server.client() as api:
        app_id, _, _ = setup_endpoint(api, receiver.url + "/hang", channels=["hang"])
        healthy = api.post(
            f"/api/v1/app/{app_id}/endpoint",
            json={"url": receiver.url + "/ok", "channels": ["ok"]},
        )
        assert healthy.status_code == 201, healthy.text
        for i in range(4):
            publish(api, app_id, {"i": i}, channels=["hang"])
        wait_until(
            lambda: len([r for r in receiver.snapshot() if r.path == "/hang"]) == 4,
            what="the four hanging requests",
        )
        sent = {publish(api, app_id, {"i": i}, channels=["ok"]) for i in range(8)}
        wait_until(
            lambda: (
                {r.headers["webhook-id"] for r in receiver.snapshot() if r.path == "/ok"} == sent
            ),
            timeout=5.0,  # the hanging requests are answered after 8 s
            what="the healthy endpoint's deliveries while the other endpoint hangs",
        )


@pytest.mark.slow
def test_kill_9_mid_run_loses_no_message(start_server: ServerFactory, receiver: Receiver) -> None:
    """``kill -9`` while delivering, then a restart: every message arrives at least once."""
    # 300 deliveries, 8 at a time, 0.1 s each: about 4 s of work, while publishing
    # takes about one, so the kill lands mid-run.
    receiver.behaviour = lambda req, n: Answer(delay=0.1)
    env = {
        "lease_seconds": "6", "request_timeout": "1", "retry_schedule": "1s,1s,1s,1s",
        "endpoint_concurrency": "8",
    }  # fmt: skip
    server = start_server(**env)
    total = 300
    with server.client() as api:
        app_id, _, _ = setup_endpoint(api, receiver.url)
        sent = [publish(api, app_id, {"i": i}) for i in range(total)]
    receiver.wait_for(20)
    server.kill()
    arrived_before = {r.headers["webhook-id"] for r in receiver.snapshot()}
    assert len(arrived_before) < total, "the kill came too late to prove anything"

    restarted = start_server(**env)
    wait_until(
        lambda: {r.headers["webhook-id"] for r in receiver.snapshot()} >= set(sent),
        timeout=60,
        what="every message to arrive after the restart",
    )
    with restarted.client() as api:
        for msg_id in sent[:: total // 10]:
            attempts = wait_until(lambda m=msg_id: attempts_of(api, app_id, m), what="attempts")
            assert attempts[-1]["status"] == 0


def test_sigterm_stops_promptly_and_releases_work(
    start_server: ServerFactory, receiver: Receiver
) -> None:
    """SIGTERM stops within the grace period; a restart delivers what was left."""
    receiver.behaviour = lambda req, n: Answer(delay=0.2)
    server = start_server(shutdown_grace="1", endpoint_concurrency="4")
    with server.client() as api:
        app_id, _, _ = setup_endpoint(api, receiver.url)
        sent = [publish(api, app_id, {"i": i}) for i in range(60)]
    receiver.wait_for(4)
    started = time.monotonic()
    assert server.terminate(timeout=15) == 0
    assert time.monotonic() - started < 5
    start_server(shutdown_grace="1")
    wait_until(
        lambda: {r.headers["webhook-id"] for r in receiver.snapshot()} >= set(sent),
        timeout=30,
        what="the rest to be delivered after restart",
    )


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "0x7f.1", "[::ffff:127.0.0.1]"])
def test_ssrf_defence_refuses_loopback_at_registration(
    start_server: ServerFactory, receiver: Receiver, host: str
) -> None:
    """Without an allow-list, registering a loopback URL gets a 422 naming url, and no endpoint."""
    server = start_server(allowed_networks="")
    with server.client() as api:
        app = api.post("/api/v1/app", json={"name": "Acme"}).json()
        refused = api.post(
            f"/api/v1/app/{app['id']}/endpoint", json={"url": f"http://{host}:{receiver.port}/"}
        )
        assert refused.status_code == 422
        (problem,) = refused.json()["detail"]
        assert problem["loc"] == ["body", "url"]
        assert "loopback" in problem["msg"]
        assert api.get(f"/api/v1/app/{app['id']}/endpoint").json()["data"] == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_ssrf_defence_blocks_loopback_at_delivery(
    start_server: ServerFactory, receiver: Receiver, host: str
) -> None:
    """An endpoint that became forbidden after registration is blocked at delivery, not sent."""
    permissive = start_server()  # loopback allowed: the endpoint registers
    with permissive.client() as api:
        app_id, _, _ = setup_endpoint(api, f"http://{host}:{receiver.port}/hook")
    permissive.kill()
    server = start_server(allowed_networks="", retry_schedule="5s")  # same database, defence on
    with server.client() as api:
        msg_id = publish(api, app_id, {"steal": "metadata"})
        (attempt,) = wait_until(lambda: attempts_of(api, app_id, msg_id), what="blocked attempt")
        assert attempt["errorClass"] == "blocked"
        assert "loopback" in attempt["response"]
        assert receiver.snapshot() == []
