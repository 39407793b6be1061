"""The storage port and its records, under the names hookline has always imported.

The roles live in ``ports.py`` (``Storage`` is all of them at once), the records in
``records.py``. Every backend (SQLite, PostgreSQL) implements ``Storage`` and passes
the same contract suite (tests/integration/test_storage_contract.py). The queue lives
in the same database as everything else: a delivery row per (message, endpoint),
claimed under a lease, so publishing and queueing are one transaction.
"""

from __future__ import annotations

from hookline.storage.ports import (
    Audit,
    DeliveryQueue,
    Idempotency,
    Jobs,
    Lifecycle,
    MessageLog,
    Resources,
    Retention,
    Sessions,
    Sources,
    Storage,
    Tokens,
)
from hookline.storage.records import (
    BEGINNING,
    END_OF_TIME,
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
    RekeyResult,
    WebSession,
)

__all__ = [
    "BEGINNING",
    "END_OF_TIME",
    "AttemptFilter",
    "Audit",
    "Checkpoint",
    "ClaimedDelivery",
    "Cursor",
    "DeliveryQueue",
    "DeliveryState",
    "Idempotency",
    "IdempotentResponse",
    "Jobs",
    "Lifecycle",
    "MessageFilter",
    "MessageLog",
    "Outcome",
    "PublishResult",
    "QueueStats",
    "ReceiveResult",
    "RekeyResult",
    "Resources",
    "Retention",
    "Sessions",
    "Sources",
    "Storage",
    "Tokens",
    "WebSession",
]
