"""Providers that sign a timestamp with the body: HMAC schemes with a replay window.

Stripe's requests are signed by stripe-python and Slack's by slack_sdk, their
official libraries. Zoom, Tailscale, Airwallex and Port publish no signing library
on PyPI; their signatures are computed here from the algorithm each documents (the
reference cites the page).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from base64 import b64encode

import pytest
import stripe
from slack_sdk.signature import SignatureVerifier

from hookline.domain.verifiers import (
    InboundRequest,
    VerifiedEvent,
    build_verifier,
    handshake_answer,
    slack_challenge,
)

from support.verifier_contract import (
    BODY,
    COMPUTED,
    NOW,
    OFFICIAL,
    URL,
    Scheme,
    TimestampContract,
    VerifierContract,
    reason_of,
)


def stripe_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """Stripe-Signature made by stripe-python's own header generator."""
    value = stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, timestamp=timestamp
    )
    return {"Stripe-Signature": value}


def slack_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """Headers signed by slack_sdk's SignatureVerifier."""
    signature = SignatureVerifier(secret).generate_signature(timestamp=str(timestamp), body=body)
    assert signature is not None
    return {"X-Slack-Signature": signature, "X-Slack-Request-Timestamp": str(timestamp)}


def hex_mac(secret: str, message: bytes) -> str:
    """The hex HMAC-SHA256 of ``message``."""
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def zoom_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """x-zm-signature: v0=<hex HMAC-SHA256 of "v0:{timestamp}:{body}">, Zoom's documented form."""
    signature = "v0=" + hex_mac(secret, f"v0:{timestamp}:".encode() + body)
    return {"x-zm-signature": signature, "x-zm-request-timestamp": str(timestamp)}


def tailscale_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """Tailscale-Webhook-Signature: t=<ts>,v1=<hex HMAC-SHA256 of "ts.body">."""
    signature = hex_mac(secret, f"{timestamp}.".encode() + body)
    return {"Tailscale-Webhook-Signature": f"t={timestamp},v1={signature}"}


def airwallex_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """x-signature: hex HMAC-SHA256 of x-timestamp (milliseconds) then the body."""
    millis = str(timestamp * 1000)
    return {"x-timestamp": millis, "x-signature": hex_mac(secret, millis.encode() + body)}


