"""The portal's message log: the application's messages with a payload preview, filtered
by event type, endpoint, delivery state and time; and a message's page with its
payload, its delivery to each endpoint and the retry timeline of its attempts."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hookline.domain.models import (
    Attempt,
    AttemptStatus,
    Delivery,
    DeliveryStatus,
    Endpoint,
    Message,
)
from hookline.errors import ValidationError
from hookline.storage.base import (
    BEGINNING,
    END_OF_TIME,
    AttemptFilter,
    Cursor,
    MessageFilter,
)
from hookline.web import figures
from hookline.web.access import reads
from hookline.web.core import Visit, cursor_from, parse_moment, web_of
from hookline.web.portal import HOME, event_types, portal_app
from hookline.web.render import page
from hookline.web.sessions import Kind

#: Delivery states a customer filters by, in words (an endpoint must be chosen).
STATES = {
    "delivered": AttemptStatus.SUCCESS, "retrying": AttemptStatus.PENDING,
    "failed": AttemptStatus.FAIL,
}  # fmt: skip
FIELDS = ("event_type", "endpoint", "state", "since", "until")
PREVIEW_CHARS = 140


def preview(payload: bytes) -> str:
    """The payload's first characters, on one line."""
    text = payload.decode("utf-8", errors="replace")
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


@reads(Kind.PORTAL)
async def log(request: Request, visit: Visit) -> Response:
    """The message log, newest first."""
    web = web_of(request)
    app = await portal_app(request, visit)
    given = {name: request.query_params.get(name, "").strip()[:256] for name in FIELDS}
    endpoints = (await web.storage.list_endpoints(app.id, Cursor(limit=250))).data
    errors: list[str] = []
    window = [BEGINNING, END_OF_TIME]
    for index, name in enumerate(("since", "until")):
        if given[name]:
            try:
                window[index] = parse_moment(given[name], name)
            except ValidationError as error:
                errors.append(error.detail)
    if given["state"] and given["state"] not in STATES:
        errors.append("state: choose delivered, retrying or failed")
    elif given["state"] and not given["endpoint"]:
        errors.append("state: choose the endpoint whose deliveries to list by state")
    rows: list[tuple[Message, AttemptStatus | None]] = []
    iterator, done = None, True
    types = [given["event_type"]] if given["event_type"] else None
    cursor = cursor_from(request, 50)
    if not errors and given["endpoint"]:
        target = await web.storage.get_endpoint(app.id, given["endpoint"])
        status = STATES[given["state"]] if given["state"] else None
        listed = await web.storage.list_endpoint_messages(
            app.id, target.id, cursor, status, window[0], window[1]
        )
        rows = [(i.message, i.status) for i in listed.data
                if types is None or i.message.event_type in types]  # fmt: skip
        iterator, done = listed.iterator, listed.done
    elif not errors:
        where = MessageFilter(event_types=types, since=window[0], until=window[1])
        found = await web.storage.list_messages(app.id, cursor, where)
        rows = [(m, None) for m in found.data]
        iterator, done = found.iterator, found.done
    kept = {k: v for k, v in given.items() if v}
    next_query = None if done or iterator is None else urlencode({**kept, "iterator": iterator})
    return page(
        request, "portal/messages.html", visit, app=app, rows=rows, given=given, errors=errors,
        endpoints=endpoints, event_types=await event_types(request), states=tuple(STATES),
        next_query=next_query, filtered=bool(kept), preview=preview,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Step:
    """A point of a message's retry timeline: an attempt made, or one still to come."""

    at: float
    endpoint: Endpoint | None
    attempt: Attempt | None = None
    delivery: Delivery | None = None

    @property
    def css(self) -> str:
        """ok, bad or next (a coming attempt)."""
        if self.attempt is None:
            return "next"
        return "ok" if self.attempt.status == AttemptStatus.SUCCESS else "bad"


@reads(Kind.PORTAL)
async def message(request: Request, visit: Visit) -> Response:
    """A message: payload, deliveries per endpoint, and the retry timeline."""
    web = web_of(request)
    app = await portal_app(request, visit)
    found = await web.storage.get_message(app.id, request.path_params["msg_id"])
    endpoints = (await web.storage.list_endpoints(app.id, Cursor(limit=250))).data
    deliveries = await figures.deliveries(web.storage, found.id, endpoints)
    attempts = await web.storage.list_attempts(
        app.id, Cursor(limit=100), AttemptFilter(msg_id=found.id)
    )
    by_id = {e.id: e for e in endpoints}
    steps = [Step(a.created_at, by_id.get(a.endpoint_id), attempt=a) for a in attempts.data]
    taken = [(e, d) for e, d in zip(endpoints, deliveries, strict=True) if d is not None]
    for endpoint, delivery in taken:
        if delivery.status is DeliveryStatus.PENDING and delivery.next_attempt_at is not None:
            steps.append(Step(delivery.next_attempt_at, endpoint, delivery=delivery))
    steps.sort(key=lambda step: step.at)
    return page(
        request, "portal/message.html", visit, app=app, message=found, deliveries=taken,
        steps=steps, truncated=not attempts.done,
    )  # fmt: skip


routes = [
    Route(f"{HOME}/messages", log, methods=["GET"]),
    Route(f"{HOME}/msg/{{msg_id}}", message, methods=["GET"]),
]
