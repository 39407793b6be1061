"""Destinations (brokers, databases, pollers, FIFO endpoints) and the message poller.

A destination is stored as an endpoint with a kind (``Endpoint.destination``), so every
engine promise applies to it unchanged: retries, attempts, the circuit, rate limits,
filters, transformations, batching, disabling, recover and resend. Here: the checks it
must pass (its configuration, ``domain.destinations.check_config``; its hosts, under
the SSRF defence), every change to one with its audit entry, and the poller's reads.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from hookline.domain import destinations, ids, signing, ssrf
from hookline.domain.controls import Batching, Ordering
from hookline.domain.destinations import Destination
from hookline.domain.models import Endpoint
from hookline.domain.tokens import Principal
from hookline.errors import NotFoundError, ValidationError
from hookline.storage.base import Cursor, MessagePoll, PollQuery, Storage
from hookline.usecases import endpoints
from hookline.usecases.controls import ControlsDraft, checked_transformation

#: A poll leaves out messages younger than this (seconds): one made just before may
#: still be committing (publishes are batched, and many processes publish at once), and
#: an iterator that stepped past it would never return it.
POLL_SETTLE_SECONDS = 1.0
#: A poll returns at most this many messages (as Svix's list limit).
MAX_POLL_LIMIT = 250
#: Consumer ids, as the ids and uids of other resources.
CONSUMER_ID_LENGTH = 256


@dataclass(frozen=True, slots=True)
class DestinationDraft:
    """A destination's given fields (``DestinationIn``), before they are checked."""

    kind: str
    config: Mapping[str, Any]
    uid: str | None = None
    disabled: bool = False
    batch_size: int | None = None
    max_wait_secs: int | None = None
    event_types: list[str] | None = None
    channels: tuple[str, ...] | None = None
    metadata: dict[str, str] = field(default_factory=dict)


async def check_host(host: str, port: int, policy: ssrf.DestinationPolicy, name: str) -> None:
    """A broker's or database's host must pass the SSRF defence, as an endpoint's URL:
    a literal address judged at once, a name by every address it resolves to now (one
    that does not resolve yet is judged when the channel connects). ``name`` is the
    configuration key named in the 422."""
    if not policy.enabled:
        return
    at_fault = ("config", name)
    literal = ssrf.parse_ip_literal(host)
    if literal is not None:
        refused = policy.refusal(literal)
        if refused:
            raise ValidationError(f"refused: {literal} is {refused}", field=at_fault)
        return
    loop = asyncio.get_running_loop()
    try:
        found = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), endpoints.RESOLVE_TIMEOUT
        )
    except (OSError, TimeoutError):
        return
    addresses = [ssrf.parse_ip_literal(str(info[4][0])) for info in found]
    try:
        ssrf.check_resolved(host, [a for a in addresses if a is not None], policy)
    except ssrf.BlockedDestination as blocked:
        raise ValidationError(blocked.reason, field=at_fault) from None


async def check_destination(
    kind: str, config: Mapping[str, Any], who: Principal, policy: ssrf.DestinationPolicy
) -> Destination:
    """The checked destination: its configuration (``check_config``), then its hosts."""
    checked = destinations.check_config(kind, config)
    if kind == destinations.FIFO:
        try:
            await endpoints.check_url(checked["url"], who, policy)
        except ValidationError as refused:
            raise ValidationError(refused.detail, field=("config", "url")) from None
    else:
        url_key = destinations.URL_KEYS.get(kind, "url")
        for host, port in destinations.hosts(kind, checked):
            await check_host(host, port, policy, url_key)
    return Destination(kind=kind, config=checked)


def _batching(draft: DestinationDraft) -> Batching | None:
    size = draft.batch_size or 1
    if size < 1 or size > 1000:
        raise ValidationError("must be 1 to 1000", field=("batchSize",))
    wait = draft.max_wait_secs or 0
    if wait < 0 or wait > 3600:
        raise ValidationError("must be 0 to 3600 seconds", field=("maxWaitSecs",))
    return None if size == 1 else Batching(size, float(wait))


