"""What every page and form of the web faces needs: the collaborators, who is signed in,
and the checks a write must pass (same origin, CSRF token, a token that may write)."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import ClientDisconnect, Request
from starlette.responses import RedirectResponse, Response

from hookline.domain.models import Endpoint
from hookline.domain.text import shown_key, text_problem
from hookline.domain.throttle import FailureThrottle
from hookline.domain.tokens import ApiToken, Principal
from hookline.errors import HooklineError, NotFoundError, ValidationError
from hookline.settings import Settings
from hookline.storage.base import Cursor, Storage
from hookline.usecases.event_types import EventTypeCache
from hookline.usecases.messages import PublishLimits, Submit
from hookline.web.sessions import COOKIES, Kind, Session, SessionStore

#: Largest form body read (forms carry a URL, a description and a few names).
MAX_FORM_BYTES = 64 * 1024
#: Fields a form may carry at most.
MAX_FORM_FIELDS = 500


#: Finds the stored token behind a plaintext one (the API's token cache, so that a
#: token revoked through this process is refused by both faces at once).
FindToken = Callable[[str], Awaitable[ApiToken | None]]


@dataclass(frozen=True)
class Web:
    """The web faces' collaborators, given by the app that serves them (``hookline.server``,
    which shares the API's token cache, event type cache and publish batcher), and the
    sessions of this process."""

    storage: Storage
    settings: Settings
    clock: Callable[[], float]
    find_token: FindToken
    event_types: EventTypeCache
    submit: Submit
    publish_limits: PublishLimits
    sessions: SessionStore
    #: Failed sign-ins and API tokens per client address (the API's throttle, shared).
    failures: FailureThrottle


def web_of(request: Request) -> Web:
    """The web state of the app serving ``request``."""
    web: Web = request.app.state.web
    return web


class Refused(HooklineError):
    """A request the web faces answer with an error page: ``status`` and a plain message."""

    code = "refused"

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


class SignedOut(HooklineError):
    """No live session of ``kind``: the dashboard sends to its sign-in, the portal says so."""

    code = "signed_out"

    def __init__(self, kind: Kind, target: str = "") -> None:
        super().__init__("signed out")
        self.kind = kind
        self.target = target


@dataclass(frozen=True)
class Visit:
    """A request from a signed-in browser: its session and the principal of its token."""

    kind: Kind
    session_id: str
    session: Session
    principal: Principal

    @property
    def can_write(self) -> bool:
        """Read-only tokens see everything and change nothing."""
        return not self.principal.read_only


class Form:
    """A url-encoded form's fields (the first value of a name, or all of them)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs

    def get(self, name: str) -> str | None:
        """The first value of ``name`` (None if absent)."""
        return next((value for key, value in self.pairs if key == name), None)

    def text(self, name: str) -> str:
        """The first value of ``name``, stripped ('' if absent)."""
        return (self.get(name) or "").strip()

    def getall(self, name: str) -> list[str]:
        """Every value of ``name``, in order."""
        return [value for key, value in self.pairs if key == name]


async def read_form(request: Request) -> Form:
    """The request's url-encoded form, read up to ``MAX_FORM_BYTES``."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise Refused(415, "forms are sent as application/x-www-form-urlencoded")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                raise Refused(413, "the form is too large")
    except ClientDisconnect:  # gone, or cut off by the server's body timeout: no one to tell
        raise Refused(400, "the form was not received whole") from None
    try:
        pairs = parse_qsl(
            body.decode("utf-8", errors="replace"), keep_blank_values=True,
            max_num_fields=MAX_FORM_FIELDS,
        )  # fmt: skip
    except ValueError:
        raise Refused(400, "the form has too many fields") from None
    for name, value in pairs:
        # The text rule of every face (domain.text): what one backend cannot keep, none does.
        problem = text_problem(name) or text_problem(value)
        if problem is not None:
            raise Refused(422, f"the field {shown_key(name)!r} {problem}")
    return Form(pairs)


def same_origin(request: Request, settings: Settings) -> bool:
    """Whether a POST comes from a page of this site (when the browser says where from).

    Browsers send ``Sec-Fetch-Site`` and ``Origin`` on form posts; a request that
    carries neither is not a browser's, and the CSRF token still has to match.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in {"same-origin", "none"}:
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    allowed = {request.headers.get("host", "")}
    if settings.public_url:
        allowed.add(urlsplit(settings.public_url).netloc)
    return origin != "null" and urlsplit(origin).netloc in allowed


