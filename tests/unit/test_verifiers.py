"""Tests for hookline.domain.verifiers: each scheme against its provider's own library.

The signatures are made by the providers' libraries (``standardwebhooks``, ``svix``,
``stripe``, ``slack_sdk``, ``twilio``) or taken from the provider's published test
vector (GitHub), so a verifier that agrees with itself but not with the provider
fails here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
import standardwebhooks
import stripe
import svix.webhooks
from hypothesis import given
from hypothesis import strategies as st
from slack_sdk.signature import SignatureVerifier
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

import hookline
from hookline.domain import signing
from hookline.domain.verifiers import (
    KINDS,
    NO_MATCH,
    InboundRequest,
    VerifiedEvent,
    Verifier,
    build_verifier,
    slack_challenge,
)
from hookline.errors import HooklineError, ValidationError, VerificationFailed

NOW = 1_700_000_000
URL = "https://hooks.example.com/in/source?tenant=7"
# Spaces after the colons: json.dumps with compact separators gives other bytes.
BODY = (
    b'{"id": "evt_1N", "type": "invoice.paid", "event_id": "Ev08", '
    b'"event": {"type": "app_mention"}, "data": {"object": {"id": "in_42", "n": 7}}}'
)
RESERIALISED = json.dumps(json.loads(BODY), separators=(",", ":")).encode()
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER_WHSEC = "whsec_" + base64.b64encode(b"another secret, 24 bytes").decode()


def standard_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """Headers made by the standardwebhooks library."""
    when = datetime.fromtimestamp(timestamp, tz=UTC)
    signature = standardwebhooks.Webhook(secret).sign("msg_2KW", when, body.decode())
    return {
        "webhook-id": "msg_2KW",
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def svix_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """Headers made by the svix library, in its own svix-* names."""
    when = datetime.fromtimestamp(timestamp, tz=UTC)
    signature = svix.webhooks.Webhook(secret).sign("msg_svix", when, body.decode())
    return {"svix-id": "msg_svix", "svix-timestamp": str(timestamp), "svix-signature": signature}


def stripe_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """Stripe-Signature made by stripe-python's own header generator."""
    value = stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, timestamp=timestamp
    )
    return {"Stripe-Signature": value}


def github_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """GitHub's documented algorithm: sha256=<hex HMAC-SHA256 of the body>."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "X-Hub-Signature-256": f"sha256={digest}",
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "X-GitHub-Event": "push",
    }


def shopify_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """Shopify's documented algorithm: base64 HMAC-SHA256 of the body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {
        "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
        "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "X-Shopify-Topic": "orders/create",
    }


def slack_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """Headers signed by slack_sdk's SignatureVerifier."""
    signature = SignatureVerifier(secret).generate_signature(timestamp=str(timestamp), body=body)
    assert signature is not None
    return {"X-Slack-Signature": signature, "X-Slack-Request-Timestamp": str(timestamp)}


def twilio_json_url(body: bytes) -> str:
    """The URL Twilio calls for a JSON body: it carries the body's SHA-256."""
    return f"{URL}&bodySHA256={hashlib.sha256(body).hexdigest()}"


def twilio_json_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """A JSON-body request signed by twilio's RequestValidator (URL with bodySHA256)."""
    signature = RequestValidator(secret).compute_signature(twilio_json_url(body), {})
    return {
        "X-Twilio-Signature": signature,
        "Content-Type": "application/json",
        "I-Twilio-Idempotency-Token": "idem-1",
    }


def generic_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The generic scheme configured in GENERIC_CONFIG, by hand with the stdlib."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha512).digest()
    return {
        "X-Signature": "sig=" + base64.b64encode(digest).decode(),
        "X-Timestamp": str(timestamp),
    }


GENERIC_CONFIG = {
    "algorithm": "sha512",
    "header": "X-Signature",
    "encoding": "base64",
    "prefix": "sig=",
    "signed": "timestamp.body",
    "timestamp_header": "X-Timestamp",
}


@dataclass(frozen=True)
class Scheme:
    """One signed scheme: how the provider signs, and what verifying BODY must return."""

    name: str
    kind: str
    secret: str
    other_secret: str
    sign: Callable[[str, bytes, int], dict[str, str]]
    signature_header: str
    expected: VerifiedEvent
    config: Mapping[str, Any] = field(default_factory=dict)
    url_for: Callable[[bytes], str] = lambda body: URL

    @property
    def timestamped(self) -> bool:
        """Whether the scheme signs a timestamp (and so has a replay window)."""
        return self.expected.timestamp is not None

    def verifier(self, secrets: Sequence[str] | None = None, **config: Any) -> Verifier:
        """The verifier for this scheme, with the scheme's secret unless told otherwise."""
        return build_verifier(self.kind, {**self.config, **config}, secrets or [self.secret])

    def request(
        self,
        body: bytes = BODY,
        *,
        secret: str | None = None,
        timestamp: int = NOW,
        sent_body: bytes | None = None,
    ) -> InboundRequest:
        """A request signed over ``body``; ``sent_body`` replaces the body after signing."""
        headers = self.sign(secret or self.secret, body, timestamp)
        return InboundRequest("POST", self.url_for(body), headers, sent_body or body)


