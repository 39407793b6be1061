"""Inbound webhook verifiers: did this request really come from the provider?

One :class:`Verifier` per provider scheme, built from a kind, its options and its
secrets by :func:`build_verifier`::

    verifier = build_verifier("github", {}, ["It's a Secret to Everybody"])
    event = verifier.verify(InboundRequest("POST", url, headers, body), now=time.time())

Every check runs on the raw body bytes as received (re-serialised JSON has other
bytes and fails, by design) and compares MACs with ``hmac.compare_digest``. A
verifier holds a list of secrets so that, during a rotation, a request signed with
any of them passes. Timestamped schemes refuse a timestamp more than ``tolerance``
seconds (default 300) away from ``now``, in either direction. A failure raises
:class:`~hookline.errors.VerificationFailed`, whose ``reason`` is for logs only.

:data:`VERIFIERS` is the registry (kind -> :class:`VerifierSpec`: provider, builder,
documented options). The kinds come in families, a module each:

- ``_standard``: Standard Webhooks and Svix, and the providers that sign with them
  (Clerk, Resend, Replicate, OpenAI, Lithic, Brex...);
- ``_body``: an HMAC of the body in a header (GitHub, Shopify, DocuSign, Meta...,
  and the configurable ``hmac``);
- ``_timestamped``: an HMAC over a timestamp and the body (Stripe, Slack, Zoom...);
- ``_url``: signatures that cover or travel in the URL (Twilio, HubSpot, PandaDoc);
- ``_asymmetric``: public-key signatures (Telnyx's Ed25519, Orum's RSA);
- ``_credentials``: a credential, no signature (GitLab, Adobe Sign, basic auth, API key, none).

Everything here is pure: no I/O, no web framework, and the clock is an argument.
"""

from __future__ import annotations

from hookline.domain.verifiers._base import (
    COMMON_OPTIONS,
    DEFAULT_TOLERANCE,
    NO_MATCH,
    Handshake,
    InboundRequest,
    VerifiedEvent,
    Verifier,
    VerifierSpec,
)
from hookline.domain.verifiers._registry import (
    KINDS,
    VERIFIERS,
    build_verifier,
    credential_headers,
    handshake_answer,
)
from hookline.domain.verifiers._timestamped import slack_challenge
from hookline.errors import VerificationFailed

__all__ = [
    "COMMON_OPTIONS",
    "DEFAULT_TOLERANCE",
    "KINDS",
    "NO_MATCH",
    "VERIFIERS",
    "Handshake",
    "InboundRequest",
    "VerificationFailed",
    "VerifiedEvent",
    "Verifier",
    "VerifierSpec",
    "build_verifier",
    "credential_headers",
    "handshake_answer",
    "slack_challenge",
]
