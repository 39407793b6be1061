"""Cross-process wake-ups on SQLite: a datagram per commit (storage/wake.py) against
polling ``PRAGMA data_version``, measured the same way.

A writer process commits one row at a time, ``count`` times, ``gap`` seconds apart; a
watcher process notes when it learns of each commit: woken by the datagram the writer
sends after its commit, or by seeing ``data_version`` change on its own connection,
read every ``interval`` seconds on a thread (as a worker would, off its event loop).
Reported: the delay from commit to wake-up (median, p99, from CLOCK_MONOTONIC, which
both processes share), and the watcher's CPU per second while nothing is committed.

``python -m bench.wake [--count 300] [--gap 0.005]``
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sqlite3
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

from hookline.storage import wake

from bench.common import percentile

IDLE_SECONDS = 2.0


def _watch(conn: Connection, path: str, how: str, interval: float, count: int) -> None:
    """The watcher: report the idle CPU, then the time it learned of each commit."""
    seen: list[float] = []
    done = threading.Event()

    def note() -> None:
        seen.append(time.monotonic())
        if len(seen) >= count:
            done.set()

    async def by_datagram() -> None:
        listener = wake.WakeListener(path, asyncio.get_running_loop(), note)
        conn.send(("ready", 0.0))
        await asyncio.to_thread(_idle_cpu, conn)
        await asyncio.to_thread(done.wait, 60)
        listener.close()

    def by_polling() -> None:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        version = db.execute("PRAGMA data_version").fetchone()[0]
        stop = threading.Event()

        def poll() -> None:
            nonlocal version
            while not stop.is_set():
                now = db.execute("PRAGMA data_version").fetchone()[0]
                if now != version:
                    version = now
                    note()
                time.sleep(interval)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        conn.send(("ready", 0.0))
        _idle_cpu(conn)
        done.wait(60)
        stop.set()
        poller.join()

    if how == "datagram":
        asyncio.run(by_datagram())
    else:
        by_polling()
    conn.send(("seen", seen))


def _idle_cpu(conn: Connection) -> None:
    start = time.process_time()
    time.sleep(IDLE_SECONDS)
    conn.send(("idle", (time.process_time() - start) / IDLE_SECONDS))


def measure(how: str, interval: float, count: int, gap: float, workdir: Path) -> str:
    """One watcher's figures, as a line."""
    path = str(workdir / f"{how}-{interval}.db")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("CREATE TABLE t (n INTEGER)")
    sender = wake.WakeSender(path)
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    watcher = context.Process(target=_watch, args=(child, path, how, interval, count))
    watcher.start()
    assert parent.recv()[0] == "ready"
    idle = parent.recv()[1]
    committed = []
    for n in range(count):
        db.execute("INSERT INTO t VALUES (?)", (n,))
        committed.append(time.monotonic())
        if how == "datagram":
            sender.send()
        time.sleep(gap)
    seen = parent.recv()[1]
    watcher.join(10)
    sender.close()
    db.close()
    # Each commit is matched with the first wake-up after it.
    delays, index = [], 0
    for at in committed:
        while index < len(seen) and seen[index] < at:
            index += 1
        if index < len(seen):
            delays.append(seen[index] - at)
    label = "datagram (storage/wake.py)"
    if how != "datagram":
        label = f"data_version every {interval * 1000:g} ms"
    median = percentile(delays, 0.5) * 1000
    return (
        f"{label}: {len(delays)}/{count} seen; delay median {median:.2f} ms,"
        f" p99 {percentile(delays, 0.99) * 1000:.2f} ms; idle CPU {idle * 100:.2f}% of a core"
    )


def main() -> None:
    """Both ways, one after the other, with the load average."""
    parser = argparse.ArgumentParser(prog="python -m bench.wake", description=__doc__)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--gap", type=float, default=0.005)
    args = parser.parse_args()
    if not 1 <= args.count <= 10_000 or not 0.0005 <= args.gap <= 1:
        parser.error("count is bounded at 1..10,000 and gap at 0.0005..1 s")
    with tempfile.TemporaryDirectory(prefix="hookline-wake-") as name:
        for how, interval in (("datagram", 0.0), ("poll", 0.001), ("poll", 0.005)):
            line = measure(how, interval, args.count, args.gap, Path(name))
            load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"{line} (load {load})")


if __name__ == "__main__":
    main()
