"""Providers that sign the body alone: an HMAC of the raw bytes in one header.

None of these providers publishes a signing library on PyPI, so the signatures are
computed here with the standard library from each provider's documented algorithm
(the reference of each scheme cites the page), except: EasyPost, whose own
``easypost.util.validate_webhook`` accepts the fixture; and GitHub and Checkbook,
whose documentation gives a worked example that is verified as published.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata
from collections.abc import Callable
from typing import Any

import easypost.util
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookline.domain.verifiers import (
    NO_MATCH,
    InboundRequest,
    VerifiedEvent,
    build_verifier,
    handshake_answer,
)
from hookline.errors import ValidationError

from support.verifier_contract import (
    BODY,
    COMPUTED,
    DOCUMENTED,
    NOW,
    OFFICIAL,
    URL,
    Scheme,
    VerifierContract,
    reason_of,
)


def mac(secret: str, message: bytes, algorithm: str = "sha256") -> bytes:
    """The HMAC of ``message`` keyed with the UTF-8 ``secret``."""
    return hmac.new(secret.encode(), message, algorithm).digest()


def encode(digest: bytes, encoding: str) -> str:
    """A digest as the provider writes it."""
    if encoding == "hex":
        return digest.hex()
    if encoding == "base64url":
        return base64.urlsafe_b64encode(digest).decode()
    return base64.b64encode(digest).decode()


def body_signer(
    header: str,
    encoding: str,
    prefix: str = "",
    algorithm: str = "sha256",
    **extra: str,
) -> Callable[[str, bytes, int], dict[str, str]]:
    """Headers with ``<prefix><HMAC of the body>`` in ``header``, plus ``extra`` headers."""

    def sign(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
        signature = prefix + encode(mac(secret, body, algorithm), encoding)
        return {header: signature, **{k.replace("_", "-"): v for k, v in extra.items()}}

    return sign


def docusign_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """X-DocuSign-Signature-1, the base64 HMAC-SHA256 of the body."""
    return {
        "X-DocuSign-Signature-1": encode(mac(secret, body), "base64"),
        "X-Authorization-Digest": "HMACSHA256",
    }


def easypost_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """X-Hmac-Signature as EasyPost computes it (NFKD secret), checked by easypost itself."""
    normalised = unicodedata.normalize("NFKD", secret)
    headers = {"X-Hmac-Signature": "hmac-sha256-hex=" + mac(normalised, body).hex()}
    easypost.util.validate_webhook(body, headers, secret)  # raises unless EasyPost agrees
    return headers


def checkbook_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """``signature: nonce=<n>,signature=<hex HMAC-SHA256 of body + nonce>``."""
    nonce = "1243549809"
    return {"signature": f"nonce={nonce},signature={mac(secret, body + nonce.encode()).hex()}"}


def event_body(**fields: Any) -> bytes:
    """A JSON body (spaced, so compact re-serialisation differs) with ``fields`` and in_42."""
    import json

    return json.dumps({**fields, "data": {"id": "in_42", "n": 7}}).encode()


GITHUB_DOCS = "https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries"
SCHEMES = [
    Scheme(
        "github", "github", "It's a Secret to Everybody", "another secret",
        body_signer("X-Hub-Signature-256", "hex", "sha256=",
                    X_GitHub_Delivery="72d3162e-cc78-11e3-81ab-4c9367dc0958",
                    X_GitHub_Event="push"),
        "x-hub-signature-256",
        VerifiedEvent("72d3162e-cc78-11e3-81ab-4c9367dc0958", "push"),
        DOCUMENTED, GITHUB_DOCS,
    ),
    Scheme(
        "shopify", "shopify", "shpss_client_secret", "shpss_other_secret",
        body_signer("X-Shopify-Hmac-Sha256", "base64",
                    X_Shopify_Webhook_Id="b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
                    X_Shopify_Topic="orders/create"),
        "x-shopify-hmac-sha256",
        VerifiedEvent("b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", "orders/create"),
        COMPUTED, "https://shopify.dev/docs/apps/build/webhooks/subscribe/https",
    ),
    Scheme(
        "docusign", "docusign", "connect-hmac-key-1", "connect-hmac-key-2", docusign_headers,
        "x-docusign-signature-1", VerifiedEvent(None, "envelope-completed"),
        COMPUTED, "https://developers.docusign.com/platform/webhooks/connect/validate/",
        body=event_body(event="envelope-completed"),
    ),
    Scheme(
        "easypost", "easypost", "easypost-webhook-secret", "another-secret", easypost_headers,
        "x-hmac-signature", VerifiedEvent("evt_42", "tracker.updated"),
        OFFICIAL, "accepted by easypost.util.validate_webhook",
        body=event_body(id="evt_42", description="tracker.updated"),
    ),
    Scheme(
        "merge", "merge", "merge-signature-key", "other-key",
        body_signer("X-Merge-Webhook-Signature", "base64url"),
        "x-merge-webhook-signature", VerifiedEvent(None, "Employee.synced"),
        COMPUTED, "https://docs.merge.dev/basics/webhooks/merge-webhooks/",
        body=event_body(hook={"event": "Employee.synced"}),
    ),
    Scheme(
        "meta", "meta", "meta-app-secret", "other-app-secret",
        body_signer("X-Hub-Signature-256", "hex", "sha256="),
        "x-hub-signature-256", VerifiedEvent(None, "page"),
        COMPUTED, "https://developers.facebook.com/docs/graph-api/webhooks/getting-started",
        config={"verify_token": "meta-verify-token"}, body=event_body(object="page"),
    ),
    Scheme(
        "nango", "nango", "nango-env-secret", "other-secret",
        body_signer("X-Nango-Hmac-Sha256", "hex"),
        "x-nango-hmac-sha256", VerifiedEvent(None, "sync"),
        COMPUTED, "https://nango.dev/docs/guides/platform/webhooks-from-nango",
        body=event_body(type="sync"),
    ),
    Scheme(
        "rutter", "rutter", "rutter-client-secret", "other-client-secret",
        body_signer("X-Rutter-Signature", "base64", "sha256="),
        "x-rutter-signature", VerifiedEvent(None, "CONNECTION"),
        COMPUTED, "https://docs.rutterapi.com/docs/webhook-security",
        body=event_body(type="CONNECTION"),
    ),
    Scheme(
        "segment", "segment", "segment-shared-secret", "other-shared-secret",
        body_signer("X-Signature", "hex", algorithm="sha1"),
        "x-signature", VerifiedEvent("ajs-42", "track"),
        COMPUTED,
        "https://www.twilio.com/docs/segment/connections/destinations/catalog/actions-webhook",
        body=event_body(messageId="ajs-42", type="track"),
    ),
    Scheme(
        "veriff", "veriff", "veriff-shared-secret", "other-shared-secret",
        body_signer("X-HMAC-SIGNATURE", "hex", X_AUTH_CLIENT="veriff-api-key"),
        "x-hmac-signature", VerifiedEvent(None, "submitted"),
        COMPUTED, "https://devdocs.veriff.com/docs/hmac-authentication-and-endpoint-security",
        body=event_body(action="submitted"),
    ),
    Scheme(
        "vapi", "vapi", "vapi-hmac-secret", "other-hmac-secret",
        body_signer("x-vapi-signature", "hex"),
        "x-vapi-signature", VerifiedEvent(None, "status-update"),
        COMPUTED, "https://docs.vapi.ai/server-url/server-authentication",
        body=event_body(message={"type": "status-update"}),
    ),
    Scheme(
        "checkbook", "checkbook", "335b5728e25b47e88995fce207bff380", "another-webhook-key",
        checkbook_headers, "signature", VerifiedEvent(None, "CHECK"),
        DOCUMENTED, "https://docs.checkbook.io/reference/webhooks",
        body=event_body(status="PAID", type="CHECK"),
    ),
]  # fmt: skip


class TestBodyHmacProviders(VerifierContract):
    """The contract, for every provider that signs the body alone."""

    SCHEMES = SCHEMES


# ---------------------------------------------------------------------------
# Worked examples from the providers' documentation


def test_github_documented_example_verifies() -> None:
    """GitHub's published example (its secret, "Hello, World!", its sha256=) verifies."""
    # https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries#testing-the-webhook-payload-validation
    signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    request = InboundRequest("POST", URL, {"X-Hub-Signature-256": signature}, b"Hello, World!")
    verifier = build_verifier("github", {}, ["It's a Secret to Everybody"])
    assert verifier.verify(request, NOW) == VerifiedEvent()


