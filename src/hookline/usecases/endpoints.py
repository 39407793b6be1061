"""Endpoints: the checks a destination must pass, and every change to one (create,
replace, patch, delete, secret rotation, headers, pause and resume), each with its
audit entry; recover and the replays of an endpoint are in ``usecases.replays``."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from hookline.domain import audit, ids, signing, ssrf
from hookline.domain.models import Endpoint, SigningKey
from hookline.domain.routing import HANDLER_SCHEME, HANDLER_URL_PATTERN
from hookline.domain.tokens import Principal
from hookline.errors import ForbiddenError, NotFoundError, ValidationError
from hookline.storage.base import Storage
from hookline.usecases import endpoint_auth
from hookline.usecases.controls import ControlsDraft
from hookline.usecases.endpoint_auth import AuthDraft

#: Old secrets kept at most, so repeated rotations cannot grow a delivery's headers without bound.
MAX_OLD_SECRETS = 5
#: How long an old secret signs on after a rotation unless told otherwise (a day, as Svix).
DEFAULT_GRACE_SECONDS = 86400
#: How long registration waits for DNS before leaving the judgement to delivery time.
RESOLVE_TIMEOUT = 2.0
#: The limits of an endpoint's text fields (as the API's body models state them).
MAX_URL = 65536
MAX_DESCRIPTION = 4096
MAX_EVENT_TYPES = 1024
_EVENT_TYPE_PATTERN = re.compile(r"[a-zA-Z0-9\-_.*]{1,256}")


@dataclass(frozen=True, slots=True)
class EndpointDraft:
    """An endpoint's given fields, before they are checked and it has an id."""

    url: str
    secret: str | None = None
    uid: str | None = None
    description: str = ""
    version: int = 1
    disabled: bool = False
    event_types: list[str] | None = None
    channels: tuple[str, ...] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    rate_limit: int | None = None
    retry_schedule: tuple[float, ...] | None = None
    controls: ControlsDraft = field(default_factory=ControlsDraft)
    #: The credentials given (``auth``, ``tls``); None: neither.
    auth: AuthDraft | None = None


async def check_url(url: str, who: Principal, policy: ssrf.DestinationPolicy) -> str:
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


async def check_event_types(storage: Storage, names: list[str] | None) -> tuple[str, ...] | None:
    """Each event type named in a filter must exist and not be archived (as Svix);
    a pattern (``invoice.*``) may match types that do not exist yet."""
    if names is None:
        return None
    for index, name in enumerate(names):
        if "*" in name:
            continue
        try:
            event_type = await storage.get_event_type(name)
        except NotFoundError:
            raise ValidationError(
                f"event type {name!r} does not exist", field=("eventTypes", index)
            ) from None
        if event_type.archived:
            raise ValidationError(f"event type {name!r} is archived", field=("eventTypes", index))
    return tuple(names)


def check_text(url: str | None, description: str | None, event_types: list[str] | None) -> None:
    """The sizes and shapes of an endpoint's text fields, for faces that take them from a
    form rather than through the API's body models (which state the same limits)."""
    if url is not None and not 1 <= len(url) <= MAX_URL:
        raise ValidationError(f"must be 1 to {MAX_URL} characters", field=("url",))
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise ValidationError(f"must be at most {MAX_DESCRIPTION} characters",
                              field=("description",))  # fmt: skip
    names = event_types or []
    if len(names) > MAX_EVENT_TYPES:
        raise ValidationError(f"at most {MAX_EVENT_TYPES} event types", field=("eventTypes",))
    if len(set(names)) != len(names):
        raise ValidationError("values must be unique", field=("eventTypes",))
    for index, name in enumerate(names):
        if not _EVENT_TYPE_PATTERN.fullmatch(name):
            raise ValidationError(
                "event types are letters, digits, '-', '_', '.' or '*'",
                field=("eventTypes", index),
            )


