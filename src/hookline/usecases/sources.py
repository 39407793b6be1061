"""Inbound sources: where a provider's webhooks arrive (``/in/<token>``) and how they are
checked; created, patched, given a new receiving URL and deleted, each audited."""

from __future__ import annotations

import secrets as _secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from hookline.domain import audit, ids, ingress
from hookline.domain.models import Source
from hookline.domain.tokens import Principal
from hookline.domain.verifiers import build_verifier
from hookline.errors import ValidationError
from hookline.storage.base import Storage

#: Receiving tokens look like API tokens (``hk_``), so the log redaction hides them too.
INGEST_TOKEN_PREFIX = "hk_in_"  # noqa: S105 - a marker, not a secret


@dataclass(frozen=True, slots=True)
class VerifierDraft:
    """How a source checks what arrives: a verifier kind, its settings and its secrets."""

    kind: str
    config: dict[str, Any]
    secrets: Sequence[str]


def new_ingest_token() -> str:
    """An unguessable path segment for ``/in/<token>``."""
    return INGEST_TOKEN_PREFIX + _secrets.token_urlsafe(24)


def checked_verifier(draft: VerifierDraft) -> VerifierDraft:
    """Refuse a verifier the gateway could not build, naming the field at fault."""
    try:
        build_verifier(draft.kind, draft.config, list(draft.secrets))
    except ValidationError as error:
        raise ValidationError(error.detail, field=("verifier", *error.field)) from None
    return draft


@dataclass(frozen=True, slots=True)
class Ingress:
    """Who may send to a source and how often (``domain.ingress``)."""

    allowed_networks: Sequence[str] = ()
    rate_limit: int | None = None


def checked_networks(values: Sequence[str]) -> tuple[str, ...]:
    """The allowlist normalised, or a ValidationError naming ``allowedNetworks[i]``."""
    return ingress.parse_networks(values, field=("allowedNetworks",))


async def create_source(
    storage: Storage, who: Principal, app_id: str, name: str, uid: str | None,
    verifier: VerifierDraft, dedup_window: float, forward_headers: bool, now: float,
    limits: Ingress | None = None,
) -> Source:  # fmt: skip
    """Check the verifier and the allowlist, and store a new source with a new receiving URL."""
    checked = checked_verifier(verifier)
    limits = limits or Ingress()
    source = Source(
        id=ids.new_id(ids.SOURCE, now), app_id=app_id, name=name, uid=uid,
        token=new_ingest_token(), verifier=checked.kind, config=checked.config,
        secrets=tuple(checked.secrets), dedup_window=dedup_window,
        forward_headers=forward_headers, created_at=now, updated_at=now,
        allowed_networks=checked_networks(limits.allowed_networks), rate_limit=limits.rate_limit,
    )  # fmt: skip
    return await storage.create_source(
        source, audit.change(who, "source.created", None, source, now)
    )


async def patch_source(
    storage: Storage, who: Principal, current: Source, changes: dict[str, Any],
    verifier: VerifierDraft | None, now: float,
) -> Source:  # fmt: skip
    """Change some fields of ``current`` (by ``Source`` field name); a new verifier
    replaces the whole verifier, checked first, and a new allowlist is checked too."""
    if "allowed_networks" in changes:
        changes = {**changes, "allowed_networks": checked_networks(changes["allowed_networks"])}
    updated = replace(current, updated_at=now, **changes)
    if verifier is not None:
        checked = checked_verifier(verifier)
        updated = replace(
            updated, verifier=checked.kind, config=checked.config, secrets=tuple(checked.secrets)
        )
    await storage.update_source(updated, audit.change(who, "source.updated", current, updated, now))
    return updated


async def rotate_url(storage: Storage, who: Principal, current: Source, now: float) -> Source:
    """Give the source a new receiving URL; the old one stops working."""
    updated = replace(current, token=new_ingest_token(), updated_at=now)
    await storage.update_source(
        updated, audit.change(who, "source.url.rotated", current, updated, now)
    )
    return updated


async def delete_source(storage: Storage, who: Principal, current: Source, now: float) -> None:
    """Delete the source (its URL stops working; the messages it brought stay)."""
    await storage.delete_source(
        current.app_id, current.id, audit.change(who, "source.deleted", current, None, now)
    )
