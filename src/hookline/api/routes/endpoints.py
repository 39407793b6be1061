"""Endpoints: ``/api/v1/app/{app_id}/endpoint`` and their secret, headers, stats and recover."""

from __future__ import annotations

import asyncio
import re
import socket
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from hookline.api.context import App, Context, Ctx, Page, Who, change, listed, parse_time, respond
from hookline.api.controls import build_controls
from hookline.api.convert import delivery_state_out, endpoint_out, task_out
from hookline.api.schemas import (
    CREATED_BY_PUT,
    BackgroundTaskOut,
    BulkReplayIn,
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
    RecoverIn,
    check_headers,
)
from hookline.domain import ids, jobs, signing, ssrf
from hookline.domain.audit import job_started
from hookline.domain.controls import Controls
from hookline.domain.models import Application, Endpoint, SigningKey
from hookline.domain.routing import HANDLER_SCHEME, HANDLER_URL_PATTERN
from hookline.domain.tokens import Principal
from hookline.errors import ForbiddenError, NotFoundError, ValidationError
from hookline.storage.base import BEGINNING, END_OF_TIME

router = APIRouter(prefix="/api/v1/app/{app_id}/endpoint", tags=["Endpoint"])

#: Old secrets kept at most, so repeated rotations cannot grow a delivery's headers without bound.
MAX_OLD_SECRETS = 5


#: How long registration waits for DNS before leaving the judgement to delivery time.
RESOLVE_TIMEOUT = 2.0


async def check_url(ctx: Context, url: str, who: Principal) -> str:
    """An endpoint URL must be absolute http(s) and, under the SSRF defence, public.

    The host is resolved and every address judged, as at delivery time (where
    it is judged again, on the address actually connected to). A name that does
    not resolve now is accepted: its delivery will be judged when it does.
    """
    if url.startswith(HANDLER_SCHEME):
        # Served in-process by a worker's Python handlers: no network destination at all.
        # The operator's own code runs on what arrives, so only an admin may point there.
        if not who.is_admin:
            raise ForbiddenError("only an admin token can send events to handler: endpoints")
        if not re.fullmatch(HANDLER_URL_PATTERN, url):
            raise ValidationError(
                "a handler URL is handler:<group>, the group in letters, digits, '-', '_' or '.'",
                field=("url",),
            )
        return url
    policy = ctx.settings.destination_policy
    try:
        target = ssrf.check_url(url, policy)
    except ssrf.BlockedDestination as refused:
        raise ValidationError(refused.reason, field=("url",)) from None
    if target.literal is not None or not policy.enabled:
        return url
    loop = asyncio.get_running_loop()
    try:
        found = await asyncio.wait_for(
            loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT
        )
    except (OSError, TimeoutError):
        return url
    addresses = [ssrf.parse_ip_literal(str(info[4][0])) for info in found]
    try:
        ssrf.check_resolved(target.host, [a for a in addresses if a is not None], policy)
    except ssrf.BlockedDestination as refused:
        raise ValidationError(refused.reason, field=("url",)) from None
    return url


def normalise_secret(secret: str | None, field: str = "secret") -> str:
    """A given secret in ``whsec_`` form, or a new random one; ``field`` names it in errors."""
    if secret is None:
        return signing.generate_secret()
    full = secret if secret.startswith("whsec_") else f"whsec_{secret}"
    try:
        signing.Signer.from_secret(full)
    except signing.SignatureError:
        raise ValidationError(f"{field} is not valid base64", field=(field,)) from None
    return full


async def check_event_types(ctx: Ctx, names: list[str] | None) -> tuple[str, ...] | None:
    """Each event type named in a filter must exist and not be archived (as Svix);
    a pattern (``invoice.*``) may match types that do not exist yet."""
    if names is None:
        return None
    for index, name in enumerate(names):
        if "*" in name:
            continue
        try:
            event_type = await ctx.storage.get_event_type(name)
        except NotFoundError:
            raise ValidationError(
                f"event type {name!r} does not exist", field=("eventTypes", index)
            ) from None
        if event_type.archived:
            raise ValidationError(f"event type {name!r} is archived", field=("eventTypes", index))
    return tuple(names)


