"""The management API as an ASGI app: ``create_app(settings, storage)``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from hookline import __version__
from hookline.api import errors
from hookline.api.access import PUBLIC, declare, requires
from hookline.api.auth import AuthMiddleware, RateLimiter, TokenCache
from hookline.api.batching import publish_batcher, receive_batcher
from hookline.api.context import Context
from hookline.api.encoded_paths import EncodedSlashGuard
from hookline.api.fast_publish import PublishFastPath
from hookline.api.idempotency import IdempotencyMiddleware
from hookline.api.inbound import Gateway, RefusalCounter, SourceCache
from hookline.api.input_rules import CHECKED
from hookline.api.limits import BodyLimitMiddleware
from hookline.api.routes import (
    applications,
    attempts,
    audit_log,
    auth,
    background_tasks,
    destinations,
    endpoints,
    environment,
    event_types,
    messages,
    operational,
    plans,
    poller,
    routing,
    sources,
    statistics,
)
from hookline.domain.ingress import SourceRates
from hookline.domain.throttle import FailureThrottle
from hookline.metrics import METRICS
from hookline.settings import Settings
from hookline.storage.base import MessageLog, Storage
from hookline.usecases.access import Need, Reach
from hookline.usecases.event_types import EventTypeCache
from hookline.usecases.messages import PublishLimits

#: ``/metrics`` is outside ``/api/`` (no token middleware): it checks its caller itself,
#: an admin token unless ``HOOKLINE_METRICS_PUBLIC``.
METRICS_NEED = Need(Reach.ADMIN, writes=False, checked_by_route=True)
#: What FastAPI serves by itself: the OpenAPI document and the docs page with its assets.
_FRAMEWORK_PUBLIC = frozenset(
    {"/api/v1/openapi.json", "/docs", "/docs/assets", "/docs/oauth2-redirect"}
)


def create_app(
    settings: Settings, storage: Storage, *, clock: Callable[[], float] = time.time
) -> Gateway:
    """The ASGI app over an opened storage: the inbound gateway, and the API behind it
    (``hookline.server.create_app`` adds the web faces in front of the API).

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
        # FastAPI's own OpenTelemetry spans join hookline's traces when those are on
        # (HOOKLINE_TRACES); off, it is told so here rather than asking OpenTelemetry
        # for a configured provider on every request (2% of a publish's time).
        telemetry={
            "tracing": bool(settings.traces),
            "metrics": False,
            "logs": False,
            "auto_configure": False,
        },
    )
    tokens = TokenCache(
        storage, settings.auth_cache_seconds, settings.admin_token.get_secret_value()
    )
    app.state.context = Context(
        storage=storage, settings=settings, clock=clock, tokens=tokens,
        sources=SourceCache(storage, settings.auth_cache_seconds),
        receiver=receive_batcher(storage), publisher=publish_batcher(storage),
        event_types=EventTypeCache(storage, settings.auth_cache_seconds),
        rejections=RefusalCounter(storage),
        source_rates=SourceRates(share=settings.api_processes or 1),
        publish_limits=PublishLimits(
            max_payload_bytes=settings.max_payload_bytes,
            retention_days=settings.payload_retention_days, log_payloads=settings.log_payloads,
        ),
        failures=FailureThrottle(settings.auth_failure_limit, settings.auth_failure_window),
    )  # fmt: skip
    errors.install(app)
    routers = (applications, event_types, endpoints, messages, attempts, background_tasks, auth,
               audit_log, sources, routing, operational, statistics, environment, destinations,
               poller, plans)  # fmt: skip
    for module in routers:
        # Each route declares what it needs beside itself (``api.access.requires``); every
        # route keeps the text rule first (``api.input_rules``: 415, 422 naming the field).
        app.include_router(module.router, dependencies=[CHECKED])
    for route in app.routes:
        if getattr(route, "path", None) in _FRAMEWORK_PUBLIC:
            declare(PUBLIC, route)

    @app.get(
        "/api/v1/health", status_code=204, tags=["Health"], summary="Health check",
        dependencies=[requires(PUBLIC)],
    )  # fmt: skip
    async def health() -> Response:
        return Response(status_code=204)

    @app.get("/metrics", include_in_schema=False, dependencies=[requires(METRICS_NEED)])
    async def metrics(request: Request) -> Response:
        """Prometheus' scrape: counters of this process, the queue as the database has it."""
        return await scrape(request, settings, storage, tokens, clock)

    _document_bearer_auth(app)
    # Added innermost first: an API request meets authentication, then the body
    # limit, then idempotency (whose keys are scoped by the caller's token), then the
    # refusal of an encoded "/", then (publishes only) the fast path past the router.
    app.add_middleware(PublishFastPath, context=app.state.context)
    # Outside the fast path, whose path pattern would take a decoded %2F as a separator.
    app.add_middleware(EncodedSlashGuard)
    app.add_middleware(
        IdempotencyMiddleware, storage=storage, ttl=settings.idempotency_ttl, clock=clock
    )
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_request_bytes)
    app.add_middleware(
        AuthMiddleware,
        tokens=tokens,
        limiter=RateLimiter(settings.api_rate_limit, settings.api_rate_burst),
        clock=clock,
        failures=app.state.context.failures,
    )
    return app


