"""Talking to hookline's API through crashes: setup, publishing, and reading back.

Every call goes to one of the run's API processes and, on a connection error, a
timeout or a 5xx (a process being killed or restarted, PostgreSQL restarting),
is tried again on the next one until its deadline. Publishing is idempotent
twice over: each message carries an ``eventId`` (unique in the application) and
an ``Idempotency-Key``, so a publish retried across a crash stores one message.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from chaos.plan import ADMIN_TOKEN, EVENT_TYPES, routes

#: Statuses worth retrying: the API is restarting, its database too, or it is busy.
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_PAGE = 250


class ApiError(RuntimeError):
    """The API refused a call in a way retrying cannot fix, or never answered in time."""


class Api:
    """The API processes of a run, as one client that rides out their crashes."""

    def __init__(self, urls: list[str], timeout: float = 15.0) -> None:
        self.urls = urls
        self.client = httpx.AsyncClient(
            timeout=timeout,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )
        self.retries: Counter[str] = Counter()

    async def close(self) -> None:
        """Close the connections."""
        await self.client.aclose()

    async def call(
        self, method: str, path: str, *, deadline: float, first: int = 0,
        accept: frozenset[int] = frozenset({200, 201, 202}), **kwargs: Any,
    ) -> httpx.Response:  # fmt: skip
        """One API call, retried on another process until ``deadline`` (monotonic)."""
        turn = first
        pause = 0.05
        while True:
            url = self.urls[turn % len(self.urls)] + path
            turn += 1
            try:
                response = await self.client.request(method, url, **kwargs)
            except httpx.TransportError as error:
                self.retries[type(error).__name__] += 1
            else:
                if response.status_code in accept or response.status_code not in _RETRY_STATUSES:
                    return response
                self.retries[f"HTTP {response.status_code}"] += 1
            if time.monotonic() > deadline:
                raise ApiError(f"{method} {path}: no answer before the deadline")
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.5)

    async def json(self, method: str, path: str, *, deadline: float, **kwargs: Any) -> Any:
        """A call that must succeed; its JSON body."""
        response = await self.call(method, path, deadline=deadline, **kwargs)
        if response.status_code >= 300:
            raise ApiError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json()

    async def pages(self, path: str, *, deadline: float, **params: Any) -> list[dict[str, Any]]:
        """Every item of a Svix-style list, page after page."""
        items: list[dict[str, Any]] = []
        iterator: str | None = None
        while True:
            query = {**params, "limit": _PAGE, **({"iterator": iterator} if iterator else {})}
            page = await self.json("GET", path, deadline=deadline, params=query)
            items += page["data"]
            if page["done"] or not page["data"]:
                return items
            iterator = page["iterator"]


@dataclass(frozen=True)
class Setup:
    """What the run created: its application and its endpoints by path."""

    app_id: str
    endpoint_ids: dict[str, str]


async def set_up(api: Api, receiver_url: str, endpoints: int, deadline: float) -> Setup:
    """Create the application, the event types and the endpoints (one path each)."""
    app = await api.json("POST", "/api/v1/app", deadline=deadline, json={"name": "chaos"})
    for name in EVENT_TYPES:
        await api.json(
            "POST", "/api/v1/event-type", deadline=deadline,
            json={"name": name, "description": "chaos harness"},
        )  # fmt: skip
    endpoint_ids = {}
    for path, types in routes(endpoints).items():
        body: dict[str, Any] = {
            "url": receiver_url + path,
            "uid": path.strip("/").replace("/", "-"),
        }
        if types is not None:
            body["filterTypes"] = list(types)
        created = await api.json(
            "POST", f"/api/v1/app/{app['id']}/endpoint", deadline=deadline, json=body
        )
        endpoint_ids[path] = created["id"]
    return Setup(app["id"], endpoint_ids)


@dataclass(frozen=True)
class Published:
    """One message the harness published: its number, ids and type."""

    n: int
    event_id: str
    event_type: str
    msg_id: str


@dataclass
class PublishStats:
    """How publishing went: retries by cause, replays, conflicts, failures."""

    replayed: int = 0
    found_after_conflict: int = 0
    new_keys: int = 0
    failures: list[str] = field(default_factory=list)


async def publish_all(
    api: Api, app_id: str, count: int, duration: float, run_id: str, rng: random.Random,
    stats: PublishStats, deadline: float,
) -> dict[int, Published]:  # fmt: skip
    """Publish ``count`` messages spread evenly over ``duration`` seconds."""
    started = time.monotonic()
    gate = asyncio.Semaphore(16)
    published: dict[int, Published] = {}
    types = [rng.choice(EVENT_TYPES) for _ in range(count)]

    async def one(n: int) -> None:
        await asyncio.sleep(max(0.0, started + n * duration / count - time.monotonic()))
        async with gate:
            try:
                published[n] = await _publish(api, app_id, n, types[n], run_id, stats, deadline)
            except ApiError as error:
                stats.failures.append(f"message {n}: {error}")

    await asyncio.gather(*(one(n) for n in range(count)))
    return published


async def _publish(
    api: Api, app_id: str, n: int, event_type: str, run_id: str, stats: PublishStats,
    deadline: float,
) -> Published:  # fmt: skip
    event_id = f"evt-{run_id}-{n}"
    body = {"eventType": event_type, "eventId": event_id, "payload": {"n": n, "run": run_id}}
    generation = 0
    while True:
        key = f"chaos-{run_id}-{n}-{generation}"
        response = await api.call(
            "POST", f"/api/v1/app/{app_id}/msg", deadline=deadline, first=n, json=body,
            headers={"Idempotency-Key": key}, accept=frozenset({202, 409}),
        )  # fmt: skip
        if response.status_code == 202:
            if response.headers.get("idempotent-replayed") == "true":
                stats.replayed += 1
            return Published(n, event_id, event_type, response.json()["id"])
        if response.status_code != 409:
            raise ApiError(f"publish: {response.status_code} {response.text[:300]}")
        # Either the eventId is taken (an earlier try was stored, its answer lost in a
        # crash), or the key is held by a request that died with its API process.
        found = await api.call(
            "GET", f"/api/v1/app/{app_id}/msg/{event_id}", deadline=deadline,
            accept=frozenset({200, 404}),
        )  # fmt: skip
        if found.status_code == 200:
            stats.found_after_conflict += 1
            return Published(n, event_id, event_type, found.json()["id"])
        if response.json().get("code") == "idempotency_in_progress":
            # The key's holder is gone (or slow): a new key is safe, the eventId guards.
            generation += 1
            stats.new_keys += 1
        if time.monotonic() > deadline:
            raise ApiError(f"publish of {event_id}: still in conflict at the deadline")
        await asyncio.sleep(0.2)


@dataclass(frozen=True)
class ApiRecords:
    """What the API says after the run."""

    messages: list[dict[str, Any]]
    #: Attempts by endpoint path (with their response bodies).
    attempts: dict[str, list[dict[str, Any]]]
    #: Deliveries' Svix statuses by endpoint path, then message id.
    deliveries: dict[str, dict[str, int]]
    stats: dict[str, dict[str, int]]


async def endpoint_stats(api: Api, setup: Setup, deadline: float) -> dict[str, dict[str, int]]:
    """``GET .../endpoint/{id}/stats`` of every endpoint, by path."""
    found = {}
    for path, endpoint_id in setup.endpoint_ids.items():
        found[path] = await api.json(
            "GET", f"/api/v1/app/{setup.app_id}/endpoint/{endpoint_id}/stats", deadline=deadline
        )
    return found


async def read_back(api: Api, setup: Setup, deadline: float) -> ApiRecords:
    """Every message, attempt and delivery status of the run, through the API."""
    app = setup.app_id
    messages = await api.pages(f"/api/v1/app/{app}/msg", deadline=deadline)
    attempts: dict[str, list[dict[str, Any]]] = {}
    deliveries: dict[str, dict[str, int]] = {}
    for path, endpoint_id in setup.endpoint_ids.items():
        attempts[path] = await api.pages(
            f"/api/v1/app/{app}/attempt/endpoint/{endpoint_id}", deadline=deadline,
            with_content="true",
        )  # fmt: skip
        listed = await api.pages(f"/api/v1/app/{app}/endpoint/{endpoint_id}/msg", deadline=deadline)
        deliveries[path] = {item["id"]: item["status"] for item in listed}
    stats = await endpoint_stats(api, setup, deadline)
    return ApiRecords(messages, attempts, deliveries, stats)
