"""Background jobs and retention, on both backends: batches that resume, cancel, replay,
and the cleaner's two sweeps."""

from __future__ import annotations

from typing import Any

import pytest

from hookline.domain import ids, jobs
from hookline.domain.models import (
    Application,
    Attempt,
    AttemptStatus,
    DeliveryStatus,
    Endpoint,
    Message,
    TriggerType,
)
from hookline.errors import ConflictError
from hookline.storage import Storage
from hookline.storage.base import AttemptFilter, ClaimedDelivery, Cursor, Outcome

T0 = 1_700_000_000.0


async def setup(storage: Storage, **endpoint: Any) -> tuple[Application, Endpoint]:
    app = await storage.create_application(
        Application(id=ids.new_id(ids.APPLICATION, T0), name="Acme", created_at=T0)
    )
    ep = await storage.create_endpoint(
        Endpoint(
            id=ids.new_id(ids.ENDPOINT, T0), app_id=app.id, url="https://example.com/in",
            secret="whsec_" + "A" * 32, created_at=T0, updated_at=T0, **endpoint,
        )
    )  # fmt: skip
    return app, ep


async def publish(storage: Storage, app: Application, at: float, **fields: Any) -> Message:
    message = Message(
        id=ids.new_id(ids.MESSAGE, at), app_id=app.id, event_type="e", payload=b'{"a":1}',
        created_at=at, **fields,
    )  # fmt: skip
    return (await storage.publish(message)).message


async def finish_all(
    storage: Storage, at: float, code: int, **request: Any
) -> list[ClaimedDelivery]:
    """Claim everything due and record one attempt each (``request``: what it sent)."""
    claimed = await storage.claim("w", at, at + 30, 10_000)
    outcomes = []
    for c in claimed:
        ok = code < 300
        attempt = Attempt(
            id=ids.new_id(ids.ATTEMPT, at), delivery_id=c.id, msg_id=c.msg_id,
            endpoint_id=c.endpoint_id, app_id=c.app_id, url=c.url,
            status=AttemptStatus.SUCCESS if ok else AttemptStatus.FAIL,
            response_status_code=code, response="", response_headers={}, duration_ms=1,
            error_class=None, trigger_type=TriggerType.SCHEDULED, created_at=at, **request,
        )  # fmt: skip
        status = DeliveryStatus.SUCCESS if ok else DeliveryStatus.FAILED
        outcomes.append(Outcome(c.id, c.endpoint_id, status, None, attempt))
    await storage.record("w", outcomes, at)
    return claimed


async def test_a_job_interrupted_between_batches_resumes_where_it_stopped(
    storage: Storage,
) -> None:
    app, ep = await setup(storage)
    for i in range(jobs.BATCH + 20):
        await publish(storage, app, T0 + i * 0.001)
    await finish_all(storage, T0 + 10, 500)
    task = await storage.recover(app.id, ep.id, T0, T0 + 5, T0 + 20)
    assert await storage.claim_job("runner-a", T0 + 20, T0 + 80) == task.id
    after_one = await storage.run_job_batch(task.id, "runner-a", T0 + 21, T0 + 81)
    assert (after_one.status, after_one.data["messagesSent"]) == ("running", jobs.BATCH)
    # runner-a dies here. While its lease runs nobody takes the job; then runner-b does.
    assert await storage.claim_job("runner-b", T0 + 60, T0 + 120) is None
    assert await storage.claim_job("runner-b", T0 + 82, T0 + 140) == task.id
    # A late batch from runner-a changes nothing: it no longer holds the job.
    stale = await storage.run_job_batch(task.id, "runner-a", T0 + 83, T0 + 140)
    assert stale.data["messagesSent"] == jobs.BATCH
    done = await storage.run_job_batch(task.id, "runner-b", T0 + 84, T0 + 140)
    assert (done.status, done.data) == ("finished", {"messagesSent": jobs.BATCH + 20})
    # Each failed delivery was re-sent exactly once.
    assert len(await storage.claim("w2", T0 + 90, T0 + 120, 10_000)) == jobs.BATCH + 20


async def test_a_cancelled_job_stops_and_keeps_its_count(storage: Storage) -> None:
    app, ep = await setup(storage)
    for i in range(jobs.BATCH + 5):
        await publish(storage, app, T0 + i * 0.001)
    await finish_all(storage, T0 + 10, 500)
    task = await storage.recover(app.id, ep.id, T0, T0 + 5, T0 + 20)
    await storage.claim_job("r", T0 + 20, T0 + 80)
    await storage.run_job_batch(task.id, "r", T0 + 21, T0 + 81)
    cancelled = await storage.cancel_job(task.id, T0 + 22)
    assert cancelled.status == "failed"
    assert cancelled.data == {"messagesSent": jobs.BATCH, "cancelled": True}
    after = await storage.run_job_batch(task.id, "r", T0 + 23, T0 + 83)
    assert after.data == cancelled.data
    assert await storage.claim_job("r", T0 + 200, T0 + 260) is None
    assert (await storage.cancel_job(task.id, T0 + 24)).data == cancelled.data


