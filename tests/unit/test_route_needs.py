"""Every route of the API and of the web faces declares what it needs, and the
declarations agree with what the token middleware and the sessions enforce."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Mount, Route

from hookline.api.access import needs_of, walk
from hookline.api.app import METRICS_NEED, create_api
from hookline.api.auth import PUBLIC_PATHS
from hookline.api.routes.messages import PUBLISH
from hookline.domain.tokens import Principal
from hookline.settings import Settings
from hookline.storage import storage_from_url
from hookline.usecases.access import (
    ADMIN_READ,
    ADMIN_WRITE,
    APP_READ,
    APP_WRITE,
    PUBLIC,
    READ_METHODS,
    TOKEN_READ,
    TOKEN_WRITE,
    Need,
    Reach,
    refusal,
)
from hookline.web.access import need_of
from hookline.web.site import web_routes

from support.keyring import TEST_SECRET_BOX


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    # Built over a storage that is never opened: walking routes reads no database.
    path = tmp_path_factory.mktemp("needs") / "never-opened.db"
    return create_api(Settings(), storage_from_url(f"sqlite:///{path}", secret_box=TEST_SECRET_BOX))


def _methods(route: BaseRoute) -> set[str]:
    return set(getattr(route, "methods", None) or {"GET"})


def _label(route: BaseRoute) -> str:
    return f"{sorted(_methods(route))} {getattr(route, 'path', route)}"


def test_every_api_route_declares_exactly_one_need(api: FastAPI) -> None:
    """A route of the API (its own or FastAPI's docs) that declares no need fails here."""
    routes = list(walk(api.routes))
    assert len([r for r in routes if isinstance(r, APIRoute)]) > 60
    undeclared = [_label(r) for r in routes if len(needs_of(r)) != 1]
    assert undeclared == []


def test_every_web_route_declares_a_need() -> None:
    """A page, form or asset of the web faces that declares no need fails here."""
    undeclared = []
    for route in web_routes():
        target = route.endpoint if isinstance(route, Route) else route
        if need_of(target) is None:
            undeclared.append(_label(route))
    assert len(web_routes()) > 25
    assert undeclared == []


def test_api_writes_are_declared_as_writes(api: FastAPI) -> None:
    """A route reads exactly when its method does (the middleware refuses read-only
    tokens on every other method, so a declaration cannot say otherwise)."""
    wrong = []
    for route in walk(api.routes):
        for need in needs_of(route):
            reads = _methods(route) <= READ_METHODS
            if need.reach is not Reach.PUBLIC and need.writes == reads:
                wrong.append(f"{_label(route)}: {need}")
    assert wrong == []


def test_public_api_paths_are_the_ones_the_middleware_lets_through(api: FastAPI) -> None:
    """Under /api/ only health and the OpenAPI document are public, as the middleware has it."""
    public = {
        getattr(r, "path", "")
        for r in walk(api.routes)
        if PUBLIC in needs_of(r) and getattr(r, "path", "").startswith("/api/")
    }
    assert public == set(PUBLIC_PATHS)


def test_application_routes_name_their_application(api: FastAPI) -> None:
    """A route scoped to an application has the application in its path."""
    scoped = [r for r in walk(api.routes) if any(n.reach is Reach.APPLICATION for n in needs_of(r))]
    assert scoped
    assert [_label(r) for r in scoped if "{app_id}" not in getattr(r, "path", "")] == []


def test_only_metrics_checks_its_caller_itself(api: FastAPI) -> None:
    """No route but /metrics (outside /api/, its rule set by a setting) skips the check."""
    own = [
        getattr(r, "path", "")
        for r in walk(api.routes)
        if any(n.checked_by_route for n in needs_of(r))
    ]
    assert own == ["/metrics"]
    assert needs_of(next(r for r in walk(api.routes) if getattr(r, "path", "") == "/metrics")) == [
        METRICS_NEED
    ]


def test_the_fast_path_checks_what_the_publish_route_declares(api: FastAPI) -> None:
    """The publish fast path skips the router; it checks the route's own declaration."""
    [publish] = [
        r for r in walk(api.routes)
        if isinstance(r, APIRoute) and r.path == "/api/v1/app/{app_id}/msg" and "POST" in r.methods
    ]  # fmt: skip
    assert needs_of(publish) == [PUBLISH] == [APP_WRITE]


def test_what_application_tokens_may_use_is_a_short_list(api: FastAPI) -> None:
    """Server-wide routes an application's token may use: its application, event types,
    its background tasks and logging out; everything else outside an app is admin only."""
    reach_any = sorted(
        f"{m} {r.path}"
        for r in walk(api.routes) if isinstance(r, APIRoute)
        for n in needs_of(r) if n.reach is Reach.TOKEN
        for m in r.methods
    )  # fmt: skip
    assert reach_any == [
        "GET /api/v1/app", "GET /api/v1/background-task", "GET /api/v1/background-task/{task_id}",
        "GET /api/v1/event-type", "GET /api/v1/event-type/{event_type_name}",
        "POST /api/v1/auth/logout", "POST /api/v1/background-task/{task_id}/cancel",
    ]  # fmt: skip
    admin_in_app = sorted(
        f"{m} {r.path}"
        for r in walk(api.routes) if isinstance(r, APIRoute) and r.path == "/api/v1/app/{app_id}"
        for n in needs_of(r) if n.reach is Reach.ADMIN
        for m in r.methods
    )  # fmt: skip
    assert admin_in_app == [
        "DELETE /api/v1/app/{app_id}",
        "PATCH /api/v1/app/{app_id}",
        "PUT /api/v1/app/{app_id}",
    ]


def test_web_needs_follow_the_session_kind() -> None:
    """Dashboard pages need an admin session, portal pages an application's; the sign-in
    pages, the assets and the portal's theme are public; forms that change data declare it."""
    for route in web_routes():
        path = getattr(route, "path", "")
        need = need_of(route.endpoint if isinstance(route, Route) else route)
        assert need is not None
        if need.reach is Reach.PUBLIC:
            assert isinstance(route, Mount) or path in {
                "/",
                "/dashboard/sign-in",
                "/portal",
                "/portal/session",
                "/portal/signed-out",
                "/portal/theme.css",  # the theme's colours: the signed-out pages wear it too
            }, path
            continue
        expected = Reach.ADMIN if path.startswith("/dashboard") else Reach.APPLICATION
        assert need.reach is expected, path
        if need.writes:
            assert _methods(route) == {"POST"}, path
        elif "POST" in _methods(route):
            assert path.endswith("/sign-out"), path


ADMIN = Principal("tok_admin")
SCOPED = Principal("tok_app", app_id="app_1")
SCOPED_READ_ONLY = Principal("tok_ro", app_id="app_1", read_only=True)
ADMIN_READ_ONLY = Principal("tok_ro", read_only=True)
NOT_THIS_ROUTE = "an application's token cannot use this route"
READ_ONLY = "this token is read-only"


@pytest.mark.parametrize(
    ("need", "who", "refused"),
    [
        (ADMIN_WRITE, ADMIN, None),
        (ADMIN_READ, SCOPED, NOT_THIS_ROUTE),
        (ADMIN_WRITE, SCOPED, NOT_THIS_ROUTE),
        (TOKEN_READ, SCOPED, None),
        (TOKEN_WRITE, SCOPED_READ_ONLY, READ_ONLY),
        (APP_READ, SCOPED_READ_ONLY, None),
        (APP_WRITE, ADMIN_READ_ONLY, READ_ONLY),
        (PUBLIC, SCOPED_READ_ONLY, None),
    ],
)
def test_refusals_by_reach_and_writing(need: Need, who: Principal, refused: str | None) -> None:
    """Admin routes refuse application tokens; writes refuse read-only tokens; others pass."""
    found = refusal(need, who)
    assert (found.detail if found is not None else None) == refused


def test_the_static_mount_is_the_only_public_mount() -> None:
    """The assets are public (the sign-in pages need them), and they are the only mount."""
    mounts = [r for r in web_routes() if isinstance(r, Mount)]
    assert [m.path for m in mounts] == ["/static"]
    assert Path(str(mounts[0].app.directory)).name == "static"  # type: ignore[attr-defined]