SCHEMES = [
    Scheme(
        "standard_webhooks",
        "standard_webhooks",
        WHSEC,
        OTHER_WHSEC,
        standard_headers,
        "webhook-signature",
        VerifiedEvent("msg_2KW", "invoice.paid", float(NOW)),
    ),
    Scheme(
        "svix",
        "standard_webhooks",
        WHSEC,
        OTHER_WHSEC,
        svix_headers,
        "svix-signature",
        VerifiedEvent("msg_svix", "invoice.paid", float(NOW)),
    ),
    Scheme(
        "stripe",
        "stripe",
        "whsec_test_stripe_secret",
        "whsec_other_stripe_secret",
        stripe_headers,
        "stripe-signature",
        VerifiedEvent("evt_1N", "invoice.paid", float(NOW)),
    ),
    Scheme(
        "github",
        "github",
        "It's a Secret to Everybody",
        "another secret",
        github_headers,
        "x-hub-signature-256",
        VerifiedEvent("72d3162e-cc78-11e3-81ab-4c9367dc0958", "push"),
    ),
    Scheme(
        "shopify",
        "shopify",
        "shpss_client_secret",
        "shpss_other_secret",
        shopify_headers,
        "x-shopify-hmac-sha256",
        VerifiedEvent("b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", "orders/create"),
    ),
    Scheme(
        "slack",
        "slack",
        "8f742231b10e8888abcd99yyyzzz85a5",
        "another slack secret",
        slack_headers,
        "x-slack-signature",
        VerifiedEvent("Ev08", "app_mention", float(NOW)),
    ),
    Scheme(
        "twilio",
        "twilio",
        "12345abcdef_auth_token",
        "secondary_auth_token",
        twilio_json_headers,
        "x-twilio-signature",
        VerifiedEvent("idem-1"),
        url_for=twilio_json_url,
    ),
    Scheme(
        "hmac",
        "hmac",
        "generic secret",
        "other generic secret",
        generic_headers,
        "x-signature",
        VerifiedEvent(timestamp=float(NOW)),
        config=GENERIC_CONFIG,
    ),
]
TIMESTAMPED = [scheme for scheme in SCHEMES if scheme.timestamped]


def by_name(scheme: Scheme) -> str:
    """Test ids: the scheme's name."""
    return scheme.name


def reason_of(verifier: Verifier, request: InboundRequest, now: float = NOW) -> str:
    """Verify and return the reason of the VerificationFailed that must follow."""
    with pytest.raises(VerificationFailed) as caught:
        verifier.verify(request, now)
    return caught.value.reason


# ---------------------------------------------------------------------------
# Every signed scheme


@pytest.mark.parametrize("scheme", SCHEMES, ids=by_name)
def test_a_request_signed_by_the_provider_verifies_with_its_id_and_type(scheme: Scheme) -> None:
    """A request signed by the provider's library verifies and yields its id and type."""
    assert scheme.verifier().verify(scheme.request(), NOW) == scheme.expected


@pytest.mark.parametrize("scheme", SCHEMES, ids=by_name)
def test_a_tampered_body_fails(scheme: Scheme) -> None:
    """A body changed after signing fails."""
    tampered = BODY.replace(b"in_42", b"in_43")
    reason = reason_of(scheme.verifier(), scheme.request(sent_body=tampered))
    assert reason in {NO_MATCH, "body does not match bodySHA256"}


@pytest.mark.parametrize("scheme", SCHEMES, ids=by_name)
def test_reserialised_json_fails(scheme: Scheme) -> None:
    """The same JSON data in other bytes fails: verification is on the raw body."""
    assert json.loads(RESERIALISED) == json.loads(BODY)
    reason = reason_of(scheme.verifier(), scheme.request(sent_body=RESERIALISED))
    assert reason in {NO_MATCH, "body does not match bodySHA256"}


@pytest.mark.parametrize("scheme", SCHEMES, ids=by_name)
def test_a_wrong_secret_fails(scheme: Scheme) -> None:
    """A request signed with a secret the verifier does not hold fails."""
    assert reason_of(scheme.verifier(), scheme.request(secret=scheme.other_secret)) == NO_MATCH


