"""The management API as an ASGI app: ``create_app(settings, storage)``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline
from starlette.responses import Response

from hookline import __version__
from hookline.api import errors
from hookline.api.auth import AuthMiddleware, RateLimiter, TokenCache, authorize
from hookline.api.context import Context
from hookline.api.idempotency import IdempotencyMiddleware
from hookline.api.inbound import Gateway, InboundCounters, ReceiveBatcher, SourceCache
from hookline.api.limits import BodyLimitMiddleware
from hookline.api.routes import (
    applications,
    attempts,
    audit_log,
    auth,
    background_tasks,
    endpoints,
    event_types,
    messages,
    sources,
)
from hookline.settings import Settings
from hookline.storage.base import Storage


def create_app(
    settings: Settings, storage: Storage, *, clock: Callable[[], float] = time.time
) -> Gateway:
    """The ASGI app over an opened storage: the inbound gateway, and the API behind it.

    ``create_app(...).app`` is the management API alone (a FastAPI app).
    """
    api = create_api(settings, storage, clock=clock)
    return Gateway(api, api.state.context, settings.max_request_bytes)


def create_api(
    settings: Settings, storage: Storage, *, clock: Callable[[], float] = time.time
) -> FastAPI:
    """The management API over an opened storage."""
    # fastapi-offline serves the docs page's scripts from hookline itself: no CDN,
    # so the page works on a machine with no internet access.
    app = FastAPIOffline(
        title="hookline",
        version=__version__,
        description="Webhook delivery and receiving; management API compatible with Svix v1.",
        docs_url="/docs",
        redoc_url=None,
        static_url="/docs/assets",
        openapi_url="/api/v1/openapi.json",
        redirect_slashes=False,
    )
    tokens = TokenCache(
        storage, settings.auth_cache_seconds, settings.admin_token.get_secret_value()
    )
    app.state.context = Context(
        storage=storage, settings=settings, clock=clock, tokens=tokens,
        sources=SourceCache(storage, settings.auth_cache_seconds),
        inbound_counters=InboundCounters(), receiver=ReceiveBatcher(storage),
    )  # fmt: skip
    errors.install(app)
    routers = (applications, event_types, endpoints, messages, attempts, background_tasks, auth,
               audit_log, sources)  # fmt: skip
    for module in routers:
        app.include_router(module.router, dependencies=[Depends(authorize)])

    @app.get("/api/v1/health", status_code=204, tags=["Health"], summary="Health check")
    async def health() -> Response:
        return Response(status_code=204)

    _document_bearer_auth(app)
    # Added innermost first: an API request meets authentication, then the body
    # limit, then idempotency (whose keys are scoped by the caller's token).
    app.add_middleware(
        IdempotencyMiddleware, storage=storage, ttl=settings.idempotency_ttl, clock=clock
    )
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_request_bytes)
    app.add_middleware(
        AuthMiddleware,
        tokens=tokens,
        limiter=RateLimiter(settings.api_rate_limit, settings.api_rate_burst),
        clock=clock,
    )
    return app


def _document_bearer_auth(app: FastAPI) -> None:
    """Say in the OpenAPI document that every route but health needs a bearer token."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {})["securitySchemes"] = {
                "HTTPBearer": {"type": "http", "scheme": "bearer"}
            }
            schema["security"] = [{"HTTPBearer": []}]
            health = schema["paths"].get("/api/v1/health", {}).get("get")
            if health is not None:
                health["security"] = []
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
