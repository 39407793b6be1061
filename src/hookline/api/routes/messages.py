"""Messages: ``/api/v1/app/{app_id}/msg``: publish (with fan-out), list and get."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from hookline import tracing
from hookline.api.context import (
    Context,
    Ctx,
    Page,
    Who,
    after_bound,
    change,
    listed,
    parse_time,
    respond,
    split_list,
)
from hookline.api.convert import message_out
from hookline.api.routes.applications import new_application
from hookline.api.schemas import ListResponse, MessageIn, MessageOut, json_bytes
from hookline.api.versioning import check_payload
from hookline.domain import ids
from hookline.domain.controls import PRIORITIES
from hookline.domain.models import Message
from hookline.domain.tokens import Principal
from hookline.errors import NotFoundError, TooLargeError
from hookline.metrics import METRICS
from hookline.storage.base import END_OF_TIME, MessageFilter

router = APIRouter(prefix="/api/v1/app/{app_id}/msg", tags=["Message"])
logger = logging.getLogger(__name__)


@router.post("", response_model=MessageOut, status_code=202, summary="Publish a message")
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
    """Check, store and fan out one message; the 202 answer (shared with the fast path)."""
    settings = ctx.settings
    payload = json_bytes(body.payload, "payload")
    limit = settings.max_payload_bytes
    if len(payload) > limit:
        # As Svix: too large is 413, not a validation error. Checked before anything is stored.
        raise TooLargeError(f"payload is {len(payload)} bytes; the limit is {limit}")
    await check_payload(ctx.event_types, body.event_type, body.payload)
    now = ctx.clock()
    msg_id = ids.new_id(ids.MESSAGE, now)
    retention = 86400 * (body.payload_retention_period or settings.payload_retention_days)
    traced = {"hookline.msg_id": msg_id, "hookline.event_type": body.event_type}
    with tracing.publish_span(traced) as trace_parent:
        # The application is looked up in the publish's own transaction (by id or uid).
        message = Message(
            id=msg_id, app_id=app_id, event_type=body.event_type,
            payload=payload, event_id=body.event_id,
            channels=tuple(body.channels) if body.channels else None,
            tags=tuple(body.tags) if body.tags else None, created_at=now,
            priority=PRIORITIES[body.priority],
            expires_at=now + retention,
            trace_parent=trace_parent,
        )  # fmt: skip
        try:
            result = await ctx.publisher.submit(message)
        except NotFoundError:
            if body.application is None:
                raise
            # Svix's get-or-create: the message carries the application to create.
            uid = None if ids.looks_like_id(app_id, ids.APPLICATION) else app_id
            created = new_application(body.application, ctx.clock(), uid)
            app = await ctx.storage.create_application(
                created, change(who, "application.created", None, created, ctx)
            )
            result = await ctx.storage.publish(replace(message, app_id=app.id))
        tracing.annotate({"hookline.app_id": result.message.app_id})
    METRICS.published.labels("api").inc()
    if ctx.settings.log_payloads:
        # Payloads are customer data: logged only when the operator asks for it.
        logger.info(
            "message published",
            extra={
                "msg_id": message.id,
                "app_id": result.message.app_id,
                "payload": payload.decode(),
            },
        )
    return respond(message_out(result.message, with_content), 202)


@router.get("", response_model=ListResponse[MessageOut], summary="List messages, newest first")
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


@router.get("/{msg_id}", response_model=MessageOut, summary="Get a message (by id or eventId)")
async def get_message(
    app_id: str, msg_id: str, ctx: Ctx, with_content: Annotated[bool, Query()] = True
) -> Response:
    app = await ctx.storage.get_application(app_id)
    return respond(message_out(await ctx.storage.get_message(app.id, msg_id), with_content))


@router.delete("/{msg_id}/content", status_code=204, summary="Remove a message's payload (expunge)")
async def expunge_content(app_id: str, msg_id: str, ctx: Ctx) -> Response:
    """The message stays, with its attempts; its payload (and forwarded headers) are gone."""
    app = await ctx.storage.get_application(app_id)
    await ctx.storage.expunge_message(app.id, msg_id)
    return Response(status_code=204)
