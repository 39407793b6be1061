"""Messages: ``/api/v1/app/{app_id}/msg``: publish (with fan-out), list and get, precheck,
and removing payloads (one, some, or all of an application's)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from hookline.api.access import APP_READ, APP_WRITE, requires
from hookline.api.context import (
    Context,
    Ctx,
    Page,
    Who,
    after_bound,
    listed,
    parse_time,
    respond,
    split_list,
)
from hookline.api.convert import message_out, task_out
from hookline.api.routes.applications import application_draft
from hookline.api.schemas import BackgroundTaskOut, ListResponse, MessageIn, MessageOut
from hookline.api.schemas.operations import (
    BulkExpungeContentsIn,
    BulkExpungeContentsOut,
    MessagePrecheckIn,
    MessagePrecheckOut,
)
from hookline.domain.controls import PRIORITIES
from hookline.domain.tokens import Principal
from hookline.storage.base import END_OF_TIME, MessageFilter
from hookline.usecases import log_operations, messages
from hookline.usecases.access import Need
from hookline.usecases.messages import MessageDraft

router = APIRouter(prefix="/api/v1/app/{app_id}/msg", tags=["Message"])
#: What publishing needs; the fast path, which skips the router, checks the same.
PUBLISH: Need = APP_WRITE


@router.post(
    "",
    response_model=MessageOut,
    status_code=202,
    summary="Publish a message",
    dependencies=[requires(PUBLISH)],
)
async def create_message(
    app_id: str,
    body: MessageIn,
    ctx: Ctx,
    who: Who,
    with_content: Annotated[bool, Query()] = True,
) -> Response:
    return await publish_message(ctx, who, app_id, body, with_content)


async def publish_message(
    ctx: Context, who: Principal, app_id: str, body: MessageIn, with_content: bool = True
) -> Response:
    """Publish one message through the use case; the 202 answer (shared with the fast path)."""
    app = body.application
    draft = MessageDraft(
        event_type=body.event_type, payload=body.payload, event_id=body.event_id,
        channels=tuple(body.channels) if body.channels else None,
        tags=tuple(body.tags) if body.tags else None, priority=PRIORITIES[body.priority],
        retention_days=body.payload_retention_period,
        application=None if app is None else application_draft(app),
    )  # fmt: skip
    message = await messages.publish(
        ctx.storage, ctx.publisher.submit, ctx.event_types, ctx.publish_limits, who, app_id,
        draft, ctx.clock(),
    )  # fmt: skip
    return respond(message_out(message, with_content), 202)


@router.get(
    "",
    response_model=ListResponse[MessageOut],
    summary="List messages, newest first",
    dependencies=[requires(APP_READ)],
)
async def list_messages(
    app_id: str,
    ctx: Ctx,
    cursor: Page,
    channel: Annotated[str | None, Query(max_length=128)] = None,
    tag: Annotated[str | None, Query(max_length=128)] = None,
    event_types: Annotated[str | None, Query(max_length=8192)] = None,
    before: Annotated[str | None, Query()] = None,
    after: Annotated[str | None, Query()] = None,
    with_content: Annotated[bool, Query()] = True,
) -> Response:
    app = await ctx.storage.get_application(app_id)
    where = MessageFilter(
        event_types=split_list(event_types), channel=channel or None, tag=tag or None,
        since=after_bound(after),
        until=parse_time(before, "before") or END_OF_TIME,
    )  # fmt: skip
    page = await ctx.storage.list_messages(app.id, cursor, where)
    return listed(ListResponse[MessageOut], page, [message_out(m, with_content) for m in page.data])


@router.post(
    "/precheck/active", response_model=MessagePrecheckOut,
    summary="Whether an enabled endpoint would get such a message",
    # A POST, so the middleware refuses read-only tokens: declared as what it is.
    dependencies=[requires(APP_WRITE)],
)  # fmt: skip
async def precheck(app_id: str, body: MessagePrecheckIn, ctx: Ctx) -> Response:
    """By event type and channels only: payload filters have no payload to judge yet."""
    app = await ctx.storage.get_application(app_id)
    active = await log_operations.precheck(ctx.storage, app.id, body.event_type, body.channels)
    return respond(MessagePrecheckOut(active=active))


@router.post(
    "/bulk-expunge", response_model=BulkExpungeContentsOut,
    summary="Remove the payloads of some messages",
    dependencies=[requires(APP_WRITE)],
)  # fmt: skip
async def bulk_expunge(app_id: str, body: BulkExpungeContentsIn, ctx: Ctx) -> Response:
    """In one transaction; each id (or eventId) given is answered expunged or not-found."""
    app = await ctx.storage.get_application(app_id)
    found = await ctx.storage.expunge_messages(app.id, body.ids)
    results = {key: "expunged" if hit else "not-found" for key, hit in found.items()}
    return respond(BulkExpungeContentsOut(results=results))


@router.post(
    "/expunge-all-contents", response_model=BackgroundTaskOut, status_code=202,
    summary="Remove every payload of the application (a background task)",
    dependencies=[requires(APP_WRITE)],
)  # fmt: skip
async def expunge_all_contents(app_id: str, ctx: Ctx, who: Who) -> Response:
    """An ``application.purge_content`` task; its data counts ``messagesPurged``."""
    app = await ctx.storage.get_application(app_id)
    task = await log_operations.purge_contents(ctx.storage, who, app.id, ctx.clock())
    return respond(task_out(task), 202)


@router.get(
    "/{msg_id}",
    response_model=MessageOut,
    summary="Get a message (by id or eventId)",
    dependencies=[requires(APP_READ)],
)
async def get_message(
    app_id: str, msg_id: str, ctx: Ctx, with_content: Annotated[bool, Query()] = True
) -> Response:
    app = await ctx.storage.get_application(app_id)
    return respond(message_out(await ctx.storage.get_message(app.id, msg_id), with_content))


@router.delete(
    "/{msg_id}/content",
    status_code=204,
    summary="Remove a message's payload (expunge)",
    dependencies=[requires(APP_WRITE)],
)
async def expunge_content(app_id: str, msg_id: str, ctx: Ctx) -> Response:
    """The message stays, with its attempts; its payload (and forwarded headers) are gone."""
    app = await ctx.storage.get_application(app_id)
    await ctx.storage.expunge_message(app.id, msg_id)
    return Response(status_code=204)