def not_a_destination(endpoint: Endpoint) -> None:
    """A destination (a broker, a poller) is changed through ``/destination``, where its
    configuration is checked: an endpoint's URL and fields would not fit it."""
    if endpoint.destination is not None:
        raise ValidationError(
            f"{endpoint.id} is a {endpoint.destination.kind} destination: change it at "
            f"/api/v1/app/{{app_id}}/destination/{endpoint.id}",
            field=("path", "endpoint_id"),
        )


async def create_endpoint(
    storage: Storage, who: Principal, app_id: str, draft: EndpointDraft,
    policy: ssrf.DestinationPolicy, now: float,
) -> Endpoint:  # fmt: skip
    """Check the draft (URL, secret, event types, controls, credentials) and store the new
    endpoint."""
    url = await check_url(draft.url, who, policy)
    endpoint = Endpoint(
        id=ids.new_id(ids.ENDPOINT, now), app_id=app_id,
        url=url, secret=normalise_secret(draft.secret),
        uid=draft.uid, description=draft.description, version=draft.version,
        disabled=draft.disabled, filter_types=await check_event_types(storage, draft.event_types),
        channels=draft.channels, headers=draft.headers, metadata=draft.metadata,
        rate_limit=draft.rate_limit, retry_schedule=draft.retry_schedule,
        created_at=now, updated_at=now, controls=draft.controls.build(draft.url),
        auth=await endpoint_auth.resolve(draft.auth, url, None, who, policy),
    )  # fmt: skip
    return await store_new(storage, who, endpoint, now)


async def store_new(storage: Storage, who: Principal, endpoint: Endpoint, now: float) -> Endpoint:
    """Store an endpoint already checked, with its ``endpoint.created`` entry."""
    return await storage.create_endpoint(
        endpoint, audit.change(who, "endpoint.created", None, endpoint, now)
    )


async def put_endpoint(
    storage: Storage, who: Principal, app_id: str, endpoint_key: str, draft: EndpointDraft,
    policy: ssrf.DestinationPolicy, now: float,
) -> tuple[Endpoint, bool]:  # fmt: skip
    """Replace the endpoint ``endpoint_key`` (id or uid) with the draft, or create it
    (under that uid, unless it is an id): (it, whether created). Its secret stays, and so
    do its credentials unless the draft gives them."""
    url = await check_url(draft.url, who, policy)
    fields = {
        "url": url, "description": draft.description,
        "uid": draft.uid, "version": draft.version, "disabled": draft.disabled,
        "filter_types": await check_event_types(storage, draft.event_types),
        "channels": draft.channels, "metadata": draft.metadata, "rate_limit": draft.rate_limit,
        "retry_schedule": draft.retry_schedule, "controls": draft.controls.build(draft.url),
    }  # fmt: skip
    try:
        current = await storage.get_endpoint(app_id, endpoint_key)
    except NotFoundError:
        if not ids.looks_like_id(endpoint_key, ids.ENDPOINT):
            fields["uid"] = draft.uid or endpoint_key
        created = Endpoint(
            id=ids.new_id(ids.ENDPOINT, now), app_id=app_id, secret=signing.generate_secret(),
            created_at=now, updated_at=now,
            auth=await endpoint_auth.resolve(draft.auth, url, None, who, policy),
            **fields,  # type: ignore[arg-type]
        )  # fmt: skip
        return await store_new(storage, who, created, now), True
    not_a_destination(current)
    fields["uid"] = draft.uid or current.uid
    auth = await endpoint_auth.resolve(
        draft.auth, url, current.auth, who, policy, url_changed=url != current.url
    )
    updated = replace(current, updated_at=now, auth=auth, **fields)  # type: ignore[arg-type]
    return await save(storage, who, current, updated, now), False


