"""The portal as a customer uses it, in a real browser: the testing tab, the event catalogue,
the message log and its retry timeline, delivery settings, the theme and embedding."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from browsing import ensure_event_type, make_tenant, portal_link, reload_until
from playwright.sync_api import Browser, Page, expect

from support.receiver import Receiver
from support.server import HooklineProcess, ServerFactory

#: The schema docs/getting-started.md has the user create (enforced, no top-level examples).
INVOICE_SCHEMA = {
    "type": "object", "required": ["invoice", "amount", "currency"],
    "properties": {
        "invoice": {"type": "string", "examples": ["in_42"]},
        "amount": {"type": "integer", "minimum": 1, "description": "in cents"},
        "currency": {"type": "string", "enum": ["EUR", "USD"]},
        "paidAt": {"type": "string", "format": "date-time"},
    },
}  # fmt: skip


def _enforced_invoice_type(api: httpx.Client) -> None:
    body = {"name": "invoice.paid", "description": "An invoice was paid",
            "schemas": {"1": INVOICE_SCHEMA}, "enforceSchema": True}  # fmt: skip
    answer = api.post("/api/v1/event-type", json=body)
    assert answer.status_code == 201, answer.text


def test_the_testing_tab_sends_the_schemas_example_edited_or_says_why_not(
    page: Page, server: HooklineProcess, api: httpx.Client, receiver: Receiver
) -> None:
    """The editor holds the catalogue's example of the enforced schema; an edit the schema
    refuses is shown with the reason and nothing is sent; an accepted edit arrives, and the
    message's page shows it with its timeline."""
    _enforced_invoice_type(api)
    app = api.post("/api/v1/app", json={"name": "Acme Inc."}).json()
    api.post(f"/api/v1/app/{app['id']}/endpoint", json={"url": f"{receiver.url}/billing"})
    page.goto(portal_link(api, app["id"])["url"])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Testing").click()
    expect(page.get_by_test_id("receiving")).to_contain_text(f"{receiver.url}/billing")
    shown = json.loads(page.get_by_test_id("payload-editor").input_value())
    assert shown["invoice"] == "in_42"  # the property's own example
    assert (shown["amount"], shown["currency"]) == (1, "EUR")  # its minimum, its first enum
    assert set(shown) == {"invoice", "amount", "currency", "paidAt"}

    page.get_by_test_id("payload-editor").fill('{"invoice": "in_9", "currency": "EUR"}')
    page.get_by_role("button", name="Send example").click()
    expect(page.get_by_test_id("form-error")).to_contain_text("'amount' is a required property")
    expect(page.get_by_test_id("payload-editor")).to_have_value(
        '{"invoice": "in_9", "currency": "EUR"}'
    )
    page.get_by_test_id("payload-editor").fill("[1, 2")
    page.get_by_role("button", name="Send example").click()
    expect(page.get_by_test_id("form-error")).to_contain_text("Payload: not valid JSON")
    assert api.get(f"/api/v1/app/{app['id']}/msg").json()["data"] == []

    page.get_by_test_id("payload-editor").fill(
        '{"invoice": "in_9", "amount": 2500, "currency": "USD"}'
    )
    page.get_by_role("button", name="Send example").click()
    expect(page.get_by_role("status")).to_contain_text("Test event invoice.paid sent")
    [arrived] = receiver.wait_for(1)
    assert json.loads(arrived.body) == {"invoice": "in_9", "amount": 2500, "currency": "USD"}
    expect(page.get_by_test_id("payload")).to_contain_text('"amount": 2500')
    reload_until(page, "[data-testid=timeline] li.ok", 1)
    expect(page.get_by_test_id("timeline")).to_contain_text(f"{receiver.url}/billing")