async def signed_in(request: Request, kind: Kind) -> Visit:
    """The signed-in visit of ``kind``, checking its token as the API checks a bearer token.

    A token that is unknown, revoked or expired (or of the wrong kind) ends the session.
    """
    web = web_of(request)
    session_id = request.cookies.get(COOKIES[kind], "")
    session = await web.sessions.get(kind, session_id)
    target = ""
    if request.method == "GET":
        query = request.url.query
        target = request.url.path + (f"?{query}" if query else "")
    if session is None:
        raise SignedOut(kind, target)
    token = await web.find_token(session.token)
    admin_wanted = kind is Kind.DASHBOARD
    if (
        token is None
        or token.problem(web.clock()) is not None
        or (token.app_id is None) != admin_wanted
    ):
        await web.sessions.close(session_id)
        raise SignedOut(kind, target)
    return Visit(kind, session_id, session, token.principal)


async def writing(
    request: Request, kind: Kind, *, read_only_allowed: bool = False
) -> tuple[Visit, Form]:
    """A signed-in visit allowed to write, and its form: same origin, the session's CSRF
    token in the form, and a token that is not read-only (else 403).

    ``read_only_allowed`` is for signing out, which changes no data.
    """
    if not same_origin(request, web_of(request).settings):
        raise Refused(403, "this form was sent from another site")
    visit = await signed_in(request, kind)
    form = await read_form(request)
    if not visit.session.csrf_matches(form.get("csrf")):
        raise Refused(403, "the form's CSRF token is missing or wrong; reload the page")
    if not visit.can_write and not read_only_allowed:
        raise Refused(403, "this token is read-only")
    return visit, form


def failed_sign_in(request: Request, token: str) -> int:
    """Count a failed sign-in with ``token`` from the request's address (with the API's
    failed tokens; an empty form is no attempt): 0, or the seconds it must wait before
    trying again (answer 429)."""
    if not token:
        return 0
    address = request.client.host if request.client else ""
    wait = web_of(request).failures.failed(address)
    return max(1, math.ceil(wait)) if wait > 0 else 0


async def start_session(request: Request, kind: Kind, token: str, target: str) -> Response:
    """Sign in with ``token`` (checked by the caller): a new session replaces the browser's
    old one, and the answer goes to ``target`` with the session id in an HttpOnly,
    SameSite=Strict cookie (Secure over https)."""
    sessions = web_of(request).sessions
    await sessions.close(request.cookies.get(COOKIES[kind]))
    session_id, _ = await sessions.open(kind, token)
    answer = see_other(target)
    answer.set_cookie(COOKIES[kind], session_id, **_cookie_options(request, kind))
    return answer


def _cookie_options(request: Request, kind: Kind) -> dict[str, Any]:
    """HttpOnly, SameSite=Strict, Secure over https; but a portal that other sites may
    frame, over https, gets a partitioned SameSite=None cookie: a browser sends no Strict
    cookie to a frame inside another site, and keeps a partitioned one to that site."""
    secure = _secure(request)
    if kind is Kind.PORTAL and secure and web_of(request).settings.portal_frame_ancestors:
        return {"path": "/", "httponly": True, "samesite": "none", "secure": True,
                "partitioned": True}  # fmt: skip
    return {"path": "/", "httponly": True, "samesite": "strict", "secure": secure}


async def end_session(request: Request, visit: Visit, target: str) -> Response:
    """Sign out (the token itself stays valid): end the session, forget its cookie."""
    kind = visit.kind
    await web_of(request).sessions.close(visit.session_id)
    answer = see_other(target)
    # Expired with the options it was set with (a partitioned cookie is only deleted so).
    answer.set_cookie(COOKIES[kind], "", max_age=0, expires=0, **_cookie_options(request, kind))
    return answer


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or web_of(request).settings.public_url.startswith(
        "https://"
    )


async def attempt_page_values(request: Request, app_id: str) -> dict[str, Any]:
    """What an attempt's page shows: the attempt in the path, its message, and its
    endpoint (None once deleted); ``app_id`` is the application already checked."""
    storage = web_of(request).storage
    params = request.path_params
    found = await storage.get_attempt(app_id, params["msg_id"], params["attempt_id"])
    sent = await storage.get_message(app_id, found.msg_id)
    try:
        target: Endpoint | None = await storage.get_endpoint(app_id, found.endpoint_id)
    except NotFoundError:
        target = None
    return {"attempt": found, "message": sent, "endpoint": target}


def cursor_from(request: Request, limit: int) -> Cursor:
    """A list page from the ``iterator`` query parameter (the previous page's last id)."""
    iterator = request.query_params.get("iterator") or None
    if iterator is not None and len(iterator) > 300:
        raise Refused(400, "the iterator is too long")
    return Cursor(limit=limit, iterator=iterator)


def parse_moment(value: str, field: str) -> float:
    """A form's date-time (``2026-01-31T12:00``, seconds optional; no offset means UTC)."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(
            f"{field}: expected a date and time like 2026-01-31T12:00 (UTC)", field=(field,)
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def moment_input(moment: float) -> str:
    """An epoch time as a ``datetime-local`` input value (UTC, to the minute)."""
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M")


def see_other(path: str) -> Response:
    """Go to ``path`` after a form (303: the browser follows with a GET)."""
    return RedirectResponse(path, status_code=303)
