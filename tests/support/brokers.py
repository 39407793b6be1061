"""The message brokers the destination tests use: their addresses, and a skip (or, under
``CI=true``, a failure) when one does not answer.

Each address comes from an environment variable with this machine's default:
``HOOKLINE_TEST_RABBITMQ_URL``, ``HOOKLINE_TEST_REDIS_URL``, ``HOOKLINE_TEST_NATS_URL``,
``HOOKLINE_TEST_MQTT_URL``; PostgreSQL is ``tests/pg.py``'s server.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

DEFAULTS = {
    "rabbitmq": ("HOOKLINE_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/"),
    "redis": ("HOOKLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
    "nats": ("HOOKLINE_TEST_NATS_URL", "nats://127.0.0.1:4222"),
    "mqtt": ("HOOKLINE_TEST_MQTT_URL", "mqtt://127.0.0.1:1883"),
}
PORTS = {"amqp": 5672, "redis": 6379, "nats": 4222, "mqtt": 1883, "postgresql": 5432}


def url(service: str) -> str:
    """The URL of ``service`` (``rabbitmq``, ``redis``, ``nats``, ``mqtt``)."""
    variable, default = DEFAULTS[service]
    return os.environ.get(variable) or default


def require(address: str, what: str) -> None:
    """Skip unless ``address`` (a URL) accepts a TCP connection; under CI, fail."""
    parts = urlsplit(address)
    host, port = parts.hostname or "127.0.0.1", parts.port or PORTS.get(parts.scheme, 0)
    try:
        with socket.create_connection((host, port), timeout=2):
            return
    except OSError as error:
        missing(f"{what} is not reachable at {host}:{port} ({error})")


def missing(reason: str) -> None:
    """Skip for ``reason``; under CI, fail."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}. CI runs the broker tests, never skips them.", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on (now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Relay:
    """A TCP relay on 127.0.0.1 to a real broker, that a test can take down and bring
    back up: the broker "goes down" for hookline while it really keeps running."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        """Listen and relay every connection to the broker."""
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def down(self) -> None:
        """Stop listening and cut every relayed connection."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._pipes):
            writer.close()
        self._pipes.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._pipes.update((writer, up_writer))

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))


@contextlib.asynccontextmanager
async def relay(target_host: str, target_port: int) -> AsyncIterator[Relay]:
    """A relay to the broker, down when the block ends."""
    made = Relay(target_host, target_port)
    try:
        yield made
    finally:
        await made.down()
