"""The dashboard's messages: search, a message with its payload, deliveries and attempts,
an attempt's request and response, resending, and the dead-letter (failed) list."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hookline.domain.models import (
    AttemptStatus,
    EndpointMessage,
    Message,
)
from hookline.domain.models import Page as RecordPage
from hookline.errors import NotFoundError, ValidationError
from hookline.storage.base import (
    BEGINNING,
    END_OF_TIME,
    AttemptFilter,
    Cursor,
    MessageFilter,
    Storage,
)
from hookline.usecases import replays
from hookline.web import figures
from hookline.web.access import reads, writes
from hookline.web.core import (
    Form,
    Visit,
    attempt_page_values,
    cursor_from,
    moment_input,
    parse_moment,
    see_other,
    web_of,
)
from hookline.web.dashboard import HOME, STATUSES, endpoint_path, failed_path
from hookline.web.render import page
from hookline.web.sessions import Kind

#: The search form's fields, as query parameters.
SEARCH_FIELDS = ("q", "event_type", "channel", "status", "endpoint", "since", "until")
MAX_FIELD = 256


@dataclass(frozen=True, slots=True)
class Row:
    """A message in a list, with where its delivery stands when listed by status."""

    message: Message
    status: AttemptStatus | None = None


@dataclass(frozen=True, slots=True)
class Found:
    """What a search found: rows, the next page's query (None on the last), problems."""

    rows: list[Row]
    next_query: str | None
    errors: list[str]


def message_path(app_id: str, msg_id: str) -> str:
    """The dashboard page of a message."""
    return f"{HOME}/app/{app_id}/msg/{msg_id}"


@reads(Kind.DASHBOARD)
async def search(request: Request, visit: Visit) -> Response:
    """Messages by id or eventId, event type, channel, delivery status and time window."""
    web = web_of(request)
    app = await web.storage.get_application(request.path_params["app_id"])
    given = {name: request.query_params.get(name, "").strip()[:MAX_FIELD] for name in SEARCH_FIELDS}
    endpoints = (await web.storage.list_endpoints(app.id, Cursor(limit=250))).data
    found = await _search(web.storage, app.id, given, cursor_from(request, 50))
    return page(
        request, "dashboard/messages.html", visit, app=app, given=given, found=found,
        endpoints=endpoints, statuses=tuple(STATUSES),
    )  # fmt: skip


async def _search(storage: Storage, app_id: str, given: dict[str, str], cursor: Cursor) -> Found:
    errors: list[str] = []
    window = [BEGINNING, END_OF_TIME]
    for index, name in enumerate(("since", "until")):
        if given[name]:
            try:
                window[index] = parse_moment(given[name], name)
            except ValidationError as error:
                errors.append(error.detail)
    status = STATUSES.get(given["status"]) if given["status"] else None
    if given["status"] and status is None:
        errors.append("status: choose success, pending, fail or sending")
    if status is not None and not given["endpoint"]:
        errors.append("endpoint: choose the endpoint whose deliveries to list by status")
    if errors:
        return Found([], None, errors)
    if given["q"]:
        try:
            return Found([Row(await storage.get_message(app_id, given["q"]))], None, [])
        except NotFoundError:
            return Found([], None, [])
    types = [t.strip() for t in given["event_type"].split(",") if t.strip()] or None
    channel = given["channel"] or None
    if status is not None:
        try:
            target = await storage.get_endpoint(app_id, given["endpoint"])
        except NotFoundError:
            return Found([], None, ["endpoint: no such endpoint in this application"])
        listed: RecordPage[EndpointMessage] = await storage.list_endpoint_messages(
            app_id, target.id, cursor, status, window[0], window[1]
        )
        rows = [
            Row(item.message, item.status) for item in listed.data
            if (types is None or item.message.event_type in types)
            and (channel is None or channel in (item.message.channels or ()))
        ]  # fmt: skip
        return Found(rows, _next_query(given, listed.iterator, listed.done), [])
    where = MessageFilter(event_types=types, channel=channel, since=window[0], until=window[1])
    messages = await storage.list_messages(app_id, cursor, where)
    return Found(
        [Row(m) for m in messages.data], _next_query(given, messages.iterator, messages.done), []
    )


