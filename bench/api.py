"""A small async client for the parts of hookline's HTTP API the benchmark uses."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from bench.common import EVENT_TYPE, SECRET, BenchError, payload
from bench.processes import AUTH


class ApiError(BenchError):
    """hookline answered with an unexpected status."""


@dataclass(frozen=True)
class Setup:
    """An application and its endpoints; endpoint ``i`` listens on channel ``lane-i``."""

    app_id: str
    endpoint_ids: tuple[str, ...]

    @property
    def lanes(self) -> int:
        """How many endpoints (and channels) there are."""
        return len(self.endpoint_ids)


def lane(seq: int, lanes: int) -> str:
    """The channel message ``seq`` is published on: round robin over the endpoints."""
    return f"lane-{seq % lanes}"


class HooklineApi:
    """Calls ``/api/v1`` routes of one hookline server over a shared session."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")

    async def _call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        async with self.session.request(
            method, self.base_url + path, json=body, headers=AUTH
        ) as response:
            data = await response.json(content_type=None)
            if response.status != expect:
                raise ApiError(f"{method} {path}: {response.status} {data}")
            return data

    async def setup(
        self,
        receiver_url: str,
        endpoints: int,
        fields: Mapping[str, Any] | None = None,
        *,
        hanging: int = 0,
        channel: str | None = None,
        concurrency: int = 1,
    ) -> Setup:
        """Create one application with ``endpoints`` endpoints on the receiver (paths /ep/i).

        ``fields`` are added to every endpoint's body (``filter``, ``transformation``...).
        The last ``hanging`` endpoints get a path under ``/hang/`` (never answered). With
        ``channel``, every endpoint listens on that one channel instead of its own lane.
        Endpoints are created ``concurrency`` at a time, and listed in index order.
        """
        app = await self._call("POST", "/api/v1/app", {"name": "bench"}, 201)

        async def create(index: int) -> str:
            folder = "hang" if index >= endpoints - hanging else "ep"
            endpoint = await self._call(
                "POST",
                f"/api/v1/app/{app['id']}/endpoint",
                {
                    "url": f"{receiver_url}/{folder}/{index}",
                    "channels": [channel or lane(index, endpoints)],
                    "secret": SECRET,
                    "description": f"bench lane {index}",
                    **(fields or {}),
                },
                201,
            )
            endpoint_id: str = endpoint["id"]
            return endpoint_id

        endpoint_ids: list[str] = []
        for start in range(0, endpoints, concurrency):
            chunk = range(start, min(endpoints, start + concurrency))
            endpoint_ids += await asyncio.gather(*(create(index) for index in chunk))
        return Setup(app["id"], tuple(endpoint_ids))

    @staticmethod
    def message(setup: Setup, seq: int, channel: str | None = None) -> dict[str, Any]:
        """The body publishing message ``seq`` sends: a 1 KiB payload on its lane (or
        on ``channel``), no idempotency key."""
        return {
            "eventType": EVENT_TYPE,
            "payload": payload(seq),
            "channels": [channel or lane(seq, setup.lanes)],
        }

    async def publish(self, setup: Setup, seq: int, channel: str | None = None) -> str:
        """Publish message ``seq`` (a 1 KiB payload) on its lane; return the message id."""
        message = await self._call(
            "POST", f"/api/v1/app/{setup.app_id}/msg", self.message(setup, seq, channel), 202
        )
        msg_id: str = message["id"]
        return msg_id

    async def publish_many(self, setup: Setup, count: int, concurrency: int = 64) -> list[str]:
        """Publish messages ``0..count-1`` with ``concurrency`` requests in flight."""
        ids: list[str] = [""] * count
        next_seq = 0

        async def publisher() -> None:
            nonlocal next_seq
            while next_seq < count:
                seq = next_seq
                next_seq += 1
                ids[seq] = await self.publish(setup, seq)

        await asyncio.gather(*(publisher() for _ in range(min(concurrency, count))))
        return ids

    async def stats(self, setup: Setup, endpoint_id: str) -> dict[str, int]:
        """The delivery counts of one endpoint (``success``, ``pending``, ``sending``, ``fail``)."""
        data: dict[str, int] = await self._call(
            "GET", f"/api/v1/app/{setup.app_id}/endpoint/{endpoint_id}/stats"
        )
        return data

    async def inbound_source(
        self, forward_url: str, secret: str, kind: str = "standard_webhooks"
    ) -> str:
        """An application with one endpoint and a Standard Webhooks source; its ingest URL."""
        app = await self._call("POST", "/api/v1/app", {"name": "inbound bench"}, 201)
        await self._call("POST", f"/api/v1/app/{app['id']}/endpoint", {"url": forward_url}, 201)
        source = await self._call(
            "POST",
            f"/api/v1/app/{app['id']}/source",
            {
                "name": "bench",
                "verifier": {"type": kind, "secrets": [secret] if kind != "none" else []},
            },
            201,
        )
        url: str = source["ingestUrl"]
        return url
