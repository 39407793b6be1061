"""Standard Webhooks signing and verification (symmetric ``v1`` and asymmetric ``v1a``).

What is signed is ``f"{msg_id}.{timestamp}.".encode() + body``: the exact body
bytes, so a receiver that re-serialises JSON before verifying will fail, by design.

Secrets, as the spec serialises them:

* ``whsec_<base64>``: an HMAC-SHA256 key, signatures ``v1,<base64>``. A bare base64
  string is read the same way, as the ``standardwebhooks`` library does.
* ``whsk_<base64>``: an Ed25519 private key, signatures ``v1a,<base64>``. The key is
  the 32-byte seed (what the spec's reference libraries use); the 64-byte
  seed-and-public-key form of libsodium and Svix is accepted too.
* ``whpk_<base64>``: the raw 32-byte Ed25519 public key; it verifies, it cannot sign.

Everything here is pure: no I/O, and the clock and the random source are arguments.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from secrets import token_bytes as _token_bytes
from typing import Literal, TypeAlias

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hookline.errors import HooklineError

__all__ = [
    "DEFAULT_TOLERANCE",
    "SECRET_BYTES",
    "Reason",
    "SignatureError",
    "Signer",
    "Signers",
    "generate_keypair",
    "generate_secret",
    "headers",
    "public_key",
    "sign",
    "signature_header",
    "verify",
]

SYMMETRIC_PREFIX = "whsec_"
PRIVATE_KEY_PREFIX = "whsk_"
PUBLIC_KEY_PREFIX = "whpk_"

# Svix generates 24-byte secrets (its API documents "recommended size: 24") and the
# spec asks for at least 24 bytes, so a new secret is exactly that.
SECRET_BYTES = 24
# Ed25519 keys are made from a 32-byte seed (RFC 8032).
_SEED_BYTES = 32
_PUBLIC_KEY_BYTES = 32
_ED25519_SIGNATURE_BYTES = 64

# Five minutes either way, the tolerance of the standardwebhooks and svix libraries.
DEFAULT_TOLERANCE = 300

# A Unix timestamp in seconds has 10 digits until the year 2286; the bound keeps a
# hostile header from costing a long int parse.
_MAX_TIMESTAMP_DIGITS = 20

Reason: TypeAlias = Literal[
    "missing_headers",
    "timestamp_too_old",
    "timestamp_in_future",
    "no_matching_signature",
    "bad_secret",
]

_HEADER_FAMILIES = (
    ("webhook-id", "webhook-timestamp", "webhook-signature"),
    ("svix-id", "svix-timestamp", "svix-signature"),
)
_WANTED_HEADERS = frozenset(name for family in _HEADER_FAMILIES for name in family)


class SignatureError(HooklineError):
    """A webhook did not verify, or a secret could not be read; ``reason`` says which."""

    code = "invalid_signature"

    def __init__(self, reason: Reason, detail: str | None = None) -> None:
        super().__init__(detail or reason.replace("_", " "))
        self.reason: Reason = reason


def _b64decode(value: str) -> bytes:
    """Decode standard base64, padded or not; raise ``bad_secret`` on anything else."""
    # Unpadded secrets exist in the wild (standardwebhooks pads them too), but unlike
    # that library we refuse stray characters rather than silently dropping them.
    try:
        return base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError("bad_secret", "secret is not valid base64") from exc


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _signed_prefix(msg_id: str, timestamp: int) -> bytes:
    return f"{msg_id}.{timestamp}.".encode()


class Signer:
    """One decoded secret, ready to sign and verify without re-parsing it.

    Build it with :meth:`from_secret`; the delivery worker keeps these (or relies on
    the cache behind the module functions) so base64 and key set-up happen once.
    """

    __slots__ = ("_hmac", "_private_key", "_public_key")

    def __init__(
        self,
        *,
        hmac_key: bytes | None = None,
        private_key: Ed25519PrivateKey | None = None,
        public_key: Ed25519PublicKey | None = None,
    ) -> None:
        """Hold exactly one kind of key: an HMAC key, an Ed25519 private or public key."""
        if sum(k is not None for k in (hmac_key, private_key, public_key)) != 1:
            raise SignatureError("bad_secret", "a Signer holds exactly one key")
        if hmac_key is not None and not hmac_key:
            raise SignatureError("bad_secret", "secret is empty")
        # HMAC keyed once; copying the keyed state per message skips re-hashing the key
        # pads, which is most of the cost for typical small payloads.
        self._hmac = None if hmac_key is None else hmac.new(hmac_key, digestmod=hashlib.sha256)
        self._private_key = private_key
        if private_key is not None and public_key is None:
            public_key = private_key.public_key()
        self._public_key = public_key

    @classmethod
    def from_secret(cls, secret: str) -> Signer:
        """Parse ``whsec_``, ``whsk_``, ``whpk_`` or bare base64 (a symmetric key)."""
        secret = secret.strip()
        if secret.startswith(PRIVATE_KEY_PREFIX):
            return cls(private_key=_private_key_from(_b64decode(secret[len(PRIVATE_KEY_PREFIX) :])))
        if secret.startswith(PUBLIC_KEY_PREFIX):
            raw = _b64decode(secret[len(PUBLIC_KEY_PREFIX) :])
            if len(raw) != _PUBLIC_KEY_BYTES:
                raise SignatureError("bad_secret", "an Ed25519 public key is 32 bytes")
            return cls(public_key=Ed25519PublicKey.from_public_bytes(raw))
        secret = secret.removeprefix(SYMMETRIC_PREFIX)
        return cls(hmac_key=_b64decode(secret))

    @property
    def version(self) -> Literal["v1", "v1a"]:
        """The signature version this key makes and checks."""
        return "v1" if self._hmac is not None else "v1a"

    @property
    def can_sign(self) -> bool:
        """False only for a public key (``whpk_``)."""
        return self._hmac is not None or self._private_key is not None

    def public_key(self) -> str:
        """The ``whpk_`` public key to give consumers (asymmetric keys only)."""
        if self._public_key is None:
            raise SignatureError("bad_secret", "a symmetric secret has no public key")
        raw = self._public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return PUBLIC_KEY_PREFIX + _b64encode(raw)

    def _sign_prefixed(self, prefix: bytes, body: bytes) -> str:
        if self._hmac is not None:
            return "v1," + _b64encode(_digest(self._hmac, prefix, body))
        if self._private_key is None:
            raise SignatureError("bad_secret", "a public key (whpk_) cannot sign")
        return "v1a," + _b64encode(self._private_key.sign(prefix + body))

    def sign(self, msg_id: str, timestamp: int, body: bytes) -> str:
        """Return ``v1,<base64 HMAC>`` or ``v1a,<base64 Ed25519 signature>``."""
        return self._sign_prefixed(_signed_prefix(msg_id, timestamp), body)

    def _matches(self, prefix: bytes, body: bytes, candidates: Sequence[tuple[str, bytes]]) -> bool:
        """Tell whether any ``(version, signature bytes)`` candidate is ours and valid."""
        if self._hmac is not None:
            expected = _digest(self._hmac, prefix, body)
            # compare_digest, not ==: an early-exit comparison would let a forger learn
            # the expected MAC byte by byte from response times.
            return any(
                version == "v1" and hmac.compare_digest(expected, provided)
                for version, provided in candidates
            )
        public = self._public_key
        if public is None:
            return False
        data = prefix + body
        for version, provided in candidates:
            if version != "v1a" or len(provided) != _ED25519_SIGNATURE_BYTES:
                continue
            try:
                public.verify(provided, data)
            except InvalidSignature:
                continue
            return True
        return False


def _digest(keyed: hmac.HMAC, prefix: bytes, body: bytes) -> bytes:
    mac = keyed.copy()
    # Two updates rather than prefix + body: no copy of a large body.
    mac.update(prefix)
    mac.update(body)
    return mac.digest()


def _private_key_from(raw: bytes) -> Ed25519PrivateKey:
    if len(raw) == _SEED_BYTES:
        return Ed25519PrivateKey.from_private_bytes(raw)
    if len(raw) == _SEED_BYTES + _PUBLIC_KEY_BYTES:
        # libsodium / ed25519-compact (Svix's server) store seed || public key; the
        # public half must be the seed's, or the key is corrupt.
        key = Ed25519PrivateKey.from_private_bytes(raw[:_SEED_BYTES])
        derived = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        if not hmac.compare_digest(derived, raw[_SEED_BYTES:]):
            raise SignatureError("bad_secret", "Ed25519 key halves do not match")
        return key
    raise SignatureError("bad_secret", "an Ed25519 private key is 32 (or 64) bytes")


# Endpoint secrets arrive as strings from storage on every delivery; caching the
# parsed Signer keeps the hot path to one HMAC. Only successes are cached.
@lru_cache(maxsize=4096)
def _signer_for(secret: str) -> Signer:
    return Signer.from_secret(secret)


Signers: TypeAlias = str | Signer | Sequence[str | Signer]


def _as_signers(secrets: Signers) -> list[Signer]:
    # A str is itself a Sequence[str], so it must be recognised before the sequence case.
    items: Iterable[str | Signer] = (secrets,) if isinstance(secrets, (str, Signer)) else secrets
    signers = [item if isinstance(item, Signer) else _signer_for(item) for item in items]
    if not signers:
        raise SignatureError("bad_secret", "no secret given")
    return signers


def generate_secret(token_bytes: Callable[[int], bytes] = _token_bytes) -> str:
    """Return a new ``whsec_`` secret of :data:`SECRET_BYTES` random bytes."""
    return SYMMETRIC_PREFIX + _b64encode(token_bytes(SECRET_BYTES))


def generate_keypair(token_bytes: Callable[[int], bytes] = _token_bytes) -> tuple[str, str]:
    """Return a new ``(whsk_ private key, whpk_ public key)`` pair from a random seed."""
    seed = token_bytes(_SEED_BYTES)
    private = PRIVATE_KEY_PREFIX + _b64encode(seed)
    return private, _signer_for(private).public_key()


def public_key(secret: str) -> str:
    """Return the ``whpk_`` public key of a ``whsk_`` (or ``whpk_``) key."""
    return _signer_for(secret).public_key()


def sign(secret: str | Signer, msg_id: str, timestamp: int, body: bytes) -> str:
    """Return one signature, ``v1,...`` for ``whsec_`` secrets or ``v1a,...`` for ``whsk_``."""
    signer = secret if isinstance(secret, Signer) else _signer_for(secret)
    return signer.sign(msg_id, timestamp, body)


def signature_header(secrets: Signers, msg_id: str, timestamp: int, body: bytes) -> str:
    """Return the ``webhook-signature`` value: one signature per secret, space-separated.

    Pass the current secret and those still in a rotation's grace period, so a
    receiver holding either one verifies.
    """
    prefix = _signed_prefix(msg_id, timestamp)
    # dict.fromkeys: a secret listed twice would only repeat its signature.
    signatures = dict.fromkeys(s._sign_prefixed(prefix, body) for s in _as_signers(secrets))
    return " ".join(signatures)


def headers(
    secrets: Signers,
    msg_id: str,
    timestamp: int,
    body: bytes,
    *,
    svix_headers: bool = False,
) -> dict[str, str]:
    """Return the headers to send; with ``svix_headers`` also the ``svix-*`` copies.

    The ``svix-*`` copies let receivers still on Svix's own SDKs verify unchanged.
    """
    values = (msg_id, str(timestamp), signature_header(secrets, msg_id, timestamp, body))
    families = _HEADER_FAMILIES if svix_headers else _HEADER_FAMILIES[:1]
    return {name: value for family in families for name, value in zip(family, values, strict=True)}


def _parse_signatures(value: str) -> list[tuple[str, bytes]]:
    """Split ``v1,abc v1a,def`` into (version, bytes); malformed entries are dropped."""
    parsed: list[tuple[str, bytes]] = []
    for entry in value.split():
        version, comma, encoded = entry.partition(",")
        if not comma or version not in ("v1", "v1a"):
            continue  # unknown versions are for other verifiers (forward compatibility)
        try:
            raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        parsed.append((version, raw))
    return parsed


def _pick_headers(received: Mapping[str, str]) -> tuple[str, str, str]:
    lowered: dict[str, str] = {}
    for name, value in received.items():
        key = name.lower()
        if key in _WANTED_HEADERS:
            lowered[key] = value
    # Take one family whole: mixing webhook-id with svix-timestamp would verify a
    # triple that no sender produced.
    for id_name, timestamp_name, signature_name in _HEADER_FAMILIES:
        msg_id = lowered.get(id_name, "")
        timestamp = lowered.get(timestamp_name, "").strip()
        signature = lowered.get(signature_name, "")
        if msg_id and timestamp and signature:
            return msg_id, timestamp, signature
    raise SignatureError("missing_headers", "webhook-id, -timestamp and -signature are required")


def verify(
    secret_or_secrets: Signers,
    body: bytes,
    headers: Mapping[str, str],
    now: int,
    tolerance: int = DEFAULT_TOLERANCE,
) -> None:
    """Check a received webhook; return quietly or raise :class:`SignatureError`.

    Reads ``webhook-*`` headers, else ``svix-*`` (names case-insensitive). The
    timestamp must be within ``tolerance`` seconds of ``now``; any one signature in
    the header made by any one of the secrets is enough.
    """
    signers = _as_signers(secret_or_secrets)
    msg_id, timestamp_text, signature_value = _pick_headers(headers)
    # Digits only: int() would also take "+5", " 5", "1_000" or non-ASCII digits.
    if not (
        timestamp_text.isascii()
        and timestamp_text.isdigit()
        and len(timestamp_text) <= _MAX_TIMESTAMP_DIGITS
    ):
        raise SignatureError("missing_headers", "webhook-timestamp is not a Unix timestamp")
    timestamp = int(timestamp_text)
    # Timestamp first: a replayed message is rejected without any crypto work.
    if timestamp < now - tolerance:
        raise SignatureError("timestamp_too_old")
    if timestamp > now + tolerance:
        raise SignatureError("timestamp_in_future")
    candidates = _parse_signatures(signature_value)
    # The header text, not int(text) re-rendered, is what the sender put in the signed
    # content; the two differ only if the sender wrote leading zeros.
    prefix = f"{msg_id}.{timestamp_text}.".encode()
    if candidates and any(s._matches(prefix, body, candidates) for s in signers):
        return
    raise SignatureError("no_matching_signature")
