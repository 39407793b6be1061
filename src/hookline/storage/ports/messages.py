"""The message log: publishing, and reading messages, deliveries and attempts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from hookline.domain.models import (
    Attempt,
    AttemptStatus,
    Delivery,
    EndpointMessage,
    EndpointStats,
    Message,
    Page,
)
from hookline.domain.series import SeriesPoint
from hookline.errors import HooklineError
from hookline.storage.records import (
    BEGINNING,
    END_OF_TIME,
    AttemptFilter,
    Cursor,
    MessageFilter,
    PublishResult,
    QueueStats,
)


class MessageLog(Protocol):
    """Publishing, and the searchable log of messages, deliveries and attempts."""

    async def publish(self, message: Message) -> PublishResult:
        """Store the message and one delivery per matching endpoint, atomically."""

    async def publish_many(
        self, messages: Sequence[Message]
    ) -> list[PublishResult | HooklineError]:
        """``publish`` for many messages in one transaction, one outcome per message, in order.

        A message naming no application gets its ``NotFoundError`` and the others are
        stored. If any insert fails (an eventId already taken) it raises and stores none.
        """

    async def get_message(self, app_id: str, key: str) -> Message: ...
    async def list_messages(
        self, app_id: str, cursor: Cursor, where: MessageFilter
    ) -> Page[Message]: ...
    async def get_delivery(self, msg_id: str, endpoint_id: str) -> Delivery: ...
    async def list_endpoint_messages(
        self,
        app_id: str,
        endpoint_id: str,
        cursor: Cursor,
        status: AttemptStatus | None = None,
        since: float = BEGINNING,
        until: float = END_OF_TIME,
        where: MessageFilter | None = None,
    ) -> Page[EndpointMessage]:
        """The endpoint's messages, newest first, with where each delivery stands.

        ``status`` filters by Svix's status: success, pending (queued), fail (failed
        or held: the dead-letter list) or sending (leased by a worker). ``where`` narrows
        by the messages' event types, channel and tag, in the query (so pages stay
        full); the window is ``since`` and ``until``, not ``where``'s.
        """

    async def get_attempt(self, app_id: str, msg_id: str, attempt_id: str) -> Attempt: ...
    async def list_attempts(
        self, app_id: str, cursor: Cursor, where: AttemptFilter
    ) -> Page[Attempt]: ...
    async def endpoint_stats(
        self, app_id: str, endpoint_id: str, since: float, until: float
    ) -> EndpointStats: ...
    async def attempt_series(
        self, app_id: str | None, since: float, until: float, bucket: float
    ) -> list[SeriesPoint]:
        """Attempts per ``bucket`` seconds in [since, until), of one application or all,
        with success counts and latency percentiles (at most the first 200,000)."""

    async def queue_stats(self, now: float) -> QueueStats:
        """Pending deliveries due, scheduled and leased at ``now`` (for metrics)."""
