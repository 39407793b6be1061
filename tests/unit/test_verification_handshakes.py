"""The endpoint verification handshakes, judged against the official standardwebhooks package."""

from __future__ import annotations

import base64

import pytest
from standardwebhooks.webhooks import Webhook

from hookline.domain import verification as v

SECRET = "whsec_" + base64.b64encode(b"an endpoint's signing secret....").decode()
OLD = "whsec_" + base64.b64encode(b"the secret before the rotation..").decode()


def test_the_challenge_response_is_standardwebhooks_own() -> None:
    """Our expected answer is what endpoint_verification_response computes, and it checks."""
    for challenge in ("abc", "a longer challenge, with spaces ✓", "x" * 200):
        official = Webhook(SECRET).endpoint_verification_response(challenge)
        assert v.challenge_response(SECRET, challenge) == official
        Webhook(SECRET).verify_endpoint_verification_response(
            challenge, v.challenge_response(SECRET, challenge)
        )
    with pytest.raises(ValueError, match="whsec_"):
        v.challenge_response("whsec_not base64!", "c")


def test_challenge_answers_are_judged() -> None:
    """A 2xx with the right header passes (an old secret too); anything else says why."""
    right = {"Webhook-Challenge-Response": Webhook(OLD).endpoint_verification_response("c1")}
    assert v.check_challenge_answer([SECRET, OLD], "c1", 200, right) is None
    wrong = {"webhook-challenge-response": Webhook(SECRET).endpoint_verification_response("c2")}
    cases = {
        (500, tuple(right.items())): "with 500",
        (200, ()): "no webhook-challenge-response",
        (200, tuple(wrong.items())): "does not match",
    }
    for (status, headers), reason in cases.items():
        found = v.check_challenge_answer([SECRET], "c1", status, dict(headers))
        assert found is not None
        assert reason in found


def test_the_receiver_side_answers_a_challenge() -> None:
    """answer_challenge makes the header standardwebhooks verifies; other requests get None."""
    answer = v.answer_challenge(SECRET, {"Webhook-Challenge": "c3"})
    assert answer is not None
    Webhook(SECRET).verify_endpoint_verification_response(
        "c3", answer["webhook-challenge-response"]
    )
    assert v.answer_challenge(SECRET, {"webhook-id": "msg_1"}) is None
    assert v.challenge_body("c3") == b'{"type":"webhook.challenge","challenge":"c3"}'


def test_cloudevents_handshake_answers_are_judged() -> None:
    """Origin echoed or *, a rate or *, a 405 as unsupported, anything else refused."""
    origin = "hooks.example.com"
    assert v.handshake_request(origin, 120, "https://cb") == {
        "webhook-request-origin": origin, "webhook-request-rate": "120",
        "webhook-request-callback": "https://cb",
    }  # fmt: skip
    ok = v.check_handshake_answer(origin, 200, {"WebHook-Allowed-Origin": origin,
                                                "WebHook-Allowed-Rate": "60"})  # fmt: skip
    assert (ok.allowed, ok.allowed_rate) == (True, 60)
    assert v.check_handshake_answer(origin, 200, {"webhook-allowed-origin": "*"}).allowed
    unsupported = v.check_handshake_answer(origin, 405, {})
    assert (unsupported.allowed, unsupported.supported) == (False, False)
    refusals = {
        (200, (("webhook-allowed-origin", "other.example"),)): "not 'hooks.example.com'",
        (200, ()): "no webhook-allowed-origin",
        (403, ()): "with 403",
        (200, (("webhook-allowed-origin", origin), ("webhook-allowed-rate", "lots"))): "number",
    }
    for (status, headers), reason in refusals.items():
        result = v.check_handshake_answer(origin, status, dict(headers))
        assert not result.allowed
        assert reason in result.reason


def test_the_receiver_side_answers_a_handshake() -> None:
    """answer_handshake allows the origin at the rate asked; other requests get None."""
    answer = v.answer_handshake(
        {"WebHook-Request-Origin": "a.example", "WebHook-Request-Rate": "5"}
    )
    assert answer is not None
    judged = v.check_handshake_answer("a.example", 200, answer)
    assert (judged.allowed, judged.allowed_rate) == (True, 5)
    assert v.answer_handshake({}) is None
