"""The portal's endpoint forms: add, edit (URL, description, event types), delete,
rotate and reveal the signing secret (custom headers, rate limit and transformation,
where the operator allows them, are in ``web.portal_settings``).

Input goes through the use cases' checks, the API's own (the sizes its request models
state, the SSRF policy of ``check_url``, ``check_event_types``); a refused value is
shown naming its field, and nothing is changed.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hookline.domain import portal_look
from hookline.domain.models import Endpoint
from hookline.errors import ForbiddenError, ValidationError
from hookline.storage.base import AttemptFilter, Cursor
from hookline.usecases import endpoints
from hookline.usecases.endpoints import EndpointDraft
from hookline.web import figures
from hookline.web.access import reads, writes
from hookline.web.core import Form, Visit, see_other, web_of
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


async def _refusing(change: Any) -> Endpoint:
    """Run a use case, turning a refused value into a ``FormRefused`` naming its field."""
    try:
        result: Endpoint = await change
    except ValidationError as error:
        raise FormRefused(_named(error.field, error.detail)) from None
    except ForbiddenError as error:
        raise FormRefused(_named(("url",), error.detail)) from None
    return result


def _text_checked(entered: dict[str, Any]) -> None:
    try:
        endpoints.check_text(entered["url"], entered["description"], entered["event_types"])
    except ValidationError as error:
        raise FormRefused(_named(error.field, error.detail)) from None


@writes(Kind.PORTAL)
async def create(request: Request, visit: Visit, form: Form) -> Response:
    """Add an endpoint to the application."""
    web = web_of(request)
    app = await portal_app(request, visit)
    entered = _entered(form)
    draft = EndpointDraft(
        url=entered["url"], description=entered["description"],
        event_types=entered["event_types"] or None,
    )  # fmt: skip
    try:
        _text_checked(entered)
        creating = endpoints.create_endpoint(
            web.storage, visit.principal, app.id, draft, web.settings.destination_policy,
            web.clock(),
        )  # fmt: skip
        created = await _refusing(creating)
    except FormRefused as refused:
        return await home_page(request, visit, 422, refused.message, entered)
    visit.session.notify("ok", "Endpoint added.")
    return see_other(f"{HOME}/endpoint/{created.id}")


@reads(Kind.PORTAL)
async def show(request: Request, visit: Visit) -> Response:
    """One endpoint: its settings (a form, for tokens that may write), health and attempts."""
    return await endpoint_page(request, visit)


async def endpoint_page(
    request: Request, visit: Visit, status: int = 200, error: str | None = None,
    entered: dict[str, Any] | None = None, *, settings_error: str | None = None,
    settings_entered: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    """The endpoint's page, with a refused form's error and values when there is one
    (``settings_*`` for the forms of ``web.portal_settings``)."""
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
    transformation = found.controls.transformation
    extras = {
        "headers": "\n".join(f"{k}: {v}" for k, v in sorted(found.headers.items())),
        "rate_limit": "" if found.rate_limit is None else str(found.rate_limit),
        "transformation": "" if transformation is None else compact_json(transformation),
        **(settings_entered or {}),
    }
    return page(
        request, "portal/endpoint.html", visit, status, app=app, endpoint=found, health=health,
        attempts=recent, choices=catalogue + [t for t in current if t not in catalogue],
        entered=shown, error=error, settings_error=settings_error, extras=extras,
        features=portal_look.features(web.settings.portal_features),
    )  # fmt: skip


def compact_json(value: Any) -> str:
    """A JSON document, indented, for a text area."""
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


@writes(Kind.PORTAL)
async def update(request: Request, visit: Visit, form: Form) -> Response:
    """Change an endpoint's URL, description and event types."""
    web = web_of(request)
    app = await portal_app(request, visit)
    current = await web.storage.get_endpoint(app.id, request.path_params["endpoint_id"])
    entered = _entered(form)
    changes: dict[str, object] = {
        "url": entered["url"], "description": entered["description"],
        "filter_types": entered["event_types"] or None,
    }  # fmt: skip
    try:
        _text_checked(entered)
        saving = endpoints.patch_endpoint(
            web.storage, visit.principal, current, changes, None,
            web.settings.destination_policy, web.clock(),
        )  # fmt: skip
        await _refusing(saving)
    except FormRefused as refused:
        return await endpoint_page(request, visit, 422, refused.message, entered)
    visit.session.notify("ok", "Endpoint saved.")
    return see_other(f"{HOME}/endpoint/{current.id}")


@writes(Kind.PORTAL)
async def delete(request: Request, visit: Visit, form: Form) -> Response:
    """Delete an endpoint."""
    web = web_of(request)
    app = await portal_app(request, visit)
    found = await web.storage.get_endpoint(app.id, request.path_params["endpoint_id"])
    await endpoints.delete_endpoint(web.storage, visit.principal, found, web.clock())
    visit.session.notify("ok", "Endpoint deleted.")
    return see_other(f"{HOME}/home")


@writes(Kind.PORTAL)
async def rotate_secret(request: Request, visit: Visit, form: Form) -> Response:
    """Give the endpoint a new signing secret; the old one signs on for a day (as the API)."""
    web = web_of(request)
    app = await portal_app(request, visit)
    found = await web.storage.get_endpoint(app.id, request.path_params["endpoint_id"])
    await endpoints.rotate_secret(web.storage, visit.principal, found, web.clock())
    visit.session.notify(
        "ok", "Secret rotated. The previous secret also signs for the next 24 hours."
    )
    return see_other(f"{HOME}/endpoint/{found.id}")


@reads(Kind.PORTAL)
async def secret(request: Request, visit: Visit) -> Response:
    """The endpoint's current signing secret, shown on request (a read, as in the API)."""
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