async def _endpoint(app: Application, endpoint_id: str, ctx: Ctx) -> Endpoint:
    return await ctx.storage.get_endpoint(app.id, endpoint_id)


@router.get("", response_model=ListResponse[EndpointOut], summary="List endpoints")
async def list_endpoints(app: App, ctx: Ctx, cursor: Page) -> Response:
    page = await ctx.storage.list_endpoints(app.id, cursor)
    return listed(ListResponse[EndpointOut], page, [endpoint_out(e) for e in page.data])


@router.post("", response_model=EndpointOut, status_code=201, summary="Create an endpoint")
async def create_endpoint(app: App, body: EndpointIn, ctx: Ctx, who: Who) -> Response:
    now = ctx.clock()
    endpoint = Endpoint(
        id=ids.new_id(ids.ENDPOINT, now), app_id=app.id, url=await check_url(ctx, body.url, who),
        secret=normalise_secret(body.secret), uid=body.uid, description=body.description,
        version=body.version, disabled=body.disabled,
        filter_types=await check_event_types(ctx, body.event_types),
        channels=tuple(body.channels) if body.channels is not None else None,
        headers=body.headers, metadata=body.metadata, rate_limit=body.throttle_rate,
        retry_schedule=tuple(body.retry_schedule) if body.retry_schedule is not None else None,
        created_at=now, updated_at=now, controls=_controls(body.url, body),
    )  # fmt: skip
    audit = change(who, "endpoint.created", None, endpoint, ctx)
    return respond(endpoint_out(await ctx.storage.create_endpoint(endpoint, audit)), 201)


@router.get("/{endpoint_id}", response_model=EndpointOut, summary="Get an endpoint")
async def get_endpoint(app: App, endpoint_id: str, ctx: Ctx) -> Response:
    return respond(endpoint_out(await _endpoint(app, endpoint_id, ctx)))


@router.put(
    "/{endpoint_id}", response_model=EndpointOut, responses=CREATED_BY_PUT,
    summary="Update or create an endpoint",
)  # fmt: skip
async def update_endpoint(
    app: App, endpoint_id: str, body: EndpointUpdate, ctx: Ctx, who: Who
) -> Response:
    now = ctx.clock()
    fields = {
        "url": await check_url(ctx, body.url, who), "description": body.description,
        "uid": body.uid, "version": body.version, "disabled": body.disabled,
        "filter_types": await check_event_types(ctx, body.event_types),
        "channels": tuple(body.channels) if body.channels is not None else None,
        "metadata": body.metadata, "rate_limit": body.throttle_rate,
        "retry_schedule": tuple(body.retry_schedule) if body.retry_schedule is not None else None,
        "controls": _controls(body.url, body),
    }  # fmt: skip
    try:
        current = await _endpoint(app, endpoint_id, ctx)
    except NotFoundError:
        if not ids.looks_like_id(endpoint_id, ids.ENDPOINT):
            fields["uid"] = body.uid or endpoint_id
        created = Endpoint(
            id=ids.new_id(ids.ENDPOINT, now), app_id=app.id, secret=signing.generate_secret(),
            created_at=now, updated_at=now, **fields,  # type: ignore[arg-type]
        )  # fmt: skip
        audit = change(who, "endpoint.created", None, created, ctx)
        return respond(endpoint_out(await ctx.storage.create_endpoint(created, audit)), 201)
    fields["uid"] = body.uid or current.uid
    updated = _health(current, replace(current, updated_at=now, **fields))  # type: ignore[arg-type]
    return await _save(current, updated, ctx, who)


