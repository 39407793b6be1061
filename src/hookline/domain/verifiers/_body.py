"""Providers that sign the body alone: an HMAC of the raw bytes in one header.

No timestamp is signed, so these schemes have no replay window: a captured request
verifies again, and the dedup window is what stops a replay from being stored twice.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import cast
from urllib.parse import parse_qs, urlsplit

from hookline.domain.verifiers._base import (
    DEFAULT_TOLERANCE,
    NO_MATCH,
    Encoding,
    HmacKeys,
    InboundRequest,
    Located,
    Options,
    VerifiedEvent,
    Verifier,
    VerifierSpec,
    check_timestamp,
    decode,
    hmac_keys,
    invalid,
    matches_any,
    require_header,
    require_match,
    secret_bytes,
)
from hookline.errors import VerificationFailed


def _header(name: str) -> Located:
    return Located(header=name)


def _path(path: str) -> Located:
    return Located(path=tuple(path.split(".")))


def _first(request: InboundRequest, places: Sequence[Located]) -> str | None:
    for place in places:
        value = place.read(request)
        if value:
            return value
    return None


@dataclass(frozen=True, slots=True)
class BodyHmac:
    """``<header>: <prefix><HMAC of the body, hex or base64>``; id and type where told."""

    keys: HmacKeys
    header: str
    encoding: Encoding
    prefix: str = ""
    ids: tuple[Located, ...] = ()
    types: tuple[Located, ...] = ()

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        """Check the body's MAC; read the id and type from where this provider puts them."""
        value = require_header(request, self.header).strip()
        if not value.startswith(self.prefix):
            raise VerificationFailed(f"{self.header} is not {self.prefix}<{self.encoding}>")
        provided = decode(value.removeprefix(self.prefix), self.encoding)
        require_match(self.keys, (request.body,), [provided])
        return VerifiedEvent(
            event_id=_first(request, self.ids), event_type=_first(request, self.types)
        )


def _body_hmac(
    provider: str,
    header: str,
    encoding: Encoding,
    *,
    prefix: str = "",
    algorithm: str = "sha256",
    ids: Sequence[Located] = (),
    types: Sequence[Located] = (),
) -> VerifierSpec:
    def build(options: Options, secrets: Sequence[str]) -> Verifier:
        return BodyHmac(
            hmac_keys(secrets, algorithm), header, encoding, prefix, tuple(ids), tuple(types)
        )

    return VerifierSpec(provider=provider, build=build)


@dataclass(frozen=True, slots=True)
class _DocuSign:
    """``X-DocuSign-Signature-1`` ... ``-100``: one base64 HMAC-SHA256 per active Connect key."""

    keys: HmacKeys

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        numbered = [
            value
            for name, value in request.headers.items()
            if name.startswith("x-docusign-signature-")
        ]
        if not numbered:
            raise VerificationFailed("missing header x-docusign-signature-1")
        require_match(self.keys, (request.body,), [decode(v.strip(), "base64") for v in numbered])
        return VerifiedEvent(event_type=_path("event").read(request))


def _docusign(options: Options, secrets: Sequence[str]) -> Verifier:
    return _DocuSign(hmac_keys(secrets))


def _easypost(options: Options, secrets: Sequence[str]) -> Verifier:
    # EasyPost's own validate_webhook keys the HMAC with the NFKD form of the secret.
    normalised = [unicodedata.normalize("NFKD", secret) for secret in secrets]
    return BodyHmac(
        hmac_keys(normalised),
        "x-hmac-signature",
        "hex",
        "hmac-sha256-hex=",
        ids=(_path("id"),),
        types=(_path("description"),),
    )


