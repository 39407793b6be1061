"""Endpoint verification handshakes, the pure parts: what is asked and what a right answer is.

Two handshakes prove that a URL's owner wants webhooks before any are sent there:

- **Standard Webhooks challenge.** A signed ``POST`` carrying a random
  ``webhook-challenge`` header (and the same value in a JSON body
  ``{"type": "webhook.challenge", "challenge": ...}``); the receiver answers 2xx with
  ``webhook-challenge-response: v1,<base64 HMAC-SHA256(HMAC-SHA256(secret, "wev-v1"),
  challenge)>``, which is what the ``standardwebhooks`` package (1.3 and later) computes
  with ``Webhook(secret).endpoint_verification_response(challenge)``.
- **CloudEvents abuse protection** (CloudEvents HTTP Webhook, section 4). An ``OPTIONS``
  request with ``WebHook-Request-Origin`` (and optionally ``WebHook-Request-Rate``,
  ``WebHook-Request-Callback``); the receiver answers 200 with ``WebHook-Allowed-Origin``
  (the origin, or ``*``) and optionally ``WebHook-Allowed-Rate``. A 405 means the
  receiver does not take part in the handshake.

Both answers are judged here (``check_challenge_answer``, ``check_handshake_answer``),
and ``answer_challenge``/``answer_handshake`` make the receiver's side (``hookline
listen`` answers both). No I/O: the random challenge is an argument.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

import orjson

CHALLENGE_HEADER = "webhook-challenge"
CHALLENGE_RESPONSE_HEADER = "webhook-challenge-response"
CHALLENGE_TYPE = "webhook.challenge"
_VERIFICATION_CONTEXT = b"wev-v1"

REQUEST_ORIGIN = "webhook-request-origin"
REQUEST_RATE = "webhook-request-rate"
REQUEST_CALLBACK = "webhook-request-callback"
ALLOWED_ORIGIN = "webhook-allowed-origin"
ALLOWED_RATE = "webhook-allowed-rate"


def challenge_response(secret: str, challenge: str) -> str:
    """The right ``webhook-challenge-response`` for ``challenge`` under a ``whsec_`` secret."""
    try:
        key = base64.b64decode(secret.strip().removeprefix("whsec_"), validate=True)
    except binascii.Error:
        raise ValueError("not a whsec_ signing secret") from None
    verification_key = hmac.new(key, _VERIFICATION_CONTEXT, hashlib.sha256).digest()
    digest = hmac.new(verification_key, challenge.encode(), hashlib.sha256).digest()
    return f"v1,{base64.b64encode(digest).decode()}"


def challenge_body(challenge: str) -> bytes:
    """The JSON body of a challenge request (the challenge also travels in its header)."""
    return orjson.dumps({"type": CHALLENGE_TYPE, "challenge": challenge})


def check_challenge_answer(
    secrets: list[str], challenge: str, status: int, headers: Mapping[str, str]
) -> str | None:
    """Why an answer to the challenge is wrong (None: right). Any live secret may have
    made it (a receiver may still hold the previous one during a rotation)."""
    if not 200 <= status < 300:
        return f"the endpoint answered the challenge with {status}, not a 2xx"
    given = {k.lower(): v for k, v in headers.items()}.get(CHALLENGE_RESPONSE_HEADER)
    if not given:
        return f"the answer has no {CHALLENGE_RESPONSE_HEADER} header"
    for secret in secrets:
        if hmac.compare_digest(challenge_response(secret, challenge).encode(), given.encode()):
            return None
    return f"the {CHALLENGE_RESPONSE_HEADER} does not match the endpoint's signing secret"


def answer_challenge(secret: str, headers: Mapping[str, str]) -> dict[str, str] | None:
    """The receiver's side: the headers answering a challenge request (None: not one)."""
    challenge = {k.lower(): v for k, v in headers.items()}.get(CHALLENGE_HEADER)
    if not challenge:
        return None
    return {CHALLENGE_RESPONSE_HEADER: challenge_response(secret, challenge)}


def handshake_request(
    origin: str, rate: int | None = None, callback: str | None = None
) -> dict[str, str]:
    """The headers of a CloudEvents abuse-protection ``OPTIONS`` request."""
    made = {REQUEST_ORIGIN: origin}
    if rate is not None:
        made[REQUEST_RATE] = str(rate)
    if callback is not None:
        made[REQUEST_CALLBACK] = callback
    return made


@dataclass(frozen=True, slots=True)
class HandshakeResult:
    """What an ``OPTIONS`` answer says: allowed or why not, and the rate granted."""

    allowed: bool
    reason: str = ""
    #: Requests per minute the receiver grants (None: no limit stated, or ``*``).
    allowed_rate: int | None = None
    #: False for a 405: the receiver does not take part in the handshake.
    supported: bool = True


def check_handshake_answer(  # noqa: PLR0911 - one return per verdict reads best
    origin: str, status: int, headers: Mapping[str, str]
) -> HandshakeResult:
    """Judge a receiver's answer to the abuse-protection request for ``origin``."""
    if status == 405:
        return HandshakeResult(
            False, "the endpoint does not support the CloudEvents handshake (405)",
            supported=False,
        )  # fmt: skip
    if status != 200:
        return HandshakeResult(False, f"the endpoint answered the handshake with {status}")
    given = {k.lower(): v.strip() for k, v in headers.items()}
    allowed_origin = given.get(ALLOWED_ORIGIN)
    if allowed_origin is None:
        return HandshakeResult(False, f"the answer has no {ALLOWED_ORIGIN} header")
    if allowed_origin not in {"*", origin}:
        return HandshakeResult(
            False, f"the endpoint allows origin {allowed_origin[:200]!r}, not {origin!r}"
        )
    rate = given.get(ALLOWED_RATE)
    if rate is None or rate == "*":
        return HandshakeResult(True)
    if not rate.isdigit():
        return HandshakeResult(False, f"{ALLOWED_RATE} is not a number: {rate[:50]!r}")
    return HandshakeResult(True, allowed_rate=int(rate))


def answer_handshake(headers: Mapping[str, str]) -> dict[str, str] | None:
    """The receiver's side: the headers that accept an abuse-protection request from any
    origin at the rate asked (None: not one)."""
    given = {k.lower(): v for k, v in headers.items()}
    origin = given.get(REQUEST_ORIGIN)
    if not origin:
        return None
    answer = {ALLOWED_ORIGIN: origin, "allow": "POST, OPTIONS"}
    answer[ALLOWED_RATE] = given.get(REQUEST_RATE, "*")
    return answer
