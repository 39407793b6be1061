"""Svix's remaining log operations and the jobs over applications, on both backends:
filters applied in the query (pages stay full), destinations, attempt counts, a message
to one endpoint, expunging, and the purge, usage and event-type jobs run in batches."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from hookline.domain import ids, jobs
from hookline.domain.models import (
    Application,
    Attempt,
    AttemptStatus,
    DeliveryStatus,
    Endpoint,
    EventType,
    Message,
    TriggerType,
)
from hookline.errors import ConflictError, NotFoundError
from hookline.storage import Storage
from hookline.storage.base import AttemptFilter, Cursor, MessageFilter, Outcome

T0 = 1_700_000_000.0


async def app_with(
    storage: Storage, *endpoints: dict[str, Any]
) -> tuple[Application, list[Endpoint]]:
    app = await storage.create_application(
        Application(id=ids.new_id(ids.APPLICATION, T0), name="Acme", uid=None, created_at=T0)
    )
    made = []
    for fields in endpoints:
        made.append(
            await storage.create_endpoint(
                Endpoint(
                    id=ids.new_id(ids.ENDPOINT, T0), app_id=app.id, url="https://example.com/in",
                    secret="whsec_" + "A" * 32, created_at=T0, updated_at=T0, **fields,
                )
            )
        )  # fmt: skip
    return app, made


async def finish_all(storage: Storage, at: float, code: int) -> None:
    """Claim everything due and record one attempt each, answered ``code``."""
    outcomes = []
    for c in await storage.claim("w", at, at + 30, 10_000):
        ok = code < 300
        attempt = Attempt(
            id=ids.new_id(ids.ATTEMPT, at), delivery_id=c.id, msg_id=c.msg_id,
            endpoint_id=c.endpoint_id, app_id=c.app_id, url=c.url,
            status=AttemptStatus.SUCCESS if ok else AttemptStatus.FAIL,
            response_status_code=code, response="thanks", response_headers={}, duration_ms=1,
            error_class=None, trigger_type=TriggerType.SCHEDULED, created_at=at,
        )  # fmt: skip
        status = DeliveryStatus.SUCCESS if ok else DeliveryStatus.FAILED
        outcomes.append(Outcome(c.id, c.endpoint_id, status, None, attempt))
    await storage.record("w", outcomes, at)


async def publish(storage: Storage, app_id: str, at: float, **fields: Any) -> Message:
    fields.setdefault("event_type", "e")
    message = Message(
        id=ids.new_id(ids.MESSAGE, at), app_id=app_id, payload=b'{"a":1}', created_at=at,
        **fields,
    )  # fmt: skip
    return (await storage.publish(message)).message


async def every_page(
    storage: Storage, app: Application, ep: Endpoint, where: MessageFilter
) -> list[list[str]]:
    found, iterator = [], None
    while True:
        page = await storage.list_endpoint_messages(
            app.id, ep.id, Cursor(limit=2, iterator=iterator), where=where
        )
        found.append([item.message.id for item in page.data])
        if page.done:
            return found
        iterator = page.iterator


async def test_an_endpoints_messages_are_filtered_before_paging(storage: Storage) -> None:
    """Event types, channel and tag narrow the query itself: every page but the last is full."""
    app, (ep,) = await app_with(storage, {})
    made = [
        await publish(
            storage, app.id, T0 + n, event_type="a" if n % 2 else "b",
            channels=("eu",) if n % 3 == 0 else ("us",), tags=("vip",) if n < 4 else None,
        )
        for n in range(10)
    ]  # fmt: skip
    odd = await every_page(storage, app, ep, MessageFilter(event_types=["a"]))
    assert odd == [[made[9].id, made[7].id], [made[5].id, made[3].id], [made[1].id]]
    eu = await every_page(storage, app, ep, MessageFilter(channel="eu"))
    assert [i for p in eu for i in p] == [made[n].id for n in (9, 6, 3, 0)]
    vip = await every_page(storage, app, ep, MessageFilter(tag="vip", event_types=["b"]))
    assert [i for p in vip for i in p] == [made[2].id, made[0].id]
    assert await every_page(storage, app, ep, MessageFilter(tag="none")) == [[]]


async def test_destinations_and_attempt_counts(storage: Storage) -> None:
    """A message's destinations list by endpoint id with their status; attempt counts
    follow the window by attempt id."""
    app, (first, second, _other) = await app_with(storage, {}, {}, {"filter_types": ("other",)})
    message = await publish(storage, app.id, T0, event_id="evt-1")
    page = await storage.list_destinations(app.id, "evt-1", Cursor(limit=1))
    assert [d.endpoint.id for d in page.data] == [min(first.id, second.id)]
    assert page.done is False
    rest = await storage.list_destinations(
        app.id, message.id, Cursor(limit=5, iterator=page.iterator)
    )
    assert [d.endpoint.id for d in rest.data] == [max(first.id, second.id)]
    assert rest.done is True
    assert {d.status for d in page.data + rest.data} == {AttemptStatus.PENDING}
    assert page.data[0].endpoint.secret.startswith("whsec_")  # unsealed as every read

    await finish_all(storage, T0 + 10, 200)
    done = await storage.list_destinations(app.id, message.id, Cursor())
    assert {d.status for d in done.data} == {AttemptStatus.SUCCESS}
    counts = await storage.attempt_counts(app.id, first.id, T0, T0 + 3600)
    assert (counts.success, counts.fail, counts.canceled) == (1, 0, 0)
    assert (await storage.attempt_counts(app.id, first.id, T0 + 20, T0 + 30)).success == 0
    with pytest.raises(NotFoundError):
        await storage.list_destinations(app.id, "msg_missing", Cursor())


async def test_a_message_to_one_endpoint_ignores_its_subscriptions(storage: Storage) -> None:
    """publish_to_endpoint stores the message with a single delivery, to that endpoint."""
    app, (picky, other) = await app_with(storage, {"filter_types": ("x",)}, {})
    message = Message(
        id=ids.new_id(ids.MESSAGE, T0), app_id=app.id, event_type="y", payload=b"{}",
        created_at=T0,
    )  # fmt: skip
    result = await storage.publish_to_endpoint(message, picky.id)
    assert result.deliveries == 1
    delivery = await storage.get_delivery(message.id, picky.id)
    assert delivery.status == DeliveryStatus.PENDING
    with pytest.raises(NotFoundError):
        await storage.get_delivery(message.id, other.id)
    with pytest.raises(NotFoundError):
        await storage.publish_to_endpoint(
            Message(id=ids.new_id(ids.MESSAGE, T0), app_id=app.id, event_type="y",
                    payload=b"{}", created_at=T0),
            "ep_missing",
        )  # fmt: skip


async def test_expunging_some_payloads_and_an_attempts_content(storage: Storage) -> None:
    """expunge_messages answers per key in one transaction; an attempt's content goes alone."""
    app, _ = await app_with(storage, {})
    first = await publish(storage, app.id, T0)
    await publish(storage, app.id, T0 + 1, event_id="evt-2")
    kept = await publish(storage, app.id, T0 + 2)
    found = await storage.expunge_messages(app.id, [first.id, "evt-2", "nope"])
    assert found == {first.id: True, "evt-2": True, "nope": False}
    assert (await storage.get_message(app.id, first.id)).payload == b"{}"
    assert (await storage.get_message(app.id, kept.id)).payload == b'{"a":1}'

    await finish_all(storage, T0 + 10, 200)
    attempts = await storage.list_attempts(app.id, Cursor(), AttemptFilter(msg_id=kept.id))
    attempt = attempts.data[0]
    assert attempt.response == "thanks"
    await storage.expunge_attempt_content(app.id, kept.id, attempt.id)
    assert (await storage.get_attempt(app.id, kept.id, attempt.id)).response == ""
    with pytest.raises(NotFoundError):
        await storage.expunge_attempt_content(app.id, kept.id, "atmpt_missing")


