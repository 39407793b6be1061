"""Endpoints: ``/api/v1/app/{app_id}/endpoint`` and their secret, headers, stats and recover."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from hookline.api.access import APP_READ, APP_WRITE, requires
from hookline.api.context import App, Context, Ctx, Page, Who, listed, parse_time, respond
from hookline.api.convert import delivery_state_out, endpoint_out, message_out, task_out
from hookline.api.schemas import (
    CREATED_BY_PUT,
    BackgroundTaskOut,
    BatchingIn,
    BulkReplayIn,
    CircuitBreakerIn,
    DeliveryStateOut,
    EndpointHeadersIn,
    EndpointHeadersOut,
    EndpointHeadersPatchIn,
    EndpointIn,
    EndpointOut,
    EndpointPatch,
    EndpointSecretOut,
    EndpointSecretRotateIn,
    EndpointStatsOut,
    EndpointUpdate,
    ListResponse,
    MessageOut,
    RecoverIn,
    check_headers,
)
from hookline.api.schemas.endpoint_auth import method_of, tls_of
from hookline.api.schemas.operations import EndpointAttemptStatsOut, EventExampleIn
from hookline.domain.controls import Batching, BreakerConfig, Ordering
from hookline.domain.models import Application, Endpoint
from hookline.errors import ValidationError
from hookline.storage.base import BEGINNING, END_OF_TIME
from hookline.usecases import endpoints, log_operations, replays
from hookline.usecases.controls import ControlsDraft
from hookline.usecases.endpoint_auth import AuthDraft
from hookline.usecases.endpoints import EndpointDraft

router = APIRouter(prefix="/api/v1/app/{app_id}/endpoint", tags=["Endpoint"])


def _batching(given: BatchingIn | None) -> Batching | None:
    return None if given is None else Batching(given.max_size, given.max_wait_ms / 1000)


def _breaker(given: CircuitBreakerIn | None) -> BreakerConfig | None:
    if given is None:
        return None
    return BreakerConfig(
        failure_rate=given.failure_rate, minimum_attempts=given.minimum_attempts,
        window=given.window_seconds, cooldown=given.cooldown_seconds,
        max_cooldown=given.max_cooldown_seconds,
    )  # fmt: skip


def controls_draft(body: EndpointIn | EndpointUpdate | EndpointPatch) -> ControlsDraft:
    """The delivery controls of a body, as the use cases take them."""
    return ControlsDraft(
        filter=body.filter, transformation=body.transformation, batching=_batching(body.batching),
        ordering=None if body.ordering is None else Ordering(key=body.ordering.key),
        breaker=_breaker(body.circuit_breaker), max_in_flight=body.max_in_flight,
    )  # fmt: skip


def auth_draft(body: EndpointIn | EndpointUpdate | EndpointPatch, ctx: Context) -> AuthDraft:
    """The credentials a body gives (``auth``, ``tls``), and which it gives at all."""
    given = body.model_fields_set
    return AuthDraft(
        method=None if body.auth is None else method_of(body.auth),
        tls=None if body.tls is None else tls_of(body.tls),
        method_given="auth" in given, tls_given="tls" in given,
        client_tls_supported=ctx.settings.http_client == "pyreqwest",
    )  # fmt: skip


def endpoint_draft(body: EndpointIn | EndpointUpdate, ctx: Context) -> EndpointDraft:
    """The use cases' draft of a create or replace body."""
    return EndpointDraft(
        url=body.url, secret=body.secret if isinstance(body, EndpointIn) else None, uid=body.uid,
        description=body.description, version=body.version, disabled=body.disabled,
        event_types=body.event_types,
        channels=tuple(body.channels) if body.channels is not None else None,
        headers=body.headers if isinstance(body, EndpointIn) else {}, metadata=body.metadata,
        rate_limit=body.throttle_rate,
        retry_schedule=tuple(body.retry_schedule) if body.retry_schedule is not None else None,
        controls=controls_draft(body), auth=auth_draft(body, ctx),
    )  # fmt: skip


async def _endpoint(app: Application, endpoint_id: str, ctx: Ctx) -> Endpoint:
    return await ctx.storage.get_endpoint(app.id, endpoint_id)


@router.get(
    "",
    response_model=ListResponse[EndpointOut],
    summary="List endpoints",
    dependencies=[requires(APP_READ)],
)
async def list_endpoints(app: App, ctx: Ctx, cursor: Page) -> Response:
    # Destinations (brokers, pollers) are listed at /destination, as in Svix.
    page = await ctx.storage.list_endpoints(app.id, cursor, destinations=False)
    return listed(ListResponse[EndpointOut], page, [endpoint_out(e) for e in page.data])


