"""Every page of the portal and the dashboard in Chromium, light and dark, at a desktop's
and a phone's width: axe-core finds no serious or critical accessibility violation, and no
page scrolls sideways on the phone. The screenshots of docs/dashboard.md and
docs/portal.md that the other browser tests do not take are taken here
(``HOOKLINE_SCREENSHOTS=docs/images``)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from browsing import (
    Shots,
    accessibility_problems,
    ensure_event_type,
    make_tenant,
    portal_link,
    sideways_overflow,
    sign_in,
)
from playwright.sync_api import Browser

from support.receiver import Receiver
from support.server import HooklineProcess

WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}
SCHEMA = {
    "type": "object", "required": ["invoice", "amount"],
    "properties": {"invoice": {"type": "string", "examples": ["in_42"]},
                   "amount": {"type": "integer", "minimum": 1}},
}  # fmt: skip
#: Screenshots taken here: (face, page name, scheme, width) -> file name.
SHOTS = {
    ("portal", "testing", "light", "desktop"): "portal-testing",
    ("portal", "event-types", "light", "desktop"): "portal-event-types",
    ("portal", "messages", "light", "desktop"): "portal-messages",
    ("portal", "message", "light", "desktop"): "portal-message",
    ("portal", "home", "dark", "desktop"): "portal-dark",
    ("portal", "home", "light", "phone"): "portal-phone",
    ("portal", "message", "dark", "phone"): "portal-message-dark-phone",
    ("dashboard", "application", "dark", "desktop"): "application-dark",
    ("dashboard", "message", "light", "phone"): "message-phone",
}


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_passes_axe_and_fits_the_screen(
    browser: Browser, server: HooklineProcess, api: httpx.Client, receiver: Receiver,
    shots: Shots, axe: Path, scheme: str, width: str,
) -> None:  # fmt: skip
    """No serious or critical axe violation on any page; nothing wider than a phone."""
    ensure_event_type(api, "invoice.paid", SCHEMA)
    ensure_event_type(api, "user.signup")
    tenant = make_tenant(api, receiver, "acme")
    a, e, m, t = tenant.app_id, tenant.endpoint_id, tenant.msg_id, tenant.attempt_id
    pages = {
        "portal": {
            "home": "/portal/home", "endpoint": f"/portal/endpoint/{e}",
            "secret": f"/portal/endpoint/{e}/secret", "testing": "/portal/testing",
            "event-types": "/portal/event-types", "messages": "/portal/messages",
            "message": f"/portal/msg/{m}", "attempts": "/portal/attempts",
            "attempt": f"/portal/msg/{m}/attempt/{t}", "signed-out": "/portal/signed-out",
        },
        "dashboard": {
            "applications": "/dashboard", "application": f"/dashboard/app/{a}",
            "endpoint": f"/dashboard/app/{a}/endpoint/{e}", "messages": f"/dashboard/app/{a}/msg",
            "message": f"/dashboard/app/{a}/msg/{m}",
            "attempt": f"/dashboard/app/{a}/msg/{m}/attempt/{t}",
            "failed": f"/dashboard/app/{a}/failed",
        },
    }  # fmt: skip
    w, h = WIDTHS[width]
    # axe is added as a script of the page: the context lets it past the pages' CSP.
    context = browser.new_context(
        viewport={"width": w, "height": h},
        color_scheme=scheme,
        bypass_csp=True,  # type: ignore[arg-type]
    )
    problems: list[str] = []
    try:
        page = context.new_page()
        page.goto(f"{server.url}/dashboard/sign-in")
        problems += [f"dashboard sign-in: {p}" for p in accessibility_problems(page)]
        sign_in(page, server)
        page.goto(portal_link(api, a)["url"])
        page.wait_for_url(f"{server.url}/portal/home")
        for face, paths in pages.items():
            for name, path in paths.items():
                answer = page.goto(f"{server.url}{path}")
                assert answer is not None, (face, path)
                assert answer.status == 200, (face, path)
                problems += [f"{face} {name}: {p}" for p in accessibility_problems(page)]
                if width == "phone" and (wider := sideways_overflow(page)):
                    problems.append(f"{face} {name} on a {w}px phone: {wider}")
                shot = SHOTS.get((face, name, scheme, width))
                if shot is not None:
                    shots.take(page, shot)
    finally:
        context.close()
    assert problems == []
