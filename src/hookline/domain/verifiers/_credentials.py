"""Kinds that check a credential, not a signature: the body is not covered.

A changed body passes these checks (nothing signs it): they prove who sent the
request only as far as the credential stays secret, so use them over HTTPS, and
prefer a signing scheme where the provider offers one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType

import orjson

from hookline.domain.verifiers._base import (
    NO_MATCH,
    InboundRequest,
    Options,
    VerifiedEvent,
    Verifier,
    VerifierSpec,
    decode,
    from_body,
    matches_any,
    require_header,
)
from hookline.errors import ValidationError, VerificationFailed


@dataclass(frozen=True, slots=True)
class _BasicAuth:
    """``Authorization: Basic base64(user:password)`` against each accepted pair."""

    credentials: tuple[bytes, ...]

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        header = require_header(request, "authorization")
        scheme, _, encoded = header.strip().partition(" ")
        if scheme.lower() != "basic":
            raise VerificationFailed("authorization is not basic")
        provided = decode(encoded.strip(), "base64")
        if provided is None or not matches_any(provided, self.credentials):
            raise VerificationFailed("credentials did not match")
        return VerifiedEvent()


def _basic_auth(options: Options, secrets: Sequence[str]) -> Verifier:
    for index, secret in enumerate(secrets):
        if ":" not in secret:
            raise ValidationError("secret must be user:password", field=("secrets", index))
    return _BasicAuth(tuple(secret.encode() for secret in secrets))


@dataclass(frozen=True, slots=True)
class _HeaderToken:
    """A key in a header (after an optional prefix such as ``Bearer ``)."""

    header: str
    prefix: str
    keys: tuple[bytes, ...]
    mismatch: str = "api key did not match"
    id_header: str | None = None
    id_fallback_header: str | None = None
    type_header: str | None = None

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        value = require_header(request, self.header).strip()
        if not value.startswith(self.prefix):
            raise VerificationFailed(f"{self.header} does not start with the configured prefix")
        provided = value.removeprefix(self.prefix).strip().encode()
        if not matches_any(provided, self.keys):
            raise VerificationFailed(self.mismatch)
        event_id = None
        for name in (self.id_header, self.id_fallback_header):
            if event_id is None and name is not None:
                event_id = request.header(name)
        return VerifiedEvent(
            event_id=event_id,
            event_type=None if self.type_header is None else request.header(self.type_header),
        )


def _api_key(options: Options, secrets: Sequence[str]) -> Verifier:
    header = options.required_header("header")
    return _HeaderToken(
        header, options.text("prefix", "") or "", tuple(s.encode() for s in secrets)
    )


def _gitlab(options: Options, secrets: Sequence[str]) -> Verifier:
    # GitLab sends the webhook's secret token as is; Idempotency-Key stays the same
    # across retries of one delivery (GitLab 17.4+), X-Gitlab-Event-UUID before that.
    return _HeaderToken(
        "x-gitlab-token", "", tuple(s.encode() for s in secrets), NO_MATCH,
        id_header="idempotency-key", id_fallback_header="x-gitlab-event-uuid",
        type_header="x-gitlab-event",
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class _AdobeSign:
    """``X-AdobeSign-ClientId`` must be the application's client id, echoed in the answer.

    Acrobat Sign checks a new webhook URL with a GET (verification of intent) and
    then expects every notification's answer to carry the client id back, here as
    ``xAdobeSignClientId`` in the JSON body; an answer without it counts as failed.
    """

    client_ids: tuple[bytes, ...]

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        provided = require_header(request, "x-adobesign-clientid").strip()
        if not matches_any(provided.encode(), self.client_ids):
            raise VerificationFailed(NO_MATCH)
        return VerifiedEvent(
            event_id=from_body(request.body, ("webhookNotificationId",)),
            event_type=from_body(request.body, ("event",)),
            answer_fields=(("xAdobeSignClientId", provided),),
        )

    def answer(self, request: InboundRequest) -> bytes | None:
        """The verification of intent (a GET): the client id, echoed."""
        if request.method != "GET":
            return None
        return orjson.dumps({"xAdobeSignClientId": request.header("x-adobesign-clientid")})


def _adobe_sign(options: Options, secrets: Sequence[str]) -> Verifier:
    return _AdobeSign(tuple(secret.strip().encode() for secret in secrets))


@dataclass(frozen=True, slots=True)
class _AcceptAll:
    """No check at all, chosen on purpose (``none``, and Svix's ``generic-webhook``)."""

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        return VerifiedEvent()


def _none(options: Options, secrets: Sequence[str]) -> Verifier:
    return _AcceptAll()


SPECS = {
    "gitlab": VerifierSpec(
        provider="GitLab", build=_gitlab, credential_headers=frozenset({"x-gitlab-token"})
    ),
    "adobe-sign": VerifierSpec(
        provider="Adobe Acrobat Sign", build=_adobe_sign, methods=frozenset({"GET"})
    ),
    "basic_auth": VerifierSpec(provider="any sender with HTTP basic auth", build=_basic_auth),
    "api_key": VerifierSpec(
        provider="any sender with a key in a header",
        build=_api_key,
        options=MappingProxyType(
            {
                "header": "the header holding the key (required)",
                "prefix": "text before the key, such as 'Bearer '",
            }
        ),
    ),
    "none": VerifierSpec(provider="nobody: no check", build=_none, secrets="none"),
    "generic-webhook": VerifierSpec(
        provider="nobody: no check (Svix's name)", build=_none, secrets="none"
    ),
}
