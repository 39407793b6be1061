"""Providers that sign a timestamp with the body: HMAC schemes with a replay window.

Each refuses a timestamp more than ``tolerance`` seconds (default 300) from ``now``,
in either direction, before any MAC is computed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from hookline.domain.verifiers._base import (
    HmacKeys,
    InboundRequest,
    Options,
    VerifiedEvent,
    Verifier,
    VerifierSpec,
    at_path,
    check_timestamp,
    decode,
    from_body,
    hmac_keys,
    json_object,
    require_header,
    require_match,
    timestamped,
)
from hookline.errors import VerificationFailed


def _parse_pairs(header: str) -> tuple[str | None, list[str]]:
    """``t=<ts>,v1=<sig>[,v1=<sig>...]``: the timestamp and the ``v1`` signatures."""
    timestamp: str | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            timestamp = value
        elif key == "v1":
            signatures.append(value)
    return timestamp, signatures


@dataclass(frozen=True, slots=True)
class _TimestampPairs:
    """``<header>: t=<ts>,v1=<hex>[,v1=<hex>...]`` over ``"{t}." + body`` (Stripe, Tailscale).

    ``tolerance`` None checks no window (Tailscale retries keep their first timestamp).
    """

    keys: HmacKeys
    header: str
    tolerance: int | None
    id_path: tuple[str, ...] | None
    type_path: tuple[str, ...]

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        timestamp_text, signatures = _parse_pairs(require_header(request, self.header))
        if timestamp_text is None:
            raise VerificationFailed(f"{self.header} has no timestamp")
        if not signatures:
            raise VerificationFailed(f"{self.header} has no v1 signature")
        if self.tolerance is None:
            timestamp = check_timestamp(timestamp_text, now, float("inf"))
        else:
            timestamp = check_timestamp(timestamp_text, now, self.tolerance)
        # Stripe's own verifier signs the timestamp re-rendered from its integer.
        signed_prefix = f"{timestamp}.".encode()
        provided = [decode(s, "hex") for s in signatures]
        require_match(self.keys, (signed_prefix, request.body), provided)
        return VerifiedEvent(
            event_id=None if self.id_path is None else from_body(request.body, self.id_path),
            event_type=from_body(request.body, self.type_path),
            timestamp=float(timestamp),
        )


def _stripe(options: Options, secrets: Sequence[str]) -> Verifier:
    # Stripe keys its HMAC with the whole "whsec_..." string, not decoded base64.
    return _TimestampPairs(
        hmac_keys(secrets), "stripe-signature", options.tolerance(), ("id",), ("type",)
    )


def _tailscale(options: Options, secrets: Sequence[str]) -> Verifier:
    # As Svix's TailscaleConfig: no window unless one is set, since Tailscale's retries
    # carry the timestamp of the first attempt.
    tolerance = options.tolerance() if "tolerance" in options.config else None
    return _TimestampPairs(
        hmac_keys(secrets), "tailscale-webhook-signature", tolerance, None, ("type",)
    )


@dataclass(frozen=True, slots=True)
class _VersionedColon:
    """``<signature header>: v0=<hex>`` over ``"v0:{timestamp}:" + body`` (Slack, Zoom)."""

    keys: HmacKeys
    signature_header: str
    timestamp_header: str
    tolerance: int

    def check(self, request: InboundRequest, now: float) -> int:
        """Check the window and the MAC; the timestamp."""
        header = require_header(request, self.signature_header)
        timestamp_text = require_header(request, self.timestamp_header)
        version, _, signature = header.partition("=")
        if version != "v0":
            raise VerificationFailed(f"{self.signature_header} is not v0=<hex>")
        timestamp = check_timestamp(timestamp_text, now, self.tolerance)
        signed_prefix = f"v0:{timestamp_text.strip()}:".encode()
        require_match(self.keys, (signed_prefix, request.body), [decode(signature, "hex")])
        return timestamp


@dataclass(frozen=True, slots=True)
class _Slack:
    """``X-Slack-Signature: v0=<hex>`` over ``"v0:{X-Slack-Request-Timestamp}:" + body``."""

    signed: _VersionedColon

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        timestamp = self.signed.check(request, now)
        # Events API bodies are JSON; slash commands and interactions are forms (no id).
        payload = json_object(request.body)
        return VerifiedEvent(
            event_id=at_path(payload, ("event_id",)),
            event_type=at_path(payload, ("event", "type")) or at_path(payload, ("type",)),
            timestamp=float(timestamp),
        )

    def answer(self, request: InboundRequest) -> bytes | None:
        """The answer to Slack's ``url_verification`` request."""
        return slack_challenge(request.body)


