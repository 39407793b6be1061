"""The storage logic shared by the SQL backends, written once against DB-API.

Each operation is a plain synchronous function of an open connection, run inside
a transaction that the backend provides (SQLite on its writer or reader threads,
PostgreSQL on a pool of connection threads). Queries come from ``queries/*.sql``;
the little that differs between databases is in ``Dialect``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from importlib import resources
from typing import Any, Protocol, TypeVar

import orjson

from hookline.domain import ids
from hookline.domain.audit import AuditEntry
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
from hookline.domain.routing import RouteTarget, route
from hookline.domain.secrets import SecretBox
from hookline.domain.tokens import ApiToken, hash_token
from hookline.errors import ConflictError, NotFoundError, SecretKeyError
from hookline.storage.base import (
    AttemptFilter,
    Checkpoint,
    ClaimedDelivery,
    Cursor,
    IdempotentResponse,
    MessageFilter,
    Outcome,
    PublishResult,
    QueueStats,
    ReceiveResult,
)

T = TypeVar("T")
Row = Sequence[Any]

#: A claim looks at this many times its limit of due rows to fill per-endpoint caps.
CLAIM_SCAN_FACTOR = 4

#: Smallest and largest possible ids: open bounds for keyset pagination.
_LOWEST = ""
_HIGHEST = "~"


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
    )  # fmt: skip


def _message(row: Row) -> Message:
    return Message(
        id=row[0], app_id=row[1], event_type=row[2], event_id=row[3], payload=bytes(row[4]),
        channels=_tuple(row[5]), tags=_tuple(row[6]), created_at=row[7],
    )  # fmt: skip


def _delivery(row: Row) -> Delivery:
    return Delivery(
        id=row[0], msg_id=row[1], endpoint_id=row[2], app_id=row[3],
        status=DeliveryStatus(row[4]), attempts=row[5], next_attempt_at=row[6],
        created_at=row[7], updated_at=row[8],
    )  # fmt: skip


def _attempt(row: Row) -> Attempt:
    return Attempt(
        id=row[0], delivery_id=row[1], msg_id=row[2], endpoint_id=row[3], app_id=row[4],
        url=row[5], status=AttemptStatus(row[6]), response_status_code=row[7], response=row[8],
        response_headers=_loads(row[9]), duration_ms=row[10], error_class=row[11],
        trigger_type=TriggerType(row[12]), created_at=row[13],
    )  # fmt: skip


def _svix_status(status: str, lease_owner: str | None) -> AttemptStatus:
    """A delivery's state in Svix's terms: held and failed both read as Fail."""
    if status == DeliveryStatus.SUCCESS:
        return AttemptStatus.SUCCESS
    if status == DeliveryStatus.PENDING:
        return AttemptStatus.SENDING if lease_owner else AttemptStatus.PENDING
    return AttemptStatus.FAIL


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


def _claimed(row: Row, box: SecretBox) -> ClaimedDelivery:
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
        message_headers=_loads(row[17]), problem=problem,
    )  # fmt: skip


# Model -> parameters --------------------------------------------------------


def _application_params(app: Application) -> dict[str, Any]:
    return {
        "id": app.id, "uid": app.uid, "name": app.name, "rate_limit": app.rate_limit,
        "metadata": dumps(app.metadata), "created_at": app.created_at, "updated_at": app.updated_at,
    }  # fmt: skip


def _event_type_params(event_type: EventType) -> dict[str, Any]:
    return {
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
        "source_id": message.source_id,
    }  # fmt: skip


def _delivery_rows(message: Message, targets: Sequence[RouteTarget]) -> list[dict[str, Any]]:
    """One pending delivery per target (held if the endpoint is disabled)."""
    return [
        {
            "id": ids.new_id(ids.DELIVERY, message.created_at),
            "msg_id": message.id,
            "endpoint_id": endpoint.id,
            "app_id": message.app_id,
            "status": DeliveryStatus.HELD if endpoint.disabled else DeliveryStatus.PENDING,
            "next_attempt_at": None if endpoint.disabled else message.created_at,
            "created_at": message.created_at,
        }
        for endpoint in targets
    ]


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
        int(attempt.trigger_type), attempt.created_at,
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
        """Record a change in the same transaction as the change itself."""
        if entry is not None:
            conn.execute(self.q("insert_audit"), _audit_params(entry))

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
            "delete_app_endpoints", "delete_app_tokens", "delete_app_sources", "delete_application",
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
        self._audit(conn, audit)
        return endpoint

    def delete_endpoint(
        self, conn: Connection, app_id: str, endpoint_id: str, audit: AuditEntry | None = None
    ) -> None:
        endpoint = self.get_endpoint(conn, app_id, endpoint_id)
        for query in ("delete_endpoint_attempts", "delete_endpoint_deliveries", "delete_endpoint"):
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
        what = f"a message with eventId {message.event_id!r}"
        self._insert(conn, "insert_message", _message_params(message), what)
        targets = route(
            self._route_targets(conn, message.app_id), message.event_type, message.channels
        )
        rows = _delivery_rows(message, targets)
        if rows:
            self._executemany(conn, "insert_delivery", rows)
            self.dialect.on_publish(conn)
        return PublishResult(message=message, deliveries=len(rows))

    def _route_targets(self, conn: Connection, app_id: str) -> list[RouteTarget]:
        return [
            RouteTarget(
                id=r[0], disabled=bool(r[1]), filter_types=_tuple(r[2]), channels=_tuple(r[3])
            )
            for r in self._all(conn, "route_targets", {"app_id": app_id})
        ]

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
        # Three statements, each answering one row (JSON), however many are claimed.
        chosen = self._one(conn, "claim_ids", params)
        ids = chosen[0] if chosen is not None else "[]"
        if not isinstance(ids, str):  # psycopg already decodes json values
            ids = dumps(ids)
        if ids == "[]":
            return []
        claim = {"ids": ids, "worker": worker, "lease_until": lease_until}
        conn.execute(self.q("claim_mark"), claim)
        details = self._one(conn, "claim_details", claim)
        rows = _json_rows(details[0] if details is not None else "[]")
        rows.sort(key=lambda r: (r[5], r[0]))  # oldest due first, as claimed
        return [_claimed(r, self.secret_box) for r in rows]

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
        ok = [{"id": ep} for ep, state in health.items() if state == "ok"]
        failing = [{"id": ep, "now": now} for ep, state in health.items() if state == "failing"]
        if ok:
            self._executemany(conn, "endpoint_succeeded", ok)
        if failing:
            self._executemany(conn, "endpoint_failed", failing)
        for endpoint_id in {o.endpoint_id for o in outcomes if o.disable_endpoint}:
            conn.execute(self.q("endpoint_disable"), {"id": endpoint_id, "now": now})
            conn.execute(self.q("hold_endpoint_backlog"), {"endpoint_id": endpoint_id, "now": now})

    def queue_stats(self, conn: Connection, now: float) -> QueueStats:
        row = self._one(conn, "queue_stats", {"now": now})
        assert row is not None  # an aggregate always answers one row
        return QueueStats(
            due=int(row[0]), scheduled=int(row[1]), leased=int(row[2]),
            oldest_due_at=None if row[3] is None else float(row[3]),
            endpoints_disabled=int(row[4]),
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
        self, conn: Connection, app_id: str, msg_id: str, endpoint_id: str, now: float
    ) -> Delivery:
        message = self.get_message(conn, app_id, msg_id)
        endpoint = self.get_endpoint(conn, app_id, endpoint_id)
        row = self._one(conn, "get_delivery", {"msg_id": message.id, "endpoint_id": endpoint.id})
        if row is None:
            conn.execute(
                self.q("insert_delivery"),
                {
                    "id": ids.new_id(ids.DELIVERY, now), "msg_id": message.id,
                    "endpoint_id": endpoint.id, "app_id": app_id,
                    "status": DeliveryStatus.PENDING, "next_attempt_at": now, "created_at": now,
                },
            )  # fmt: skip
            row = self._one(
                conn, "get_delivery", {"msg_id": message.id, "endpoint_id": endpoint.id}
            )
            assert row is not None
        conn.execute(self.q("requeue_delivery"), {"id": row[0], "now": now, "manual": 1})
        self.dialect.on_publish(conn)
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
    ) -> BackgroundTask:
        endpoint = self.get_endpoint(conn, app_id, endpoint_id)
        cursor = conn.execute(
            self.q("recover_endpoint"),
            {"endpoint_id": endpoint.id, "since": since, "until": until, "now": now},
        )
        count = int(cursor.rowcount)
        if count:
            self.dialect.on_publish(conn)
        task = BackgroundTask(
            id=ids.new_id(ids.TASK, now), app_id=app_id, task="endpoint.recover",
            status="finished", data={"messagesSent": count}, created_at=now, updated_at=now,
        )  # fmt: skip
        conn.execute(self.q("insert_task"), {**asdict(task), "data": dumps(task.data)})
        return task

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
                message=_message(r), status=_svix_status(r[8], r[9]), next_attempt_at=r[10]
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
        return [
            replace(result, deliveries=counts.get(result.msg_id, 0)) if not result.duplicate
            else result
            for result in results
        ]  # fmt: skip

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
        if not messages:
            return {}
        self._executemany(conn, "insert_message", [_message_params(m) for m in messages])
        targets_of: dict[str, list[RouteTarget]] = {}
        rows: list[dict[str, Any]] = []
        counts: dict[str, int] = {}
        for message in messages:
            if message.app_id not in targets_of:
                targets_of[message.app_id] = self._route_targets(conn, message.app_id)
            chosen = route(targets_of[message.app_id], message.event_type, message.channels)
            rows.extend(_delivery_rows(message, chosen))
            counts[message.id] = len(chosen)
        if rows:
            self._executemany(conn, "insert_delivery", rows)
            self.dialect.on_publish(conn)
        return counts

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