@router.patch("/{endpoint_id}", response_model=EndpointOut, summary="Patch an endpoint")
async def patch_endpoint(
    app: App, endpoint_id: str, body: EndpointPatch, ctx: Ctx, who: Who
) -> Response:
    current = await _endpoint(app, endpoint_id, ctx)
    given = body.model_fields_set
    changes: dict[str, object] = {}
    if "url" in given and body.url is not None:
        changes["url"] = await check_url(ctx, body.url, who)
    if "description" in given:
        changes["description"] = body.description or ""
    if "uid" in given:
        changes["uid"] = body.uid
    if "version" in given and body.version is not None:
        changes["version"] = body.version
    if "disabled" in given and body.disabled is not None:
        changes["disabled"] = body.disabled
    if "event_types" in given:
        changes["filter_types"] = await check_event_types(ctx, body.event_types)
    if "channels" in given:
        changes["channels"] = tuple(body.channels) if body.channels is not None else None
    if "metadata" in given:
        changes["metadata"] = body.metadata or {}
    if "throttle_rate" in given:
        changes["rate_limit"] = body.throttle_rate
    if "retry_schedule" in given:
        schedule = body.retry_schedule
        changes["retry_schedule"] = tuple(schedule) if schedule is not None else None
    if given & _CONTROL_FIELDS:
        # Controls not in the body keep their values; an explicit null clears one.
        was = endpoint_out(current)
        merged = {name: getattr(body if name in given else was, name) for name in _CONTROL_FIELDS}
        url = str(changes.get("url", current.url))
        changes["controls"] = build_controls(
            url, merged["filter"], merged["transformation"], merged["batching"],
            merged["ordering"], merged["circuit_breaker"], merged["max_in_flight"],
        )  # fmt: skip
    updated = replace(current, updated_at=ctx.clock(), **changes)  # type: ignore[arg-type]
    return await _save(current, _health(current, updated), ctx, who)


_CONTROL_FIELDS = frozenset(
    {"filter", "transformation", "batching", "ordering", "circuit_breaker", "max_in_flight"}
)


def _controls(url: str, body: EndpointIn | EndpointUpdate) -> Controls:
    return build_controls(
        url, body.filter, body.transformation, body.batching, body.ordering,
        body.circuit_breaker, body.max_in_flight,
    )  # fmt: skip


async def _save(current: Endpoint, updated: Endpoint, ctx: Ctx, who: Who) -> Response:
    """Store an endpoint change, recorded as an update (or as enabling or disabling it)."""
    action = "endpoint.updated"
    if current.disabled != updated.disabled:
        action = "endpoint.disabled" if updated.disabled else "endpoint.enabled"
    audit = change(who, action, current, updated, ctx)
    return respond(endpoint_out(await ctx.storage.update_endpoint(updated, audit)))


def _health(current: Endpoint, updated: Endpoint) -> Endpoint:
    """Enabling an endpoint by hand starts its failure clock afresh."""
    if current.disabled and not updated.disabled:
        return replace(updated, failing_since=None)
    return updated


@router.delete("/{endpoint_id}", status_code=204, summary="Delete an endpoint")
async def delete_endpoint(app: App, endpoint_id: str, ctx: Ctx, who: Who) -> Response:
    endpoint = await _endpoint(app, endpoint_id, ctx)
    audit = change(who, "endpoint.deleted", endpoint, None, ctx)
    await ctx.storage.delete_endpoint(app.id, endpoint.id, audit)
    return Response(status_code=204)


# secret ------------------------------------------------------------------------


@router.get("/{endpoint_id}/secret", response_model=EndpointSecretOut, summary="Get the secret")
async def get_secret(app: App, endpoint_id: str, ctx: Ctx) -> Response:
    endpoint = await _endpoint(app, endpoint_id, ctx)
    return respond(EndpointSecretOut(key=endpoint.secret))


