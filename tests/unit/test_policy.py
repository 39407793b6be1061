"""The delivery policy: what follows an attempt, and the status a delivery starts in."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from hookline.domain import operational
from hookline.domain.circuit import Circuit, CircuitState
from hookline.domain.controls import Batching, BreakerConfig, Controls, Ordering
from hookline.domain.models import AttemptStatus, DeliveryStatus, TriggerType
from hookline.domain.outcome import AttemptResult, ErrorClass, SentRequest
from hookline.domain.policy import (
    AUTO_DISABLE_ACTION,
    FAILING,
    HEALTHY,
    CircuitObservation,
    DeliveryPolicy,
    Outcome,
    Throttle,
    circuit_after,
    initial_status,
)
from hookline.domain.retry import RetryPolicy
from hookline.domain.routing import RouteTarget

NOW = 1_700_000_000.0
DAY = 86400.0
BREAKER = BreakerConfig(failure_rate=0.5, minimum_attempts=2, window=60.0, cooldown=30.0)


@dataclass(frozen=True)
class Claimed:
    """A claimed delivery as the policy sees it (storage's ClaimedDelivery has these)."""

    id: str = "dlv_1"
    msg_id: str = "msg_1"
    endpoint_id: str = "ep_1"
    app_id: str = "app_1"
    url: str = "https://example.com/hook"
    attempts: int = 0
    manual: bool = False
    retry_schedule: tuple[float, ...] | None = None
    failing_since: float | None = None
    controls: Controls = field(default_factory=Controls)
    order_key: str | None = None


def result(
    code: int, error: ErrorClass | None = None, retry_after: float | None = None
) -> AttemptResult:
    if error is None and not 200 <= code < 300:
        error = ErrorClass.HTTP_STATUS
    return AttemptResult(code, "body", {"x": "y"}, 12, error, retry_after)


POLICY = DeliveryPolicy(lambda: 0.5, RetryPolicy((10.0, 60.0), jitter=0.0), disable_after=5 * DAY)


def after(claimed: Claimed, answer: AttemptResult, **kw: object) -> Outcome:
    return POLICY.after(claimed, answer, NOW - 1, NOW, **kw)  # type: ignore[arg-type]


# the verdict -------------------------------------------------------------------------


def test_a_2xx_succeeds_and_marks_the_endpoint_healthy() -> None:
    """A 2xx finishes the delivery, with no next attempt, and reports the endpoint ok."""
    outcome = after(Claimed(), result(200))
    assert (outcome.status, outcome.next_attempt_at) == (DeliveryStatus.SUCCESS, None)
    assert outcome.endpoint_health == HEALTHY
    assert outcome.disabled is None
    assert outcome.operational == ()


def test_a_failure_is_retried_after_the_schedules_delay() -> None:
    """A 500 on the first attempt is due again after the first delay, endpoint failing."""
    outcome = after(Claimed(), result(500))
    assert (outcome.status, outcome.next_attempt_at) == (DeliveryStatus.PENDING, NOW + 10.0)
    assert outcome.endpoint_health == FAILING


def test_the_endpoints_own_schedule_wins_over_the_default() -> None:
    """An endpoint's retry schedule sets the delay; the default policy's jitter still applies."""
    outcome = after(Claimed(retry_schedule=(3.0,)), result(500))
    assert outcome.next_attempt_at == NOW + 3.0
    assert POLICY.schedule((3.0,)) is POLICY.schedule((3.0,))  # made once, then reused


def test_the_last_attempt_fails_the_delivery_and_reports_it_exhausted() -> None:
    """When the schedule is spent the delivery fails, with an exhausted operational event."""
    outcome = after(Claimed(attempts=2), result(500))
    assert (outcome.status, outcome.next_attempt_at) == (DeliveryStatus.FAILED, None)
    assert outcome.operational == (operational.ATTEMPT_EXHAUSTED,)


def test_a_410_disables_the_endpoint_with_an_audit_entry() -> None:
    """410 Gone fails the delivery and disables the endpoint, audited as the worker's doing."""
    outcome = after(Claimed(), result(410))
    assert outcome.status is DeliveryStatus.FAILED
    assert outcome.disabled is not None
    entry = outcome.disabled
    assert (entry.action, entry.actor, entry.resource_id) == (
        AUTO_DISABLE_ACTION, "hookline-worker", "ep_1",
    )  # fmt: skip
    assert (entry.app_id, entry.before, entry.after) == (
        "app_1", {"disabled": False}, {"disabled": True},
    )  # fmt: skip
    assert entry.created_at == NOW
    assert operational.ENDPOINT_DISABLED in outcome.operational


def test_an_endpoint_failing_too_long_is_disabled() -> None:
    """An endpoint failing with no success for disable_after is turned off on its next failure."""
    outcome = after(Claimed(failing_since=NOW - 6 * DAY), result(500))
    assert outcome.status is DeliveryStatus.FAILED
    assert outcome.disabled is not None


def test_an_endpoint_failing_a_while_is_not_yet_disabled() -> None:
    """Failing for less than disable_after only schedules a retry."""
    outcome = after(Claimed(failing_since=NOW - DAY), result(500))
    assert outcome.status is DeliveryStatus.PENDING
    assert outcome.disabled is None


def test_a_failed_transformation_fails_at_once_and_is_not_the_endpoints_fault() -> None:
    """A transformation error is final (it fails the same way each time) and leaves health."""
    outcome = after(Claimed(controls=Controls(breaker=BREAKER)), result(0, ErrorClass.TRANSFORM))
    assert outcome.status is DeliveryStatus.FAILED
    assert outcome.endpoint_health is None
    assert outcome.circuit is None


@pytest.mark.parametrize("error", [ErrorClass.SECRET_UNREADABLE, ErrorClass.NO_HANDLER])
def test_failures_of_ours_retry_without_blaming_the_endpoint(error: ErrorClass) -> None:
    """No handler or an unreadable secret is retried, but the endpoint is neither failing
    nor counted by its breaker, nor disabled for having failed long."""
    claimed = Claimed(controls=Controls(breaker=BREAKER), failing_since=NOW - 30 * DAY)
    outcome = after(claimed, result(0, error))
    assert outcome.status is DeliveryStatus.PENDING
    assert (outcome.endpoint_health, outcome.circuit, outcome.disabled) == (None, None, None)


# 429 -------------------------------------------------------------------------------


def test_a_429_retries_at_its_retry_after_and_slows_the_endpoint() -> None:
    """A 429 is retried at its Retry-After and carries the throttle for the shared pace."""
    outcome = after(Claimed(), result(429, retry_after=42.0), observed_rate=7.0)
    assert outcome.status is DeliveryStatus.PENDING
    assert outcome.next_attempt_at == NOW + 42.0
    assert outcome.throttle == Throttle(retry_after=42.0, observed_rate=7.0)


def test_a_429_without_retry_after_still_throttles() -> None:
    """A bare 429 slows the endpoint down too; it then waits its schedule's delay."""
    outcome = after(Claimed(), result(429))
    assert outcome.throttle == Throttle(retry_after=None, observed_rate=0.0)
    assert outcome.next_attempt_at == NOW + 10.0


def test_other_answers_do_not_throttle() -> None:
    """Only a 429 changes the pace."""
    assert after(Claimed(), result(503, retry_after=5.0)).throttle is None
    assert after(Claimed(), result(200)).throttle is None


# the circuit breaker -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "failed"),
    [
        (result(500), True),
        (result(429), True),
        (result(0, ErrorClass.TIMEOUT), True),
        (result(400), False),
        (result(200), False),
    ],
)
def test_what_counts_in_the_breaker(answer: AttemptResult, failed: bool) -> None:
    """No answer, a 5xx or a 429 counts as a failure; the event's own 4xx and a 2xx do not."""
    outcome = after(Claimed(controls=Controls(breaker=BREAKER)), answer)
    assert outcome.circuit == CircuitObservation(BREAKER, failed)


