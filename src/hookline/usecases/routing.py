"""Trying routing and transformations without publishing: which of an application's
endpoints a message would reach (and why not the others), and what a transformation
makes of a payload."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from hookline.domain.destinations import POLLING
from hookline.domain.models import Endpoint
from hookline.domain.routing import RouteTarget, why_not
from hookline.domain.transform import TransformError, TransformResult
from hookline.errors import ValidationError
from hookline.storage.base import Cursor, Storage
from hookline.usecases.controls import checked_transformation

#: Endpoints read per page while previewing (all of the application's are judged).
PAGE = 250


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether one endpoint would receive the message; ``reason`` says why not."""

    endpoint: Endpoint
    reason: str | None

    @property
    def matched(self) -> bool:
        """The endpoint would receive the message."""
        return self.reason is None


async def preview(
    storage: Storage, app_id: str, event_type: str, channels: tuple[str, ...] | None,
    payload: dict[str, Any], headers: dict[str, str],
) -> list[Verdict]:  # fmt: skip
    """Judge every endpoint of the application as fan-out would, oldest first."""
    verdicts = []
    lowered = {k.lower(): v for k, v in headers.items()}
    cursor = Cursor(limit=PAGE, ascending=True)
    while True:
        page = await storage.list_endpoints(app_id, cursor)
        for endpoint in page.data:
            if endpoint.destination is not None and endpoint.destination.kind == POLLING:
                continue  # read by its consumers, never delivered to: fan-out skips it
            controls = endpoint.controls
            filter_text = (
                None if controls.filter is None else orjson.dumps(controls.filter).decode()
            )
            target = RouteTarget(
                id=endpoint.id, disabled=endpoint.disabled, filter_types=endpoint.filter_types,
                channels=endpoint.channels, paused=endpoint.paused, controls=controls,
                filter_text=filter_text,
            )  # fmt: skip
            verdicts.append(
                Verdict(endpoint, why_not(target, event_type, channels, payload, lowered))
            )
        if page.done:
            return verdicts
        cursor = Cursor(limit=PAGE, iterator=page.iterator, ascending=True)


def dry_run(document: dict[str, Any], payload: dict[str, Any]) -> TransformResult:
    """Apply a transformation to a payload as delivery would (nothing is saved)."""
    transformation = checked_transformation(document)
    try:
        return transformation.apply(payload)
    except TransformError as error:
        raise ValidationError(
            f"the transformation fails on this payload: {error.message}",
            field=("transformation", *error.path) if error.path else ("payload",),
        ) from None
