"""hookline: a self-hostable webhook platform.

The library face: Standard Webhooks signing and verification, verifiers for the
webhooks hookline receives (Stripe, GitHub, Slack...), and the pieces to embed
hookline's engine in an application. The web-framework helpers live in
``hookline.integrations`` and are imported from there, so that hookline needs
neither Flask nor Django.
"""

from __future__ import annotations

from hookline.domain.dedup import Deduplicator, MemoryDeduplicator
from hookline.domain.handlers import Handlers, InboundEvent
from hookline.domain.signing import (
    SignatureError,
    generate_secret,
    headers,
    sign,
    signature_header,
    verify,
)
from hookline.domain.verifiers import (
    InboundRequest,
    VerifiedEvent,
    Verifier,
    build_verifier,
    slack_challenge,
)
from hookline.errors import HooklineError, VerificationFailed

__version__ = "0.1.0"

__all__ = [
    "Deduplicator",
    "Handlers",
    "HooklineError",
    "InboundEvent",
    "InboundRequest",
    "MemoryDeduplicator",
    "SignatureError",
    "VerificationFailed",
    "VerifiedEvent",
    "Verifier",
    "__version__",
    "build_verifier",
    "generate_secret",
    "headers",
    "sign",
    "signature_header",
    "slack_challenge",
    "verify",
]
