"""The records a run leaves, as plain values: what the receiver saw, what hookline says.

Nothing here judges; :mod:`chaos.proofs` does, from these values alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from chaos.load import ApiRecords, Published


@dataclass(frozen=True)
class Request:
    """One request as the chaos receiver logged it."""

    seq: int
    msg_id: str
    path: str
    #: The process that sent it (None: its socket or owner was gone when looked up).
    pid: int | None
    arrived: float
    kind: str
    #: The payload's message number (None: unreadable).
    n: int | None
    #: When the receiver was done with it (None: never logged as done).
    ended: float | None = None
    #: The status the receiver answered with (None: no answer at all).
    status: int | None = None
    #: Whether that answer was written out in full.
    written: bool = False

    @property
    def ok(self) -> bool:
        """A 2xx, written out in full."""
        return self.written and self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class AttemptSeen:
    """One attempt from hookline's attempt log."""

    id: str
    msg_id: str
    path: str
    status_code: int
    success: bool
    at: float
    #: The receiver's sequence number read back from the response (None: no response).
    seq: int | None
    error_class: str | None


@dataclass(frozen=True)
class Kill:
    """A process's end: when, which, whether it was delivering, and whether planned.

    Planned kills are the schedule's ``kill -9``; the others are the watcher stopping
    a process that was hanging after failing by itself.
    """

    at: float
    pid: int
    name: str
    sends: bool
    planned: bool = True


@dataclass(frozen=True)
class Outage:
    """PostgreSQL restarted: from the restart command to the first accepted connection."""

    start: float
    end: float


@dataclass
class Evidence:
    """Everything the proofs look at."""

    published: dict[int, Published]
    #: The endpoint paths each published message must reach, by message id.
    routed: dict[str, frozenset[str]]
    records: ApiRecords
    requests: list[Request]
    attempts: list[AttemptSeen]
    kills: list[Kill]
    outages: list[Outage]
    request_timeout: float
    connect_timeout: float
    lease_seconds: float
    worker_concurrency: int
    worker_processes: int
    max_attempts: int
    publish_failures: list[str] = field(default_factory=list)
    #: Problems of the processes themselves (exits nobody asked for, failed restarts).
    process_problems: list[str] = field(default_factory=list)
    drained: bool = True
    drain_detail: str = ""


def read_receiver_log(path: Path) -> list[Request]:
    """The receiver's log as requests, in arrival order (a torn last line is skipped)."""
    seen: dict[int, dict[str, Any]] = {}
    done: dict[int, dict[str, Any]] = {}
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        (seen if record.get("e") == "seen" else done)[record["seq"]] = record
    requests = []
    for seq, s in sorted(seen.items()):
        d = done.get(seq, {})
        requests.append(
            Request(
                seq=seq, msg_id=s["id"], path=s["path"], pid=s.get("pid"), arrived=s["at"],
                kind=s["kind"], n=s.get("n"), ended=d.get("at"), status=d.get("status"),
                written=bool(d.get("written")),
            )
        )  # fmt: skip
    return requests


def attempts_from(records: ApiRecords) -> list[AttemptSeen]:
    """Every attempt of the attempt log, oldest first."""
    found = []
    for path, items in records.attempts.items():
        for item in items:
            found.append(
                AttemptSeen(
                    id=item["id"], msg_id=item["msgId"], path=path,
                    status_code=item["responseStatusCode"], success=item["status"] == 0,
                    at=datetime.fromisoformat(item["timestamp"]).timestamp(),
                    seq=_seq_of(item), error_class=item.get("errorClass"),
                )
            )  # fmt: skip
    return sorted(found, key=lambda a: a.at)


def _seq_of(item: dict[str, Any]) -> int | None:
    """The receiver's sequence number in an attempt's response (header, else body)."""
    headers = {k.lower(): v for k, v in (item.get("responseHeaders") or {}).items()}
    if headers.get("x-chaos-seq", "").isdigit():
        return int(headers["x-chaos-seq"])
    try:
        value = json.loads(item.get("response") or "").get("seq")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None
