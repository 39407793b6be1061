"""Who may do what, and what they did: tokens, the audit trail, web sessions and
idempotency keys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from hookline.domain.audit import AuditEntry
from hookline.domain.models import Page
from hookline.domain.tokens import ApiToken
from hookline.storage.records import Cursor, IdempotentResponse, WebSession


class Tokens(Protocol):
    """API tokens: issued, found by digest, revoked, expired."""

    async def create_token(self, token: ApiToken, audit: AuditEntry | None = None) -> ApiToken: ...
    async def create_token_once(self, token: ApiToken) -> bool:
        """Store ``token`` unless one with its id exists; True if this call stored it."""

    async def find_token(self, token_hash: str) -> ApiToken | None:
        """The token with this digest, revoked and expired ones included."""

    async def get_token(self, token_id: str) -> ApiToken: ...
    async def list_tokens(self, cursor: Cursor, app_id: str | None = None) -> Page[ApiToken]: ...
    async def revoke_token(
        self, token_id: str, now: float, audit: AuditEntry | None = None
    ) -> ApiToken: ...
    async def expire_app_tokens(
        self,
        app_id: str,
        at: float,
        session_ids: Sequence[str] | None = None,
        audit: AuditEntry | None = None,
    ) -> int:
        """Make the application's tokens (of these sessions, if named) end at ``at``."""


class Audit(Protocol):
    """The audit trail (each change writes its entry with the change itself)."""

    async def list_audit(self, cursor: Cursor, app_id: str | None = None) -> Page[AuditEntry]:
        """The audit trail, newest first; ``app_id`` narrows it to one application."""


class Sessions(Protocol):
    """Signed-in browsers of the dashboard and the portal."""

    async def create_web_session(self, session: WebSession) -> None: ...
    async def get_web_session(self, id_hash: str, now: float) -> WebSession | None:
        """The unexpired session with this id digest, or None."""

    async def touch_web_session(self, id_hash: str, expires_at: float) -> None: ...
    async def delete_web_session(self, id_hash: str) -> None: ...


class Idempotency(Protocol):
    """The answers to POSTs that carry an Idempotency-Key."""

    async def get_idempotent(self, key: str) -> IdempotentResponse | None: ...
    async def put_idempotent(self, key: str, response: IdempotentResponse) -> None: ...
    async def claim_idempotent(
        self, key: str, fingerprint: str, now: float, stale_before: float, expired_before: float
    ) -> IdempotentResponse | None:
        """Claim ``key`` atomically (None) or return its answer or in-progress claim.

        A claim in progress has ``status_code == 0``; one older than ``stale_before``
        is taken over, and a finished answer older than ``expired_before`` is replaced.
        """

    async def release_idempotent(self, key: str) -> None:
        """Drop an unfinished claim on ``key``."""
