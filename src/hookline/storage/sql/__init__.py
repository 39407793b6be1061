"""The storage logic shared by the SQL backends, one module per concern.

Each concern is a class of synchronous operations of an open connection, with its
queries in ``queries/<concern>.sql``; ``SqlOperations`` is all of them at once. The
operations marked ``@reads``/``@writes`` are the storage ports' methods (``ports/``),
each with the port's signature after its ``conn``: the backends' async face is made
from them (``storage/_threaded.py``).

    _core         queries, rows, the base class, the @reads/@writes marks
    rows, params  rows to records by column name, and records to parameters
    sealing       secrets sealed at the storage boundary
    fanout        storing messages with their deliveries; the routing cache
    audit         the audit trail (and the operational webhooks a change makes)
    gates         circuits and paces of endpoints
    applications  applications and event types
    endpoints     endpoints, pause and resume, delivery state
    rekey         re-sealing secrets under a new key
    destinations  pollers' reads of the message log, their consumers' positions
    messages      publishing, and the log of messages, deliveries and attempts
    queue         claims, admission, batch fills, probes, releases
    recording     what follows an attempt (``record``)
    operations    the rest of Svix's log operations; the jobs over applications
    jobs          resend, recover, background jobs
    environment   an environment imported in one transaction
    plans         plans, applications' plans, and the quotas a publish takes
    retention     expunging payloads, deleting attempts, expiring keys
    idempotency   idempotency keys
    tokens        API tokens
    inbound       sources, received events, counts, checkpoints
    sessions      web sessions
"""

from __future__ import annotations

from hookline.storage.sql._core import (
    ACCESS,
    READ,
    URGENT,
    WRITE,
    Connection,
    Dialect,
    load_queries,
)
from hookline.storage.sql.applications import ApplicationOps
from hookline.storage.sql.destinations import DestinationOps
from hookline.storage.sql.environment import EnvironmentOps
from hookline.storage.sql.idempotency import IdempotencyOps
from hookline.storage.sql.inbound import InboundOps
from hookline.storage.sql.jobs import JobOps
from hookline.storage.sql.plans import PlanOps
from hookline.storage.sql.queue import QueueOps
from hookline.storage.sql.recording import RecordingOps
from hookline.storage.sql.rekey import RekeyOps, RekeyPage
from hookline.storage.sql.retention import RetentionOps
from hookline.storage.sql.sessions import SessionOps
from hookline.storage.sql.tokens import TokenOps


class SqlOperations(
    EnvironmentOps, ApplicationOps, JobOps, RetentionOps, QueueOps, RecordingOps, IdempotencyOps,
    TokenOps, InboundOps, SessionOps, RekeyOps, DestinationOps, PlanOps,
):  # fmt: skip
    """Every storage operation as a synchronous function of a connection."""


__all__ = [
    "ACCESS",
    "READ",
    "URGENT",
    "WRITE",
    "Connection",
    "Dialect",
    "RekeyPage",
    "SqlOperations",
    "load_queries",
]