@pytest.mark.parametrize("scheme", SCHEMES, ids=by_name)
def test_during_a_rotation_either_secret_verifies(scheme: Scheme) -> None:
    """A verifier holding the old and the new secret accepts a request signed by either."""
    verifier = scheme.verifier([scheme.other_secret, scheme.secret])
    assert verifier.verify(scheme.request(), NOW) == scheme.expected
    assert verifier.verify(scheme.request(secret=scheme.other_secret), NOW) == scheme.expected


@pytest.mark.parametrize("scheme", SCHEMES, ids=by_name)
def test_a_missing_signature_header_is_named(scheme: Scheme) -> None:
    """Without the signature header the reason names the missing header."""
    signed = scheme.request()
    headers = {k: v for k, v in signed.headers.items() if k != scheme.signature_header}
    reason = reason_of(scheme.verifier(), InboundRequest("POST", signed.url, headers, BODY))
    assert reason.startswith("missing header")
    assert scheme.signature_header in reason


@pytest.mark.parametrize("scheme", SCHEMES, ids=by_name)
def test_a_failure_reason_holds_no_secret_or_signature(scheme: Scheme) -> None:
    """Neither the reason nor the message of a failure shows a secret or the expected MAC."""
    with pytest.raises(VerificationFailed) as caught:
        scheme.verifier().verify(scheme.request(secret=scheme.other_secret), NOW)
    failure = caught.value
    expected_signature = scheme.request().headers[scheme.signature_header]
    for text in (failure.reason, str(failure), failure.detail):
        assert scheme.secret not in text
        assert scheme.other_secret not in text
        assert expected_signature not in text
    assert failure.detail == "invalid signature"
    assert str(failure) == f"invalid signature: {failure.reason}"
    assert failure.code == "signature_invalid"
    assert isinstance(failure, HooklineError)


@pytest.mark.parametrize("scheme", TIMESTAMPED, ids=by_name)
def test_a_stale_timestamp_fails(scheme: Scheme) -> None:
    """A request signed more than five minutes ago fails, however valid its signature."""
    reason = reason_of(scheme.verifier(), scheme.request(timestamp=NOW - 301))
    assert reason == "timestamp too old (outside the replay window)"


@pytest.mark.parametrize("scheme", TIMESTAMPED, ids=by_name)
def test_a_future_timestamp_fails(scheme: Scheme) -> None:
    """A request signed more than five minutes in the future fails too."""
    reason = reason_of(scheme.verifier(), scheme.request(timestamp=NOW + 301))
    assert reason == "timestamp in the future (outside the replay window)"


@pytest.mark.parametrize("scheme", TIMESTAMPED, ids=by_name)
def test_the_replay_window_edges_are_inside(scheme: Scheme) -> None:
    """Exactly the tolerance away, either way, still verifies."""
    verifier = scheme.verifier()
    for timestamp in (NOW - 300, NOW + 300):
        assert verifier.verify(scheme.request(timestamp=timestamp), NOW).timestamp == timestamp


@pytest.mark.parametrize("scheme", TIMESTAMPED, ids=by_name)
def test_the_replay_window_is_configurable(scheme: Scheme) -> None:
    """``tolerance`` narrows (or widens) the window."""
    narrow = scheme.verifier(tolerance=60)
    assert narrow.verify(scheme.request(timestamp=NOW - 60), NOW).timestamp == NOW - 60
    assert "replay window" in reason_of(narrow, scheme.request(timestamp=NOW - 61))
    wide = scheme.verifier(tolerance=3600)
    assert wide.verify(scheme.request(timestamp=NOW - 3000), NOW).timestamp == NOW - 3000


@pytest.mark.parametrize("scheme", TIMESTAMPED, ids=by_name)
@pytest.mark.parametrize("timestamp", ["", "abc", "+1700000000", "1700000000.5", "9" * 30])
def test_a_malformed_timestamp_fails(scheme: Scheme, timestamp: str) -> None:
    """A timestamp that is not plain Unix seconds fails before any MAC is computed."""
    signed = scheme.request()
    headers = {
        name: (timestamp if name.endswith("timestamp") else value)
        for name, value in signed.headers.items()
    }
    if scheme.kind == "stripe":
        headers["stripe-signature"] = signed.headers["stripe-signature"].replace(
            f"t={NOW}", f"t={timestamp}"
        )
    reason = reason_of(scheme.verifier(), InboundRequest("POST", URL, headers, BODY))
    assert "timestamp" in reason


