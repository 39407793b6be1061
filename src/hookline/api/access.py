"""Authorization declared beside each route: ``dependencies=[requires(APP_WRITE)]``.

The authentication middleware (``api.auth``) has already turned the bearer token into
a ``Principal`` (or answered 401, 403 for a read-only token writing, 429); the route's
declared ``Need`` (``usecases.access``) then decides whether that principal may use
it, on the application in the path. ``needs_of`` reads a route's declaration back, so
a test can walk the app and fail for a route that declares none.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import Depends, Request
from fastapi.params import Depends as DependsParam
from starlette.routing import BaseRoute

from hookline.api.auth import principal_of
from hookline.storage.base import Storage
from hookline.usecases.access import (
    ADMIN_READ,
    ADMIN_WRITE,
    APP_READ,
    APP_WRITE,
    PUBLIC,
    TOKEN_READ,
    TOKEN_WRITE,
    Need,
    Reach,
    check,
)

__all__ = [
    "ADMIN_READ", "ADMIN_WRITE", "APP_READ", "APP_WRITE", "PUBLIC", "TOKEN_READ", "TOKEN_WRITE",
    "Need", "Requires", "declare", "needs_of", "requires", "walk",
]  # fmt: skip

#: Where a declaration is kept on a route the framework made (the docs page, its assets).
_ATTRIBUTE = "hookline_need"


class Requires:
    """The FastAPI dependency that enforces one route's ``Need``."""

    def __init__(self, need: Need) -> None:
        self.need = need

    async def __call__(self, request: Request) -> None:
        if self.need.reach is Reach.PUBLIC or self.need.checked_by_route:
            return
        storage: Storage = request.app.state.context.storage
        await check(self.need, principal_of(request), request.path_params.get("app_id"), storage)

    def __repr__(self) -> str:
        return f"requires({self.need})"


def requires(need: Need) -> Any:
    """A route's ``dependencies`` entry declaring (and enforcing) what it needs."""
    return Depends(Requires(need))


def declare(need: Need, route: BaseRoute) -> None:
    """Declare the need of a route the framework made (it has no dependencies)."""
    setattr(route, _ATTRIBUTE, need)


def needs_of(route: BaseRoute) -> list[Need]:
    """The needs a route declares (one, for a well-made route)."""
    declared = [
        dependency.dependency.need
        for dependency in getattr(route, "dependencies", ())
        if isinstance(dependency, DependsParam) and isinstance(dependency.dependency, Requires)
    ]
    attached = getattr(route, _ATTRIBUTE, None)
    return [*declared, *([attached] if isinstance(attached, Need) else [])]


def walk(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    """Every route of an app, those of included routers too (FastAPI keeps them in the
    router they were declared in, with that router's prefix in their paths)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from walk(included.routes)
        else:
            yield route
