"""Providers that sign with a private key: Telnyx (Ed25519) and Orum (RSA).

The test holds the key pairs: it signs with the private key as each provider
documents, and the source holds the public key. Telnyx's own verifier
(``telnyx.lib.webhook_verification``, in the official telnyx package) accepts the
Telnyx fixture; Orum publishes no library, so its signature is computed from its
documented algorithm.
"""

from __future__ import annotations

import base64
import time

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from telnyx.lib.webhook_verification import verify_webhook_signature

from hookline.domain.verifiers import InboundRequest, VerifiedEvent, build_verifier
from hookline.errors import ValidationError

from support.verifier_contract import (
    COMPUTED,
    NOW,
    OFFICIAL,
    URL,
    Scheme,
    TimestampContract,
    VerifierContract,
    reason_of,
)


def ed25519_pair() -> tuple[Ed25519PrivateKey, str]:
    """A private key and its public key as Telnyx shows it (base64 of the raw 32 bytes)."""
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return private, base64.b64encode(raw).decode()


TELNYX_KEY, TELNYX_PUBLIC = ed25519_pair()
TELNYX_OTHER_KEY, TELNYX_OTHER_PUBLIC = ed25519_pair()
TELNYX_PRIVATE = {TELNYX_PUBLIC: TELNYX_KEY, TELNYX_OTHER_PUBLIC: TELNYX_OTHER_KEY}


def telnyx_headers(public_key: str, body: bytes, timestamp: int) -> dict[str, str]:
    """telnyx-signature-ed25519: base64 Ed25519 of "timestamp|body" (the private key's)."""
    signature = TELNYX_PRIVATE[public_key].sign(f"{timestamp}|".encode() + body)
    return {
        "telnyx-signature-ed25519": base64.b64encode(signature).decode(),
        "telnyx-timestamp": str(timestamp),
    }


def rsa_pair() -> tuple[rsa.RSAPrivateKey, str]:
    """An RSA-2048 private key and its public key in PEM."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, pem.decode()


ORUM_KEY, ORUM_PUBLIC = rsa_pair()
ORUM_OTHER_KEY, ORUM_OTHER_PUBLIC = rsa_pair()
ORUM_PRIVATE = {ORUM_PUBLIC: ORUM_KEY, ORUM_OTHER_PUBLIC: ORUM_OTHER_KEY}
ORUM_CREATED_AT = "2024-01-15T10:00:00.000Z"


def orum_headers(public_key: str, body: bytes, timestamp: int) -> dict[str, str]:
    """Signature: base64 RSA PKCS#1 v1.5 SHA-256 of the body then its created_at."""
    signed = body + ORUM_CREATED_AT.encode()
    signature = ORUM_PRIVATE[public_key].sign(signed, padding.PKCS1v15(), hashes.SHA256())
    return {"Signature": base64.b64encode(signature).decode()}


TELNYX_BODY = (
    b'{"data": {"event_type": "call.initiated", "id": "0ccc7b54-4df3-4bca-a65a-3da1ecc777f0", '
    b'"payload": {"call_control_id": "in_42"}}}'
)
ORUM_BODY = (
    b'{"id": "in_42", "event": "transfer_updated", "created_at": "2024-01-15T10:00:00.000Z"}'
)

SCHEMES = [
    Scheme(
        "telnyx", "telnyx", TELNYX_PUBLIC, TELNYX_OTHER_PUBLIC, telnyx_headers,
        "telnyx-signature-ed25519",
        VerifiedEvent("0ccc7b54-4df3-4bca-a65a-3da1ecc777f0", "call.initiated", float(NOW)),
        OFFICIAL, "accepted by telnyx.lib.webhook_verification.verify_webhook_signature",
        body=TELNYX_BODY, timestamp_header="telnyx-timestamp",
    ),
    Scheme(
        "orum-io", "orum-io", ORUM_PUBLIC, ORUM_OTHER_PUBLIC, orum_headers, "signature",
        VerifiedEvent(), COMPUTED, "https://docs.orum.io/api-reference/webhooks/secure-webhooks",
        body=ORUM_BODY,
    ),
]  # fmt: skip


class TestAsymmetricProviders(VerifierContract, TimestampContract):
    """The contract, for the providers that sign with a private key."""

    SCHEMES = SCHEMES


def test_telnyx_own_verifier_accepts_the_fixture() -> None:
    """Telnyx's verify_webhook_signature accepts what hookline's telnyx kind accepts."""
    now = int(time.time())
    headers = telnyx_headers(TELNYX_PUBLIC, TELNYX_BODY, now)
    verify_webhook_signature(TELNYX_BODY, headers, TELNYX_PUBLIC)  # raises unless Telnyx agrees
    event = build_verifier("telnyx", {}, [TELNYX_PUBLIC]).verify(
        InboundRequest("POST", URL, headers, TELNYX_BODY), now
    )
    assert event.event_type == "call.initiated"


def test_telnyx_signature_of_another_timestamp_fails() -> None:
    """The timestamp is signed: the same signature with another timestamp fails."""
    headers = telnyx_headers(TELNYX_PUBLIC, TELNYX_BODY, NOW)
    headers["telnyx-timestamp"] = str(NOW + 1)
    verifier = build_verifier("telnyx", {}, [TELNYX_PUBLIC])
    assert reason_of(verifier, InboundRequest("POST", URL, headers, TELNYX_BODY)) == (
        "no signature matched"
    )


def test_orum_key_may_be_given_as_base64_der() -> None:
    """The public key as base64 DER (a PEM without its armour) verifies too."""
    der = ORUM_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    verifier = build_verifier("orum-io", {}, [base64.b64encode(der).decode()])
    request = InboundRequest("POST", URL, orum_headers(ORUM_PUBLIC, ORUM_BODY, NOW), ORUM_BODY)
    assert verifier.verify(request, NOW) == VerifiedEvent()


def test_orum_body_without_created_at_fails() -> None:
    """created_at is part of what is signed: a body without it fails, saying so."""
    body = b'{"id": "in_42"}'
    request = InboundRequest("POST", URL, orum_headers(ORUM_PUBLIC, body, NOW), body)
    reason = reason_of(build_verifier("orum-io", {}, [ORUM_PUBLIC]), request)
    assert reason == "orum body has no created_at"


@pytest.mark.parametrize(
    ("kind", "secret"),
    [
        ("telnyx", "not base64!"),
        ("telnyx", base64.b64encode(b"short").decode()),
        ("orum-io", "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----"),
        ("orum-io", TELNYX_PUBLIC),
    ],
)
def test_a_key_that_is_not_the_providers_kind_of_key_is_refused(kind: str, secret: str) -> None:
    """A malformed public key, or one of another algorithm, is refused naming the secret."""
    with pytest.raises(ValidationError) as caught:
        build_verifier(kind, {}, [secret])
    assert caught.value.field == ("secrets", 0)
