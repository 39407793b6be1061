"""Polling destinations: reads of the message log through a poller, and the positions
its consumers keep (the destinations themselves are endpoints: ``Resources``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from hookline.storage.records import DestinationHealth, MessagePoll, PollQuery


class Pollers(Protocol):
    """What the message poller API reads and keeps, and how destinations are doing."""

    async def poll_messages(self, poll: PollQuery) -> MessagePoll:
        """The messages after ``poll.after`` (else ``poll.start``) that the poller's and
        the reader's filters take, oldest first, and the iterator to read on from."""

    async def consumer_poll(
        self, endpoint_id: str, consumer_id: str, poll: PollQuery, now: float
    ) -> MessagePoll:
        """``poll_messages`` after the consumer's position (unless ``poll.after`` is
        given); the answer's iterator becomes its position in the same transaction."""

    async def seek_consumer(
        self, endpoint_id: str, consumer_id: str, position: str, now: float
    ) -> None:
        """Set where the consumer's next read starts after."""

    async def consumer_position(self, endpoint_id: str, consumer_id: str) -> str | None:
        """Where the consumer's next read starts after; None before its first."""

    async def destination_health(self, endpoint_ids: Sequence[str]) -> dict[str, DestinationHealth]:
        """Each destination's failure reason (its latest failed attempt, while no success
        came after it or a retry is still due) and its next retry time."""
