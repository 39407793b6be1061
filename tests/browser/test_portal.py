"""The customer portal in a real browser: one application, as its token sees it."""

from __future__ import annotations

import httpx
from browsing import Shots, csrf_of, ensure_event_type, make_tenant, portal_link, reload_until
from playwright.sync_api import Page, expect

from support.receiver import Receiver
from support.server import HooklineProcess

#: Strings only application B's records hold.
B_MARKERS = ("tenant-b-app-name", "tenant-b-hook", "tenant-b-description", "tenant-b-payload")


def test_the_portal_link_opens_a_session_and_adds_an_endpoint(
    page: Page, server: HooklineProcess, api: httpx.Client, receiver: Receiver, shots: Shots
) -> None:
    """The link's fragment becomes a session; a refused URL names the field; a good one saves."""
    ensure_event_type(api, "invoice.paid", {"type": "object", "examples": [{"invoice": "in_7"}]})
    ensure_event_type(api, "invoice.voided")
    app = api.post("/api/v1/app", json={"name": "Acme Inc."}).json()
    link = portal_link(api, app["id"])
    page.goto(link["url"])
    expect(page).to_have_url(f"{server.url}/portal/home")
    assert "token" not in page.evaluate("window.location.href")
    cookie = next(c for c in page.context.cookies() if c["name"] == "hookline_portal")
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Strict", "/")

    page.fill("#url", "http://10.1.2.3/hooks")
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.get_by_test_id("form-error")).to_contain_text("URL:")
    assert api.get(f"/api/v1/app/{app['id']}/endpoint").json()["data"] == []

    page.fill("#url", f"{receiver.url}/acme")
    page.fill("#description", "Billing service")
    page.get_by_label("invoice.paid").check()
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.get_by_role("status")).to_contain_text("Endpoint added")
    shots.take(page, "portal-endpoint")
    [endpoint] = api.get(f"/api/v1/app/{app['id']}/endpoint").json()["data"]
    assert (endpoint["url"], endpoint["description"]) == (f"{receiver.url}/acme", "Billing service")
    assert endpoint["filterTypes"] == ["invoice.paid"]
    trail = api.get(f"/api/v1/app/{app['id']}/audit").json()["data"]
    [portal_token] = api.get(f"/api/v1/auth/token?app_id={app['id']}").json()["data"]
    created = [e for e in trail if e["action"] == "endpoint.created"]
    assert [e["actor"] for e in created] == [portal_token["id"]]

    page.goto(f"{server.url}/portal/testing?event_type=invoice.paid")
    expect(page.get_by_test_id("payload-editor")).to_have_value('{\n  "invoice": "in_7"\n}')
    page.get_by_role("button", name="Send example").click()
    expect(page.get_by_role("status")).to_contain_text("Test event invoice.paid sent")
    assert receiver.wait_for(1)[0].body == b'{"invoice":"in_7"}'
    page.goto(f"{server.url}/portal/attempts")
    reload_until(page, "tr.attempt-row", 1)
    page.locator("tr.attempt-row").first.get_by_role("button", name="Retry").click()
    reload_until(page, "tr.attempt-row", 2)
    receiver.wait_for(2)
    shots.take(page, "portal-attempts")
    page.goto(f"{server.url}/portal/home")
    shots.take(page, "portal")


def test_the_portal_edits_rotates_reveals_and_deletes(
    page: Page, server: HooklineProcess, api: httpx.Client, receiver: Receiver
) -> None:
    """Edit saves through the API's checks; the secret shows on request and rotates; delete."""
    tenant = make_tenant(api, receiver, "acme")
    page.goto(portal_link(api, tenant.app_id)["url"])
    page.goto(f"{server.url}/portal/endpoint/{tenant.endpoint_id}")
    page.fill("#url", "ftp://example.com/x")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_test_id("form-error")).to_contain_text("URL:")
    page.fill("#url", f"{receiver.url}/renamed")
    page.fill("#description", "renamed")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Endpoint saved")
    stored = api.get(f"/api/v1/app/{tenant.app_id}/endpoint/{tenant.endpoint_id}").json()
    assert (stored["url"], stored["description"]) == (f"{receiver.url}/renamed", "renamed")

    secret_url = f"/api/v1/app/{tenant.app_id}/endpoint/{tenant.endpoint_id}/secret"
    before = api.get(secret_url).json()["key"]
    page.get_by_role("link", name="Reveal secret").click()
    expect(page.get_by_test_id("secret")).to_have_text(before)
    page.go_back()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Rotate secret").click()
    expect(page.get_by_role("status")).to_contain_text("Secret rotated")
    assert api.get(secret_url).json()["key"] != before

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete endpoint").click()
    expect(page.get_by_role("status")).to_contain_text("Endpoint deleted")
    assert api.get(f"/api/v1/app/{tenant.app_id}/endpoint").json()["data"] == []
    actions = {e["action"] for e in api.get(f"/api/v1/app/{tenant.app_id}/audit").json()["data"]}
    assert {"endpoint.updated", "endpoint.secret.rotated", "endpoint.deleted"} <= actions


