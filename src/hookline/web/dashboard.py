"""The operator's dashboard: sign-in with an admin token, applications, endpoints with
their health, charts, inbound sources, and the endpoint actions (pause, resume, recover).

Messages, attempts and the dead-letter list are in ``web.messages``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hookline.domain.models import AttemptStatus
from hookline.errors import ValidationError
from hookline.storage.base import Cursor
from hookline.usecases import destinations, endpoints, replays
from hookline.web import figures
from hookline.web.access import public, reads, signs_out, writes
from hookline.web.core import (
    Form,
    Refused,
    Visit,
    cursor_from,
    end_session,
    failed_sign_in,
    moment_input,
    parse_moment,
    read_form,
    same_origin,
    see_other,
    start_session,
    web_of,
)
from hookline.web.render import page
from hookline.web.sessions import Kind

HOME = "/dashboard"
#: Longest text taken as a token at sign-in (API tokens are about 46 characters).
MAX_TOKEN_LENGTH = 200
#: Statuses of a delivery one can list an endpoint's messages by.
STATUSES = {
    "success": AttemptStatus.SUCCESS, "pending": AttemptStatus.PENDING,
    "fail": AttemptStatus.FAIL, "sending": AttemptStatus.SENDING,
}  # fmt: skip


def next_target(value: str | None) -> str:
    """Where to go after signing in: a dashboard path, never another site."""
    if value and value.startswith(HOME) and "//" not in value and "\\" not in value:
        return value
    return HOME


@public
async def sign_in_page(request: Request) -> Response:
    """The sign-in form."""
    target = next_target(request.query_params.get("next"))
    return page(request, "sign_in.html", None, target=target, error=None)


@public
async def sign_in(request: Request) -> Response:
    """Check the token exactly as the API would; open a session for an admin token."""
    web = web_of(request)
    if not same_origin(request, web.settings):
        raise Refused(403, "this form was sent from another site")
    form = await read_form(request)
    text = form.text("token")
    target = next_target(form.get("next"))
    found = await web.find_token(text) if 0 < len(text) <= MAX_TOKEN_LENGTH else None
    problem = found.problem(web.clock()) if found is not None else None
    error = None
    if found is None:
        error = "That token is not valid."
    elif problem is not None:
        error = f"That token cannot be used: {problem}."
    elif found.app_id is not None:
        error = (
            "That token belongs to one application: the dashboard needs an admin token. "
            "An application's users open its portal link instead."
        )
    if error is not None:
        # Only a token that does not work counts as a failure (not an application's).
        if (found is None or problem is not None) and (wait := failed_sign_in(request, text)):
            error = f"Too many failed sign-ins from this address: try again in {wait} seconds."
            answer = page(request, "sign_in.html", None, 429, target=target, error=error)
            answer.headers["Retry-After"] = str(wait)
            return answer
        return page(request, "sign_in.html", None, 401, target=target, error=error)
    return await start_session(request, Kind.DASHBOARD, text, target)


@signs_out(Kind.DASHBOARD)
async def sign_out(request: Request, visit: Visit, form: Form) -> Response:
    """End the session (the token itself stays valid)."""
    return await end_session(request, visit, f"{HOME}/sign-in")


@reads(Kind.DASHBOARD)
async def applications(request: Request, visit: Visit) -> Response:
    """Every application, a page at a time, under the charts of all of them."""
    web = web_of(request)
    cursor = cursor_from(request, 25)
    listed = await web.storage.list_applications(cursor)
    shown = await figures.window_charts(
        web.storage, None, request.query_params.get("window"), web.clock()
    )
    return page(request, "dashboard/apps.html", visit, apps=listed, charts=shown, app=None)


@reads(Kind.DASHBOARD)
async def application(request: Request, visit: Visit) -> Response:
    """One application: charts, endpoints with their health, inbound sources."""
    web = web_of(request)
    app = await web.storage.get_application(request.path_params["app_id"])
    now = web.clock()
    endpoints = await web.storage.list_endpoints(app.id, cursor_from(request, 25))
    healths = await figures.healths(web.storage, app.id, endpoints.data, now)
    sources, sources_done = await figures.sources(web.storage, app.id, Cursor(limit=50))
    views, views_done = await destinations.destination_views(web.storage, app.id)
    shown = await figures.window_charts(
        web.storage, app.id, request.query_params.get("window"), now
    )
    return page(
        request, "dashboard/app.html", visit, app=app, endpoints=endpoints, healths=healths,
        sources=sources, sources_done=sources_done, charts=shown, destinations=views,
        destinations_done=views_done,
    )  # fmt: skip


@reads(Kind.DASHBOARD)
async def endpoint(request: Request, visit: Visit) -> Response:
    """One endpoint: health, delivery controls' state, actions, and its messages by status."""
    web = web_of(request)
    app = await web.storage.get_application(request.path_params["app_id"])
    found = await web.storage.get_endpoint(app.id, request.path_params["endpoint_id"])
    now = web.clock()
    health = await figures.health(web.storage, app.id, found, now)
    status_name = request.query_params.get("status", "")
    status = STATUSES.get(status_name)
    messages = await web.storage.list_endpoint_messages(
        app.id, found.id, cursor_from(request, 50), status
    )
    return page(
        request, "dashboard/endpoint.html", visit, app=app, health=health, messages=messages,
        status_filter=status_name if status is not None else "", statuses=tuple(STATUSES),
        recover_since=moment_input(now - 86400),
    )  # fmt: skip


