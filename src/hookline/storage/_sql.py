"""The storage logic shared by the SQL backends, written once against DB-API.

Each operation is a plain synchronous function of an open connection, run inside
a transaction that the backend provides (SQLite on its writer or reader threads,
PostgreSQL on a pool of connection threads). Queries come from ``queries/*.sql``;
the little that differs between databases is in ``Dialect``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from importlib import resources
from typing import Any, Protocol, TypeVar

import orjson

from hookline.domain import circuit as breaker
from hookline.domain import ids, jobs, operational, pacing, policy
from hookline.domain.audit import AuditEntry
from hookline.domain.circuit import Circuit, CircuitState
from hookline.domain.controls import Controls, ordering_key
from hookline.domain.models import (
    Application,
    Attempt,
    AttemptStatus,
    BackgroundTask,
    Delivery,
    DeliveryStatus,
    Endpoint,
    EndpointMessage,
    EndpointStats,
    EventType,
    Message,
    Page,
    SigningKey,
    Source,
    TriggerType,
)
from hookline.domain.routing import RouteTarget, route, route_payload
from hookline.domain.secrets import SecretBox
from hookline.domain.series import SeriesPoint, SourceStats, bucketed
from hookline.domain.tokens import ApiToken, hash_token
from hookline.errors import ConflictError, HooklineError, NotFoundError, SecretKeyError
from hookline.storage.base import (
    AttemptFilter,
    Checkpoint,
    ClaimedDelivery,
    Cursor,
    DeliveryState,
    IdempotentResponse,
    MessageFilter,
    Outcome,
    PublishResult,
    QueueStats,
    ReceiveResult,
    WebSession,
)

T = TypeVar("T")
Row = Sequence[Any]

#: Attempts read at most for one series of figures (the dashboard's charts).
SERIES_LIMIT = 200_000

#: A claim looks at this many times its limit of due rows to fill per-endpoint caps.
CLAIM_SCAN_FACTOR = 4

#: Smallest and largest possible ids: open bounds for keyset pagination.
_LOWEST = ""
_HIGHEST = "~"
#: Endpoints whose routing one process keeps in memory, over all applications (beyond
#: it, it starts over): tens of megabytes at most.
_MAX_CACHED_TARGETS = 100_000


class Connection(Protocol):
    """The slice of DB-API both sqlite3 and psycopg connections provide."""

    def execute(self, query: str, params: Any = ..., /) -> Any: ...


_NAME_LINE = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


def load_queries(*files: str) -> dict[str, str]:
    """Read named blocks (``-- name: x``) from ``queries/``; later files override earlier."""
    queries: dict[str, str] = {}
    for file in files:
        text = resources.files("hookline.storage").joinpath("queries", file).read_text()
        parts = _NAME_LINE.split(text)
        for name, body in zip(parts[1::2], parts[2::2], strict=True):
            lines = [line for line in body.strip().splitlines() if not line.startswith("--")]
            queries[name] = "\n".join(lines).strip().rstrip(";")
    for name, sql in list(queries.items()):
        if name.startswith("list_"):
            # Each list is written once, last-first; its first-first twin is derived.
            if sql.count(" DESC LIMIT ") != 1:
                raise ValueError(f"list query {name} must end in 'ORDER BY <key> DESC LIMIT'")
            queries[f"{name}.asc"] = sql.replace(" DESC LIMIT ", " ASC LIMIT ")
    return queries


@dataclass(frozen=True)
class Dialect:
    """What differs between the SQL databases hookline runs on."""

    name: str
    queries: dict[str, str]
    is_unique_violation: Callable[[Exception], bool]
    on_publish: Callable[[Connection], None] = lambda conn: None

    def q(self, name: str) -> str:
        """The text of a named query."""
        return self.queries[name]


def dumps(value: Any) -> str | None:
    """Encode a JSON column (None stays NULL)."""
    return None if value is None else orjson.dumps(value).decode()


def _loads(value: str | bytes | None) -> Any:
    return None if value is None else orjson.loads(value)


def _tuple(value: str | None) -> tuple[Any, ...] | None:
    loaded = _loads(value)
    return None if loaded is None else tuple(loaded)


# Row -> model ---------------------------------------------------------------


def _application(row: Row) -> Application:
    return Application(
        id=row[0], uid=row[1], name=row[2], rate_limit=row[3], metadata=_loads(row[4]),
        created_at=row[5], updated_at=row[6],
    )  # fmt: skip


def _event_type(row: Row) -> EventType:
    return EventType(
        name=row[0], description=row[1], archived=bool(row[2]), deprecated=bool(row[3]),
        schemas=_loads(row[4]), feature_flags=_tuple(row[5]), group_name=row[6],
        created_at=row[7], updated_at=row[8],
        transformations=(_loads(row[9]) or {}).get("transformations"),
        enforce_schema=bool((_loads(row[9]) or {}).get("enforce_schema")),
    )  # fmt: skip


# Endpoint secrets are sealed here, at the storage boundary: the columns hold only
# ciphertext, and every Endpoint or ClaimedDelivery handed out holds plaintext.


def _secret_context(endpoint_id: str, column: str) -> str:
    """The associated data binding a sealed secret to its endpoint and column."""
    return f"endpoint:{endpoint_id}:{column}"


def _seal_secrets(
    box: SecretBox, endpoint_id: str, secret: str, old_secrets: Sequence[SigningKey]
) -> tuple[str, str]:
    """The ``secret`` and ``old_secrets`` columns of an endpoint, sealed."""
    old_context = _secret_context(endpoint_id, "old_secrets")
    sealed_old = [
        {"secret": box.seal(key.secret, old_context), "expires_at": key.expires_at}
        for key in old_secrets
    ]
    sealed = box.seal(secret, _secret_context(endpoint_id, "secret"))
    return sealed, orjson.dumps(sealed_old).decode()


def _unseal_secret(box: SecretBox, endpoint_id: str, stored: str) -> str:
    return box.unseal(stored, _secret_context(endpoint_id, "secret"))


def _unseal_old_secrets(box: SecretBox, endpoint_id: str, stored: str) -> tuple[SigningKey, ...]:
    keys = orjson.loads(stored)
    if not keys:
        return ()
    context = _secret_context(endpoint_id, "old_secrets")
    return tuple(SigningKey(box.unseal(k["secret"], context), k.get("expires_at")) for k in keys)


def _endpoint(row: Row, box: SecretBox) -> Endpoint:
    return Endpoint(
        id=row[0], app_id=row[1], uid=row[2], url=row[3], description=row[4], version=row[5],
        disabled=bool(row[6]), filter_types=_tuple(row[7]), channels=_tuple(row[8]),
        headers=_loads(row[9]), metadata=_loads(row[10]), rate_limit=row[11],
        retry_schedule=_tuple(row[12]), secret=_unseal_secret(box, row[0], row[13]),
        old_secrets=_unseal_old_secrets(box, row[0], row[14]),
        failing_since=row[15], created_at=row[16], updated_at=row[17],
        controls=Controls.from_json(_loads(row[18])), paused=bool(row[19]),
    )  # fmt: skip


def _message(row: Row) -> Message:
    return Message(
        id=row[0], app_id=row[1], event_type=row[2], event_id=row[3], payload=bytes(row[4]),
        channels=_tuple(row[5]), tags=_tuple(row[6]), created_at=row[7], priority=row[8],
    )  # fmt: skip


def _delivery(row: Row) -> Delivery:
    return Delivery(
        id=row[0], msg_id=row[1], endpoint_id=row[2], app_id=row[3],
        status=DeliveryStatus(row[4]), attempts=row[5], next_attempt_at=row[6],
        created_at=row[7], updated_at=row[8],
    )  # fmt: skip


#: Fan-out rows inserted at a time when storing many messages at once.
_DELIVERY_ROWS_PER_INSERT = 10_000


def _attempt(row: Row) -> Attempt:
    return Attempt(
        id=row[0], delivery_id=row[1], msg_id=row[2], endpoint_id=row[3], app_id=row[4],
        url=row[5], status=AttemptStatus(row[6]), response_status_code=row[7], response=row[8],
        response_headers=_loads(row[9]), duration_ms=row[10], error_class=row[11],
        trigger_type=TriggerType(row[12]), created_at=row[13],
        request_headers=_loads(row[14]) if row[14] else {}, request_body=row[15],
    )  # fmt: skip


def _svix_status(status: str, lease_owner: str | None) -> AttemptStatus:
    """A delivery's state in Svix's terms: held and failed both read as Fail, and
    work parked by a pause, an open circuit or a FIFO queue reads as Pending."""
    if status == DeliveryStatus.SUCCESS:
        return AttemptStatus.SUCCESS
    if status == DeliveryStatus.PENDING:
        return AttemptStatus.SENDING if lease_owner else AttemptStatus.PENDING
    if status in (DeliveryStatus.WAITING, DeliveryStatus.QUEUED):
        return AttemptStatus.PENDING
    return AttemptStatus.FAIL


def _iso(at: float) -> str:
    """A stored time as Svix writes times in payloads (ISO 8601, UTC)."""
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


@functools.lru_cache(maxsize=4096)
def _controls(stored: str | None) -> Controls:
    """An endpoint's controls from their stored JSON (parsed once per distinct text: fan-out
    and claims read them for every endpoint and delivery)."""
    return Controls.from_json(_loads(stored))


@functools.lru_cache(maxsize=1024)
def _versioning(stored: str | None) -> dict[str, Any] | None:
    """An event type's versioning, parsed once per distinct text (read with every claim).

    Shared between deliveries: read only.
    """
    versioning: dict[str, Any] | None = _loads(stored)
    return versioning


@functools.lru_cache(maxsize=4096)
def _filter_text(stored: str | None) -> str | None:
    """The payload filter's own JSON text (the key its compiled form is cached under)."""
    found = _controls(stored).filter
    return None if found is None else dumps(found)


def _circuit(row: Row) -> Circuit:
    """A circuit from its stored columns (circuit, circuit_since ... window_failed)."""
    return Circuit(
        state=CircuitState(row[0] or "closed"), since=row[1], probe_at=row[2], probe_id=row[3],
        cooldown=row[4], window_start=row[5] or 0.0, window_total=row[6] or 0,
        window_failed=row[7] or 0,
    )  # fmt: skip


def _task(row: Row) -> BackgroundTask:
    return BackgroundTask(
        id=row[0], app_id=row[1], task=row[2], status=row[3], data=_loads(row[4]),
        created_at=row[5], updated_at=row[6],
    )  # fmt: skip


