"""The customer portal: one application, as its application token sees it.

The portal link is ``/portal#token=<app token>``: the fragment never reaches a
server or a log. ``/portal`` serves a page whose script reads the fragment,
clears it from the history and posts the token to ``/portal/session``, which
checks it is a valid application token and opens a session. From then on the
application is the token's, never one named in a URL: ids of other
applications answer 404, as ids that do not exist.

Endpoint forms are in ``web.portal_endpoints`` and ``web.portal_settings``, the testing
tab and the event catalogue in ``web.portal_testing``, the message log in
``web.portal_messages``, the theme in ``web.portal_theme``.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hookline.domain.models import Application, AttemptStatus, EventType
from hookline.storage.base import AttemptFilter, Cursor
from hookline.usecases import destinations, replays
from hookline.web import figures
from hookline.web.access import public, reads, signs_out, writes
from hookline.web.core import (
    Form,
    Refused,
    Visit,
    attempt_page_values,
    cursor_from,
    end_session,
    failed_sign_in,
    read_form,
    same_origin,
    see_other,
    start_session,
    web_of,
)
from hookline.web.render import page
from hookline.web.sessions import Kind

HOME = "/portal"
MAX_TOKEN_LENGTH = 200


async def portal_app(request: Request, visit: Visit) -> Application:
    """The application of the visit's token: the only one the portal ever shows."""
    app_id = visit.principal.app_id
    if app_id is None:  # signed_in admits application tokens only
        raise Refused(403, "the portal needs an application's token")
    return await web_of(request).storage.get_application(app_id)


async def event_types(request: Request) -> list[EventType]:
    """The event types an endpoint can subscribe to (archived ones left out)."""
    listed = await web_of(request).storage.list_event_types(Cursor(limit=250), False)
    return listed.data


@public
async def landing(request: Request) -> Response:
    """The page the portal link opens: its script turns the fragment into a session."""
    return page(request, "portal/landing.html", None)


@public
async def open_session(request: Request) -> Response:
    """Check the link's token as the API would; open a session for an application token."""
    web = web_of(request)
    if not same_origin(request, web.settings):
        raise Refused(403, "this form was sent from another site")
    form = await read_form(request)
    text = form.text("token")
    found = await web.find_token(text) if 0 < len(text) <= MAX_TOKEN_LENGTH else None
    broken = found is None or found.problem(web.clock()) is not None
    if found is None or broken or found.app_id is None:  # the portal takes application tokens
        if broken and (wait := failed_sign_in(request, text)):
            answer = page(request, "portal/ended.html", None, 429, invalid=True, wait=wait)
            answer.headers["Retry-After"] = str(wait)
            return answer
        return page(request, "portal/ended.html", None, 401, invalid=True)
    return await start_session(request, Kind.PORTAL, text, f"{HOME}/home")


@signs_out(Kind.PORTAL)
async def sign_out(request: Request, visit: Visit, form: Form) -> Response:
    """End the portal session (the link's token stays valid until it expires)."""
    return await end_session(request, visit, f"{HOME}/signed-out")


@public
async def signed_out(request: Request) -> Response:
    """Where signing out of the portal leads."""
    return page(request, "portal/ended.html", None, invalid=False)


@reads(Kind.PORTAL)
async def home(request: Request, visit: Visit) -> Response:
    """The application's endpoints with their health, a form to add one, a test event."""
    return await home_page(request, visit)


async def home_page(
    request: Request, visit: Visit, status: int = 200, error: str | None = None,
    entered: dict[str, Any] | None = None,
) -> Response:  # fmt: skip
    """The portal's home, with a refused form's error and values when there is one."""
    web = web_of(request)
    app = await portal_app(request, visit)
    endpoints = await web.storage.list_endpoints(app.id, cursor_from(request, 25))
    healths = await figures.healths(web.storage, app.id, endpoints.data, web.clock())
    views, views_done = await destinations.destination_views(web.storage, app.id)
    return page(
        request, "portal/home.html", visit, status, app=app, endpoints=endpoints,
        healths=healths, destinations=views, destinations_done=views_done,
        event_types=await event_types(request), error=error,
        entered=entered or {"url": "", "description": "", "event_types": []},
    )  # fmt: skip