def _next_query(given: dict[str, str], iterator: str | None, done: bool) -> str | None:
    if done or iterator is None:
        return None
    return urlencode({**{k: v for k, v in given.items() if v}, "iterator": iterator})


@reads(Kind.DASHBOARD)
async def message(request: Request, visit: Visit) -> Response:
    """A message: its payload, its delivery to each endpoint, and every attempt."""
    web = web_of(request)
    app = await web.storage.get_application(request.path_params["app_id"])
    found = await web.storage.get_message(app.id, request.path_params["msg_id"])
    endpoints = (await web.storage.list_endpoints(app.id, Cursor(limit=100))).data
    deliveries = await figures.deliveries(web.storage, found.id, endpoints)
    attempts = await web.storage.list_attempts(
        app.id, Cursor(limit=100), AttemptFilter(msg_id=found.id)
    )
    by_id = {e.id: e for e in endpoints}
    return page(
        request, "dashboard/message.html", visit, app=app, message=found,
        deliveries=[(e, d) for e, d in zip(endpoints, deliveries, strict=True) if d is not None],
        others=[e for e, d in zip(endpoints, deliveries, strict=True) if d is None],
        attempts=attempts, endpoints=by_id,
    )  # fmt: skip


@reads(Kind.DASHBOARD)
async def attempt(request: Request, visit: Visit) -> Response:
    """One attempt: the request made (URL, payload, trigger) and what came back."""
    web = web_of(request)
    app = await web.storage.get_application(request.path_params["app_id"])
    shown = await attempt_page_values(request, app.id)
    return page(request, "dashboard/attempt.html", visit, app=app, **shown)


@writes(Kind.DASHBOARD)
async def resend(request: Request, visit: Visit, form: Form) -> Response:
    """Send a message to an endpoint again now (a retry of a failed attempt, or a resend);
    the endpoint is in the path, or chosen in the form."""
    web = web_of(request)
    app = await web.storage.get_application(request.path_params["app_id"])
    endpoint_id = request.path_params.get("endpoint_id") or form.text("endpoint")
    delivery = await replays.resend(
        web.storage, visit.principal, app.id, request.path_params["msg_id"], endpoint_id,
        web.clock(),
    )  # fmt: skip
    visit.session.notify("ok", "Queued to be sent again now.")
    back = {
        "failed": failed_path(app.id),
        "endpoint": endpoint_path(app.id, delivery.endpoint_id),
    }.get(form.text("back"), message_path(app.id, delivery.msg_id))
    return see_other(back)


@reads(Kind.DASHBOARD)
async def failed(request: Request, visit: Visit) -> Response:
    """The dead-letter list: each endpoint's failed (and held) deliveries."""
    web = web_of(request)
    app = await web.storage.get_application(request.path_params["app_id"])
    endpoints = await web.storage.list_endpoints(app.id, cursor_from(request, 20))
    lists = await asyncio.gather(
        *(
            web.storage.list_endpoint_messages(app.id, e.id, Cursor(limit=20), AttemptStatus.FAIL)
            for e in endpoints.data
        )
    )
    return page(
        request, "dashboard/failed.html", visit, app=app, endpoints=endpoints,
        failed=list(zip(endpoints.data, lists, strict=True)),
        recover_since=moment_input(web.clock() - 86400),
    )  # fmt: skip


_APP = f"{HOME}/app/{{app_id}}"
routes = [
    Route(f"{_APP}/msg", search, methods=["GET"]),
    Route(f"{_APP}/msg/{{msg_id}}", message, methods=["GET"]),
    Route(f"{_APP}/msg/{{msg_id}}/attempt/{{attempt_id}}", attempt, methods=["GET"]),
    Route(f"{_APP}/msg/{{msg_id}}/endpoint/{{endpoint_id}}/resend", resend, methods=["POST"]),
    Route(f"{_APP}/msg/{{msg_id}}/resend", resend, methods=["POST"]),
    Route(f"{_APP}/failed", failed, methods=["GET"]),
]
