"""Log output: JSON lines with structured fields, written in batches."""

from __future__ import annotations

import io
import json
import logging
import time

from hookline.logs import BatchingStreamHandler, JsonFormatter


def make_logger(stream: io.StringIO, **options: float) -> logging.Logger:
    handler = BatchingStreamHandler(stream, **options)  # type: ignore[arg-type]
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(f"test.logs.{id(stream)}")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def test_line_is_json_with_extra_fields() -> None:
    """A log line is one JSON object carrying the structured extras."""
    stream = io.StringIO()
    logger = make_logger(stream)
    logger.info("attempt", extra={"msg_id": "msg_1", "status_code": 200})
    logger.handlers[0].flush()
    entry = json.loads(stream.getvalue())
    assert entry["msg"] == "attempt"
    assert entry["msg_id"] == "msg_1"
    assert entry["status_code"] == 200
    assert entry["level"] == "info"
    assert entry["ts"].endswith("Z")


def test_lines_are_written_within_the_delay() -> None:
    """Batched lines reach the stream by themselves within the delay."""
    stream = io.StringIO()
    logger = make_logger(stream, delay=0.05, size=1000)
    logger.info("one")
    logger.info("two")
    assert stream.getvalue() == ""
    deadline = time.monotonic() + 2
    while stream.getvalue().count("\n") < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [json.loads(line)["msg"] for line in stream.getvalue().splitlines()] == ["one", "two"]


def test_full_batch_is_written_at_once() -> None:
    """A batch reaching its size is written without waiting for the timer."""
    stream = io.StringIO()
    logger = make_logger(stream, delay=60, size=3)
    for n in range(3):
        logger.info("line %d", n)
    assert stream.getvalue().count("\n") == 3
