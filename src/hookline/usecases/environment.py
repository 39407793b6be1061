"""Svix's environment export and import: event types, applications and endpoints moved
between hookline instances, secrets only when asked for, sealed under the operator's key.

The key is one of ``hookline keygen``'s (urlsafe base64 of 32 bytes), given with the
request, never stored. A secret is sealed as hookline seals secrets at rest
(``domain.secrets``: AES-256-GCM, ``enc:v1:<key id>:...``), bound to its endpoint and
field (associated data ``environment:<endpoint id>:secret`` or ``...:headers``), so a
value moved onto another endpoint does not unseal. See docs/environment.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from hookline.domain import ssrf
from hookline.domain.audit import action
from hookline.domain.models import Application, Endpoint, EventType
from hookline.domain.secrets import SEALED_PREFIX, SecretBox
from hookline.domain.tokens import Principal
from hookline.errors import ConfigError, NotFoundError, SecretKeyError, ValidationError
from hookline.storage.base import Cursor, ImportCounts, Storage
from hookline.usecases.endpoints import EndpointDraft, check_url, normalise_secret
from hookline.usecases.event_types import EventTypeCache, check_versioning

#: Where the operator's key travels: a request header, never a stored value.
SECRETS_HEADER = "hookline-secrets-key"
#: Resources read per page while exporting.
PAGE = 250


@dataclass(frozen=True, slots=True)
class ExportedEndpoint:
    """An endpoint, with its secret and headers sealed when the export asked for them."""

    endpoint: Endpoint
    sealed_secret: str | None = None
    sealed_headers: str | None = None


@dataclass(frozen=True, slots=True)
class ExportedApplication:
    """An application and its endpoints."""

    application: Application
    endpoints: list[ExportedEndpoint]


@dataclass(frozen=True, slots=True)
class EnvironmentExport:
    """Everything an export holds; ``key_id`` names the sealing key (None: no secrets)."""

    event_types: list[EventType]
    applications: list[ExportedApplication]
    key_id: str | None


@dataclass(frozen=True, slots=True)
class ImportedEndpoint:
    """An endpoint of a document to import: its draft, its id and application, and what
    of its secret and headers the document holds sealed."""

    id: str
    app_id: str
    draft: EndpointDraft
    sealed_secret: str | None = None
    sealed_headers: str | None = None


def secrets_box(key_text: str) -> SecretBox:
    """The box of the operator's key; a key not in ``hookline keygen``'s form is a 422."""
    try:
        return SecretBox.from_text(key_text.strip(), source=SECRETS_HEADER)
    except ConfigError as error:
        raise ValidationError(error.detail, field=("header", SECRETS_HEADER)) from None


def _context(endpoint_id: str, what: str) -> str:
    return f"environment:{endpoint_id}:{what}"


async def export_environment(storage: Storage, key_text: str | None) -> EnvironmentExport:
    """Every event type (archived too), application and endpoint; with ``key_text``, the
    endpoints' secrets and headers sealed under it."""
    box = None if key_text is None else secrets_box(key_text)
    event_types: list[EventType] = []
    cursor = Cursor(limit=PAGE)
    while True:
        types = await storage.list_event_types(cursor, include_archived=True)
        event_types.extend(types.data)
        if types.done:
            break
        cursor = Cursor(limit=PAGE, iterator=types.iterator)
    applications: list[ExportedApplication] = []
    cursor = Cursor(limit=PAGE, ascending=True)
    while True:
        apps = await storage.list_applications(cursor)
        for app in apps.data:
            applications.append(
                ExportedApplication(
                    app, [_exported(e, box) for e in await _endpoints(storage, app)]
                )
            )
        if apps.done:
            break
        cursor = Cursor(limit=PAGE, iterator=apps.iterator, ascending=True)
    return EnvironmentExport(event_types, applications, None if box is None else box.current_key_id)


async def _endpoints(storage: Storage, app: Application) -> list[Endpoint]:
    found: list[Endpoint] = []
    cursor = Cursor(limit=PAGE, ascending=True)
    while True:
        page = await storage.list_endpoints(app.id, cursor)
        found.extend(page.data)
        if page.done:
            return found
        cursor = Cursor(limit=PAGE, iterator=page.iterator, ascending=True)


