"""The rest of Svix's operations: figures, destinations, examples, expunging, and the
environment import."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from hookline.domain.audit import AuditEntry
from hookline.domain.models import Application, Endpoint, EventType, Message, Page
from hookline.domain.plans import Plan
from hookline.storage.records import (
    AttemptCounts,
    Cursor,
    ImportCounts,
    MessageDestination,
    PublishResult,
    UsageFigure,
)


class Operations(Protocol):
    """Svix's smaller operations: an endpoint's attempt figures, a message's destinations,
    a message sent to one endpoint only, and payloads and responses removed by hand."""

    async def attempt_counts(
        self, app_id: str, endpoint_id: str, since: float, until: float
    ) -> AttemptCounts:
        """The endpoint's (id or uid) attempts made in [since, until), by outcome."""

    async def list_destinations(
        self, app_id: str, msg_id: str, cursor: Cursor
    ) -> Page[MessageDestination]:
        """The endpoints the message (id or eventId) was fanned out to, by endpoint id
        (ascending unless the cursor says otherwise), with their delivery's status."""

    async def publish_to_endpoint(self, message: Message, endpoint_id: str) -> PublishResult:
        """Store ``message`` with one delivery, to the endpoint (id or uid) only, whatever
        its event types and channels (Svix's send-example); atomically."""

    async def expunge_messages(self, app_id: str, keys: Sequence[str]) -> dict[str, bool]:
        """Remove the payloads of the messages (ids or eventIds) in one transaction; for
        each key given, whether it named a message of the application."""

    async def expunge_attempt_content(self, app_id: str, msg_id: str, attempt_id: str) -> None:
        """Remove what one attempt recorded of the exchange: the response body and the
        request body sent."""

    async def import_environment(
        self, event_types: Sequence[EventType], applications: Sequence[Application],
        endpoints: Sequence[Endpoint], with_secrets: bool, audit: AuditEntry | None = None,
    ) -> ImportCounts:  # fmt: skip
        """Add or update, in one transaction, the event types (by name), the applications
        (by id, else uid) and their endpoints (by id, else uid, within the application
        their ``app_id`` names in ``applications``); nothing is deleted. Without
        ``with_secrets``, an endpoint that exists keeps its secrets and headers."""

    async def put_plan(self, plan: Plan, now: float) -> Plan:
        """Create or replace a plan (by name)."""

    async def get_plan(self, name: str) -> Plan: ...
    async def list_plans(self) -> list[Plan]:
        """Every plan, by name."""

    async def delete_plan(self, name: str) -> None:
        """Delete a plan no application takes (``ConflictError`` otherwise)."""

    async def set_application_plan(
        self, app_id: str, plan: str | None, overrides: dict[str, Any] | None, now: float
    ) -> None:
        """Give the application (by id) a plan (None: none) and its own overrides."""

    async def application_usage(
        self, app_id: str, now: float
    ) -> tuple[str | None, dict[str, Any], list[UsageFigure]]:
        """The application's plan, its overrides, and its messages in the quota periods
        of ``now`` (counted exactly, in each publish's transaction)."""