def _token(row: Row) -> ApiToken:
    return ApiToken(
        id=row[0], name=row[1], token_hash=row[2], prefix=row[3], app_id=row[4],
        read_only=bool(row[5]), session_id=row[6], created_by=row[7], created_at=row[8],
        expires_at=row[9], revoked_at=row[10],
    )  # fmt: skip


def _audit_entry(row: Row) -> AuditEntry:
    return AuditEntry(
        id=row[0], app_id=row[1], actor=row[2], action=row[3], resource_type=row[4],
        resource_id=row[5], before=_loads(row[6]), after=_loads(row[7]), created_at=row[8],
    )  # fmt: skip


def _json_rows(value: Any) -> list[list[Any]]:
    """A JSON array of rows, whether the driver hands it over as text or decoded."""
    rows: list[list[Any]] = orjson.loads(value) if isinstance(value, str | bytes) else value
    return rows


def _claimed(row: Row, box: SecretBox, send_at: Mapping[str, float]) -> ClaimedDelivery:
    # The payload travels as text inside the JSON answer; its UTF-8 bytes are the
    # stored bytes exactly (payloads are JSON, so always valid UTF-8).
    payload = row[8].encode() if isinstance(row[8], str) else bytes(row[8])
    # Unsealing on every claim is cheap: the box caches what it has decrypted. A secret
    # that does not unseal (a lost key, an altered row) spoils only its own delivery:
    # it is claimed with the problem, never sent, and retried on its schedule.
    problem = None
    try:
        secret = _unseal_secret(box, row[2], row[13])
        old_secrets = _unseal_old_secrets(box, row[2], row[14])
    except SecretKeyError as error:
        secret, old_secrets, problem = "", (), error.detail
    return ClaimedDelivery(
        id=row[0], msg_id=row[1], endpoint_id=row[2], app_id=row[3], attempts=row[4],
        manual=bool(row[6]), event_type=row[7], payload=payload, url=row[10],
        endpoint_disabled=bool(row[11]), headers=_loads(row[12]), secret=secret,
        old_secrets=old_secrets, retry_schedule=_tuple(row[15]), failing_since=row[16],
        message_headers=_loads(row[17]), problem=problem, version=row[18],
        controls=_controls(row[19]), versioning=_versioning(row[20]),
        order_key=row[21], send_at=send_at.get(row[0]), rate_limit=row[22],
        trace_parent=row[23],
    )  # fmt: skip


# Model -> parameters --------------------------------------------------------


def _application_params(app: Application) -> dict[str, Any]:
    return {
        "id": app.id, "uid": app.uid, "name": app.name, "rate_limit": app.rate_limit,
        "metadata": dumps(app.metadata), "created_at": app.created_at, "updated_at": app.updated_at,
    }  # fmt: skip


def _event_type_params(event_type: EventType) -> dict[str, Any]:
    # What delivery needs of versioning travels in one column, read with each claim.
    versioning = {
        "latest": event_type.latest_version,
        "transformations": event_type.transformations,
        "enforce_schema": event_type.enforce_schema,
    }
    return {
        "versioning": dumps(versioning),
        "name": event_type.name, "description": event_type.description,
        "archived": int(event_type.archived), "deprecated": int(event_type.deprecated),
        "schemas": dumps(event_type.schemas),
        "feature_flags": dumps(event_type.feature_flags),
        "group_name": event_type.group_name, "created_at": event_type.created_at,
        "updated_at": event_type.updated_at,
    }  # fmt: skip


def _endpoint_params(ep: Endpoint, box: SecretBox) -> dict[str, Any]:
    secret, old_secrets = _seal_secrets(box, ep.id, ep.secret, ep.old_secrets)
    return {
        "id": ep.id, "app_id": ep.app_id, "uid": ep.uid, "url": ep.url,
        "description": ep.description, "version": ep.version, "disabled": int(ep.disabled),
        "filter_types": dumps(ep.filter_types), "channels": dumps(ep.channels),
        "headers": dumps(ep.headers), "metadata": dumps(ep.metadata), "rate_limit": ep.rate_limit,
        "retry_schedule": dumps(ep.retry_schedule), "secret": secret, "old_secrets": old_secrets,
        "failing_since": ep.failing_since, "created_at": ep.created_at, "updated_at": ep.updated_at,
        "controls": dumps(ep.controls.to_json()), "paused": int(ep.paused),
    }  # fmt: skip


def _source_context(source_id: str, column: str) -> str:
    """The associated data binding a sealed source value to its source and column."""
    return f"source:{source_id}:{column}"


def _source(row: Row, box: SecretBox) -> Source:
    secrets = orjson.loads(box.unseal(row[7], _source_context(row[0], "secrets")))
    return Source(
        id=row[0], app_id=row[1], uid=row[2], name=row[3],
        token=box.unseal(row[4], _source_context(row[0], "token")), verifier=row[5],
        config=_loads(row[6]), secrets=tuple(secrets), dedup_window=row[8],
        forward_headers=bool(row[9]), created_at=row[10], updated_at=row[11],
    )  # fmt: skip


def _source_params(source: Source, box: SecretBox) -> dict[str, Any]:
    sealed_secrets = box.seal(
        dumps(list(source.secrets)) or "[]", _source_context(source.id, "secrets")
    )
    return {
        "id": source.id, "app_id": source.app_id, "uid": source.uid, "name": source.name,
        "token_hash": hash_token(source.token),
        "token": box.seal(source.token, _source_context(source.id, "token")),
        "verifier": source.verifier, "config": dumps(source.config), "secrets": sealed_secrets,
        "dedup_window": source.dedup_window, "forward_headers": int(source.forward_headers),
        "created_at": source.created_at, "updated_at": source.updated_at,
    }  # fmt: skip


def _message_params(message: Message) -> dict[str, Any]:
    return {
        "id": message.id, "app_id": message.app_id, "event_type": message.event_type,
        "event_id": message.event_id, "payload": message.payload,
        "channels": dumps(message.channels), "tags": dumps(message.tags),
        "created_at": message.created_at, "headers": dumps(message.headers),
        "source_id": message.source_id, "priority": message.priority,
        "expires_at": message.expires_at, "trace_parent": message.trace_parent,
    }  # fmt: skip


def _delivery_rows(
    message: Message, targets: Sequence[RouteTarget], body: object
) -> list[dict[str, Any]]:
    """One delivery per target, in the status ``policy.initial_status`` gives it.

    ``body`` is the parsed payload, needed only by FIFO endpoints with an ordering key.
    """
    rows = []
    for endpoint in targets:
        ordering = endpoint.controls.ordering
        key = None if ordering is None else ordering_key(ordering, body)
        status, due = policy.initial_status(endpoint, key, message.created_at)
        rows.append(
            {
                "id": ids.new_id(ids.DELIVERY, message.created_at),
                "msg_id": message.id,
                "endpoint_id": endpoint.id,
                "app_id": message.app_id,
                "status": status,
                "next_attempt_at": due,
                "created_at": message.created_at,
                "priority": message.priority,
                "order_key": key,
            }
        )
    return rows


def _fan_out(
    message: Message, endpoints: Sequence[RouteTarget]
) -> tuple[list[RouteTarget], object]:
    """The endpoints that get a delivery of ``message``, and its payload if it was parsed."""
    targets = route(endpoints, message.event_type, message.channels)
    body: object = None
    if any(t.filter_text is not None or t.controls.ordering is not None for t in targets):
        # Parsed once, only when a filter or an ordering key needs to look inside.
        body = parse_payload(message.payload)
        targets = route_payload(targets, body, message.headers)
    return targets, body


def parse_payload(payload: bytes) -> object:
    """The payload as JSON values (None if it is not JSON: filters then see nothing)."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None


def _token_params(token: ApiToken) -> dict[str, Any]:
    return {**asdict(token), "read_only": int(token.read_only)}


def _audit_params(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id, "app_id": entry.app_id, "actor": entry.actor, "action": entry.action,
        "resource_type": entry.resource_type, "resource_id": entry.resource_id,
        "before_state": dumps(entry.before), "after_state": dumps(entry.after),
        "created_at": entry.created_at,
    }  # fmt: skip


def _attempt_row(attempt: Attempt) -> list[Any]:
    """An attempt as one positional row of ``insert_attempts``."""
    return [
        attempt.id, attempt.delivery_id, attempt.msg_id, attempt.endpoint_id, attempt.app_id,
        attempt.url, int(attempt.status), attempt.response_status_code, attempt.response,
        dumps(attempt.response_headers), attempt.duration_ms, attempt.error_class,
        int(attempt.trigger_type), attempt.created_at, dumps(attempt.request_headers),
        attempt.request_body,
    ]  # fmt: skip


def _page(rows: list[T], limit: int, key: Callable[[T], str], cursor: Cursor) -> Page[T]:
    """Cut one extra fetched row off and turn it into Svix's ``done`` and iterators."""
    done = len(rows) <= limit
    data = rows[:limit]
    iterator = key(data[-1]) if data else cursor.iterator
    prev = key(data[0]) if data else cursor.iterator
    return Page(data=data, iterator=iterator, prev_iterator=prev, done=done)


@dataclass(frozen=True, slots=True)
class RekeyPage:
    """One batch of a re-key: the last endpoint id read, and what became of the rows."""

    last_id: str
    scanned: int
    rewritten: int
    #: Rows whose secrets changed between the read and the write: left for another pass.
    changed: int