def test_without_a_breaker_nothing_is_observed() -> None:
    """An endpoint with no breaker configured gets no observation."""
    assert after(Claimed(), result(500)).circuit is None


def observed(delivery_id: str, failed: bool) -> Outcome:
    return Outcome(
        delivery_id, "ep_1", DeliveryStatus.PENDING, None, None,
        circuit=CircuitObservation(BREAKER, failed),
    )  # fmt: skip


def test_enough_failures_open_the_circuit_and_park_the_endpoint() -> None:
    """Two failures of two attempts open a closed circuit: the endpoint's work is parked."""
    change = circuit_after(
        Circuit(window_start=NOW), [observed("d1", True), observed("d2", True)], NOW
    )
    assert change.after.state is CircuitState.OPEN
    assert change.after.probe_at == NOW + BREAKER.cooldown
    assert (change.park, change.unpark) == (True, False)


def test_a_successful_probe_closes_the_circuit_and_lets_work_go() -> None:
    """The probe's success closes a half-open circuit: parked work goes out again."""
    half_open = Circuit(state=CircuitState.HALF_OPEN, probe_id="probe", cooldown=30.0)
    change = circuit_after(half_open, [observed("probe", False)], NOW)
    assert change.after.state is CircuitState.CLOSED
    assert (change.park, change.unpark) == (False, True)


