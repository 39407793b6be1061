"""Message attempts: list by endpoint or message, get one, resend, remove one's content;
an endpoint's messages and a message's endpoints with their delivery status."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from hookline.api.access import APP_READ, APP_WRITE, requires
from hookline.api.context import (
    App,
    Ctx,
    Page,
    Who,
    after_bound,
    listed,
    parse_time,
    respond,
    split_list,
)
from hookline.api.convert import STATUS_TEXT, attempt_out, endpoint_message_out, endpoint_out
from hookline.api.schemas import (
    EmptyOut,
    EndpointMessageOut,
    ListResponse,
    MessageAttemptOut,
    utc,
)
from hookline.api.schemas.operations import MessageEndpointOut
from hookline.domain.models import AttemptStatus, Message
from hookline.errors import ValidationError
from hookline.storage.base import END_OF_TIME, AttemptFilter, MessageDestination, MessageFilter
from hookline.usecases import replays

router = APIRouter(prefix="/api/v1/app/{app_id}", tags=["Message Attempt"])

_STATUS_CLASSES = {0, 100, 200, 300, 400, 500}


async def attempt_filter(
    status: Annotated[int | None, Query(ge=0, le=4)] = None,
    status_code_class: Annotated[int | None, Query()] = None,
    event_types: Annotated[str | None, Query(max_length=8192)] = None,
    channel: Annotated[str | None, Query(max_length=128)] = None,
    tag: Annotated[str | None, Query(max_length=128)] = None,
    before: Annotated[str | None, Query()] = None,
    after: Annotated[str | None, Query()] = None,
) -> AttemptFilter:
    """The filters both attempt lists share (Svix's query parameters)."""
    if status_code_class is not None and status_code_class not in _STATUS_CLASSES:
        raise ValidationError(
            "status_code_class must be 0, 100, 200, 300, 400 or 500",
            field=("query", "status_code_class"),
        )
    return AttemptFilter(
        status=status, status_code_class=status_code_class,
        event_types=split_list(event_types), channel=channel or None, tag=tag or None,
        since=after_bound(after),
        until=parse_time(before, "before") or END_OF_TIME,
    )  # fmt: skip


Where = Annotated[AttemptFilter, Depends(attempt_filter)]
Flag = Annotated[bool, Query()]


async def _attempt_page(
    app: App, ctx: Ctx, cursor: Page, where: AttemptFilter, with_content: bool, with_msg: bool
) -> Response:
    page = await ctx.storage.list_attempts(app.id, cursor, where)
    messages: dict[str, Message] = {}
    if with_msg:
        for msg_id in {a.msg_id for a in page.data}:
            messages[msg_id] = await ctx.storage.get_message(app.id, msg_id)
    return listed(
        ListResponse[MessageAttemptOut],
        page,
        [attempt_out(a, with_content, messages.get(a.msg_id)) for a in page.data],
    )


@router.get(
    "/attempt/endpoint/{endpoint_id}", response_model=ListResponse[MessageAttemptOut],
    summary="List an endpoint's attempts, newest first",
    dependencies=[requires(APP_READ)],
)  # fmt: skip
async def list_by_endpoint(
    app: App, endpoint_id: str, ctx: Ctx, cursor: Page, where: Where,
    with_content: Flag = True, with_msg: Flag = False,
) -> Response:  # fmt: skip
    endpoint = await ctx.storage.get_endpoint(app.id, endpoint_id)
    where = replace(where, endpoint_id=endpoint.id)
    return await _attempt_page(app, ctx, cursor, where, with_content, with_msg)


@router.get(
    "/attempt/msg/{msg_id}", response_model=ListResponse[MessageAttemptOut],
    summary="List a message's attempts, newest first",
    dependencies=[requires(APP_READ)],
)  # fmt: skip
async def list_by_msg(
    app: App, msg_id: str, ctx: Ctx, cursor: Page, where: Where,
    endpoint_id: Annotated[str | None, Query()] = None,
    with_content: Flag = True, with_msg: Flag = False,
) -> Response:  # fmt: skip
    message = await ctx.storage.get_message(app.id, msg_id)
    endpoint = None
    if endpoint_id:
        endpoint = (await ctx.storage.get_endpoint(app.id, endpoint_id)).id
    where = replace(where, msg_id=message.id, endpoint_id=endpoint)
    return await _attempt_page(app, ctx, cursor, where, with_content, with_msg)


@router.get(
    "/msg/{msg_id}/attempt/{attempt_id}", response_model=MessageAttemptOut,
    summary="Get an attempt",
    dependencies=[requires(APP_READ)],
)  # fmt: skip
async def get_attempt(app: App, msg_id: str, attempt_id: str, ctx: Ctx) -> Response:
    return respond(attempt_out(await ctx.storage.get_attempt(app.id, msg_id, attempt_id)))


@router.post(
    "/msg/{msg_id}/endpoint/{endpoint_id}/resend", response_model=EmptyOut, status_code=202,
    summary="Send a message to an endpoint again",
    dependencies=[requires(APP_WRITE)],
)  # fmt: skip
async def resend(app: App, msg_id: str, endpoint_id: str, ctx: Ctx, who: Who) -> Response:
    await replays.resend(ctx.storage, who, app.id, msg_id, endpoint_id, ctx.clock())
    return respond(EmptyOut(), 202)


@router.get(
    "/endpoint/{endpoint_id}/msg", response_model=ListResponse[EndpointMessageOut],
    summary="List the messages sent to an endpoint, with their delivery status",
    dependencies=[requires(APP_READ)],
)  # fmt: skip
async def list_attempted_messages(
    app: App, endpoint_id: str, ctx: Ctx, cursor: Page, where: Where, with_content: Flag = False
) -> Response:
    """Failed (dead-letter) deliveries are ``status=2``; held ones (endpoint disabled) too."""
    status = None if where.status is None else AttemptStatus(min(where.status, 3))
    if where.status == 4:  # canceled: hookline never cancels a delivery
        return respond(
            ListResponse[EndpointMessageOut](data=[], iterator=None, prev_iterator=None, done=True)
        )
    narrow = MessageFilter(event_types=where.event_types, channel=where.channel, tag=where.tag)
    page = await ctx.storage.list_endpoint_messages(
        app.id, endpoint_id, cursor, status, where.since, where.until, narrow
    )
    data = [endpoint_message_out(item, with_content) for item in page.data]
    return listed(ListResponse[EndpointMessageOut], page, data)


@router.get(
    "/msg/{msg_id}/endpoint", response_model=ListResponse[MessageEndpointOut],
    summary="List the endpoints a message was sent to, with their delivery status",
    dependencies=[requires(APP_READ)],
)  # fmt: skip
async def list_attempted_destinations(app: App, msg_id: str, ctx: Ctx, cursor: Page) -> Response:
    """Ascending by endpoint id (as Svix), one row per delivery of the message."""
    page = await ctx.storage.list_destinations(app.id, msg_id, cursor)
    data = [_destination_out(d) for d in page.data]
    return listed(ListResponse[MessageEndpointOut], page, data)


def _destination_out(destination: MessageDestination) -> MessageEndpointOut:
    next_at = destination.next_attempt_at
    return MessageEndpointOut(
        **endpoint_out(destination.endpoint).model_dump(),
        status=int(destination.status), status_text=STATUS_TEXT[destination.status],
        next_attempt=None
        if next_at is None or destination.status == AttemptStatus.SUCCESS else utc(next_at),
    )  # fmt: skip


@router.delete(
    "/msg/{msg_id}/attempt/{attempt_id}/content", status_code=204,
    summary="Remove what an attempt recorded of the response and the request body",
    dependencies=[requires(APP_WRITE)],
)  # fmt: skip
async def expunge_attempt_content(app: App, msg_id: str, attempt_id: str, ctx: Ctx) -> Response:
    """The attempt stays, with its status and timing; its response body is empty."""
    await ctx.storage.expunge_attempt_content(app.id, msg_id, attempt_id)
    return Response(status_code=204)