def _fields(draft: DestinationDraft, destination: Destination) -> dict[str, Any]:
    """The endpoint fields a destination sets (its url, headers, controls...)."""
    config = destination.config
    url = destinations.display_url(destination.kind, config)
    ordering = Ordering() if destination.kind == destinations.FIFO else None
    batching = _batching(draft)
    if ordering is not None and batching is not None:
        # A FIFO destination batches in order: one request at a time, so never both here.
        raise ValidationError(
            "a fifoEndpoint delivers one message at a time, in order", field=("batchSize",)
        )
    return {
        "url": url, "uid": draft.uid, "disabled": draft.disabled,
        "channels": draft.channels, "metadata": draft.metadata, "destination": destination,
        "headers": dict(config.get("headers") or {}),
        "batching": batching, "ordering": ordering,
    }  # fmt: skip


def _secret_of(destination: Destination, current: str | None) -> str:
    """The signing secret: a FIFO endpoint's ``key`` if given, else the one it had or a
    new one."""
    key = destination.config.get("key") if destination.kind == destinations.FIFO else None
    if key is not None:
        return endpoints.normalise_secret(str(key), "key")
    return current or signing.generate_secret()


def _with_key(destination: Destination, secret: str) -> Destination:
    if destination.kind != destinations.FIFO:
        return destination
    return replace(destination, config={**destination.config, "key": secret})


def _apply(
    endpoint: Endpoint, fields: dict[str, Any], transformation: dict[str, Any] | None
) -> Endpoint:
    batching, ordering = fields.pop("batching"), fields.pop("ordering")
    kept = ControlsDraft.of(endpoint.controls)
    controls = replace(kept, batching=batching, ordering=ordering, transformation=transformation)
    return replace(endpoint, controls=controls.build(fields["url"]), **fields)


async def create_destination(
    storage: Storage, who: Principal, app_id: str, draft: DestinationDraft,
    policy: ssrf.DestinationPolicy, now: float,
) -> Endpoint:  # fmt: skip
    """Check the draft and store the new destination (an endpoint with a kind)."""
    destination = await check_destination(draft.kind, draft.config, who, policy)
    filter_types = await endpoints.check_event_types(storage, draft.event_types)
    secret = _secret_of(destination, None)
    blank = Endpoint(
        id=ids.new_id(ids.ENDPOINT, now), app_id=app_id, url="", secret=secret,
        filter_types=filter_types, created_at=now, updated_at=now,
    )  # fmt: skip
    fields = _fields(draft, _with_key(destination, secret))
    return await endpoints.store_new(storage, who, _apply(blank, fields, None), now)


async def get_destination(storage: Storage, app_id: str, key: str) -> Endpoint:
    """The destination ``key`` (id or uid); an HTTP endpoint is not one (404)."""
    found = await storage.get_endpoint(app_id, key)
    if found.destination is None:
        raise NotFoundError(f"destination {key!r} not found")
    return found


async def put_destination(
    storage: Storage, who: Principal, app_id: str, key: str, draft: DestinationDraft,
    policy: ssrf.DestinationPolicy, now: float,
) -> tuple[Endpoint, bool]:  # fmt: skip
    """Replace the destination ``key`` with the draft, or create it (under that uid,
    unless it is an id): (it, whether created). Its transformation and secret stay."""
    try:
        current = await get_destination(storage, app_id, key)
    except NotFoundError:
        if ids.looks_like_id(key, ids.ENDPOINT):
            raise
        draft = replace(draft, uid=draft.uid or key)
        return await create_destination(storage, who, app_id, draft, policy, now), True
    destination = await check_destination(draft.kind, draft.config, who, policy)
    filter_types = await endpoints.check_event_types(storage, draft.event_types)
    secret = _secret_of(destination, current.secret)
    fields = _fields(replace(draft, uid=draft.uid or current.uid), _with_key(destination, secret))
    updated = _apply(
        replace(current, filter_types=filter_types, secret=secret, updated_at=now), fields,
        current.controls.transformation,
    )  # fmt: skip
    return await endpoints.save(storage, who, current, updated, now), False