@router.post(
    "",
    response_model=EndpointOut,
    status_code=201,
    summary="Create an endpoint",
    dependencies=[requires(APP_WRITE)],
)
async def create_endpoint(app: App, body: EndpointIn, ctx: Ctx, who: Who) -> Response:
    created = await endpoints.create_endpoint(
        ctx.storage, who, app.id, endpoint_draft(body, ctx), ctx.settings.destination_policy,
        ctx.clock(),
    )  # fmt: skip
    return respond(endpoint_out(created), 201)


@router.get(
    "/{endpoint_id}",
    response_model=EndpointOut,
    summary="Get an endpoint",
    dependencies=[requires(APP_READ)],
)
async def get_endpoint(app: App, endpoint_id: str, ctx: Ctx) -> Response:
    return respond(endpoint_out(await _endpoint(app, endpoint_id, ctx)))


@router.put(
    "/{endpoint_id}", response_model=EndpointOut, responses=CREATED_BY_PUT,
    summary="Update or create an endpoint",
    dependencies=[requires(APP_WRITE)],
)  # fmt: skip
async def update_endpoint(
    app: App, endpoint_id: str, body: EndpointUpdate, ctx: Ctx, who: Who
) -> Response:
    stored, created = await endpoints.put_endpoint(
        ctx.storage, who, app.id, endpoint_id, endpoint_draft(body, ctx),
        ctx.settings.destination_policy, ctx.clock(),
    )  # fmt: skip
    return respond(endpoint_out(stored), 201 if created else 200)


@router.patch(
    "/{endpoint_id}",
    response_model=EndpointOut,
    summary="Patch an endpoint",
    dependencies=[requires(APP_WRITE)],
)
async def patch_endpoint(
    app: App, endpoint_id: str, body: EndpointPatch, ctx: Ctx, who: Who
) -> Response:
    current = await _endpoint(app, endpoint_id, ctx)
    given = body.model_fields_set
    changes: dict[str, object] = {}
    if "url" in given and body.url is not None:
        changes["url"] = body.url
    if "description" in given:
        changes["description"] = body.description or ""
    if "uid" in given:
        changes["uid"] = body.uid
    if "version" in given and body.version is not None:
        changes["version"] = body.version
    if "disabled" in given and body.disabled is not None:
        changes["disabled"] = body.disabled
    if "event_types" in given:
        changes["filter_types"] = body.event_types
    if "channels" in given:
        changes["channels"] = tuple(body.channels) if body.channels is not None else None
    if "metadata" in given:
        changes["metadata"] = body.metadata or {}
    if "throttle_rate" in given:
        changes["rate_limit"] = body.throttle_rate
    if "retry_schedule" in given:
        schedule = body.retry_schedule
        changes["retry_schedule"] = tuple(schedule) if schedule is not None else None
    controls = None
    if given & _CONTROL_FIELDS.keys():
        # Controls not in the body keep their values; an explicit null clears one.
        kept = ControlsDraft.of(current.controls)
        sent = controls_draft(body)
        controls = ControlsDraft(
            **{
                name: getattr(sent if wire in given else kept, name)
                for wire, name in _CONTROL_FIELDS.items()
            }
        )
    stored = await endpoints.patch_endpoint(
        ctx.storage, who, current, changes, controls, ctx.settings.destination_policy,
        ctx.clock(), auth_draft(body, ctx),
    )  # fmt: skip
    return respond(endpoint_out(stored))


#: The body's control fields, and the draft's names for them.
_CONTROL_FIELDS = {
    "filter": "filter", "transformation": "transformation", "batching": "batching",
    "ordering": "ordering", "circuit_breaker": "breaker", "max_in_flight": "max_in_flight",
}  # fmt: skip


@router.delete(
    "/{endpoint_id}",
    status_code=204,
    summary="Delete an endpoint",
    dependencies=[requires(APP_WRITE)],
)
async def delete_endpoint(app: App, endpoint_id: str, ctx: Ctx, who: Who) -> Response:
    endpoint = await _endpoint(app, endpoint_id, ctx)
    await endpoints.delete_endpoint(ctx.storage, who, endpoint, ctx.clock())
    return Response(status_code=204)


# secret ------------------------------------------------------------------------


@router.get(
    "/{endpoint_id}/secret",
    response_model=EndpointSecretOut,
    summary="Get the secret",
    dependencies=[requires(APP_READ)],
)
async def get_secret(app: App, endpoint_id: str, ctx: Ctx) -> Response:
    endpoint = await _endpoint(app, endpoint_id, ctx)
    return respond(EndpointSecretOut(key=endpoint.secret))


