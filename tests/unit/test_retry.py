"""Retry schedules and the verdict after an attempt (pure logic)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookline.domain.outcome import AttemptResult, ErrorClass, Verdict, decide
from hookline.domain.retry import DEFAULT_SCHEDULE, RetryPolicy, parse_retry_after, parse_schedule
from hookline.errors import ValidationError

DAY = 86400.0


def failed(status: int = 500, retry_after: float | None = None) -> AttemptResult:
    return AttemptResult(status, "", {}, 5, ErrorClass.HTTP_STATUS, retry_after)


OK = AttemptResult(200, "ok", {}, 5)


def test_default_schedule_is_svix_schedule() -> None:
    """The default schedule is 5s, 5m, 30m, 2h, 5h, 10h, 10h: eight attempts in all."""
    assert DEFAULT_SCHEDULE == (5, 300, 1800, 7200, 18000, 36000, 36000)
    assert RetryPolicy().max_attempts == 8


@given(st.integers(1, 7), st.floats(0, 1, exclude_max=True))
def test_jitter_stays_within_twenty_percent(attempt: int, draw: float) -> None:
    """Each delay lands within +/-20% of its scheduled value."""
    delay = RetryPolicy().next_delay(attempt, random=lambda: draw)
    base = DEFAULT_SCHEDULE[attempt - 1]
    assert delay is not None
    assert base * 0.8 <= delay <= base * 1.2


def test_schedule_is_spent_after_last_delay() -> None:
    """After the last scheduled retry there is no next delay."""
    assert RetryPolicy(delays=(1, 2)).next_delay(3) is None


def test_retry_after_lengthens_delay_within_bound() -> None:
    """A longer Retry-After replaces the scheduled delay, capped by max_retry_after."""
    policy = RetryPolicy(delays=(5,), jitter=0, max_retry_after=60)
    assert policy.next_delay(1, retry_after=30) == 30
    assert policy.next_delay(1, retry_after=10_000) == 60
    assert policy.next_delay(1, retry_after=1) == 5


def test_parse_schedule_reads_units() -> None:
    """Durations read with s, m, h and d units, or as bare seconds."""
    assert parse_schedule("5s, 5m,2h,1d,7") == (5, 300, 7200, 86400, 7)


def test_parse_schedule_names_bad_entry() -> None:
    """A malformed entry is refused with its position."""
    with pytest.raises(ValidationError) as error:
        parse_schedule("5s,soon")
    assert error.value.field == ("retrySchedule", 1)


def test_parse_retry_after_reads_seconds_and_dates() -> None:
    """Retry-After is read as seconds or as an HTTP date relative to now."""
    assert parse_retry_after({"retry-after": "120"}, now=0) == 120
    date = "Thu, 01 Jan 1970 00:01:40 GMT"
    assert parse_retry_after({"retry-after": date}, now=40) == 60
    assert parse_retry_after({"retry-after": "garbage"}, now=0) is None
    assert parse_retry_after({}, now=0) is None


def test_success_succeeds() -> None:
    """A 2xx answer ends the delivery as succeeded."""
    decision = decide(OK, 1, RetryPolicy(), 100.0, None, 5 * DAY, lambda: 0.5)
    assert decision.verdict is Verdict.SUCCEEDED


def test_failure_schedules_retry() -> None:
    """A failure with retries left is retried after the scheduled delay."""
    decision = decide(failed(), 1, RetryPolicy(jitter=0), 100.0, None, 5 * DAY, lambda: 0.5)
    assert decision.verdict is Verdict.RETRY
    assert decision.next_attempt_at == 105.0


def test_gone_fails_and_disables_at_once() -> None:
    """410 Gone fails the delivery and disables the endpoint on the first attempt."""
    decision = decide(failed(410), 1, RetryPolicy(), 100.0, None, 5 * DAY, lambda: 0.5)
    assert decision.verdict is Verdict.FAILED
    assert decision.disable_endpoint


def test_last_attempt_fails() -> None:
    """A failure on the last attempt is final."""
    decision = decide(failed(), 8, RetryPolicy(), 100.0, None, 5 * DAY, lambda: 0.5)
    assert decision.verdict is Verdict.FAILED
    assert not decision.disable_endpoint


def test_endpoint_failing_for_days_is_disabled() -> None:
    """An endpoint failing with no success for the whole window gets disabled."""
    now = 10 * DAY
    decision = decide(failed(), 3, RetryPolicy(), now, now - 5 * DAY, 5 * DAY, lambda: 0.5)
    assert decision.disable_endpoint
    assert decision.verdict is Verdict.FAILED
    recent = decide(failed(), 3, RetryPolicy(), now, now - DAY, 5 * DAY, lambda: 0.5)
    assert not recent.disable_endpoint


def test_retry_after_honoured_only_for_429_and_503() -> None:
    """Retry-After counts on 429 and 503, not on other failures."""
    policy = RetryPolicy(delays=(5,), jitter=0)
    slow_down = decide(failed(429, 100), 1, policy, 0.0, None, DAY, lambda: 0.5)
    other = decide(failed(500, 100), 1, policy, 0.0, None, DAY, lambda: 0.5)
    assert slow_down.next_attempt_at == 100
    assert other.next_attempt_at == 5


def test_redirect_is_a_failure() -> None:
    """A 3xx is not a success."""
    redirect = AttemptResult(302, "", {}, 1, ErrorClass.REDIRECT)
    assert not redirect.succeeded


schedules = st.lists(st.floats(0, 7 * DAY, allow_nan=False), max_size=20).map(tuple)
jitters = st.floats(0, 0.99)
draws = st.floats(0, 1, exclude_max=True)


@given(schedules, jitters, draws)
def test_a_schedule_of_n_delays_allows_exactly_n_retries(
    delays: tuple[float, ...], jitter: float, draw: float
) -> None:
    """Every delay is non-negative and within its jitter; after the last, none."""
    policy = RetryPolicy(delays, jitter)
    for attempt, base in enumerate(delays, start=1):
        delay = policy.next_delay(attempt, random=lambda: draw)
        assert delay is not None
        assert base * (1 - jitter) - 1e-9 <= delay <= base * (1 + jitter) + 1e-9
    assert policy.next_delay(len(delays) + 1, random=lambda: draw) is None


@given(schedules.filter(bool), draws, st.floats(0, 10 * DAY, allow_nan=False))
def test_retry_after_only_ever_postpones_within_its_cap(
    delays: tuple[float, ...], draw: float, retry_after: float
) -> None:
    """A receiver's Retry-After never brings a retry forward, and is capped."""
    policy = RetryPolicy(delays, 0.2, max_retry_after=3600)
    plain = policy.next_delay(1, random=lambda: draw)
    told = policy.next_delay(1, retry_after, random=lambda: draw)
    assert plain is not None
    assert told is not None
    assert told >= plain
    assert told <= max(plain, 3600)


