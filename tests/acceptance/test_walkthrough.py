"""The README's walk-through, then docs/getting-started.md, run in order as written.

Every fenced block of the two pages carries a ``<!-- walk:ACTION -->`` marker saying
what a newcomer does with it (output blocks, ```` ```text ````, need none):

- ``serve``: the first terminal's ``scripts/serve`` line. Its install step is what the
  test suite's own set-up did; the test runs the command it then execs, ``hookline
  serve``, with the line's environment, in an empty folder (so ``hookline.db`` and
  ``hookline.key`` are new), and reads the admin token it prints on its first start.
- ``shell``: pasted into the second terminal. The blocks run one after the other in
  one shell's state (variables carry over from block to block, as in a terminal), and
  each must succeed: exit 0 and no error answer (``"code":``) from curl. ``shell
  fails`` is a block the page says is refused; it must exit non-zero.
- ``receiver``: the third terminal (``hookline listen``), left running;
  ``stop-receiver`` is its Ctrl-C, ``start-receiver`` starts it again as before.
- ``background``: a command that follows events until stopped (``hookline tail``).
- ``python``: the Svix SDK snippet, run as a script.
- ``skip REASON``: not a step of the walk-through (the reason is shown).

The placeholders a reader pastes over are filled in: ``hk_...`` with the token the
server printed, ``whsec_...`` with the secret the README's block printed. The pages'
ports (8040, 9000) are replaced by free ones, so the test can run beside anything.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PAGES = (ROOT / "README.md", ROOT / "docs" / "getting-started.md")
MARKER = re.compile(r"^<!-- walk:(?P<action>[\w-]+)(?P<rest>.*?)-->$")
FENCE = re.compile(r"^(?P<fence>`{3,})(?P<lang>\w*)$")
#: Actions that take the block after them.
WITH_CODE = {"serve", "shell", "receiver", "background", "python", "skip"}
STEP_SECONDS = 90.0

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Step:
    """One thing the reader does: an action, its argument, and the block it acts on."""

    page: str
    line: int
    action: str
    argument: str
    lang: str = ""
    code: str | None = None


def steps(page: Path) -> list[Step]:
    """The page's steps in reading order; a fenced block without a marker is an error."""
    found: list[Step] = []
    pending: list[tuple[int, str, str]] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        text = lines[index]
        if marker := MARKER.match(text):
            pending.append((index + 1, marker["action"], marker["rest"].strip()))
        elif fence := FENCE.match(text):
            end = lines.index(fence["fence"], index + 1)
            code = "\n".join(lines[index + 1 : end])
            coded = [p for p in pending if p[1] in WITH_CODE]
            if not coded and fence["lang"] != "text":
                raise AssertionError(f"{page.name}:{index + 1}: a block without a walk marker")
            for number, action, rest in pending:
                has_code = action in WITH_CODE
                found.append(
                    Step(page.name, number, action, rest, fence["lang"], code if has_code else None)
                )
            pending = []
            index = end
        elif pending and text.strip():
            for number, action, rest in pending:
                if action in WITH_CODE:
                    raise AssertionError(f"{page.name}:{number}: walk:{action} without a block")
                found.append(Step(page.name, number, action, rest))
            pending = []
        index += 1
    return found


def test_every_block_of_the_two_pages_says_what_the_reader_does_with_it() -> None:
    """Every fenced block of the README and getting-started carries a known walk marker."""
    for page in PAGES:
        for step in steps(page):
            assert step.action in WITH_CODE | {"stop-receiver", "start-receiver"}, step
            if step.action == "skip":
                assert step.argument, f"{step.page}:{step.line}: a skip says why"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        if process.poll() is not None:
            raise AssertionError(f"exited early:\n{log.read_text(errors='replace')}")
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}:\n{log.read_text(errors='replace')}")