@router.post(
    "/{endpoint_id}/secret/rotate", response_model=EndpointSecretOut, summary="Rotate the secret"
)
async def rotate_secret(
    app: App, endpoint_id: str, body: EndpointSecretRotateIn, ctx: Ctx, who: Who
) -> Response:
    endpoint = await _endpoint(app, endpoint_id, ctx)
    return await rotate(endpoint, body, ctx, who)


async def rotate(endpoint: Endpoint, body: EndpointSecretRotateIn, ctx: Ctx, who: Who) -> Response:
    """Give ``endpoint`` a new secret; the old one keeps signing for the grace period."""
    now = ctx.clock()
    new_secret = normalise_secret(body.key, "key")
    kept = [k for k in endpoint.old_secrets if k.expires_at is None or k.expires_at > now]
    if body.grace_period_seconds > 0:
        kept.insert(0, SigningKey(endpoint.secret, now + body.grace_period_seconds))
    rotated = replace(
        endpoint, secret=new_secret, old_secrets=tuple(kept[:MAX_OLD_SECRETS]), updated_at=now
    )
    await ctx.storage.update_endpoint(
        rotated, change(who, "endpoint.secret.rotated", endpoint, rotated, ctx)
    )
    return respond(EndpointSecretOut(key=new_secret))


# headers ------------------------------------------------------------------------


@router.get(
    "/{endpoint_id}/headers", response_model=EndpointHeadersOut, summary="Get custom headers"
)
async def get_headers(app: App, endpoint_id: str, ctx: Ctx) -> Response:
    endpoint = await _endpoint(app, endpoint_id, ctx)
    return respond(EndpointHeadersOut(headers=endpoint.headers, sensitive=[]))


@router.put("/{endpoint_id}/headers", status_code=204, summary="Replace custom headers")
async def set_headers(
    app: App, endpoint_id: str, body: EndpointHeadersIn, ctx: Ctx, who: Who
) -> Response:
    endpoint = await _endpoint(app, endpoint_id, ctx)
    updated = replace(endpoint, headers=body.headers, updated_at=ctx.clock())
    await ctx.storage.update_endpoint(
        updated, change(who, "endpoint.headers.updated", endpoint, updated, ctx)
    )
    return Response(status_code=204)


@router.patch("/{endpoint_id}/headers", status_code=204, summary="Merge custom headers")
async def patch_headers(
    app: App, endpoint_id: str, body: EndpointHeadersPatchIn, ctx: Ctx, who: Who
) -> Response:
    endpoint = await _endpoint(app, endpoint_id, ctx)
    removed = {name.lower() for name in body.delete_headers}
    merged = {k: v for k, v in endpoint.headers.items() if k.lower() not in removed}
    merged.update(body.headers)
    try:
        check_headers(merged)
    except ValueError as error:
        raise ValidationError(str(error), field=("headers",)) from None
    updated = replace(endpoint, headers=merged, updated_at=ctx.clock())
    await ctx.storage.update_endpoint(
        updated, change(who, "endpoint.headers.updated", endpoint, updated, ctx)
    )
    return Response(status_code=204)


# recover and stats ---------------------------------------------------------------


@router.post(
    "/{endpoint_id}/recover", response_model=BackgroundTaskOut, status_code=202,
    summary="Re-send failed messages",
)  # fmt: skip
async def recover(app: App, endpoint_id: str, body: RecoverIn, ctx: Ctx, who: Who) -> Response:
    endpoint = await _endpoint(app, endpoint_id, ctx)
    now = ctx.clock()
    since, until = _window(body, now)
    entry = job_started(who, app.id, jobs.RECOVER, jobs.JobParams(endpoint.id, since, until), now)
    task = await ctx.storage.recover(app.id, endpoint.id, since, until, now, entry)
    return respond(task_out(task), 202)


