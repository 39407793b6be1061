"""The message poller: ``/api/v1/app/{app_id}/poller/{sink_id}``, as the svix SDK's
``message.poller`` (poll, consumer_poll, consumer_seek).

A polling destination gets no deliveries: these routes read the stored messages through
its event types and channels. The iterator is opaque to callers and stable (a message
id): reading from the same one twice gives the same messages, oldest first.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from hookline.api.access import APP_READ, APP_WRITE, requires
from hookline.api.context import App, Ctx, parse_time, respond
from hookline.api.schemas.destinations import (
    PollingEndpointConsumerSeekIn,
    PollingEndpointConsumerSeekOut,
    PollingEndpointOut,
    polled_message_out,
)
from hookline.storage.base import MessagePoll
from hookline.usecases import destinations
from hookline.usecases.destinations import MAX_POLL_LIMIT

router = APIRouter(prefix="/api/v1/app/{app_id}/poller/{sink_id}", tags=["Message Poller"])

Limit = Annotated[int, Query(ge=1, le=MAX_POLL_LIMIT)]
Iterator = Annotated[str | None, Query(max_length=300)]


def _answer(found: MessagePoll) -> Response:
    data = [polled_message_out(m) for m in found.messages]
    return respond(PollingEndpointOut(data=data, iterator=found.iterator, done=found.done))


@router.get(
    "", response_model=PollingEndpointOut, summary="Poll a polling endpoint's messages",
    dependencies=[requires(APP_READ)],
)  # fmt: skip
async def poll(
    app: App, sink_id: str, ctx: Ctx, limit: Limit = 50, iterator: Iterator = None,
    event_type: Annotated[str | None, Query(max_length=256)] = None,
    channel: Annotated[str | None, Query(max_length=128)] = None,
    after: str | None = None,
) -> Response:  # fmt: skip
    poller = await destinations.poller_of(ctx.storage, app.id, sink_id)
    found = await destinations.poll(
        ctx.storage, poller, iterator, limit, ctx.clock(), event_type or None, channel or None,
        parse_time(after, "after"),
    )  # fmt: skip
    return _answer(found)


@router.get(
    "/consumer/{consumer_id}", response_model=PollingEndpointOut,
    summary="Poll for a consumer, from the position the server keeps for it",
    # A GET, as the SDK sends it: a read-only token may read on (and so move its cursor).
    dependencies=[requires(APP_READ)],
)  # fmt: skip
async def consumer_poll(
    app: App, sink_id: str, consumer_id: str, ctx: Ctx, limit: Limit = 50,
    iterator: Iterator = None,
) -> Response:  # fmt: skip
    poller = await destinations.poller_of(ctx.storage, app.id, sink_id)
    found = await destinations.consumer_poll(
        ctx.storage, poller, consumer_id, iterator, limit, ctx.clock()
    )
    return _answer(found)


@router.post(
    "/consumer/{consumer_id}/seek", response_model=PollingEndpointConsumerSeekOut,
    summary="Move a consumer to the messages after a time", dependencies=[requires(APP_WRITE)],
)  # fmt: skip
async def consumer_seek(
    app: App, sink_id: str, consumer_id: str, body: PollingEndpointConsumerSeekIn, ctx: Ctx
) -> Response:
    poller = await destinations.poller_of(ctx.storage, app.id, sink_id)
    position = await destinations.consumer_seek(
        ctx.storage, poller, consumer_id, body.after.timestamp(), ctx.clock()
    )
    return respond(PollingEndpointConsumerSeekOut(iterator=position))
