"""An endpoint's delivery controls from an API body: validated, with the field at fault.

Filters and transformations are compiled here, on save, exactly as fan-out and the
worker compile them, so a document that is stored is one that runs.
"""

from __future__ import annotations

from typing import Any

from hookline.api.schemas import BatchingIn, CircuitBreakerIn, OrderingIn
from hookline.domain.controls import Batching, BreakerConfig, Controls, Ordering
from hookline.domain.filters import FilterError, PayloadFilter, compile_filter
from hookline.domain.routing import HANDLER_SCHEME
from hookline.domain.transform import Transformation, TransformError, compile_transformation
from hookline.errors import ValidationError


def checked_filter(document: dict[str, Any], field: str = "filter") -> PayloadFilter:
    """A filter document compiled, or a 422 naming where in it the fault is."""
    try:
        return compile_filter(document)
    except FilterError as error:
        raise ValidationError(error.message, field=(field, *error.path)) from None


def checked_transformation(
    document: dict[str, Any], field: tuple[str | int, ...] = ("transformation",)
) -> Transformation:
    """A transformation document compiled, or a 422 naming where in it the fault is."""
    try:
        return compile_transformation(document)
    except TransformError as error:
        raise ValidationError(error.message, field=(*field, *error.path)) from None


def build_controls(
    url: str,
    filter_: dict[str, Any] | None,
    transformation: dict[str, Any] | None,
    batching: BatchingIn | None,
    ordering: OrderingIn | None,
    breaker: CircuitBreakerIn | None,
    max_in_flight: int | None,
) -> Controls:
    """Check the controls against each other and the URL, and build them."""
    if filter_ is not None:
        checked_filter(filter_)
    if transformation is not None:
        checked_transformation(transformation)
    handler = url.startswith(HANDLER_SCHEME)
    if handler and (batching is not None or transformation is not None):
        field = "batching" if batching is not None else "transformation"
        raise ValidationError(
            "handler: endpoints receive each event as it was published", field=(field,)
        )
    if batching is not None and ordering is not None:
        raise ValidationError(
            "an endpoint cannot both batch and keep FIFO order; choose one", field=("ordering",)
        )
    if breaker is not None and breaker.max_cooldown_seconds < breaker.cooldown_seconds:
        raise ValidationError(
            "maxCooldownSeconds must not be below cooldownSeconds",
            field=("circuitBreaker", "maxCooldownSeconds"),
        )
    return Controls(
        filter=filter_ or None,
        transformation=transformation,
        batching=None
        if batching is None
        else Batching(max_size=batching.max_size, max_wait=batching.max_wait_ms / 1000),
        ordering=None if ordering is None else Ordering(key=ordering.key),
        breaker=None
        if breaker is None
        else BreakerConfig(
            failure_rate=breaker.failure_rate,
            minimum_attempts=breaker.minimum_attempts,
            window=breaker.window_seconds,
            cooldown=breaker.cooldown_seconds,
            max_cooldown=breaker.max_cooldown_seconds,
        ),
        max_in_flight=max_in_flight,
    )
