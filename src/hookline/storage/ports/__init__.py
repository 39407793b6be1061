"""The storage roles: each part of hookline takes only the role it needs.

A backend implements every role; ``Storage`` is all of them at once. The worker takes
a ``DeliveryQueue`` and never sees the resource, audit or session operations.

Each signature is written here once: the SQL backends implement them as synchronous
operations (``storage/sql/``) given their async face by one adapter (``_threaded.py``),
and tests/unit/test_storage_ports.py proves each backend's signatures are these.
A change to a resource takes an optional ``audit`` entry, written in its transaction.
"""

from __future__ import annotations

from typing import Protocol

from hookline.storage.ports.access import Audit, Idempotency, Sessions, Tokens
from hookline.storage.ports.destinations import Pollers
from hookline.storage.ports.inbound import Sources
from hookline.storage.ports.jobs import Jobs, Retention
from hookline.storage.ports.messages import MessageLog
from hookline.storage.ports.operations import Operations
from hookline.storage.ports.queue import DeliveryQueue
from hookline.storage.ports.resources import Lifecycle, Resources


class Storage(
    Lifecycle, Resources, MessageLog, DeliveryQueue, Jobs, Retention, Idempotency, Tokens,
    Audit, Sources, Sessions, Operations, Pollers, Protocol,
):  # fmt: skip
    """One database holding the resources, the queue and the attempt log: every role."""


__all__ = [
    "Audit",
    "DeliveryQueue",
    "Idempotency",
    "Jobs",
    "Lifecycle",
    "MessageLog",
    "Operations",
    "Pollers",
    "Resources",
    "Retention",
    "Sessions",
    "Sources",
    "Storage",
    "Tokens",
]
