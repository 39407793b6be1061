"""Providers whose signature covers, or travels in, the URL they called (Twilio, HubSpot, PandaDoc).

The gateway passes these verifiers the URL as the provider called it: behind a
proxy, ``HOOKLINE_PUBLIC_URL`` must be the public base.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from urllib.parse import parse_qs, parse_qsl, urlsplit, urlunsplit

from hookline.domain.verifiers._base import (
    NO_MATCH,
    HmacKeys,
    InboundRequest,
    Options,
    VerifiedEvent,
    Verifier,
    VerifierSpec,
    check_timestamp,
    decode,
    from_body,
    hmac_keys,
    require_header,
    require_match,
    secret_bytes,
    timestamped,
)
from hookline.errors import VerificationFailed

_TWILIO_ALGORITHMS = MappingProxyType({"HMAC_SHA1": "sha1", "HMAC_SHA256": "sha256"})
_FORM_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True, slots=True)
class _Twilio:
    """``X-Twilio-Signature``: base64 HMAC of the URL plus the sorted form parameters.

    As Twilio's ``RequestValidator``: a JSON body is covered by the ``bodySHA256``
    query parameter (the body's SHA-256, hex) and the signature then covers the URL
    alone; the URL is tried without and with its default port, since Twilio signs
    either; ``X-Twilio-Webhooks-Signature-Settings: ...,algorithm=HMAC_SHA256``
    selects SHA-256 (shared-key signing), SHA-1 otherwise.
    """

    keys: Mapping[str, HmacKeys]

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        signature = require_header(request, "x-twilio-signature")
        keys = self.keys.get(
            _twilio_algorithm(request.header("x-twilio-webhooks-signature-settings"))
        )
        if keys is None:
            raise VerificationFailed("unsupported twilio signature algorithm")
        query = parse_qs(urlsplit(request.url).query)
        if "bodySHA256" in query:
            _check_body_hash(request.body, query["bodySHA256"][0])
            parameters = ""
        else:
            parameters = _twilio_form_text(request)
        provided = [decode(signature.strip(), "base64")]
        for url in _twilio_url_variants(request.url):
            if keys.matches(((url + parameters).encode(),), provided):
                return VerifiedEvent(event_id=request.header("i-twilio-idempotency-token"))
        raise VerificationFailed(NO_MATCH)


def _twilio_algorithm(settings: str | None) -> str:
    for part in (settings or "").split(","):
        name, separator, value = part.partition("=")
        if separator and name.strip() == "algorithm" and value.strip():
            return value.strip().upper()
    return "HMAC_SHA1"


def _check_body_hash(body: bytes, expected_hex: str) -> None:
    computed = hashlib.sha256(body).hexdigest().encode()
    if not hmac.compare_digest(computed, expected_hex.strip().lower().encode()):
        raise VerificationFailed("body does not match bodySHA256")


def _twilio_form_text(request: InboundRequest) -> str:
    """Form parameters as Twilio signs them: names sorted, each name's values sorted."""
    if not request.body:
        return ""
    content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
    if content_type != _FORM_TYPE:
        raise VerificationFailed("twilio body is neither form-encoded nor covered by bodySHA256")
    try:
        pairs = parse_qsl(request.body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise VerificationFailed("twilio form body is not UTF-8") from None
    values: dict[str, set[str]] = {}
    for name, value in pairs:
        values.setdefault(name, set()).add(value)
    return "".join(name + value for name in sorted(values) for value in sorted(values[name]))


def _twilio_url_variants(url: str) -> list[str]:
    """The URL without its port and with the scheme's default port, as Twilio's validator."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise VerificationFailed("url has an invalid port") from None
    host = parts.netloc.rsplit(":", 1)[0] if port else parts.netloc
    default_port = 443 if parts.scheme == "https" else 80
    with_port = parts.netloc if port else f"{parts.netloc}:{default_port}"
    return [
        urlunsplit(parts._replace(netloc=host)),
        urlunsplit(parts._replace(netloc=with_port)),
    ]


def _twilio(options: Options, secrets: Sequence[str]) -> Verifier:
    keys = secret_bytes(secrets)
    return _Twilio(
        MappingProxyType(
            {name: HmacKeys(keys, algorithm) for name, algorithm in _TWILIO_ALGORITHMS.items()}
        )
    )


@dataclass(frozen=True, slots=True)
class _HubSpot:
    """HubSpot's request signatures, v3 first.

    v3: ``X-HubSpot-Signature-v3`` is the base64 HMAC-SHA256 of method + URL + body +
    ``X-HubSpot-Request-Timestamp`` (milliseconds, refused outside the window). Without
    it, ``X-HubSpot-Signature`` per ``X-HubSpot-Signature-Version``: v2 is the hex
    SHA-256 of secret + method + URL + body, v1 of secret + body (no timestamp: a
    replay is stopped by the dedup window only).
    """

    keys: HmacKeys
    secrets: tuple[bytes, ...]
    tolerance: int

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        method_url = (request.method.upper() + request.url).encode()
        v3 = request.header("x-hubspot-signature-v3")
        timestamp: float | None = None
        if v3 is not None or request.header("x-hubspot-signature") is None:
            v3 = require_header(request, "x-hubspot-signature-v3")
            timestamp_text = require_header(request, "x-hubspot-request-timestamp").strip()
            millis = check_timestamp(timestamp_text, now, self.tolerance, per_second=1000)
            parts = (method_url, request.body, timestamp_text.encode())
            require_match(self.keys, parts, [decode(v3.strip(), "base64")])
            timestamp = millis / 1000
        else:
            self._check_legacy(request, method_url)
        return VerifiedEvent(
            event_id=from_body(request.body, ("eventId",)),
            event_type=from_body(request.body, ("subscriptionType",)),
            timestamp=timestamp,
        )

    def _check_legacy(self, request: InboundRequest, method_url: bytes) -> None:
        signature = require_header(request, "x-hubspot-signature")
        version = (request.header("x-hubspot-signature-version") or "v1").strip().lower()
        if version not in {"v1", "v2"}:
            raise VerificationFailed("unsupported hubspot signature version")
        provided = decode(signature.strip(), "hex")
        for secret in self.secrets:
            signed = secret + (method_url if version == "v2" else b"") + request.body
            if provided and hmac.compare_digest(hashlib.sha256(signed).digest(), provided):
                return
        raise VerificationFailed(NO_MATCH)


def _hubspot(options: Options, secrets: Sequence[str]) -> Verifier:
    keys = secret_bytes(secrets)
    return _HubSpot(HmacKeys(keys, "sha256"), tuple(keys), options.tolerance())


@dataclass(frozen=True, slots=True)
class _PandaDoc:
    """``?signature=<hex HMAC-SHA256 of the body>`` appended to the URL by PandaDoc."""

    keys: HmacKeys

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        signatures = parse_qs(urlsplit(request.url).query).get("signature")
        if not signatures:
            raise VerificationFailed("missing query parameter signature")
        require_match(self.keys, (request.body,), [decode(s, "hex") for s in signatures])
        return VerifiedEvent(event_type=from_body(request.body, ("event",)))


def _panda_doc(options: Options, secrets: Sequence[str]) -> Verifier:
    return _PandaDoc(hmac_keys(secrets))


SPECS = {
    "twilio": VerifierSpec(provider="Twilio", build=_twilio, signs_url=True),
    "hubspot": VerifierSpec(
        provider="HubSpot", build=_hubspot, options=timestamped(), signs_url=True
    ),
    "panda-doc": VerifierSpec(provider="PandaDoc", build=_panda_doc, signs_url=True),
}
