"""Background jobs: long operations done a batch at a time, resumable, cancellable.

A job is a background task (Svix's ``BackgroundTaskOut``) with parameters and a
place it has reached. Storage does each batch and moves the place in the same
transaction, so a job interrupted by a crash resumes where it stopped, without
doing any batch twice. Pure: the kinds, their parameters, and the statuses each
kind re-sends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

RECOVER = "endpoint.recover"  # re-send an endpoint's failed (and held) deliveries
REPLAY = "endpoint.replay"  # send an endpoint the messages it never got (replay-missing)
BULK_REPLAY = "endpoint.bulk-replay"  # re-send an endpoint's deliveries, by filter
PURGE_CONTENT = "application.purge_content"  # expunge every payload of an application
APP_STATS = "application.stats"  # count each application's message destinations in a window
EVENT_TYPE_AGGREGATE = "event-type.aggregate"  # the event types each application listens to

#: The jobs that re-send deliveries (their data counts ``messagesSent``).
RESENDING = (RECOVER, REPLAY, BULK_REPLAY)
#: The jobs over applications rather than one endpoint (``JobParams.extra`` says which).
OVER_APPLICATIONS = (PURGE_CONTENT, APP_STATS, EVENT_TYPE_AGGREGATE)
KINDS = RESENDING + OVER_APPLICATIONS

RUNNING = "running"
FINISHED = "finished"
FAILED = "failed"

#: Deliveries (or messages, for a replay) handled per batch: one transaction each.
BATCH = 500


@dataclass(frozen=True, slots=True)
class JobParams:
    """What a job works on: an endpoint's deliveries or messages created in [since, until)."""

    endpoint_id: str
    since: float
    until: float
    event_types: tuple[str, ...] | None = None
    channel: str | None = None
    #: Bulk replay only: "success", "fail" or None (both).
    status: str | None = None
    #: Where the job got to: the last (created_at, id) handled.
    after: tuple[float, str] = (0.0, "")
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "endpoint_id": self.endpoint_id, "since": self.since, "until": self.until,
            "event_types": None if self.event_types is None else list(self.event_types),
            "channel": self.channel, "status": self.status, "after": list(self.after),
            **({"extra": self.extra} if self.extra else {}),
        }  # fmt: skip

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> JobParams:
        """Read the stored form back."""
        types = stored.get("event_types")
        after = stored.get("after") or (0.0, "")
        return cls(
            endpoint_id=stored["endpoint_id"], since=stored["since"], until=stored["until"],
            event_types=None if types is None else tuple(types), channel=stored.get("channel"),
            status=stored.get("status"), after=(float(after[0]), str(after[1])),
            extra=dict(stored.get("extra") or {}),
        )  # fmt: skip


def statuses_resent(kind: str, status: str | None) -> Sequence[str]:
    """The delivery statuses a recover or bulk replay re-sends."""
    if kind == RECOVER or status == "fail":
        return ("failed", "held")
    if status == "success":
        return ("success",)
    return ("success", "failed", "held")


def initial_data(kind: str) -> dict[str, Any]:
    """A new job's data, in Svix's names: what it counts or gathers as it goes."""
    if kind == PURGE_CONTENT:
        return {"messagesPurged": 0}
    if kind == APP_STATS:
        return {"appStats": []}
    if kind == EVENT_TYPE_AGGREGATE:
        return {"event_types": []}  # snake_case, as Svix's own task answers it
    return {"messagesSent": 0}