def test_checkbook_documented_example_verifies() -> None:
    """Checkbook's published example (body, nonce, webhooks key, signature) verifies."""
    # https://docs.checkbook.io/reference/webhooks ("Signature" section)
    body = b'{"status": "PAID", "id": "ed0af5fb335c47dd8eb53199ba50f5c4", "type": "CHECK"}'
    signature = "4ee9758fc0bceb3ca1a2fe397fbd125364cfffdb04296fa118dab9778a4b3ce3"
    headers = {"signature": f"nonce=1243549809,signature={signature}"}
    verifier = build_verifier("checkbook", {}, ["335b5728e25b47e88995fce207bff380"])
    event = verifier.verify(InboundRequest("POST", URL, headers, body), NOW)
    assert event == VerifiedEvent(None, "CHECK")


def test_github_refuses_the_sha1_header_form() -> None:
    """A signature header that is not sha256= fails with a reason that says so."""
    digest = hmac.new(b"It's a Secret to Everybody", b"Hello", hashlib.sha1).hexdigest()
    request = InboundRequest("POST", URL, {"X-Hub-Signature-256": f"sha1={digest}"}, b"Hello")
    verifier = build_verifier("github", {}, ["It's a Secret to Everybody"])
    assert reason_of(verifier, request) == "x-hub-signature-256 is not sha256=<hex>"


