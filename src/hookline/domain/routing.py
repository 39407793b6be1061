"""Fan-out: which endpoints a message goes to, and why not the others. Pure logic, no I/O.

Three sieves, in order: the endpoint's event types (``invoice.*`` and ``*`` are
wildcards), its channels (as Svix), and its payload filter (``domain.filters``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Protocol, TypeVar

from hookline.domain.controls import NO_CONTROLS, Controls
from hookline.domain.filters import compile_cached


class Subscriber(Protocol):
    """What routing needs of an endpoint (an ``Endpoint`` or a ``RouteTarget``)."""

    @property
    def filter_types(self) -> Sequence[str] | None: ...
    @property
    def channels(self) -> Sequence[str] | None: ...


S = TypeVar("S", bound=Subscriber)


@dataclass(frozen=True, slots=True)
class RouteTarget:
    """The slice of an endpoint that fan-out reads (cheaper to load than the whole)."""

    id: str
    disabled: bool
    filter_types: tuple[str, ...] | None
    channels: tuple[str, ...] | None
    paused: bool = False
    controls: Controls = NO_CONTROLS
    circuit_open: bool = False
    #: The payload filter as stored (JSON text): the key of its compiled form.
    filter_text: str | None = None


def matches_event_type(filter_types: Sequence[str] | None, event_type: str) -> bool:
    """An endpoint without a filter takes every event; otherwise the type must be listed.

    A listed type may be a pattern: ``*`` stands for any characters (dots included),
    so ``invoice.*`` takes ``invoice.paid`` and ``invoice.payment.failed``.
    """
    if filter_types is None or len(filter_types) == 0 or event_type in filter_types:
        return True
    return any("*" in t and fnmatchcase(event_type, t) for t in filter_types)


def matches_channels(
    endpoint_channels: Sequence[str] | None, channels: Sequence[str] | None
) -> bool:
    """As Svix: an endpoint with channels takes only messages sharing at least one of them."""
    if not endpoint_channels:
        return True
    if not channels:
        return False
    return not set(endpoint_channels).isdisjoint(channels)


def endpoint_matches(endpoint: Subscriber, event_type: str, channels: Sequence[str] | None) -> bool:
    """Whether ``endpoint`` subscribes to a message of this type on these channels.

    A disabled endpoint still matches: its delivery is recorded (held) so that
    nothing published while it was off is lost.
    """
    return matches_event_type(endpoint.filter_types, event_type) and matches_channels(
        endpoint.channels, channels
    )


def route(endpoints: Iterable[S], event_type: str, channels: Sequence[str] | None) -> list[S]:
    """The endpoints whose event types and channels take this message."""
    return [ep for ep in endpoints if endpoint_matches(ep, event_type, channels)]


def route_payload(
    targets: Iterable[RouteTarget], body: object, headers: Mapping[str, str] | None
) -> list[RouteTarget]:
    """The targets whose payload filter (if any) takes this payload and these headers."""
    return [
        t
        for t in targets
        if t.filter_text is None or compile_cached(t.filter_text).matches(body, headers)
    ]


def why_not(
    target: RouteTarget,
    event_type: str,
    channels: Sequence[str] | None,
    body: object,
    headers: Mapping[str, str] | None,
) -> str | None:
    """Why ``target`` gets no delivery of this message (None: it gets one)."""
    if not matches_event_type(target.filter_types, event_type):
        return f"event type {event_type!r} is not among the endpoint's event types"
    if not matches_channels(target.channels, channels):
        return "the message shares none of the endpoint's channels"
    if target.filter_text is not None:
        reason = compile_cached(target.filter_text).explain(body, headers)
        if reason is not None:
            return f"payload filter: {reason}"
    return None


#: Endpoint URLs of this scheme (``handler:<group>``) are served in-process by a
#: worker's Python handlers of that group, not sent over HTTP.
HANDLER_SCHEME = "handler:"
HANDLER_URL_PATTERN = r"handler:[A-Za-z0-9_.\-]{1,64}"
