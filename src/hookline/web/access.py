"""Authorization declared beside each page and form: a decorator naming what it needs.

- ``@public``: anyone (the sign-in pages; they check what they are given themselves);
- ``@reads(kind)``: a live session of that kind; the handler gets the ``Visit``;
- ``@writes(kind)``: a live session whose token may write, a form from this site with
  the session's CSRF token; the handler gets the ``Visit`` and the ``Form``;
- ``@signs_out(kind)``: as ``writes``, but a read-only token may (it changes no data).

A dashboard session is an admin token's (``Reach.ADMIN``), a portal session an
application token's (``Reach.APPLICATION``: the portal shows that application only).
Each decorator records its ``Need`` on the handler; ``need_of`` reads it back, so a
test can walk the web app's routes and fail for one that declares none.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from hookline.usecases.access import PUBLIC, Need, Reach
from hookline.web.core import Form, Visit, signed_in, writing
from hookline.web.sessions import Kind

Handler = Callable[[Request], Awaitable[Response]]
ReadHandler = Callable[[Request, Visit], Awaitable[Response]]
WriteHandler = Callable[[Request, Visit, Form], Awaitable[Response]]

_ATTRIBUTE = "hookline_need"
_REACH = {Kind.DASHBOARD: Reach.ADMIN, Kind.PORTAL: Reach.APPLICATION}


def declare(need: Need, target: Any) -> None:
    """Record what ``target`` (a handler, or a mounted app) needs."""
    setattr(target, _ATTRIBUTE, need)


def need_of(target: Any) -> Need | None:
    """What ``target`` declares it needs (None if nothing)."""
    found = getattr(target, _ATTRIBUTE, None)
    return found if isinstance(found, Need) else None


def public(handler: Handler) -> Handler:
    """A page or form anyone may use."""
    declare(PUBLIC, handler)
    return handler


def reads(kind: Kind) -> Callable[[ReadHandler], Handler]:
    """A page for a signed-in visit of ``kind``."""

    def decorate(handler: ReadHandler) -> Handler:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            return await handler(request, await signed_in(request, kind))

        declare(Need(_REACH[kind], writes=False), endpoint)
        return endpoint

    return decorate


def writes(kind: Kind) -> Callable[[WriteHandler], Handler]:
    """A form that changes data, for a signed-in visit of ``kind`` that may write."""
    return _form(kind, Need(_REACH[kind], writes=True), read_only_allowed=False)


def signs_out(kind: Kind) -> Callable[[WriteHandler], Handler]:
    """The sign-out form of ``kind``: a checked form, but read-only tokens may send it."""
    return _form(kind, Need(_REACH[kind], writes=False), read_only_allowed=True)


def _form(kind: Kind, need: Need, *, read_only_allowed: bool) -> Callable[[WriteHandler], Handler]:
    def decorate(handler: WriteHandler) -> Handler:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            visit, form = await writing(request, kind, read_only_allowed=read_only_allowed)
            return await handler(request, visit, form)

        declare(need, endpoint)
        return endpoint

    return decorate