async def patch_endpoint(
    storage: Storage, who: Principal, current: Endpoint, changes: dict[str, object],
    controls: ControlsDraft | None, policy: ssrf.DestinationPolicy, now: float,
    auth: AuthDraft | None = None,
) -> Endpoint:  # fmt: skip
    """Change some fields of ``current`` (by ``Endpoint`` field name): a new ``url`` and
    ``filter_types`` are checked; ``controls``, if given, are rebuilt for the URL; the
    credentials ``auth`` gives are merged with the stored ones and checked."""
    not_a_destination(current)
    checked = dict(changes)
    if "url" in checked:
        checked["url"] = await check_url(str(checked["url"]), who, policy)
    url = str(checked.get("url", current.url))
    checked["auth"] = await endpoint_auth.resolve(
        auth, url, current.auth, who, policy, url_changed=url != current.url
    )
    if "filter_types" in checked:
        names = checked["filter_types"]
        assert names is None or isinstance(names, list)
        checked["filter_types"] = await check_event_types(storage, names)
    if controls is not None:
        checked["controls"] = controls.build(str(checked.get("url", current.url)))
    updated = replace(current, updated_at=now, **checked)  # type: ignore[arg-type]
    return await save(storage, who, current, updated, now)


async def save(
    storage: Storage, who: Principal, current: Endpoint, updated: Endpoint, now: float
) -> Endpoint:
    """Store a change to an endpoint, recorded as an update (or as enabling or disabling
    it); enabling an endpoint by hand starts its failure clock afresh."""
    action = "endpoint.updated"
    if current.disabled != updated.disabled:
        action = "endpoint.disabled" if updated.disabled else "endpoint.enabled"
    if current.disabled and not updated.disabled:
        updated = replace(updated, failing_since=None)
    return await storage.update_endpoint(updated, audit.change(who, action, current, updated, now))


async def delete_endpoint(storage: Storage, who: Principal, endpoint: Endpoint, now: float) -> None:
    """Delete the endpoint (its deliveries and attempts go with it)."""
    await storage.delete_endpoint(
        endpoint.app_id, endpoint.id, audit.change(who, "endpoint.deleted", endpoint, None, now)
    )


def rotated(endpoint: Endpoint, new_secret: str, grace_seconds: float, now: float) -> Endpoint:
    """``endpoint`` signing with ``new_secret``: the current secret signs on for
    ``grace_seconds`` (none if 0), expired old secrets are dropped, at most
    ``MAX_OLD_SECRETS`` are kept, newest first."""
    kept = [k for k in endpoint.old_secrets if k.expires_at is None or k.expires_at > now]
    if grace_seconds > 0:
        kept.insert(0, SigningKey(endpoint.secret, now + grace_seconds))
    return replace(
        endpoint, secret=new_secret, old_secrets=tuple(kept[:MAX_OLD_SECRETS]), updated_at=now
    )


async def rotate_secret(
    storage: Storage, who: Principal, endpoint: Endpoint, now: float, key: str | None = None,
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
) -> str:  # fmt: skip
    """Give ``endpoint`` a new secret (``key``, or a random one) and return it; the old
    one keeps signing for the grace period."""
    after = rotated(endpoint, normalise_secret(key, "key"), grace_seconds, now)
    await storage.update_endpoint(
        after, audit.change(who, "endpoint.secret.rotated", endpoint, after, now)
    )
    return after.secret


def merged_headers(
    current: dict[str, str], given: dict[str, str], removed: Iterable[str]
) -> dict[str, str]:
    """``current`` without the ``removed`` names (any case), with ``given`` merged in."""
    dropped = {name.lower() for name in removed}
    merged = {k: v for k, v in current.items() if k.lower() not in dropped}
    merged.update(given)
    return merged


async def set_headers(
    storage: Storage, who: Principal, endpoint: Endpoint, headers: dict[str, str], now: float
) -> Endpoint:
    """Replace the endpoint's custom headers (already checked)."""
    updated = replace(endpoint, headers=headers, updated_at=now)
    return await storage.update_endpoint(
        updated, audit.change(who, "endpoint.headers.updated", endpoint, updated, now)
    )


async def set_paused(
    storage: Storage, who: Principal, endpoint: Endpoint, paused: bool, now: float
) -> Endpoint:
    """Pause the endpoint (its deliveries wait, keeping their retries) or resume it."""
    after = replace(endpoint, paused=paused, updated_at=now)
    action = "endpoint.paused" if paused else "endpoint.resumed"
    entry = audit.change(who, action, endpoint, after, now)
    return await storage.set_paused(endpoint.app_id, endpoint.id, paused, now, entry)
