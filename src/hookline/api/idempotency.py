"""``Idempotency-Key`` on POST: the same key and request get the first answer again.

Plain ASGI middleware. The key is scoped by the caller's credentials, and a key
reused with a different request is refused (409) rather than silently replayed.
Answers of 5xx are not kept, so a retry after a server fault runs for real.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hookline.api.errors import error_response
from hookline.errors import HooklineError
from hookline.storage.base import IdempotentResponse, Storage

MAX_KEY_LENGTH = 256


class IdempotencyMiddleware:
    """Replays stored answers to POSTs that repeat an ``Idempotency-Key``."""

    def __init__(
        self,
        app: ASGIApp,
        storage: Storage,
        ttl: float,
        clock: Callable[[], float],
    ) -> None:
        self.app = app
        self.storage = storage
        self.ttl = ttl
        self.clock = clock

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
        body = await _read_body(receive)
        scoped_key = hashlib.sha256(headers.get(b"authorization", b"") + b"\0" + key).hexdigest()
        fingerprint = hashlib.sha256(
            scope["path"].encode() + b"?" + scope.get("query_string", b"") + b"\0" + body
        ).hexdigest()

        try:
            stored = await self.storage.get_idempotent(scoped_key)
        except HooklineError:
            stored = None  # the request itself will meet the storage problem and say so
        if stored is not None and stored.created_at >= self.clock() - self.ttl:
            if stored.fingerprint != fingerprint:
                await error_response(
                    409, "idempotency_conflict",
                    "this Idempotency-Key was already used for a different request",
                )(scope, receive, send)  # fmt: skip
                return
            await _replay(stored, send)
            return

        captured: dict[str, Any] = {"status": 0, "headers": [], "body": b""}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = message.get("headers", [])
            elif message["type"] == "http.response.body":
                captured["body"] += message.get("body", b"")
            await send(message)

        await self.app(scope, _replay_body(body), capture)
        if 0 < captured["status"] < 500:
            response = IdempotentResponse(
                fingerprint=fingerprint,
                status_code=captured["status"],
                body=captured["body"],
                created_at=self.clock(),
            )
            try:
                await self.storage.put_idempotent(scoped_key, response)
            except HooklineError:
                pass  # the answer went out; a retry will simply run again


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay_body(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


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
