"""``--processes``: no child outlives its parent, however and whenever the parent dies.

Each run starts a real parent (``support.lifecycle``: ``hookline.processes`` with
light children), kills it at a random moment of its life (while it spawns, while
children start, while it replaces one it lost), and checks that every process it
ever started is gone soon after. Four runs go at a time, beside a busy process,
so spawns and deaths interleave as they do on a loaded machine.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from hookline.processes import STOP_MARGIN

TESTS = Path(__file__).parents[1]
#: The variable that marks every process of one run (children inherit the environment).
MARK = "HOOKLINE_LIFECYCLE_RUN"
RUNS = 100
AT_ONCE = 4
#: Seconds a child of a dead parent may take to go (it stops at once on SIGTERM).
GONE_WITHIN = 10.0
#: A child's start-up after its SIGTERM handler is set: the window the old race hit.
STARTUP = 0.3


def marked(run: str) -> list[int]:
    """Live (not zombie) processes carrying ``run``'s mark."""
    needle = f"{MARK}={run}".encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if needle not in Path(entry.path, "environ").read_bytes().split(b"\0"):
                continue
            state = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue  # gone meanwhile, or not ours
        if state != "Z":
            found.append(int(entry.name))
    return found


def gone(run: str, timeout: float) -> list[int]:
    """Wait up to ``timeout`` seconds for ``run``'s processes to end; those left."""
    deadline = time.monotonic() + timeout
    while (left := marked(run)) and time.monotonic() < deadline:
        time.sleep(0.2)  # each look reads every process's environment: not too often
    return left


@contextmanager
def parent_process(run: str, *options: str) -> Iterator[subprocess.Popen[str]]:
    """A ``support.lifecycle`` parent marked ``run``; afterwards, nothing of it is left
    running, even when the test failed."""
    path = os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, MARK: run, "PYTHONPATH": path, "HOOKLINE_LOG_JSON": "false"}
    parent = subprocess.Popen(
        [sys.executable, "-m", "support.lifecycle", "--startup", str(STARTUP), *options],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=TESTS,
    )  # fmt: skip
    try:
        yield parent
    finally:
        if parent.poll() is None:
            parent.kill()
        parent.wait(10)
        assert parent.stdout is not None
        parent.stdout.close()
        for pid in marked(run):
            os.kill(pid, signal.SIGKILL)


def next_line(parent: subprocess.Popen[str], prefix: str) -> list[int]:
    """The pids on the parent's next output line starting with ``prefix``."""
    assert parent.stdout is not None
    for line in parent.stdout:
        if line.startswith(prefix):
            return [int(pid) for pid in line.split()[1:]]
    raise AssertionError(f"the parent ended before a {prefix!r} line")


#: The moments a parent dies at: ``kill`` or ``term`` (SIGTERM), at a random point of
#: its start, or while it replaces a child, at a random point of the replacement's
#: start or inside its window between its SIGTERM handler and its readiness.
MOMENTS = [
    ("kill", "while starting"), ("kill", "replacing"), ("kill", "replacing, in the window"),
    ("term", "replacing"), ("term", "replacing, in the window"),
]  # fmt: skip


def one_death(seed: int) -> str:
    """Kill one parent at a moment ``seed`` picks; '' if it left nothing, else what it left."""
    chance = random.Random(seed)
    run = uuid.uuid4().hex
    how, when = chance.choice(MOMENTS)
    with parent_process(run) as parent:
        if when == "while starting":
            time.sleep(chance.uniform(0, 1.5))
        else:
            children = next_line(parent, "ready ")
            os.kill(chance.choice(children), signal.SIGKILL)
            if when.endswith("window"):
                next_line(parent, "started ")  # the replacement's handler is set
                time.sleep(chance.uniform(0, STARTUP))
            else:
                time.sleep(chance.uniform(0, 1.0))
        if how == "term":
            parent.send_signal(signal.SIGTERM)
            code = parent.wait(1.0 + STOP_MARGIN + 5)
            if code != 0:
                return f"run {seed} ({how} {when}): the parent exited {code}"
        else:
            parent.kill()
            parent.wait(10)
        left = gone(run, GONE_WITHIN)
        return f"run {seed} ({how} {when}): {left} outlived the parent" if left else ""


@contextmanager
def busy_cpu(seconds: float) -> Iterator[None]:
    """A process spinning on a CPU beside the test (it stops by itself after ``seconds``)."""
    spin = f"import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end: pass"
    burner = subprocess.Popen([sys.executable, "-c", spin])
    try:
        yield
    finally:
        burner.kill()
        burner.wait(10)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_no_child_outlives_a_parent_killed_at_any_moment_a_hundred_times() -> None:
    """A parent killed while it spawns, while children start, or while it replaces one
    (also just before the replacement is ready), or stopped by SIGTERM then, leaves no
    process behind, 100 runs out of 100."""
    seed = random.randrange(1 << 30)
    with busy_cpu(240), ThreadPoolExecutor(AT_ONCE) as pool:
        problems = [p for p in pool.map(one_death, range(seed, seed + RUNS)) if p]
    assert problems == [], f"seeds from {seed}"


@pytest.mark.slow
def test_a_child_deaf_to_sigterm_still_ends_after_the_grace_when_the_parent_dies() -> None:
    """A child that ignores SIGTERM (as one stuck would) ends by the kernel's alarm, the
    grace plus the margin after its parent's death."""
    run = uuid.uuid4().hex
    with parent_process(run, "--stubborn", "--grace", "0") as parent:
        children = next_line(parent, "ready ")
        parent.kill()
        parent.wait(10)
        killed_at = time.monotonic()
        assert set(children) <= set(marked(run))  # deaf to the SIGTERM of the death
        assert gone(run, STOP_MARGIN + 5) == []
        assert time.monotonic() - killed_at >= STOP_MARGIN - 1
