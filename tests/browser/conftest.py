"""Fixtures for the browser tests: a real ``hookline serve``, a real receiver, and Debian's
Chromium (``/usr/bin/chromium``) driven headless by Playwright.

Without Chromium the tests skip, saying why; under ``CI=true`` they fail instead.
With ``HOOKLINE_SCREENSHOTS=<dir>`` the screenshots they take are written there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from browsing import AXE, CHROMIUM, Shots
from playwright.sync_api import Browser, Page, sync_playwright

from acceptance.conftest import receiver, server_defaults, start_server  # noqa: F401 - fixtures

from support.server import HooklineProcess, ServerFactory

#: Every wait in a page is bounded: actions and assertions, then navigations.
ACTION_TIMEOUT_MS = 10_000
NAVIGATION_TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium for a test module (skipped without it, failed in CI).

    Not for the session: while Playwright's sync API is open, its event loop counts as
    running in this thread, and the asyncio tests that follow could not start theirs.
    """
    if not CHROMIUM.exists():
        reason = (
            f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}. CI runs the browser tests, never skips them.", pytrace=False)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) with one 1280x800 page."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture
def shots(tmp_path: Path) -> Shots:
    """Screenshots: into ``$HOOKLINE_SCREENSHOTS`` when set, else the test's directory."""
    chosen = os.environ.get("HOOKLINE_SCREENSHOTS")
    return Shots(Path(chosen) if chosen else tmp_path / "screenshots")


@pytest.fixture
def server(start_server: ServerFactory) -> HooklineProcess:  # noqa: F811 - the fixture above
    """One ``hookline serve`` with a fast retry schedule and no jitter."""
    return start_server(retry_schedule="1s,1s", retry_jitter="0")


@pytest.fixture
def api(server: HooklineProcess) -> Iterator[httpx.Client]:
    """An admin API client of ``server``."""
    with server.client() as client:
        yield client


@pytest.fixture
def axe() -> Path:
    """axe-core's script (skipped without it, failed in CI): scripts/test installs it."""
    if not AXE.exists():
        reason = f"{AXE} is missing: run npm ci in tests/browser/js (scripts/test does)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}. CI runs the accessibility checks, never skips them.")
        pytest.skip(reason)
    return AXE