# ---------------------------------------------------------------------------
# Provider specifics


def test_shopify_event_id_header_is_accepted_too() -> None:
    """Without X-Shopify-Webhook-Id, X-Shopify-Event-Id is the dedup id."""
    headers = body_signer("X-Shopify-Hmac-Sha256", "base64", X_Shopify_Event_Id="event-77")(
        "shpss_client_secret", BODY, NOW
    )
    verifier = build_verifier("shopify", {}, ["shpss_client_secret"])
    assert verifier.verify(InboundRequest("POST", URL, headers, BODY), NOW).event_id == "event-77"


def test_docusign_one_matching_key_of_several_headers_is_enough() -> None:
    """With two Connect keys active, DocuSign sends two headers; one match verifies."""
    headers = {
        "X-DocuSign-Signature-1": encode(mac("retired key", BODY), "base64"),
        "X-DocuSign-Signature-2": encode(mac("current key", BODY), "base64"),
    }
    verifier = build_verifier("docusign", {}, ["current key"])
    assert verifier.verify(InboundRequest("POST", URL, headers, BODY), NOW) == VerifiedEvent()


def test_easypost_secret_is_normalised_as_easypost_does() -> None:
    """A secret with a compatibility character verifies under its NFKD form, as in easypost."""
    secret = "ﬁrst-secret"  # the "fi" ligature: NFKD makes it "fi"
    headers = easypost_headers(secret, BODY, NOW)
    verifier = build_verifier("easypost", {}, [secret])
    assert verifier.verify(InboundRequest("POST", URL, headers, BODY), NOW).event_id == "evt_1N"


def test_meta_subscription_check_is_answered_with_its_challenge() -> None:
    """Meta's GET with the configured verify token is answered with hub.challenge."""
    verifier = build_verifier("meta", {"verify_token": "tok-1"}, ["meta-app-secret"])
    url = URL + "&hub.mode=subscribe&hub.verify_token=tok-1&hub.challenge=1158201444"
    request = InboundRequest("GET", url, {}, b"")
    assert verifier.verify(request, NOW) == VerifiedEvent()
    assert handshake_answer(verifier, request) == b"1158201444"


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        (
            "&hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1",
            "verify token did not match",
        ),
        ("&hub.verify_token=tok-1&hub.challenge=1", "meta GET is not a subscription check"),
        ("&hub.mode=subscribe&hub.verify_token=tok-1", "meta GET is not a subscription check"),
    ],
)
def test_meta_subscription_check_with_a_wrong_token_fails(query: str, reason: str) -> None:
    """A GET with another token, or without the subscription fields, is refused."""
    verifier = build_verifier("meta", {"verify_token": "tok-1"}, ["meta-app-secret"])
    assert reason_of(verifier, InboundRequest("GET", URL + query, {}, b"")) == reason


