"""Plans and quotas on both backends: a publish over a quota stores nothing and names the
quota; usage is counted exactly, also by two storages (two processes) publishing at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from hookline.domain import ids
from hookline.domain.models import Application, Message
from hookline.domain.plans import Plan, QuotaExceededError
from hookline.errors import ConflictError, NotFoundError
from hookline.storage import Storage, storage_from_url
from hookline.storage.base import Cursor, MessageFilter

import pg
from support.keyring import TEST_SECRET_BOX

NOW = datetime(2026, 12, 7, 16, 0, tzinfo=UTC).timestamp()


async def app_on_plan(storage: Storage, limits: dict[str, int], **overrides: int) -> Application:
    await storage.put_plan(Plan("free", limits), NOW)
    app = await storage.create_application(
        Application(id=ids.new_id(ids.APPLICATION, NOW), name="Tenant", created_at=NOW)
    )
    await storage.set_application_plan(app.id, "free", dict(overrides) or None, NOW)
    return app


def message(app_id: str, at: float = NOW, event_id: str | None = None) -> Message:
    return Message(
        id=ids.new_id(ids.MESSAGE, at), app_id=app_id, event_type="e", payload=b"{}",
        created_at=at, event_id=event_id,
    )  # fmt: skip


async def test_a_publish_over_a_quota_is_refused_and_stores_nothing(storage: Storage) -> None:
    """The day's third message over a quota of two names the quota and its reset."""
    app = await app_on_plan(storage, {"messages_per_day": 2, "messages_per_month": 100})
    for _ in range(2):
        await storage.publish(message(app.id))
    with pytest.raises(QuotaExceededError) as refused:
        await storage.publish(message(app.id))
    assert refused.value.quota == "messages_per_day"
    assert refused.value.resets_at == datetime(2026, 12, 8, tzinfo=UTC).timestamp()
    assert refused.value.retry_after == 8 * 3600
    stored = await storage.list_messages(app.id, Cursor(), MessageFilter())
    assert len(stored.data) == 2
    plan, _, usage = await storage.application_usage(app.id, NOW)
    assert plan == "free"
    assert {(u.quota, u.used, u.limit) for u in usage} == {
        ("messages_per_day", 2, 2), ("messages_per_month", 2, 100),
    }  # fmt: skip
    # The next day counts afresh; the month goes on.
    await storage.publish(message(app.id, NOW + 86400))
    _, _, usage = await storage.application_usage(app.id, NOW + 86400)
    assert {(u.quota, u.used) for u in usage} == {
        ("messages_per_day", 1),
        ("messages_per_month", 3),
    }


async def test_overrides_replace_the_plans_values(storage: Storage) -> None:
    """An application's override beats its plan; a batch refuses only what is over."""
    app = await app_on_plan(storage, {"messages_per_day": 1}, messages_per_day=3)
    outcomes = await storage.publish_many([message(app.id) for _ in range(5)])
    assert [isinstance(o, QuotaExceededError) for o in outcomes] == [False] * 3 + [True] * 2
    _, overrides, usage = await storage.application_usage(app.id, NOW)
    assert overrides == {"messages_per_day": 3}
    assert [u.used for u in usage if u.quota == "messages_per_day"] == [3]


async def test_a_failed_publish_gives_its_count_back(storage: Storage) -> None:
    """A publish that fails (a taken eventId) leaves the count as it was."""
    app = await app_on_plan(storage, {"messages_per_day": 10})
    await storage.publish(message(app.id, event_id="once"))
    with pytest.raises(ConflictError):
        await storage.publish(message(app.id, event_id="once"))
    _, _, usage = await storage.application_usage(app.id, NOW)
    assert [u.used for u in usage if u.quota == "messages_per_day"] == [1]


async def test_plans_are_managed(storage: Storage) -> None:
    """A plan in use cannot be deleted; an unknown plan cannot be given."""
    app = await app_on_plan(storage, {"messages_per_month": 5})
    assert [p.name for p in await storage.list_plans()] == ["free"]
    with pytest.raises(ConflictError):
        await storage.delete_plan("free")
    with pytest.raises(NotFoundError):
        await storage.set_application_plan(app.id, "gold", None, NOW)
    await storage.set_application_plan(app.id, None, None, NOW)
    await storage.delete_plan("free")
    with pytest.raises(NotFoundError):
        await storage.get_plan("free")
    for _ in range(6):  # no plan: no quota
        await storage.publish(message(app.id))


@pytest.mark.postgres
async def test_two_processes_count_one_quota_exactly(pg_database_url: str) -> None:
    """Two storages (as two API processes) publishing at once accept exactly the quota."""
    first = storage_from_url(pg_database_url, secret_box=TEST_SECRET_BOX)
    second = storage_from_url(pg_database_url, secret_box=TEST_SECRET_BOX)
    await first.open()
    await second.open()
    try:
        app = await app_on_plan(first, {"messages_per_day": 25})

        async def publish(storage: Storage) -> bool:
            try:
                await storage.publish(message(app.id))
            except QuotaExceededError:
                return False
            return True

        accepted = await asyncio.gather(*[publish((first, second)[n % 2]) for n in range(60)])
        assert sum(accepted) == 25
        stored = await first.list_messages(app.id, Cursor(limit=100), MessageFilter())
        assert len(stored.data) == 25
    finally:
        await pg.close_promptly(first)
        await pg.close_promptly(second)
