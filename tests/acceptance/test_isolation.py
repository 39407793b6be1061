"""Tenant isolation: an application's token against every route of another application.

The routes come from the server's own OpenAPI document, so a route added later
is in the matrix without anyone remembering to add it. Application A's token is
sent to each route with application B's ids (copied, as an attacker who saw them
would) and with B's uid, and must get 401, 403 or 404 with nothing of B's in the
answer; B's data must be exactly as it was afterwards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from support.polling import wait_until
from support.receiver import Receiver
from support.server import HooklineProcess

#: Strings only B's records hold: none may appear in an answer to A's token.
B_MARKERS = ("tenant-b-private-name", "/b-private-hook", "b-private-description",
             "b-private-payload", "b-private-metadata", "b-private-source",
             "b-private-github-secret")  # fmt: skip
_PARAM = re.compile(r"\{(\w+)\}")


@dataclass
class Tenant:
    """One application with something in every table."""

    app_id: str
    uid: str
    endpoint_id: str
    secret: str
    msg_id: str
    attempt_id: str
    task_id: str
    token: str
    token_id: str
    source_id: str
    ingest_url: str
    poller_id: str


def make_tenant(api: httpx.Client, receiver: Receiver, label: str) -> Tenant:
    marker = "b-private" if label == "b" else f"{label}-own"
    app = api.post(
        "/api/v1/app",
        json={"name": f"tenant-{marker}-name", "uid": f"tenant-{label}",
              "metadata": {"note": f"{marker}-metadata"}},
    ).json()  # fmt: skip
    endpoint = api.post(
        f"/api/v1/app/{app['id']}/endpoint",
        json={"url": f"{receiver.url}/{marker}-hook", "description": f"{marker}-description",
              "uid": f"ep-{label}"},
    ).json()  # fmt: skip
    secret = api.get(f"/api/v1/app/{app['id']}/endpoint/{endpoint['id']}/secret").json()["key"]
    # A poller made before the message, so that it reads it.
    poller = api.post(
        f"/api/v1/app/{app['id']}/destination",
        json={"type": "pollingEndpoint", "uid": f"poll-{label}", "config": {},
              "metadata": {"note": f"{marker}-metadata"}},
    ).json()  # fmt: skip
    msg = api.post(
        f"/api/v1/app/{app['id']}/msg",
        json={"eventType": "user.signup", "payload": {"note": f"{marker}-payload"},
              "eventId": f"evt-{label}"},
    ).json()  # fmt: skip

    def attempted() -> list[dict[str, Any]]:
        page = api.get(f"/api/v1/app/{app['id']}/attempt/msg/{msg['id']}").json()
        found: list[dict[str, Any]] = page["data"]
        return found

    attempt = wait_until(attempted, what=f"{label}'s attempt")[0]
    task = api.post(
        f"/api/v1/app/{app['id']}/endpoint/{endpoint['id']}/recover",
        json={"since": "2020-01-01T00:00:00Z"},
    ).json()  # fmt: skip
    source = api.post(
        f"/api/v1/app/{app['id']}/source",
        json={"name": f"{marker}-source", "uid": f"src-{label}",
              "verifier": {"type": "github", "secrets": [f"{marker}-github-secret"]}},
    ).json()  # fmt: skip
    portal = api.post(f"/api/v1/auth/app-portal-access/{app['id']}", json={}).json()
    token_id = api.get("/api/v1/auth/token", params={"app_id": app["id"]}).json()["data"][0]["id"]
    return Tenant(
        app_id=app["id"], uid=app["uid"], endpoint_id=endpoint["id"], secret=secret,
        msg_id=msg["id"], attempt_id=attempt["id"], task_id=task["id"], token=portal["token"],
        token_id=token_id, source_id=source["id"], ingest_url=source["ingestUrl"],
        poller_id=poller["id"],
    )  # fmt: skip


def routes(api: httpx.Client) -> list[tuple[str, str]]:
    """Every (method, path template) the server documents, health aside."""
    spec = api.get("/api/v1/openapi.json").json()
    return [
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if path != "/api/v1/health"
    ]


def fill(template: str, values: dict[str, str]) -> str:
    return _PARAM.sub(lambda m: values[m.group(1)], template)


def dump(api: httpx.Client, tenant: Tenant) -> list[Any]:
    """What an admin sees of a tenant: to compare before and after the matrix."""
    base = f"/api/v1/app/{tenant.app_id}"
    paths = [base, f"{base}/endpoint", f"{base}/endpoint/{tenant.endpoint_id}/secret",
             f"{base}/endpoint/{tenant.endpoint_id}/headers", f"{base}/msg",
             f"{base}/attempt/msg/{tenant.msg_id}", f"/api/v1/auth/token?app_id={tenant.app_id}",
             f"{base}/audit", f"{base}/source", f"{base}/destination"]  # fmt: skip
    return [api.get(path).json() for path in paths]


@pytest.fixture
def tenants(server: HooklineProcess, receiver: Receiver) -> tuple[Tenant, Tenant]:
    with server.client() as api:
        api.post("/api/v1/event-type", json={"name": "user.signup", "description": "signup"})
        return make_tenant(api, receiver, "a"), make_tenant(api, receiver, "b")


def test_a_token_of_a_reaches_nothing_of_b(
    server: HooklineProcess, tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = tenants
    with server.client() as admin:
        before = dump(admin, b)
        every_route = routes(admin)
    assert len(every_route) >= 40

    b_ids = {"app_id": b.app_id, "endpoint_id": b.endpoint_id, "msg_id": b.msg_id,
             "attempt_id": b.attempt_id, "task_id": b.task_id, "token_id": b.token_id,
             "event_type_name": "user.signup", "source_id": b.source_id,
             "destination_id": b.poller_id, "sink_id": b.poller_id,
             "consumer_id": "consumer-1", "plan_name": "free"}  # fmt: skip
    # The same routes by B's uid, and under A's own application with B's other ids.
    by_uid = {**b_ids, "app_id": b.uid, "endpoint_id": "ep-b", "msg_id": "evt-b",
              "source_id": "src-b", "destination_id": "poll-b", "sink_id": "poll-b"}  # fmt: skip
    inside_a = {**b_ids, "app_id": a.app_id}
    tried = 0
    with server.client(a.token) as as_a:
        for method, template in every_route:
            if template == "/api/v1/auth/logout":
                continue  # it would end A's own token; test_portal_tokens covers it
            own_route = set(_PARAM.findall(template)) <= {"app_id"}
            for values in (b_ids, by_uid, inside_a):
                if values is inside_a and own_route:
                    continue  # A's own application, with no id of B's in the path
                path = fill(template, values)
                answer = as_a.request(method, path, json={})
                tried += 1
                where = f"{method} {path} -> {answer.status_code} {answer.text[:200]}"
                ingest_token = b.ingest_url.rsplit("/", 1)[1]
                leaked = [
                    m for m in (*B_MARKERS, b.secret, b.token, ingest_token) if m in answer.text
                ]
                assert not leaked, f"B's data in {where}"
                shown_ids = {b.endpoint_id, b.msg_id, b.attempt_id, b.task_id, b.token_id,
                             b.app_id, b.source_id, b.poller_id} - set(path.split("/"))  # fmt: skip
                assert not [i for i in shown_ids if i in answer.text], f"B's ids in {where}"
                if answer.status_code < 400:
                    # Only server-wide reads may succeed, and they hold nothing of B's.
                    assert method == "GET", where
                    assert "{app_id}" not in template, where
                elif values is inside_a:
                    # A's own application: its body may be judged (422) before B's id is.
                    assert answer.status_code in {401, 403, 404, 422}, where
                else:
                    assert answer.status_code in {401, 403, 404}, where
        # Still signed in: the 404s above were refusals, not a dead token.
        assert as_a.get(f"/api/v1/app/{a.app_id}").status_code == 200
    assert tried > 2 * len(every_route)
    with server.client() as admin:
        assert dump(admin, b) == before


def test_lists_show_an_application_token_only_its_own(
    server: HooklineProcess, tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = tenants
    with server.client(a.token) as as_a:
        apps = as_a.get("/api/v1/app").json()["data"]
        assert [x["id"] for x in apps] == [a.app_id]
        tasks = as_a.get("/api/v1/background-task").json()["data"]
        assert [t["id"] for t in tasks] == [a.task_id]
        assert as_a.get(f"/api/v1/background-task/{b.task_id}").status_code == 404
        own = as_a.get(f"/api/v1/app/{a.app_id}/endpoint").json()["data"]
        assert [e["id"] for e in own] == [a.endpoint_id]
        assert as_a.get(f"/api/v1/app/{a.uid}/msg").json()["data"][0]["id"] == a.msg_id
        # Server-wide catalogue: readable, not writable.
        assert as_a.get("/api/v1/event-type").status_code == 200
        refused = as_a.post("/api/v1/event-type", json={"name": "x.y", "description": "x"})
        assert refused.status_code == 403
        assert "application's token" in refused.json()["detail"]
        assert as_a.get("/api/v1/audit").status_code == 403
        assert as_a.post("/api/v1/app", json={"name": "new"}).status_code == 403
        assert as_a.delete(f"/api/v1/app/{a.app_id}").status_code == 403


def test_not_found_reads_the_same_for_a_stranger_and_a_missing_id(
    server: HooklineProcess, tenants: tuple[Tenant, Tenant]
) -> None:
    """A token cannot tell B's real id from an id that does not exist."""
    a, b = tenants
    missing = "app_2Kx0000000000000000000000000"[:31]
    with server.client(a.token) as as_a:
        real = as_a.get(f"/api/v1/app/{b.app_id}/endpoint")
        fake = as_a.get(f"/api/v1/app/{missing}/endpoint")
    assert real.status_code == fake.status_code == 404
    assert real.json()["detail"].replace(b.app_id, "X") == fake.json()["detail"].replace(
        missing, "X"
    )
