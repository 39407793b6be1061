"""Providers that sign with a private key: the source holds only their public key.

Telnyx signs with Ed25519, Orum with RSA (PKCS#1 v1.5, SHA-256). A public key
cannot sign, so a leaked source configuration cannot forge events.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from hookline.domain.verifiers._base import (
    NO_MATCH,
    InboundRequest,
    Options,
    VerifiedEvent,
    Verifier,
    VerifierSpec,
    check_timestamp,
    decode,
    from_body,
    require_header,
    timestamped,
)
from hookline.errors import ValidationError, VerificationFailed

_ED25519_KEY_BYTES = 32
_ED25519_SIGNATURE_BYTES = 64


@dataclass(frozen=True, slots=True)
class _Telnyx:
    """``telnyx-signature-ed25519``: base64 Ed25519 over ``"{telnyx-timestamp}|" + body``."""

    keys: tuple[Ed25519PublicKey, ...]
    tolerance: int

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        signature = decode(require_header(request, "telnyx-signature-ed25519").strip(), "base64")
        timestamp_text = require_header(request, "telnyx-timestamp").strip()
        timestamp = check_timestamp(timestamp_text, now, self.tolerance)
        if signature is None or len(signature) != _ED25519_SIGNATURE_BYTES:
            raise VerificationFailed(NO_MATCH)
        signed = f"{timestamp_text}|".encode() + request.body
        for key in self.keys:
            try:
                key.verify(signature, signed)
            except InvalidSignature:
                continue
            return VerifiedEvent(
                event_id=from_body(request.body, ("data", "id")),
                event_type=from_body(request.body, ("data", "event_type")),
                timestamp=float(timestamp),
            )
        raise VerificationFailed(NO_MATCH)


def _telnyx(options: Options, secrets: Sequence[str]) -> Verifier:
    keys = []
    for index, secret in enumerate(secrets):
        raw = decode(secret.strip(), "base64")
        if raw is None or len(raw) != _ED25519_KEY_BYTES:
            raise ValidationError(
                "secret must be the base64 Ed25519 public key from Telnyx", field=("secrets", index)
            )
        keys.append(Ed25519PublicKey.from_public_bytes(raw))
    return _Telnyx(tuple(keys), options.tolerance())


@dataclass(frozen=True, slots=True)
class _Orum:
    """``Signature``: base64 RSA PKCS#1 v1.5 SHA-256 over the body then its ``created_at``.

    ``created_at`` is the event's time, not the delivery's (a retry keeps it), so it
    is signed but not held to a replay window.
    """

    keys: tuple[RSAPublicKey, ...]

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        signature = decode(require_header(request, "signature").strip(), "base64")
        created_at = from_body(request.body, ("created_at",))
        if created_at is None:
            raise VerificationFailed("orum body has no created_at")
        if not signature:
            raise VerificationFailed(NO_MATCH)
        signed = request.body + created_at.encode()
        for key in self.keys:
            try:
                key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
            except InvalidSignature:
                continue
            return VerifiedEvent()
        raise VerificationFailed(NO_MATCH)


def _rsa_key(text: str, index: int) -> RSAPublicKey:
    """A PEM public key, or its base64 DER body."""
    try:
        if "-----BEGIN" in text:
            key = serialization.load_pem_public_key(text.encode())
        else:
            key = serialization.load_der_public_key(base64.b64decode(text, validate=True))
    except (ValueError, binascii.Error, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, RSAPublicKey):
        raise ValidationError("secret must be an RSA public key (PEM)", field=("secrets", index))
    return key


def _orum(options: Options, secrets: Sequence[str]) -> Verifier:
    return _Orum(tuple(_rsa_key(secret.strip(), index) for index, secret in enumerate(secrets)))


SPECS = {
    "telnyx": VerifierSpec(provider="Telnyx", build=_telnyx, options=timestamped()),
    "orum-io": VerifierSpec(provider="Orum", build=_orum),
}