async def test_replay_missing_sends_only_what_the_endpoint_never_had(storage: Storage) -> None:
    app, first = await setup(storage)
    old = [await publish(storage, app, T0 + i) for i in range(3)]
    await finish_all(storage, T0 + 5, 200)
    late = await storage.create_endpoint(
        Endpoint(
            id=ids.new_id(ids.ENDPOINT, T0 + 6), app_id=app.id, url="https://example.com/b",
            secret="whsec_" + "B" * 32, created_at=T0 + 6, updated_at=T0 + 6,
        )
    )  # fmt: skip
    newer = await publish(storage, app, T0 + 7)  # reached both endpoints already
    task = await storage.start_job(
        app.id, jobs.REPLAY, jobs.JobParams(late.id, T0, T0 + 10), T0 + 20
    )
    await storage.claim_job("r", T0 + 20, T0 + 80)
    done = await storage.run_job_batch(task.id, "r", T0 + 20, T0 + 80)
    assert (done.status, done.data) == ("finished", {"messagesSent": 3})
    claimed = await storage.claim("w", T0 + 30, T0 + 60, 100)
    assert {(c.msg_id, c.endpoint_id) for c in claimed} == {
        *((m.id, late.id) for m in old),
        (newer.id, late.id),
        (newer.id, first.id),
    }


async def test_bulk_replay_resends_successes_by_filter(storage: Storage) -> None:
    app, ep = await setup(storage)
    kept = await publish(storage, app, T0, channels=("eu",))
    await publish(storage, app, T0 + 1, channels=("us",))
    await finish_all(storage, T0 + 5, 200)
    params = jobs.JobParams(ep.id, T0, T0 + 10, channel="eu", status="success")
    task = await storage.start_job(app.id, jobs.BULK_REPLAY, params, T0 + 20)
    await storage.claim_job("r", T0 + 20, T0 + 80)
    assert (await storage.run_job_batch(task.id, "r", T0 + 20, T0 + 80)).data == {"messagesSent": 1}
    [again] = await storage.claim("w", T0 + 30, T0 + 60, 100)
    assert (again.msg_id, again.manual) == (kept.id, True)


async def test_retention_expunges_payloads_with_nothing_left_to_send(storage: Storage) -> None:
    app, _ = await setup(storage)
    done = await publish(storage, app, T0, expires_at=T0 + 100)
    open_ = await publish(storage, app, T0 + 1, expires_at=T0 + 100)
    keep = await publish(storage, app, T0 + 2, expires_at=T0 + 10_000)
    forever = await publish(storage, app, T0 + 3)
    claimed = await storage.claim("w", T0 + 5, T0 + 35, 1)  # only the first is finished
    await storage.record(
        "w", [Outcome(claimed[0].id, claimed[0].endpoint_id, DeliveryStatus.SUCCESS, None, None)],
        T0 + 6,
    )  # fmt: skip
    assert await storage.expunge_expired(T0 + 200, 100) == 1
    assert (await storage.get_message(app.id, done.id)).payload == b"{}"
    for message in (open_, keep, forever):
        assert (await storage.get_message(app.id, message.id)).payload == b'{"a":1}'
    assert await storage.expunge_expired(T0 + 200, 100) == 0  # once only
    await storage.expunge_message(app.id, keep.id)
    assert (await storage.get_message(app.id, keep.id)).payload == b"{}"


async def test_an_attempt_keeps_what_it_sent_and_a_reshaped_body_goes_with_the_payload(
    storage: Storage,
) -> None:
    """The request's headers and reshaped body read back with the attempt; expunging the
    message's payload (by hand or by retention) drops the body, the headers stay."""
    app, _ = await setup(storage)
    by_hand = await publish(storage, app, T0)
    expiring = await publish(storage, app, T0 + 1, expires_at=T0 + 100)
    sent = {"webhook-id": "msg_x", "webhook-signature": "v1,abc=", "authorization": "<masked>"}
    await finish_all(storage, T0 + 10, 200, request_headers=sent, request_body='{"b":2}')
    page = await storage.list_attempts(app.id, Cursor(limit=10), AttemptFilter())
    assert {(a.request_body, tuple(a.request_headers.items())) for a in page.data} == {
        ('{"b":2}', tuple(sent.items()))
    }
    await storage.expunge_message(app.id, by_hand.id)
    assert await storage.expunge_expired(T0 + 200, 100) == 1
    for message in (by_hand, expiring):
        [attempt] = (
            await storage.list_attempts(app.id, Cursor(limit=10), AttemptFilter(msg_id=message.id))
        ).data
        assert (attempt.request_body, attempt.request_headers) == (None, sent)
        again = await storage.get_attempt(app.id, message.id, attempt.id)
        assert again == attempt


async def test_retention_deletes_old_attempts_in_batches(storage: Storage) -> None:
    app, _ = await setup(storage)
    for i in range(5):
        await publish(storage, app, T0 + i * 0.001)
    await finish_all(storage, T0 + 10, 200)
    for i in range(3):
        await publish(storage, app, T0 + 100 + i)
    await finish_all(storage, T0 + 200, 200)
    assert await storage.delete_old_attempts(T0 + 150, 2) == 2
    assert await storage.delete_old_attempts(T0 + 150, 2) == 2
    assert await storage.delete_old_attempts(T0 + 150, 2) == 1
    assert await storage.delete_old_attempts(T0 + 150, 2) == 0
    left = await storage.list_attempts(app.id, Cursor(limit=100), AttemptFilter())
    assert len(left.data) == 3


async def test_a_message_without_its_payload_cannot_be_resent(storage: Storage) -> None:
    app, ep = await setup(storage)
    message = await publish(storage, app, T0)
    await finish_all(storage, T0 + 1, 200)
    await storage.expunge_message(app.id, message.id)
    with pytest.raises(ConflictError, match="no longer has its payload"):
        await storage.resend(app.id, message.id, ep.id, T0 + 2)