@pytest.mark.parametrize("scheme", SCHEMES, ids=by_name)
def test_header_names_are_case_insensitive(scheme: Scheme) -> None:
    """Headers match whatever case the framework hands them in."""
    signed = scheme.request()
    shouted = {name.upper(): value for name, value in signed.headers.items()}
    request = InboundRequest("POST", signed.url, shouted, BODY)
    assert scheme.verifier().verify(request, NOW) == scheme.expected


# ---------------------------------------------------------------------------
# Provider specifics


def test_github_documented_test_vector() -> None:
    """GitHub's published example (secret, "Hello, World!", its sha256=) verifies."""
    request = InboundRequest(
        "POST",
        URL,
        {
            "X-Hub-Signature-256": (
                "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
            )
        },
        b"Hello, World!",
    )
    verifier = build_verifier("github", {}, ["It's a Secret to Everybody"])
    assert verifier.verify(request, NOW) == VerifiedEvent()


def test_github_refuses_the_sha1_header_form() -> None:
    """A signature header that is not sha256= fails with a reason that says so."""
    digest = hmac.new(b"It's a Secret to Everybody", b"Hello", hashlib.sha1).hexdigest()
    request = InboundRequest("POST", URL, {"X-Hub-Signature-256": f"sha1={digest}"}, b"Hello")
    verifier = build_verifier("github", {}, ["It's a Secret to Everybody"])
    assert reason_of(verifier, request) == "x-hub-signature-256 is not sha256=<hex>"


def test_standard_webhooks_accepts_any_one_of_several_signatures() -> None:
    """A webhook-signature with an unknown signature beside a valid one verifies."""
    headers = standard_headers(WHSEC, BODY, NOW)
    foreign = standard_headers(OTHER_WHSEC, BODY, NOW)["webhook-signature"]
    headers["webhook-signature"] = (
        f"{foreign} v2,bm90IGEgc2lnbmF0dXJl {headers['webhook-signature']}"
    )
    event = build_verifier("standard_webhooks", {}, [WHSEC]).verify(
        InboundRequest("POST", URL, headers, BODY), NOW
    )
    assert event.event_id == "msg_2KW"


def test_standard_webhooks_verifies_asymmetric_signatures_with_a_public_key() -> None:
    """A v1a (Ed25519) signature verifies against the sender's whpk_ public key."""
    private_key, public_key = signing.generate_keypair()
    headers = signing.headers(private_key, "msg_ed", NOW, BODY)
    verifier = build_verifier("standard_webhooks", {}, [public_key])
    assert verifier.verify(InboundRequest("POST", URL, headers, BODY), NOW).event_id == "msg_ed"


def test_standard_webhooks_event_type_is_absent_for_a_body_without_one() -> None:
    """A non-JSON body verifies; its event has no type."""
    body = b"plain text, not JSON"
    headers = standard_headers(WHSEC, body, NOW)
    event = build_verifier("standard_webhooks", {}, [WHSEC]).verify(
        InboundRequest("POST", URL, headers, body), NOW
    )
    assert event == VerifiedEvent("msg_2KW", None, float(NOW))


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


def test_stripe_signature_verifies_with_stripe_python_too() -> None:
    """The Stripe fixture is what stripe-python itself accepts (the test's own check)."""
    header = stripe_headers("whsec_test_stripe_secret", BODY, NOW)["Stripe-Signature"]
    assert stripe.WebhookSignature.verify_header(
        BODY, header, "whsec_test_stripe_secret", tolerance=None
    )


def test_shopify_event_id_header_is_accepted_too() -> None:
    """Without X-Shopify-Webhook-Id, X-Shopify-Event-Id is the dedup id."""
    headers = shopify_headers("shpss_client_secret", BODY, NOW)
    del headers["X-Shopify-Webhook-Id"]
    headers["X-Shopify-Event-Id"] = "event-77"
    verifier = build_verifier("shopify", {}, ["shpss_client_secret"])
    assert verifier.verify(InboundRequest("POST", URL, headers, BODY), NOW).event_id == "event-77"


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
    event = build_verifier("slack", {}, ["slack secret"]).verify(
        InboundRequest("POST", URL, slack_headers("slack secret", body, NOW), body), NOW
    )
    assert event.event_type == "url_verification"
    answer = slack_challenge(body)
    assert answer is not None
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


TWILIO_TOKEN = "12345abcdef_auth_token"
TWILIO_FORM_URL = "https://mycompany.example.com/myapp.php?foo=1&bar=2"
TWILIO_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
    "Body": "héllo & goodbye + more",
}
FORM_TYPE = {"Content-Type": "application/x-www-form-urlencoded"}


