"""Idempotency-Key across API processes sharing one database."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from support.server import AUTH, ServerFactory


def test_same_key_on_two_api_processes_creates_one_message(start_server: ServerFactory) -> None:
    """Concurrent POSTs with one key, spread over two API processes, publish one message."""
    first = start_server(command="api")
    second = start_server(command="api")
    with first.client() as api:
        app = api.post("/api/v1/app", json={"name": "Acme"}).json()

    def post(base_url: str) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=20, headers=AUTH) as client:
            return client.post(
                f"/api/v1/app/{app['id']}/msg",
                json={"eventType": "order.placed", "payload": {"order": 1}},
                headers={"Idempotency-Key": "order-1-placed"},
            )

    urls = [first.url, second.url] * 8
    with ThreadPoolExecutor(len(urls)) as pool:
        answers = list(pool.map(post, urls))
    assert {a.status_code for a in answers} == {202}
    assert len({a.json()["id"] for a in answers}) == 1
    with second.client() as api:
        listed = api.get(f"/api/v1/app/{app['id']}/msg").json()["data"]
    assert len(listed) == 1

    with first.client() as api:
        changed = api.post(
            f"/api/v1/app/{app['id']}/msg",
            json={"eventType": "order.placed", "payload": {"order": 2}},
            headers={"Idempotency-Key": "order-1-placed"},
        )
    assert changed.status_code == 409
    assert changed.json()["code"] == "idempotency_conflict"