def patched_draft(current: Endpoint, kind: str, config: Mapping[str, Any],
                  changes: Mapping[str, Any]) -> DestinationDraft:  # fmt: skip
    """The full draft a patch makes of ``current``: fields not given keep their values; a
    configuration of the same kind is merged key by key over the stored one (so a patch
    that changes the routing key need not repeat the password); of another kind, it
    replaces it."""
    assert current.destination is not None
    same = current.destination.kind == kind
    merged = {**current.destination.config, **config} if same else dict(config)
    batching = current.controls.batching
    draft = DestinationDraft(
        kind=kind, config=merged, uid=current.uid, disabled=current.disabled,
        batch_size=batching.max_size if batching else None,
        max_wait_secs=int(batching.max_wait) if batching else None,
        event_types=list(current.filter_types) if current.filter_types is not None else None,
        channels=current.channels, metadata=current.metadata,
    )  # fmt: skip
    return replace(draft, **changes)


async def patch_destination(
    storage: Storage, who: Principal, current: Endpoint, draft: DestinationDraft,
    policy: ssrf.DestinationPolicy, now: float,
) -> Endpoint:  # fmt: skip
    """Store ``current`` changed to the full ``draft`` (see ``patched_draft``)."""
    stored, _ = await put_destination(storage, who, current.app_id, current.id, draft, policy, now)
    return stored


async def set_transformation(
    storage: Storage, who: Principal, current: Endpoint, code: str | None, now: float
) -> Endpoint:
    """Set (or, with None, remove) the destination's transformation.

    Svix's ``code`` is JavaScript; hookline runs no JavaScript: ``code`` is a hookline
    transformation document (JMESPath, docs/routing.md) as JSON text.
    """
    document = None
    if code is not None:
        try:
            document = orjson.loads(code)
        except orjson.JSONDecodeError:
            document = None
        if not isinstance(document, dict):
            raise ValidationError(
                "hookline runs no JavaScript: code is a transformation document as JSON, "
                'like {"body": "{id: data.id}"} (see docs/routing.md)',
                field=("code",),
            )
        checked_transformation(document, ("code",))
    kept = ControlsDraft.of(current.controls)
    controls = replace(kept, transformation=document).build(current.url)
    updated = replace(current, controls=controls, updated_at=now)
    return await endpoints.save(storage, who, current, updated, now)


async def rotate_secret(
    storage: Storage, who: Principal, current: Endpoint, key: str | None, grace: float, now: float
) -> str:
    """A new signing secret for the destination (a FIFO endpoint's ``key`` too)."""
    new_secret = endpoints.normalise_secret(key, "key")
    after = endpoints.rotated(current, new_secret, grace, now)
    assert current.destination is not None
    after = replace(after, destination=_with_key(current.destination, new_secret))
    await endpoints.save(storage, who, current, after, now)
    return new_secret


# The message poller ---------------------------------------------------------------------


def start_of(poller: Endpoint) -> str:
    """Where a reader of ``poller`` with no iterator starts: its creation (the messages
    published before it existed were not for it; ``consumer_seek`` reaches back)."""
    return ids.floor_id(ids.MESSAGE, poller.created_at)


def iterator_at(moment: float) -> str:
    """The iterator that reads the messages made after ``moment``."""
    return ids.floor_id(ids.MESSAGE, moment)


def check_iterator(iterator: str | None) -> str | None:
    """A given iterator must be one this server gave out (a message id or a bound)."""
    if iterator is None or iterator == "":
        return None
    if not ids.looks_like_id(iterator, ids.MESSAGE):
        raise ValidationError("not an iterator this server gave out", field=("query", "iterator"))
    return iterator


