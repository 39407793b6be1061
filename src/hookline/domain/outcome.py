"""What follows one delivery attempt: done, try again later, or give up.

Pure logic: the attempt's result, the policy, the clock and the random source
come in as arguments; the worker applies the decision to storage.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from hookline.domain.retry import RETRY_AFTER_STATUSES, RetryPolicy


class ErrorClass(enum.StrEnum):
    """Why an attempt got no acceptable answer; recorded with every failed attempt."""

    HTTP_STATUS = "http_status"  # an answer came, but not a 2xx
    REDIRECT = "redirect"  # 3xx: redirects are not followed
    TIMEOUT = "timeout"
    CONNECT_TIMEOUT = "connect_timeout"
    CONNECTION_REFUSED = "connection_refused"
    CONNECTION_RESET = "connection_reset"
    DNS = "dns"
    TLS = "tls"
    INVALID_URL = "invalid_url"
    BLOCKED = "blocked"  # refused by policy (e.g. the SSRF defence)
    HANDLER = "handler_error"  # a Python handler raised
    NO_HANDLER = "no_handler"  # no worker here runs handlers of that group
    SECRET_UNREADABLE = "secret_unreadable"  # noqa: S105 - the secret did not unseal: not sent
    TRANSFORM = "transform_error"  # the endpoint's transformation failed on this payload: not sent
    NO_CHANNEL = "no_channel"  # no channel for the destination's kind in this worker: not sent
    TOKEN = "token_error"  # noqa: S105 - the endpoint's OAuth2 token could not be had: not sent
    INVALID_CONFIG = "invalid_config"  # the destination's configuration lacks a field: not sent
    UNROUTABLE = "unroutable"  # the broker had nowhere to put it (RabbitMQ mandatory, no queue)
    REJECTED = "rejected"  # the broker or database said no (a NACK, a missing table...)
    ERROR = "error"  # anything else the transport raised


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What one HTTP request produced, transport-agnostic."""

    status_code: int  # 0 when no HTTP answer came back
    response_body: str
    response_headers: dict[str, str]
    duration_ms: int
    error_class: ErrorClass | None = None
    retry_after: float | None = None

    @property
    def succeeded(self) -> bool:
        """A 2xx is success; everything else (3xx included) is a failure."""
        return self.error_class is None and 200 <= self.status_code < 300


@dataclass(frozen=True, slots=True)
class SentRequest:
    """What one HTTP request carried, as its attempt records it."""

    headers: dict[str, str]
    #: The body, when it was not the message's stored payload (reshaped); else None.
    body: str | None


#: Header names whose values are credentials: recorded masked, never in full.
_CREDENTIAL = re.compile(r"auth|token|secret|passw|cookie|api-?key|session", re.IGNORECASE)
MASKED = "<masked>"


def recorded_headers(sent: dict[str, str], custom: Iterable[str]) -> dict[str, str]:
    """``sent`` as an attempt records it: the values of ``custom`` headers (the
    endpoint's own, a forwarded event's) whose names look like credentials masked.
    hookline's own headers (signatures, ids, timestamps) are kept: they are what a
    receiver's verification failure is debugged with."""
    masked = [name for name in custom if _CREDENTIAL.search(name)]
    if not masked:
        return sent
    recorded = dict(sent)
    for name in masked:
        if name in recorded:
            recorded[name] = MASKED
    return recorded


class Verdict(enum.StrEnum):
    """The three ways a delivery can go after an attempt."""

    SUCCEEDED = "succeeded"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict, when to retry, and what it means for the endpoint."""

    verdict: Verdict
    next_attempt_at: float | None = None
    disable_endpoint: bool = False
    reason: str = ""


def decide(
    result: AttemptResult,
    attempts_made: int,
    policy: RetryPolicy,
    now: float,
    failing_since: float | None,
    disable_after: float,
    random: Callable[[], float],
) -> Decision:
    """Decide what follows an attempt.

    ``attempts_made`` includes this attempt; ``failing_since`` is when the endpoint
    started failing with no success since (None if it was healthy). 410 Gone
    disables the endpoint at once; an endpoint failing for ``disable_after``
    seconds with no success is disabled too.
    """
    if result.succeeded:
        return Decision(Verdict.SUCCEEDED)
    if result.status_code == 410:
        return Decision(Verdict.FAILED, disable_endpoint=True, reason="endpoint answered 410 Gone")
    disable = failing_since is not None and now - failing_since >= disable_after
    retry_after = result.retry_after if result.status_code in RETRY_AFTER_STATUSES else None
    delay = policy.next_delay(attempts_made, retry_after, random)
    if delay is None:
        return Decision(Verdict.FAILED, disable_endpoint=disable, reason="retries exhausted")
    if disable:
        return Decision(
            Verdict.FAILED,
            disable_endpoint=True,
            reason=f"endpoint failing with no success for {disable_after:.0f}s",
        )
    return Decision(Verdict.RETRY, next_attempt_at=now + delay)