async def run_to_end(storage: Storage, task_id: str, at: float) -> tuple[Any, int]:
    """Run a job's batches to its end, as a worker would: the task, and how many batches."""
    assert await storage.claim_job("runner", at, at + 60) == task_id
    batches = 0
    while True:
        batches += 1
        task = await storage.run_job_batch(task_id, "runner", at, at + 60)
        if task.status != jobs.RUNNING:
            return task, batches


async def test_the_jobs_over_applications_run_in_batches(storage: Storage) -> None:
    """Purging an application's payloads, counting usage and aggregating event types are
    jobs that workers run a batch per transaction, with Svix's data."""
    app, _ = await app_with(storage, {}, {"filter_types": ("a", "b")})
    quiet, _ = await app_with(storage, {"filter_types": ("b",)})
    for n in range(jobs.BATCH + 3):
        await publish(storage, app.id, T0 + n * 0.001, event_type="a")
    await publish(storage, quiet.id, T0 + 1, event_type="b")
    await publish(storage, quiet.id, T0 + 7200, event_type="b")  # outside the window

    stats = await storage.start_job(
        None, jobs.APP_STATS, jobs.JobParams("", T0, T0 + 3600), T0 + 10
    )
    assert stats.data == {"appStats": []}
    done, _ = await run_to_end(storage, stats.id, T0 + 10)
    counts = {s["appId"]: s["messageDestinations"] for s in done.data["appStats"]}
    assert counts == {app.id: 2 * (jobs.BATCH + 3), quiet.id: 1}

    named = await storage.start_job(
        None, jobs.APP_STATS,
        jobs.JobParams("", T0, T0 + 3600, extra={"app_ids": [quiet.id]}), T0 + 10,
    )  # fmt: skip
    done, _ = await run_to_end(storage, named.id, T0 + 10)
    assert done.data["appStats"] == [{"appId": quiet.id, "appUid": None, "messageDestinations": 1}]

    aggregate = await storage.start_job(
        None, jobs.EVENT_TYPE_AGGREGATE, jobs.JobParams("", 0, T0), T0 + 10
    )
    done, _ = await run_to_end(storage, aggregate.id, T0 + 10)
    by_app = {e["appId"]: e for e in done.data["event_types"]}
    assert by_app[app.id]["explicitlySubscribedEventTypes"] == ["a", "b"]
    assert by_app[app.id]["hasCatchAllEndpoint"] is True
    assert by_app[quiet.id] == {
        "appId": quiet.id, "explicitlySubscribedEventTypes": ["b"], "hasCatchAllEndpoint": False,
    }  # fmt: skip

    purge = await storage.start_job(
        app.id, jobs.PURGE_CONTENT, jobs.JobParams("", 0, T0 + 10), T0 + 10
    )
    done, batches = await run_to_end(storage, purge.id, T0 + 10)
    assert done.data == {"messagesPurged": jobs.BATCH + 3}
    assert batches == 2
    left = await storage.list_messages(quiet.id, Cursor(), MessageFilter())
    assert all(m.payload == b'{"a":1}' for m in left.data)  # another application's stay