def port_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """x-port-signature: v1,<base64 HMAC-SHA256 of "timestamp.body">."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "x-port-timestamp": str(timestamp),
        "x-port-signature": "v1," + b64encode(digest).decode(),
    }


def event_body(**fields: object) -> bytes:
    """A JSON body (spaced) with ``fields`` and in_42."""
    return json.dumps({**fields, "data": {"id": "in_42", "n": 7}}).encode()


SCHEMES = [
    Scheme(
        "stripe", "stripe", "whsec_test_stripe_secret", "whsec_other_stripe_secret",
        stripe_headers, "stripe-signature", VerifiedEvent("evt_1N", "invoice.paid", float(NOW)),
        OFFICIAL, "signed by stripe.WebhookSignature.generate_signature_header",
    ),
    Scheme(
        "slack", "slack", "8f742231b10e8888abcd99yyyzzz85a5", "another slack secret",
        slack_headers, "x-slack-signature", VerifiedEvent("Ev08", "app_mention", float(NOW)),
        OFFICIAL, "signed by slack_sdk.signature.SignatureVerifier",
        timestamp_header="x-slack-request-timestamp",
    ),
    Scheme(
        "zoom", "zoom", "zoom-secret-token", "other-secret-token", zoom_headers,
        "x-zm-signature", VerifiedEvent(None, "meeting.started", float(NOW)),
        COMPUTED, "https://developers.zoom.us/docs/api/webhooks/#verify-webhook-events",
        body=event_body(event="meeting.started"), timestamp_header="x-zm-request-timestamp",
    ),
    Scheme(
        "tailscale", "tailscale", "tskey-webhook-xxxxx", "tskey-webhook-yyyyy",
        tailscale_headers, "tailscale-webhook-signature",
        VerifiedEvent(None, "nodeCreated", float(NOW)),
        COMPUTED, "https://tailscale.com/kb/1213/webhooks#verifying-an-event-signature",
        # Tailscale checks no window unless one is set (see the test below).
        config={"tolerance": 300},
        body=b'[{"type": "nodeCreated", "tailnet": "example.com", "data": {"nodeID": "in_42"}}]',
    ),
    Scheme(
        "airwallex", "airwallex", "airwallex-endpoint-secret", "other-endpoint-secret",
        airwallex_headers, "x-signature",
        VerifiedEvent("evt_aw_1", "payment_intent.succeeded", float(NOW)),
        COMPUTED, "https://www.airwallex.com/docs/developer-tools/webhooks/listen-for-webhook-events",
        body=event_body(id="evt_aw_1", name="payment_intent.succeeded"),
        timestamp_header="x-timestamp",
    ),
    Scheme(
        "port-io", "port-io", "port-client-secret", "other-client-secret", port_headers,
        "x-port-signature", VerifiedEvent(None, None, float(NOW)),
        COMPUTED,
        "https://docs.port.io/actions-and-automations/setup-backend/webhook/signature-verification/",
        body=event_body(action={"identifier": "deploy"}), timestamp_header="x-port-timestamp",
    ),
]  # fmt: skip


class TestTimestampedProviders(VerifierContract, TimestampContract):
    """The contract and the replay window, for every timestamped HMAC provider."""

    SCHEMES = SCHEMES


def airwallex_millis(headers: dict[str, str], offset_ms: int) -> dict[str, str]:
    """Re-sign an Airwallex request at a timestamp ``offset_ms`` away (milliseconds)."""
    millis = str(NOW * 1000 + offset_ms)
    return {"x-timestamp": millis, "x-signature": hex_mac("s", millis.encode() + BODY)}


def test_airwallex_window_is_counted_in_milliseconds() -> None:
    """Airwallex's timestamp is milliseconds: 300,000 ms away passes, 300,001 does not."""
    verifier = build_verifier("airwallex", {}, ["s"])
    inside = InboundRequest("POST", URL, airwallex_millis({}, -300_000), BODY)
    assert verifier.verify(inside, NOW).timestamp == NOW - 300
    outside = InboundRequest("POST", URL, airwallex_millis({}, -300_001), BODY)
    assert reason_of(verifier, outside) == "timestamp too old (outside the replay window)"


def test_tailscale_without_a_tolerance_accepts_a_retry_with_its_first_timestamp() -> None:
    """Tailscale's retries keep their first timestamp, so no window applies unless set."""
    body = b'[{"type": "nodeCreated", "data": {"nodeID": "in_42"}}]'
    request = InboundRequest("POST", URL, tailscale_headers("tskey-1", body, NOW - 7200), body)
    event = build_verifier("tailscale", {}, ["tskey-1"]).verify(request, NOW)
    assert event == VerifiedEvent(None, "nodeCreated", float(NOW - 7200))


def test_tailscale_batch_of_events_has_no_single_type() -> None:
    """A body of several events has no one type (nor id): the batch is one message."""
    body = b'[{"type": "nodeCreated"}, {"type": "nodeDeleted"}]'
    request = InboundRequest("POST", URL, tailscale_headers("tskey-1", body, NOW), body)
    assert build_verifier("tailscale", {}, ["tskey-1"]).verify(request, NOW).event_type is None


def test_zoom_url_validation_is_answered_with_the_hashed_token() -> None:
    """Zoom's signed endpoint.url_validation gets plainToken and its hex HMAC back."""
    body = (
        b'{"event": "endpoint.url_validation", "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"}}'
    )
    verifier = build_verifier("zoom", {}, ["zoom-secret-token", "older-token"])
    request = InboundRequest("POST", URL, zoom_headers("zoom-secret-token", body, NOW), body)
    assert verifier.verify(request, NOW).event_type == "endpoint.url_validation"
    answer = handshake_answer(verifier, request)
    assert answer is not None
    assert json.loads(answer) == {
        "plainToken": "qgg8vlvZRS6UYooatFL8Aw",
        "encryptedToken": hex_mac("zoom-secret-token", b"qgg8vlvZRS6UYooatFL8Aw"),
    }


