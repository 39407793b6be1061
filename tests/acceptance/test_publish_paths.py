"""The publish fast path answers exactly as the route does.

A publish without query parameters takes the fast path (``api/fast_publish.py``);
the same request with ``?with_content=false`` takes the FastAPI route. Each case
is sent both ways and the answers compared.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from support.server import HooklineProcess, ServerFactory

ROUTE = {"with_content": "false"}


@pytest.fixture
def server(start_server: ServerFactory) -> HooklineProcess:
    return start_server(max_payload_bytes="1000")


def both(client: httpx.Client, path: str, **kwargs: Any) -> tuple[httpx.Response, httpx.Response]:
    fast = client.post(path, **kwargs)
    routed = client.post(path, params=ROUTE, **kwargs)
    return fast, routed


def comparable(response: httpx.Response) -> tuple[int, Any]:
    body = response.json()
    if response.status_code == 202:
        return 202, sorted(body)  # ids and times differ; the shape must not
    return response.status_code, body


def test_fast_and_routed_publishes_answer_alike(server: HooklineProcess) -> None:
    with server.client() as api:
        app = api.post("/api/v1/app", json={"name": "A", "uid": "a"}).json()
        other = api.post("/api/v1/app", json={"name": "B"}).json()
        token = api.post(f"/api/v1/auth/app-portal-access/{app['id']}", json={}).json()["token"]
        path = f"/api/v1/app/{app['id']}/msg"
        cases: list[tuple[httpx.Client, str, dict[str, Any]]] = [
            (api, path, {"json": {"eventType": "e", "payload": {"x": 1}}}),
            (api, "/api/v1/app/a/msg", {"json": {"eventType": "e", "payload": {}}}),
            (api, path, {"json": {"eventType": "e"}}),
            (api, path, {"json": {"eventType": "bad type!", "payload": {}}}),
            (api, path, {"content": b"{not json", "headers": {"content-type": "application/json"}}),
            (api, path, {"content": b"", "headers": {"content-type": "application/json"}}),
            (api, path, {"json": {"eventType": "e", "payload": {"x": "y" * 2000}}}),
            (api, path, {"json": {"eventType": "e", "payload": {"n": 10**30}}}),
            (api, "/api/v1/app/app_missing/msg", {"json": {"eventType": "e", "payload": {}}}),
        ]
        with server.client(token=token) as tenant:
            cases += [
                (tenant, path, {"json": {"eventType": "e", "payload": {}}}),
                (
                    tenant,
                    f"/api/v1/app/{other['id']}/msg",
                    {"json": {"eventType": "e", "payload": {}}},
                ),
            ]
            answers = [both(client, p, **kwargs) for client, p, kwargs in cases]
        for (fast, routed), (_, p, kwargs) in zip(answers, cases, strict=True):
            assert comparable(fast) == comparable(routed), (p, kwargs, fast.text, routed.text)
        statuses = [fast.status_code for fast, _ in answers]
        assert statuses == [202, 202, 422, 422, 422, 422, 413, 422, 404, 202, 404]
        # Every accepted publish was stored, once per request.
        listed = api.get(path, params={"limit": 250}).json()["data"]
        assert len(listed) == 2 * 3


def test_payloads_are_in_the_answers_unless_with_content_is_false(
    server: HooklineProcess,
) -> None:
    """As Svix: create, get and list answer with the payload unless ``with_content=false``."""
    payload = {"invoice": "in_42", "amount": 1999}
    with server.client() as api:
        app = api.post("/api/v1/app", json={"name": "A"}).json()
        path = f"/api/v1/app/{app['id']}/msg"
        created = api.post(path, json={"eventType": "e", "payload": payload})
        assert (created.status_code, created.json()["payload"]) == (202, payload)
        hidden = api.post(path, params=ROUTE, json={"eventType": "e", "payload": payload})
        assert (hidden.status_code, hidden.json()["payload"]) == (202, {})
        msg_id = created.json()["id"]
        assert api.get(f"{path}/{msg_id}").json()["payload"] == payload
        assert api.get(f"{path}/{msg_id}", params=ROUTE).json()["payload"] == {}
        listed = api.get(path).json()["data"]
        assert [m["payload"] for m in listed] == [payload, payload]
        assert [m["payload"] for m in api.get(path, params=ROUTE).json()["data"]] == [{}, {}]
