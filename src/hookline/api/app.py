"""The management API as an ASGI app: ``create_app(settings, storage)``."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.responses import Response

from hookline import __version__
from hookline.api import errors
from hookline.api.context import Context
from hookline.api.idempotency import IdempotencyMiddleware
from hookline.api.routes import (
    applications,
    attempts,
    background_tasks,
    endpoints,
    event_types,
    messages,
)
from hookline.settings import Settings
from hookline.storage.base import Storage


def create_app(
    settings: Settings, storage: Storage, *, clock: Callable[[], float] = time.time
) -> FastAPI:
    """Build the API over an opened storage. Tests call this directly."""
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
    app.state.context = Context(storage=storage, settings=settings, clock=clock)
    errors.install(app)
    for module in (applications, event_types, endpoints, messages, attempts, background_tasks):
        app.include_router(module.router)

    @app.get("/api/v1/health", status_code=204, tags=["Health"], summary="Health check")
    async def health() -> Response:
        return Response(status_code=204)

    app.add_middleware(
        IdempotencyMiddleware, storage=storage, ttl=settings.idempotency_ttl, clock=clock
    )
    return app