def twilio_form_request(url: str, signed_url: str | None = None) -> InboundRequest:
    """A form POST signed by twilio's RequestValidator over ``signed_url`` (default: url)."""
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(signed_url or url, TWILIO_PARAMS)
    headers = {**FORM_TYPE, "X-Twilio-Signature": signature, "I-Twilio-Idempotency-Token": "i-9"}
    return InboundRequest("POST", url, headers, urlencode(TWILIO_PARAMS).encode())


def test_twilio_form_request_verifies() -> None:
    """A form body signed by RequestValidator over URL + sorted parameters verifies."""
    verifier = build_verifier("twilio", {}, [TWILIO_TOKEN])
    assert verifier.verify(twilio_form_request(TWILIO_FORM_URL), NOW).event_id == "i-9"


def test_twilio_form_request_with_a_changed_parameter_fails() -> None:
    """Changing one form value after signing fails."""
    signed = twilio_form_request(TWILIO_FORM_URL)
    body = urlencode({**TWILIO_PARAMS, "Digits": "9999"}).encode()
    tampered = InboundRequest("POST", signed.url, signed.headers, body)
    assert reason_of(build_verifier("twilio", {}, [TWILIO_TOKEN]), tampered) == NO_MATCH


def test_twilio_signs_the_url_so_another_url_fails() -> None:
    """The same signed form arriving at another URL fails (Twilio signs the URL)."""
    signed = twilio_form_request(TWILIO_FORM_URL)
    moved = InboundRequest("POST", TWILIO_FORM_URL + "&x=1", signed.headers, signed.body)
    assert reason_of(build_verifier("twilio", {}, [TWILIO_TOKEN]), moved) == NO_MATCH


def test_twilio_repeated_parameters_are_sorted_as_twilio_does() -> None:
    """Several values of one parameter are signed sorted, as RequestValidator does."""
    params = MultiDict([("To", "+2"), ("MediaUrl", "https://b"), ("MediaUrl", "https://a")])
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(TWILIO_FORM_URL, params)
    body = urlencode(list(params.items(multi=True))).encode()
    request = InboundRequest(
        "POST", TWILIO_FORM_URL, {**FORM_TYPE, "X-Twilio-Signature": signature}, body
    )
    assert build_verifier("twilio", {}, [TWILIO_TOKEN]).verify(request, NOW) == VerifiedEvent()


@pytest.mark.parametrize(
    ("received_url", "signed_url"),
    [
        (
            "https://mycompany.example.com:443/myapp.php?foo=1",
            "https://mycompany.example.com/myapp.php?foo=1",
        ),
        (
            "https://mycompany.example.com/myapp.php?foo=1",
            "https://mycompany.example.com:443/myapp.php?foo=1",
        ),
    ],
)
def test_twilio_url_with_or_without_its_default_port_verifies(
    received_url: str, signed_url: str
) -> None:
    """Twilio signs with or without the default port; both forms verify, as in its validator."""
    request = twilio_form_request(received_url, signed_url)
    assert RequestValidator(TWILIO_TOKEN).validate(
        received_url, TWILIO_PARAMS, request.headers["x-twilio-signature"]
    )
    assert build_verifier("twilio", {}, [TWILIO_TOKEN]).verify(request, NOW).event_id == "i-9"


def test_twilio_sha256_shared_key_signature_verifies() -> None:
    """The signature-settings header selects HMAC-SHA256, as RequestValidator computes it."""
    validator = RequestValidator("shared-key-secret")
    signature = validator.compute_signature(TWILIO_FORM_URL, TWILIO_PARAMS, "HMAC_SHA256")
    headers = {
        **FORM_TYPE,
        "X-Twilio-Signature": signature,
        "X-Twilio-Webhooks-Signature-Settings": "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256",
    }
    request = InboundRequest("POST", TWILIO_FORM_URL, headers, urlencode(TWILIO_PARAMS).encode())
    verifier = build_verifier("twilio", {}, ["shared-key-secret"])
    assert verifier.verify(request, NOW) == VerifiedEvent()
    headers["X-Twilio-Webhooks-Signature-Settings"] = "key=k,algorithm=HMAC_SHA3"
    unknown = InboundRequest("POST", TWILIO_FORM_URL, headers, request.body)
    assert reason_of(verifier, unknown) == "unsupported twilio signature algorithm"


def test_twilio_json_body_agrees_with_request_validator() -> None:
    """The JSON-body fixture is what RequestValidator.validate accepts, and so do we."""
    body = b'{"event": "call.completed"}'
    headers = twilio_json_headers(TWILIO_TOKEN, body, NOW)
    url = twilio_json_url(body)
    assert RequestValidator(TWILIO_TOKEN).validate(
        url, body.decode(), headers["X-Twilio-Signature"]
    )
    verifier = build_verifier("twilio", {}, [TWILIO_TOKEN])
    assert verifier.verify(InboundRequest("POST", url, headers, body), NOW).event_id == "idem-1"