class Walk:
    """The reader's terminals: the server, one shell's state, the receiver, followers."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.api_port = _free_port()
        self.receiver_port = _free_port()
        # A newcomer's shell: no HOOKLINE_* settings of the test run's own.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKLINE_")}
        self.token = ""
        self.server: subprocess.Popen[bytes] | None = None
        self.receiver: subprocess.Popen[bytes] | None = None
        self.receiver_code = ""
        self.followers: list[subprocess.Popen[bytes]] = []
        self.logs = folder / "logs"
        self.logs.mkdir()
        self.state = folder / "logs" / "shell-state"

    def filled_in(self, code: str) -> str:
        """``code`` with the placeholders and the pages' ports replaced."""
        code = code.replace("127.0.0.1:8040", f"127.0.0.1:{self.api_port}")
        code = code.replace("127.0.0.1:9000", f"127.0.0.1:{self.receiver_port}")
        code = code.replace("--port 9000", f"--port {self.receiver_port}")
        code = code.replace("hk_...", self.token)
        if "whsec_..." in code:
            secret = self.env.get("SECRET", "")
            assert secret.startswith("whsec_"), "the README's block prints the secret first"
            code = code.replace("whsec_...", secret)
        return code

    def _spawn(self, code: str, name: str) -> tuple[subprocess.Popen[bytes], Path]:
        log = self.logs / f"{name}-{time.monotonic_ns()}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                ["bash", "-c", code],
                cwd=self.folder,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group, so Ctrl-C reaches all of it
            )
        return process, log

    def serve(self, step: Step) -> None:
        """Start ``hookline serve`` with the line's settings; keep the token it prints."""
        assert step.code is not None
        command = step.code.strip()
        assert command.endswith("scripts/serve"), command
        settings = dict(part.split("=", 1) for part in command.split()[:-1])
        env = {**self.env, **settings, "HOOKLINE_PORT": str(self.api_port)}
        log = self.logs / "serve.log"
        with log.open("wb") as out:
            self.server = subprocess.Popen(
                [sys.executable, "-m", "hookline", "serve"],
                cwd=self.folder,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        _wait_for_port(self.api_port, self.server, log)
        found = re.search(r"^\s+(hk_\S+)$", log.read_text(), re.MULTILINE)
        assert found, f"the first start prints a token:\n{log.read_text()}"
        self.token = found[1]

    def shell(self, step: Step) -> None:
        """Run the block in the shell's state; it succeeds (or, marked so, fails)."""
        assert step.code is not None
        script = f"set -a\n{self.filled_in(step.code)}\nenv -0 > {self.state}\n"
        done = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", script],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=STEP_SECONDS,
            check=False,
        )
        where = f"{step.page}:{step.line}\n{step.code}\n--- out ---\n{done.stdout}{done.stderr}"
        if step.argument == "fails":
            assert done.returncode != 0, f"the page says this is refused: {where}"
            return
        assert done.returncode == 0, where
        assert '"code":' not in done.stdout, f"an error answer: {where}"
        self.env = dict(
            item.split("=", 1) for item in self.state.read_text().split("\0") if "=" in item
        )

    def start_receiver(self, code: str) -> None:
        """Start (or start again) the third terminal's receiver."""
        self.receiver_code = code
        self.receiver, log = self._spawn(self.filled_in(code), "receiver")
        _wait_for_port(self.receiver_port, self.receiver, log)

    def stop_receiver(self) -> None:
        """Ctrl-C in the receiver's terminal."""
        assert self.receiver is not None
        os.killpg(self.receiver.pid, signal.SIGINT)
        self.receiver.wait(15)
        self.receiver = None

    def python(self, step: Step) -> None:
        """Run the Python block as a script, with the shell's environment."""
        assert step.code is not None
        script = self.logs / f"snippet-{step.line}.py"
        script.write_text(self.filled_in(step.code), encoding="utf-8")
        done = subprocess.run(
            [sys.executable, str(script)],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=STEP_SECONDS,
            check=False,
        )
        assert done.returncode == 0, f"{step.page}:{step.line}\n{done.stdout}{done.stderr}"

    def receiver_output(self) -> str:
        """Everything every run of the receiver printed."""
        return "".join(log.read_text(errors="replace") for log in self.logs.glob("receiver-*"))

    def close(self) -> None:
        """Stop whatever still runs."""
        for process in [self.receiver, *self.followers]:
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(15)
        if self.server is not None:
            self.server.terminate()
            self.server.wait(30)


@pytest.fixture
def walk(tmp_path: Path) -> Iterator[Walk]:
    """An empty folder that looks like a checkout to the commands (``.venv`` in it)."""
    folder = tmp_path / "checkout"
    folder.mkdir()
    (folder / ".venv").symlink_to(Path(sys.prefix))
    the_walk = Walk(folder)
    try:
        yield the_walk
    finally:
        the_walk.close()


def test_the_readme_then_getting_started_run_in_order_as_written(walk: Walk) -> None:
    """A newcomer's walk-through works from a fresh database to the event catalogue."""
    for page in PAGES:
        for step in steps(page):
            if step.action == "serve":
                walk.serve(step)
            elif step.action == "shell":
                walk.shell(step)
            elif step.action == "receiver":
                assert step.code is not None
                walk.start_receiver(step.code)
            elif step.action == "stop-receiver":
                walk.stop_receiver()
            elif step.action == "start-receiver":
                walk.start_receiver(walk.receiver_code)
            elif step.action == "background":
                assert step.code is not None
                walk.followers.append(walk._spawn(walk.filled_in(step.code), "follow")[0])
                time.sleep(1.0)  # a follower prints what happens after it started
            elif step.action == "python":
                walk.python(step)
    # The retry of the event sent while the receiver was down arrives on its schedule
    # (5 s, +/-20%) once the receiver is back, as the page says.
    deadline = time.monotonic() + 30
    while '"in_45"' not in walk.receiver_output() and time.monotonic() < deadline:
        time.sleep(0.2)
    shown = walk.receiver_output()
    for invoice in ("in_42", "in_43", "in_45"):
        assert f'"{invoice}"' in shown, f"{invoice} never reached the receiver:\n{shown}"
    assert "not verified" not in shown.lower(), shown
    # evt_1 (README), evt_2 (the SDK), in_42 (getting-started) and in_45's retry.
    assert len(re.findall(r"POST /webhooks\s+msg_\w+\s+verified", shown)) >= 4, shown
    assert (walk.folder / "events.md").read_text().count("invoice.paid") >= 1
