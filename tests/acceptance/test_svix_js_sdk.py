"""The official JavaScript SDK (npm ``svix``, with ``standardwebhooks``) drives a real server.

``js/check.mjs`` creates an application and an endpoint, publishes, verifies the
delivery it receives, lists attempts with dates in the query, lists with empty lists,
uses percent-encoded path parameters, prechecks and sends an example, asserting each
answer: the wire details in which the JavaScript SDK differs from the Python one. The
SDKs are installed into ``js/node_modules`` (gitignored) from ``js/package-lock.json``
with ``npm ci``; without node or npm, or when the install fails, the test skips, except
under ``CI=true``, where it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from support.server import ADMIN_TOKEN, HooklineProcess

FOLDER = Path(__file__).parent / "js"
#: Bounds for the install and the script: both are short when all is well.
INSTALL_SECONDS = 300
RUN_SECONDS = 120


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}. CI runs the JavaScript SDK's test, never skips it.", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def node() -> str:
    """The node program, with the SDKs installed in the test's own folder."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _unavailable("node and npm are needed (Debian's nodejs and npm packages)")
    assert node is not None
    assert npm is not None
    installed = FOLDER / "node_modules" / ".package-lock.json"
    lock = FOLDER / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        try:
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=FOLDER, check=True, capture_output=True, text=True, timeout=INSTALL_SECONDS,
            )  # fmt: skip
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
            output = getattr(error, "stderr", "") or ""
            _unavailable(f"npm ci could not install svix and standardwebhooks: {output[-2000:]}")
    return node


def test_the_javascript_sdk_drives_hookline(node: str, server: HooklineProcess) -> None:
    """Create, publish, verify, list by dates and with empty lists, encoded path params."""
    done = subprocess.run(
        [node, "check.mjs"],
        check=False, cwd=FOLDER, capture_output=True, text=True, timeout=RUN_SECONDS,
        env={**os.environ, "HOOKLINE_URL": server.url, "HOOKLINE_TOKEN": ADMIN_TOKEN},
    )  # fmt: skip
    assert done.returncode == 0, f"check.mjs failed:\n{done.stdout}\n{done.stderr}"
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["ok"] is True
    assert summary["app"].startswith("app_")
    assert summary["message"].startswith("msg_")
    assert summary["deliveries"] == 2  # the message and the example
