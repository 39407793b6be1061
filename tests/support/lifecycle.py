"""A parent of API-like children run by ``hookline.processes`` itself, cheaply.

``python -m support.lifecycle`` supervises a ``Group`` exactly as ``hookline api
--processes N`` does (``processes.supervise``: spawn, readiness, replacement, stop,
dying with the parent), but each child runs ``serve_until_stopped`` instead of a
whole server: it starts as ``runtime.serve`` does (a SIGTERM handler on an event
loop, then a start-up that takes a while, then ``on_ready``) in a fraction of the
time, so a test can kill a hundred parents in a minute. On the parent's standard
output, each child prints ``started <pid>`` once its handler is set, and the parent
``ready <pid> <pid>...`` once every child is ready.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable

from hookline import processes


def serve_until_stopped(startup: float, stubborn: bool, *, on_ready: Callable[[], None]) -> None:
    """Start like an API process (handler first, then ``startup`` seconds of work), say
    ready, run until SIGTERM. ``stubborn``: ignore SIGTERM, as a stuck process would."""

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        if stubborn:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print(f"started {os.getpid()}", flush=True)  # the parent's stdout: the test reads it
        # Blocking on purpose, as building the app is: a SIGTERM now waits for it.
        time.sleep(startup)  # noqa: ASYNC251
        on_ready()
        await stop.wait()

    asyncio.run(serve())


def main() -> None:
    """Supervise ``--count`` children until a signal; exit with supervise's code."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=2)
    parser.add_argument("--startup", type=float, default=0.3)
    parser.add_argument("--grace", type=float, default=1.0)
    parser.add_argument("--stubborn", action="store_true")
    options = parser.parse_args()
    group = processes.Group(
        options.count, serve_until_stopped, lambda index: (options.startup, options.stubborn),
        options.grace,
    )  # fmt: skip

    def ready() -> None:
        pids = " ".join(str(child.process.pid) for child in group.children)
        print(f"ready {pids}", flush=True)  # the test reads it

    sys.exit(processes.supervise(group, ready))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
