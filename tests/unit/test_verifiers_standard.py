"""Standard Webhooks and Svix, and the providers that sign with them.

Every request here is signed by the ``standardwebhooks`` library (``webhook-*``
headers) or the ``svix`` library (``svix-*`` headers), whichever names the provider
sends; where the provider ships its own verifier on PyPI (OpenAI, Lithic, Replicate,
Resend), that verifier accepts the same request too, so the fixture is the
provider's scheme and not only ours.
"""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import lithic
import openai
import pytest
import replicate.webhook
import resend
import standardwebhooks
import svix.webhooks
from hypothesis import given
from hypothesis import strategies as st

from hookline.domain import signing
from hookline.domain.verifiers import (
    NO_MATCH,
    InboundRequest,
    VerifiedEvent,
    build_verifier,
)

from support.verifier_contract import (
    NOW,
    OFFICIAL,
    URL,
    Scheme,
    TimestampContract,
    VerifierContract,
    reason_of,
)

WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER_WHSEC = "whsec_" + base64.b64encode(b"another secret, 24 bytes").decode()
MSG_ID = "msg_2KW"


def standard_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """``webhook-*`` headers made by the standardwebhooks library."""
    when = datetime.fromtimestamp(timestamp, tz=UTC)
    signature = standardwebhooks.Webhook(secret).sign(MSG_ID, when, body.decode())
    return {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def svix_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """``svix-*`` headers made by the svix library."""
    when = datetime.fromtimestamp(timestamp, tz=UTC)
    signature = svix.webhooks.Webhook(secret).sign(MSG_ID, when, body.decode())
    return {"svix-id": MSG_ID, "svix-timestamp": str(timestamp), "svix-signature": signature}


def scheme(
    kind: str, body: bytes, event_type: str | None, *, svix_names: bool, reference: str
) -> Scheme:
    """A Standard Webhooks provider: signed by svix (svix-*) or standardwebhooks (webhook-*)."""
    return Scheme(
        name=kind,
        kind=kind,
        secret=WHSEC,
        other_secret=OTHER_WHSEC,
        sign=svix_headers if svix_names else standard_headers,
        signature_header="svix-signature" if svix_names else "webhook-signature",
        expected=VerifiedEvent(MSG_ID, event_type, float(NOW)),
        tested_by=OFFICIAL,
        reference=reference,
        body=body,
        timestamp_header="svix-timestamp" if svix_names else "webhook-timestamp",
    )


def typed(field: str, value: str) -> bytes:
    """A JSON body naming its event type in ``field``."""
    return f'{{"{field}": "{value}", "data": {{"id": "in_42", "n": 7}}}}'.encode()


SVIX_LIB = "signed by the svix library (svix-* headers)"
SW_LIB = "signed by the standardwebhooks library (webhook-* headers)"

SCHEMES = [
    scheme("standard_webhooks", typed("type", "invoice.paid"), "invoice.paid", svix_names=False,
           reference=SW_LIB + "; https://www.standardwebhooks.com/"),
    scheme("svix", typed("type", "invoice.paid"), "invoice.paid", svix_names=True,
           reference=SVIX_LIB + "; https://docs.svix.com/receiving/verifying-payloads/how"),
    scheme("clerk", typed("type", "user.created"), "user.created", svix_names=True,
           reference=SVIX_LIB + "; https://clerk.com/docs/webhooks/sync-data"),
    scheme("resend", typed("type", "email.delivered"), "email.delivered", svix_names=True,
           reference=SVIX_LIB + ", accepted by resend.Webhooks.verify"),
    scheme("replicate", b'{"id": "in_42", "status": "succeeded", "output": null}', "succeeded",
           svix_names=False, reference=SW_LIB + ", accepted by replicate.webhooks.validate"),
    scheme("open-ai", typed("type", "response.completed"), "response.completed", svix_names=False,
           reference=SW_LIB + ", accepted by openai's client.webhooks.verify_signature"),
    scheme("lithic", typed("event_type", "card.created"), "card.created", svix_names=False,
           reference=SW_LIB + ", accepted by lithic's client.webhooks.verify_signature"),
    scheme("brex", typed("event_type", "EXPENSE_PAYMENT_UPDATED"), "EXPENSE_PAYMENT_UPDATED",
           svix_names=False, reference=SW_LIB + "; https://developer.brex.com/docs/webhooks/"),
    scheme("incident-io", typed("event_type", "public_incident.incident_created_v2"),
           "public_incident.incident_created_v2", svix_names=False,
           reference=SW_LIB + "; https://docs.incident.io/api-reference/webhooks"),
    scheme("render", typed("type", "deploy_ended"), "deploy_ended", svix_names=False,
           reference=SW_LIB + "; https://render.com/docs/webhooks"),
    scheme("beehiiv", typed("event_type", "post.sent"), "post.sent", svix_names=True,
           reference=SVIX_LIB + "; beehiiv sends through Svix"),
    scheme("guesty", typed("event", "reservation.new"), "reservation.new", svix_names=True,
           reference=SVIX_LIB + "; https://open-api-docs.guesty.com/docs/webhooks-reservations"),
    scheme("nash", typed("type", "job.updated"), "job.updated", svix_names=True,
           reference=SVIX_LIB + "; Nash sends through Svix"),
    scheme("pleo", typed("type", "export.completed"), "export.completed", svix_names=True,
           reference=SVIX_LIB + "; Pleo sends through Svix"),
    scheme("psi-fi", typed("type", "payment.created"), "payment.created", svix_names=True,
           reference=SVIX_LIB + "; Psi-fi sends through Svix"),
    scheme("safebase", typed("type", "access_request.created"), "access_request.created",
           svix_names=True, reference=SVIX_LIB + "; SafeBase sends through Svix"),
    scheme("sardine", typed("type", "case.updated"), "case.updated", svix_names=True,
           reference=SVIX_LIB + "; Sardine sends through Svix"),
    scheme("stych", typed("type", "user.created"), "user.created", svix_names=True,
           reference=SVIX_LIB + "; Stytch sends through Svix (Svix spells the type stych)"),
]  # fmt: skip


class TestStandardWebhooksProviders(VerifierContract, TimestampContract):
    """The contract, for every provider that signs with Standard Webhooks or Svix."""

    SCHEMES = SCHEMES


# ---------------------------------------------------------------------------
# The providers' own verifiers accept what the fixtures send


def signed_now(body: bytes) -> tuple[dict[str, str], int]:
    """webhook-* headers signed now (the providers' verifiers read the real clock)."""
    now = int(time.time())
    return standard_headers(WHSEC, body, now), now


def test_openai_own_verifier_accepts_the_fixture() -> None:
    """openai's verify_signature accepts the request that hookline's open-ai kind accepts."""
    body = typed("type", "response.completed")
    headers, now = signed_now(body)
    client = openai.OpenAI(api_key="sk-test-not-used", webhook_secret=WHSEC)
    client.webhooks.verify_signature(body, headers)
    event = build_verifier("open-ai", {}, [WHSEC]).verify(
        InboundRequest("POST", URL, headers, body), now
    )
    assert event.event_type == "response.completed"


def test_lithic_own_verifier_accepts_the_fixture() -> None:
    """lithic's verify_signature accepts the request that hookline's lithic kind accepts."""
    body = typed("event_type", "card.created")
    headers, now = signed_now(body)
    lithic.Lithic(api_key="not-used").webhooks.verify_signature(
        body.decode(), headers, secret=WHSEC
    )
    event = build_verifier("lithic", {}, [WHSEC]).verify(
        InboundRequest("POST", URL, headers, body), now
    )
    assert event.event_type == "card.created"


def test_replicate_own_validator_accepts_the_fixture() -> None:
    """replicate's webhooks.validate accepts the request that hookline's replicate kind accepts."""
    body = b'{"id": "in_42", "status": "succeeded", "output": null}'
    headers, now = signed_now(body)
    secret = replicate.webhook.WebhookSigningSecret(key=WHSEC)
    replicate.webhook.Webhooks.validate(headers=headers, body=body.decode(), secret=secret)
    event = build_verifier("replicate", {}, [WHSEC]).verify(
        InboundRequest("POST", URL, headers, body), now
    )
    assert event == VerifiedEvent(MSG_ID, "succeeded", float(now))


def test_resend_own_verifier_accepts_the_fixture() -> None:
    """resend's Webhooks.verify accepts the svix-signed request hookline's resend kind accepts."""
    body = typed("type", "email.delivered")
    now = int(time.time())
    headers = svix_headers(WHSEC, body, now)
    resend.Webhooks.verify(
        {
            "payload": body.decode(),
            "headers": {
                "id": headers["svix-id"],
                "timestamp": headers["svix-timestamp"],
                "signature": headers["svix-signature"],
            },
            "webhook_secret": WHSEC,
        }
    )
    event = build_verifier("resend", {}, [WHSEC]).verify(
        InboundRequest("POST", URL, headers, body), now
    )
    assert event.event_type == "email.delivered"


# ---------------------------------------------------------------------------
# Standard Webhooks specifics


def test_any_one_of_several_signatures_verifies() -> None:
    """A webhook-signature with an unknown signature beside a valid one verifies."""
    body = typed("type", "invoice.paid")
    headers = standard_headers(WHSEC, body, NOW)
    foreign = standard_headers(OTHER_WHSEC, body, NOW)["webhook-signature"]
    headers["webhook-signature"] = (
        f"{foreign} v2,bm90IGEgc2lnbmF0dXJl {headers['webhook-signature']}"
    )
    event = build_verifier("standard_webhooks", {}, [WHSEC]).verify(
        InboundRequest("POST", URL, headers, body), NOW
    )
    assert event.event_id == MSG_ID


def test_asymmetric_signatures_verify_with_a_public_key() -> None:
    """A v1a (Ed25519) signature verifies against the sender's whpk_ public key."""
    private_key, public_key = signing.generate_keypair()
    body = typed("type", "invoice.paid")
    headers = signing.headers(private_key, "msg_ed", NOW, body)
    verifier = build_verifier("standard_webhooks", {}, [public_key])
    assert verifier.verify(InboundRequest("POST", URL, headers, body), NOW).event_id == "msg_ed"


def test_a_bare_base64_secret_is_read_as_whsec() -> None:
    """A provider secret given without whsec_ verifies as the svix library reads it."""
    body = typed("type", "invoice.paid")
    bare = WHSEC.removeprefix("whsec_")
    request = InboundRequest("POST", URL, svix_headers(WHSEC, body, NOW), body)
    assert build_verifier("clerk", {}, [bare]).verify(request, NOW).event_id == MSG_ID


def test_a_body_without_a_type_verifies_without_one() -> None:
    """A non-JSON body verifies; its event has no type."""
    body = b"plain text, not JSON"
    headers = standard_headers(WHSEC, body, NOW)
    event = build_verifier("standard_webhooks", {}, [WHSEC]).verify(
        InboundRequest("POST", URL, headers, body), NOW
    )
    assert event == VerifiedEvent(MSG_ID, None, float(NOW))


@pytest.mark.parametrize("kind", ["svix", "clerk", "open-ai"])
def test_a_half_family_of_headers_names_the_missing_one(kind: str) -> None:
    """svix-id and svix-timestamp without svix-signature fail naming svix-signature."""
    body = typed("type", "x")
    headers = svix_headers(WHSEC, body, NOW)
    del headers["svix-signature"]
    reason = reason_of(
        build_verifier(kind, {}, [WHSEC]), InboundRequest("POST", URL, headers, body)
    )
    assert reason == "missing header svix-signature"


@given(
    body=st.binary(max_size=2048),
    msg_id=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40),
    offset=st.integers(min_value=-300, max_value=300),
    flip=st.integers(min_value=0),
)
def test_round_trip_with_hooklines_own_signer(
    body: bytes, msg_id: str, offset: int, flip: int
) -> None:
    """Any body and id signed by hookline's signer verify; any one flipped bit fails."""
    headers = signing.headers([WHSEC], msg_id, NOW + offset, body, svix_headers=True)
    verifier = build_verifier("standard_webhooks", {}, [WHSEC])
    assert verifier.verify(InboundRequest("POST", URL, headers, body), NOW).event_id == msg_id
    if body:
        position = flip % len(body)
        altered = body[:position] + bytes([body[position] ^ 1]) + body[position + 1 :]
        assert reason_of(verifier, InboundRequest("POST", URL, headers, altered)) == NO_MATCH
