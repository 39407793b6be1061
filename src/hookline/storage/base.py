"""The storage port and its records, under the names hookline has always imported.

The roles live in ``ports/`` (``Storage`` is all of them at once), the records in
``records.py``; this module re-exports both. Every backend (SQLite, PostgreSQL)
implements ``Storage`` and passes the same contract suite
(tests/integration/test_storage_contract.py). The queue lives in the same database as
everything else: a delivery row per (message, endpoint), claimed under a lease, so
publishing and queueing are one transaction.
"""

from __future__ import annotations

# Re-exports, so each name is listed once (in its module's __all__), not again here.
from hookline.storage.ports import *  # noqa: F403
from hookline.storage.records import *  # noqa: F403
