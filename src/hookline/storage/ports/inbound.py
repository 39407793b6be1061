"""Inbound: sources and what they receive."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from hookline.domain.audit import AuditEntry
from hookline.domain.models import Message, Page, Source
from hookline.domain.series import Refusals, SourceStats
from hookline.storage.records import Checkpoint, Cursor, ReceiveResult


class Sources(Protocol):
    """Inbound: sources, received events with their deduplication, counts and checkpoints."""

    async def create_source(self, source: Source, audit: AuditEntry | None = None) -> Source: ...
    async def get_source(self, app_id: str, key: str) -> Source: ...
    async def find_source(self, token: str) -> Source | None:
        """The source receiving at ``/in/<token>``, or None."""

    async def list_sources(self, app_id: str, cursor: Cursor) -> Page[Source]: ...
    async def update_source(self, source: Source, audit: AuditEntry | None = None) -> Source: ...
    async def delete_source(
        self, app_id: str, key: str, audit: AuditEntry | None = None
    ) -> None: ...
    async def receive(
        self, message: Message, dedup_key: str | None, window: float
    ) -> ReceiveResult:
        """Store a received event and fan it out, unless ``dedup_key`` was seen within ``window``.

        Race-safe: concurrent copies of one event store it once; every copy learns
        the id it was stored under.
        """

    async def receive_many(
        self, items: Sequence[tuple[Message, str | None, float]]
    ) -> list[ReceiveResult]:
        """``receive`` for many events in one transaction, one result per item, in order.

        Copies of one event within ``items`` are stored once, like concurrent copies.
        """

    async def count_refused(self, refused: Mapping[str, Refusals]) -> None:
        """Add refused requests (bad signature, not allowed, over the rate) to their
        sources' counts."""

    async def source_stats(self, source_ids: Sequence[str]) -> dict[str, SourceStats]:
        """Received, duplicate and rejected counts of these sources (absent: none yet)."""

    async def get_checkpoint(self, source_id: str, run_key: str) -> Checkpoint | None: ...
    async def save_checkpoint(
        self, source_id: str, run_key: str, checkpoint: Checkpoint, now: float
    ) -> None: ...