#: The attempt log's outcome filter, in words a customer reads.
OUTCOMES = {"succeeded": AttemptStatus.SUCCESS, "failed": AttemptStatus.FAIL}


@reads(Kind.PORTAL)
async def attempts(request: Request, visit: Visit) -> Response:
    """The application's attempts, newest first, by endpoint, outcome and event type."""
    web = web_of(request)
    app = await portal_app(request, visit)
    endpoints = (await web.storage.list_endpoints(app.id, Cursor(limit=250))).data
    query = request.query_params
    names = ("endpoint", "outcome", "event_type")
    chosen = {name: query.get(name, "").strip()[:256] for name in names}
    endpoint_id = None
    if chosen["endpoint"]:
        endpoint_id = (await web.storage.get_endpoint(app.id, chosen["endpoint"])).id
    if chosen["outcome"] and chosen["outcome"] not in OUTCOMES:
        raise Refused(400, "outcome: choose succeeded or failed")
    where = AttemptFilter(
        endpoint_id=endpoint_id,
        status=int(OUTCOMES[chosen["outcome"]]) if chosen["outcome"] else None,
        event_types=[chosen["event_type"]] if chosen["event_type"] else None,
    )
    listed = await web.storage.list_attempts(app.id, cursor_from(request, 50), where)
    msg_ids = sorted({a.msg_id for a in listed.data})
    found = await asyncio.gather(*(web.storage.get_message(app.id, m) for m in msg_ids))
    kept = urlencode({k: v for k, v in chosen.items() if v})
    return page(
        request, "portal/attempts.html", visit, app=app, attempts=listed,
        messages={m.id: m for m in found}, endpoints={e.id: e for e in endpoints},
        chosen=chosen, kept=kept, event_types=await event_types(request),
        outcomes=tuple(OUTCOMES),
    )  # fmt: skip


@reads(Kind.PORTAL)
async def attempt(request: Request, visit: Visit) -> Response:
    """One attempt of the application: the request made and what came back."""
    app = await portal_app(request, visit)
    shown = await attempt_page_values(request, app.id)
    return page(request, "portal/attempt.html", visit, app=app, **shown)


@writes(Kind.PORTAL)
async def resend(request: Request, visit: Visit, form: Form) -> Response:
    """Retry: send a message of this application to one of its endpoints again now."""
    web = web_of(request)
    app = await portal_app(request, visit)
    delivery = await replays.resend(
        web.storage, visit.principal, app.id, request.path_params["msg_id"],
        request.path_params["endpoint_id"], web.clock(),
    )  # fmt: skip
    visit.session.notify("ok", "Queued to be sent again now.")
    if form.text("back") == "endpoint":
        return see_other(f"{HOME}/endpoint/{delivery.endpoint_id}")
    if form.text("back") == "message":
        return see_other(f"{HOME}/msg/{delivery.msg_id}")
    return see_other(f"{HOME}/attempts")


routes = [
    Route(HOME, landing, methods=["GET"]),
    Route(f"{HOME}/session", open_session, methods=["POST"]),
    Route(f"{HOME}/sign-out", sign_out, methods=["POST"]),
    Route(f"{HOME}/signed-out", signed_out, methods=["GET"]),
    Route(f"{HOME}/home", home, methods=["GET"]),
    Route(f"{HOME}/attempts", attempts, methods=["GET"]),
    Route(f"{HOME}/msg/{{msg_id}}/attempt/{{attempt_id}}", attempt, methods=["GET"]),
    Route(f"{HOME}/msg/{{msg_id}}/endpoint/{{endpoint_id}}/resend", resend, methods=["POST"]),
]
