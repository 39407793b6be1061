"""Identifiers: a type prefix and a time-ordered, random, base62 body (like Svix).

Ids sort by creation time, so ``ORDER BY id`` is creation order and an id makes
a stable pagination cursor. The body has a KSUID's shape (20 bytes, 27 base62
characters, 4 leading bytes of seconds since the KSUID epoch), but the next 3
bytes hold the microseconds, so ids made within one second still sort in the
order they were made; 13 random bytes follow.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_KSUID_EPOCH = 1_400_000_000
_BODY_LENGTH = 27

APPLICATION = "app"
ENDPOINT = "ep"
MESSAGE = "msg"
ATTEMPT = "atmpt"
DELIVERY = "dlv"
BATCH = "batch"
TASK = "qtask"
SOURCE = "src"
TOKEN = "tok"  # noqa: S105 - an id prefix, not a secret
AUDIT = "audit"

_ID_PATTERN = re.compile(r"^[a-z]+_[0-9A-Za-z]{27}$")


#: Every two-digit base62 string, by value: two digits per division halves the work
#: of the hottest few lines in id making (ids are made per message, delivery, attempt).
_PAIRS = tuple(high + low for high in _ALPHABET for low in _ALPHABET)
_PAIR_BASE = 62 * 62


def _base62(number: int) -> str:
    pairs = []
    while number:
        number, rest = divmod(number, _PAIR_BASE)
        pairs.append(_PAIRS[rest])
    # An odd length leaves one leading zero too many: the fixed width trims it.
    return "".join(reversed(pairs)).rjust(_BODY_LENGTH + 1, "0")[-_BODY_LENGTH:]


class _RandomPool(threading.local):
    """``os.urandom`` drawn 4 KiB at a time, per thread.

    ``os.urandom`` lets go of the GIL for its system call, and getting it back can
    wait for another thread's whole switch interval (5 ms): drawn per id, that put
    the event loop behind the SQLite writer on every publish. Once per ~300 ids
    costs next to nothing. A forked child starts a new pool (never its parent's bytes).
    """

    def __init__(self) -> None:
        self.data = b""
        self.offset = 0


_POOL_BYTES = 4096
_pool = _RandomPool()


def _forget_pool() -> None:
    global _pool  # noqa: PLW0603 - replaced in a forked child only
    _pool = _RandomPool()


os.register_at_fork(after_in_child=_forget_pool)


def pooled_random(size: int) -> bytes:
    """``size`` bytes from the operating system's random source (as ``os.urandom``)."""
    pool = _pool
    start = pool.offset
    if start + size > len(pool.data):
        pool.data = os.urandom(max(_POOL_BYTES, size))
        start = 0
    pool.offset = start + size
    return pool.data[start : start + size]


def new_id(
    prefix: str,
    now: float,
    random_bytes: Callable[[int], bytes] = pooled_random,
) -> str:
    """Return ``prefix_<ksuid>`` for the time ``now`` (seconds since the epoch)."""
    seconds = max(int(now) - _KSUID_EPOCH, 0).to_bytes(4, "big")
    micros = min(int((now % 1) * 1_000_000), 999_999).to_bytes(3, "big")
    body = int.from_bytes(seconds + micros + random_bytes(13), "big")
    return f"{prefix}_{_base62(body)}"


#: The last moment a KSUID's 32-bit seconds can name (early 2150).
LAST_ID_TIME = _KSUID_EPOCH + 2**32 - 1


def floor_id(prefix: str, at: float) -> str:
    """The smallest id of ``prefix`` made at ``at``: a lower bound for ids by time.

    A time past ``LAST_ID_TIME`` (a bound a caller may give, like the year 9999) is
    taken as that last second, whose ids are above every id made before it.
    """
    return new_id(prefix, min(at, LAST_ID_TIME), random_bytes=bytes)


def looks_like_id(value: str, prefix: str) -> bool:
    """Tell whether ``value`` is shaped like an id of this prefix (else it may be a uid)."""
    return value.startswith(prefix + "_") and bool(_ID_PATTERN.match(value))
