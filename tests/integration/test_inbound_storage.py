"""Inbound on both backends: sources sealed at rest, race-safe dedup, and resumable backfill."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from hookline.backfill import BackfillEvent, Fetcher, OutOfOrder, backfill
from hookline.domain import ids
from hookline.domain.inbound import received_message
from hookline.domain.models import Application, Endpoint, Source
from hookline.domain.series import Refusals, SourceStats
from hookline.errors import NotFoundError
from hookline.storage import Storage
from hookline.storage.base import Checkpoint, Cursor, MessageFilter

T0 = 1_700_000_000.0


async def make_source(storage: Storage, **fields: object) -> Source:
    app = await storage.create_application(
        Application(id=ids.new_id(ids.APPLICATION, T0), name="Acme", created_at=T0, updated_at=T0)
    )
    await storage.create_endpoint(
        Endpoint(
            id=ids.new_id(ids.ENDPOINT, T0), app_id=app.id, url="https://example.com/h",
            secret="whsec_" + "A" * 32, created_at=T0, updated_at=T0,
        )
    )  # fmt: skip
    values: dict[str, object] = {
        "id": ids.new_id(ids.SOURCE, T0), "app_id": app.id, "name": "stripe",
        "token": "hk_in_secret-receiving-token", "verifier": "stripe",
        "secrets": ("whsec_provider_one", "whsec_provider_two"), "created_at": T0,
        "updated_at": T0,
    }  # fmt: skip
    values.update(fields)
    return await storage.create_source(Source(**values))


async def test_sources_round_trip_and_are_found_by_token(storage: Storage) -> None:
    source = await make_source(storage, uid="stripe-live", config={"tolerance": 60})
    assert await storage.get_source(source.app_id, "stripe-live") == source
    assert await storage.find_source(source.token) == source
    assert await storage.find_source("hk_in_wrong") is None
    page = await storage.list_sources(source.app_id, Cursor())
    assert page.data == [source]
    await storage.delete_source(source.app_id, source.id)
    with pytest.raises(NotFoundError):
        await storage.get_source(source.app_id, source.id)


async def test_concurrent_copies_of_one_event_are_stored_once(storage: Storage) -> None:
    source = await make_source(storage)

    async def one() -> tuple[str, bool]:
        message = received_message(source, b'{"id":"evt_1"}', {}, "invoice.paid", T0 + 1)
        result = await storage.receive(message, "evt_1", 3600)
        return result.msg_id, result.duplicate

    results = await asyncio.gather(*(one() for _ in range(20)))
    assert len({msg_id for msg_id, _ in results}) == 1
    assert sum(not duplicate for _, duplicate in results) == 1
    page = await storage.list_messages(source.app_id, Cursor(), MessageFilter())
    assert len(page.data) == 1


async def test_a_key_is_new_again_after_its_window(storage: Storage) -> None:
    source = await make_source(storage)
    first = await storage.receive(received_message(source, b"{}", {}, None, T0), "k", 10)
    inside = await storage.receive(received_message(source, b"{}", {}, None, T0 + 5), "k", 10)
    after = await storage.receive(received_message(source, b"{}", {}, None, T0 + 11), "k", 10)
    assert (first.duplicate, inside.duplicate, after.duplicate) == (False, True, False)
    assert inside.msg_id == first.msg_id
    assert first.deliveries == 1
    assert await storage.expire_dedup_keys(T0 + 100) == 1


class Interrupted(Exception):
    pass


def events(count: int, fail_at: int | None = None) -> Fetcher:
    def fetch(since: datetime, until: datetime) -> Iterator[BackfillEvent]:
        for n in range(count):
            moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=n)
            if moment < since:
                continue
            if fail_at is not None and n == fail_at:
                raise Interrupted
            yield BackfillEvent(
                id=f"evt_{n}", body={"n": n}, event_type="invoice.paid", timestamp=moment
            )

    return fetch


async def test_backfill_resumes_and_skips_what_it_already_stored(storage: Storage) -> None:
    source = await make_source(storage)
    since, until = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    # A live event that also turns up in the provider's history.
    await storage.receive(received_message(source, b"{}", {}, None, T0), "evt_3", 86400)
    with pytest.raises(Interrupted):
        await backfill(storage, source, events(120, fail_at=70), since, until,
                       clock=lambda: T0 + 1)  # fmt: skip
    report = await backfill(storage, source, events(120), since, until,
                            clock=lambda: T0 + 2)  # fmt: skip
    assert report.resumed_from == 50  # the checkpoint written after 50 events
    page = await storage.list_messages(source.app_id, Cursor(limit=250), MessageFilter())
    assert len(page.data) == 120  # 119 backfilled + the live one, nothing twice
    again = await backfill(storage, source, events(120), since, until,
                           clock=lambda: T0 + 3)  # fmt: skip
    assert again.already_finished


async def test_receive_many_settles_copies_inside_one_batch(storage: Storage) -> None:
    source = await make_source(storage)
    items = [
        (received_message(source, f'{{"n":{n}}}'.encode(), {}, "a.b", T0 + n), key, 60.0)
        for n, key in enumerate(["k1", "k2", "k1", None, "k2", None])
    ]
    results = await storage.receive_many(items)
    assert [r.duplicate for r in results] == [False, False, True, False, True, False]
    assert results[2].msg_id == results[0].msg_id
    assert results[4].msg_id == results[1].msg_id
    assert [r.deliveries for r in results] == [1, 1, 0, 1, 0, 1]
    page = await storage.list_messages(source.app_id, Cursor(), MessageFilter())
    assert len(page.data) == 4
    # A later batch sees the keys the first one claimed.
    copy = received_message(source, b'{"n":0}', {}, "a.b", T0 + 10)
    (again,) = await storage.receive_many([(copy, "k1", 60.0)])
    assert again.duplicate
    assert again.msg_id == results[0].msg_id


def newest_first(count: int) -> Fetcher:
    def fetch(since: datetime, until: datetime) -> Iterator[BackfillEvent]:
        for n in reversed(range(count)):
            moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=n)
            yield BackfillEvent(id=f"evt_{n}", body={"n": n}, timestamp=moment)

    return fetch


async def test_backfill_refuses_timestamped_events_out_of_order(storage: Storage) -> None:
    """Newest-first events would make a time-based resume skip older ones: refused, safely."""
    source = await make_source(storage)
    since, until = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    with pytest.raises(OutOfOrder):
        await backfill(storage, source, newest_first(10), since, until, clock=lambda: T0)
    # Fixed fetcher, same command: everything arrives once.
    report = await backfill(storage, source, events(10), since, until, clock=lambda: T0 + 1)
    assert report.resumed_from == 0
    assert (report.stored, report.duplicates) == (9, 1)  # evt_9 came first, before the refusal
    page = await storage.list_messages(source.app_id, Cursor(), MessageFilter())
    assert len(page.data) == 10


async def test_an_open_ended_backfill_resumes_and_picks_up_new_events(storage: Storage) -> None:
    source = await make_source(storage)
    since = datetime(2026, 1, 1, tzinfo=UTC)
    first = await backfill(storage, source, events(5), since, None, clock=lambda: T0)
    again = await backfill(storage, source, events(8), since, None, clock=lambda: T0 + 1)
    assert (first.stored, first.already_finished) == (5, False)
    # Resumed from the last event's time: it comes again (a duplicate), then three new ones.
    assert (again.stored, again.duplicates, again.already_finished) == (3, 1, False)


async def test_sources_count_what_they_receive(storage: Storage) -> None:
    source = await make_source(storage)
    first = received_message(source, b'{"id": "evt_1"}', {}, "e", T0)
    again = received_message(source, b'{"id": "evt_1"}', {}, "e", T0 + 1)
    other = received_message(source, b'{"id": "evt_2"}', {}, "e", T0 + 2)
    await storage.receive_many([(first, "evt_1", 60.0), (again, "evt_1", 60.0)])
    await storage.receive(other, "evt_2", 60.0)
    await storage.count_refused({source.id: Refusals(rejected=3, forbidden=2)})
    await storage.count_refused({source.id: Refusals(rejected=1, limited=5)})
    stats = await storage.source_stats([source.id, "src_unknown"])
    assert stats == {source.id: SourceStats(2, 1, 4, T0 + 2, forbidden=2, limited=5)}


async def test_a_sources_allowlist_and_rate_limit_are_kept(storage: Storage) -> None:
    source = await make_source(storage)
    changed = replace(source, allowed_networks=("10.0.0.0/8", "2001:db8::/32"), rate_limit=40)
    await storage.update_source(changed)
    assert await storage.get_source(source.app_id, source.id) == changed
    assert await storage.find_source(source.token) == changed


async def test_deleting_an_application_leaves_nothing_of_its_sources(storage: Storage) -> None:
    source = await make_source(storage)
    message = received_message(source, b'{"id": "evt_1"}', {}, "e", T0)
    await storage.receive(message, "evt_1", 60.0)
    await storage.count_refused({source.id: Refusals(rejected=2)})
    await storage.save_checkpoint(source.id, "run", Checkpoint(T0, 1, False), T0)
    endpoint = (await storage.list_endpoints(source.app_id, Cursor())).data[0]
    await storage.recover(source.app_id, endpoint.id, T0, T0 + 1, T0)
    await storage.delete_application(source.app_id)
    assert await storage.source_stats([source.id]) == {}
    assert await storage.get_checkpoint(source.id, "run") is None
    assert (await storage.list_tasks(Cursor(), None, None, source.app_id)).data == []
    # Its provider event ids are forgotten too: a new source may see them afresh.
    again = await make_source(storage, id=source.id, token="hk_in_another-token")
    fresh = received_message(again, b'{"id": "evt_1"}', {}, "e", T0 + 1)
    assert not (await storage.receive(fresh, "evt_1", 60.0)).duplicate