def test_zoom_ordinary_events_are_not_a_handshake() -> None:
    """A meeting event is an event to store: no handshake answer."""
    scheme = SCHEMES[2]
    assert handshake_answer(scheme.verifier(), scheme.request()) is None


def test_stripe_accepts_several_v1_signatures_in_one_header() -> None:
    """During Stripe's secret roll, one of several v1= entries matching is enough."""
    theirs = stripe_headers("whsec_old_one", BODY, NOW)["Stripe-Signature"]
    ours = stripe_headers("whsec_new_one", BODY, NOW)["Stripe-Signature"]
    combined = theirs + "," + ours.split(",", 1)[1] + ",v0=ignored"
    request = InboundRequest("POST", URL, {"Stripe-Signature": combined}, BODY)
    assert build_verifier("stripe", {}, ["whsec_new_one"]).verify(request, NOW).event_id == "evt_1N"


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("v1=abcdef", "stripe-signature has no timestamp"),
        (f"t={NOW},v0=abcdef", "stripe-signature has no v1 signature"),
    ],
)
def test_stripe_header_without_its_parts_fails(header: str, reason: str) -> None:
    """A Stripe-Signature lacking its timestamp or its v1 signature fails, saying which."""
    request = InboundRequest("POST", URL, {"Stripe-Signature": header}, BODY)
    assert reason_of(build_verifier("stripe", {}, ["whsec_x"]), request) == reason


def test_stripe_fixture_verifies_with_stripe_python_too() -> None:
    """The Stripe fixture is what stripe-python itself accepts."""
    header = stripe_headers("whsec_test_stripe_secret", BODY, NOW)["Stripe-Signature"]
    assert stripe.WebhookSignature.verify_header(
        BODY, header, "whsec_test_stripe_secret", tolerance=None
    )


def test_slack_form_body_verifies_without_an_event_id() -> None:
    """A slash-command form body verifies (Slack signs it the same way) and has no id."""
    body = b"token=x&team_id=T1&command=%2Fweather&text=94070"
    headers = slack_headers("slack secret", body, NOW)
    event = build_verifier("slack", {}, ["slack secret"]).verify(
        InboundRequest("POST", URL, headers, body), NOW
    )
    assert event == VerifiedEvent(None, None, float(NOW))


def test_slack_url_verification_is_answered_with_its_challenge() -> None:
    """A verified url_verification body gets the JSON answer with its challenge."""
    body = b'{"token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}'  # noqa: E501
    verifier = build_verifier("slack", {}, ["slack secret"])
    request = InboundRequest("POST", URL, slack_headers("slack secret", body, NOW), body)
    assert verifier.verify(request, NOW).event_type == "url_verification"
    answer = handshake_answer(verifier, request)
    assert answer is not None
    assert answer == slack_challenge(body)
    assert json.loads(answer) == {
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    }


@pytest.mark.parametrize(
    "body",
    [
        BODY,
        b"not json",
        b'{"type": "url_verification"}',
        b'{"type": "url_verification", "challenge": 5}',
        b"[]",
    ],
)
def test_slack_challenge_is_none_for_other_bodies(body: bytes) -> None:
    """Only a url_verification body with a string challenge gets an answer."""
    assert slack_challenge(body) is None


def test_port_header_without_a_v1_signature_fails() -> None:
    """An x-port-signature of another version fails, saying so."""
    headers = port_headers("s", BODY, NOW)
    headers["x-port-signature"] = headers["x-port-signature"].replace("v1,", "v2,")
    reason = reason_of(
        build_verifier("port-io", {}, ["s"]), InboundRequest("POST", URL, headers, BODY)
    )
    assert reason == "x-port-signature has no v1 signature"
