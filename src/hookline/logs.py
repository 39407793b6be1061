"""Log output for the server processes: one JSON object per line, extras included."""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from typing import Any

import orjson

#: LogRecord attributes that are not user-supplied ``extra`` fields.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


#: What a secret looks like in text: signing secrets, API tokens, signatures, bearer values.
_SECRET = re.compile(
    r"whsec_[A-Za-z0-9+/=]{8,}|hk_[A-Za-z0-9_\-]{8,}|\bv1a?,[A-Za-z0-9+/=]{16,}"
    r"|(?i:bearer)\s+[^\s\"',]+"
)


def redact(text: str) -> str:
    """``text`` with anything shaped like a secret replaced by ``<redacted>``.

    A safety net under the rule that code never logs secrets: an exception
    message or a library's log line can still carry one.
    """
    return _SECRET.sub("<redacted>", text)


class JsonFormatter(logging.Formatter):
    """Formats a record as JSON with its structured ``extra=`` fields at top level.

    It runs once per delivery attempt, so it stays lean: the second part of the
    timestamp is formatted once per second, and extras are found by a set difference.
    """

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._second_text = ""

    def _timestamp(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._second = second
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._second_text}.{int((created - second) * 1000):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        fields = record.__dict__
        entry: dict[str, Any] = {
            "ts": self._timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in fields.keys() - _STANDARD:
            if not key.startswith("_"):
                entry[key] = fields[key]
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class BatchingStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes log lines in batches: at most ``delay`` seconds late, or ``size`` lines.

    One write per line would release and re-take the GIL per delivery attempt,
    and on a busy worker each re-take waits behind the database thread; batching
    makes that once per batch. Lines still reach the stream within ``delay``.
    """

    def __init__(self, stream: Any = None, delay: float = 0.2, size: int = 256) -> None:
        super().__init__(stream)
        self.delay = delay
        self.size = size
        self._lines: list[str] = []
        self._timer: threading.Timer | None = None

    def emit(self, record: logging.LogRecord) -> None:
        """Queue the formatted line; write the batch when full (or from the timer)."""
        try:
            line = redact(self.format(record)) + self.terminator
        except Exception:  # a bad record must not take the caller down
            self.handleError(record)
            return
        with self.lock:  # type: ignore[union-attr]
            self._lines.append(line)
            full = len(self._lines) >= self.size
            if not full and self._timer is None:
                self._timer = threading.Timer(self.delay, self.flush)
                self._timer.daemon = True
                self._timer.start()
        if full:
            self.flush()

    def flush(self) -> None:
        """Write what is queued, in one call."""
        with self.lock:  # type: ignore[union-attr]
            lines, self._lines = self._lines, []
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if lines:
                self.stream.write("".join(lines))
            super().flush()


def configure(level: str = "INFO", json: bool = True) -> None:
    """Send hookline's and the server's logs to stderr, as JSON or plain text.

    Also switches off what the log lines never show (caller's file and line,
    thread and process names), as the logging HOWTO's "Optimization" section
    advises: at one line per delivery attempt it is a measurable cost.
    """
    logging._srcfile = None  # documented in the logging HOWTO
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = BatchingStreamHandler(sys.stderr)
    if json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # One access line per request would drown the attempt log; errors still show.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
