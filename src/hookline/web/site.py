"""The web faces as one ASGI app, and ``WebFront``, the middleware that routes their paths
(``/dashboard``, ``/portal``, ``/static``) to it ahead of the API.

The web app is outside the API's middleware: it has no bearer tokens (sessions
instead), no idempotency keys, and its own small form limit. Every answer gets
the security headers below; pages are never cached.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hookline.domain import portal_look
from hookline.domain.throttle import FailureThrottle
from hookline.errors import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    HooklineError,
    NotFoundError,
    StorageError,
    TooLargeError,
    ValidationError,
)
from hookline.settings import Settings
from hookline.storage.base import Storage
from hookline.usecases.access import PUBLIC
from hookline.usecases.event_types import EventTypeCache
from hookline.usecases.messages import PublishLimits, Submit
from hookline.web import (
    dashboard,
    messages,
    portal,
    portal_endpoints,
    portal_messages,
    portal_settings,
    portal_testing,
    portal_theme,
)
from hookline.web.access import declare, public
from hookline.web.core import FindToken, Refused, SignedOut, Web
from hookline.web.render import page
from hookline.web.sessions import Kind, SessionStore

STATIC = Path(__file__).parent / "static"
#: Where the web faces live; everything else goes to the API.
PREFIXES = ("/dashboard", "/portal", "/static")
_FIRST_SEGMENTS = frozenset(PREFIXES)

_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src {images}; "
    "form-action 'self'; frame-ancestors {ancestors}; base-uri 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", _CSP.format(images="'self' data:", ancestors="'none'").encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def portal_headers(settings: Settings) -> list[tuple[bytes, bytes]]:
    """The portal's security headers: framed only by ``HOOKLINE_PORTAL_FRAME_ANCESTORS``
    (no ``X-Frame-Options`` then: it cannot name origins), logos from any https site."""
    origins = portal_look.frame_ancestors(settings.portal_frame_ancestors)
    csp = _CSP.format(images="'self' data: https:", ancestors=" ".join(origins) or "'none'")
    headers = [(b"content-security-policy", csp.encode())]
    for name, value in SECURITY_HEADERS[1:]:
        if name == b"x-frame-options" and origins:
            continue
        headers.append((name, value))
    return headers


_STATUS = {
    AuthenticationError: 401, ForbiddenError: 403, NotFoundError: 404, ConflictError: 409,
    TooLargeError: 413, ValidationError: 422, StorageError: 503,
}  # fmt: skip
_TITLES = {
    400: "Bad request", 401: "Signed out", 403: "Not allowed", 404: "Not found",
    405: "Method not allowed", 409: "Conflict", 413: "Too large", 415: "Unsupported form",
    422: "Not accepted", 503: "Unavailable",
}  # fmt: skip


def is_web_path(path: str) -> bool:
    """Whether a request path belongs to the dashboard, the portal or their assets."""
    # The first segment alone decides: a slice and a set lookup on every request.
    end = path.find("/", 1)
    return path == "/" or (path if end < 0 else path[:end]) in _FIRST_SEGMENTS


def _error_page(request: Request, status: int, detail: str) -> Response:
    # Not-found pages say nothing about what was asked for: ids of other tenants
    # read exactly as ids that do not exist.
    shown = "There is nothing here." if status == 404 else detail
    title = _TITLES.get(status, "Error")
    return page(request, "error.html", None, status, title=title, detail=shown)


async def _refused(request: Request, error: Exception) -> Response:
    assert isinstance(error, Refused)
    return _error_page(request, error.status, error.detail)


async def _signed_out(request: Request, error: Exception) -> Response:
    assert isinstance(error, SignedOut)
    if error.kind is Kind.DASHBOARD:
        target = f"?{urlencode({'next': error.target})}" if error.target else ""
        if request.method == "GET":
            return RedirectResponse(f"{dashboard.HOME}/sign-in{target}", 303)
        return _error_page(request, 401, "Your session has ended: sign in again.")
    return page(request, "portal/ended.html", None, 401, invalid=False)


async def _hookline_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HooklineError)
    status = next((s for kind, s in _STATUS.items() if isinstance(error, kind)), 500)
    detail = error.detail if status < 500 else "Something went wrong; try again."
    return _error_page(request, status, detail)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    return _error_page(request, error.status_code, str(error.detail))


@public
async def _root(request: Request) -> Response:
    return RedirectResponse(dashboard.HOME, 303)


def web_routes() -> list[BaseRoute]:
    """Every page, form and asset of the web faces, each declaring what it needs."""
    static = Mount("/static", StaticFiles(directory=STATIC), name="static")
    declare(PUBLIC, static)  # stylesheets, scripts and images: the sign-in pages need them
    return [
        Route("/", _root, methods=["GET"]),
        *dashboard.routes,
        *messages.routes,
        *portal.routes,
        *portal_endpoints.routes,
        *portal_messages.routes,
        *portal_settings.routes,
        *portal_testing.routes,
        *portal_theme.routes,
        static,
    ]


def create_web(
    storage: Storage, settings: Settings, *, clock: Callable[[], float], find_token: FindToken,
    event_types: EventTypeCache, submit: Submit, publish_limits: PublishLimits,
    failures: FailureThrottle,
) -> ASGIApp:  # fmt: skip
    """The dashboard and the portal over their collaborators (``hookline.server`` gives
    them the API's token cache, event type cache and publish batcher)."""
    app = Starlette(
        routes=web_routes(),
        exception_handlers={
            Refused: _refused, SignedOut: _signed_out, HooklineError: _hookline_error,
            HTTPException: _http_error,
        },
    )  # fmt: skip
    app.state.web = Web(
        storage=storage, settings=settings, clock=clock, find_token=find_token,
        event_types=event_types, submit=submit, publish_limits=publish_limits,
        sessions=SessionStore(storage), failures=failures,
    )  # fmt: skip
    return SecurityHeaders(app, portal_headers(settings))


class SecurityHeaders:
    """Adds the security headers to every answer (unless a route set its own): the
    portal's (``portal_headers``) under ``/portal``, ``SECURITY_HEADERS`` elsewhere."""

    def __init__(self, app: ASGIApp, portal: list[tuple[bytes, bytes]] | None = None) -> None:
        self.app = app
        self.portal = portal if portal is not None else SECURITY_HEADERS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        portal = path == "/portal" or path.startswith("/portal/")
        chosen = self.portal if portal else SECURITY_HEADERS

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in chosen if k not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


class WebFront:
    """ASGI middleware: the web faces' paths go to the web app, the rest to the API."""

    def __init__(self, app: ASGIApp, web: ASGIApp) -> None:
        self.app = app
        self.web = web

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_web_path(scope.get("path", "")):
            await self.web(scope, receive, send)
            return
        await self.app(scope, receive, send)