@given(st.lists(st.integers(0, 10_000), max_size=20))
def test_schedules_written_in_seconds_parse_back(seconds: list[int]) -> None:
    assert parse_schedule(",".join(f"{s}s" for s in seconds)) == tuple(float(s) for s in seconds)


@given(st.integers(200, 299), st.integers(1, 50), st.booleans())
def test_a_2xx_always_succeeds_whatever_came_before(
    status: int, attempts: int, failing_long: bool
) -> None:
    result = AttemptResult(status, "", {}, 1)
    since = 0.0 if failing_long else None
    decision = decide(result, attempts, RetryPolicy(), 10 * DAY, since, DAY, lambda: 0.5)
    assert decision.verdict is Verdict.SUCCEEDED
    assert not decision.disable_endpoint


@given(schedules, st.integers(0, 5), st.sampled_from([0, 408, 429, 500, 503]))
def test_failures_retry_on_schedule_then_fail_for_good(
    delays: tuple[float, ...], extra: int, status: int
) -> None:
    """A failure is retried while the schedule lasts and given up after, never earlier."""
    policy = RetryPolicy(delays, 0.0)
    attempts = len(delays) + 1 + extra
    verdicts = [
        decide(failed(status), n, policy, 100.0, None, DAY, lambda: 0.5).verdict
        for n in range(1, attempts + 1)
    ]
    assert verdicts == [Verdict.RETRY] * len(delays) + [Verdict.FAILED] * (extra + 1)
