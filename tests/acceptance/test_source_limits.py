"""A source's allowlist and rate limit on a real server: 403 and 429 before the signature,
counted in /metrics and on the dashboard, X-Forwarded-For believed only from trusted proxies."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
from test_inbound import make_source, signed_headers

from support.metrics import scrape, value
from support.polling import wait_until
from support.server import ADMIN_TOKEN, HooklineProcess, ServerFactory

BODY = b'{"id": "evt", "amount": 1}'


def an_app(server: HooklineProcess) -> str:
    with server.client() as api:
        made: dict[str, Any] = api.post("/api/v1/app", json={"name": "Acme"}).json()
        return str(made["id"])


def messages(server: HooklineProcess, app_id: str) -> int:
    with server.client() as api:
        return len(api.get(f"/api/v1/app/{app_id}/msg").json()["data"])


def post(source: dict[str, Any], event_id: str, **headers: str) -> httpx.Response:
    with httpx.Client(timeout=10) as provider:
        return provider.post(
            source["ingestUrl"], content=BODY, headers={**signed_headers(event_id, BODY), **headers}
        )


def test_a_request_from_outside_the_allowlist_is_refused_and_counted(
    server: HooklineProcess,
) -> None:
    app_id = an_app(server)
    with server.client() as api:
        source = make_source(api, app_id, allowedNetworks=["192.0.2.0/24", "2001:db8::1"])
    assert source["allowedNetworks"] == ["192.0.2.0/24", "2001:db8::1/128"]
    refused = post(source, "evt_1")
    assert refused.status_code == 403, refused.text
    assert "may not send" in refused.json()["detail"]
    # Forged forwarding headers are not believed without a trusted proxy.
    assert post(source, "evt_2", **{"x-forwarded-for": "192.0.2.9"}).status_code == 403
    assert messages(server, app_id) == 0
    assert value(scrape(server), "hookline_inbound_requests_total", result="forbidden") == 2

    # Opened to loopback by a patch, the same provider gets through.
    with server.client() as api:
        patched = api.patch(
            f"/api/v1/app/{app_id}/source/{source['id']}", json={"allowedNetworks": ["127.0.0.0/8"]}
        )
    assert patched.status_code == 200, patched.text
    assert post(source, "evt_3").status_code == 200
    assert messages(server, app_id) == 1

    with httpx.Client(base_url=server.url, timeout=10, follow_redirects=False) as browser:
        browser.post("/dashboard/sign-in", data={"token": ADMIN_TOKEN, "next": "/dashboard"})

        def forbidden_shown() -> bool:
            page = browser.get(f"/dashboard/app/{app_id}").text
            cell = re.search(r'data-testid="forbidden">(\d+)<', page)
            return cell is not None and cell.group(1) == "2"

        wait_until(forbidden_shown, timeout=10)


def test_behind_a_trusted_proxy_the_forwarded_client_is_checked(
    start_server: ServerFactory,
) -> None:
    server = start_server(trusted_proxies="127.0.0.1/32")
    app_id = an_app(server)
    with server.client() as api:
        source = make_source(api, app_id, allowedNetworks=["192.0.2.0/24"])
    # The client wrote the left-most entry; the proxy added the one it saw.
    chain = "127.0.0.1, 192.0.2.77"
    assert post(source, "evt_1", **{"x-forwarded-for": chain}).status_code == 200
    assert post(source, "evt_2", **{"x-forwarded-for": "192.0.2.1, 198.51.100.4"}).status_code == (
        403
    )
    assert post(source, "evt_3").status_code == 403  # the proxy itself is not the provider
    assert messages(server, app_id) == 1


def test_over_its_rate_a_source_answers_429_with_retry_after(server: HooklineProcess) -> None:
    app_id = an_app(server)
    with server.client() as api:
        source = make_source(api, app_id, rateLimit=3)
    assert source["rateLimit"] == 3
    answers = [post(source, f"evt_{i}") for i in range(6)]
    statuses = [a.status_code for a in answers]
    assert statuses[:3] == [200, 200, 200], statuses
    limited = [a for a in answers if a.status_code == 429]
    assert limited, statuses
    assert int(limited[0].headers["retry-after"]) >= 1
    stored = messages(server, app_id)
    assert stored == statuses.count(200)
    # The provider retries after Retry-After: the event is taken then.
    time.sleep(1.1)
    assert post(source, "evt_late").status_code == 200
    assert value(scrape(server), "hookline_inbound_requests_total", result="limited") == len(
        limited
    )
    # null removes the limit.
    with server.client() as api:
        patched = api.patch(f"/api/v1/app/{app_id}/source/{source['id']}", json={"rateLimit": None})
    assert patched.json()["rateLimit"] is None
    assert all(post(source, f"evt_free_{i}").status_code == 200 for i in range(6))


def test_a_bad_allowlist_or_rate_is_refused_naming_the_field(server: HooklineProcess) -> None:
    app_id = an_app(server)
    body = {
        "name": "p",
        "verifier": {"type": "standard_webhooks", "secrets": ["whsec_" + "A" * 32]},
    }
    with server.client() as api:
        bad = api.post(
            f"/api/v1/app/{app_id}/source",
            json={**body, "allowedNetworks": ["10.0.0.0/8", "10.1.2.3/8"]},
        )
        assert bad.status_code == 422, bad.text
        assert "allowedNetworks" in bad.text
        assert "10.1.2.3/8" in bad.text
        assert (
            api.post(f"/api/v1/app/{app_id}/source", json={**body, "rateLimit": 0}).status_code
            == 422
        )
        assert api.get(f"/api/v1/app/{app_id}/source").json()["data"] == []