@dataclass(frozen=True, slots=True)
class _Checkbook:
    """``signature: nonce=<n>,signature=<hex>``, the HMAC-SHA256 of the body then the nonce."""

    keys: HmacKeys

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        parts = dict(
            item.strip().partition("=")[::2]
            for item in require_header(request, "signature").split(",")
        )
        nonce, signature = parts.get("nonce"), parts.get("signature")
        if not nonce or not signature:
            raise VerificationFailed("signature is not nonce=...,signature=...")
        require_match(self.keys, (request.body, nonce.encode()), [decode(signature, "hex")])
        return VerifiedEvent(event_type=_path("type").read(request))


def _checkbook(options: Options, secrets: Sequence[str]) -> Verifier:
    return _Checkbook(hmac_keys(secrets))


@dataclass(frozen=True, slots=True)
class _Meta:
    """``X-Hub-Signature-256: sha256=<hex>`` with the app secret, and the GET subscription check.

    Meta first calls ``GET ?hub.mode=subscribe&hub.verify_token=...&hub.challenge=...``
    and expects the challenge back when the token is the one configured.
    """

    signed: BodyHmac
    verify_tokens: tuple[bytes, ...]

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        if request.method != "GET":
            return self.signed.verify(request, now)
        query = _query(request)
        token = query.get("hub.verify_token", "").encode()
        if query.get("hub.mode") != "subscribe" or not query.get("hub.challenge"):
            raise VerificationFailed("meta GET is not a subscription check")
        if not matches_any(token, self.verify_tokens):
            raise VerificationFailed("verify token did not match")
        return VerifiedEvent()

    def answer(self, request: InboundRequest) -> bytes | None:
        """The challenge of a verified subscription check, as Meta wants it back."""
        if request.method != "GET":
            return None
        return _query(request)["hub.challenge"].encode()


def _query(request: InboundRequest) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(request.url).query).items()}


def _meta(options: Options, secrets: Sequence[str]) -> Verifier:
    token = options.required_text("verify_token")
    signed = BodyHmac(
        hmac_keys(secrets), "x-hub-signature-256", "hex", "sha256=", types=(_path("object"),)
    )
    return _Meta(signed, (token.encode(),))


@dataclass(frozen=True, slots=True)
class _VapiSecret:
    """Vapi's plain credential: ``X-Vapi-Secret`` is the secret itself (no MAC of the body)."""

    secrets: tuple[bytes, ...]

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        provided = require_header(request, "x-vapi-secret").strip().encode()
        if not matches_any(provided, self.secrets):
            raise VerificationFailed(NO_MATCH)
        return VerifiedEvent(event_type=_path("message.type").read(request))


def _vapi(options: Options, secrets: Sequence[str]) -> Verifier:
    mode = options.text("mode", "hmac", choices=("hmac", "secret"))
    if mode == "secret":
        return _VapiSecret(tuple(secret_bytes(secrets)))
    return BodyHmac(hmac_keys(secrets), "x-vapi-signature", "hex", types=(_path("message.type"),))


@dataclass(frozen=True, slots=True)
class _GenericHmac:
    """Any HMAC scheme: which header, which encoding, which prefix, what is signed."""

    keys: HmacKeys
    header: str
    encoding: Encoding
    prefix: str
    timestamp_header: str | None
    tolerance: int

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        value = require_header(request, self.header).strip()
        if not value.startswith(self.prefix):
            raise VerificationFailed(f"{self.header} does not start with the configured prefix")
        parts: tuple[bytes, ...] = (request.body,)
        timestamp: int | None = None
        if self.timestamp_header is not None:
            timestamp_text = require_header(request, self.timestamp_header).strip()
            timestamp = check_timestamp(timestamp_text, now, self.tolerance)
            parts = (f"{timestamp_text}.".encode(), request.body)
        signature = decode(value.removeprefix(self.prefix), self.encoding)
        require_match(self.keys, parts, [signature])
        return VerifiedEvent(timestamp=None if timestamp is None else float(timestamp))