def test_twilio_json_body_without_body_hash_fails() -> None:
    """A JSON body whose URL has no bodySHA256 is not covered by the signature: it fails."""
    body = b'{"event": "call.completed"}'
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(URL, {})
    headers = {"X-Twilio-Signature": signature, "Content-Type": "application/json"}
    reason = reason_of(
        build_verifier("twilio", {}, [TWILIO_TOKEN]), InboundRequest("POST", URL, headers, body)
    )
    assert reason == "twilio body is neither form-encoded nor covered by bodySHA256"


def test_generic_hmac_hex_body_only_with_github_style_prefix() -> None:
    """The generic kind reproduces GitHub's scheme from options alone."""
    verifier = build_verifier(
        "hmac",
        {
            "algorithm": "sha256",
            "header": "X-Hub-Signature-256",
            "prefix": "sha256=",
            "id_header": "X-GitHub-Delivery",
        },
        ["It's a Secret to Everybody"],
    )
    headers = github_headers("It's a Secret to Everybody", b"Hello, World!", NOW)
    assert headers["X-Hub-Signature-256"].endswith(
        "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )
    event = verifier.verify(InboundRequest("POST", URL, headers, b"Hello, World!"), NOW)
    assert event.event_id == "72d3162e-cc78-11e3-81ab-4c9367dc0958"


def test_generic_hmac_prefix_must_be_present() -> None:
    """A signature without the configured prefix fails, saying so."""
    headers = generic_headers("generic secret", BODY, NOW)
    headers["X-Signature"] = headers["X-Signature"].removeprefix("sig=")
    verifier = build_verifier("hmac", GENERIC_CONFIG, ["generic secret"])
    reason = reason_of(verifier, InboundRequest("POST", URL, headers, BODY))
    assert reason == "x-signature does not start with the configured prefix"


def test_generic_hmac_secret_can_be_given_as_base64() -> None:
    """``secret_encoding: base64`` keys the HMAC with the decoded bytes."""
    key = bytes(range(32))
    digest = hmac.new(key, BODY, hashlib.sha1).hexdigest()
    verifier = build_verifier(
        "hmac",
        {"algorithm": "sha1", "header": "X-Sig", "secret_encoding": "base64"},
        [base64.b64encode(key).decode()],
    )
    assert verifier.verify(InboundRequest("POST", URL, {"X-Sig": digest}, BODY), NOW) == (
        VerifiedEvent()
    )


@given(
    body=st.binary(max_size=2048),
    secret=st.text(min_size=1, max_size=40).filter(str.strip),
    algorithm=st.sampled_from(["sha1", "sha256", "sha512"]),
    encoding=st.sampled_from(["hex", "base64"]),
    prefix=st.sampled_from(["", "sha256=", "v1="]),
    timestamped=st.booleans(),
    offset=st.integers(min_value=-300, max_value=300),
)
def test_generic_hmac_round_trip(
    body: bytes,
    secret: str,
    algorithm: str,
    encoding: str,
    prefix: str,
    timestamped: bool,
    offset: int,
) -> None:
    """Any body signed by the documented algorithm verifies; the body with one more byte fails."""
    timestamp = NOW + offset
    signed = f"{timestamp}.".encode() + body if timestamped else body
    digest = hmac.new(secret.encode(), signed, algorithm).digest()
    text = digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()
    config: dict[str, Any] = {
        "algorithm": algorithm, "header": "X-Sig", "encoding": encoding, "prefix": prefix,
    }  # fmt: skip
    headers = {"X-Sig": prefix + text}
    if timestamped:
        config |= {"signed": "timestamp.body", "timestamp_header": "X-Ts"}
        headers["X-Ts"] = str(timestamp)
    verifier = build_verifier("hmac", config, [secret])
    event = verifier.verify(InboundRequest("POST", URL, headers, body), NOW)
    assert event.timestamp == (float(timestamp) if timestamped else None)
    assert reason_of(verifier, InboundRequest("POST", URL, headers, body + b"\x00")) == NO_MATCH


@given(
    body=st.binary(max_size=2048),
    msg_id=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40),
    offset=st.integers(min_value=-300, max_value=300),
    flip=st.integers(min_value=0),
)
def test_standard_webhooks_round_trip(body: bytes, msg_id: str, offset: int, flip: int) -> None:
    """Any body and id signed by hookline's signer verify; any one flipped bit fails."""
    headers = signing.headers([WHSEC], msg_id, NOW + offset, body, svix_headers=True)
    verifier = build_verifier("standard_webhooks", {}, [WHSEC])
    assert verifier.verify(InboundRequest("POST", URL, headers, body), NOW).event_id == msg_id
    if body:
        position = flip % len(body)
        altered = body[:position] + bytes([body[position] ^ 1]) + body[position + 1 :]
        assert reason_of(verifier, InboundRequest("POST", URL, headers, altered)) == NO_MATCH


