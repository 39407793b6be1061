"""The portal's endpoint forms: add, edit (URL, description, event types), delete,
rotate and reveal the signing secret.

Input goes through the API's own checks (its request models, the SSRF policy of
``check_url``, ``check_event_types``); a refused value is shown naming its field,
and nothing is changed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pydantic
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hookline.api.context import change
from hookline.api.controls import build_controls
from hookline.api.routes.endpoints import check_event_types, check_url, normalise_secret, rotate
from hookline.api.schemas import EndpointIn, EndpointPatch, EndpointSecretRotateIn
from hookline.domain import ids
from hookline.domain.models import Endpoint
from hookline.errors import ForbiddenError, ValidationError
from hookline.storage.base import AttemptFilter, Cursor
from hookline.web import figures
from hookline.web.core import Form, Visit, see_other, signed_in, web_of, writing
from hookline.web.portal import HOME, event_types, home_page, portal_app
from hookline.web.render import page
from hookline.web.sessions import Kind

_LABELS = {"url": "URL", "description": "Description", "eventTypes": "Event types",
           "event_types": "Event types"}  # fmt: skip


class FormRefused(Exception):
    """A form value the checks refused: ``message`` names the field."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _named(field: tuple[str | int, ...] | list[str | int], detail: str) -> str:
    names = [part for part in field if isinstance(part, str) and part != "body"]
    label = _LABELS.get(names[0], names[0]) if names else "Form"
    return f"{label}: {detail}"


def _entered(form: Form) -> dict[str, Any]:
    return {
        "url": form.text("url"), "description": form.text("description"),
        "event_types": [t for t in form.getall("event_types") if t],
    }  # fmt: skip


async def _checked(request: Request, visit: Visit, entered: dict[str, Any], patch: bool) -> Any:
    """The entered values through the API's checks: (url, description, filter types)."""
    web = web_of(request)
    body = {"url": entered["url"], "description": entered["description"],
            "eventTypes": entered["event_types"] or None}  # fmt: skip
    try:
        (EndpointPatch if patch else EndpointIn).model_validate(body)
    except pydantic.ValidationError as error:
        first = error.errors()[0]
        raise FormRefused(_named(list(first["loc"]), first["msg"])) from None
    try:
        url = await check_url(web.context, entered["url"], visit.principal)
        types = await check_event_types(web.context, entered["event_types"] or None)
    except ValidationError as error:
        raise FormRefused(_named(error.field, error.detail)) from None
    except ForbiddenError as error:
        raise FormRefused(_named(("url",), error.detail)) from None
    return url, entered["description"], types


async def create(request: Request) -> Response:
    """Add an endpoint to the application."""
    visit, form = await writing(request, Kind.PORTAL)
    web = web_of(request)
    app = await portal_app(request, visit)
    entered = _entered(form)
    try:
        url, description, types = await _checked(request, visit, entered, patch=False)
    except FormRefused as refused:
        return await home_page(request, visit, 422, refused.message, entered)
    now = web.clock()
    endpoint = Endpoint(
        id=ids.new_id(ids.ENDPOINT, now), app_id=app.id, url=url, secret=normalise_secret(None),
        description=description, filter_types=types, created_at=now, updated_at=now,
        controls=build_controls(url, None, None, None, None, None, None),
    )  # fmt: skip
    audit = change(visit.principal, "endpoint.created", None, endpoint, web.context)
    created = await web.storage.create_endpoint(endpoint, audit)
    visit.session.notify("ok", "Endpoint added.")
    return see_other(f"{HOME}/endpoint/{created.id}")


async def show(request: Request) -> Response:
    """One endpoint: its settings (a form, for tokens that may write), health and attempts."""
    visit = await signed_in(request, Kind.PORTAL)
    return await _endpoint_page(request, visit)


async def _endpoint_page(
    request: Request, visit: Visit, status: int = 200, error: str | None = None,
    entered: dict[str, Any] | None = None,
) -> Response:  # fmt: skip
    web = web_of(request)
    app = await portal_app(request, visit)
    found = await web.storage.get_endpoint(app.id, request.path_params["endpoint_id"])
    health = await figures.health(web.storage, app.id, found, web.clock())
    recent = await web.storage.list_attempts(
        app.id, Cursor(limit=20), AttemptFilter(endpoint_id=found.id)
    )
    catalogue = [t.name for t in await event_types(request)]
    current = list(found.filter_types or ())
    shown = entered or {"url": found.url, "description": found.description,
                        "event_types": current}  # fmt: skip
    return page(
        request, "portal/endpoint.html", visit, status, app=app, endpoint=found, health=health,
        attempts=recent, choices=catalogue + [t for t in current if t not in catalogue],
        entered=shown, error=error,
    )  # fmt: skip


async def update(request: Request) -> Response:
    """Change an endpoint's URL, description and event types."""
    visit, form = await writing(request, Kind.PORTAL)
    web = web_of(request)
    app = await portal_app(request, visit)
    current = await web.storage.get_endpoint(app.id, request.path_params["endpoint_id"])
    entered = _entered(form)
    try:
        url, description, types = await _checked(request, visit, entered, patch=True)
    except FormRefused as refused:
        return await _endpoint_page(request, visit, 422, refused.message, entered)
    updated = replace(
        current, url=url, description=description, filter_types=types, updated_at=web.clock()
    )
    audit = change(visit.principal, "endpoint.updated", current, updated, web.context)
    await web.storage.update_endpoint(updated, audit)
    visit.session.notify("ok", "Endpoint saved.")
    return see_other(f"{HOME}/endpoint/{current.id}")


async def delete(request: Request) -> Response:
    """Delete an endpoint."""
    visit, _ = await writing(request, Kind.PORTAL)
    web = web_of(request)
    app = await portal_app(request, visit)
    found = await web.storage.get_endpoint(app.id, request.path_params["endpoint_id"])
    audit = change(visit.principal, "endpoint.deleted", found, None, web.context)
    await web.storage.delete_endpoint(app.id, found.id, audit)
    visit.session.notify("ok", "Endpoint deleted.")
    return see_other(f"{HOME}/home")


async def rotate_secret(request: Request) -> Response:
    """Give the endpoint a new signing secret; the old one signs on for a day (as the API)."""
    visit, _ = await writing(request, Kind.PORTAL)
    web = web_of(request)
    app = await portal_app(request, visit)
    found = await web.storage.get_endpoint(app.id, request.path_params["endpoint_id"])
    await rotate(found, EndpointSecretRotateIn(), web.context, visit.principal)
    visit.session.notify(
        "ok", "Secret rotated. The previous secret also signs for the next 24 hours."
    )
    return see_other(f"{HOME}/endpoint/{found.id}")


async def secret(request: Request) -> Response:
    """The endpoint's current signing secret, shown on request (a read, as in the API)."""
    visit = await signed_in(request, Kind.PORTAL)
    web = web_of(request)
    app = await portal_app(request, visit)
    found = await web.storage.get_endpoint(app.id, request.path_params["endpoint_id"])
    return page(request, "portal/secret.html", visit, app=app, endpoint=found)


_ENDPOINT = f"{HOME}/endpoint/{{endpoint_id}}"
routes = [
    Route(f"{HOME}/endpoint", create, methods=["POST"]),
    Route(_ENDPOINT, show, methods=["GET"]),
    Route(_ENDPOINT, update, methods=["POST"]),
    Route(f"{_ENDPOINT}/delete", delete, methods=["POST"]),
    Route(f"{_ENDPOINT}/rotate-secret", rotate_secret, methods=["POST"]),
    Route(f"{_ENDPOINT}/secret", secret, methods=["GET"]),
]
