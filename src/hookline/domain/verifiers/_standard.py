"""Standard Webhooks and Svix: one scheme, many providers.

``webhook-id``, ``webhook-timestamp``, ``webhook-signature`` (or Svix's ``svix-*``
names, the same protocol), ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``,
several space-separated signatures during a rotation, ``v1a`` Ed25519 too. Many
providers send webhooks through Svix or implement the spec themselves; they differ
only in where their body names the event type. The id is the ``webhook-id``
(``svix-id``): the message id, the same on every retry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType

from hookline.domain import signing
from hookline.domain.signing import SignatureError
from hookline.domain.verifiers._base import (
    NO_MATCH,
    InboundRequest,
    Options,
    VerifiedEvent,
    Verifier,
    VerifierSpec,
    from_body,
    timestamped,
)
from hookline.errors import ValidationError, VerificationFailed

_HEADER_FAMILIES = (
    ("webhook-id", "webhook-timestamp", "webhook-signature"),
    ("svix-id", "svix-timestamp", "svix-signature"),
)
# The same words for the same failure across kinds, so metrics can group by reason.
_SIGNING_REASONS = MappingProxyType(
    {
        "timestamp_too_old": "timestamp too old (outside the replay window)",
        "timestamp_in_future": "timestamp in the future (outside the replay window)",
        "no_matching_signature": NO_MATCH,
    }
)


def _header_family(request: InboundRequest) -> tuple[str, str, str]:
    """The complete header family (``webhook-*`` first), or fail naming what is missing."""
    headers = request.headers  # lower-cased, as the family's names are
    for family in _HEADER_FAMILIES:
        if headers.get(family[0]) and headers.get(family[1]) and headers.get(family[2]):
            return family
    # Name the gap in the family the sender started on, webhook-* if neither.
    started = [f for f in _HEADER_FAMILIES if any(request.header(n) for n in f)]
    family = (started or _HEADER_FAMILIES)[0]
    missing = next(name for name in family if not request.header(name))
    raise VerificationFailed(f"missing header {missing}")


@dataclass(frozen=True, slots=True)
class StandardWebhooks:
    """``webhook-*`` (or ``svix-*``) headers, verified by ``domain.signing``."""

    signers: tuple[signing.Signer, ...]
    tolerance: int
    type_paths: tuple[tuple[str, ...], ...]

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        """Check the signature and the replay window; the id is the message id."""
        family = _header_family(request)
        try:
            # signing compares whole seconds; flooring keeps "too old" exact at the edge.
            signing.verify(self.signers, request.body, request.headers, int(now), self.tolerance)
        except SignatureError as exc:
            raise VerificationFailed(_SIGNING_REASONS.get(exc.reason, exc.detail)) from None
        id_header, timestamp_header, _ = family
        return VerifiedEvent(
            event_id=request.header(id_header),
            event_type=from_body(request.body, *self.type_paths),
            timestamp=float(request.headers[timestamp_header]),
        )


def _signers(secrets: Sequence[str]) -> tuple[signing.Signer, ...]:
    signers = []
    for index, secret in enumerate(secrets):
        try:
            signers.append(signing.Signer.from_secret(secret))
        except SignatureError:
            raise ValidationError(
                "secret must be whsec_<base64> (or a whpk_ public key)", field=("secrets", index)
            ) from None
    return tuple(signers)


def _family(provider: str, *type_paths: str) -> VerifierSpec:
    """A Standard Webhooks provider whose body names its event type at ``type_paths``."""
    paths = tuple(tuple(path.split(".")) for path in type_paths)

    def build(options: Options, secrets: Sequence[str]) -> Verifier:
        return StandardWebhooks(_signers(secrets), options.tolerance(), paths)

    return VerifierSpec(provider=provider, build=build, options=timestamped())


#: kind -> spec. The type paths come from each provider's documented payloads; where
#: a provider documents none, Svix's own envelope field ``type`` is read.
SPECS = {
    "standard_webhooks": _family("any Standard Webhooks sender", "type"),
    "svix": _family("Svix", "type"),
    "beehiiv": _family("beehiiv", "event_type", "type"),
    "brex": _family("Brex", "event_type", "type"),
    "clerk": _family("Clerk", "type"),
    "guesty": _family("Guesty", "event", "type"),
    "incident-io": _family("incident.io", "event_type"),
    "lithic": _family("Lithic", "event_type"),
    "nash": _family("Nash", "type", "event_type"),
    "open-ai": _family("OpenAI", "type"),
    "pleo": _family("Pleo", "type", "event_type"),
    "psi-fi": _family("Psi-fi", "type", "event_type"),
    "render": _family("Render", "type"),
    # A Replicate webhook body is the prediction itself; its status is what changed.
    "replicate": _family("Replicate", "status"),
    "resend": _family("Resend", "type"),
    "safebase": _family("SafeBase", "type", "event_type"),
    "sardine": _family("Sardine", "type", "event_type"),
    # Svix spells Stytch "stych" in IngestSourceIn; the kind keeps Svix's spelling.
    "stych": _family("Stytch", "type"),
}