async def scrape(
    request: Request, settings: Settings, storage: MessageLog, tokens: TokenCache,
    clock: Callable[[], float],
) -> Response:  # fmt: skip
    """``/metrics``: this process's counters, and the queue read from the database now."""
    if not settings.metrics_public:
        refused = await _admin_refusal(request, tokens, clock)
        if refused is not None:
            return refused
    stats = await storage.queue_stats(clock())
    for state in ("due", "scheduled", "leased"):
        METRICS.queue.labels(state).set(getattr(stats, state))
    oldest = stats.oldest_due_at
    METRICS.oldest_due_age.set(max(0.0, clock() - oldest) if oldest is not None else 0.0)
    METRICS.endpoints_disabled.set(stats.endpoints_disabled)
    METRICS.endpoints_paused.set(stats.endpoints_paused)
    for state in ("waiting", "queued"):
        METRICS.parked.labels(state).set(getattr(stats, state))
    METRICS.circuits.labels("open").set(stats.circuits_open)
    METRICS.circuits.labels("half_open").set(stats.circuits_half_open)
    return Response(METRICS.exposition(), media_type=CONTENT_TYPE_LATEST)


def create_metrics_app(
    settings: Settings, storage: Storage, *, clock: Callable[[], float] = time.time
) -> Starlette:
    """``/metrics`` alone, for a worker process (``HOOKLINE_METRICS_PORT``): its delivery
    counters live there, not in any API process. Same token rule as the API's."""
    tokens = TokenCache(
        storage, settings.auth_cache_seconds, settings.admin_token.get_secret_value()
    )

    async def metrics(request: Request) -> Response:
        return await scrape(request, settings, storage, tokens, clock)

    return Starlette(routes=[Route("/metrics", metrics)])


async def _admin_refusal(
    request: Request, tokens: TokenCache, clock: Callable[[], float]
) -> Response | None:
    """None if the request carries a valid admin token, else the 401 or 403 to answer."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    token = await tokens.find(value.strip()) if scheme.lower() == "bearer" and value else None
    if token is None or token.problem(clock()) is not None:
        answer = errors.error_response(401, "authentication_failed", "an admin token is needed")
        answer.headers["WWW-Authenticate"] = "Bearer"
        return answer
    if token.app_id is not None:
        return errors.error_response(403, "forbidden", "metrics need an admin token")
    return None


#: Answers any authenticated route can give: no or bad token, not allowed, not found,
#: body too large, over the token's rate. Writes can also conflict (409).
_ERRORS_EVERYWHERE = {
    "400": "Malformed: a body that is not JSON text, or a request line too long to parse",
    "401": "No token, or an invalid, expired or revoked one",
    "403": "The token may not do this (an application's token, a read-only token)",
    "404": "Not found (or not visible to this token)",
    "413": "The request body is larger than the limit",
    "415": "A body sent without a JSON content type (application/json)",
    "429": "Too many requests for this token; see Retry-After",
}
_ERRORS_ON_WRITES = {"409": "Already exists (a uid or eventId is taken)"}


def _document_errors(schema: dict[str, Any]) -> None:
    """Declare, on every operation, the error answers the whole API can give."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["HttpError"] = {
        "type": "object",
        "properties": {"code": {"type": "string"}, "detail": {"type": "string"}},
        "required": ["code", "detail"],
    }
    reference = {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HttpError"}}}
    }
    for path_item in schema["paths"].values():
        for method, operation in path_item.items():
            errors_here = dict(_ERRORS_EVERYWHERE)
            if method in {"post", "put", "patch"}:
                errors_here.update(_ERRORS_ON_WRITES)
            for status, description in errors_here.items():
                operation["responses"].setdefault(status, {"description": description, **reference})
            # A request the HTTP server cannot parse never reaches hookline: uvicorn
            # answers it in plain text.
            operation["responses"]["400"]["content"].setdefault(
                "text/plain", {"schema": {"type": "string"}}
            )


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
            _document_errors(schema)
            health = schema["paths"].get("/api/v1/health", {}).get("get")
            if health is not None:
                health["security"] = []
                for status in _ERRORS_EVERYWHERE:
                    health["responses"].pop(status, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