def test_a_portal_session_cannot_see_or_touch_another_application(
    page: Page, server: HooklineProcess, api: httpx.Client, receiver: Receiver
) -> None:
    """App A's portal answers 404 to B's ids, on reads and on writes, and shows nothing of B."""
    a = make_tenant(api, receiver, "tenant-a")
    b = make_tenant(api, receiver, "tenant-b")
    b_endpoint_before = api.get(f"/api/v1/app/{b.app_id}/endpoint/{b.endpoint_id}").json()
    b_secret_before = api.get(f"/api/v1/app/{b.app_id}/endpoint/{b.endpoint_id}/secret").json()
    received_before = len(receiver.snapshot())
    page.goto(portal_link(api, a.app_id)["url"])
    expect(page.locator("h1")).to_have_text("Webhook endpoints")

    own_pages = ["/portal/home", "/portal/attempts", f"/portal/endpoint/{a.endpoint_id}",
                 f"/portal/endpoint/{a.endpoint_id}/secret",
                 f"/portal/msg/{a.msg_id}/attempt/{a.attempt_id}", "/portal/messages",
                 f"/portal/msg/{a.msg_id}", "/portal/testing", "/portal/event-types"]  # fmt: skip
    for path in own_pages:
        answer = page.goto(f"{server.url}{path}")
        assert answer is not None, path
        assert answer.status == 200, path
        html = page.content()
        assert not [m for m in B_MARKERS if m in html], path
    token = csrf_of(page)

    b_reads = [f"/portal/endpoint/{b.endpoint_id}", f"/portal/endpoint/{b.endpoint_id}/secret",
               f"/portal/msg/{b.msg_id}/attempt/{b.attempt_id}",
               f"/portal/msg/{a.msg_id}/attempt/{b.attempt_id}",
               f"/portal/attempts?endpoint={b.endpoint_id}", f"/portal/endpoint/{b.app_id}",
               f"/portal/msg/{b.msg_id}", f"/portal/messages?endpoint={b.endpoint_id}",
               f"/portal/endpoint/{b.endpoint_id}?app_id={b.app_id}"]  # fmt: skip
    for path in b_reads:
        answer = page.goto(f"{server.url}{path}")
        assert answer is not None, path
        assert answer.status == 404, path
        assert not [m for m in B_MARKERS if m in page.content()], path

    form = {"csrf": token, "url": f"{receiver.url}/hijacked", "description": "hijacked"}
    b_writes = [f"/portal/endpoint/{b.endpoint_id}", f"/portal/endpoint/{b.endpoint_id}/delete",
                f"/portal/endpoint/{b.endpoint_id}/rotate-secret",
                f"/portal/msg/{b.msg_id}/endpoint/{b.endpoint_id}/resend",
                f"/portal/msg/{b.msg_id}/endpoint/{a.endpoint_id}/resend",
                f"/portal/msg/{a.msg_id}/endpoint/{b.endpoint_id}/resend",
                f"/portal/endpoint/{b.endpoint_id}/headers",
                f"/portal/endpoint/{b.endpoint_id}/rate-limit"]  # fmt: skip
    for path in b_writes:
        answer = page.request.post(f"{server.url}{path}", form=form)
        assert answer.status == 404, path
        assert not [m for m in B_MARKERS if m in answer.text()], path

    assert api.get(f"/api/v1/app/{b.app_id}/endpoint/{b.endpoint_id}").json() == b_endpoint_before
    assert (
        api.get(f"/api/v1/app/{b.app_id}/endpoint/{b.endpoint_id}/secret").json() == b_secret_before
    )
    assert len(receiver.snapshot()) == received_before
    answer = page.goto(f"{server.url}/dashboard")
    expect(page.locator("h1")).to_have_text("Sign in")


