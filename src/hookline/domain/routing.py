"""Fan-out: which endpoints a message goes to. Pure logic, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from hookline.domain.models import Endpoint


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


def endpoint_matches(endpoint: Endpoint, event_type: str, channels: Sequence[str] | None) -> bool:
    """Whether ``endpoint`` subscribes to a message of this type on these channels.

    A disabled endpoint still matches: its delivery is recorded (held) so that
    nothing published while it was off is lost.
    """
    return matches_event_type(endpoint.filter_types, event_type) and matches_channels(
        endpoint.channels, channels
    )


def route(
    endpoints: Iterable[Endpoint], event_type: str, channels: Sequence[str] | None
) -> list[Endpoint]:
    """The endpoints that get a delivery of this message."""
    return [ep for ep in endpoints if endpoint_matches(ep, event_type, channels)]
