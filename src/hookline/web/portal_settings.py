"""What the operator lets customers change on their endpoints in the portal
(``HOOKLINE_PORTAL_FEATURES``): custom headers, a rate limit, a transformation.

Each form goes through the API's own checks (``check_headers``, the rate limit's bounds,
the transformation compiler); a refused value is shown naming its field and nothing is
changed. A feature the operator did not open answers 403 here, and its form is not shown.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hookline.domain import portal_look
from hookline.domain.custom_headers import check_headers
from hookline.domain.models import Endpoint
from hookline.errors import ValidationError
from hookline.usecases import destinations, endpoints
from hookline.web.access import writes
from hookline.web.core import Form, Refused, Visit, see_other, web_of
from hookline.web.portal import HOME, portal_app
from hookline.web.portal_endpoints import endpoint_page
from hookline.web.sessions import Kind

MAX_RATE = 65535


def open_features(request: Request) -> frozenset[str]:
    """The endpoint features this server opens to customers."""
    return portal_look.features(web_of(request).settings.portal_features)


def _allowed(request: Request, feature: str) -> None:
    if feature not in open_features(request):
        raise Refused(403, "the operator of this service does not let customers change that")


async def _endpoint(request: Request, visit: Visit) -> Endpoint:
    app = await portal_app(request, visit)
    return await web_of(request).storage.get_endpoint(app.id, request.path_params["endpoint_id"])


def parse_headers(text: str) -> dict[str, str]:
    """``Name: value`` lines (blank lines skipped) as headers, checked as the API checks."""
    headers: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise ValidationError(
                f"line {number}: write each header as Name: value", field=("headers",)
            )
        headers[name.strip()] = value.strip()
    try:
        return check_headers(headers)
    except ValueError as error:
        raise ValidationError(str(error), field=("headers",)) from None


@writes(Kind.PORTAL)
async def set_headers(request: Request, visit: Visit, form: Form) -> Response:
    """Replace the endpoint's custom headers."""
    _allowed(request, "headers")
    web = web_of(request)
    found = await _endpoint(request, visit)
    text = form.get("headers") or ""
    try:
        headers = parse_headers(text)
    except ValidationError as error:
        return await endpoint_page(
            request, visit, 422, settings_error=f"Headers: {error.detail}",
            settings_entered={"headers": text},
        )  # fmt: skip
    await endpoints.set_headers(web.storage, visit.principal, found, headers, web.clock())
    visit.session.notify("ok", "Headers saved.")
    return see_other(f"{HOME}/endpoint/{found.id}")


@writes(Kind.PORTAL)
async def set_rate_limit(request: Request, visit: Visit, form: Form) -> Response:
    """Set the endpoint's rate limit (messages per second; empty: none)."""
    _allowed(request, "rate_limit")
    web = web_of(request)
    found = await _endpoint(request, visit)
    text = form.text("rate_limit")
    rate: int | None = None
    if text:
        if not text.isdigit() or not 1 <= int(text) <= MAX_RATE:
            return await endpoint_page(
                request, visit, 422,
                settings_error=f"Rate limit: a whole number from 1 to {MAX_RATE}, or empty",
                settings_entered={"rate_limit": text},
            )  # fmt: skip
        rate = int(text)
    await endpoints.patch_endpoint(
        web.storage, visit.principal, found, {"rate_limit": rate}, None,
        web.settings.destination_policy, web.clock(),
    )  # fmt: skip
    visit.session.notify("ok", "Rate limit saved.")
    return see_other(f"{HOME}/endpoint/{found.id}")


@writes(Kind.PORTAL)
async def set_transformation(request: Request, visit: Visit, form: Form) -> Response:
    """Set the endpoint's transformation document (JSON; empty: none)."""
    _allowed(request, "transformations")
    web = web_of(request)
    found = await _endpoint(request, visit)
    text = (form.get("transformation") or "").strip()
    try:
        await destinations.set_transformation(
            web.storage, visit.principal, found, text or None, web.clock()
        )
    except ValidationError as error:
        return await endpoint_page(
            request, visit, 422, settings_error=f"Transformation: {error.detail}",
            settings_entered={"transformation": text},
        )  # fmt: skip
    visit.session.notify("ok", "Transformation saved." if text else "Transformation removed.")
    return see_other(f"{HOME}/endpoint/{found.id}")


_ENDPOINT = f"{HOME}/endpoint/{{endpoint_id}}"
routes = [
    Route(f"{_ENDPOINT}/headers", set_headers, methods=["POST"]),
    Route(f"{_ENDPOINT}/rate-limit", set_rate_limit, methods=["POST"]),
    Route(f"{_ENDPOINT}/transformation", set_transformation, methods=["POST"]),
]
