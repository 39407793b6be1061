"""The portal's testing tab and event catalogue.

The testing tab shows, for a chosen event type, the example payload the catalogue
(``hookline.catalogue``, the same generator as ``hookline catalogue``) makes from the
latest version of its schema, in a text area the customer may edit; sending it is the
API's publish, with the same checks: a payload the schema refuses is shown again with
the reason, and nothing is sent. The answer is the message's page, where its
deliveries and attempts are.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hookline import catalogue
from hookline.domain.models import Application, EventType
from hookline.errors import TooLargeError, ValidationError
from hookline.storage.base import Cursor
from hookline.usecases import log_operations, messages
from hookline.usecases.messages import MessageDraft
from hookline.web.access import reads, writes
from hookline.web.core import Form, Visit, see_other, web_of
from hookline.web.portal import HOME, event_types, portal_app
from hookline.web.render import page
from hookline.web.sessions import Kind

#: Largest payload text the testing form takes (the form body's limit is 64 KiB).
MAX_PAYLOAD_TEXT = 60 * 1024


def latest_schema(event_type: EventType) -> Any:
    """The schema of the event type's latest version (None without one)."""
    latest = event_type.latest_version
    return (event_type.schemas or {}).get(str(latest)) if latest is not None else None


def example_payload(event_type: EventType) -> dict[str, Any]:
    """The example the API's send-example takes (``log_operations.example_payload``: the
    schema's first ``examples``, else the catalogue's example of it); for an event type
    without a schema, a small stand-in naming it."""
    try:
        return log_operations.example_payload(event_type, 0)
    except ValidationError:
        return {"type": event_type.name, "data": {}}


def _pretty(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


async def _testing_page(
    request: Request, visit: Visit, app: Application, chosen_name: str, status: int = 200,
    payload_text: str | None = None, error: str | None = None,
) -> Response:  # fmt: skip
    web = web_of(request)
    types = await event_types(request)
    chosen = next((t for t in types if t.name == chosen_name), types[0] if types else None)
    endpoints = (await web.storage.list_endpoints(app.id, Cursor(limit=250))).data
    receiving = [] if chosen is None else [
        e for e in endpoints
        if not e.disabled and (not e.filter_types or chosen.name in e.filter_types)
    ]  # fmt: skip
    if payload_text is None:
        payload_text = _pretty(example_payload(chosen)) if chosen is not None else "{}"
    schema = latest_schema(chosen) if chosen is not None else None
    return page(
        request, "portal/testing.html", visit, status, app=app, event_types=types,
        chosen=chosen, payload_text=payload_text, error=error, receiving=receiving,
        schema_text=_pretty(schema) if schema is not None else None,
    )  # fmt: skip


@reads(Kind.PORTAL)
async def testing(request: Request, visit: Visit) -> Response:
    """The testing tab: an event type's example payload, editable, and a button to send it."""
    app = await portal_app(request, visit)
    chosen = request.query_params.get("event_type", "")[:256]
    return await _testing_page(request, visit, app, chosen)


def _payload_of(text: str) -> dict[str, Any]:
    """The form's payload text as a JSON object, or ValidationError naming the field."""
    if len(text) > MAX_PAYLOAD_TEXT:
        raise ValidationError(f"at most {MAX_PAYLOAD_TEXT} characters", field=("payload",))
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise ValidationError(f"not valid JSON ({error})", field=("payload",)) from None
    if not isinstance(value, dict):
        raise ValidationError('must be a JSON object, like {"id": 1}', field=("payload",))
    return value


@writes(Kind.PORTAL)
async def send(request: Request, visit: Visit, form: Form) -> Response:
    """Publish the (edited) example as the API publishes a message; show a refusal with the
    text as entered."""
    web = web_of(request)
    app = await portal_app(request, visit)
    name = form.text("event_type")
    text = form.get("payload") or ""
    types = {t.name: t for t in await event_types(request)}
    if name not in types:
        refusal = "Event type: choose one of the event types listed."
        return await _testing_page(request, visit, app, name, 422, text, refusal)
    try:
        payload = _payload_of(text)
        draft = MessageDraft(event_type=name, payload=payload)
        # The same publish as the API's: the same checks, retention and metrics.
        sent = await messages.publish(
            web.storage, web.submit, web.event_types, web.publish_limits, visit.principal,
            app.id, draft, web.clock(),
        )  # fmt: skip
    except (ValidationError, TooLargeError) as error:
        field = getattr(error, "field", ()) or ()
        label = "Payload" if not field or field[0] in {"payload", "body"} else str(field[0])
        return await _testing_page(request, visit, app, name, 422, text, f"{label}: {error.detail}")
    visit.session.notify("ok", f"Test event {name} sent.")
    return see_other(f"{HOME}/msg/{sent.id}")


@reads(Kind.PORTAL)
async def event_catalogue(request: Request, visit: Visit) -> Response:
    """The event types this application can receive: descriptions, schemas and examples
    (the catalogue's document, as ``hookline catalogue --format json`` gives it)."""
    app = await portal_app(request, visit)
    document = catalogue.catalogue_document(await event_types(request))
    return page(
        request, "portal/event_types.html", visit, app=app, entries=document["eventTypes"],
        pretty=_pretty,
    )  # fmt: skip


routes = [
    Route(f"{HOME}/testing", testing, methods=["GET"]),
    Route(f"{HOME}/testing", send, methods=["POST"]),
    Route(f"{HOME}/event-types", event_catalogue, methods=["GET"]),
]
