"""The SSRF defence on a real server: at registration (422) and again at delivery (blocked).

None of these tests sends traffic anywhere: a refused destination is refused
before any connection is opened, which is what they check.
"""

from __future__ import annotations

from typing import Any

import pytest

from support.hostile import HOSTILE_LITERAL_URLS
from support.polling import wait_until
from support.receiver import Receiver
from support.server import ServerFactory

#: Names that resolve to loopback on any machine (through /etc/hosts).
HOSTILE_NAMES = ["http://localhost/", "https://localhost:8443/", "http://LOCALHOST:8040/api/v1/app"]
HOSTILE = [*HOSTILE_LITERAL_URLS, *HOSTILE_NAMES]


def test_every_hostile_url_is_refused_at_registration(start_server: ServerFactory) -> None:
    assert len(HOSTILE) >= 30
    server = start_server(allowed_networks="")
    with server.client() as api:
        app = api.post("/api/v1/app", json={"name": "Acme"}).json()
        for url in HOSTILE:
            refused = api.post(f"/api/v1/app/{app['id']}/endpoint", json={"url": url})
            assert refused.status_code == 422, url
            (problem,) = refused.json()["detail"]
            assert problem["loc"] == ["body", "url"], url
            assert problem["msg"], url
        assert api.get(f"/api/v1/app/{app['id']}/endpoint").json()["data"] == []


@pytest.mark.parametrize("http_client", ["pyreqwest", "aiohttp"])
def test_every_hostile_url_is_blocked_at_delivery(
    start_server: ServerFactory, receiver: Receiver, http_client: str
) -> None:
    """Endpoints registered while everything was allowed are judged again when sent to."""
    permissive = start_server(allowed_networks="0.0.0.0/0,::/0")
    with permissive.client() as api:
        app = api.post("/api/v1/app", json={"name": "Acme"}).json()
        registered = []
        for url in HOSTILE:
            made = api.post(f"/api/v1/app/{app['id']}/endpoint", json={"url": url})
            if made.status_code == 201:
                registered.append(made.json()["id"])
    assert len(registered) >= 30
    permissive.kill()  # nothing was published: it never sent a thing

    guarded = start_server(allowed_networks="", http_client=http_client, retry_schedule="60s")
    with guarded.client() as api:
        msg = api.post(
            f"/api/v1/app/{app['id']}/msg", json={"eventType": "a.b", "payload": {"x": 1}}
        ).json()

        def attempts() -> list[dict[str, Any]]:
            page = api.get(
                f"/api/v1/app/{app['id']}/attempt/msg/{msg['id']}", params={"limit": 250}
            )
            found: list[dict[str, Any]] = page.json()["data"]
            return found if len(found) >= len(registered) else []

        found = wait_until(attempts, timeout=30, what="an attempt per endpoint")
    assert sorted(a["endpointId"] for a in found) == sorted(registered)
    assert {a["errorClass"] for a in found} == {"blocked"}
    assert {a["responseStatusCode"] for a in found} == {0}
    assert receiver.snapshot() == []
