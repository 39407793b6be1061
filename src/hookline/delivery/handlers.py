"""Python handlers: deliveries processed in-process instead of POSTed.

An endpoint whose URL is ``handler:<group>`` is served by a ``Handlers`` object
of that group, which a worker started with ``--handlers module:object`` runs::

    handlers = Handlers("billing")

    @handlers.on("invoice.paid")
    def record_payment(event: InboundEvent) -> None:
        ...  # event.id is stable across retries: use it to make the effect idempotent

A handler that returns counts as a 2xx; one that raises counts as a failed
attempt (its exception is the attempt's response), so handlers get the same
retries, backoff, dead-letter, attempt log and replay as HTTP endpoints.
"""

from __future__ import annotations

import asyncio
import inspect
import time
import traceback

from hookline.domain.handlers import Handler, Handlers, InboundEvent
from hookline.domain.outcome import AttemptResult, ErrorClass
from hookline.domain.routing import HANDLER_SCHEME as SCHEME
from hookline.errors import ConfigError
from hookline.loading import load_object

#: Longest exception text kept as an attempt's response.
MAX_ERROR_TEXT = 4096


def load(spec: str) -> Handlers:
    """The ``Handlers`` object named by ``module:attribute``."""
    found = load_object(spec, "--handlers")
    if not isinstance(found, Handlers):
        raise ConfigError(f"{spec!r} is a {type(found).__name__}, not a hookline Handlers object")
    return found


class HandlerRunner:
    """Runs the handlers of one group for deliveries to ``handler:<group>`` endpoints."""

    def __init__(self, handlers: Handlers | None, timeout: float) -> None:
        self.handlers = handlers
        self.timeout = timeout

    async def run(self, url: str, event: InboundEvent) -> AttemptResult:
        """Run every handler for the event; any exception makes the attempt fail."""
        started = time.perf_counter()
        group = url[len(SCHEME) :]
        if self.handlers is None or self.handlers.group != group:
            return _failed(
                started, ErrorClass.NO_HANDLER,
                f"no worker here runs handlers of group {group!r}: start one with "
                f"`hookline worker --handlers module:object`",
            )  # fmt: skip
        chosen = self.handlers.for_type(event.event_type)
        try:
            for handler in chosen:
                await asyncio.wait_for(_call(handler, event), self.timeout)
        except TimeoutError:
            return _failed(started, ErrorClass.TIMEOUT, f"handler ran over {self.timeout}s")
        except Exception as error:  # a handler's failure is the attempt's result
            text = "".join(traceback.format_exception_only(error)).strip()
            return _failed(started, ErrorClass.HANDLER, text[:MAX_ERROR_TEXT])
        answer = f"handled by {len(chosen)} handler(s)" if chosen else "no handler for this type"
        return AttemptResult(
            status_code=200, response_body=answer, response_headers={},
            duration_ms=_ms(started),
        )  # fmt: skip


async def _call(handler: Handler, event: InboundEvent) -> None:
    if inspect.iscoroutinefunction(handler):
        await handler(event)
        return
    # A plain function may block: it runs on a thread, so the worker's loop never waits.
    result = await asyncio.to_thread(handler, event)
    if inspect.isawaitable(result):
        await result


def _failed(started: float, error_class: ErrorClass, text: str) -> AttemptResult:
    return AttemptResult(
        status_code=0, response_body=text, response_headers={}, duration_ms=_ms(started),
        error_class=error_class,
    )  # fmt: skip


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