def test_meta_needs_its_verify_token() -> None:
    """A meta source without verify_token is refused, naming the option."""
    with pytest.raises(ValidationError) as caught:
        build_verifier("meta", {}, ["meta-app-secret"])
    assert caught.value.field == ("config", "verify_token")


def test_meta_post_events_are_not_answered_as_a_handshake() -> None:
    """A signed POST event is an event to store: no handshake answer."""
    scheme = SCHEMES[5]
    request = scheme.request()
    verifier = scheme.verifier()
    verifier.verify(request, NOW)
    assert handshake_answer(verifier, request) is None


def test_vapi_legacy_secret_header_mode() -> None:
    """``mode: secret`` accepts the X-Vapi-Secret credential and refuses another."""
    verifier = build_verifier("vapi", {"mode": "secret"}, ["old-token", "new-token"])
    body = event_body(message={"type": "end-of-call-report"})
    ok = InboundRequest("POST", URL, {"X-Vapi-Secret": "new-token"}, body)
    assert verifier.verify(ok, NOW) == VerifiedEvent(None, "end-of-call-report")
    wrong = InboundRequest("POST", URL, {"X-Vapi-Secret": "guess"}, body)
    assert reason_of(verifier, wrong) == NO_MATCH


def test_checkbook_header_without_its_parts_fails() -> None:
    """A signature header without its nonce fails, saying the expected form."""
    request = InboundRequest("POST", URL, {"signature": "signature=abcd"}, BODY)
    verifier = build_verifier("checkbook", {}, ["key"])
    assert reason_of(verifier, request) == "signature is not nonce=...,signature=..."


# ---------------------------------------------------------------------------
# The configurable hmac kind


GENERIC_CONFIG = {"algorithm": "sha256", "header": "X-Hub-Signature-256", "prefix": "sha256="}


def test_generic_hmac_reproduces_githubs_documented_example() -> None:
    """The generic kind reproduces GitHub's scheme, and its published example, from options."""
    verifier = build_verifier(
        "hmac", {**GENERIC_CONFIG, "id_header": "X-GitHub-Delivery"}, ["It's a Secret to Everybody"]
    )
    headers = {
        "X-Hub-Signature-256": (
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        ),
        "X-GitHub-Delivery": "d-1",
    }
    event = verifier.verify(InboundRequest("POST", URL, headers, b"Hello, World!"), NOW)
    assert event.event_id == "d-1"


def test_generic_hmac_prefix_must_be_present() -> None:
    """A signature without the configured prefix fails, saying so."""
    headers = {"X-Hub-Signature-256": mac("s", BODY).hex()}
    verifier = build_verifier("hmac", GENERIC_CONFIG, ["s"])
    reason = reason_of(verifier, InboundRequest("POST", URL, headers, BODY))
    assert reason == "x-hub-signature-256 does not start with the configured prefix"


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
    encoding=st.sampled_from(["hex", "base64", "base64url"]),
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
    config: dict[str, Any] = {
        "algorithm": algorithm, "header": "X-Sig", "encoding": encoding, "prefix": prefix,
    }  # fmt: skip
    headers = {"X-Sig": prefix + encode(mac(secret, signed, algorithm), encoding)}
    if timestamped:
        config |= {"signed": "timestamp.body", "timestamp_header": "X-Ts"}
        headers["X-Ts"] = str(timestamp)
    verifier = build_verifier("hmac", config, [secret])
    event = verifier.verify(InboundRequest("POST", URL, headers, body), NOW)
    assert event.timestamp == (float(timestamp) if timestamped else None)
    assert reason_of(verifier, InboundRequest("POST", URL, headers, body + b"\x00")) == NO_MATCH


def test_generic_hmac_with_a_timestamp_refuses_a_stale_one() -> None:
    """With signed: timestamp.body, a timestamp outside the window fails."""
    config = {"algorithm": "sha256", "header": "X-Sig", "signed": "timestamp.body",
              "timestamp_header": "X-Ts"}  # fmt: skip
    stale = NOW - 301
    headers = {"X-Sig": mac("s", f"{stale}.".encode() + BODY).hex(), "X-Ts": str(stale)}
    verifier = build_verifier("hmac", config, ["s"])
    reason = reason_of(verifier, InboundRequest("POST", URL, headers, BODY))
    assert reason == "timestamp too old (outside the replay window)"
