"""The inbound gateway: ``POST /in/<token>``: verify, deduplicate, store, then acknowledge.

A provider's request is checked by its source's verifier on the raw body bytes,
stored (with the headers worth forwarding) as a message of the source's
application in one transaction with its dedup key and fan-out, and only then
answered 200. Processing (forwarding to endpoints, running Python handlers)
happens later, in the delivery workers, with their retries and attempt log.
If the database cannot take the event, the answer is 503 so the provider retries.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import orjson
from starlette.datastructures import URL
from starlette.types import ASGIApp, Receive, Scope, Send

from hookline.domain import ingress
from hookline.domain.inbound import dedup_key, received_message
from hookline.domain.models import Message, Source
from hookline.domain.series import Refusals
from hookline.domain.verifiers import (
    VERIFIERS,
    InboundRequest,
    VerificationFailed,
    VerifiedEvent,
    Verifier,
    build_verifier,
    handshake_answer,
)
from hookline.errors import HooklineError
from hookline.metrics import METRICS
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

    def forget_app(self, app_id: str) -> None:
        """Drop every source of an application deleted through this process."""
        for token in [t for t, (source, _, _) in self._cached.items() if source.app_id == app_id]:
            del self._cached[token]


#: Why a source refused a request: a bad signature (401), an address not on its
#: allowlist (403), over its rate (429). Also the ``result`` label of the metric.
REJECTED, FORBIDDEN, LIMITED = "rejected", "forbidden", "limited"


class RefusalCounter:
    """Counts refused requests per source and reason, written every few seconds.

    A refused request must cost next to nothing (it may be an attack), so it only
    bumps a number here; one write carries them all to ``source_stats``.
    """

    def __init__(self, storage: Storage, every: float = 2.0) -> None:
        self.storage = storage
        self.every = every
        self._counts: Counter[tuple[str, str]] = Counter()
        self._flush: asyncio.Task[None] | None = None

    def add(self, source_id: str, why: str = REJECTED) -> None:
        """Count one refused request; a write follows within ``every`` seconds."""
        self._counts[(source_id, why)] += 1
        if self._flush is None or self._flush.done():
            self._flush = asyncio.get_running_loop().create_task(self._write_soon())

    async def _write_soon(self) -> None:
        await asyncio.sleep(self.every)
        counts, self._counts = self._counts, Counter()
        by_source: dict[str, dict[str, int]] = {}
        for (source_id, why), n in counts.items():
            by_source.setdefault(source_id, {})[why] = n
        try:
            await self.storage.count_refused(
                {source_id: Refusals(**whys) for source_id, whys in by_source.items()}
            )
        except HooklineError as error:
            # Counts are a report, not data to protect: a failed write loses them.
            logger.warning("refused-request counts not written", extra={"error": error.detail})


@dataclass(frozen=True, slots=True)
class Answer:
    """What the gateway says back: a status and a small JSON body."""

    status: int
    body: bytes
    #: Headers beside the JSON content type (a 429's ``Retry-After``).
    headers: tuple[tuple[bytes, bytes], ...] = ()

    @classmethod
    def of(cls, status: int, content: dict[str, object]) -> Answer:
        """An answer with ``content`` as JSON."""
        return cls(status, orjson.dumps(content))


@dataclass(frozen=True, slots=True)
class Arrival:
    """One provider request as the gateway reads it off the connection."""

    token: str
    method: str
    headers: dict[str, str]
    body: bytes
    scope: Scope


async def handle(arrival: Arrival, context: Any) -> Answer:
    """Verify, deduplicate and store one provider request; the answer says how it went."""
    try:
        found = await context.sources.find(arrival.token)
    except HooklineError:
        return Answer.of(503, {"detail": "cannot take events now; retry later"})
    if found is None:
        return Answer.of(404, {"detail": "not found"})
    source, verifier = found
    now = context.clock()
    checked = _check(arrival, source, verifier, context, now)
    if isinstance(checked, Answer):
        return checked
    refused = _refused_body(arrival.body)
    if refused is not None:
        return refused
    retention = context.settings.payload_retention_days * 86400
    message = received_message(
        source, arrival.body, arrival.headers, checked.event_type, now, retention
    )
    answer = await _store(context, source, message, dedup_key(checked.event_id))
    if checked.answer_fields and answer.status == 200:
        # Adobe Sign counts an answer without its client id echoed as a failed delivery.
        fields = {**orjson.loads(answer.body), **dict(checked.answer_fields)}
        return Answer(200, orjson.dumps(fields))
    return answer


def _admit(arrival: Arrival, source: Source, context: Any) -> Answer | None:
    """The answer that refuses a request from outside the source's allowlist (403) or
    over its rate (429), or None; checked before the signature, which costs more."""
    if source.allowed_networks:
        client = arrival.scope.get("client")
        address = ingress.client_address(client[0] if client else None)
        if not ingress.allowed(address, ingress.networks(source.allowed_networks)):
            return _refused(context, source, FORBIDDEN, Answer.of(403, {
                "detail": "this address may not send to this source",
            }))  # fmt: skip
    wait = context.source_rates.wait(source.id, source.rate_limit)
    if wait > 0:
        seconds = str(max(1, math.ceil(wait)))
        answer = Answer.of(
            429, {"detail": f"too many requests to this source; retry in {seconds} s"}
        )
        return _refused(
            context, source, LIMITED, replace(answer, headers=((b"retry-after", seconds.encode()),))
        )
    return None


def _refused(context: Any, source: Source, why: str, answer: Answer) -> Answer:
    METRICS.inbound.labels(why).inc()
    context.rejections.add(source.id, why)
    return answer


def _check(
    arrival: Arrival, source: Source, verifier: Verifier, context: Any, now: float
) -> VerifiedEvent | Answer:
    """The verified event, or the answer that ends the request (403 and 429 by the source's
    limits, 405, 401, a handshake)."""
    refused = _admit(arrival, source, context)
    if refused is not None:
        return refused
    spec = VERIFIERS.get(source.verifier)
    if arrival.method not in _METHODS and (spec is None or arrival.method not in spec.methods):
        return Answer.of(405, {"detail": "method not allowed"})
    # Few kinds read the URL (Twilio signs it), so only then is it worth building.
    url = _called_url(arrival.scope, context) if spec is not None and spec.signs_url else ""
    request = InboundRequest(arrival.method, url, arrival.headers, arrival.body)
    try:
        event = verifier.verify(request, now)
    except VerificationFailed as failed:
        METRICS.inbound.labels(REJECTED).inc()
        context.rejections.add(source.id, REJECTED)
        logger.warning(
            "inbound request rejected", extra={"source_id": source.id, "reason": failed.reason}
        )
        return Answer.of(401, {"detail": "invalid signature"})
    # A provider checking the endpoint (Slack, Zoom, Meta, Adobe Sign) gets its answer.
    challenge = handshake_answer(verifier, request)
    if challenge is not None:
        return Answer(200, challenge)
    if arrival.method not in _METHODS:
        return Answer.of(405, {"detail": "method not allowed"})
    return event


async def _store(context: Any, source: Source, message: Message, key: str | None) -> Answer:
    """Store the event (once per key and window) before answering: 503 lets the provider retry."""
    try:
        result = await context.receiver.submit((message, key, source.dedup_window))
    except HooklineError as error:
        logger.error(
            "inbound event not stored", extra={"source_id": source.id, "error": error.detail}
        )
        return Answer.of(503, {"detail": "cannot store the event now; retry later"})
    METRICS.inbound.labels("duplicate" if result.duplicate else "stored").inc()
    if not result.duplicate:
        METRICS.published.labels("inbound").inc()
    return Answer.of(200, {"id": result.msg_id, "duplicate": result.duplicate})


def _called_url(scope: Scope, context: Any) -> str:
    """The URL as the provider called it (Twilio signs it): the public URL if one is set."""
    public = context.settings.public_url.rstrip("/")
    url = URL(scope=scope)
    if not public:
        return str(url)
    query = f"?{url.query}" if url.query else ""
    return f"{public}{url.path}{query}"


def _refused_body(body: bytes) -> Answer | None:
    """The answer to a body no backend can store alike, or None for a storable one."""
    # Stored payloads travel as text through the claim query, so they must be UTF-8...
    try:
        body.decode()
    except UnicodeDecodeError:
        return Answer.of(415, {"detail": "the body must be UTF-8 text"})
    # ...and PostgreSQL's text holds no NUL (JSON's escaped \u0000 is six characters: fine).
    if b"\x00" in body:
        return Answer.of(422, {"detail": "the body must not contain a NUL character"})
    return None


#: Where providers post: ``/in/<token>``, one path segment.
PREFIX = "/in/"
#: What providers post with; a kind may take more (a GET handshake: Meta, Adobe Sign).
_METHODS = frozenset({"POST", "PUT"})
_HANDSHAKE_METHODS = frozenset({"GET"})
_JSON = [(b"content-type", b"application/json")]


class Gateway:
    """The whole ASGI app: ``/in/<token>`` to the gateway, everything else to the API.

    Provider requests need none of the API's machinery (bearer tokens,
    idempotency keys, FastAPI's middleware and router of fifty routes), nor
    Starlette's request and response objects: measured, that machinery cost
    more than verifying and storing the event. So the gateway speaks ASGI.
    """

    def __init__(self, app: ASGIApp, context: Any, limit: int) -> None:
        self.app = app
        self.context = context
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        try:
            answer = await self._answer(scope, receive, path[len(PREFIX) :])
        except _Disconnected:
            return  # the provider hung up mid-body: nothing is stored, it will retry
        except Exception:  # never a bare 500 page to a provider; the cause goes to the log
            logger.exception("inbound request failed")
            answer = Answer.of(500, {"detail": "internal error; retry later"})
        headers = [*_JSON, *answer.headers] if answer.headers else _JSON
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})

    async def _answer(self, scope: Scope, receive: Receive, token: str) -> Answer:
        if not token or "/" in token:
            return Answer.of(404, {"detail": "not found"})
        if scope["method"] not in _METHODS | _HANDSHAKE_METHODS:
            return Answer.of(405, {"detail": "method not allowed"})
        # ASGI header names arrive lower-cased; values are latin-1 by the HTTP spec.
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            return self._too_large()
        body = await self._read(receive)
        if body is None:
            return self._too_large()
        arrival = Arrival(token, scope["method"], headers, body, scope)
        return await handle(arrival, self.context)

    async def _read(self, receive: Receive) -> bytes | None:
        """The whole body, or None once it passes the limit (an endless body stops there).

        A disconnect before the body's end raises: half a body is never an event.
        """
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _too_large(self) -> Answer:
        return Answer.of(413, {"detail": f"request body is larger than {self.limit} bytes"})


class _Disconnected(Exception):
    """The client went away before its body was complete."""
