"""An endpoint's delivery controls: validated against each other, with the field at fault.

Filters and transformations are compiled here, on save, exactly as fan-out and the
worker compile them, so a document that is stored is one that runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
    filter_: dict[str, Any] | None = None,
    transformation: dict[str, Any] | None = None,
    batching: Batching | None = None,
    ordering: Ordering | None = None,
    breaker: BreakerConfig | None = None,
    max_in_flight: int | None = None,
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
    if breaker is not None and breaker.max_cooldown < breaker.cooldown:
        raise ValidationError(
            "maxCooldownSeconds must not be below cooldownSeconds",
            field=("circuitBreaker", "maxCooldownSeconds"),
        )
    return Controls(
        filter=filter_ or None,
        transformation=transformation,
        batching=batching,
        ordering=ordering,
        breaker=breaker,
        max_in_flight=max_in_flight,
    )


@dataclass(frozen=True, slots=True)
class ControlsDraft:
    """An endpoint's controls as given, checked and built by ``build`` for its URL."""

    filter: dict[str, Any] | None = None
    transformation: dict[str, Any] | None = None
    batching: Batching | None = None
    ordering: Ordering | None = None
    breaker: BreakerConfig | None = None
    max_in_flight: int | None = None

    @classmethod
    def of(cls, controls: Controls) -> ControlsDraft:
        """The draft of controls already stored (to patch some of them)."""
        return cls(
            controls.filter, controls.transformation, controls.batching, controls.ordering,
            controls.breaker, controls.max_in_flight,
        )  # fmt: skip

    def build(self, url: str) -> Controls:
        """The controls, checked against each other and ``url``."""
        return build_controls(
            url, self.filter, self.transformation, self.batching, self.ordering, self.breaker,
            self.max_in_flight,
        )  # fmt: skip