def slack_challenge(body: bytes) -> bytes | None:
    """The JSON answer to Slack's ``url_verification`` request, or None for other bodies.

    Call it on a body that has passed verification: Slack signs the challenge too.
    """
    payload = json_object(body)
    if payload is None or payload.get("type") != "url_verification":
        return None
    challenge = payload.get("challenge")
    if not isinstance(challenge, str):
        return None
    return orjson.dumps({"challenge": challenge})


def _slack(options: Options, secrets: Sequence[str]) -> Verifier:
    return _Slack(
        _VersionedColon(
            hmac_keys(secrets),
            "x-slack-signature",
            "x-slack-request-timestamp",
            options.tolerance(),
        )
    )


@dataclass(frozen=True, slots=True)
class _Zoom:
    """``x-zm-signature: v0=<hex>`` over ``"v0:{x-zm-request-timestamp}:" + body``.

    Zoom validates the endpoint (when it is set, then every 72 hours) with a signed
    ``endpoint.url_validation`` event, answered with the plain token and its HMAC.
    """

    signed: _VersionedColon

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        timestamp = self.signed.check(request, now)
        return VerifiedEvent(
            event_type=from_body(request.body, ("event",)), timestamp=float(timestamp)
        )

    def answer(self, request: InboundRequest) -> bytes | None:
        """``{"plainToken", "encryptedToken"}`` for a URL validation, None otherwise."""
        payload = json_object(request.body)
        if payload is None or payload.get("event") != "endpoint.url_validation":
            return None
        plain = at_path(payload, ("payload", "plainToken"))
        if plain is None:
            return None
        # The first secret is the current one: Zoom hashes with the token it holds now.
        encrypted = self.signed.keys.digests((plain.encode(),))[0].hex()
        return orjson.dumps({"plainToken": plain, "encryptedToken": encrypted})


def _zoom(options: Options, secrets: Sequence[str]) -> Verifier:
    return _Zoom(
        _VersionedColon(
            hmac_keys(secrets), "x-zm-signature", "x-zm-request-timestamp", options.tolerance()
        )
    )


@dataclass(frozen=True, slots=True)
class _Airwallex:
    """``x-signature: <hex>`` over ``x-timestamp`` (milliseconds) then the body, no separator."""

    keys: HmacKeys
    tolerance: int

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        signature = require_header(request, "x-signature").strip()
        timestamp_text = require_header(request, "x-timestamp").strip()
        millis = check_timestamp(timestamp_text, now, self.tolerance, per_second=1000)
        require_match(
            self.keys, (timestamp_text.encode(), request.body), [decode(signature, "hex")]
        )
        return VerifiedEvent(
            event_id=from_body(request.body, ("id",)),
            event_type=from_body(request.body, ("name",)),
            timestamp=millis / 1000,
        )


def _airwallex(options: Options, secrets: Sequence[str]) -> Verifier:
    return _Airwallex(hmac_keys(secrets), options.tolerance())


@dataclass(frozen=True, slots=True)
class _Port:
    """``x-port-signature: v1,<base64>`` over ``"{x-port-timestamp}." + body``."""

    keys: HmacKeys
    tolerance: int

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        header = require_header(request, "x-port-signature").strip()
        timestamp_text = require_header(request, "x-port-timestamp").strip()
        timestamp = check_timestamp(timestamp_text, now, self.tolerance)
        provided = []
        for entry in header.split(" "):
            version, _, signature = entry.partition(",")
            if version == "v1":
                provided.append(decode(signature, "base64"))
        if not provided:
            raise VerificationFailed("x-port-signature has no v1 signature")
        require_match(self.keys, (f"{timestamp_text}.".encode(), request.body), provided)
        return VerifiedEvent(timestamp=float(timestamp))


def _port(options: Options, secrets: Sequence[str]) -> Verifier:
    return _Port(hmac_keys(secrets), options.tolerance())


SPECS = {
    "stripe": VerifierSpec(provider="Stripe", build=_stripe, options=timestamped()),
    "slack": VerifierSpec(provider="Slack", build=_slack, options=timestamped()),
    "zoom": VerifierSpec(provider="Zoom", build=_zoom, options=timestamped()),
    "tailscale": VerifierSpec(
        provider="Tailscale",
        build=_tailscale,
        options={"tolerance": "the replay window in seconds; none unless set (retries keep "
                 "their first timestamp)"},
    ),
    "airwallex": VerifierSpec(provider="Airwallex", build=_airwallex, options=timestamped()),
    "port-io": VerifierSpec(provider="Port", build=_port, options=timestamped()),
}  # fmt: skip
