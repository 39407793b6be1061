"""``Idempotency-Key`` on POST: the same key and request get the first answer again.

Plain ASGI middleware. The key is scoped by the caller's credentials, and a key
reused with a different request is refused (409) rather than silently replayed.
Answers of 5xx are not kept, so a retry after a server fault runs for real.

The key is claimed in storage before the request runs, atomically, so that across
every API process only one request per key runs; a repeat that arrives while the
first is still running waits for its answer (or, past ``WAIT_FOR_FIRST``, gets
409). An answer is stored *before* it is sent: a client that repeats the request
as soon as it has the first answer must find it. Within a process, requests with
the same key also queue on a lock, so they need not poll storage.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hookline.api.asgi import read_body, replay_body
from hookline.api.errors import error_response
from hookline.errors import HooklineError
from hookline.storage.base import Idempotency, IdempotentResponse

MAX_KEY_LENGTH = 256
#: How long a repeat waits for the first request with its key to finish.
WAIT_FOR_FIRST = 10.0
#: A claim older than this was abandoned by a crashed process and may be taken over.
STALE_CLAIM = 60.0
_POLL = 0.05
#: How often a release that met a database outage is tried again.
_RELEASE_RETRY = 0.5


class IdempotencyMiddleware:
    """Replays stored answers to POSTs that repeat an ``Idempotency-Key``."""

    def __init__(
        self,
        app: ASGIApp,
        storage: Idempotency,
        ttl: float,
        clock: Callable[[], float],
    ) -> None:
        self.app = app
        self.storage = storage
        self.ttl = ttl
        self.clock = clock
        self.in_flight = _KeyLocks()
        #: Releases waiting for the database to come back (kept so the loop keeps them).
        self._releasing: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        key = headers.get(b"idempotency-key")
        if not key:
            await self.app(scope, receive, send)
            return
        if len(key) > MAX_KEY_LENGTH:
            await error_response(400, "bad_request", "Idempotency-Key is longer than 256 bytes")(
                scope, receive, send
            )
            return
        body = await read_body(receive)
        scoped_key = hashlib.sha256(headers.get(b"authorization", b"") + b"\0" + key).hexdigest()
        fingerprint = hashlib.sha256(
            scope["path"].encode() + b"?" + scope.get("query_string", b"") + b"\0" + body
        ).hexdigest()

        async with self.in_flight.hold(scoped_key):
            await self._once(scoped_key, fingerprint, body, scope, send)

    async def _claim(self, key: str, fingerprint: str) -> IdempotentResponse | None:
        """Claim the key (None), or wait for the answer of whoever holds it."""
        deadline = self.clock() + WAIT_FOR_FIRST
        while True:
            now = self.clock()
            held = await self.storage.claim_idempotent(
                key, fingerprint, now, now - STALE_CLAIM, now - self.ttl
            )
            if held is None or held.status_code != 0 or now >= deadline:
                return held
            await asyncio.sleep(_POLL)

    async def _once(
        self, scoped_key: str, fingerprint: str, body: bytes, scope: Scope, send: Send
    ) -> None:
        try:
            stored = await self._claim(scoped_key, fingerprint)
        except HooklineError:
            stored = None  # the request itself will meet the storage problem and say so
        if stored is not None:
            if stored.fingerprint != fingerprint:
                await error_response(
                    409, "idempotency_conflict",
                    "this Idempotency-Key was already used for a different request",
                )(scope, replay_body(b""), send)  # fmt: skip
            elif stored.status_code == 0:
                await error_response(
                    409, "idempotency_in_progress",
                    "a request with this Idempotency-Key is still running; retry later",
                )(scope, replay_body(b""), send)  # fmt: skip
            else:
                await _replay(stored, send)
            return

        start: Message | None = None
        chunks: list[bytes] = []
        stored_answer = False

        async def capture(message: Message) -> None:
            nonlocal start, stored_answer
            if message["type"] == "http.response.start":
                start = message  # held back until the whole answer is stored
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            answer = b"".join(chunks)
            if start["status"] < 500:
                stored_answer = await self._store(scoped_key, fingerprint, start["status"], answer)
            await send(start)
            await send({"type": "http.response.body", "body": answer})

        try:
            await self.app(scope, replay_body(body), capture)
        finally:
            if not stored_answer:
                # A 5xx or a crash: free the key so that a retry runs for real. If the
                # database is down right now (often why it failed), keep trying for a
                # while, not leave the key claimed until it goes stale.
                try:
                    await self.storage.release_idempotent(scoped_key)
                except HooklineError:
                    task = asyncio.get_running_loop().create_task(self._release_later(scoped_key))
                    self._releasing.add(task)
                    task.add_done_callback(self._releasing.discard)

    async def _release_later(self, scoped_key: str) -> None:
        deadline = self.clock() + STALE_CLAIM
        while self.clock() < deadline:
            await asyncio.sleep(_RELEASE_RETRY)
            with suppress(HooklineError):
                await self.storage.release_idempotent(scoped_key)
                return

    async def _store(self, key: str, fingerprint: str, status: int, body: bytes) -> bool:
        response = IdempotentResponse(
            fingerprint=fingerprint, status_code=status, body=body, created_at=self.clock()
        )
        try:
            await self.storage.put_idempotent(key, response)
        except HooklineError:
            return False  # the answer still goes out; a retry will simply run again
        return True


class _KeyLocks:
    """One lock per key, forgotten once nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Run the body alone among holders of ``key``."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]


async def _replay(stored: IdempotentResponse, send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": stored.status_code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(stored.body)).encode()),
                (b"idempotent-replayed", b"true"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": stored.body})
