"""The operator's dashboard in a real browser, against a real server and receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx
import pytest
from browsing import Shots, csrf_of, make_tenant, portal_link, reload_until, sign_in
from playwright.sync_api import Page, expect

from support.polling import wait_until
from support.receiver import Answer, Received, Receiver
from support.server import HooklineProcess, ServerFactory


def test_sign_in_refuses_bad_tokens_and_accepts_an_admin_token(
    page: Page, server: HooklineProcess, api: httpx.Client, receiver: Receiver, shots: Shots
) -> None:
    """Sign-in refuses an unknown token and an application's token, and admits an admin one."""
    tenant = make_tenant(api, receiver, "acme")
    page.goto(f"{server.url}/dashboard/app/{tenant.app_id}")
    expect(page).to_have_url(
        f"{server.url}/dashboard/sign-in?next=%2Fdashboard%2Fapp%2F{tenant.app_id}"
    )
    shots.take(page, "sign-in")

    page.fill("#token", "hk_not_a_real_token")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("That token is not valid")

    app_token = portal_link(api, tenant.app_id)["token"]
    page.fill("#token", app_token)
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("the dashboard needs an admin token")
    assert not [c for c in page.context.cookies() if c["name"] == "hookline_dashboard"]

    sign_in(page, server)
    page.goto(f"{server.url}/dashboard/app/{tenant.app_id}")
    expect(page.locator("h1")).to_contain_text("acme-app-name")
    cookie = next(c for c in page.context.cookies() if c["name"] == "hookline_dashboard")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/"

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{server.url}/dashboard/sign-in")
    page.goto(f"{server.url}/dashboard")
    expect(page.locator("h1")).to_have_text("Sign in")


def test_a_revoked_token_is_signed_out(
    page: Page, server: HooklineProcess, api: httpx.Client
) -> None:
    """Revoking the token a session signed in with ends the session at its next page."""
    made = api.post("/api/v1/auth/token", json={"name": "operator"}).json()
    sign_in(page, server, made["token"])
    expect(page.locator("h1")).to_have_text("Applications")
    assert api.delete(f"/api/v1/auth/token/{made['id']}").status_code == 204
    page.goto(f"{server.url}/dashboard")
    expect(page.locator("h1")).to_have_text("Sign in")


def test_an_attempt_appears_and_a_retry_adds_another(
    page: Page, server: HooklineProcess, api: httpx.Client, receiver: Receiver, shots: Shots
) -> None:
    """A published message's attempt shows up, escaped; Retry makes a second, manual one."""
    hostile = {"note": "<script>window.__pwned = 1</script>", "img": "<img src=x onerror=alert(1)>"}
    tenant = make_tenant(api, receiver, "acme", payload={"invoice": "in_42", **hostile})
    sign_in(page, server)
    page.goto(f"{server.url}/dashboard/app/{tenant.app_id}/msg/{tenant.msg_id}")
    reload_until(page, "tr.attempt-row", 1)
    payload = page.get_by_test_id("payload").inner_text()
    assert json.loads(payload)["note"] == hostile["note"]
    assert page.evaluate("window.__pwned") is None
    assert page.locator("main img").count() == 0
    shots.take(page, "message")

    page.locator("tr.attempt-row").first.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("status")).to_contain_text("Queued to be sent again")
    reload_until(page, "tr.attempt-row", 2)
    expect(page.locator("tr.attempt-row").first).to_contain_text("manual")
    assert len(receiver.wait_for(2)) == 2

    page.locator("tr.attempt-row").first.locator("a").first.click()
    expect(page.locator("h2", has_text="Response")).to_be_visible()
    expect(page.get_by_test_id("response-body")).to_have_text("ok")
    shots.take(page, "attempt")


def test_pause_holds_deliveries_until_resume(
    page: Page, server: HooklineProcess, api: httpx.Client, receiver: Receiver, shots: Shots
) -> None:
    """Pause parks new deliveries, Resume sends them; both are in the audit trail."""
    tenant = make_tenant(api, receiver, "acme")
    sign_in(page, server)
    page.goto(f"{server.url}/dashboard/app/{tenant.app_id}/endpoint/{tenant.endpoint_id}")
    page.get_by_role("button", name="Pause deliveries").click()
    expect(page.get_by_test_id("paused")).to_have_text("yes")
    shots.take(page, "endpoint")

    api.post(f"/api/v1/app/{tenant.app_id}/msg", json={"eventType": "user.signup", "payload": {}})
    time.sleep(1.5)
    assert len(receiver.snapshot()) == 1

    page.get_by_role("button", name="Resume deliveries").click()
    expect(page.get_by_test_id("paused")).to_have_text("no")
    receiver.wait_for(2)
    actions = [e["action"] for e in api.get(f"/api/v1/app/{tenant.app_id}/audit").json()["data"]]
    assert "endpoint.paused" in actions
    assert "endpoint.resumed" in actions