@router.post(
    "/{endpoint_id}/secret/rotate",
    response_model=EndpointSecretOut,
    summary="Rotate the secret",
    dependencies=[requires(APP_WRITE)],
)
async def rotate_secret(
    app: App, endpoint_id: str, body: EndpointSecretRotateIn, ctx: Ctx, who: Who
) -> Response:
    endpoint = await _endpoint(app, endpoint_id, ctx)
    key = await endpoints.rotate_secret(
        ctx.storage, who, endpoint, ctx.clock(), body.key, body.grace_period_seconds
    )
    return respond(EndpointSecretOut(key=key))


# headers ------------------------------------------------------------------------


@router.get(
    "/{endpoint_id}/headers",
    response_model=EndpointHeadersOut,
    summary="Get custom headers",
    dependencies=[requires(APP_READ)],
)
async def get_headers(app: App, endpoint_id: str, ctx: Ctx) -> Response:
    endpoint = await _endpoint(app, endpoint_id, ctx)
    return respond(EndpointHeadersOut(headers=endpoint.headers, sensitive=[]))


@router.put(
    "/{endpoint_id}/headers",
    status_code=204,
    summary="Replace custom headers",
    dependencies=[requires(APP_WRITE)],
)
async def set_headers(
    app: App, endpoint_id: str, body: EndpointHeadersIn, ctx: Ctx, who: Who
) -> Response:
    endpoint = await _endpoint(app, endpoint_id, ctx)
    await endpoints.set_headers(ctx.storage, who, endpoint, body.headers, ctx.clock())
    return Response(status_code=204)


@router.patch(
    "/{endpoint_id}/headers",
    status_code=204,
    summary="Merge custom headers",
    dependencies=[requires(APP_WRITE)],
)
async def patch_headers(
    app: App, endpoint_id: str, body: EndpointHeadersPatchIn, ctx: Ctx, who: Who
) -> Response:
    endpoint = await _endpoint(app, endpoint_id, ctx)
    merged = endpoints.merged_headers(endpoint.headers, body.headers, body.delete_headers)
    try:
        check_headers(merged)
    except ValueError as error:
        raise ValidationError(str(error), field=("headers",)) from None
    await endpoints.set_headers(ctx.storage, who, endpoint, merged, ctx.clock())
    return Response(status_code=204)


# recover and stats ---------------------------------------------------------------


@router.post(
    "/{endpoint_id}/recover", response_model=BackgroundTaskOut, status_code=202,
    summary="Re-send failed messages",
    dependencies=[requires(APP_WRITE)],
)  # fmt: skip
async def recover(app: App, endpoint_id: str, body: RecoverIn, ctx: Ctx, who: Who) -> Response:
    endpoint = await _endpoint(app, endpoint_id, ctx)
    task = await replays.recover(ctx.storage, who, endpoint, *_window(body), ctx.clock())
    return respond(task_out(task), 202)


@router.post(
    "/{endpoint_id}/replay-missing", response_model=BackgroundTaskOut, status_code=202,
    summary="Send the endpoint the messages it never got",
    dependencies=[requires(APP_WRITE)],
)  # fmt: skip
async def replay_missing(
    app: App, endpoint_id: str, body: RecoverIn, ctx: Ctx, who: Who
) -> Response:
    """Messages created in [since, until) that the endpoint would receive but has no
    delivery of (it was added later, or was filtering them out) are sent to it."""
    endpoint = await _endpoint(app, endpoint_id, ctx)
    task = await replays.replay_missing(ctx.storage, who, endpoint, *_window(body), ctx.clock())
    return respond(task_out(task), 202)


@router.post(
    "/{endpoint_id}/bulk-replay", response_model=BackgroundTaskOut, status_code=202,
    summary="Send the endpoint's messages again, by filter",
    dependencies=[requires(APP_WRITE)],
)  # fmt: skip
async def bulk_replay(
    app: App, endpoint_id: str, body: BulkReplayIn, ctx: Ctx, who: Who
) -> Response:
    """Deliveries created in [since, until), successful and failed alike (or of one
    ``status``), narrowed by event types and channel, are sent again."""
    endpoint = await _endpoint(app, endpoint_id, ctx)
    task = await replays.bulk_replay(
        ctx.storage, who, endpoint, *_window(body), ctx.clock(), status=body.status,
        event_types=tuple(body.event_types) if body.event_types else None, channel=body.channel,
    )  # fmt: skip
    return respond(task_out(task), 202)


