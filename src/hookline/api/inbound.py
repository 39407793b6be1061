"""The inbound gateway: ``POST /in/<token>``: verify, deduplicate, store, then acknowledge.

A provider's request is checked by its source's verifier on the raw body bytes,
stored (with the headers worth forwarding) as a message of the source's
application in one transaction with its dedup key and fan-out, and only then
answered 200. Processing (forwarding to endpoints, running Python handlers)
happens later, in the delivery workers, with their retries and attempt log.
If the database cannot take the event, the answer is 503 so the provider retries.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from hookline.api.errors import json_response
from hookline.api.limits import BodyLimitMiddleware
from hookline.domain.inbound import received_message
from hookline.domain.models import Message, Source
from hookline.domain.verifiers import (
    InboundRequest,
    VerificationFailed,
    Verifier,
    build_verifier,
    slack_challenge,
)
from hookline.errors import HooklineError
from hookline.storage.base import Storage

logger = logging.getLogger(__name__)

_MAX_CACHED = 10_000


class SourceCache:
    """Sources by receiving token, with their built verifiers, trusted for ``ttl`` seconds."""

    def __init__(
        self, storage: Storage, ttl: float, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.storage = storage
        self.ttl = ttl
        self.monotonic = monotonic
        self._cached: dict[str, tuple[Source, Verifier, float]] = {}

    async def find(self, token: str) -> tuple[Source, Verifier] | None:
        """The source receiving at ``token`` and its verifier, or None."""
        now = self.monotonic()
        cached = self._cached.get(token)
        if cached is not None and now - cached[2] < self.ttl:
            return cached[0], cached[1]
        source = await self.storage.find_source(token)
        if source is None:
            self._cached.pop(token, None)
            return None
        verifier = build_verifier(source.verifier, source.config, source.secrets)
        if len(self._cached) >= _MAX_CACHED:
            self._cached.clear()
        self._cached[token] = (source, verifier, now)
        return source, verifier

    def forget(self, token: str) -> None:
        """Drop a source changed or deleted through this process."""
        self._cached.pop(token, None)


class InboundCounters:
    """Per-source counts of this process: received, rejected, duplicate (for metrics)."""

    def __init__(self) -> None:
        self.received: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()
        self.duplicate: Counter[str] = Counter()


def _answer(status: int, body: dict[str, object]) -> Response:
    return json_response(status, body)


async def receive(request: Request, context: Any) -> Response:
    """Handle one provider request for the source named by the path's token."""
    try:
        found = await context.sources.find(request.path_params["token"])
    except HooklineError:
        return _answer(503, {"detail": "cannot take events now; retry later"})
    if found is None:
        return _answer(404, {"detail": "not found"})
    source, verifier = found
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    now = context.clock()
    try:
        # Only Twilio signs the URL; building it costs more than a whole verification.
        url = _called_url(request, context) if source.verifier == "twilio" else ""
        event = verifier.verify(InboundRequest(request.method, url, headers, body), now)
    except VerificationFailed as failed:
        context.inbound_counters.rejected[source.id] += 1
        logger.warning(
            "inbound request rejected", extra={"source_id": source.id, "reason": failed.reason}
        )
        return _answer(401, {"detail": "invalid signature"})
    challenge = slack_challenge(body) if source.verifier == "slack" else None
    if challenge is not None:
        return Response(challenge, media_type="application/json")
    if not _is_text(body):
        return _answer(415, {"detail": "the body must be UTF-8 text"})
    message = received_message(source, body, headers, event.event_type, now)
    return await _store(context, source, message, event.event_id)


async def _store(context: Any, source: Source, message: Message, key: str | None) -> Response:
    """Store the event (once per key and window) before answering: 503 lets the provider retry."""
    try:
        result = await context.storage.receive(message, key, source.dedup_window)
    except HooklineError as error:
        logger.error(
            "inbound event not stored", extra={"source_id": source.id, "error": error.detail}
        )
        return _answer(503, {"detail": "cannot store the event now; retry later"})
    counters: InboundCounters = context.inbound_counters
    counters.received[source.id] += 1
    if result.duplicate:
        counters.duplicate[source.id] += 1
    return _answer(200, {"id": result.msg_id, "duplicate": result.duplicate})


def _called_url(request: Request, context: Any) -> str:
    """The URL as the provider called it (Twilio signs it): the public URL if one is set."""
    public = context.settings.public_url.rstrip("/")
    if not public:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{public}{request.url.path}{query}"


def _is_text(body: bytes) -> bool:
    # Stored payloads travel as text through the claim query, so they must be UTF-8.
    try:
        body.decode()
    except UnicodeDecodeError:
        return False
    return True


#: Where providers post: ``/in/<token>``, one path segment.
PREFIX = "/in/"
_METHODS = frozenset({"POST", "PUT"})


class Gateway:
    """The whole ASGI app: ``/in/<token>`` to the gateway, everything else to the API.

    Provider requests need none of the API's machinery (bearer tokens,
    idempotency keys, FastAPI's middleware and router of fifty routes):
    measured, that machinery cost more than verifying and storing the event.
    """

    def __init__(self, app: ASGIApp, context: Any, limit: int) -> None:
        self.app = app
        self.context = context
        self.gateway = BodyLimitMiddleware(self._handle, limit)

    async def __call__(self, scope: Scope, receive_: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(PREFIX):
            await self.app(scope, receive_, send)
            return
        token = path[len(PREFIX) :]
        if not token or "/" in token:
            await _answer(404, {"detail": "not found"})(scope, receive_, send)
            return
        if scope["method"] not in _METHODS:
            await _answer(405, {"detail": "method not allowed"})(scope, receive_, send)
            return
        scope["path_params"] = {"token": token}
        await self.gateway(scope, receive_, send)

    async def _handle(self, scope: Scope, receive_: Receive, send: Send) -> None:
        try:
            response = await receive(Request(scope, receive_), self.context)
        except Exception:  # never a bare 500 page to a provider; the cause goes to the log
            logger.exception("inbound request failed")
            response = _answer(500, {"detail": "internal error; retry later"})
        await response(scope, receive_, send)