def test_failed_messages_are_listed_and_recovered(
    page: Page,
    start_server: ServerFactory,
    receiver: Receiver,
    shots: Shots,
    request: pytest.FixtureRequest,
) -> None:
    """A message whose retries ran out is in the failed list; Recover sends it again."""
    server = start_server(retry_schedule="1s", retry_jitter="0")
    healthy = False

    def answer(request: Received, count: int) -> Answer:
        return Answer() if healthy else Answer(status=500, body="down")

    receiver.behaviour = answer
    api = server.client()
    request.addfinalizer(api.close)
    app = api.post("/api/v1/app", json={"name": "acme"}).json()
    endpoint = api.post(
        f"/api/v1/app/{app['id']}/endpoint", json={"url": f"{receiver.url}/hook"}
    ).json()
    msg = api.post(
        f"/api/v1/app/{app['id']}/msg", json={"eventType": "invoice.paid", "payload": {"n": 1}}
    ).json()
    failed_url = f"/api/v1/app/{app['id']}/endpoint/{endpoint['id']}/msg?status=2"
    wait_until(lambda: api.get(failed_url).json()["data"], what="the delivery to fail")

    sign_in(page, server)
    page.goto(f"{server.url}/dashboard/app/{app['id']}/failed")
    expect(page.get_by_test_id("failed-endpoint")).to_contain_text(msg["id"])
    shots.take(page, "failed")

    healthy = True
    page.get_by_role("button", name="Recover all").click()
    expect(page.get_by_role("status")).to_contain_text("Recovery started")
    wait_until(lambda: not api.get(failed_url).json()["data"], what="the recovered delivery")
    assert receiver.snapshot()[-1].body == b'{"n":1}'


def _github_post(server: HooklineProcess, ingest_url: str, secret: str, delivery: str) -> int:
    body = b'{"action": "opened"}'
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"X-GitHub-Event": "issues", "X-GitHub-Delivery": delivery,
               "X-Hub-Signature-256": signature, "Content-Type": "application/json"}  # fmt: skip
    with server.client(None) as plain:
        return plain.post(ingest_url, content=body, headers=headers).status_code


def test_charts_and_inbound_sources_show_their_figures(
    page: Page, server: HooklineProcess, api: httpx.Client, receiver: Receiver, shots: Shots
) -> None:
    """The application page charts its attempts and counts received, rejected, duplicates."""
    tenant = make_tenant(api, receiver, "acme")
    for number in range(5):
        api.post(
            f"/api/v1/app/{tenant.app_id}/msg",
            json={"eventType": "invoice.paid", "payload": {"n": number}},
        )
    receiver.wait_for(6)
    source = api.post(
        f"/api/v1/app/{tenant.app_id}/source",
        json={"name": "GitHub", "verifier": {"type": "github", "secrets": ["gh-secret"]}},
    ).json()
    assert _github_post(server, source["ingestUrl"], "gh-secret", "d-1") == 200
    assert _github_post(server, source["ingestUrl"], "gh-secret", "d-1") == 200
    assert _github_post(server, source["ingestUrl"], "wrong", "d-2") == 401

    sign_in(page, server)
    page.goto(f"{server.url}/dashboard/app/{tenant.app_id}")
    expect(page.locator("figure.chart")).to_have_count(3)
    expect(page.locator("figure.chart").first).to_contain_text("attempts")
    assert page.locator("figure.chart .bar").count() >= 1
    assert page.locator("figure.chart polyline").count() >= 1
    expect(page.get_by_test_id("received")).to_have_text("1")
    expect(page.get_by_test_id("duplicates")).to_have_text("1")
    # Rejections are counted in memory and written every 2 s.
    reload_until(page, "[data-testid=rejected]:text-is('1')", 1)
    expect(page.get_by_test_id("endpoints")).to_contain_text("100.0%")
    shots.take(page, "application")
    page.goto(f"{server.url}/dashboard")
    shots.take(page, "applications")


def test_posts_without_the_csrf_token_are_refused(
    page: Page, server: HooklineProcess, api: httpx.Client, receiver: Receiver
) -> None:
    """A POST without the session's CSRF token, with a wrong one, or from another site is 403."""
    tenant = make_tenant(api, receiver, "acme")
    sign_in(page, server)
    base = f"{server.url}/dashboard/app/{tenant.app_id}/endpoint/{tenant.endpoint_id}"
    page.goto(base)
    token = csrf_of(page)
    refused = [
        page.request.post(f"{base}/pause", form={}),
        page.request.post(f"{base}/pause", form={"csrf": "not-the-token"}),
        page.request.post(
            f"{base}/pause", form={"csrf": token}, headers={"Origin": "https://evil.example"}
        ),
        page.request.post(
            f"{base}/pause", form={"csrf": token}, headers={"Sec-Fetch-Site": "cross-site"}
        ),
    ]
    assert [answer.status for answer in refused] == [403, 403, 403, 403]
    endpoint = api.get(f"/api/v1/app/{tenant.app_id}/endpoint/{tenant.endpoint_id}").json()
    assert endpoint["paused"] is False
    assert page.request.post(f"{base}/pause", form={"csrf": token}).status == 200
    assert api.get(f"/api/v1/app/{tenant.app_id}/endpoint/{tenant.endpoint_id}").json()["paused"]
