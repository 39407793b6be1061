"""Operational webhooks end to end: hookline reports on itself to the operator's endpoint,
signed like any webhook: endpoint changes, attempts failing, exhausted and recovered,
and endpoints the worker disabled."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from support.polling import wait_until
from support.receiver import Answer, Received, Receiver
from support.server import HooklineProcess, ServerFactory


@pytest.fixture
def server(start_server: ServerFactory) -> HooklineProcess:
    """Five quick retries: enough for a delivery to fail four times and then recover."""
    return start_server(retry_schedule="0.2s,0.2s,0.2s,0.2s,0.2s", retry_jitter="0")


def events_at(receiver: Receiver, path: str) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in receiver.snapshot() if r.path == path]


def of_type(events: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    return [e["data"] for e in events if e["type"] == event_type]


def operational_endpoint(api: httpx.Client, url: str, **fields: Any) -> tuple[str, str]:
    created = api.post("/api/v1/operational-webhook/endpoint", json={"url": url, **fields})
    assert created.status_code == 201, created.text
    endpoint_id: str = created.json()["id"]
    secret = api.get(f"/api/v1/operational-webhook/endpoint/{endpoint_id}/secret").json()["key"]
    return endpoint_id, secret


def test_endpoint_changes_and_attempts_are_reported_signed(
    server: HooklineProcess, receiver: Receiver
) -> None:
    answers: dict[str, list[int]] = {"recovering": [500, 500, 500, 500, 200], "dead": [500] * 6}

    def behaviour(request: Received, count: int) -> Answer:
        queue = answers.get(request.path.strip("/"))
        return Answer(status=queue.pop(0) if queue else 200)

    receiver.behaviour = behaviour
    with server.client() as api:
        _, secret = operational_endpoint(api, f"{receiver.url}/ops")
        for name in ("a", "b"):
            api.post("/api/v1/event-type", json={"name": name, "description": name})
        app = api.post("/api/v1/app", json={"name": "Acme", "uid": "acme"}).json()
        recovering = api.post(
            f"/api/v1/app/{app['id']}/endpoint",
            json={"url": f"{receiver.url}/recovering", "uid": "rec", "eventTypes": ["a"]},
        ).json()
        dead = api.post(
            f"/api/v1/app/{app['id']}/endpoint",
            json={"url": f"{receiver.url}/dead", "eventTypes": ["b"]},
        ).json()
        api.patch(f"/api/v1/app/{app['id']}/endpoint/{dead['id']}", json={"description": "x"})
        a = api.post(
            f"/api/v1/app/{app['id']}/msg",
            json={"eventType": "a", "payload": {}, "eventId": "evt-a"},
        ).json()
        b = api.post(f"/api/v1/app/{app['id']}/msg", json={"eventType": "b", "payload": {}}).json()

        def reported() -> list[dict[str, Any]] | None:
            events = events_at(receiver, "/ops")
            types = {e["type"] for e in events}
            wanted = {
                "endpoint.created", "endpoint.updated", "message.attempt.failing",
                "message.attempt.recovered", "message.attempt.exhausted",
            }  # fmt: skip
            return events if wanted <= types else None

        events = wait_until(reported, timeout=30, what="the operational events")
    created = of_type(events, "endpoint.created")
    assert {d["endpointId"] for d in created} == {recovering["id"], dead["id"]}
    assert {"appId": app["id"], "appUid": "acme", "endpointId": recovering["id"],
            "endpointUid": "rec"} in created  # fmt: skip
    assert [d["endpointId"] for d in of_type(events, "endpoint.updated")] == [dead["id"]]
    failing = of_type(events, "message.attempt.failing")
    assert {(d["msgId"], d["endpointId"]) for d in failing} == {
        (a["id"], recovering["id"]),
        (b["id"], dead["id"]),
    }
    [recovered] = of_type(events, "message.attempt.recovered")
    assert (recovered["msgId"], recovered["msgEventId"]) == (a["id"], "evt-a")
    assert recovered["lastAttempt"]["responseStatusCode"] == 200
    [exhausted] = of_type(events, "message.attempt.exhausted")
    assert (exhausted["msgId"], exhausted["lastAttempt"]["responseStatusCode"]) == (b["id"], 500)
    # Every one is signed with the operational endpoint's secret.
    for request in (r for r in receiver.snapshot() if r.path == "/ops"):
        Webhook(secret).verify(request.body, request.headers)


def test_an_endpoint_the_worker_disables_is_reported(
    server: HooklineProcess, receiver: Receiver
) -> None:
    receiver.behaviour = lambda request, n: Answer(status=410 if request.path == "/gone" else 200)
    with server.client() as api:
        operational_endpoint(api, f"{receiver.url}/ops", eventTypes=["endpoint.disabled"])
        app = api.post("/api/v1/app", json={"name": "Acme"}).json()
        gone = api.post(f"/api/v1/app/{app['id']}/endpoint", json={"url": f"{receiver.url}/gone"})
        api.post(f"/api/v1/app/{app['id']}/msg", json={"eventType": "e", "payload": {}})
        [disabled] = wait_until(
            lambda: of_type(events_at(receiver, "/ops"), "endpoint.disabled"),
            what="endpoint.disabled",
        )
    assert disabled["endpointId"] == gone.json()["id"]
    assert disabled["trigger"] == "automatic"
    # Only the event type it asked for reached the operational endpoint.
    assert {e["type"] for e in events_at(receiver, "/ops")} == {"endpoint.disabled"}


def test_operational_endpoints_are_for_admins_and_hidden_from_applications(
    server: HooklineProcess, receiver: Receiver
) -> None:
    with server.client() as api:
        endpoint_id, _ = operational_endpoint(api, f"{receiver.url}/ops")
        bad = api.post(
            "/api/v1/operational-webhook/endpoint",
            json={"url": f"{receiver.url}/x", "eventTypes": ["invoice.paid"]},
        )
        assert bad.status_code == 422
        assert bad.json()["detail"][0]["loc"] == ["body", "eventTypes", 0]
        app = api.post("/api/v1/app", json={"name": "Acme"}).json()
        portal = api.post(f"/api/v1/auth/app-portal-access/{app['id']}", json={}).json()
        assert [a["id"] for a in api.get("/api/v1/app").json()["data"]] == [app["id"]]
        listed = api.get("/api/v1/operational-webhook/endpoint").json()["data"]
        assert [e["id"] for e in listed] == [endpoint_id]
    with server.client(token=portal["token"]) as tenant:
        assert tenant.get("/api/v1/operational-webhook/endpoint").status_code == 403