# ---------------------------------------------------------------------------
# Kinds without a signature


def basic(credentials: str) -> dict[str, str]:
    """An Authorization: Basic header."""
    return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


def test_basic_auth_accepts_any_configured_pair() -> None:
    """Either configured user:password passes; another password fails."""
    verifier = build_verifier("basic_auth", {}, ["hooks:old-pass", "hooks:new-pass"])
    for credentials in ("hooks:old-pass", "hooks:new-pass"):
        assert verifier.verify(InboundRequest("POST", URL, basic(credentials), BODY), NOW) == (
            VerifiedEvent()
        )
    wrong = InboundRequest("POST", URL, basic("hooks:guess"), BODY)
    assert reason_of(verifier, wrong) == "credentials did not match"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing header authorization"),
        ({"Authorization": "Bearer abc"}, "authorization is not basic"),
        ({"Authorization": "Basic !!!"}, "credentials did not match"),
    ],
)
def test_basic_auth_refuses_other_authorizations(headers: dict[str, str], reason: str) -> None:
    """No header, another scheme or garbled base64 fail with a reason."""
    verifier = build_verifier("basic_auth", {}, ["hooks:pass"])
    assert reason_of(verifier, InboundRequest("POST", URL, headers, BODY)) == reason


def test_api_key_header_with_prefix() -> None:
    """An API key after the configured prefix passes; another key or none fails."""
    verifier = build_verifier(
        "api_key", {"header": "Authorization", "prefix": "Bearer "}, ["key-one", "key-two"]
    )
    ok = InboundRequest("POST", URL, {"authorization": "Bearer key-two"}, BODY)
    assert verifier.verify(ok, NOW) == VerifiedEvent()
    wrong = InboundRequest("POST", URL, {"authorization": "Bearer key-three"}, BODY)
    assert reason_of(verifier, wrong) == "api key did not match"
    missing = InboundRequest("POST", URL, {}, BODY)
    assert reason_of(verifier, missing) == "missing header authorization"


def test_none_accepts_everything_and_still_finds_an_id() -> None:
    """The explicit none kind passes any request; id_path still picks the dedup id."""
    verifier = build_verifier("none", {"id_path": "data.object.id"}, [])
    assert verifier.verify(InboundRequest("GET", URL, {}, BODY), NOW) == VerifiedEvent("in_42")


# ---------------------------------------------------------------------------
# Id and type overrides


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"id_path": "data.object.id"}, VerifiedEvent("in_42", "invoice.paid", float(NOW))),
        ({"id_path": "data.object.n"}, VerifiedEvent("7", "invoice.paid", float(NOW))),
        ({"id_path": "data.missing"}, VerifiedEvent(None, "invoice.paid", float(NOW))),
        ({"id_header": "Stripe-Signature", "type_path": "event.type"}, None),
        ({"type_header": "X-Nope"}, VerifiedEvent("evt_1N", None, float(NOW))),
    ],
)
def test_id_and_type_options_override_the_providers(
    config: dict[str, str], expected: VerifiedEvent | None
) -> None:
    """id_path/id_header and type_path/type_header win over the provider's own fields."""
    scheme = SCHEMES[2]  # stripe
    request = scheme.request()
    event = scheme.verifier(**config).verify(request, NOW)
    if expected is None:
        expected = VerifiedEvent(request.headers["stripe-signature"], "app_mention", float(NOW))
    assert event == expected


def test_id_path_indexes_lists() -> None:
    """A numeric step in id_path indexes a JSON list."""
    body = b'{"events": [{"id": "a"}, {"id": "b"}]}'
    verifier = build_verifier("none", {"id_path": "events.1.id"}, [])
    assert verifier.verify(InboundRequest("POST", URL, {}, body), NOW).event_id == "b"


# ---------------------------------------------------------------------------
# Configuration


