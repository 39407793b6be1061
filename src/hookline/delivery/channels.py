"""The delivery-channel port: how one request reaches an endpoint, by its kind.

The worker hands a request (one delivery, or a batch of one endpoint's deliveries)
to the ``DeliveryChannel`` that ``Channels.for_delivery`` picks, and gets back
what came of it; it never looks at the kind itself. Two channels today:

- ``HttpChannel``: shapes, signs and POSTs through a ``Transport`` (aiohttp or
  pyreqwest); a batch is one POST of a batch body.
- ``HandlerChannel``: ``handler:<group>`` endpoints, run in-process by the
  ``HandlerRunner``; no batches.

A destination kind (a message broker, a database) is one more class with
``batches`` and ``send``: it shapes each payload (``shape_group``), signs each
message with ``request.headers`` into its properties, publishes the group at once
(a batch is one publish of many, or one INSERT of many) and answers when the
broker confirmed, as an ``AttemptResult``; then it is registered under its kind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Protocol

from hookline import tracing
from hookline.domain.destinations import FIFO
from hookline.domain.endpoint_auth import AuthMethod, OAuth2ClientCredentials, static_authorization
from hookline.domain.handlers import InboundEvent
from hookline.domain.oauth2 import TokenError
from hookline.domain.outcome import AttemptResult, ErrorClass, SentRequest
from hookline.domain.routing import HANDLER_SCHEME
from hookline.domain.shaping import Shaped
from hookline.domain.transform import CostExceeded, TransformError
from hookline.storage.base import ClaimedDelivery

from . import request as requests
from .handlers import HandlerRunner
from .oauth2 import TokenCache
from .transport import Transport

#: Transformation cost units a delivery may spend on the event loop (a few milliseconds
#: at most); one that needs more runs again on a thread with its full budget.
INLINE_TRANSFORM_COST = 5_000

#: What a channel answers: the result, and what was sent (None: nothing to record).
Sent = tuple[AttemptResult, SentRequest | None]


class DeliveryChannel(Protocol):
    """Carries requests of one kind of endpoint; never raises for the endpoint's trouble."""

    #: Whether a batching endpoint's deliveries may share one ``send``.
    batches: bool

    async def send(self, group: Sequence[ClaimedDelivery], sent_at: float) -> Sent:
        """Deliver ``group`` (one endpoint's deliveries; one unless ``batches``) at
        ``sent_at``; classify any failure into the ``AttemptResult``."""
        ...


class Channels:
    """The channel for each kind of endpoint: a destination's channel by its kind, else
    HTTP unless the URL's scheme names another (``handler:``)."""

    def __init__(
        self,
        http: DeliveryChannel,
        by_scheme: Mapping[str, DeliveryChannel] | None = None,
        by_kind: Mapping[str, DeliveryChannel] | None = None,
    ) -> None:
        self.http = http
        self.by_scheme = dict(by_scheme or {})
        self.by_kind = dict(by_kind or {})

    def for_delivery(self, delivery: ClaimedDelivery) -> DeliveryChannel:
        """The channel that carries ``delivery`` (for a destination kind this worker has no
        channel for, one that fails each attempt saying so: retried, never dropped)."""
        if delivery.destination is not None:
            kind = delivery.destination.kind
            return self.by_kind.get(kind) or MissingChannel(kind)
        url = delivery.url
        if self.by_scheme:
            colon = url.find(":")
            if colon > 0:
                found = self.by_scheme.get(url[:colon])
                if found is not None:
                    return found
        return self.http

    def batches(self, delivery: ClaimedDelivery) -> bool:
        """Whether the delivery's channel sends batches as one request."""
        return self.for_delivery(delivery).batches


async def shape_group(group: Sequence[ClaimedDelivery]) -> list[Shaped] | AttemptResult:
    """The group's payloads shaped for their endpoint, or the failed attempt's result
    when a transformation fails (nothing is sent then)."""
    try:
        try:
            # On the event loop within a small budget (a usual transformation costs a
            # few hundred units, some microseconds)...
            return requests.shape_all(group, INLINE_TRANSFORM_COST)
        except CostExceeded:
            # ...and a costly one (up to its full budget, ~0.25 s) on a thread, so it
            # delays only this request, not every other one on the loop.
            return await asyncio.to_thread(requests.shape_all, group, None)
    except TransformError as error:
        return AttemptResult(
            status_code=0, response_body=f"transformation failed: {error}",
            response_headers={}, duration_ms=0, error_class=ErrorClass.TRANSFORM,
        )  # fmt: skip