def _window(body: RecoverIn) -> tuple[float, float | None]:
    return body.since.timestamp(), None if body.until is None else body.until.timestamp()


@router.get(
    "/{endpoint_id}/stats",
    response_model=EndpointStatsOut,
    summary="Delivery counts",
    dependencies=[requires(APP_READ)],
)
async def stats(
    app: App,
    endpoint_id: str,
    ctx: Ctx,
    since: Annotated[str | None, Query()] = None,
    until: Annotated[str | None, Query()] = None,
) -> Response:
    endpoint = await _endpoint(app, endpoint_id, ctx)
    start = parse_time(since, "since") or BEGINNING
    end = parse_time(until, "until") or END_OF_TIME
    counts = await ctx.storage.endpoint_stats(app.id, endpoint.id, start, end)
    return respond(
        EndpointStatsOut(
            success=counts.success, pending=counts.pending, sending=counts.sending,
            fail=counts.fail, canceled=0,
        )
    )  # fmt: skip


@router.get(
    "/{endpoint_id}/attempt-stats", response_model=EndpointAttemptStatsOut,
    summary="Attempt counts by outcome",
    dependencies=[requires(APP_READ)],
)  # fmt: skip
async def attempt_stats(
    app: App,
    endpoint_id: str,
    ctx: Ctx,
    since: Annotated[str | None, Query()] = None,
    until: Annotated[str | None, Query()] = None,
) -> Response:
    """The attempts made in [since, until): succeeded, failed (canceled is always 0)."""
    endpoint = await _endpoint(app, endpoint_id, ctx)
    start = parse_time(since, "since") or BEGINNING
    end = parse_time(until, "until") or END_OF_TIME
    if end < start:
        raise ValidationError("until must not be before since", field=("query", "until"))
    counts = await ctx.storage.attempt_counts(app.id, endpoint.id, start, end)
    return respond(
        EndpointAttemptStatsOut(success=counts.success, fail=counts.fail, canceled=counts.canceled)
    )


@router.post(
    "/{endpoint_id}/send-example", response_model=MessageOut, status_code=202,
    summary="Send the endpoint an example event",
    dependencies=[requires(APP_WRITE)],
)  # fmt: skip
async def send_example(app: App, endpoint_id: str, body: EventExampleIn, ctx: Ctx) -> Response:
    """A message of the event type, to this endpoint only: the payload given, or the
    schema's ``examples[exampleIndex]``, or an example made from the schema."""
    endpoint = await _endpoint(app, endpoint_id, ctx)
    message = await log_operations.send_example(
        ctx.storage, ctx.event_types, ctx.publish_limits, endpoint, body.event_type,
        body.example_index, body.payload, ctx.clock(),
    )  # fmt: skip
    return respond(message_out(message, with_content=True), 202)


# pause, resume and the state of the delivery controls -----------------------------


@router.post(
    "/{endpoint_id}/pause",
    response_model=EndpointOut,
    summary="Pause deliveries to an endpoint",
    dependencies=[requires(APP_WRITE)],
)
async def pause(app: App, endpoint_id: str, ctx: Ctx, who: Who) -> Response:
    """Its deliveries wait (they keep their retries) until it is resumed."""
    return await _set_paused(app, endpoint_id, True, ctx, who)


@router.post(
    "/{endpoint_id}/resume",
    response_model=EndpointOut,
    summary="Resume an endpoint",
    dependencies=[requires(APP_WRITE)],
)
async def resume(app: App, endpoint_id: str, ctx: Ctx, who: Who) -> Response:
    """What waited goes out, oldest first, within the endpoint's throttle rate."""
    return await _set_paused(app, endpoint_id, False, ctx, who)


async def _set_paused(app: App, endpoint_id: str, paused: bool, ctx: Ctx, who: Who) -> Response:
    endpoint = await _endpoint(app, endpoint_id, ctx)
    stored = await endpoints.set_paused(ctx.storage, who, endpoint, paused, ctx.clock())
    return respond(endpoint_out(stored))


@router.get(
    "/{endpoint_id}/delivery-state", response_model=DeliveryStateOut,
    summary="Pause, circuit breaker and pace of an endpoint",
    dependencies=[requires(APP_READ)],
)  # fmt: skip
async def delivery_state(app: App, endpoint_id: str, ctx: Ctx) -> Response:
    endpoint = await _endpoint(app, endpoint_id, ctx)
    return respond(
        delivery_state_out(await ctx.storage.delivery_state(app.id, endpoint.id, ctx.clock()))
    )
