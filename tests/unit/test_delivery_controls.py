"""The pure parts of the delivery controls: pace, circuit breaker, controls, shaping, routing."""

from __future__ import annotations

import itertools

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookline.domain import circuit, pacing
from hookline.domain.circuit import Circuit, CircuitState
from hookline.domain.controls import (
    Batching,
    BreakerConfig,
    Controls,
    Ordering,
    ordering_key,
)
from hookline.domain.routing import RouteTarget, matches_event_type, route_payload, why_not
from hookline.domain.shaping import VERSION_HEADER, batch_body, shape
from hookline.domain.transform import TransformError

# pace --------------------------------------------------------------------------------------


def test_gcra_spaces_requests_by_the_rate_and_books_a_second_ahead() -> None:
    admission = pacing.admit(10, 5, pacing.Pace(), now=100.0)
    assert admission.send_at == pytest.approx([100.0, 100.2, 100.4, 100.6, 100.8, 101.0])
    # The rest wait for their own later slots, one each.
    assert admission.postpone_to == pytest.approx([101.2, 101.4, 101.6, 101.8])
    assert admission.pace.tat == pytest.approx(101.2)


def test_a_second_claim_continues_where_the_first_left_off() -> None:
    first = pacing.admit(3, 5, pacing.Pace(), now=100.0)
    second = pacing.admit(1, 5, first.pace, now=100.1)
    assert second.send_at == pytest.approx([100.6])


@given(
    rate=st.integers(1, 100),
    claims=st.lists(st.tuples(st.floats(0, 3), st.integers(1, 50)), min_size=1, max_size=20),
)
def test_no_second_ever_holds_more_than_the_rate(
    rate: int, claims: list[tuple[float, int]]
) -> None:
    """Whatever the claims, the slots booked are at least 1/rate apart."""
    pace, now, booked = pacing.Pace(), 0.0, []
    for step, count in claims:
        now += step
        admission = pacing.admit(count, rate, pace, now)
        booked += admission.send_at
        pace = admission.pace
    booked.sort()
    gaps = [b - a for a, b in itertools.pairwise(booked)]
    assert all(gap >= 1 / rate - 1e-9 for gap in gaps)


def test_max_in_flight_admits_only_the_room_left() -> None:
    admission = pacing.admit(5, None, pacing.Pace(), now=10.0, in_flight=1, max_in_flight=3)
    assert admission.send_at == [10.0, 10.0]
    assert admission.postpone_to == [10.0 + pacing.RECHECK] * 3


def test_a_429_halves_the_rate_holds_until_retry_after_and_recovers() -> None:
    pace = pacing.throttled(40, pacing.Pace(), now=100.0, observed_rate=0.0, retry_after=2.0)
    assert pace.tat == 102.0
    assert pacing.effective_rate(40, pace, 100.0) == 20.0
    # A second 429 within the second is the same news: no further halving.
    again = pacing.throttled(40, pace, now=100.5, observed_rate=0.0, retry_after=None)
    assert again.throttled_rate == 20.0
    # Recovery: 10% a second, back to the configured rate after ~7.3 s.
    assert pacing.effective_rate(40, pace, 105.0) == pytest.approx(20 * 1.1**5)
    assert pacing.effective_rate(40, pace, 108.0) == 40


def test_a_429_on_an_unlimited_endpoint_halves_what_it_took_then_frees_it() -> None:
    pace = pacing.throttled(None, pacing.Pace(), now=0.0, observed_rate=100.0, retry_after=None)
    assert pacing.effective_rate(None, pace, 0.0) == 50.0
    assert pacing.effective_rate(None, pace, 60.0) is None


# circuit breaker ---------------------------------------------------------------------


CONFIG = BreakerConfig(failure_rate=0.5, minimum_attempts=4, window=10, cooldown=5, max_cooldown=12)


def test_breaker_opens_only_past_the_minimum_and_the_rate() -> None:
    c = circuit.observe(Circuit(), CONFIG, now=1.0, succeeded=0, failed=3)
    assert c.state is CircuitState.CLOSED  # 3 < minimum_attempts
    c = circuit.observe(c, CONFIG, now=2.0, succeeded=4, failed=0)
    assert c.state is CircuitState.CLOSED  # 3 of 7 failed: under the rate...
    c = circuit.observe(c, CONFIG, now=2.5, succeeded=0, failed=1)
    assert c.state is CircuitState.OPEN  # ...4 of 8 reaches it
    assert c.probe_at == 7.5


def test_an_old_window_is_forgotten() -> None:
    c = circuit.observe(Circuit(), CONFIG, now=1.0, succeeded=0, failed=3)
    c = circuit.observe(c, CONFIG, now=20.0, succeeded=5, failed=1)
    assert (c.state, c.window_total, c.window_failed) == (CircuitState.CLOSED, 6, 1)


