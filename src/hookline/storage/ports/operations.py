"""The rest of Svix's operations on the log: figures, destinations, examples, expunging."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from hookline.domain.models import Message, Page
from hookline.storage.records import AttemptCounts, Cursor, MessageDestination, PublishResult


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