def test_the_catalogue_and_the_message_log(
    page: Page, server: HooklineProcess, api: httpx.Client, receiver: Receiver
) -> None:
    """The catalogue shows each event type's schema and example; the message log previews
    payloads and filters by event type and by an endpoint's delivery state."""
    _enforced_invoice_type(api)
    ensure_event_type(api, "user.signup")
    tenant = make_tenant(api, receiver, "acme", payload={"note": "signup-payload"})
    api.post(
        f"/api/v1/app/{tenant.app_id}/msg",
        json={"eventType": "invoice.paid", "payload": {"invoice": "in_5", "amount": 9,
                                                       "currency": "EUR"}},
    )  # fmt: skip
    page.goto(portal_link(api, tenant.app_id)["url"])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Event types").click()
    catalogue = page.get_by_test_id("catalogue")
    expect(catalogue).to_contain_text("An invoice was paid")
    expect(catalogue.locator("#invoice\\.paid [data-testid=example]")).to_contain_text('"in_42"')
    expect(catalogue).to_contain_text('"required"')

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Messages").click()
    rows = page.locator("tr.message-row")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("in_5")  # newest first, its payload previewed
    page.get_by_label("Event type").select_option("user.signup")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("signup-payload")
    page.goto(f"{server.url}/portal/messages?state=failed")
    expect(page.get_by_test_id("filter-error")).to_contain_text("choose the endpoint")
    page.goto(f"{server.url}/portal/messages?endpoint={tenant.endpoint_id}&state=delivered")
    reload_until(page, "tr.message-row", 2)
    page.goto(f"{server.url}/portal/attempts?outcome=failed")
    expect(page.locator("tr.attempt-row")).to_have_count(0)
    page.goto(f"{server.url}/portal/attempts?outcome=succeeded&event_type=user.signup")
    expect(page.locator("tr.attempt-row")).to_have_count(1)


def test_delivery_settings_are_the_operators_choice(
    page: Page, server: HooklineProcess, api: httpx.Client, receiver: Receiver
) -> None:
    """Custom headers and a rate limit save through the API's checks (a refused value names
    its field); transformations are not open by default: no form, and a post is a 403."""
    tenant = make_tenant(api, receiver, "acme")
    endpoint_url = f"/api/v1/app/{tenant.app_id}/endpoint/{tenant.endpoint_id}"
    page.goto(portal_link(api, tenant.app_id)["url"])
    page.goto(f"{server.url}/portal/endpoint/{tenant.endpoint_id}")
    page.fill("#headers", "X-Team: billing\nwebhook-id: forged")
    page.get_by_role("button", name="Save headers").click()
    expect(page.get_by_test_id("settings-error")).to_contain_text("Headers: header 'webhook-id'")
    assert api.get(f"{endpoint_url}/headers").json()["headers"] == {}
    page.fill("#headers", "X-Team: billing")
    page.get_by_role("button", name="Save headers").click()
    expect(page.get_by_role("status")).to_contain_text("Headers saved")
    assert api.get(f"{endpoint_url}/headers").json()["headers"] == {"X-Team": "billing"}

    page.fill("#rate_limit", "lots")
    page.get_by_role("button", name="Save rate limit").click()
    expect(page.get_by_test_id("settings-error")).to_contain_text("Rate limit:")
    page.fill("#rate_limit", "7")
    page.get_by_role("button", name="Save rate limit").click()
    expect(page.get_by_role("status")).to_contain_text("Rate limit saved")
    assert api.get(endpoint_url).json()["rateLimit"] == 7

    assert page.locator("#transformation").count() == 0
    csrf = page.locator("input[name=csrf]").first.input_value()
    answer = page.request.post(
        f"{server.url}/portal/endpoint/{tenant.endpoint_id}/transformation",
        form={"csrf": csrf, "transformation": '{"body": "data"}'},
    )
    assert answer.status == 403


def test_transformations_when_the_operator_opens_them(
    page: Page, start_server: ServerFactory, receiver: Receiver
) -> None:
    """With HOOKLINE_PORTAL_FEATURES naming transformations, the customer sets one (a
    document the compiler refuses is shown with where), and the next webhook is reshaped."""
    server = start_server(portal_features="transformations")
    with server.client() as api:
        tenant = make_tenant(api, receiver, "acme", payload={"id": 5, "secret": "x"})
        page.goto(portal_link(api, tenant.app_id)["url"])
        page.goto(f"{server.url}/portal/endpoint/{tenant.endpoint_id}")
        assert page.locator("#headers").count() == 0
        page.fill("#transformation", '{"body": 5}')
        page.get_by_role("button", name="Save transformation").click()
        expect(page.get_by_test_id("settings-error")).to_contain_text("Transformation:")
        page.fill("#transformation", '{"body": "{id: id}"}')
        page.get_by_role("button", name="Save transformation").click()
        expect(page.get_by_role("status")).to_contain_text("Transformation saved")
        api.post(
            f"/api/v1/app/{tenant.app_id}/msg",
            json={"eventType": "user.signup", "payload": {"id": 6, "secret": "y"}},
        )
        assert json.loads(receiver.wait_for(2)[1].body) == {"id": 6}


