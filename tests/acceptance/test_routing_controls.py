"""Routing and delivery controls end to end, each shown on real deliveries to a real receiver.

Filters (with the preview saying why not), transformations (with their dry run),
versions, batching, priorities, pause, FIFO order, the circuit breaker, in-flight caps,
429 back-off, and the throttle rate held across two workers on PostgreSQL.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from support.polling import wait_until
from support.receiver import Answer, Received, Receiver
from support.server import HooklineProcess, ServerFactory


def make_app(api: httpx.Client) -> str:
    app = api.post("/api/v1/app", json={"name": "Acme"})
    assert app.status_code == 201, app.text
    app_id: str = app.json()["id"]
    return app_id


def make_endpoint(api: httpx.Client, app_id: str, url: str, **fields: Any) -> dict[str, Any]:
    created = api.post(f"/api/v1/app/{app_id}/endpoint", json={"url": url, **fields})
    assert created.status_code == 201, created.text
    endpoint: dict[str, Any] = created.json()
    return endpoint


def secret_of(api: httpx.Client, app_id: str, endpoint_id: str) -> str:
    key: str = api.get(f"/api/v1/app/{app_id}/endpoint/{endpoint_id}/secret").json()["key"]
    return key


def publish(
    api: httpx.Client, app_id: str, event_type: str, payload: dict[str, Any], **fields: Any
) -> str:
    sent = api.post(
        f"/api/v1/app/{app_id}/msg", json={"eventType": event_type, "payload": payload, **fields}
    )
    assert sent.status_code == 202, sent.text
    msg_id: str = sent.json()["id"]
    return msg_id


def body_of(request: Received) -> Any:
    return json.loads(request.body)


def version_header(request: Received) -> str:
    return {k.lower(): v for k, v in request.headers.items()}["hookline-event-version"]


def state_of(api: httpx.Client, app_id: str, endpoint_id: str) -> dict[str, Any]:
    found = api.get(f"/api/v1/app/{app_id}/endpoint/{endpoint_id}/delivery-state")
    assert found.status_code == 200, found.text
    state: dict[str, Any] = found.json()
    return state


def attempt_count(api: httpx.Client, app_id: str, endpoint_id: str) -> int:
    page = api.get(
        f"/api/v1/app/{app_id}/attempt/endpoint/{endpoint_id}", params={"limit": 250}
    ).json()
    return len(page["data"])


# filtering -------------------------------------------------------------------------


def test_payload_filter_and_wildcards_route_and_the_preview_says_why(
    server: HooklineProcess, receiver: Receiver
) -> None:
    with server.client() as api:
        app_id = make_app(api)
        big = make_endpoint(
            api, app_id, f"{receiver.url}/big", eventTypes=["invoice.*"],
            filter={"body": {"data.amount": {"$gte": 100}, "data.currency": {"$in": ["EUR"]}}},
        )  # fmt: skip
        make_endpoint(api, app_id, f"{receiver.url}/all", eventTypes=["*"])
        refunds = make_endpoint(api, app_id, f"{receiver.url}/refunds", eventTypes=["refund.*"])

        publish(api, app_id, "invoice.paid", {"data": {"amount": 50, "currency": "EUR"}})
        publish(api, app_id, "invoice.payment.failed", {"data": {"amount": 500, "currency": "EUR"}})
        received = receiver.wait_for(3)
        time.sleep(1.0)  # anything routed wrongly would have arrived by now
        paths = sorted((r.path, body_of(r)["data"]["amount"]) for r in receiver.snapshot())
        assert paths == [("/all", 50), ("/all", 500), ("/big", 500)], received

        preview = api.post(
            f"/api/v1/app/{app_id}/routing/preview",
            json={"eventType": "invoice.paid", "payload": {"data": {"amount": 5}}},
        )
        assert preview.status_code == 200, preview.text
        verdicts = {v["endpointId"]: v for v in preview.json()["data"]}
        assert not verdicts[big["id"]]["matched"]
        assert "data.amount" in verdicts[big["id"]]["reason"]
        assert "5" in verdicts[big["id"]]["reason"]
        assert not verdicts[refunds["id"]]["matched"]
        assert "event type" in verdicts[refunds["id"]]["reason"]
        assert sum(v["matched"] for v in verdicts.values()) == 1


def test_a_bad_filter_is_refused_naming_its_fault(server: HooklineProcess) -> None:
    with server.client() as api:
        app_id = make_app(api)
        refused = api.post(
            f"/api/v1/app/{app_id}/endpoint",
            json={"url": "https://example.com/x", "filter": {"body": {"a": {"$near": 1}}}},
        )
        assert refused.status_code == 422, refused.text
        (problem,) = refused.json()["detail"]
        assert problem["loc"][:3] == ["body", "filter", "body"]
        assert "$near" in problem["msg"]
        assert api.get(f"/api/v1/app/{app_id}/endpoint").json()["data"] == []


def test_header_filter_routes_inbound_style_headers(server: HooklineProcess) -> None:
    with server.client() as api:
        app_id = make_app(api)
        ep = make_endpoint(
            api, app_id, "https://example.com/x",
            filter={"headers": {"X-GitHub-Event": {"$in": ["push", "release"]}}},
        )  # fmt: skip
        for event, matched in (("push", True), ("issues", False)):
            preview = api.post(
                f"/api/v1/app/{app_id}/routing/preview",
                json={"eventType": "gh", "payload": {}, "headers": {"x-github-event": event}},
            ).json()["data"]
            assert [(v["endpointId"], v["matched"]) for v in preview] == [(ep["id"], matched)]


# transformations and versions --------------------------------------------------------


def test_transformation_reshapes_what_arrives_and_it_still_verifies(
    server: HooklineProcess, receiver: Receiver
) -> None:
    transformation = {
        "body": "{orderId: data.id, total: data.amount, customer: data.customer.name}",
        "headers": {"X-Tenant": "acme"},
        "headerExpressions": {"X-Order-Id": "data.id"},
    }
    with server.client() as api:
        app_id = make_app(api)
        payload = {"data": {"id": "ord_1", "amount": 42, "customer": {"name": "Zoë", "pw": "x"}}}
        dry = api.post(
            f"/api/v1/app/{app_id}/transformation/dry-run",
            json={"transformation": transformation, "payload": payload},
        )
        assert dry.status_code == 200, dry.text
        expected = {"orderId": "ord_1", "total": 42, "customer": "Zoë"}
        assert dry.json()["payload"] == expected
        assert dry.json()["headers"] == {"X-Tenant": "acme", "X-Order-Id": "ord_1"}

        ep = make_endpoint(api, app_id, receiver.url, transformation=transformation)
        publish(api, app_id, "order.created", payload)
        (request,) = receiver.wait_for(1)
        assert body_of(request) == expected
        headers = {name.lower(): value for name, value in request.headers.items()}
        assert headers["x-tenant"] == "acme"
        assert headers["x-order-id"] == "ord_1"
        # The signature covers the transformed body, so the receiver can verify it.
        assert Webhook(secret_of(api, app_id, ep["id"])).verify(request.body, request.headers)

        bad = api.post(
            f"/api/v1/app/{app_id}/endpoint",
            json={"url": receiver.url, "transformation": {"body": "data.["}},
        )
        assert bad.status_code == 422
        assert bad.json()["detail"][0]["loc"][:3] == ["body", "transformation", "body"]


def test_endpoints_on_two_versions_each_receive_their_shape(
    server: HooklineProcess, receiver: Receiver
) -> None:
    v1 = {"type": "object", "required": ["amount"], "properties": {"amount": {"type": "number"}}}
    v2 = {
        "type": "object",
        "required": ["total"],
        "properties": {"total": {"type": "object", "required": ["value"]}},
    }
    with server.client() as api:
        created = api.post(
            "/api/v1/event-type",
            json={
                "name": "invoice.paid", "description": "paid",
                "schemas": {"1": v1, "2": v2}, "enforceSchema": True,
                "transformations": {"1": {"body": "{amount: total.value}"}},
            },
        )  # fmt: skip
        assert created.status_code == 201, created.text
        app_id = make_app(api)
        make_endpoint(api, app_id, f"{receiver.url}/v1", version=1)
        make_endpoint(api, app_id, f"{receiver.url}/v2", version=2)

        refused = api.post(
            f"/api/v1/app/{app_id}/msg",
            json={"eventType": "invoice.paid", "payload": {"total": {"currency": "EUR"}}},
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"][0]["loc"] == ["body", "payload", "total"]
        assert "value" in refused.json()["detail"][0]["msg"]

        publish(api, app_id, "invoice.paid", {"total": {"value": 12.5, "currency": "EUR"}})
        got = {r.path: r for r in receiver.wait_for(2)}
        assert body_of(got["/v1"]) == {"amount": 12.5}
        assert version_header(got["/v1"]) == "1"
        assert body_of(got["/v2"]) == {"total": {"value": 12.5, "currency": "EUR"}}
        assert version_header(got["/v2"]) == "2"


# batching, priorities --------------------------------------------------------------------


def test_a_batch_of_n_arrives_in_one_signed_request(
    server: HooklineProcess, receiver: Receiver
) -> None:
    with server.client() as api:
        app_id = make_app(api)
        ep = make_endpoint(api, app_id, receiver.url, batching={"maxSize": 5, "maxWaitMs": 30000})
        assert ep["batching"] == {"maxSize": 5, "maxWaitMs": 30000}
        msg_ids = [publish(api, app_id, "tick", {"n": n}) for n in range(5)]
        (request,) = receiver.wait_for(1, timeout=10)  # long before the 30 s wait
        batch = Webhook(secret_of(api, app_id, ep["id"])).verify(request.body, request.headers)
        assert [item["id"] for item in batch] == msg_ids
        assert [item["payload"] for item in batch] == [{"n": n} for n in range(5)]
        assert {k.lower(): v for k, v in request.headers.items()}["hookline-batch-size"] == "5"
        for msg_id in msg_ids:  # each message keeps its own attempt record
            attempts = wait_until(
                lambda m=msg_id: api.get(f"/api/v1/app/{app_id}/attempt/msg/{m}").json()["data"],
                what="attempt of each batched message",
            )
            assert [a["responseStatusCode"] for a in attempts] == [200]


def test_a_partial_batch_goes_after_its_wait(server: HooklineProcess, receiver: Receiver) -> None:
    with server.client() as api:
        app_id = make_app(api)
        make_endpoint(api, app_id, receiver.url, batching={"maxSize": 50, "maxWaitMs": 1500})
        started = time.monotonic()
        for n in range(3):
            publish(api, app_id, "tick", {"n": n})
        (request,) = receiver.wait_for(1, timeout=10)
        assert time.monotonic() - started >= 1.2
        assert [item["payload"]["n"] for item in body_of(request)] == [0, 1, 2]


def test_high_priority_overtakes_a_backlog(start_server: ServerFactory, receiver: Receiver) -> None:
    # One request at a time, each slow: a backlog builds up behind it.
    server = start_server(worker_concurrency="1", claim_batch="1")
    receiver.behaviour = lambda request, n: Answer(delay=0.1)
    with server.client() as api:
        app_id = make_app(api)
        make_endpoint(api, app_id, receiver.url)
        for n in range(30):
            publish(api, app_id, "bulk", {"n": n}, priority="low" if n % 2 else "normal")
        publish(api, app_id, "urgent", {"n": "urgent"}, priority="high")
        received = receiver.wait_for(31, timeout=30)
        order = [body_of(r)["n"] for r in received]
        assert order.index("urgent") <= 3, order
        # Normal before low, within what was due together.
        normals = [i for i, n in enumerate(order) if isinstance(n, int) and n % 2 == 0]
        lows = [i for i, n in enumerate(order) if isinstance(n, int) and n % 2]
        assert sum(normals) / len(normals) < sum(lows) / len(lows)
        msg = api.get(f"/api/v1/app/{app_id}/msg", params={"limit": 1}).json()["data"][0]
        assert msg["priority"] == "high"


# pause, FIFO, circuit breaker ------------------------------------------------------------


def test_paused_endpoint_holds_events_and_resume_delivers_them(
    server: HooklineProcess, receiver: Receiver
) -> None:
    with server.client() as api:
        app_id = make_app(api)
        ep = make_endpoint(api, app_id, receiver.url)
        paused = api.post(f"/api/v1/app/{app_id}/endpoint/{ep['id']}/pause")
        assert paused.status_code == 200
        assert paused.json()["paused"] is True
        for n in range(4):
            publish(api, app_id, "held", {"n": n})
        time.sleep(1.5)
        assert receiver.snapshot() == []
        assert state_of(api, app_id, ep["id"])["waiting"] == 4
        resumed = api.post(f"/api/v1/app/{app_id}/endpoint/{ep['id']}/resume")
        assert resumed.json()["paused"] is False
        received = receiver.wait_for(4)
        assert sorted(body_of(r)["n"] for r in received) == [0, 1, 2, 3]
        assert state_of(api, app_id, ep["id"])["waiting"] == 0
        actions = [e["action"] for e in api.get("/api/v1/audit").json()["data"]]
        assert "endpoint.paused" in actions
        assert "endpoint.resumed" in actions


def test_fifo_keeps_order_while_the_head_fails_twice(
    server: HooklineProcess, receiver: Receiver
) -> None:
    failures = {"a0": 2}

    def behaviour(request: Received, count: int) -> Answer:
        n = body_of(request)["n"]
        if failures.get(n, 0) > 0:
            failures[n] -= 1
            return Answer(status=503)
        return Answer()

    receiver.behaviour = behaviour
    with server.client() as api:
        app_id = make_app(api)
        make_endpoint(api, app_id, receiver.url, ordering={"key": "account"})
        for i in range(4):
            publish(api, app_id, "ledger", {"account": "a", "n": f"a{i}"})
            publish(api, app_id, "ledger", {"account": "b", "n": f"b{i}"})
        received = receiver.wait_for(10, timeout=30)
        seen = [body_of(r)["n"] for r in received]
        a_order = [n for n in seen if n.startswith("a")]
        assert a_order == ["a0", "a0", "a0", "a1", "a2", "a3"], seen
        assert [n for n in seen if n.startswith("b")] == ["b0", "b1", "b2", "b3"]
        # Key b was not held back by a's failing head: all of b came before a's recovery.
        assert max(seen.index(f"b{i}") for i in range(4)) < seen.index("a1")


def test_breaker_opens_on_a_dead_receiver_and_closes_when_it_is_back(
    server: HooklineProcess, receiver: Receiver
) -> None:
    alive = {"yes": False}
    delivered: set[int] = set()

    def behaviour(request: Received, count: int) -> Answer:
        if not alive["yes"]:
            return Answer(status=500)
        if request.path == "/guarded":
            delivered.add(body_of(request)["n"])
        return Answer()

    receiver.behaviour = behaviour
    with server.client() as api:
        app_id = make_app(api)
        breaker = {"failureRate": 0.5, "minimumAttempts": 4, "cooldownSeconds": 1.5}
        guarded = make_endpoint(api, app_id, f"{receiver.url}/guarded", circuitBreaker=breaker)
        bare = make_endpoint(api, app_id, f"{receiver.url}/bare")
        for n in range(20):
            publish(api, app_id, "e", {"n": n})
        # Both endpoints get the same 20 events for 5 seconds while the receiver is dead.
        wait_until(
            lambda: state_of(api, app_id, guarded["id"])["circuit"]["state"] != "closed",
            what="the circuit to open",
        )
        time.sleep(5)
        guarded_attempts = attempt_count(api, app_id, guarded["id"])
        bare_attempts = attempt_count(api, app_id, bare["id"])
        # Without the breaker every event burns its retries (1 s apart); with it, a few
        # attempts open the circuit, then one probe per cool-down.
        assert bare_attempts >= 60, bare_attempts
        assert guarded_attempts <= 30, guarded_attempts
        state = state_of(api, app_id, guarded["id"])
        assert state["circuit"]["state"] in ("open", "half_open")
        assert state["waiting"] >= 10
        alive["yes"] = True
        wait_until(
            lambda: state_of(api, app_id, guarded["id"])["circuit"]["state"] == "closed",
            what="the circuit to close",
        )
        wait_until(
            lambda: delivered == set(range(20)),
            timeout=20, what="every held event delivered after the circuit closed",
        )  # fmt: skip


def test_max_in_flight_caps_concurrent_requests(
    server: HooklineProcess, receiver: Receiver
) -> None:
    receiver.behaviour = lambda request, n: Answer(delay=0.3)
    with server.client() as api:
        app_id = make_app(api)
        make_endpoint(api, app_id, receiver.url, maxInFlight=2)
        for n in range(8):
            publish(api, app_id, "slow", {"n": n})
        received = receiver.wait_for(8, timeout=20)
        arrivals = sorted(r.at for r in received)
        # Each request takes 0.3 s: no three of them may start within 0.3 s of each other.
        for i in range(len(arrivals) - 2):
            assert arrivals[i + 2] - arrivals[i] >= 0.25, arrivals


def test_a_429_slows_the_endpoint_down_and_it_recovers(
    server: HooklineProcess, receiver: Receiver
) -> None:
    receiver.behaviour = lambda request, n: (
        Answer(status=429, headers={"Retry-After": "1"}) if n == 3 else Answer()
    )
    with server.client() as api:
        app_id = make_app(api)
        ep = make_endpoint(api, app_id, receiver.url, throttleRate=40)
        for n in range(30):
            publish(api, app_id, "burst", {"n": n})
        wait_until(lambda: len(receiver.snapshot()) >= 4, what="the 429")
        slowed = wait_until(
            lambda: (
                (s := state_of(api, app_id, ep["id"]))["effectiveRate"] is not None
                and s["effectiveRate"] < 40
                and s
            ),
            what="a lower effective rate",
        )
        assert slowed["throttledAt"] is not None
        received = receiver.wait_for(31, timeout=30)
        assert {body_of(r)["n"] for r in received} == set(range(30))
        # Nothing went during the Retry-After second that followed the 429 (the third).
        times = [r.at for r in received]
        assert times[2] + 0.9 <= times[3], times[:6]


# the throttle rate across two workers on PostgreSQL -------------------------------------------


@pytest.mark.postgres
def test_throttle_rate_holds_across_two_workers(
    start_server: ServerFactory, receiver: Receiver, pg_database_url: str
) -> None:
    api_server = start_server(database_url=pg_database_url, command="api")
    for _ in range(2):
        start_server(database_url=pg_database_url, command="worker")
    with api_server.client() as api:
        app_id = make_app(api)
        make_endpoint(api, app_id, receiver.url, throttleRate=5)
        for n in range(20):
            publish(api, app_id, "paced", {"n": n})
        received = receiver.wait_for(20, timeout=30)
    times = sorted(r.at for r in received)
    # GCRA spaces requests 1/5 s apart: no 1-second window holds more than 5 (+1 for
    # the edges of the window, and network jitter).
    for i, start in enumerate(times):
        assert sum(1 for t in times[i:] if t < start + 1.0) <= 6, times
    assert times[-1] - times[0] >= 19 / 5 * 0.9