@router.post(
    "/{endpoint_id}/replay-missing", response_model=BackgroundTaskOut, status_code=202,
    summary="Send the endpoint the messages it never got",
)  # fmt: skip
async def replay_missing(
    app: App, endpoint_id: str, body: RecoverIn, ctx: Ctx, who: Who
) -> Response:
    """Messages created in [since, until) that the endpoint would receive but has no
    delivery of (it was added later, or was filtering them out) are sent to it."""
    endpoint = await _endpoint(app, endpoint_id, ctx)
    now = ctx.clock()
    params = jobs.JobParams(endpoint.id, *_window(body, now))
    entry = job_started(who, app.id, jobs.REPLAY, params, now)
    task = await ctx.storage.start_job(app.id, jobs.REPLAY, params, now, entry)
    return respond(task_out(task), 202)


@router.post(
    "/{endpoint_id}/bulk-replay", response_model=BackgroundTaskOut, status_code=202,
    summary="Send the endpoint's messages again, by filter",
)  # fmt: skip
async def bulk_replay(
    app: App, endpoint_id: str, body: BulkReplayIn, ctx: Ctx, who: Who
) -> Response:
    """Deliveries created in [since, until), successful and failed alike (or of one
    ``status``), narrowed by event types and channel, are sent again."""
    endpoint = await _endpoint(app, endpoint_id, ctx)
    if body.status not in (None, 0, 2):
        raise ValidationError("status is 0 (success) or 2 (fail)", field=("status",))
    now = ctx.clock()
    params = jobs.JobParams(
        endpoint.id, *_window(body, now),
        event_types=tuple(body.event_types) if body.event_types else None,
        channel=body.channel, status={0: "success", 2: "fail"}.get(body.status or -1),
    )  # fmt: skip
    entry = job_started(who, app.id, jobs.BULK_REPLAY, params, now)
    task = await ctx.storage.start_job(app.id, jobs.BULK_REPLAY, params, now, entry)
    return respond(task_out(task), 202)


def _window(body: RecoverIn, now: float) -> tuple[float, float]:
    since = body.since.timestamp()
    until = body.until.timestamp() if body.until is not None else now
    if until < since:
        raise ValidationError("until must not be before since", field=("until",))
    return since, until


@router.get("/{endpoint_id}/stats", response_model=EndpointStatsOut, summary="Delivery counts")
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


# pause, resume and the state of the delivery controls -----------------------------


@router.post(
    "/{endpoint_id}/pause", response_model=EndpointOut, summary="Pause deliveries to an endpoint"
)
async def pause(app: App, endpoint_id: str, ctx: Ctx, who: Who) -> Response:
    """Its deliveries wait (they keep their retries) until it is resumed."""
    return await _set_paused(app, endpoint_id, True, ctx, who)


@router.post("/{endpoint_id}/resume", response_model=EndpointOut, summary="Resume an endpoint")
async def resume(app: App, endpoint_id: str, ctx: Ctx, who: Who) -> Response:
    """What waited goes out, oldest first, within the endpoint's throttle rate."""
    return await _set_paused(app, endpoint_id, False, ctx, who)


async def _set_paused(app: App, endpoint_id: str, paused: bool, ctx: Ctx, who: Who) -> Response:
    endpoint = await _endpoint(app, endpoint_id, ctx)
    now = ctx.clock()
    after = replace(endpoint, paused=paused, updated_at=now)
    audit = change(who, "endpoint.paused" if paused else "endpoint.resumed", endpoint, after, ctx)
    stored = await ctx.storage.set_paused(app.id, endpoint.id, paused, now, audit)
    return respond(endpoint_out(stored))


@router.get(
    "/{endpoint_id}/delivery-state", response_model=DeliveryStateOut,
    summary="Pause, circuit breaker and pace of an endpoint",
)  # fmt: skip
async def delivery_state(app: App, endpoint_id: str, ctx: Ctx) -> Response:
    endpoint = await _endpoint(app, endpoint_id, ctx)
    return respond(
        delivery_state_out(await ctx.storage.delivery_state(app.id, endpoint.id, ctx.clock()))
    )