def _exported(endpoint: Endpoint, box: SecretBox | None) -> ExportedEndpoint:
    if box is None:
        return ExportedEndpoint(endpoint)
    headers = orjson.dumps(endpoint.headers).decode()
    return ExportedEndpoint(
        endpoint,
        sealed_secret=box.seal(endpoint.secret, _context(endpoint.id, "secret")),
        sealed_headers=box.seal(headers, _context(endpoint.id, "headers")),
    )


async def import_environment(
    storage: Storage, cache: EventTypeCache, who: Principal, policy: ssrf.DestinationPolicy,
    event_types: Sequence[EventType], applications: Sequence[Application],
    endpoints: Sequence[ImportedEndpoint], key_text: str | None, now: float,
) -> ImportCounts:  # fmt: skip
    """Check everything, then add or update it all in one transaction (nothing deleted).

    Sealed secrets need the key they were sealed under (422 without it, or with another);
    without sealed secrets, new endpoints get new secrets and existing ones keep theirs.
    """
    for event_type in event_types:
        check_versioning(event_type.schemas, event_type.transformations, event_type.enforce_schema)
    sealed = any(e.sealed_secret or e.sealed_headers for e in endpoints)
    box = None if key_text is None else secrets_box(key_text)
    if sealed and box is None:
        raise ValidationError(
            f"the document holds sealed secrets: give the key they were sealed under in the "
            f"{SECRETS_HEADER} header",
            field=("header", SECRETS_HEADER),
        )
    live_types = {e.name for e in event_types if not e.archived}
    built = [
        await _endpoint(storage, who, policy, item, box, live_types, now) for item in endpoints
    ]
    entry = action(
        who, "environment.imported", None, ("environment", "*"),
        {"eventTypes": len(event_types), "applications": len(applications),
         "endpoints": len(built), "withSecrets": sealed},
        now,
    )  # fmt: skip
    counts = await storage.import_environment(event_types, applications, built, sealed, entry)
    for event_type in event_types:
        cache.forget(event_type.name)
    return counts


async def _endpoint(
    storage: Storage, who: Principal, policy: ssrf.DestinationPolicy, item: ImportedEndpoint,
    box: SecretBox | None, live_types: set[str], now: float,
) -> Endpoint:  # fmt: skip
    draft = item.draft
    secret = None if item.sealed_secret is None else _unseal(box, item, "secret")
    headers = draft.headers
    if item.sealed_headers is not None:
        headers = orjson.loads(_unseal(box, item, "headers"))
    for name in draft.event_types or ():
        if "*" not in name and name not in live_types:
            await _live_event_type(storage, name, item.id)
    return Endpoint(
        id=item.id, app_id=item.app_id, url=await check_url(draft.url, who, policy),
        secret=normalise_secret(secret, "sealedSecret"), uid=draft.uid,
        description=draft.description, version=draft.version, disabled=draft.disabled,
        filter_types=None if draft.event_types is None else tuple(draft.event_types),
        channels=draft.channels, headers=headers, metadata=draft.metadata,
        rate_limit=draft.rate_limit, retry_schedule=draft.retry_schedule,
        created_at=now, updated_at=now, controls=draft.controls.build(draft.url),
    )  # fmt: skip


def _unseal(box: SecretBox | None, item: ImportedEndpoint, what: str) -> str:
    sealed = item.sealed_secret if what == "secret" else item.sealed_headers
    assert box is not None
    assert sealed is not None
    if not sealed.startswith(SEALED_PREFIX):  # a plain value would "unseal" to itself
        raise ValidationError(
            f"the sealed {what} of endpoint {item.id} is not a sealed value ({SEALED_PREFIX}...)",
            field=("settings", "hookline", "applications"),
        )
    try:
        return box.unseal(sealed, _context(item.id, what))
    except SecretKeyError as error:
        raise ValidationError(
            f"the sealed {what} of endpoint {item.id} does not unseal with the key given: "
            f"{error.detail}",
            field=("header", SECRETS_HEADER),
        ) from None


async def _live_event_type(storage: Storage, name: str, endpoint_id: str) -> None:
    try:
        found = await storage.get_event_type(name)
    except NotFoundError:
        found = None
    if found is None or found.archived:
        raise ValidationError(
            f"endpoint {endpoint_id} subscribes to event type {name!r}, which neither the "
            "document nor this server has (live)",
            field=("settings", "hookline", "applications"),
        )
