"""Providers whose signature covers, or travels in, the URL: Twilio, HubSpot, PandaDoc.

Twilio's requests are signed by twilio's ``RequestValidator`` and HubSpot's by
``hubspot.utils.signature.Signature`` (hubspot-api-client), their official libraries.
PandaDoc publishes none: its ``?signature=`` is computed from its documented
algorithm.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

import pytest
from hubspot.utils.signature import Signature
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from hookline.domain.verifiers import (
    NO_MATCH,
    InboundRequest,
    VerifiedEvent,
    build_verifier,
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


def twilio_json_url(secret: str, body: bytes, timestamp: int) -> str:
    """The URL Twilio calls for a JSON body: it carries the body's SHA-256."""
    return f"{URL}&bodySHA256={hashlib.sha256(body).hexdigest()}"


def twilio_json_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """A JSON-body request signed by twilio's RequestValidator (URL with bodySHA256)."""
    url = twilio_json_url(secret, body, timestamp)
    signature = RequestValidator(secret).compute_signature(url, {})
    return {
        "X-Twilio-Signature": signature,
        "Content-Type": "application/json",
        "I-Twilio-Idempotency-Token": "idem-1",
    }


def hubspot_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """A v3 request signed by hubspot-api-client's Signature.get_signature."""
    millis = str(timestamp * 1000)
    signature = Signature.get_signature(
        secret, body.decode(), "v3", http_uri=URL, http_method="POST", timestamp=millis
    )
    return {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": millis}


def panda_doc_url(secret: str, body: bytes, timestamp: int) -> str:
    """The URL with ``signature=<hex HMAC-SHA256 of the body>``, as PandaDoc appends it."""
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"{URL}&signature={signature}"


HUBSPOT_BODY = (
    b'[{"eventId": 100, "subscriptionType": "contact.creation", "objectId": "in_42", '
    b'"portalId": 62515}]'
)
PANDA_DOC_BODY = b'[{"event": "document_state_changed", "data": {"id": "in_42", "status": "x"}}]'

SCHEMES = [
    Scheme(
        "twilio", "twilio", "12345abcdef_auth_token", "secondary_auth_token",
        twilio_json_headers, "x-twilio-signature", VerifiedEvent("idem-1"),
        OFFICIAL, "signed by twilio.request_validator.RequestValidator",
        url_for=twilio_json_url,
    ),
    Scheme(
        "hubspot", "hubspot", "hubspot-client-secret", "other-client-secret",
        hubspot_headers, "x-hubspot-signature-v3",
        VerifiedEvent("100", "contact.creation", float(NOW)),
        OFFICIAL, "signed by hubspot.utils.signature.Signature.get_signature (v3)",
        body=HUBSPOT_BODY, timestamp_header="x-hubspot-request-timestamp",
    ),
    Scheme(
        "panda-doc", "panda-doc", "pandadoc-shared-key", "other-shared-key",
        lambda secret, body, timestamp: {"Content-Type": "application/json"},
        None, VerifiedEvent(None, "document_state_changed"),
        COMPUTED, "https://developers.pandadoc.com/docs/webhook-verification",
        body=PANDA_DOC_BODY, url_for=panda_doc_url,
    ),
]  # fmt: skip


class TestUrlProviders(VerifierContract, TimestampContract):
    """The contract, for the providers that sign or carry something in the URL."""

    SCHEMES = SCHEMES


# ---------------------------------------------------------------------------
# Twilio


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
    url = twilio_json_url(TWILIO_TOKEN, body, NOW)
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


# ---------------------------------------------------------------------------
# HubSpot and PandaDoc


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_hubspot_legacy_signatures_verify_as_hubspots_library_makes_them(version: str) -> None:
    """Without a v3 header, X-HubSpot-Signature v1 or v2 (hubspot-api-client's) verifies."""
    signature = Signature.get_signature(
        "hubspot-client-secret", HUBSPOT_BODY.decode(), version, http_uri=URL, http_method="POST"
    )
    headers = {"X-HubSpot-Signature": signature, "X-HubSpot-Signature-Version": version}
    verifier = build_verifier("hubspot", {}, ["hubspot-client-secret"])
    event = verifier.verify(InboundRequest("POST", URL, headers, HUBSPOT_BODY), NOW)
    assert event == VerifiedEvent("100", "contact.creation")
    wrong = InboundRequest("POST", URL, headers, HUBSPOT_BODY.replace(b"in_42", b"in_43"))
    assert reason_of(verifier, wrong) == NO_MATCH


def test_hubspot_v3_signs_the_url() -> None:
    """A v3 request arriving at another URL fails: the URL is signed."""
    request = SCHEMES[1].request()
    moved = InboundRequest("POST", URL + "&x=1", request.headers, request.body)
    assert reason_of(SCHEMES[1].verifier(), moved) == NO_MATCH


def test_hubspot_fixture_is_what_hubspots_library_accepts() -> None:
    """hubspot-api-client's is_valid accepts the v3 fixture (at its own clock)."""
    import time

    now = int(time.time())
    headers = hubspot_headers("hubspot-client-secret", HUBSPOT_BODY, now)
    assert Signature.is_valid(
        headers["X-HubSpot-Signature-v3"], "hubspot-client-secret", HUBSPOT_BODY.decode(),
        http_uri=URL, http_method="POST", signature_version="v3",
        timestamp=headers["X-HubSpot-Request-Timestamp"],
    )  # fmt: skip


def test_panda_doc_without_its_signature_parameter_fails() -> None:
    """A request whose URL carries no signature fails, naming the parameter."""
    request = InboundRequest("POST", URL, {}, PANDA_DOC_BODY)
    verifier = build_verifier("panda-doc", {}, ["pandadoc-shared-key"])
    assert reason_of(verifier, request) == "missing query parameter signature"


def test_panda_doc_signature_is_of_the_body_not_of_another() -> None:
    """The signature of another body in the URL fails."""
    url = panda_doc_url("pandadoc-shared-key", BODY, NOW)
    request = InboundRequest("POST", url, {}, PANDA_DOC_BODY)
    assert reason_of(build_verifier("panda-doc", {}, ["pandadoc-shared-key"]), request) == NO_MATCH
