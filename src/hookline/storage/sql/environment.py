"""An environment imported in one transaction: event types, applications, endpoints."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from hookline.domain.audit import AuditEntry
from hookline.domain.models import Application, Endpoint, EventType
from hookline.errors import NotFoundError
from hookline.storage.records import ImportCounts
from hookline.storage.sql._core import Connection, writes
from hookline.storage.sql.applications import ApplicationOps
from hookline.storage.sql.endpoints import EndpointOps


class EnvironmentOps(ApplicationOps, EndpointOps):
    """Svix's environment import: adds and updates, never deletes."""

    @writes
    def import_environment(
        self, conn: Connection, event_types: Sequence[EventType],
        applications: Sequence[Application], endpoints: Sequence[Endpoint],
        with_secrets: bool, audit: AuditEntry | None = None,
    ) -> ImportCounts:  # fmt: skip
        created = updated = 0
        for event_type in event_types:
            try:
                current = self.get_event_type(conn, event_type.name)
            except NotFoundError:
                self.create_event_type(conn, event_type)
                created += 1
                continue
            self.update_event_type(conn, replace(event_type, created_at=current.created_at))
            updated += 1
        # An application is the same one by id, else by uid; its endpoints follow it.
        stored_ids: dict[str, str] = {}
        for app in applications:
            found = self._existing_application(conn, app)
            if found is None:
                self.create_application(conn, app)
                stored_ids[app.id] = app.id
                created += 1
            else:
                self.update_application(
                    conn, replace(app, id=found.id, created_at=found.created_at)
                )
                stored_ids[app.id] = found.id
                updated += 1
        for given in endpoints:
            endpoint = replace(given, app_id=stored_ids[given.app_id])
            existing = self._existing_endpoint(conn, endpoint)
            if existing is None:
                self.create_endpoint(conn, endpoint)
                created += 1
                continue
            kept = replace(endpoint, id=existing.id, created_at=existing.created_at)
            if not with_secrets:  # the document carries none: the endpoint keeps its own
                kept = replace(
                    kept, secret=existing.secret, old_secrets=existing.old_secrets,
                    headers=existing.headers,
                )  # fmt: skip
            self.update_endpoint(conn, kept)
            updated += 1
        self._audit(conn, audit)
        return ImportCounts(created=created, updated=updated)

    def _existing_application(self, conn: Connection, app: Application) -> Application | None:
        for key in (app.id, app.uid):
            if key is not None:
                try:
                    return self.get_application(conn, key)
                except NotFoundError:
                    pass
        return None

    def _existing_endpoint(self, conn: Connection, endpoint: Endpoint) -> Endpoint | None:
        for key in (endpoint.id, endpoint.uid):
            if key is not None:
                try:
                    return self.get_endpoint(conn, endpoint.app_id, key)
                except NotFoundError:
                    pass
        return None