def test_the_portal_wears_the_applications_theme_light_and_dark(
    browser: Browser, server: HooklineProcess, api: httpx.Client, receiver: Receiver
) -> None:
    """An application's portal.* metadata names, brands and colours its portal; the page
    follows the system's dark preference, and the toggle overrides it and is kept."""
    tenant = make_tenant(api, receiver, "acme")
    metadata = {"portal.name": "Acme Webhooks", "portal.logoUrl": "/static/example-logo.svg",
                "portal.accent": "#0a7d33", "portal.accentDark": "#7ee2a0"}  # fmt: skip
    assert api.patch(f"/api/v1/app/{tenant.app_id}", json={"metadata": metadata}).is_success
    context = browser.new_context(color_scheme="dark", viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(portal_link(api, tenant.app_id)["url"])
        expect(page.locator(".brand")).to_contain_text("Acme Webhooks")
        expect(page.locator(".brand img")).to_have_attribute("src", "/static/example-logo.svg")
        assert page.evaluate("document.querySelector('.brand img').naturalWidth") > 0
        expect(page).to_have_title("acme-app-name · Acme Webhooks")

        def accent() -> str:
            value: str = page.evaluate(
                "getComputedStyle(document.documentElement).getPropertyValue('--accent')"
            )
            return value.strip()

        assert accent() == "#7ee2a0"  # the system prefers dark
        toggle = page.get_by_role("button", name="Switch to light mode")
        toggle.click()
        assert accent() == "#0a7d33"
        page.reload()
        assert page.evaluate("document.documentElement.dataset.theme") == "light"
        assert accent() == "#0a7d33"
        page.get_by_role("button", name="Switch to dark mode").click()
        assert accent() == "#7ee2a0"
    finally:
        context.close()


class _HostPage(BaseHTTPRequestHandler):
    """The operator's app: a page with the portal link in an iframe."""

    link = ""

    def do_GET(self) -> None:
        body = f'<!doctype html><title>Operator app</title><iframe src="{self.link}" ' \
            'width="1000" height="700" title="Webhooks"></iframe>'  # fmt: skip
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def host_pages() -> Iterator[list[tuple[ThreadingHTTPServer, type[_HostPage]]]]:
    """Two operator sites on 127.0.0.1 (other ports: other origins), each serving a page
    that frames a link set later."""
    started = []
    for _ in range(2):
        handler = type("Host", (_HostPage,), {})
        http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=http.serve_forever, daemon=True).start()
        started.append((http, handler))
    yield started
    for http, _ in started:
        http.shutdown()
        http.server_close()


def test_the_portal_embeds_only_in_the_configured_origins(
    page: Page, start_server: ServerFactory, receiver: Receiver,
    host_pages: list[tuple[ThreadingHTTPServer, type[_HostPage]]],
) -> None:  # fmt: skip
    """HOOKLINE_PORTAL_FRAME_ANCESTORS names the operator's origin: the portal link works
    in its iframe; another origin's frame is refused by the browser (CSP frame-ancestors)."""
    (allowed, allowed_page), (other, other_page) = host_pages
    allowed_origin = f"http://127.0.0.1:{allowed.server_address[1]}"
    server = start_server(portal_frame_ancestors=allowed_origin)
    with server.client() as api:
        tenant = make_tenant(api, receiver, "acme")
        allowed_page.link = portal_link(api, tenant.app_id)["url"]
        other_page.link = portal_link(api, tenant.app_id)["url"]
        home = httpx.get(f"{server.url}/portal/home")
        assert f"frame-ancestors {allowed_origin};" in home.headers["content-security-policy"]
        assert "x-frame-options" not in home.headers
        dashboard = httpx.get(f"{server.url}/dashboard/sign-in")
        assert "frame-ancestors 'none'" in dashboard.headers["content-security-policy"]
        assert dashboard.headers["x-frame-options"] == "DENY"

    page.goto(allowed_origin)
    framed = page.frame_locator("iframe")
    expect(framed.locator("h1")).to_have_text("Webhook endpoints")
    expect(framed.locator("table[data-testid=endpoints]")).to_contain_text("acme-hook")

    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text))
    page.goto(f"http://127.0.0.1:{other.server_address[1]}")
    page.wait_for_load_state("load")
    frame = page.frames[1]
    page.wait_for_timeout(500)  # the refusal is the absence of a page: give it a moment
    assert frame.url.startswith("chrome-error://") or frame.locator("h1").count() == 0
    assert any("frame-ancestors" in text for text in refused), refused