def check_consumer(consumer_id: str) -> str:
    """A consumer id: 1-256 letters, digits, '-', '_' or '.'."""
    if not 1 <= len(consumer_id) <= CONSUMER_ID_LENGTH or not all(
        c.isascii() and (c.isalnum() or c in "-_.") for c in consumer_id
    ):
        raise ValidationError("must be 1-256 letters, digits, '-', '_' or '.'",
                              field=("path", "consumer_id"))  # fmt: skip
    return consumer_id


async def poller_of(storage: Storage, app_id: str, key: str) -> Endpoint:
    """The polling destination ``key``; any other kind is not one (404)."""
    found = await storage.get_endpoint(app_id, key)
    if found.destination is None or found.destination.kind != destinations.POLLING:
        raise NotFoundError(f"polling endpoint {key!r} not found")
    return found


def poll_query(
    poller: Endpoint, after: str | None, limit: int, now: float,
    event_type: str | None = None, channel: str | None = None,
) -> PollQuery:  # fmt: skip
    """What one read of ``poller`` asks storage for."""
    return PollQuery(
        app_id=poller.app_id, after=after, start=start_of(poller),
        before=iterator_at(now - POLL_SETTLE_SECONDS), event_types=poller.filter_types,
        channels=poller.channels, event_type=event_type, channel=channel,
        limit=max(1, min(limit, MAX_POLL_LIMIT)),
    )  # fmt: skip


async def poll(
    storage: Storage, poller: Endpoint, iterator: str | None, limit: int, now: float,
    event_type: str | None = None, channel: str | None = None, since: float | None = None,
) -> MessagePoll:  # fmt: skip
    """Read ``poller``'s messages after ``iterator`` (else after ``since``, else from its
    creation)."""
    after = check_iterator(iterator) or (None if since is None else iterator_at(since))
    return await storage.poll_messages(poll_query(poller, after, limit, now, event_type, channel))


async def consumer_poll(
    storage: Storage, poller: Endpoint, consumer_id: str, iterator: str | None, limit: int,
    now: float,
) -> MessagePoll:  # fmt: skip
    """Read on for ``consumer_id``, from its stored position unless an iterator is given;
    the answer's iterator becomes its position."""
    query = poll_query(poller, check_iterator(iterator), limit, now)
    return await storage.consumer_poll(poller.id, check_consumer(consumer_id), query, now)


async def consumer_seek(
    storage: Storage, poller: Endpoint, consumer_id: str, after: float, now: float
) -> str:
    """Move ``consumer_id`` so that its next read returns the messages made after
    ``after``; return that iterator."""
    position = iterator_at(after)
    await storage.seek_consumer(poller.id, check_consumer(consumer_id), position, now)
    return position


def status_of(endpoint: Endpoint) -> str:
    """A destination's status as Svix names it: ``disabled``, ``paused``, ``retrying``
    (failing since some time) or ``enabled``."""
    if endpoint.disabled:
        return "disabled"
    if endpoint.paused:
        return "paused"
    return "retrying" if endpoint.failing_since is not None else "enabled"


@dataclass(frozen=True, slots=True)
class DestinationView:
    """A destination as the dashboard and the portal show it: nothing secret in it."""

    endpoint: Endpoint
    kind: str
    #: Its configuration with passwords and tokens masked (FIFO headers: names only).
    config: dict[str, Any]
    status: str
    failure_reason: str | None
    next_retry_at: float | None


async def destination_views(
    storage: Storage, app_id: str, limit: int = 50
) -> tuple[list[DestinationView], bool]:
    """The application's first ``limit`` destinations, and whether that is all of them."""
    listed = await storage.list_endpoints(app_id, Cursor(limit=limit), destinations=True)
    health = await storage.destination_health([e.id for e in listed.data])
    views = []
    for endpoint in listed.data:
        destination = endpoint.destination
        assert destination is not None
        found = health.get(endpoint.id)
        views.append(DestinationView(
            endpoint, destination.kind,
            destinations.masked_config(destination.kind, destination.config),
            status_of(endpoint), found.failure_reason if found else None,
            found.next_retry_at if found else None,
        ))  # fmt: skip
    return views, listed.done
