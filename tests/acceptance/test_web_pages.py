"""The dashboard and the portal over plain HTTP (no browser): headers, cookies, forms, search."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from support.polling import wait_until
from support.receiver import Receiver
from support.server import ADMIN_TOKEN, HooklineProcess, ServerFactory

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def api(server: HooklineProcess) -> Iterator[httpx.Client]:
    """An admin API client."""
    with server.client() as client:
        yield client


@pytest.fixture
def browser(server: HooklineProcess) -> Iterator[httpx.Client]:
    """A cookie-keeping client that does not follow redirects, as a bare browser would."""
    with httpx.Client(base_url=server.url, timeout=10, follow_redirects=False) as client:
        yield client


def sign_in(browser: httpx.Client, token: str = ADMIN_TOKEN) -> httpx.Response:
    """Post the dashboard's sign-in form."""
    return browser.post("/dashboard/sign-in", data={"token": token, "next": "/dashboard"})


def csrf_on(browser: httpx.Client, path: str) -> str:
    """The CSRF token the forms of ``path`` carry."""
    found = _CSRF.search(browser.get(path).text)
    assert found is not None
    return found.group(1)


def test_web_routes_are_not_in_the_openapi_document(api: httpx.Client) -> None:
    """The API's schema lists API routes only."""
    paths = api.get("/api/v1/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith(("/dashboard", "/portal", "/static"))]


def test_pages_carry_security_headers_and_the_session_cookie_its_flags(
    browser: httpx.Client,
) -> None:
    """Pages forbid framing, sniffing, caching and foreign scripts; the cookie is locked down."""
    page = browser.get("/dashboard/sign-in")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"
    signed = sign_in(browser)
    assert signed.status_code == 303
    assert signed.headers["location"] == "/dashboard"
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith("hookline_dashboard=")
    assert ADMIN_TOKEN not in cookie
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/"} <= flags
    assert browser.get("/dashboard").status_code == 200


def test_forms_from_another_site_are_refused(browser: httpx.Client) -> None:
    """A sign-in posted from another origin opens no session."""
    answer = browser.post(
        "/dashboard/sign-in", data={"token": ADMIN_TOKEN},
        headers={"Origin": "https://evil.example"},
    )  # fmt: skip
    assert answer.status_code == 403
    assert "set-cookie" not in answer.headers


def test_tokens_of_the_wrong_kind_open_no_session(browser: httpx.Client, api: httpx.Client) -> None:
    """The dashboard wants an admin token, the portal an application's; others are refused."""
    app = api.post("/api/v1/app", json={"name": "acme"}).json()
    app_token = api.post(f"/api/v1/auth/app-portal-access/{app['id']}", json={}).json()["token"]
    assert sign_in(browser, app_token).status_code == 401
    assert sign_in(browser, "hk_" + "x" * 43).status_code == 401
    assert browser.post("/portal/session", data={"token": ADMIN_TOKEN}).status_code == 401
    assert browser.post("/portal/session", data={"token": "nonsense"}).status_code == 401
    assert not browser.cookies
    opened = browser.post("/portal/session", data={"token": app_token})
    assert opened.status_code == 303
    assert opened.headers["location"] == "/portal/home"
    assert browser.get("/portal/home").status_code == 200
    assert browser.get("/dashboard").status_code == 303


def test_unknown_pages_answer_html_and_the_api_keeps_json(browser: httpx.Client) -> None:
    """A missing page is an HTML 404; API paths are untouched; / leads to the dashboard."""
    missing = browser.get("/dashboard/no-such-page")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert browser.get("/api/v1/no-such-route").headers["content-type"] == "application/json"
    root = browser.get("/")
    assert (root.status_code, root.headers["location"]) == (303, "/dashboard")
    assert browser.get("/static/style.css").status_code == 200


def test_forms_are_bounded_in_kind_and_size(browser: httpx.Client) -> None:
    """Only url-encoded forms are read, and only up to 64 KiB."""
    sign_in(browser)
    assert browser.post("/dashboard/sign-in", json={"token": ADMIN_TOKEN}).status_code == 415
    assert browser.post("/dashboard/sign-in", data={"token": "x" * 70_000}).status_code == 413


def test_message_search_filters_by_id_type_channel_time_and_status(
    browser: httpx.Client, api: httpx.Client, receiver: Receiver
) -> None:
    """Search finds by id or eventId, event type, channel and status; bad input names its field."""
    app = api.post("/api/v1/app", json={"name": "acme"}).json()
    endpoint = api.post(
        f"/api/v1/app/{app['id']}/endpoint", json={"url": f"{receiver.url}/hook"}
    ).json()
    paid = api.post(
        f"/api/v1/app/{app['id']}/msg",
        json={"eventType": "invoice.paid", "eventId": "evt-paid", "payload": {},
              "channels": ["eu"]},
    ).json()  # fmt: skip
    voided = api.post(
        f"/api/v1/app/{app['id']}/msg", json={"eventType": "invoice.voided", "payload": {}}
    ).json()
    receiver.wait_for(2)
    base = f"/dashboard/app/{app['id']}/msg"
    sign_in(browser)

    def found(**query: str) -> set[str]:
        text = browser.get(base, params=query).text
        return {m for m in (paid["id"], voided["id"]) if f">{m}</code>" in text}

    assert found() == {paid["id"], voided["id"]}
    assert found(q="evt-paid") == {paid["id"]}
    assert found(q=voided["id"]) == {voided["id"]}
    assert found(event_type="invoice.voided") == {voided["id"]}
    assert found(channel="eu") == {paid["id"]}
    assert found(until="2000-01-01T00:00") == set()
    wait_until(
        lambda: found(status="success", endpoint=endpoint["id"]) == {paid["id"], voided["id"]}
    )
    assert found(status="fail", endpoint=endpoint["id"]) == set()
    assert "endpoint: choose the endpoint" in browser.get(base, params={"status": "fail"}).text
    assert "since: expected a date" in browser.get(base, params={"since": "yesterday"}).text


def test_a_read_only_admin_token_reads_the_dashboard_but_writes_nothing(
    browser: httpx.Client, api: httpx.Client, receiver: Receiver
) -> None:
    """A read-only admin token sees pages without action forms, and its forged POSTs are 403."""
    app = api.post("/api/v1/app", json={"name": "acme"}).json()
    endpoint = api.post(
        f"/api/v1/app/{app['id']}/endpoint", json={"url": f"{receiver.url}/hook"}
    ).json()
    reader = api.post("/api/v1/auth/token", json={"name": "reader", "readOnly": True}).json()
    assert sign_in(browser, reader["token"]).status_code == 303
    path = f"/dashboard/app/{app['id']}/endpoint/{endpoint['id']}"
    html = browser.get(path).text
    assert "/pause" not in html
    assert "/recover" not in html
    token = csrf_on(browser, path)
    assert browser.post(f"{path}/pause", data={"csrf": token}).status_code == 403
    assert api.get(f"/api/v1/app/{app['id']}/endpoint/{endpoint['id']}").json()["paused"] is False
    signed_out = browser.post("/dashboard/sign-out", data={"csrf": token})
    assert signed_out.status_code == 303


def test_a_session_opened_in_one_api_process_works_in_another(
    start_server: ServerFactory,
) -> None:
    """Sessions live in the database: behind a load balancer, any process serves a browser,
    and a sign-out in one ends the session in all of them."""
    first, second = start_server(command="api"), start_server(command="api")
    with (
        httpx.Client(base_url=first.url, timeout=10, follow_redirects=False) as one,
        httpx.Client(base_url=second.url, timeout=10, follow_redirects=False) as other,
    ):
        assert sign_in(one).status_code == 303
        other.cookies = one.cookies
        assert other.get("/dashboard").status_code == 200
        token = csrf_on(other, "/dashboard")
        assert other.post("/dashboard/sign-out", data={"csrf": token}).status_code == 303
        wait_until(
            lambda: one.get("/dashboard").status_code == 303, timeout=10,
            what="the sign-out to reach the other process",
        )  # fmt: skip


def test_an_attempts_page_shows_the_request_as_sent_with_credentials_masked(
    browser: httpx.Client, api: httpx.Client, receiver: Receiver
) -> None:
    """The attempt page shows the headers the receiver got (signature included) and the
    reshaped body; the endpoint's credential header is masked, its other headers shown."""
    app = api.post("/api/v1/app", json={"name": "acme"}).json()
    endpoint = api.post(
        f"/api/v1/app/{app['id']}/endpoint",
        json={"url": f"{receiver.url}/hook", "transformation": {"body": "{total: amount}"}},
    ).json()
    set_headers = api.put(
        f"/api/v1/app/{app['id']}/endpoint/{endpoint['id']}/headers",
        json={"headers": {"Authorization": "Bearer s3cret-value", "X-Team": "billing"}},
    )
    assert set_headers.status_code == 204, set_headers.text
    message = api.post(
        f"/api/v1/app/{app['id']}/msg", json={"eventType": "invoice.paid", "payload": {"amount": 7}}
    ).json()
    (arrived,) = receiver.wait_for(1)
    got = {name.lower(): value for name, value in arrived.headers.items()}
    assert got["authorization"] == "Bearer s3cret-value"
    attempts = wait_until(
        lambda: api.get(f"/api/v1/app/{app['id']}/attempt/msg/{message['id']}").json()["data"]
    )
    sign_in(browser)
    page = browser.get(
        f"/dashboard/app/{app['id']}/msg/{message['id']}/attempt/{attempts[0]['id']}"
    )
    assert page.status_code == 200
    html = page.text
    assert got["webhook-signature"] in html
    assert got["webhook-id"] in html
    assert "billing" in html
    assert "&lt;masked&gt;" in html
    assert "s3cret-value" not in html
    assert "Reshaped for this endpoint" in html
    assert "&#34;total&#34;: 7" in html or "&quot;total&quot;: 7" in html

    # An endpoint that takes the payload as it is: the page shows the stored payload.
    plain = api.post(
        f"/api/v1/app/{app['id']}/endpoint", json={"url": f"{receiver.url}/plain"}
    ).json()
    second = api.post(
        f"/api/v1/app/{app['id']}/msg", json={"eventType": "invoice.paid", "payload": {"amount": 8}}
    ).json()
    receiver.wait_for(3)
    path = f"/api/v1/app/{app['id']}/attempt/msg/{second['id']}"
    to_plain = wait_until(
        lambda: [a for a in api.get(path).json()["data"] if a["endpointId"] == plain["id"]]
    )
    html = browser.get(
        f"/dashboard/app/{app['id']}/msg/{second['id']}/attempt/{to_plain[0]['id']}"
    ).text
    assert "The message payload, as stored" in html
    assert "Reshaped for this endpoint" not in html
    assert "&lt;masked&gt;" not in html  # this endpoint has no credential header


def test_the_dashboard_and_the_portal_show_destinations_with_secrets_masked(
    browser: httpx.Client, api: httpx.Client, server: HooklineProcess
) -> None:
    """An application's destinations are listed on its dashboard page and its portal
    home: kind, configuration (password masked), status, and why one is failing."""
    app = api.post("/api/v1/app", json={"name": "Buses"}).json()
    # Nothing listens on this port: the attempt fails with a reason, retried later.
    down = "amqp://guest:hunter2-secret@127.0.0.1:9/%2F"
    rabbit = api.post(f"/api/v1/app/{app['id']}/destination", json={
        "type": "rabbitMq", "config": {"uri": down, "routingKey": "invoices"},
    })  # fmt: skip
    assert rabbit.status_code == 201, rabbit.text
    api.post(f"/api/v1/app/{app['id']}/destination", json={"type": "pollingEndpoint"})
    api.post(f"/api/v1/app/{app['id']}/msg", json={"eventType": "a.b", "payload": {}})
    shown = f"/api/v1/app/{app['id']}/destination/{rabbit.json()['id']}"
    wait_until(lambda: api.get(shown).json()["failureReason"], what="a failure reason")
    reason = api.get(shown).json()["failureReason"]
    assert sign_in(browser).status_code == 303
    dashboard = browser.get(f"/dashboard/app/{app['id']}").text
    token = api.post(f"/api/v1/auth/app-portal-access/{app['id']}", json={}).json()["token"]
    with httpx.Client(base_url=server.url, timeout=10, follow_redirects=False) as customer:
        assert customer.post("/portal/session", data={"token": token}).status_code == 303
        portal = customer.get("/portal/home").text
    for text in (dashboard, portal):
        assert 'data-testid="destinations"' in text, text[:2000]
        section = text[text.index('data-testid="destinations"') :]
        assert "rabbitMq" in section
        assert "pollingEndpoint" in section
        assert "hunter2" not in text
        assert "guest:********@127.0.0.1:9" in section
        assert ">retrying<" in section
        assert _escaped(reason) in section
        assert ">enabled<" in section  # the poller


def _escaped(text: str) -> str:
    import html

    return html.escape(text)
