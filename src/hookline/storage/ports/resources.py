"""What the operator configures (applications, event types, endpoints), and the
database's lifecycle."""

from __future__ import annotations

from typing import Protocol

from hookline.domain.audit import AuditEntry
from hookline.domain.models import Application, Endpoint, EventType, Page
from hookline.storage.records import Cursor, DeliveryState, RekeyResult


class Lifecycle(Protocol):
    """Opening, closing and migrating the database."""

    async def open(self) -> None:
        """Connect and bring the schema up to date."""

    async def close(self) -> None:
        """Finish pending writes and disconnect."""

    async def migrate(self) -> list[int]:
        """Apply pending migrations; return the versions applied."""


class Resources(Protocol):
    """Applications, event types and endpoints: what the operator configures."""

    async def create_application(
        self, app: Application, audit: AuditEntry | None = None
    ) -> Application: ...
    async def get_application(self, key: str) -> Application: ...
    async def list_applications(self, cursor: Cursor) -> Page[Application]: ...
    async def update_application(
        self, app: Application, audit: AuditEntry | None = None
    ) -> Application: ...
    async def delete_application(self, app_id: str, audit: AuditEntry | None = None) -> None:
        """Delete the application with all its endpoints, messages, attempts and tokens."""

    async def create_event_type(
        self, event_type: EventType, audit: AuditEntry | None = None
    ) -> EventType: ...
    async def get_event_type(self, name: str) -> EventType: ...
    async def list_event_types(self, cursor: Cursor, include_archived: bool) -> Page[EventType]: ...
    async def update_event_type(
        self, event_type: EventType, audit: AuditEntry | None = None
    ) -> EventType: ...
    async def delete_event_type(self, name: str, audit: AuditEntry | None = None) -> None: ...

    async def create_endpoint(
        self, endpoint: Endpoint, audit: AuditEntry | None = None
    ) -> Endpoint: ...
    async def get_endpoint(self, app_id: str, key: str) -> Endpoint: ...
    async def set_paused(
        self, app_id: str, key: str, paused: bool, now: float, audit: AuditEntry | None = None
    ) -> Endpoint:
        """Pause (its deliveries wait) or resume (they go out, within its pace) an endpoint."""

    async def delivery_state(self, app_id: str, key: str, now: float) -> DeliveryState:
        """The endpoint's pause, circuit, pace and parked work."""

    async def list_endpoints(
        self, app_id: str, cursor: Cursor, destinations: bool | None = None
    ) -> Page[Endpoint]:
        """A page of the application's endpoints: all of them (``destinations`` None),
        only HTTP ones (False) or only destinations, brokers and pollers (True)."""

    async def update_endpoint(
        self, endpoint: Endpoint, audit: AuditEntry | None = None
    ) -> Endpoint: ...
    async def delete_endpoint(
        self, app_id: str, endpoint_id: str, audit: AuditEntry | None = None
    ) -> None: ...
    async def rekey_secrets(self, batch_size: int = 500) -> RekeyResult:
        """Re-seal every endpoint secret (current and old, and a destination's sealed
        configuration) and every source's under the sealing key.

        Runs in batches of ``batch_size`` endpoints, a transaction each, beside live
        traffic: a row changed during its batch is not overwritten but tried again on
        another pass; ``skipped`` counts rows still changing after the last pass.
        """