class HttpChannel:
    """Signed POSTs through a transport; a batch is one POST of a batch body. An endpoint's
    credentials add its ``Authorization`` (an OAuth2 token from ``tokens``, refreshed once
    on a 401) and its TLS identity."""

    batches = True

    def __init__(self, transport: Transport, config: requests.RequestConfig) -> None:
        self.transport = transport
        self.config = config
        self.tokens = TokenCache(transport)

    async def _authorization(
        self, delivery: ClaimedDelivery, method: AuthMethod, stale: str | None = None
    ) -> str:
        """The ``Authorization`` value of the endpoint's method (raises ``TokenError``)."""
        if isinstance(method, OAuth2ClientCredentials):
            return await self.tokens.authorization(delivery.endpoint_id, method, stale)
        value = static_authorization(method)
        assert value is not None  # Basic and bearer need no fetch
        return value

    async def send(self, group: Sequence[ClaimedDelivery], sent_at: float) -> Sent:
        """Shape, sign and POST the group's request."""
        shaped = await shape_group(group)
        if isinstance(shaped, AttemptResult):
            return shaped, None
        first = group[0]
        request = requests.build(group, shaped, sent_at, self.config)
        headers = request.headers
        traced = {
            "hookline.msg_id": request.msg_id, "hookline.endpoint_id": first.endpoint_id,
            "hookline.attempt": first.attempts + 1, "hookline.batch_size": len(group),
        }  # fmt: skip
        auth = first.auth
        method = auth.method if auth is not None else None
        tls = auth.tls if auth is not None else None
        if method is not None:
            try:
                headers = requests.with_authorization(
                    headers, await self._authorization(first, method)
                )
            except TokenError as error:
                return _token_failure(error), None
        with tracing.attempt_span(first.trace_parent, traced) as (trace_headers, span):
            if trace_headers:
                headers = {**headers, **trace_headers}
            result = await self.transport.send(first.url, request.body, headers, tls)
            if result.status_code == 401 and isinstance(method, OAuth2ClientCredentials):
                # The token may have been revoked early: one fresh token, one more try.
                try:
                    fresh = await self._authorization(first, method, headers["authorization"])
                except TokenError as error:
                    result = _token_failure(error)
                else:
                    headers = requests.with_authorization(headers, fresh)
                    result = await self.transport.send(first.url, request.body, headers, tls)
            tracing.record_outcome(span, result.status_code, result.error_class)
        return result, requests.recorded(request, first, headers)


def _token_failure(error: TokenError) -> AttemptResult:
    """The result of an attempt that had no OAuth2 token to send (nothing was sent)."""
    return AttemptResult(
        status_code=0, response_body=f"no OAuth2 token: {error.reason}"[:1000],
        response_headers={}, duration_ms=0, error_class=ErrorClass.TOKEN,
    )  # fmt: skip


class MissingChannel:
    """A destination kind with no channel here: each attempt fails, saying which kind."""

    batches = False

    def __init__(self, kind: str) -> None:
        self.kind = kind

    async def send(self, group: Sequence[ClaimedDelivery], sent_at: float) -> Sent:
        """Fail the attempt without sending anything."""
        del group, sent_at
        return AttemptResult(
            status_code=0, response_body=f"this worker has no channel for {self.kind!r}",
            response_headers={}, duration_ms=0, error_class=ErrorClass.NO_CHANNEL,
        ), None  # fmt: skip


class HandlerChannel:
    """``handler:<group>`` endpoints: the event runs through this worker's handlers."""

    batches = False

    def __init__(self, runner: HandlerRunner) -> None:
        self.runner = runner

    async def send(self, group: Sequence[ClaimedDelivery], sent_at: float) -> Sent:
        """Run the handlers for the (single) delivery's event."""
        first = group[0]
        event = InboundEvent(
            id=first.msg_id, event_type=first.event_type, body=first.payload,
            app_id=first.app_id, headers=first.message_headers or {},
            attempt=first.attempts + 1,
        )  # fmt: skip
        return await self.runner.run(first.url, event), None


def standard_channels(
    transport: Transport, runner: HandlerRunner, config: requests.RequestConfig,
    by_kind: Mapping[str, DeliveryChannel] | None = None,
) -> Channels:  # fmt: skip
    """HTTP through ``transport``, ``handler:`` endpoints through ``runner``, and
    destinations through the channels ``by_kind`` (``delivery/destinations/``). A
    ``fifoEndpoint`` is HTTP: its URL and headers are the endpoint's, its order the
    endpoint's FIFO ordering."""
    scheme = HANDLER_SCHEME.rstrip(":")
    http = HttpChannel(transport, config)
    kinds = {FIFO: http, **(by_kind or {})}
    return Channels(http, {scheme: HandlerChannel(runner)}, kinds)