@writes(Kind.DASHBOARD)
async def pause(request: Request, visit: Visit, form: Form) -> Response:
    """Pause an endpoint: its deliveries wait until it is resumed."""
    return await _set_paused(request, visit, True)


@writes(Kind.DASHBOARD)
async def resume(request: Request, visit: Visit, form: Form) -> Response:
    """Resume an endpoint: what waited goes out."""
    return await _set_paused(request, visit, False)


async def _set_paused(request: Request, visit: Visit, paused: bool) -> Response:
    web = web_of(request)
    app = await web.storage.get_application(request.path_params["app_id"])
    found = await web.storage.get_endpoint(app.id, request.path_params["endpoint_id"])
    await endpoints.set_paused(web.storage, visit.principal, found, paused, web.clock())
    visit.session.notify("ok", f"Endpoint {'paused' if paused else 'resumed'}.")
    return see_other(endpoint_path(app.id, found.id))


@writes(Kind.DASHBOARD)
async def recover(request: Request, visit: Visit, form: Form) -> Response:
    """Re-queue the endpoint's failed and held deliveries made since a given time."""
    web = web_of(request)
    app = await web.storage.get_application(request.path_params["app_id"])
    found = await web.storage.get_endpoint(app.id, request.path_params["endpoint_id"])
    back = failed_path(app.id) if form.get("back") == "failed" else endpoint_path(app.id, found.id)
    now = web.clock()
    try:
        since = parse_moment(form.text("since"), "since")
        if since > now:
            raise ValidationError("since: must not be in the future", field=("since",))
    except ValidationError as error:
        return _refuse_form(visit, error, back)
    task = await replays.recover(web.storage, visit.principal, found, since, now, now)
    visit.session.notify(
        "ok", f"Recovery started (background task {task.id}): failed messages are sent again."
    )
    return see_other(back)


def _refuse_form(visit: Visit, error: ValidationError, back: str) -> Response:
    visit.session.notify("error", error.detail)
    return see_other(back)


def app_path(app_id: str) -> str:
    """The dashboard page of an application."""
    return f"{HOME}/app/{app_id}"


def endpoint_path(app_id: str, endpoint_id: str) -> str:
    """The dashboard page of an endpoint."""
    return f"{HOME}/app/{app_id}/endpoint/{endpoint_id}"


def failed_path(app_id: str) -> str:
    """The dashboard's dead-letter page of an application."""
    return f"{HOME}/app/{app_id}/failed"


routes = [
    Route(f"{HOME}/sign-in", sign_in_page, methods=["GET"]),
    Route(f"{HOME}/sign-in", sign_in, methods=["POST"]),
    Route(f"{HOME}/sign-out", sign_out, methods=["POST"]),
    Route(HOME, applications, methods=["GET"]),
    Route(f"{HOME}/app/{{app_id}}", application, methods=["GET"]),
    Route(f"{HOME}/app/{{app_id}}/endpoint/{{endpoint_id}}", endpoint, methods=["GET"]),
    Route(f"{HOME}/app/{{app_id}}/endpoint/{{endpoint_id}}/pause", pause, methods=["POST"]),
    Route(f"{HOME}/app/{{app_id}}/endpoint/{{endpoint_id}}/resume", resume, methods=["POST"]),
    Route(f"{HOME}/app/{{app_id}}/endpoint/{{endpoint_id}}/recover", recover, methods=["POST"]),
]
