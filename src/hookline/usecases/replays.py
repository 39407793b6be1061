"""Sending again: one message to one endpoint now (resend), and an endpoint's messages
of a time window as a background task (recover, replay-missing, bulk replay)."""

from __future__ import annotations

from hookline.domain import jobs
from hookline.domain.audit import job_started, resent
from hookline.domain.destinations import POLLING
from hookline.domain.models import BackgroundTask, Delivery, Endpoint
from hookline.domain.tokens import Principal
from hookline.errors import ValidationError
from hookline.storage.base import Storage

#: Delivery statuses a bulk replay can be narrowed to (Svix's numbers).
REPLAY_STATUSES = {0: "success", 2: "fail"}


def window(since: float, until: float | None, now: float) -> tuple[float, float]:
    """The window [since, until), ``until`` defaulting to now; it must not run backwards."""
    end = now if until is None else until
    if end < since:
        raise ValidationError("until must not be before since", field=("until",))
    return since, end


def not_a_poller(endpoint: Endpoint) -> None:
    """A polling destination is read, never delivered to: nothing can be sent to it again
    (its consumers seek back instead)."""
    destination = endpoint.destination
    if destination is not None and destination.kind == POLLING:
        raise ValidationError(
            "a pollingEndpoint is read, not delivered to: seek its consumers back instead",
            field=("path", "endpoint_id"),
        )


async def resend(
    storage: Storage, who: Principal, app_id: str, msg_key: str, endpoint_key: str, now: float
) -> Delivery:
    """Queue the message ``msg_key`` (id or eventId) to the endpoint again now, creating
    its delivery if the endpoint was added after the message."""
    not_a_poller(await storage.get_endpoint(app_id, endpoint_key))
    entry = resent(who, app_id, msg_key, now)
    return await storage.resend(app_id, msg_key, endpoint_key, now, entry)


async def recover(
    storage: Storage, who: Principal, endpoint: Endpoint, since: float, until: float | None,
    now: float,
) -> BackgroundTask:  # fmt: skip
    """Re-queue the endpoint's failed and held deliveries made in the window; the task
    records how many."""
    start, end = window(since, until, now)
    params = jobs.JobParams(endpoint.id, start, end)
    entry = job_started(who, endpoint.app_id, jobs.RECOVER, params, now)
    return await storage.recover(endpoint.app_id, endpoint.id, start, end, now, entry)


async def replay_missing(
    storage: Storage, who: Principal, endpoint: Endpoint, since: float, until: float | None,
    now: float,
) -> BackgroundTask:  # fmt: skip
    """Start sending the endpoint the messages of the window it would receive but has no
    delivery of (it was added later, or was filtering them out)."""
    params = jobs.JobParams(endpoint.id, *window(since, until, now))
    entry = job_started(who, endpoint.app_id, jobs.REPLAY, params, now)
    return await storage.start_job(endpoint.app_id, jobs.REPLAY, params, now, entry)


async def bulk_replay(
    storage: Storage, who: Principal, endpoint: Endpoint, since: float, until: float | None,
    now: float, *, status: int | None = None, event_types: tuple[str, ...] | None = None,
    channel: str | None = None,
) -> BackgroundTask:  # fmt: skip
    """Start sending again the endpoint's deliveries of the window, successful and failed
    alike (or of one ``status``: 0 success, 2 fail), narrowed by event types and channel."""
    if status not in (None, *REPLAY_STATUSES):
        raise ValidationError("status is 0 (success) or 2 (fail)", field=("status",))
    params = jobs.JobParams(
        endpoint.id, *window(since, until, now), event_types=event_types or None,
        channel=channel, status=None if status is None else REPLAY_STATUSES[status],
    )  # fmt: skip
    entry = job_started(who, endpoint.app_id, jobs.BULK_REPLAY, params, now)
    return await storage.start_job(endpoint.app_id, jobs.BULK_REPLAY, params, now, entry)