def test_a_read_only_portal_has_no_write_forms_and_refuses_writes(
    page: Page, server: HooklineProcess, api: httpx.Client, receiver: Receiver, shots: Shots
) -> None:
    """A read-only token sees the pages without write forms; forged writes answer 403."""
    ensure_event_type(api, "user.signup")
    tenant = make_tenant(api, receiver, "acme")
    page.goto(portal_link(api, tenant.app_id, read_only=True)["url"])
    expect(page.locator("h1")).to_have_text("Webhook endpoints")
    read_only_pages = ["/portal/home", "/portal/attempts", f"/portal/endpoint/{tenant.endpoint_id}",
                       f"/portal/msg/{tenant.msg_id}/attempt/{tenant.attempt_id}",
                       "/portal/testing", "/portal/messages", f"/portal/msg/{tenant.msg_id}",
                       "/portal/event-types"]  # fmt: skip
    for path in read_only_pages:
        page.goto(f"{server.url}{path}")
        actions = page.locator("form[method=post]").evaluate_all("fs => fs.map(f => f.action)")
        assert actions == [f"{server.url}/portal/sign-out"], path
    shots.take(page, "portal-read-only")
    token = csrf_of(page)

    writes = {
        "/portal/endpoint": {"url": f"{receiver.url}/new"},
        f"/portal/endpoint/{tenant.endpoint_id}": {"url": f"{receiver.url}/changed"},
        f"/portal/endpoint/{tenant.endpoint_id}/delete": {},
        f"/portal/endpoint/{tenant.endpoint_id}/rotate-secret": {},
        "/portal/testing": {"event_type": "user.signup", "payload": "{}"},
        f"/portal/endpoint/{tenant.endpoint_id}/headers": {"headers": "X-A: 1"},
        f"/portal/endpoint/{tenant.endpoint_id}/rate-limit": {"rate_limit": "5"},
        f"/portal/msg/{tenant.msg_id}/endpoint/{tenant.endpoint_id}/resend": {},
    }
    for path, fields in writes.items():
        answer = page.request.post(f"{server.url}{path}", form={"csrf": token, **fields})
        assert answer.status == 403, path
    [endpoint] = api.get(f"/api/v1/app/{tenant.app_id}/endpoint").json()["data"]
    assert endpoint["url"] == f"{receiver.url}/acme-hook"
    assert len(receiver.snapshot()) == 1


def test_an_expired_portal_token_ends_the_session(
    page: Page, server: HooklineProcess, api: httpx.Client, receiver: Receiver
) -> None:
    """Expiring an application's tokens signs its portal sessions out."""
    tenant = make_tenant(api, receiver, "acme")
    page.goto(portal_link(api, tenant.app_id)["url"])
    expect(page.locator("h1")).to_have_text("Webhook endpoints")
    assert api.post(f"/api/v1/auth/app/{tenant.app_id}/expire-all", json={}).status_code == 204
    answer = page.goto(f"{server.url}/portal/home")
    assert answer is not None
    assert answer.status == 401
    expect(page.locator("h1")).to_have_text("You are signed out")


def test_a_portal_post_without_the_csrf_token_is_refused_and_sign_out_ends_it(
    page: Page, server: HooklineProcess, api: httpx.Client, receiver: Receiver
) -> None:
    """The portal's forms need the session's CSRF token too; Sign out ends the session."""
    tenant = make_tenant(api, receiver, "acme")
    page.goto(portal_link(api, tenant.app_id)["url"])
    expect(page.locator("h1")).to_have_text("Webhook endpoints")
    answer = page.request.post(f"{server.url}/portal/endpoint", form={"url": f"{receiver.url}/x"})
    assert answer.status == 403
    assert len(api.get(f"/api/v1/app/{tenant.app_id}/endpoint").json()["data"]) == 1
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("h1")).to_have_text("You are signed out")
    assert page.context.cookies() == []
