"""Fan-out: which endpoints a message goes to. Pure logic, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar


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


def matches_event_type(filter_types: Sequence[str] | None, event_type: str) -> bool:
    """An endpoint without a filter takes every event; otherwise the type must be listed."""
    return filter_types is None or len(filter_types) == 0 or event_type in filter_types


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
    """The endpoints that get a delivery of this message."""
    return [ep for ep in endpoints if endpoint_matches(ep, event_type, channels)]


#: Endpoint URLs of this scheme (``handler:<group>``) are served in-process by a
#: worker's Python handlers of that group, not sent over HTTP.
HANDLER_SCHEME = "handler:"
HANDLER_URL_PATTERN = r"handler:[A-Za-z0-9_.\-]{1,64}"
