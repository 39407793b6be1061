"""What every route needs: storage, settings and the clock, reached through the request.

Dependencies here are ``async def`` on purpose: FastAPI runs a plain ``def``
dependency on a worker thread, a thread hop per request for nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from pydantic import BaseModel
from starlette.responses import Response

from hookline.api.auth import TokenCache, principal_of
from hookline.api.batching import Received, WriteBatcher
from hookline.api.inbound import RefusalCounter, SourceCache
from hookline.api.schemas import ListResponse
from hookline.domain.ingress import SourceRates
from hookline.domain.models import Application, Message
from hookline.domain.models import Page as RecordPage
from hookline.domain.throttle import FailureThrottle
from hookline.domain.tokens import Principal
from hookline.errors import ValidationError
from hookline.settings import Settings
from hookline.storage.base import BEGINNING, Cursor, PublishResult, ReceiveResult, Storage
from hookline.usecases.event_types import EventTypeCache
from hookline.usecases.messages import PublishLimits

MAX_LIMIT = 250


@dataclass(frozen=True)
class Context:
    """The collaborators of a request, built once by the app factory."""

    storage: Storage
    settings: Settings
    clock: Callable[[], float]
    tokens: TokenCache
    sources: SourceCache
    receiver: WriteBatcher[Received, ReceiveResult]
    publisher: WriteBatcher[Message, PublishResult]
    event_types: EventTypeCache
    rejections: RefusalCounter
    #: Each source's rate limit, this process's share of it.
    source_rates: SourceRates
    publish_limits: PublishLimits
    #: Failed authentications per client address, API and web faces alike.
    failures: FailureThrottle


async def context(request: Request) -> Context:
    """The app's context (a FastAPI dependency)."""
    ctx: Context = request.app.state.context
    return ctx


Ctx = Annotated[Context, Depends(context)]


async def principal(request: Request) -> Principal:
    """The authenticated caller (a FastAPI dependency)."""
    return principal_of(request)


Who = Annotated[Principal, Depends(principal)]


async def application(app_id: str, ctx: Ctx) -> Application:
    """The application named by the ``{app_id}`` path segment (id or uid)."""
    return await ctx.storage.get_application(app_id)


App = Annotated[Application, Depends(application)]


async def cursor(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    iterator: Annotated[str | None, Query(max_length=300)] = None,
    order: Annotated[str | None, Query(pattern="^(ascending|descending)$")] = None,
) -> Cursor:
    """Svix pagination parameters."""
    return Cursor(
        limit=limit,
        iterator=iterator or None,
        ascending=None if order is None else order == "ascending",
    )


Page = Annotated[Cursor, Depends(cursor)]


def listed(shape: type[ListResponse[Any]], page: RecordPage[Any], data: list[Any]) -> Response:
    """A page of a list in Svix's shape: ``data`` with the page's cursors."""
    return respond(
        shape(data=data, iterator=page.iterator, prev_iterator=page.prev_iterator, done=page.done)
    )


def respond(model: BaseModel, status: int = 200) -> Response:
    """Serialise a response model with its wire (camelCase) names."""
    return Response(
        model.model_dump_json(by_alias=True), status_code=status, media_type="application/json"
    )


def parse_time(value: str | None, name: str) -> float | None:
    """An ISO 8601 query value as epoch seconds; no offset means UTC (as the Svix SDK sends)."""
    if value is None or value == "":
        return None
    text = value.strip()
    # A hand-written "+00:00" arrives as " 00:00" once the query string is decoded.
    if len(text) > 6 and text[-6] == " " and text[-3] == ":":
        text = text[:-6] + "+" + text[-5:]
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(
            f"{name} must be an ISO 8601 date-time, like 2026-01-31T12:00:00Z",
            field=("query", name),
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def after_bound(value: str | None) -> float:
    """Svix's ``after`` is exclusive; storage windows start inclusive, so step past it."""
    moment = parse_time(value, "after")
    return BEGINNING if moment is None else math.nextafter(moment, math.inf)


def split_list(value: str | None) -> list[str] | None:
    """A comma-joined query value (how the Svix SDK sends lists); empty means no filter."""
    if not value:
        return None
    items = [part for part in value.split(",") if part]
    return items or None
