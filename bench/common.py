"""Pieces shared by the benchmark's processes: the payload, the secret, child hygiene."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import math
import signal
import sys
from collections.abc import Callable, Coroutine
from importlib import metadata
from typing import Any, TypeVar

import orjson

T = TypeVar("T")

#: Bytes of every webhook body, as the brief's "signed 1 KiB JSON POSTs".
PAYLOAD_BYTES = 1024
#: The endpoint secret used by every sender (hookline and the ceiling alike).
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#: What hookline sends as User-Agent by default; the ceiling sends the same.
USER_AGENT = "hookline-webhooks/0.1"
EVENT_TYPE = "bench.event"
_PR_SET_PDEATHSIG = 1


class BenchError(RuntimeError):
    """A measurement could not complete (timeout, failed deliveries, a server error...)."""


def payload(seq: int) -> dict[str, Any]:
    """A JSON object whose compact serialisation (orjson, as hookline stores it) is 1 KiB."""
    head = {"type": EVENT_TYPE, "seq": f"{seq:012d}", "data": ""}
    pad = PAYLOAD_BYTES - len(orjson.dumps(head))
    head["data"] = "x" * pad
    return head


#: A payload filter that takes every :func:`payload` but has to look at each of its fields:
#: ``type`` among a few, ``seq`` (12 digits, as text) compared and matched by a regex, a
#: field the payload never has tested both ways, and ``data`` compared with a value.
FILTER: dict[str, Any] = {
    "body": {
        "type": {"$in": [EVENT_TYPE, "bench.retry", "bench.other"]},
        "seq": {"$gte": "000000000000", "$regex": "^[0-9]{12}$"},
        "$or": [{"kind": {"$exist": False}}, {"kind": {"$in": ["a", "b", "c"]}}],
        "$not": {"data": ""},
    }
}
#: A transformation that reshapes every :func:`payload` (same fields, renamed and
#: reordered, so the body stays 1 KiB) and adds a static header.
TRANSFORMATION: dict[str, Any] = {
    "body": "{id: seq, kind: type, data: data}",
    "headers": {"X-Bench": "1"},
}
#: The delivery-controls scenario: endpoint fields set on every endpoint, by name.
CONTROLS: dict[str, dict[str, Any]] = {
    "filter": {"filter": FILTER},
    "transformation": {"transformation": TRANSFORMATION},
    "both": {"filter": FILTER, "transformation": TRANSFORMATION},
}


def payload_bytes(seq: int) -> bytes:
    """The serialised form of :func:`payload`: exactly ``PAYLOAD_BYTES`` long."""
    body = orjson.dumps(payload(seq))
    assert len(body) == PAYLOAD_BYTES, len(body)
    return body


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (no orphans after a crash)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def run_loop(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``main()`` on uvloop when installed (as ``hookline`` itself does), else asyncio."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a hookline dependency on Linux
        return asyncio.run(main())
    return uvloop.run(main())


def loop_name() -> str:
    """Which event loop :func:`run_loop` uses."""
    try:
        return f"uvloop {metadata.version('uvloop')}"
    except metadata.PackageNotFoundError:  # pragma: no cover
        return "asyncio"


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (which must not be empty)."""
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))
    return ordered[rank]