def test_a_failed_probe_opens_again_for_twice_as_long() -> None:
    """A failing probe re-opens the circuit with a doubled cool-down; nothing is re-parked."""
    half_open = Circuit(state=CircuitState.HALF_OPEN, probe_id="probe", cooldown=30.0)
    change = circuit_after(half_open, [observed("probe", True)], NOW)
    assert change.after.state is CircuitState.OPEN
    assert change.after.cooldown == 60.0
    assert (change.park, change.unpark) == (False, False)


def test_outcomes_other_than_the_probe_do_not_move_a_half_open_circuit() -> None:
    """Answers to requests that were in flight before the probe change nothing."""
    half_open = Circuit(state=CircuitState.HALF_OPEN, probe_id="probe")
    change = circuit_after(half_open, [observed("other", False)], NOW)
    assert change.after == half_open


def test_outcomes_without_an_observation_leave_the_circuit() -> None:
    """A batch with nothing for the breaker returns the circuit as it was."""
    before = Circuit(window_start=NOW, window_total=3)
    plain = Outcome("d1", "ep_1", DeliveryStatus.SUCCESS, None, None)
    assert circuit_after(before, [plain], NOW).after is before


# the attempt record and operational events --------------------------------------------


def test_the_attempt_record_carries_the_result_and_the_request() -> None:
    """The attempt logs the answer, what was sent, the send time and how it was triggered."""
    sent = SentRequest({"webhook-id": "msg_1"}, '{"reshaped": true}')
    outcome = after(Claimed(manual=True), result(500), sent=sent)
    attempt = outcome.attempt
    assert attempt is not None
    assert (attempt.delivery_id, attempt.msg_id, attempt.endpoint_id, attempt.app_id) == (
        "dlv_1", "msg_1", "ep_1", "app_1",
    )  # fmt: skip
    assert (attempt.status, attempt.response_status_code, attempt.error_class) == (
        AttemptStatus.FAIL, 500, "http_status",
    )  # fmt: skip
    assert (attempt.response, attempt.response_headers, attempt.duration_ms) == (
        "body", {"x": "y"}, 12,
    )  # fmt: skip
    assert attempt.trigger_type is TriggerType.MANUAL
    assert attempt.created_at == NOW - 1
    assert attempt.id.startswith("atmpt_")
    assert (attempt.request_headers, attempt.request_body) == (sent.headers, sent.body)


def test_nothing_sent_records_no_request() -> None:
    """An attempt that sent nothing records no request headers or body."""
    attempt = after(Claimed(), result(0, ErrorClass.SECRET_UNREADABLE)).attempt
    assert attempt is not None
    assert (attempt.request_headers, attempt.request_body) == ({}, None)
    assert attempt.trigger_type is TriggerType.SCHEDULED


