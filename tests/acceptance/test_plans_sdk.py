"""Plans through the API, their quota driven with the official ``svix`` SDK: a publish over
the quota is a 429 naming the quota and its reset, and nothing is stored."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from svix.api import ApplicationIn, MessageIn, Svix, SvixOptions
from svix.exceptions import HttpError

from support.server import ADMIN_TOKEN, AUTH, HooklineProcess


@pytest.fixture
def svix(server: HooklineProcess) -> Iterator[Svix]:
    """The official SDK pointed at the server under test, with its admin token."""
    sdk = Svix(ADMIN_TOKEN, SvixOptions(server_url=server.url))
    yield sdk
    sdk._httpx_client.close()


def test_a_publish_over_the_quota_is_refused_with_the_reason(
    svix: Svix, server: HooklineProcess
) -> None:
    """The plan's daily quota, overridden per application, refuses the next publish (429)."""
    api = httpx.Client(base_url=server.url, headers=AUTH, timeout=10)
    plan = api.put(
        "/api/v1/plan/free", json={"limits": {"messagesPerDay": 1, "messagesPerMonth": 100}}
    )
    assert plan.status_code == 200, plan.text
    assert plan.json()["limits"] == {"messages_per_day": 1, "messages_per_month": 100}
    app = svix.application.create(ApplicationIn(name="Tenant", uid="tenant"))
    given = api.put(
        "/api/v1/app/tenant/plan", json={"plan": "free", "overrides": {"messagesPerDay": 2}}
    )
    assert given.status_code == 200, given.text
    assert given.json()["limits"]["messages_per_day"] == 2

    for n in range(2):
        svix.message.create(app.id, MessageIn(event_type="e", payload={"n": n}))
    with pytest.raises(HttpError) as refused:
        svix.message.create(app.id, MessageIn(event_type="e", payload={"n": 3}))
    assert refused.value.status_code == 429
    assert refused.value.code == "quota_exceeded"
    assert "messages_per_day" in refused.value.detail
    assert refused.value.additional_properties["quota"] == "messages_per_day"
    assert refused.value.additional_properties["resetsAt"].endswith("T00:00:00Z")
    assert len(svix.message.list(app.id).data) == 2

    usage = api.get("/api/v1/app/tenant/usage").json()
    assert {u["quota"]: u["used"] for u in usage["usage"]} == {
        "messages_per_day": 2, "messages_per_month": 2,
    }  # fmt: skip
    assert api.delete("/api/v1/plan/free").status_code == 409  # in use
    assert api.put("/api/v1/app/tenant/plan", json={"plan": "gold"}).status_code == 404
    bad = api.put("/api/v1/plan/free", json={"limits": {"messagesPerDay": -1}})
    assert bad.status_code == 422
    api.close()
