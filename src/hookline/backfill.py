"""Catch-up: feed events a provider kept (and hookline missed) through the inbound path.

``hookline backfill <source> --since T --fetcher module:function`` calls the
user's ``function(since, until)``, which yields the provider's events (from its
API, an export...), and stores each one exactly as the gateway stores a received
request: the same message, the same dedup key, the same fan-out. Events already
received are skipped as duplicates, so a backfill over a period with no gap
changes nothing. Progress is checkpointed in the database every
``CHECKPOINT_EVERY`` events; running the same command again resumes: from the
last event's time when events carry one (they must then come oldest first),
else by count (the fetcher must then yield the same events in the same order).
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from hookline.domain.inbound import dedup_key, received_message
from hookline.domain.models import Source
from hookline.errors import ConfigError, ValidationError
from hookline.loading import load_object
from hookline.storage.base import Checkpoint, Storage

#: Events between two checkpoint writes (a resumed run redoes at most this many, as duplicates).
CHECKPOINT_EVERY = 50


@dataclass(frozen=True, slots=True)
class BackfillEvent:
    """One event a fetcher found. ``id`` is the provider's event id (the dedup key).

    ``body`` is sent on as is when bytes or text, or as JSON; ``timestamp`` (the
    event's time) lets an interrupted run resume from the last one done. A fetcher
    may also yield plain dicts with these keys.
    """

    id: str
    body: bytes | str | Mapping[str, Any] | list[Any]
    headers: Mapping[str, str] = field(default_factory=dict)
    event_type: str | None = None
    timestamp: float | datetime | None = None


@dataclass
class BackfillReport:
    """What a run did: events stored, duplicates skipped, and whether it had finished before."""

    stored: int = 0
    duplicates: int = 0
    resumed_from: int = 0
    already_finished: bool = False


Fetcher = Callable[[datetime, datetime], Iterable[Any] | AsyncIterator[Any]]


def load_fetcher(spec: str) -> Fetcher:
    """The function named by ``module:function``."""
    found = load_object(spec, "--fetcher")
    if not callable(found):
        raise ConfigError(f"{spec!r} is not callable")
    fetcher: Fetcher = found
    return fetcher


def as_event(item: Any, index: int) -> BackfillEvent:
    """A fetcher's item as a ``BackfillEvent``, or a clear error naming which item is wrong."""
    if isinstance(item, BackfillEvent):
        return item
    if isinstance(item, Mapping) and "id" in item and "body" in item:
        return BackfillEvent(
            id=str(item["id"]), body=item["body"], headers=item.get("headers") or {},
            event_type=item.get("event_type"), timestamp=item.get("timestamp"),
        )  # fmt: skip
    raise ValidationError(
        f"fetched item {index} is neither a BackfillEvent nor a dict with 'id' and 'body'",
        field=("fetcher", index),
    )


def _body(event: BackfillEvent) -> bytes:
    if isinstance(event.body, bytes):
        return event.body
    if isinstance(event.body, str):
        return event.body.encode()
    return orjson.dumps(event.body)


class OutOfOrder(ValidationError):
    """A fetcher yielded a timestamped event older than the one before it."""


def _epoch(value: float | datetime | None) -> float | None:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return value


async def _items(fetched: Iterable[Any] | AsyncIterator[Any]) -> AsyncIterator[Any]:
    if inspect.isasyncgen(fetched) or hasattr(fetched, "__anext__"):
        async for item in fetched:  # type: ignore[union-attr]
            yield item
    else:
        for item in fetched:
            yield item


async def backfill(
    storage: Storage,
    source: Source,
    fetcher: Fetcher,
    since: datetime,
    until: datetime | None,
    *,
    clock: Callable[[], float],
    on_progress: Callable[[BackfillReport], None] | None = None,
    retention: float | None = None,
) -> BackfillReport:
    """Store every event ``fetcher(since, until)`` yields, resuming a run interrupted before.

    ``until`` None means "up to now": such a run is never finished for good, so
    running it again resumes from its checkpoint and picks up what came since.
    """
    run_key = f"{since.isoformat()}..{until.isoformat() if until else 'open'}"
    saved = await storage.get_checkpoint(source.id, run_key)
    report = BackfillReport(resumed_from=saved.done_count if saved else 0)
    if saved is not None and saved.finished and until is not None:
        report.already_finished = True
        return report
    position = saved.position if saved else None
    done = saved.done_count if saved else 0
    # Resume by time when events carry one (from the last event done: it comes again,
    # as a duplicate); otherwise by count, skipping what the last run got through.
    start = datetime.fromtimestamp(position, UTC) if position is not None else since
    skip = done if saved is not None and position is None else 0
    end = until or datetime.fromtimestamp(clock(), UTC)
    # The dedup window must reach back over the whole range being filled in.
    window = max(source.dedup_window, end.timestamp() - since.timestamp())
    index = -1
    async for item in _items(fetcher(start, end)):
        index += 1
        if index < skip:
            continue
        event = as_event(item, index)
        moment = _epoch(event.timestamp)
        if moment is not None and position is not None and moment < position:
            # Resuming from a time is unsafe now: start over next time, from ``since``
            # (what this run stored comes again as duplicates, so nothing is lost).
            await storage.save_checkpoint(
                source.id, run_key, Checkpoint(None, 0, finished=False), clock()
            )
            raise OutOfOrder(
                f"fetched item {index} is older than the one before it: yield timestamped "
                "events oldest first, or leave timestamps out to resume by count",
                field=("fetcher", index),
            )
        message = received_message(
            source, _body(event), event.headers, event.event_type, clock(), retention
        )
        result = await storage.receive(message, dedup_key(event.id), window)
        if result.duplicate:
            report.duplicates += 1
        else:
            report.stored += 1
        done += 1
        position = moment if moment is not None else position
        if done % CHECKPOINT_EVERY == 0:
            await storage.save_checkpoint(
                source.id, run_key, Checkpoint(position, done, False), clock()
            )
            if on_progress is not None:
                on_progress(report)
    await storage.save_checkpoint(source.id, run_key, Checkpoint(position, done, True), clock())
    return report