def test_the_fourth_failure_reports_the_delivery_failing() -> None:
    """message.attempt.failing goes out on a delivery's fourth failed attempt only."""
    many = DeliveryPolicy(lambda: 0.5, RetryPolicy((1.0,) * 9, jitter=0.0))
    kinds = [many.after(Claimed(attempts=n), result(500), NOW, NOW).operational for n in range(6)]
    assert kinds == [(), (), (), (operational.ATTEMPT_FAILING,), (), ()]


def test_a_success_after_failing_was_reported_is_a_recovery() -> None:
    """A success after the fourth attempt reports the delivery recovered."""
    assert after(Claimed(attempts=4), result(200)).operational == (operational.ATTEMPT_RECOVERED,)
    assert after(Claimed(attempts=1), result(200)).operational == ()


def test_operational_deliveries_do_not_report_on_themselves() -> None:
    """Deliveries of the operational application make no operational events."""
    claimed = Claimed(app_id=operational.APP_ID, attempts=2)
    outcome = after(claimed, result(410))
    assert outcome.operational == ()
    assert outcome.disabled is not None  # still disabled and audited


def test_a_held_outcome_sends_and_counts_nothing() -> None:
    """A delivery whose endpoint was found disabled is held, with no attempt or news."""
    outcome = POLICY.held(Claimed(order_key="k"))
    assert outcome == Outcome("dlv_1", "ep_1", DeliveryStatus.HELD, None, None, order_key="k")


def test_the_order_key_travels_with_the_outcome() -> None:
    """A FIFO delivery's outcome names its key, so storage can let the next one go."""
    assert after(Claimed(order_key="customer-1"), result(200)).order_key == "customer-1"


# fan-out -----------------------------------------------------------------------------


def target(**fields: object) -> RouteTarget:
    made: dict[str, object] = {"disabled": False, "filter_types": None, "channels": None}
    return RouteTarget(id="ep_1", **(made | fields))  # type: ignore[arg-type]


def test_a_new_delivery_is_pending_and_due_now() -> None:
    """A plain endpoint's delivery is pending, due at the message's creation."""
    assert initial_status(target(), None, NOW) == (DeliveryStatus.PENDING, NOW)


def test_a_disabled_endpoints_delivery_is_held_with_no_due_time() -> None:
    """A disabled endpoint's delivery is held until recovered."""
    assert initial_status(target(disabled=True), None, NOW) == (DeliveryStatus.HELD, None)


@pytest.mark.parametrize("gate", [{"paused": True}, {"circuit_open": True}])
def test_a_paused_or_open_endpoints_delivery_waits(gate: dict[str, bool]) -> None:
    """Paused or with its circuit open, an endpoint's delivery waits (outside the claim index)."""
    assert initial_status(target(**gate), None, NOW) == (DeliveryStatus.WAITING, NOW)


def test_a_fifo_delivery_is_queued_behind_its_key() -> None:
    """A delivery with an ordering key is queued; its key's head is chosen afterwards."""
    fifo = target(controls=Controls(ordering=Ordering(key="customer")))
    assert initial_status(fifo, "c1", NOW) == (DeliveryStatus.QUEUED, NOW)


def test_a_batching_endpoints_delivery_is_due_at_the_end_of_its_wait() -> None:
    """A batching endpoint's delivery falls due when its batch wait is over."""
    batching = target(controls=Controls(batching=Batching(max_size=10, max_wait=2.5)))
    assert initial_status(batching, None, NOW) == (DeliveryStatus.PENDING, NOW + 2.5)


def test_disabled_wins_over_every_other_gate() -> None:
    """Disabled and paused, FIFO and batching: held, with no due time."""
    everything = target(
        disabled=True, paused=True,
        controls=Controls(ordering=Ordering(), batching=Batching(5, 1.0)),
    )  # fmt: skip
    assert initial_status(everything, "k", NOW) == (DeliveryStatus.HELD, None)