class SqlOperations:
    """Every storage operation as a synchronous function of a connection."""

    def __init__(self, dialect: Dialect, secret_box: SecretBox) -> None:
        self.dialect = dialect
        self.q = dialect.q
        self.secret_box = secret_box
        # Each application's routing, by app id, with the routes_version it was read at:
        # valid while the database holds the same number (migration 0006's triggers).
        self._routes: dict[str, tuple[int, tuple[RouteTarget, ...]]] = {}
        self._routes_held = 0  # targets in _routes, all applications together

    def _one(self, conn: Connection, query: str, params: dict[str, Any]) -> Row | None:
        row: Row | None = conn.execute(self.q(query), params).fetchone()
        return row

    def _all(self, conn: Connection, query: str, params: dict[str, Any]) -> list[Row]:
        rows: list[Row] = conn.execute(self.q(query), params).fetchall()
        return rows

    def _insert(self, conn: Connection, query: str, params: dict[str, Any], what: str) -> None:
        try:
            conn.execute(self.q(query), params)
        except Exception as error:
            if self.dialect.is_unique_violation(error):
                raise ConflictError(f"{what} already exists") from None
            raise

    def _audit(self, conn: Connection, entry: AuditEntry | None) -> None:
        """Record a change in the same transaction as the change itself, and the
        operational webhook it makes, if any (so neither is ever lost or invented)."""
        if entry is None:
            return
        conn.execute(self.q("insert_audit"), _audit_params(entry))
        event_type = operational.event_type_of(entry)
        if event_type is not None and entry.app_id is not None:
            app = self._one(conn, "get_application", {"key": entry.app_id})
            app_uid = None if app is None else app[1]
            event = operational.endpoint_event(entry, event_type, app_uid)
            self._publish_operational(conn, [event], entry.created_at)

    def _publish_operational(
        self, conn: Connection, events: Sequence[dict[str, Any]], now: float
    ) -> None:
        """Publish operational events to the operator's endpoints (if there are any)."""
        if not events or self._one(conn, "has_operational_endpoints", {}) is None:
            return
        for event in events:
            message = Message(
                id=ids.new_id(ids.MESSAGE, now), app_id=operational.APP_ID,
                event_type=event["type"], payload=orjson.dumps(event), created_at=now,
            )  # fmt: skip
            self._store_messages(conn, [message], {})  # rare: its routing is read each time

    @staticmethod
    def _bounds(cursor: Cursor, ascending: bool) -> dict[str, Any]:
        if ascending:
            return {"after": cursor.iterator or _LOWEST, "before": _HIGHEST}
        return {"after": _LOWEST, "before": cursor.iterator or _HIGHEST}

    # applications ----------------------------------------------------------

    def create_application(
        self, conn: Connection, app: Application, audit: AuditEntry | None = None
    ) -> Application:
        what = f"an application with uid {app.uid!r}" if app.uid else "the application"
        self._insert(conn, "insert_application", _application_params(app), what)
        self._audit(conn, audit)
        return app

    def get_application(self, conn: Connection, key: str) -> Application:
        row = self._one(conn, "get_application", {"key": key})
        if row is None:
            raise NotFoundError(f"application {key!r} not found")
        return _application(row)

    def _list(
        self, conn: Connection, query: str, cursor: Cursor, default_ascending: bool = False,
        **params: Any,
    ) -> list[Row]:  # fmt: skip
        """Run a ``list_*`` query for one page (plus one row, to tell whether more follow)."""
        ascending = default_ascending if cursor.ascending is None else cursor.ascending
        name = f"{query}.asc" if ascending else query
        bounds = self._bounds(cursor, ascending)
        return self._all(conn, name, {**bounds, "limit": cursor.limit + 1, **params})

    def list_applications(self, conn: Connection, cursor: Cursor) -> Page[Application]:
        rows = [_application(r) for r in self._list(conn, "list_applications", cursor)]
        return _page(rows, cursor.limit, lambda a: a.id, cursor)

    def update_application(
        self, conn: Connection, app: Application, audit: AuditEntry | None = None
    ) -> Application:
        try:
            conn.execute(self.q("update_application"), _application_params(app))
        except Exception as error:
            if self.dialect.is_unique_violation(error):
                raise ConflictError(f"an application with uid {app.uid!r} already exists") from None
            raise
        self._audit(conn, audit)
        return app

    def delete_application(
        self, conn: Connection, app_id: str, audit: AuditEntry | None = None
    ) -> None:
        # Children first, by name: deleting an application removes all of its data
        # (and its tokens stop working at once).
        for query in (
            "delete_app_attempts", "delete_app_deliveries", "delete_app_messages",
            "delete_app_endpoint_states", "delete_app_endpoints", "delete_app_tokens",
            "delete_app_source_data", "delete_app_dedup_keys", "delete_app_checkpoints",
            "delete_app_tasks", "delete_app_sources", "delete_application",
        ):  # fmt: skip
            conn.execute(self.q(query), {"id": app_id})
        self._audit(conn, audit)

    # event types -----------------------------------------------------------

    def create_event_type(
        self, conn: Connection, event_type: EventType, audit: AuditEntry | None = None
    ) -> EventType:
        self._insert(
            conn, "insert_event_type", _event_type_params(event_type),
            f"event type {event_type.name!r}",
        )  # fmt: skip
        self._audit(conn, audit)
        return event_type

    def get_event_type(self, conn: Connection, name: str) -> EventType:
        row = self._one(conn, "get_event_type", {"name": name})
        if row is None:
            raise NotFoundError(f"event type {name!r} not found")
        return _event_type(row)

    def list_event_types(
        self, conn: Connection, cursor: Cursor, include_archived: bool
    ) -> Page[EventType]:
        found = self._list(
            conn, "list_event_types", cursor, default_ascending=True,
            include_archived=int(include_archived),
        )  # fmt: skip
        rows = [_event_type(r) for r in found]
        return _page(rows, cursor.limit, lambda e: e.name, cursor)

    def update_event_type(
        self, conn: Connection, event_type: EventType, audit: AuditEntry | None = None
    ) -> EventType:
        conn.execute(self.q("update_event_type"), _event_type_params(event_type))
        self._audit(conn, audit)
        return event_type

    def delete_event_type(
        self, conn: Connection, name: str, audit: AuditEntry | None = None
    ) -> None:
        conn.execute(self.q("delete_event_type"), {"name": name})
        self._audit(conn, audit)

    # endpoints -------------------------------------------------------------

    def create_endpoint(
        self, conn: Connection, endpoint: Endpoint, audit: AuditEntry | None = None
    ) -> Endpoint:
        what = f"an endpoint with uid {endpoint.uid!r}" if endpoint.uid else "the endpoint"
        self._insert(conn, "insert_endpoint", _endpoint_params(endpoint, self.secret_box), what)
        self._audit(conn, audit)
        return endpoint

    def get_endpoint(self, conn: Connection, app_id: str, key: str) -> Endpoint:
        row = self._one(conn, "get_endpoint", {"app_id": app_id, "key": key})
        if row is None:
            raise NotFoundError(f"endpoint {key!r} not found")
        return _endpoint(row, self.secret_box)

    def list_endpoints(self, conn: Connection, app_id: str, cursor: Cursor) -> Page[Endpoint]:
        found = self._list(conn, "list_endpoints", cursor, app_id=app_id)
        rows = [_endpoint(r, self.secret_box) for r in found]
        return _page(rows, cursor.limit, lambda e: e.id, cursor)

    def update_endpoint(
        self, conn: Connection, endpoint: Endpoint, audit: AuditEntry | None = None
    ) -> Endpoint:
        previous = self.get_endpoint(conn, endpoint.app_id, endpoint.id)
        try:
            conn.execute(self.q("update_endpoint"), _endpoint_params(endpoint, self.secret_box))
        except Exception as error:
            if self.dialect.is_unique_violation(error):
                raise ConflictError(
                    f"an endpoint with uid {endpoint.uid!r} already exists"
                ) from None
            raise
        if endpoint.disabled and not previous.disabled:
            conn.execute(
                self.q("hold_endpoint_backlog"),
                {"endpoint_id": endpoint.id, "now": endpoint.updated_at},
            )
        if endpoint.paused != previous.paused:
            self._pause_changed(conn, endpoint, endpoint.updated_at)
        self._audit(conn, audit)
        return endpoint

    def set_paused(
        self, conn: Connection, app_id: str, key: str, paused: bool, now: float,
        audit: AuditEntry | None = None,
    ) -> Endpoint:  # fmt: skip
        endpoint = self.get_endpoint(conn, app_id, key)
        if endpoint.paused == paused:
            return endpoint
        conn.execute(self.q("set_paused"), {"id": endpoint.id, "paused": int(paused), "now": now})
        changed = replace(endpoint, paused=paused, updated_at=now)
        self._pause_changed(conn, changed, now)
        self._audit(conn, audit)
        return changed

    def _pause_changed(self, conn: Connection, endpoint: Endpoint, now: float) -> None:
        """Park the endpoint's due work when paused; let it go (if its circuit is closed too)
        when resumed."""
        if endpoint.paused:
            conn.execute(self.q("park_endpoint"), {"endpoint_id": endpoint.id, "now": now})
            return
        circuit = self._circuits(conn, [endpoint.id]).get(endpoint.id, breaker.CLOSED)
        if circuit.state is CircuitState.CLOSED:
            self._unpark(conn, endpoint.id, now)
        else:
            # A probe chosen while paused was parked again: probe afresh, now.
            self._save_circuit(
                conn, endpoint.id, replace(circuit, state=CircuitState.OPEN, probe_at=now)
            )

    def _unpark(self, conn: Connection, endpoint_id: str, now: float) -> None:
        conn.execute(self.q("unpark_endpoint"), {"endpoint_id": endpoint_id, "now": now})
        self._promote_all(conn, endpoint_id, now)
        self.dialect.on_publish(conn)

    def _promote_all(self, conn: Connection, endpoint_id: str, now: float) -> None:
        """Let the head of every FIFO key of the endpoint go."""
        keys = [
            r[0] for r in self._all(conn, "fifo_keys_of_endpoint", {"endpoint_id": endpoint_id})
        ]
        self._promote(conn, [(endpoint_id, key) for key in keys], now)

    def _promote(self, conn: Connection, keys: Sequence[tuple[str, str]], now: float) -> None:
        if keys:
            self._executemany(
                conn, "fifo_promote",
                [{"endpoint_id": ep, "order_key": key, "now": now} for ep, key in keys],
            )  # fmt: skip

    def delivery_state(self, conn: Connection, app_id: str, key: str, now: float) -> DeliveryState:
        endpoint = self.get_endpoint(conn, app_id, key)
        row = self._one(conn, "endpoint_state", {"endpoint_id": endpoint.id, "now": now})
        assert row is not None  # one row, whether or not the endpoint has state yet
        pace = pacing.Pace(tat=row[0] or 0.0, throttled_at=row[1], throttled_rate=row[2])
        circuit = _circuit(row[3:11])
        rate = pacing.effective_rate(endpoint.rate_limit, pace, now)
        return DeliveryState(
            paused=endpoint.paused, circuit=circuit, rate_limit=endpoint.rate_limit,
            effective_rate=rate,
            throttled_at=pace.throttled_at if rate != endpoint.rate_limit else None,
            next_slot_at=pace.tat if pace.tat > now else None,
            waiting=int(row[11]), queued=int(row[12]), in_flight=int(row[13]),
        )  # fmt: skip

    def delete_endpoint(
        self, conn: Connection, app_id: str, endpoint_id: str, audit: AuditEntry | None = None
    ) -> None:
        endpoint = self.get_endpoint(conn, app_id, endpoint_id)
        for query in (
            "delete_endpoint_attempts", "delete_endpoint_deliveries", "delete_endpoint_state",
            "delete_endpoint",
        ):  # fmt: skip
            conn.execute(self.q(query), {"id": endpoint.id})
        self._audit(conn, audit)

    def rekey_page(self, conn: Connection, after: str, limit: int) -> RekeyPage:
        """Re-seal under the sealing key the secrets of up to ``limit`` endpoints after ``after``.

        Rows already sealed under that key are left alone; legacy plaintext is sealed.
        A row is written only if its secrets are still what was read, so a rotation
        that lands meanwhile is never overwritten with the secret it replaced.
        """
        rows = self._all(conn, "endpoint_secrets_after", {"after": after, "limit": limit})
        rewritten = changed = 0
        for endpoint_id, secret, old_secrets in rows:
            if self._sealed_under_current_key(secret, old_secrets):
                continue
            new_secret, new_old_secrets = _seal_secrets(
                self.secret_box, endpoint_id,
                _unseal_secret(self.secret_box, endpoint_id, secret),
                _unseal_old_secrets(self.secret_box, endpoint_id, old_secrets),
            )  # fmt: skip
            params = {
                "id": endpoint_id, "secret": secret, "old_secrets": old_secrets,
                "new_secret": new_secret, "new_old_secrets": new_old_secrets,
            }  # fmt: skip
            if conn.execute(self.q("reseal_endpoint_secrets"), params).rowcount == 1:
                rewritten += 1
            else:
                changed += 1
        last_id = rows[-1][0] if rows else after
        return RekeyPage(last_id=last_id, scanned=len(rows), rewritten=rewritten, changed=changed)

    def rekey_source_page(self, conn: Connection, after: str, limit: int) -> RekeyPage:
        """``rekey_page`` for inbound sources: their receiving token and their secrets."""
        rows = self._all(conn, "source_secrets_after", {"after": after, "limit": limit})
        rewritten = changed = 0
        box = self.secret_box
        for source_id, token, secrets in rows:
            if box.is_current(token) and box.is_current(secrets):
                continue
            token_context = _source_context(source_id, "token")
            secrets_context = _source_context(source_id, "secrets")
            params = {
                "id": source_id, "token": token, "secrets": secrets,
                "new_token": box.seal(box.unseal(token, token_context), token_context),
                "new_secrets": box.seal(box.unseal(secrets, secrets_context), secrets_context),
            }  # fmt: skip
            if conn.execute(self.q("reseal_source_secrets"), params).rowcount == 1:
                rewritten += 1
            else:
                changed += 1
        last_id = rows[-1][0] if rows else after
        return RekeyPage(last_id=last_id, scanned=len(rows), rewritten=rewritten, changed=changed)

    def _sealed_under_current_key(self, secret: str, old_secrets: str) -> bool:
        box = self.secret_box
        return box.is_current(secret) and all(
            box.is_current(key["secret"]) for key in orjson.loads(old_secrets)
        )

    # messages and fan-out --------------------------------------------------

    def publish(self, conn: Connection, message: Message) -> PublishResult:
        """Store ``message`` and its deliveries; its ``app_id`` may be the application's uid."""
        outcome = self.publish_many(conn, [message])[0]
        if isinstance(outcome, HooklineError):
            raise outcome
        return outcome

    def publish_many(
        self, conn: Connection, messages: Sequence[Message]
    ) -> list[PublishResult | HooklineError]:
        """``publish`` for many messages at once, one outcome per message, in order.

        Each application is looked up once, and the messages and their deliveries
        are inserted with one statement each. A message naming no application gets
        its ``NotFoundError`` as its outcome and the others are stored; if an insert
        fails (an eventId already taken), it raises and the caller's savepoint drops
        them all.
        """
        found: dict[str, tuple[str, int] | None] = {}
        outcomes: list[Message | HooklineError] = []
        for message in messages:
            key = message.app_id
            if key not in found:
                row = self._one(conn, "publish_application", {"key": key})
                found[key] = None if row is None else (row[0], int(row[1]))
            app = found[key]
            if app is None:
                outcomes.append(NotFoundError(f"application {key!r} not found"))
            else:
                outcomes.append(message if app[0] == key else replace(message, app_id=app[0]))
        versions = {app[0]: app[1] for app in found.values() if app is not None}
        stored = [outcome for outcome in outcomes if isinstance(outcome, Message)]
        counts = self._store_messages(conn, stored, versions)
        return [
            PublishResult(message=outcome, deliveries=counts[outcome.id])
            if isinstance(outcome, Message) else outcome
            for outcome in outcomes
        ]  # fmt: skip

    def _store_messages(
        self, conn: Connection, messages: Sequence[Message], versions: Mapping[str, int | None]
    ) -> dict[str, int]:
        """Insert messages and fan them out (``versions``: each application's routing
        version, None to read the routing afresh); the deliveries made per message id."""
        if not messages:
            return {}
        try:
            self._executemany(conn, "insert_message", [_message_params(m) for m in messages])
        except Exception as error:
            if not self.dialect.is_unique_violation(error):
                raise
            taken = ", ".join(repr(m.event_id) for m in messages if m.event_id is not None)
            raise ConflictError(f"a message with eventId {taken} already exists") from None
        routes: dict[str, tuple[RouteTarget, ...]] = {}
        rows: list[dict[str, Any]] = []
        chosen: list[RouteTarget] = []
        counts: dict[str, int] = {}
        for message in messages:
            app_id = message.app_id
            if app_id not in routes:
                routes[app_id] = self._routes_of(conn, app_id, versions.get(app_id))
            targets, body = _fan_out(message, routes[app_id])
            rows.extend(_delivery_rows(message, targets, body))
            chosen.extend(targets)
            counts[message.id] = len(targets)
            if len(rows) >= _DELIVERY_ROWS_PER_INSERT:
                # A batch of messages to applications with thousands of endpoints each
                # must not build millions of rows in memory before the first insert.
                self._insert_deliveries(conn, rows, chosen, message.created_at)
                rows, chosen = [], []
        self._insert_deliveries(conn, rows, chosen, messages[-1].created_at)
        return counts

    def _insert_deliveries(
        self, conn: Connection, rows: list[dict[str, Any]], targets: Sequence[RouteTarget],
        now: float,
    ) -> None:  # fmt: skip
        """Insert fan-out's rows, then choose FIFO heads and flush full batches."""
        if not rows:
            return
        self._executemany(conn, "insert_delivery", rows)
        fifo = sorted({(r["endpoint_id"], r["order_key"]) for r in rows if r["status"] == "queued"})
        if fifo:
            # Concurrent publishers to one FIFO endpoint take turns here (PostgreSQL), so
            # each sees the other's queue when choosing the head.
            self._lock_states(conn, sorted({ep for ep, _ in fifo}))
            self._promote(conn, fifo, now)
        flushed = set()
        for target in targets:
            if target.controls.batching is not None and target.id not in flushed:
                flushed.add(target.id)
                self._flush_full_batch(conn, target, now)
        self.dialect.on_publish(conn)

    def _flush_full_batch(self, conn: Connection, target: RouteTarget, now: float) -> None:
        """A batching endpoint with a full batch waiting gets it now, not at its deadline."""
        batching = target.controls.batching
        assert batching is not None
        window = {"endpoint_id": target.id, "since": now - batching.max_wait - 1.0, "now": now}
        row = self._one(conn, "batch_ready", window)
        if row is not None and int(row[0]) >= batching.max_size:
            conn.execute(self.q("batch_flush"), window)

    def _lock_states(
        self, conn: Connection, endpoint_ids: Sequence[str], wait: bool = True
    ) -> set[str]:
        """Make sure the endpoints have a state row, and (PostgreSQL) lock them.

        Without ``wait``, rows another transaction holds are skipped: the endpoints
        whose rows are now locked (on SQLite, the one writer, all of them) are returned.
        """
        ids_json = dumps(list(endpoint_ids))
        conn.execute(self.q("ensure_endpoint_state"), {"ids": ids_json})
        query = "lock_endpoint_states" if wait else "try_lock_endpoint_states"
        if query not in self.dialect.queries:
            return set(endpoint_ids)
        return {r[0] for r in conn.execute(self.q(query), {"ids": ids_json}).fetchall()}

    def _routes_of(
        self, conn: Connection, app_id: str, version: int | None
    ) -> tuple[RouteTarget, ...]:
        """The application's routing: from memory while ``version`` (the application's
        routes_version, read in this transaction) is the one it was read at."""
        cached = self._routes.get(app_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        targets = tuple(self._route_targets(conn, app_id))
        if version is not None:
            if cached is not None:
                self._routes_held -= len(cached[1])
            if self._routes_held + len(targets) > _MAX_CACHED_TARGETS:
                self._routes.clear()
                self._routes_held = 0
            self._routes[app_id] = (version, targets)
            self._routes_held += len(targets)
        return targets

    def _route_targets(self, conn: Connection, app_id: str) -> list[RouteTarget]:
        targets = []
        for r in self._all(conn, "route_targets", {"app_id": app_id}):
            controls = _controls(r[5])
            targets.append(
                RouteTarget(
                    id=r[0],
                    disabled=bool(r[1]),
                    filter_types=_tuple(r[2]),
                    channels=_tuple(r[3]),
                    paused=bool(r[4]),
                    controls=controls,
                    circuit_open=r[6] is not None and r[6] != CircuitState.CLOSED,
                    filter_text=_filter_text(r[5]),
                )
            )
        return targets

    def _executemany(self, conn: Connection, query: str, rows: list[dict[str, Any]]) -> None:
        conn.executemany(self.q(query), rows)  # type: ignore[attr-defined]

    def get_message(self, conn: Connection, app_id: str, key: str) -> Message:
        row = self._one(conn, "get_message", {"app_id": app_id, "key": key})
        if row is None:
            raise NotFoundError(f"message {key!r} not found")
        return _message(row)

    def list_messages(
        self, conn: Connection, app_id: str, cursor: Cursor, where: MessageFilter
    ) -> Page[Message]:
        found = self._list(
            conn, "list_messages", cursor, app_id=app_id,
            event_types=dumps(list(where.event_types)) if where.event_types else None,
            channel=where.channel, tag=where.tag, since=where.since, until=where.until,
        )  # fmt: skip
        rows = [_message(r) for r in found]
        return _page(rows, cursor.limit, lambda m: m.id, cursor)

    # the queue ---------------------------------------------------------------

    def claim(
        self,
        conn: Connection,
        worker: str,
        now: float,
        lease_until: float,
        limit: int,
        busy: Mapping[str, int],
        per_endpoint: int | None,
    ) -> list[ClaimedDelivery]:
        cap = per_endpoint if per_endpoint is not None else limit
        params = {
            "worker": worker,
            "now": now,
            "lease_until": lease_until,
            "limit": limit,
            "busy": dumps(dict(busy)),
            "cap": cap,
            # Full endpoints are skipped in the scan itself, so the window holds work.
            "exclude": dumps([endpoint for endpoint, n in busy.items() if n >= cap]),
            "scan": limit * CLAIM_SCAN_FACTOR,
        }
        # Each statement answers one row (JSON), however many are claimed.
        chosen = self._one(conn, "claim_ids", params)
        candidates = _json_rows(chosen[0] if chosen is not None else "[]")
        if not candidates:
            return []
        send_at: dict[str, float] = {}
        admitted = self._admit(conn, candidates, now, send_at)
        return self._lease(conn, worker, admitted, lease_until, send_at)

    def _lease(
        self, conn: Connection, worker: str, ids: list[str], lease_until: float,
        send_at: Mapping[str, float],
    ) -> list[ClaimedDelivery]:  # fmt: skip
        if not ids:
            return []
        claim = {"ids": dumps(ids), "worker": worker, "lease_until": lease_until}
        conn.execute(self.q("claim_mark"), claim)
        details = self._one(conn, "claim_details", claim)
        rows = _json_rows(details[0] if details is not None else "[]")
        rows.sort(key=lambda r: (r[5], r[0]))  # oldest due first, as claimed
        return [_claimed(r, self.secret_box, send_at) for r in rows]

    def _admit(
        self, conn: Connection, candidates: list[list[Any]], now: float,
        send_at: dict[str, float],
    ) -> list[str]:  # fmt: skip
        """The candidates ([id, endpoint id, order key]) that may go now, in their order.

        The rest are put where they belong: FIFO candidates that are not their key's
        head back in the queue, those of a paused or open endpoint to wait, and those
        the endpoint's pace or in-flight cap holds back to their later slot.
        ``send_at`` learns the slot of each admitted candidate of a paced endpoint.
        """
        candidates = self._fifo_heads(conn, candidates, now)
        endpoint_ids = sorted({c[1] for c in candidates})
        info = {r[0]: r for r in self._all(conn, "endpoint_controls", {"ids": dumps(endpoint_ids)})}
        parked: list[str] = []
        by_endpoint: dict[str, list[str]] = {}
        for delivery_id, endpoint_id, _ in candidates:
            row = info.get(endpoint_id)
            if row is None:
                continue  # the endpoint was deleted (and its deliveries with it)
            circuit = Circuit(state=CircuitState(row[7] or "closed"), probe_id=row[8])
            if row[2] or not circuit.lets_through(delivery_id):
                parked.append(delivery_id)
            else:
                by_endpoint.setdefault(endpoint_id, []).append(delivery_id)
        if parked:
            conn.execute(self.q("park_deliveries"), {"ids": dumps(parked), "now": now})
        paced = sorted(
            ep for ep in by_endpoint
            if info[ep][1] is not None or info[ep][6] is not None
            or _controls(info[ep][3]).max_in_flight is not None
        )  # fmt: skip
        if not paced:
            going = {d for ids_ in by_endpoint.values() for d in ids_}
            return [c[0] for c in candidates if c[0] in going]
        return self._pace(conn, by_endpoint, paced, now, send_at)

    def _fifo_heads(
        self, conn: Connection, candidates: list[list[Any]], now: float
    ) -> list[list[Any]]:
        """Drop FIFO candidates with an earlier open delivery of their key (a race of two
        publishers made them due): they go back in the queue, and the true head goes."""
        fifo = [c[0] for c in candidates if c[2] is not None]
        if not fifo:
            return candidates
        behind = self._all(conn, "fifo_earlier_open", {"ids": dumps(fifo)})
        if not behind:
            return candidates
        demoted = {r[0] for r in behind}
        conn.execute(self.q("fifo_demote"), {"ids": dumps(sorted(demoted))})
        self._promote(conn, sorted({(r[1], r[2]) for r in behind}), now)
        return [c for c in candidates if c[0] not in demoted]

    def _pace(
        self, conn: Connection, by_endpoint: dict[str, list[str]], paced: list[str], now: float,
        send_at: dict[str, float],
    ) -> list[str]:  # fmt: skip
        """Admit the candidates of paced endpoints within their rate and in-flight cap."""
        locked = self._lock_states(conn, paced, wait=False)
        # Read again under the lock: another worker's claim may have moved the pace.
        fresh = {
            r[0]: r for r in self._all(conn, "endpoint_controls", {"ids": dumps(sorted(locked))})
        }
        capped = [ep for ep in fresh if _controls(fresh[ep][3]).max_in_flight]
        in_flight: dict[str, int] = {}
        if capped:
            found = self._all(conn, "in_flight", {"ids": dumps(capped), "now": now})
            in_flight = {r[0]: int(r[1]) for r in found}
        admitted: list[str] = []
        postponed: list[list[Any]] = []
        for endpoint_id, delivery_ids in by_endpoint.items():
            if endpoint_id not in paced:
                admitted.extend(delivery_ids)
                continue
            if endpoint_id not in fresh:
                # Another worker is pacing this endpoint right now: look again shortly.
                postponed.extend([d, now + pacing.RECHECK] for d in delivery_ids)
                continue
            row = fresh[endpoint_id]
            pace = pacing.Pace(tat=row[4] or 0.0, throttled_at=row[5], throttled_rate=row[6])
            admission = pacing.admit(
                len(delivery_ids), row[1], pace, now, in_flight.get(endpoint_id, 0),
                _controls(row[3]).max_in_flight,
            )  # fmt: skip
            going = delivery_ids[: len(admission.send_at)]
            admitted.extend(going)
            send_at.update(zip(going, admission.send_at, strict=True))
            waiting = delivery_ids[len(going) :]
            postponed.extend(
                [d, due] for d, due in zip(waiting, admission.postpone_to, strict=True)
            )
            if admission.pace != pace:
                self._save_pace(conn, endpoint_id, admission.pace)
        if postponed:
            conn.execute(self.q("postpone_deliveries"), {"rows": orjson.dumps(postponed).decode()})
        return admitted

    def _save_pace(self, conn: Connection, endpoint_id: str, pace: pacing.Pace) -> None:
        conn.execute(
            self.q("save_pace"),
            {
                "endpoint_id": endpoint_id, "tat": pace.tat, "throttled_at": pace.throttled_at,
                "throttled_rate": pace.throttled_rate,
            },
        )  # fmt: skip

    def claim_batch(
        self, conn: Connection, worker: str, endpoint_id: str, since: float,
        exclude: Sequence[str], limit: int, lease_until: float,
    ) -> list[ClaimedDelivery]:  # fmt: skip
        params = {
            "endpoint_id": endpoint_id, "since": since, "exclude": dumps(list(exclude)),
            "limit": limit,
        }  # fmt: skip
        ids = [r[0] for r in self._all(conn, "batch_fill_ids", params)]
        return self._lease(conn, worker, ids, lease_until, {})

    def start_probes(self, conn: Connection, now: float) -> int:
        started = 0
        for (endpoint_id,) in self._all(conn, "circuits_to_probe", {"now": now}):
            self._lock_states(conn, [endpoint_id])
            circuit = self._circuits(conn, [endpoint_id]).get(endpoint_id)
            if circuit is None or circuit.state is not CircuitState.OPEN:
                continue  # another worker got here first
            row = self._one(conn, "first_waiting", {"endpoint_id": endpoint_id})
            if row is None:
                # Nothing waits, so there is nothing to probe with: close, and let new
                # work find out afresh (the breaker opens again if it still fails).
                self._save_circuit(conn, endpoint_id, Circuit(window_start=now))
                continue
            conn.execute(self.q("make_probe"), {"id": row[0], "now": now})
            self._save_circuit(conn, endpoint_id, breaker.probe(circuit, row[0]))
            started += 1
        if started:
            self.dialect.on_publish(conn)
        return started

    def _circuits(self, conn: Connection, endpoint_ids: Sequence[str]) -> dict[str, Circuit]:
        rows = self._all(conn, "get_circuits", {"ids": dumps(list(endpoint_ids))})
        return {r[0]: _circuit(r[1:]) for r in rows}

    def _save_circuit(self, conn: Connection, endpoint_id: str, c: Circuit) -> None:
        conn.execute(
            self.q("save_circuit"),
            {
                "endpoint_id": endpoint_id, "circuit": str(c.state), "since": c.since,
                "probe_at": c.probe_at, "probe_id": c.probe_id, "cooldown": c.cooldown,
                "window_start": c.window_start, "window_total": c.window_total,
                "window_failed": c.window_failed,
            },
        )  # fmt: skip

    def release(self, conn: Connection, worker: str, delivery_ids: Sequence[str]) -> None:
        if delivery_ids:
            self._executemany(
                conn, "release_delivery", [{"id": i, "worker": worker} for i in delivery_ids]
            )

    def record(
        self, conn: Connection, worker: str, outcomes: Sequence[Outcome], now: float
    ) -> None:
        attempts = [_attempt_row(o.attempt) for o in outcomes if o.attempt is not None]
        if attempts:
            conn.execute(self.q("insert_attempts"), {"rows": orjson.dumps(attempts).decode()})
        finished = [
            [o.delivery_id, str(o.status), int(o.attempt is not None), o.next_attempt_at]
            for o in outcomes
        ]
        conn.execute(
            self.q("finish_deliveries"),
            {"rows": orjson.dumps(finished).decode(), "worker": worker, "now": now},
        )
        # One health update per endpoint per batch: the last outcome is the news.
        health: dict[str, str] = {}
        for o in outcomes:
            if o.endpoint_health is not None:
                health[o.endpoint_id] = o.endpoint_health
        ok = sorted(ep for ep, state in health.items() if state == "ok")
        failing = sorted(ep for ep, state in health.items() if state == "failing")
        if ok:
            conn.execute(self.q("endpoint_succeeded"), {"ids": dumps(ok)})
        if failing:
            conn.execute(self.q("endpoint_failed"), {"ids": dumps(failing), "now": now})
        disabled = []
        disabling = {o.endpoint_id: o.disabled for o in reversed(outcomes) if o.disabled}
        for endpoint_id in sorted(disabling):
            if conn.execute(self.q("endpoint_disable"), {"id": endpoint_id, "now": now}).rowcount:
                disabled.append(endpoint_id)
                self._audit(conn, disabling[endpoint_id])
            conn.execute(self.q("hold_endpoint_backlog"), {"endpoint_id": endpoint_id, "now": now})
        self._operational_outcomes(conn, outcomes, disabled, now)
        self._observe_circuits(conn, outcomes, now)
        self._throttle(conn, outcomes, now)
        retries = [o.delivery_id for o in outcomes if o.status == DeliveryStatus.PENDING]
        if retries:
            # A retry of an endpoint paused or opened meanwhile waits with the rest.
            conn.execute(self.q("park_gated"), {"ids": dumps(retries)})
        heads_done = {
            (o.endpoint_id, o.order_key)
            for o in outcomes
            if o.order_key is not None and o.status != DeliveryStatus.PENDING
        }
        if heads_done:
            self._promote(conn, sorted(heads_done), now)

    def _operational_outcomes(
        self, conn: Connection, outcomes: Sequence[Outcome], disabled: list[str], now: float
    ) -> None:
        """Publish the operational events the outcomes name (attempts failing, exhausted or
        recovered; endpoints the worker ``disabled`` now), with the names storage holds."""
        noted = []
        app_of: dict[str, str] = {}
        for o in outcomes:
            if o.attempt is None:
                continue
            for event_type in o.operational:
                if event_type == operational.ENDPOINT_DISABLED:
                    app_of[o.endpoint_id] = o.attempt.app_id
                else:
                    noted.append((event_type, o.attempt))
        disabled = [ep for ep in disabled if ep in app_of]
        if not noted and not disabled:
            return
        if self._one(conn, "has_operational_endpoints", {}) is None:
            return
        msg_ids = dumps([attempt.msg_id for _, attempt in noted])
        context = {
            r[0]: (r[1], r[2]) for r in self._all(conn, "operational_context", {"ids": msg_ids})
        }
        events = []
        for event_type, attempt in noted:
            app_uid, event_id = context.get(attempt.msg_id, (None, None))
            events.append(
                operational.attempt_event(
                    event_type,
                    attempt.app_id,
                    app_uid,
                    attempt.msg_id,
                    event_id,
                    attempt.endpoint_id,
                    attempt.id,
                    attempt.response_status_code,
                    _iso(attempt.created_at),
                )
            )
        for r in self._all(conn, "endpoint_uids", {"ids": dumps(disabled)}) if disabled else []:
            fail_since = None if r[3] is None else _iso(r[3])
            events.append(
                operational.endpoint_disabled_automatically(
                    app_of[r[0]], r[2], r[0], r[1], fail_since
                )
            )
        self._publish_operational(conn, events, now)

    def _observe_circuits(self, conn: Connection, outcomes: Sequence[Outcome], now: float) -> None:
        """Count outcomes into their endpoints' circuit breakers, opening or closing them."""
        counted: dict[str, list[Outcome]] = {}
        for o in outcomes:
            if o.circuit is not None:
                counted.setdefault(o.endpoint_id, []).append(o)
        if not counted:
            return
        self._lock_states(conn, sorted(counted))
        circuits = self._circuits(conn, sorted(counted))
        for endpoint_id, batch in counted.items():
            before = circuits.get(endpoint_id, breaker.CLOSED)
            change = policy.circuit_after(before, batch, now)
            if change.after == before:
                continue
            self._save_circuit(conn, endpoint_id, change.after)
            if change.park:
                conn.execute(self.q("park_endpoint"), {"endpoint_id": endpoint_id, "now": now})
            elif change.unpark:
                row = self._one(conn, "endpoint_controls", {"ids": dumps([endpoint_id])})
                if row is not None and not row[2]:
                    self._unpark(conn, endpoint_id, now)

    def _throttle(self, conn: Connection, outcomes: Sequence[Outcome], now: float) -> None:
        """Slow down the endpoints that answered 429 (the last such answer of each)."""
        throttled = {o.endpoint_id: o.throttle for o in outcomes if o.throttle is not None}
        if not throttled:
            return
        self._lock_states(conn, sorted(throttled))
        found = self._all(conn, "endpoint_controls", {"ids": dumps(sorted(throttled))})
        for row in found:
            throttle = throttled[row[0]]
            pace = pacing.Pace(tat=row[4] or 0.0, throttled_at=row[5], throttled_rate=row[6])
            # The worker saw only its own share of the traffic: the attempts every
            # worker made in the last second (this batch's included) are the rate to halve.
            since = ids.floor_id(ids.ATTEMPT, now - 1.0)
            counted = self._one(conn, "recent_attempts", {"endpoint_id": row[0], "since": since})
            observed = max(
                throttle.observed_rate, float(counted[0]) if counted is not None else 0.0
            )
            slower = pacing.throttled(row[1], pace, now, observed, throttle.retry_after)
            self._save_pace(conn, row[0], slower)

    def queue_stats(self, conn: Connection, now: float) -> QueueStats:
        row = self._one(conn, "queue_stats", {"now": now})
        assert row is not None  # an aggregate always answers one row
        return QueueStats(
            due=int(row[0]), scheduled=int(row[1]), leased=int(row[2]),
            oldest_due_at=None if row[3] is None else float(row[3]),
            endpoints_disabled=int(row[4]), endpoints_paused=int(row[5]),
            circuits_open=int(row[6]), circuits_half_open=int(row[7]), waiting=int(row[8]),
            queued=int(row[9]),
        )  # fmt: skip

    def next_due(self, conn: Connection) -> float | None:
        row = self._one(conn, "next_due", {})
        return None if row is None or row[0] is None else float(row[0])

    # attempts, resend, recover, stats -------------------------------------

    def get_delivery(self, conn: Connection, msg_id: str, endpoint_id: str) -> Delivery:
        row = self._one(conn, "get_delivery", {"msg_id": msg_id, "endpoint_id": endpoint_id})
        if row is None:
            raise NotFoundError(f"no delivery of message {msg_id!r} to endpoint {endpoint_id!r}")
        return _delivery(row)

    def resend(
        self, conn: Connection, app_id: str, msg_id: str, endpoint_id: str, now: float,
        audit: AuditEntry | None = None,
    ) -> Delivery:  # fmt: skip
        message = self.get_message(conn, app_id, msg_id)
        endpoint = self.get_endpoint(conn, app_id, endpoint_id)
        expunged = self._one(conn, "message_expunged", {"id": message.id})
        if expunged is not None and expunged[0]:
            raise ConflictError(
                f"message {message.id!r} no longer has its payload (retention or expunge): "
                "it cannot be sent again"
            )
        row = self._one(conn, "get_delivery", {"msg_id": message.id, "endpoint_id": endpoint.id})
        if row is None:
            conn.execute(
                self.q("insert_delivery"),
                {
                    "id": ids.new_id(ids.DELIVERY, now), "msg_id": message.id,
                    "endpoint_id": endpoint.id, "app_id": app_id,
                    "status": DeliveryStatus.PENDING, "next_attempt_at": now, "created_at": now,
                    "priority": message.priority, "order_key": None,
                },
            )  # fmt: skip
            row = self._one(
                conn, "get_delivery", {"msg_id": message.id, "endpoint_id": endpoint.id}
            )
            assert row is not None
        conn.execute(self.q("requeue_delivery"), {"id": row[0], "now": now, "manual": 1})
        self.dialect.on_publish(conn)
        if audit is not None:  # by the ids found (the caller may have named an eventId)
            after = {**(audit.after or {}), "endpoint_id": endpoint.id}
            self._audit(conn, replace(audit, resource_id=message.id, after=after))
        return replace(
            _delivery(row), status=DeliveryStatus.PENDING, next_attempt_at=now, updated_at=now
        )

    def recover(
        self,
        conn: Connection,
        app_id: str,
        endpoint_id: str,
        since: float,
        until: float,
        now: float,
        audit: AuditEntry | None = None,
    ) -> BackgroundTask:
        endpoint = self.get_endpoint(conn, app_id, endpoint_id)
        return self.start_job(
            conn, app_id, jobs.RECOVER, jobs.JobParams(endpoint.id, since, until), now, audit
        )

    def start_job(
        self, conn: Connection, app_id: str, kind: str, params: jobs.JobParams, now: float,
        audit: AuditEntry | None = None,
    ) -> BackgroundTask:  # fmt: skip
        """Record a job to run (a worker takes it up): a running background task, and
        ``audit``, the entry of who asked for it, in the same transaction."""
        task = BackgroundTask(
            id=ids.new_id(ids.TASK, now), app_id=app_id, task=kind, status=jobs.RUNNING,
            data={"messagesSent": 0}, created_at=now, updated_at=now,
        )  # fmt: skip
        conn.execute(
            self.q("insert_task"),
            {**asdict(task), "data": dumps(task.data), "params": dumps(params.to_json())},
        )
        self.dialect.on_publish(conn)  # wakes workers: one of them runs jobs
        if audit is not None:
            self._audit(conn, replace(audit, after={**(audit.after or {}), "task_id": task.id}))
        return task

    def claim_job(self, conn: Connection, owner: str, now: float, lease_until: float) -> str | None:
        """Lease the oldest running job that nobody holds; its id, or None."""
        row = self._one(
            conn, "claim_task", {"owner": owner, "now": now, "lease_until": lease_until}
        )
        return None if row is None else str(row[0])

    def run_job_batch(
        self, conn: Connection, task_id: str, owner: str, now: float, lease_until: float
    ) -> BackgroundTask:
        """Do one batch of a job this runner holds; the task as it now stands.

        The batch's work and the job's new place are one transaction: a crash
        between batches resumes at the next one, never redoes one.
        """
        row = self._one(conn, "get_task_job", {"id": task_id})
        if row is None:
            raise NotFoundError(f"background task {task_id!r} not found")
        task = _task(row)
        if task.status != jobs.RUNNING or row[8] != owner:
            return task  # cancelled, or another runner took it over
        params = jobs.JobParams.from_json(_loads(row[7]))
        if task.task == jobs.REPLAY:
            sent, params, done = self._replay_batch(conn, task, params, now)
        else:
            sent, params, done = self._resend_batch(conn, task.task, params, now)
        data = {**task.data, "messagesSent": int(task.data.get("messagesSent", 0)) + sent}
        status = jobs.FINISHED if done else jobs.RUNNING
        conn.execute(
            self.q("save_task_progress"),
            {
                "id": task_id, "owner": owner, "status": status, "data": dumps(data),
                "params": dumps(params.to_json()), "now": now,
                "lease_until": lease_until if not done else None,
            },
        )  # fmt: skip
        if sent:
            self.dialect.on_publish(conn)
        return replace(task, status=status, data=data, updated_at=now)

    def _resend_batch(
        self, conn: Connection, kind: str, params: jobs.JobParams, now: float
    ) -> tuple[int, jobs.JobParams, bool]:
        """Re-send a batch of an endpoint's deliveries (recover, bulk replay)."""
        statuses = dumps(list(jobs.statuses_resent(kind, params.status)))
        found = self._all(
            conn, "resend_candidates",
            {
                "endpoint_id": params.endpoint_id, "statuses": statuses, "since": params.since,
                "until": params.until, "after_at": params.after[0], "after_id": params.after[1],
                "event_types": dumps(list(params.event_types)) if params.event_types else None,
                "channel": params.channel, "limit": jobs.BATCH,
            },
        )  # fmt: skip
        if not found:
            return 0, params, True
        picked = [r[0] for r in found]
        sent = conn.execute(
            self.q("resend_many"), {"ids": dumps(picked), "statuses": statuses, "now": now}
        ).rowcount
        self._promote_all(conn, params.endpoint_id, now)
        params = replace(params, after=(float(found[-1][1]), str(found[-1][0])))
        return int(sent), params, len(found) < jobs.BATCH

    def _replay_batch(
        self, conn: Connection, task: BackgroundTask, params: jobs.JobParams, now: float
    ) -> tuple[int, jobs.JobParams, bool]:
        """Send an endpoint a batch of the messages it never had a delivery of."""
        assert task.app_id is not None
        targets = [t for t in self._route_targets(conn, task.app_id) if t.id == params.endpoint_id]
        found = self._all(
            conn, "replay_candidates",
            {
                "app_id": task.app_id, "low": ids.floor_id(ids.MESSAGE, params.since),
                "high": ids.floor_id(ids.MESSAGE, params.until), "after_id": params.after[1],
                "event_types": dumps(list(params.event_types)) if params.event_types else None,
                "limit": jobs.BATCH,
            },
        )  # fmt: skip
        if not found or not targets:
            return 0, params, True
        sent = 0
        for row in found:
            message = replace(_message(row), headers=_loads(row[9]), created_at=now)
            chosen, body = _fan_out(replace(message, created_at=row[7]), targets)
            for delivery in _delivery_rows(message, chosen, body):
                sent += conn.execute(self.q("insert_delivery_if_absent"), delivery).rowcount
        self._promote_all(conn, params.endpoint_id, now)
        params = replace(params, after=(0.0, str(found[-1][0])))
        return sent, params, len(found) < jobs.BATCH

    def cancel_job(self, conn: Connection, task_id: str, now: float) -> BackgroundTask:
        """Stop a running job where it is (its count so far stays); a finished one is as it was."""
        task = self.get_task(conn, task_id)
        if task.status == jobs.RUNNING:
            data = {**task.data, "cancelled": True}
            if conn.execute(
                self.q("cancel_task"), {"id": task_id, "data": dumps(data), "now": now}
            ).rowcount:
                return replace(task, status=jobs.FAILED, data=data, updated_at=now)
        return self.get_task(conn, task_id)

    # retention ----------------------------------------------------------------------

    def expunge_expired(self, conn: Connection, now: float, limit: int) -> int:
        """Remove up to ``limit`` payloads past their retention (of messages with nothing
        left to send)."""
        found = [r[0] for r in self._all(conn, "expired_messages", {"now": now, "limit": limit})]
        if found:
            conn.execute(self.q("expunge_messages"), {"ids": dumps(found), "empty": b"{}"})
            conn.execute(self.q("expunge_attempt_bodies"), {"ids": dumps(found)})
        return len(found)

    def expunge_message(self, conn: Connection, app_id: str, key: str) -> None:
        """Remove one message's payload now (Svix's expunge content)."""
        message = self.get_message(conn, app_id, key)
        conn.execute(self.q("expunge_message"), {"id": message.id, "empty": b"{}"})
        conn.execute(self.q("expunge_attempt_bodies"), {"ids": dumps([message.id])})

    def delete_old_attempts(self, conn: Connection, before: float, limit: int) -> int:
        """Delete up to ``limit`` attempt records made before ``before``."""
        params = {"before": ids.floor_id(ids.ATTEMPT, before), "limit": limit}
        found = [r[0] for r in self._all(conn, "old_attempt_ids", params)]
        if found:
            conn.execute(self.q("delete_attempts"), {"ids": dumps(found)})
        return len(found)

    def list_endpoint_messages(
        self, conn: Connection, app_id: str, endpoint_id: str, cursor: Cursor,
        status: AttemptStatus | None, since: float, until: float,
    ) -> Page[EndpointMessage]:  # fmt: skip
        endpoint = self.get_endpoint(conn, app_id, endpoint_id)
        found = self._list(
            conn, "list_endpoint_messages", cursor, endpoint_id=endpoint.id,
            status=None if status is None else int(status),
            since=since, until=until,
        )  # fmt: skip
        rows = [
            EndpointMessage(
                message=_message(r), status=_svix_status(r[9], r[10]), next_attempt_at=r[11]
            )
            for r in found
        ]
        return _page(rows, cursor.limit, lambda e: e.message.id, cursor)

    def get_task(self, conn: Connection, task_id: str) -> BackgroundTask:
        row = self._one(conn, "get_task", {"id": task_id})
        if row is None:
            raise NotFoundError(f"background task {task_id!r} not found")
        return _task(row)

    def list_tasks(
        self, conn: Connection, cursor: Cursor, status: str | None, task: str | None,
        app_id: str | None = None,
    ) -> Page[BackgroundTask]:  # fmt: skip
        found = self._list(conn, "list_tasks", cursor, status=status, task=task, app_id=app_id)
        return _page([_task(r) for r in found], cursor.limit, lambda t: t.id, cursor)

    def endpoint_stats(
        self, conn: Connection, app_id: str, endpoint_id: str, since: float, until: float
    ) -> EndpointStats:
        endpoint = self.get_endpoint(conn, app_id, endpoint_id)
        row = self._one(
            conn, "endpoint_stats", {"endpoint_id": endpoint.id, "since": since, "until": until}
        )
        values = [int(v or 0) for v in (row or (0, 0, 0, 0))]
        return EndpointStats(
            success=values[0], pending=values[1], sending=values[2], fail=values[3]
        )

    def get_attempt(self, conn: Connection, app_id: str, msg_id: str, attempt_id: str) -> Attempt:
        message = self.get_message(conn, app_id, msg_id)
        row = self._one(
            conn, "get_attempt", {"app_id": app_id, "msg_id": message.id, "id": attempt_id}
        )
        if row is None:
            raise NotFoundError(f"attempt {attempt_id!r} not found")
        return _attempt(row)

    def list_attempts(
        self, conn: Connection, app_id: str, cursor: Cursor, where: AttemptFilter
    ) -> Page[Attempt]:
        code_low = where.status_code_class
        found = self._list(
            conn, "list_attempts", cursor, app_id=app_id, msg_id=where.msg_id,
            endpoint_id=where.endpoint_id, status=where.status, code_low=code_low,
            # Class 0 means "no HTTP answer": codes in [0, 100).
            code_high=None if code_low is None else code_low + 100,
            event_types=dumps(list(where.event_types)) if where.event_types else None,
            channel=where.channel, tag=where.tag, since=where.since, until=where.until,
        )  # fmt: skip
        rows = [_attempt(r) for r in found]
        return _page(rows, cursor.limit, lambda a: a.id, cursor)

    # idempotency -------------------------------------------------------------

    def get_idempotent(self, conn: Connection, key: str) -> IdempotentResponse | None:
        row = self._one(conn, "get_idempotency", {"key": key})
        if row is None:
            return None
        body = bytes(row[2])
        if body:
            # Stored answers are sealed: some carry a new secret or token.
            body = self.secret_box.unseal(body.decode(), f"idempotency:{key}").encode()
        return IdempotentResponse(
            fingerprint=row[0], status_code=row[1], body=body, created_at=row[3]
        )

    def put_idempotent(self, conn: Connection, key: str, response: IdempotentResponse) -> None:
        conn.execute(
            self.q("put_idempotency"),
            {
                "key": key, "fingerprint": response.fingerprint,
                "status_code": response.status_code,
                # API answers are JSON, so text; a new secret or token in one stays sealed.
                "body": self.secret_box.seal(
                    response.body.decode(), f"idempotency:{key}"
                ).encode(),
                "created_at": response.created_at,
            },
        )  # fmt: skip

    def claim_idempotent(
        self, conn: Connection, key: str, fingerprint: str, now: float, stale_before: float,
        expired_before: float,
    ) -> IdempotentResponse | None:  # fmt: skip
        """Take ``key`` for a request about to run (None), or return what already holds it.

        What holds it is a finished answer, or a claim in progress (status_code 0) made
        after ``stale_before``; an older claim was abandoned by a crashed process and is
        taken over, and an answer older than ``expired_before`` no longer counts.
        """
        held = self.get_idempotent(conn, key)
        if held is not None:
            live = held.created_at >= (stale_before if held.status_code == 0 else expired_before)
            if live:
                return held
            conn.execute(self.q("delete_idempotency"), {"key": key})
        claim = {"key": key, "fingerprint": fingerprint, "body": b"", "created_at": now}
        if conn.execute(self.q("claim_idempotency"), claim).rowcount == 1:
            return None
        # A concurrent claim (another process) won the race for this key.
        return self.get_idempotent(conn, key) or IdempotentResponse(fingerprint, 0, b"", now)

    def release_idempotent(self, conn: Connection, key: str) -> None:
        """Drop an unfinished claim, so that a retry runs for real."""
        conn.execute(self.q("release_idempotency"), {"key": key})

    def expire_idempotent(self, conn: Connection, before: float) -> int:
        return int(conn.execute(self.q("expire_idempotency"), {"before": before}).rowcount)

    # tokens and the audit trail ---------------------------------------------------

    def create_token(self, conn: Connection, token: ApiToken, audit: AuditEntry | None) -> ApiToken:
        self._insert(conn, "insert_token", _token_params(token), "the token")
        self._audit(conn, audit)
        return token

    def create_token_once(self, conn: Connection, token: ApiToken) -> bool:
        cursor = conn.execute(self.q("insert_token_if_absent"), _token_params(token))
        return int(cursor.rowcount) == 1

    def find_token(self, conn: Connection, token_hash: str) -> ApiToken | None:
        row = self._one(conn, "get_token_by_hash", {"token_hash": token_hash})
        return None if row is None else _token(row)

    def get_token(self, conn: Connection, token_id: str) -> ApiToken:
        row = self._one(conn, "get_token", {"id": token_id})
        if row is None:
            raise NotFoundError(f"token {token_id!r} not found")
        return _token(row)

    def list_tokens(self, conn: Connection, cursor: Cursor, app_id: str | None) -> Page[ApiToken]:
        rows = [_token(r) for r in self._list(conn, "list_tokens", cursor, app_id=app_id)]
        return _page(rows, cursor.limit, lambda t: t.id, cursor)

    def revoke_token(
        self, conn: Connection, token_id: str, now: float, audit: AuditEntry | None
    ) -> ApiToken:
        token = self.get_token(conn, token_id)
        conn.execute(self.q("revoke_token"), {"id": token.id, "now": now})
        self._audit(conn, audit)
        return replace(token, revoked_at=token.revoked_at or now)

    def expire_app_tokens(
        self, conn: Connection, app_id: str, at: float, session_ids: Sequence[str] | None,
        audit: AuditEntry | None = None,
    ) -> int:  # fmt: skip
        sessions = None if session_ids is None else dumps(list(session_ids))
        cursor = conn.execute(
            self.q("expire_app_tokens"), {"app_id": app_id, "at": at, "sessions": sessions}
        )
        self._audit(conn, audit)
        return int(cursor.rowcount)

    def list_audit(self, conn: Connection, cursor: Cursor, app_id: str | None) -> Page[AuditEntry]:
        rows = [_audit_entry(r) for r in self._list(conn, "list_audit", cursor, app_id=app_id)]
        return _page(rows, cursor.limit, lambda e: e.id, cursor)

    # inbound sources -------------------------------------------------------------

    def create_source(self, conn: Connection, source: Source, audit: AuditEntry | None) -> Source:
        what = f"a source with uid {source.uid!r}" if source.uid else "the source"
        self._insert(conn, "insert_source", _source_params(source, self.secret_box), what)
        self._audit(conn, audit)
        return source

    def get_source(self, conn: Connection, app_id: str, key: str) -> Source:
        row = self._one(conn, "get_source", {"app_id": app_id, "key": key})
        if row is None:
            raise NotFoundError(f"source {key!r} not found")
        return _source(row, self.secret_box)

    def find_source(self, conn: Connection, token: str) -> Source | None:
        row = self._one(conn, "get_source_by_token", {"token_hash": hash_token(token)})
        return None if row is None else _source(row, self.secret_box)

    def list_sources(self, conn: Connection, app_id: str, cursor: Cursor) -> Page[Source]:
        found = self._list(conn, "list_sources", cursor, app_id=app_id)
        rows = [_source(r, self.secret_box) for r in found]
        return _page(rows, cursor.limit, lambda src: src.id, cursor)

    def update_source(self, conn: Connection, source: Source, audit: AuditEntry | None) -> Source:
        try:
            conn.execute(self.q("update_source"), _source_params(source, self.secret_box))
        except Exception as error:
            if self.dialect.is_unique_violation(error):
                raise ConflictError(f"a source with uid {source.uid!r} already exists") from None
            raise
        self._audit(conn, audit)
        return source

    def delete_source(
        self, conn: Connection, app_id: str, key: str, audit: AuditEntry | None
    ) -> None:
        source = self.get_source(conn, app_id, key)
        conn.execute(self.q("delete_source"), {"id": source.id})
        self._audit(conn, audit)

    def receive(
        self, conn: Connection, message: Message, dedup_key: str | None, window: float
    ) -> ReceiveResult:
        """Store a received event as ``message`` unless its key was seen within ``window``."""
        return self.receive_many(conn, [(message, dedup_key, window)])[0]

    def receive_many(
        self, conn: Connection, items: Sequence[tuple[Message, str | None, float]]
    ) -> list[ReceiveResult]:
        """Store received events, each unless its key was seen within its window.

        One job for many events: the dedup claims go one by one (each must learn
        whether it won), the messages and their deliveries in one statement each.
        Copies of one event inside the batch are settled here, before the database.
        """
        results: list[ReceiveResult] = []
        fresh: list[Message] = []
        winners: dict[tuple[str | None, str], str] = {}
        for message, key, window in items:
            if key is not None:
                first = winners.get((message.source_id, key))
                if first is None:
                    first = self._claim_dedup_key(conn, message, key, window)
                if first != message.id:
                    results.append(ReceiveResult(msg_id=first, duplicate=True, deliveries=0))
                    continue
                winners[(message.source_id, key)] = message.id
            fresh.append(message)
            results.append(ReceiveResult(msg_id=message.id, duplicate=False, deliveries=0))
        counts = self._store_received(conn, fresh)
        self._count_received(conn, [m for m, _, _ in items], results)
        return [
            replace(result, deliveries=counts.get(result.msg_id, 0)) if not result.duplicate
            else result
            for result in results
        ]  # fmt: skip

    def _count_received(
        self, conn: Connection, messages: Sequence[Message], results: Sequence[ReceiveResult]
    ) -> None:
        """Add a batch of received events to their sources' counts (one row per source)."""
        counts: dict[str, list[Any]] = {}
        for message, result in zip(messages, results, strict=True):
            if message.source_id is None:
                continue
            row = counts.setdefault(message.source_id, [message.source_id, 0, 0, 0, None])
            row[2 if result.duplicate else 1] += 1
            row[4] = message.created_at
        if counts:
            rows = orjson.dumps(list(counts.values())).decode()
            conn.execute(self.q("count_source_traffic"), {"rows": rows})

    def count_rejected(self, conn: Connection, rejected: Mapping[str, int]) -> None:
        rows = [[source_id, 0, 0, n, None] for source_id, n in rejected.items() if n]
        if rows:
            conn.execute(self.q("count_source_traffic"), {"rows": orjson.dumps(rows).decode()})

    def source_stats(self, conn: Connection, source_ids: Sequence[str]) -> dict[str, SourceStats]:
        found = self._all(conn, "source_stats", {"ids": dumps(list(source_ids))})
        return {r[0]: SourceStats(int(r[1]), int(r[2]), int(r[3]), r[4]) for r in found}

    def attempt_series(
        self, conn: Connection, app_id: str | None, since: float, until: float, bucket: float
    ) -> list[SeriesPoint]:
        params = {
            "low": ids.floor_id(ids.ATTEMPT, since), "high": ids.floor_id(ids.ATTEMPT, until),
            "app_id": app_id, "limit": SERIES_LIMIT,
        }  # fmt: skip
        points = [(r[0], int(r[1]), int(r[2])) for r in self._all(conn, "attempt_points", params)]
        return bucketed(points, since, until, bucket)

    # web sessions --------------------------------------------------------------------

    def create_web_session(self, conn: Connection, session: WebSession) -> None:
        context = f"web_session:{session.id_hash}"
        conn.execute(
            self.q("insert_web_session"),
            {
                "id_hash": session.id_hash, "kind": session.kind,
                "token": self.secret_box.seal(session.token, context), "csrf": session.csrf,
                "expires_at": session.expires_at,
            },
        )  # fmt: skip

    def get_web_session(self, conn: Connection, id_hash: str, now: float) -> WebSession | None:
        row = self._one(conn, "get_web_session", {"id_hash": id_hash})
        if row is None or row[3] < now:
            return None
        try:
            token = self.secret_box.unseal(row[1], f"web_session:{id_hash}")
        except SecretKeyError:
            return None  # sealed under a key this process lacks: sign in again
        return WebSession(id_hash, row[0], token, row[2], row[3])

    def touch_web_session(self, conn: Connection, id_hash: str, expires_at: float) -> None:
        conn.execute(self.q("touch_web_session"), {"id_hash": id_hash, "expires_at": expires_at})

    def delete_web_session(self, conn: Connection, id_hash: str) -> None:
        conn.execute(self.q("delete_web_session"), {"id_hash": id_hash})

    def expire_web_sessions(self, conn: Connection, now: float) -> int:
        return int(conn.execute(self.q("expire_web_sessions"), {"now": now}).rowcount)

    def _claim_dedup_key(self, conn: Connection, message: Message, key: str, window: float) -> str:
        """Claim ``key`` for ``message``; the id of whichever message holds it now."""
        claimed = conn.execute(
            self.q("claim_dedup_key"),
            {
                "source_id": message.source_id, "dedup_key": key, "msg_id": message.id,
                "expires_at": message.created_at + window, "now": message.created_at,
            },
        )  # fmt: skip
        if int(claimed.rowcount) == 1:
            return message.id
        row = self._one(conn, "get_dedup_msg", {"source_id": message.source_id, "dedup_key": key})
        return str(row[0]) if row else ""

    def _store_received(self, conn: Connection, messages: list[Message]) -> dict[str, int]:
        """Insert received messages and fan them out; deliveries made per message id."""
        versions: dict[str, int | None] = {}
        for message in messages:
            if message.app_id not in versions:
                found = self._one(conn, "routes_version", {"id": message.app_id})
                versions[message.app_id] = None if found is None else int(found[0])
        return self._store_messages(conn, messages, versions)

    def expire_dedup_keys(self, conn: Connection, before: float) -> int:
        return int(conn.execute(self.q("expire_dedup_keys"), {"before": before}).rowcount)

    def get_checkpoint(self, conn: Connection, source_id: str, run_key: str) -> Checkpoint | None:
        row = self._one(conn, "get_checkpoint", {"source_id": source_id, "run_key": run_key})
        return None if row is None else Checkpoint(row[0], int(row[1]), bool(row[2]))

    def save_checkpoint(
        self, conn: Connection, source_id: str, run_key: str, checkpoint: Checkpoint, now: float
    ) -> None:
        conn.execute(
            self.q("save_checkpoint"),
            {
                "source_id": source_id, "run_key": run_key, "position": checkpoint.position,
                "done_count": checkpoint.done_count, "finished": int(checkpoint.finished),
                "updated_at": now,
            },
        )  # fmt: skip