def test_probe_closes_on_success_and_doubles_the_cooldown_on_failure() -> None:
    opened = circuit.observe(Circuit(), CONFIG, now=0.0, succeeded=0, failed=4)
    probing = circuit.probe(opened, "dlv_1")
    assert probing.lets_through("dlv_1")
    assert not probing.lets_through("dlv_2")
    # Stragglers that were in flight move nothing; only the probe's outcome does.
    assert circuit.observe(probing, CONFIG, 6.0, 0, 3) == probing
    failed = circuit.observe(probing, CONFIG, 6.0, 0, 1, probe_succeeded=False)
    assert (failed.state, failed.cooldown, failed.probe_at) == (CircuitState.OPEN, 10, 16.0)
    again = circuit.observe(circuit.probe(failed, "d"), CONFIG, 16, 0, 1, probe_succeeded=False)
    assert again.cooldown == 12  # capped
    closed = circuit.observe(circuit.probe(again, "d"), CONFIG, 30, 1, 0, probe_succeeded=True)
    assert closed.state is CircuitState.CLOSED
    assert closed.window_total == 0


@pytest.mark.parametrize(
    ("status", "error", "trips"),
    [(500, "http_status", True), (429, "http_status", True), (0, "timeout", True),
     (404, "http_status", False), (200, None, False)],
)  # fmt: skip
def test_what_trips_a_breaker(status: int, error: str | None, trips: bool) -> None:
    assert circuit.counts_as_failure(status, error) is trips


# controls and routing ------------------------------------------------------------------------


def test_controls_round_trip_through_their_stored_form() -> None:
    controls = Controls(
        filter={"body": {"a": 1}}, transformation={"body": "a"}, batching=Batching(10, 2.5),
        ordering=Ordering("data.account"), breaker=BreakerConfig(), max_in_flight=4,
    )  # fmt: skip
    stored = orjson.loads(orjson.dumps(controls.to_json()))
    assert Controls.from_json(stored) == controls
    assert Controls.from_json({}) == Controls()


def test_ordering_key_reads_the_payload() -> None:
    assert ordering_key(Ordering(None), {"a": 1}) == ""
    assert ordering_key(Ordering("data.account"), {"data": {"account": "acc_1"}}) == "acc_1"
    assert ordering_key(Ordering("items.0.id"), {"items": [{"id": 7}]}) == "7"
    assert ordering_key(Ordering("data.account"), {"other": 1}) == ""


@pytest.mark.parametrize(
    ("types", "event_type", "matched"),
    [(None, "a.b", True), (["*"], "anything.at.all", True), (["invoice.*"], "invoice.paid", True),
     (["invoice.*"], "invoice.payment.failed", True), (["invoice.*"], "invoices.paid", False),
     (["invoice.*"], "invoice", False), (["a.b"], "a.b", True), (["a.b"], "a.bc", False)],
)  # fmt: skip
def test_event_type_patterns(types: list[str] | None, event_type: str, matched: bool) -> None:
    assert matches_event_type(types, event_type) is matched


def test_payload_filters_sieve_targets_and_explain_the_rest() -> None:
    big = RouteTarget("ep_big", False, None, None, filter_text='{"body": {"n": {"$gt": 10}}}')
    free = RouteTarget("ep_free", False, None, None)
    assert route_payload([big, free], {"n": 5}, None) == [free]
    assert route_payload([big, free], {"n": 50}, None) == [big, free]
    reason = why_not(big, "e", None, {"n": 5}, None)
    assert reason is not None
    assert "n" in reason
    assert "$gt" in reason
    assert why_not(free, "e", None, {"n": 5}, None) is None
    typed = RouteTarget("ep_t", False, ("x.*",), None)
    assert "event type" in (why_not(typed, "y.z", None, {}, None) or "")


# shaping -------------------------------------------------------------------------------------


def test_without_versions_or_transformations_the_bytes_go_untouched() -> None:
    raw = b'{ "b":1,  "a":"\\u00e9" }'
    assert shape(raw, 1, None, None).body is raw


def test_versions_shape_older_endpoints_and_name_the_version() -> None:
    versioning = {"latest": 2, "transformations": {"1": {"body": "{amount: total.value}"}}}
    raw = b'{"total": {"value": 3}}'
    old = shape(raw, 1, versioning, None)
    assert orjson.loads(old.body) == {"amount": 3}
    assert old.headers[VERSION_HEADER] == "1"
    new = shape(raw, 2, versioning, None)
    assert new.body == raw
    assert new.headers[VERSION_HEADER] == "2"
    # The endpoint's own transformation applies after the version's.
    both = shape(raw, 1, versioning, {"body": "{cents: amount}"})
    assert orjson.loads(both.body) == {"cents": 3}


def test_a_failing_transformation_raises() -> None:
    with pytest.raises(TransformError):
        shape(b'{"a": "x"}', 1, None, {"body": "sum(a)"})


def test_batch_body_splices_bodies_and_keeps_non_json_as_text() -> None:
    body = batch_body([("msg_1", "a", b'{"x": 1}'), ("msg_2", "b", b"form=1&y=2")])
    assert orjson.loads(body) == [
        {"id": "msg_1", "eventType": "a", "payload": {"x": 1}},
        {"id": "msg_2", "eventType": "b", "payload": "form=1&y=2"},
    ]