@pytest.mark.parametrize(
    ("kind", "config", "secrets", "field"),
    [
        ("carrier_pigeon", {}, ["s"], ("kind",)),
        ("github", {}, [], ("secrets",)),
        ("github", {}, "a bare string", ("secrets",)),
        ("github", {}, ["ok", "  "], ("secrets", 1)),
        ("github", {"tolerance": 60}, ["s"], ("config", "tolerance")),
        ("github", {"tolerence": 60}, ["s"], ("config", "tolerence")),
        ("stripe", {"tolerance": -1}, ["s"], ("config", "tolerance")),
        ("stripe", {"tolerance": "300"}, ["s"], ("config", "tolerance")),
        ("slack", {"tolerance": True}, ["s"], ("config", "tolerance")),
        ("standard_webhooks", {}, [WHSEC, "not base64 !"], ("secrets", 1)),
        ("hmac", {"header": "X-Sig"}, ["s"], ("config", "algorithm")),
        ("hmac", {"algorithm": "md5", "header": "X-Sig"}, ["s"], ("config", "algorithm")),
        ("hmac", {"algorithm": "sha256"}, ["s"], ("config", "header")),
        ("hmac", {"algorithm": "sha256", "header": "X Sig"}, ["s"], ("config", "header")),
        ("hmac", {"algorithm": "sha256", "header": 5}, ["s"], ("config", "header")),
        (
            "hmac",
            {"algorithm": "sha256", "header": "X", "encoding": "b32"},
            ["s"],
            ("config", "encoding"),
        ),
        (
            "hmac",
            {"algorithm": "sha256", "header": "X", "signed": "timestamp.body"},
            ["s"],
            ("config", "timestamp_header"),
        ),
        (
            "hmac",
            {"algorithm": "sha256", "header": "X", "timestamp_header": "T"},
            ["s"],
            ("config", "timestamp_header"),
        ),
        (
            "hmac",
            {"algorithm": "sha256", "header": "X", "tolerance": 60},
            ["s"],
            ("config", "tolerance"),
        ),
        (
            "hmac",
            {"algorithm": "sha256", "header": "X", "secret_encoding": "hex"},
            ["xyz"],
            ("secrets", 0),
        ),
        ("basic_auth", {}, ["no-colon"], ("secrets", 0)),
        ("api_key", {}, ["k"], ("config", "header")),
        ("none", {}, ["s"], ("secrets",)),
        ("github", {"id_header": "X-A", "id_path": "a"}, ["s"], ("config", "id_path")),
        ("github", {"id_path": "a..b"}, ["s"], ("config", "id_path")),
        ("github", [("id_path", "a")], ["s"], ("config",)),
    ],
)
def test_bad_configuration_names_the_field(
    kind: str, config: Any, secrets: Any, field: tuple[str | int, ...]
) -> None:
    """A bad kind, option or secret raises ValidationError naming the field at fault."""
    with pytest.raises(ValidationError) as caught:
        build_verifier(kind, config, secrets)
    assert caught.value.field == field


def test_a_bad_secret_is_never_echoed_in_the_error() -> None:
    """The ValidationError for a malformed secret does not repeat the secret."""
    with pytest.raises(ValidationError) as caught:
        build_verifier("standard_webhooks", {}, ["whsec_!!secret-material!!"])
    assert "secret-material" not in str(caught.value)


def test_every_kind_builds_from_minimal_options() -> None:
    """Each listed kind builds with the least it needs."""
    minimal: dict[str, tuple[dict[str, Any], list[str]]] = {
        "standard_webhooks": ({}, [WHSEC]),
        "hmac": ({"algorithm": "sha256", "header": "X-Sig"}, ["s"]),
        "basic_auth": ({}, ["u:p"]),
        "api_key": ({"header": "X-Key"}, ["k"]),
        "none": ({}, []),
    }
    for kind in KINDS:
        config, secrets = minimal.get(kind, ({}, ["secret"]))
        assert callable(build_verifier(kind, config, secrets).verify)


def test_inbound_request_lower_cases_header_names() -> None:
    """Header names are lower-cased once, so lookups ignore case; the mapping is read-only."""
    request = InboundRequest("POST", URL, {"X-GitHub-Event": "push"}, b"")
    assert dict(request.headers) == {"x-github-event": "push"}
    assert request.header("X-GITHUB-EVENT") == "push"
    with pytest.raises(TypeError):
        request.headers["x"] = "y"  # type: ignore[index]


def test_the_public_names_are_exported_from_hookline() -> None:
    """``from hookline import build_verifier, InboundRequest`` works; __all__ is sorted."""
    assert hookline.build_verifier is build_verifier
    assert hookline.InboundRequest is InboundRequest
    assert hookline.VerificationFailed is VerificationFailed
    assert hookline.__all__ == sorted(hookline.__all__)
    assert all(hasattr(hookline, name) for name in hookline.__all__)
