"""Helpers the browser tests share: signing in, reading pages, making tenants over the API."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page

from support.polling import wait_until
from support.receiver import Receiver
from support.server import ADMIN_TOKEN, HooklineProcess

CHROMIUM = Path("/usr/bin/chromium")
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Shots:
    """Takes named screenshots (PNG) into one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def take(self, page: Page, name: str) -> Path:
        """Screenshot the page's viewport as ``<name>.png``."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{name}.png"
        page.screenshot(path=str(path))
        return path


def sign_in(page: Page, server: HooklineProcess, token: str = ADMIN_TOKEN) -> None:
    """Sign in to the dashboard with ``token`` through its form."""
    page.goto(f"{server.url}/dashboard/sign-in")
    page.fill("#token", token)
    page.click("button[type=submit]")


def csrf_of(page: Page) -> str:
    """The session's CSRF token, as the page's forms carry it."""
    found = _CSRF.search(page.content())
    assert found is not None, "no form with a CSRF token on this page"
    return found.group(1)


def reload_until(page: Page, selector: str, count: int, timeout: float = 15.0) -> None:
    """Reload the page until ``selector`` matches at least ``count`` elements."""
    deadline = time.monotonic() + timeout
    while page.locator(selector).count() < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector!r}: fewer than {count} after {timeout}s")
        time.sleep(0.25)
        page.reload()


@dataclass
class Tenant:
    """An application with an endpoint, a delivered message and its attempt."""

    app_id: str
    endpoint_id: str
    msg_id: str
    attempt_id: str


def make_tenant(
    api: httpx.Client, receiver: Receiver, label: str, payload: dict[str, Any] | None = None
) -> Tenant:
    """An application ``label`` with one endpoint on the receiver and one delivered message."""
    app = api.post("/api/v1/app", json={"name": f"{label}-app-name", "uid": label}).json()
    endpoint = api.post(
        f"/api/v1/app/{app['id']}/endpoint",
        json={"url": f"{receiver.url}/{label}-hook", "description": f"{label}-description"},
    ).json()
    msg = api.post(
        f"/api/v1/app/{app['id']}/msg",
        json={"eventType": "user.signup", "payload": payload or {"note": f"{label}-payload"}},
    ).json()

    def attempted() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = api.get(
            f"/api/v1/app/{app['id']}/attempt/msg/{msg['id']}"
        ).json()["data"]
        return found

    attempt = wait_until(attempted, what=f"{label}'s first attempt")[0]
    return Tenant(app["id"], endpoint["id"], msg["id"], attempt["id"])


def portal_link(api: httpx.Client, app_id: str, read_only: bool = False) -> dict[str, Any]:
    """A portal link (``url``) and its token for one application."""
    answer = api.post(f"/api/v1/auth/app-portal-access/{app_id}", json={"readOnly": read_only})
    assert answer.status_code == 200, answer.text
    link: dict[str, Any] = answer.json()
    return link


def ensure_event_type(api: httpx.Client, name: str, schema: dict[str, Any] | None = None) -> None:
    """Create event type ``name`` (with a version-1 schema, if given)."""
    body: dict[str, Any] = {"name": name, "description": f"{name} happened"}
    if schema is not None:
        body["schemas"] = {"1": schema}
    answer = api.post("/api/v1/event-type", json=body)
    assert answer.status_code in {200, 201, 409}, answer.text


#: axe-core, installed by scripts/test (npm ci in tests/browser/js).
AXE = Path(__file__).parent / "js" / "node_modules" / "axe-core" / "axe.min.js"
#: What fails a page: axe's two worst impact levels.
SERIOUS = {"serious", "critical"}


def accessibility_problems(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page, one line each (WCAG 2 A and
    AA rules and axe's best practices). The page's context must bypass its CSP: axe is
    added as a script of the page."""
    if page.evaluate("typeof window.axe") == "undefined":
        page.add_script_tag(content=AXE.read_text())
    found = page.evaluate(
        """async () => {
          const result = await window.axe.run(document, {
            runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21aa", "best-practice"]},
            resultTypes: ["violations"],
          });
          return result.violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            targets: v.nodes.slice(0, 3).map(n => n.target.join(" ")),
          }));
        }"""
    )
    return [
        f"{v['impact']} {v['id']}: {v['help']} at {', '.join(v['targets'])}"
        for v in found
        if v["impact"] in SERIOUS
    ]


def sideways_overflow(page: Page) -> str:
    """What makes the page wider than its viewport ('' when nothing does): the outermost
    element reaching past the right edge, and by how many CSS pixels."""
    found: str = page.evaluate(
        """() => {
          const root = document.documentElement;
          const wider = root.scrollWidth - root.clientWidth;
          if (wider <= 0) return "";
          const clipped = (el) => {
            for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
              if (getComputedStyle(up).overflowX !== "visible") return true;
            }
            return false;
          };
          for (const el of document.body.querySelectorAll("*")) {
            if (el.getBoundingClientRect().right > root.clientWidth + 1 && !clipped(el)) {
              const name = el.tagName.toLowerCase() + (el.className ? "." + el.className : "");
              return `${wider}px wider, first past the edge: ${name}`;
            }
          }
          return `${wider}px wider`;
        }"""
    )
    return found