def _generic_hmac(options: Options, secrets: Sequence[str]) -> Verifier:
    algorithm = options.required_text("algorithm", choices=("sha1", "sha256", "sha512"))
    header = options.required_header("header")
    encoding = options.text("encoding", "hex", choices=("hex", "base64", "base64url"))
    prefix = options.text("prefix", "")
    signed = options.text("signed", "body", choices=("body", "timestamp.body"))
    secret_encoding = options.text("secret_encoding", "utf-8", choices=("utf-8", "hex", "base64"))
    timestamp_header = options.header("timestamp_header")
    if signed == "timestamp.body" and timestamp_header is None:
        raise invalid(
            "timestamp_header is required when signed is timestamp.body", "timestamp_header"
        )
    if signed == "body" and timestamp_header is not None:
        raise invalid("timestamp_header needs signed: timestamp.body", "timestamp_header")
    # The replay window applies only where a timestamp is signed.
    tolerance = options.tolerance() if timestamp_header is not None else DEFAULT_TOLERANCE
    return _GenericHmac(
        keys=HmacKeys(secret_bytes(secrets, secret_encoding or "utf-8"), algorithm),
        header=header,
        encoding=cast(Encoding, encoding),
        prefix=prefix or "",
        timestamp_header=timestamp_header,
        tolerance=tolerance,
    )


_GENERIC_OPTIONS = MappingProxyType(
    {
        "algorithm": "sha1, sha256 or sha512 (required)",
        "header": "the header holding the signature (required)",
        "encoding": "hex (default), base64 or base64url",
        "prefix": "text before the signature in the header, such as sha256=",
        "signed": "body (default) or timestamp.body",
        "timestamp_header": "the header of the signed Unix timestamp (with signed: timestamp.body)",
        "secret_encoding": "how the secrets spell the key: utf-8 (default), hex or base64",
        "tolerance": f"the replay window in seconds with a timestamp (default {DEFAULT_TOLERANCE})",
    }
)

SPECS = {
    "github": _body_hmac(
        "GitHub", "x-hub-signature-256", "hex", prefix="sha256=",
        ids=(_header("x-github-delivery"),), types=(_header("x-github-event"),),
    ),
    "shopify": _body_hmac(
        "Shopify", "x-shopify-hmac-sha256", "base64",
        ids=(_header("x-shopify-webhook-id"), _header("x-shopify-event-id")),
        types=(_header("x-shopify-topic"),),
    ),
    "docusign": VerifierSpec(provider="DocuSign Connect", build=_docusign),
    "easypost": VerifierSpec(provider="EasyPost", build=_easypost),
    "merge": _body_hmac(
        "Merge", "x-merge-webhook-signature", "base64url", types=(_path("hook.event"),)
    ),
    "meta": VerifierSpec(
        provider="Meta (Facebook, Instagram, WhatsApp)",
        build=_meta,
        options=MappingProxyType(
            {"verify_token": "the token Meta's GET subscription check must carry (required)"}
        ),
        methods=frozenset({"GET"}),
        signs_url=True,
    ),
    "nango": _body_hmac("Nango", "x-nango-hmac-sha256", "hex", types=(_path("type"),)),
    "rutter": _body_hmac(
        "Rutter", "x-rutter-signature", "base64", prefix="sha256=", types=(_path("type"),)
    ),
    "segment": _body_hmac(
        "Segment", "x-signature", "hex", algorithm="sha1",
        ids=(_path("messageId"),), types=(_path("type"),),
    ),
    "veriff": _body_hmac(
        "Veriff", "x-hmac-signature", "hex",
        types=(_path("action"), _path("verification.status")),
    ),
    "vapi": VerifierSpec(
        provider="Vapi",
        build=_vapi,
        credential_headers=frozenset({"x-vapi-secret"}),
        options=MappingProxyType(
            {"mode": "hmac (default: X-Vapi-Signature) or secret (the legacy X-Vapi-Secret)"}
        ),
    ),
    "checkbook": VerifierSpec(provider="Checkbook", build=_checkbook),
    "hmac": VerifierSpec(provider="any HMAC sender", build=_generic_hmac, options=_GENERIC_OPTIONS),
}  # fmt: skip