async def test_an_environment_import_is_one_transaction(storage: Storage) -> None:
    """Imported resources are added and then updated in place; a conflict stores nothing."""
    app = Application(id=ids.new_id(ids.APPLICATION, T0), name="Moved", uid="moved", created_at=T0)
    endpoint = Endpoint(
        id=ids.new_id(ids.ENDPOINT, T0), app_id=app.id, url="https://example.com/in",
        secret="whsec_" + "B" * 32, uid="hook", created_at=T0, updated_at=T0,
    )  # fmt: skip
    kinds = [EventType(name="moved.type", created_at=T0, updated_at=T0)]
    first = await storage.import_environment(kinds, [app], [endpoint], with_secrets=True)
    assert (first.created, first.updated) == (3, 0)
    renamed = replace(app, name="Renamed")
    rotated = replace(endpoint, secret="whsec_" + "C" * 32)
    again = await storage.import_environment(kinds, [renamed], [rotated], with_secrets=False)
    assert (again.created, again.updated) == (0, 3)
    assert (await storage.get_application("moved")).name == "Renamed"
    assert (await storage.get_endpoint(app.id, "hook")).secret == endpoint.secret  # kept

    other = Application(id=ids.new_id(ids.APPLICATION, T0 + 1), name="Clash", uid="moved-2")
    clash = replace(endpoint, id=endpoint.id, app_id=other.id)  # that id is another app's
    with pytest.raises(ConflictError):
        await storage.import_environment(
            [EventType(name="never.stored")], [other], [clash], with_secrets=True
        )
    with pytest.raises(NotFoundError):
        await storage.get_event_type("never.stored")
    with pytest.raises(NotFoundError):
        await storage.get_application("moved-2")
