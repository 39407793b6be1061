"""API tokens: how a caller proves who it is, and what it may reach.

A token is shown to its owner once (``hk_`` and 43 random URL-safe characters)
and stored only as its SHA-256 digest. Tokens are 256-bit random values, not
passwords, so a fast digest is the right tool: nothing can be guessed from it,
and lookups by digest stay a single indexed read.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

#: Every token starts with this, so leaked tokens are easy to spot and to scan for.
TOKEN_PREFIX = "hk_"  # noqa: S105 - a marker, not a secret
#: How much of a token is kept in clear to tell tokens apart in lists.
SHOWN_CHARS = 7


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A stored token: everything but the token itself.

    ``app_id`` None means an admin token (every application, every route);
    otherwise the token reaches only that application's routes.
    """

    id: str
    name: str
    token_hash: str
    prefix: str
    app_id: str | None = None
    read_only: bool = False
    session_id: str | None = None
    created_by: str | None = None
    created_at: float = 0.0
    expires_at: float | None = None
    revoked_at: float | None = None

    def problem(self, now: float) -> str | None:
        """Why this token cannot be used at ``now`` (None if it can)."""
        if self.revoked_at is not None and self.revoked_at <= now:
            return "the token has been revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "the token has expired"
        return None

    @property
    def principal(self) -> Principal:
        """Who a request carrying this token acts as."""
        return Principal(token_id=self.id, app_id=self.app_id, read_only=self.read_only)


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request: its token id and its reach."""

    token_id: str
    app_id: str | None = None
    read_only: bool = False

    @property
    def is_admin(self) -> bool:
        """Admin tokens reach every application and every route."""
        return self.app_id is None

    def may_see(self, app_id: str | None) -> bool:
        """Whether this caller may see a record of ``app_id`` (None: a server-wide record)."""
        return self.app_id is None or self.app_id == app_id


#: The caller when hookline itself or its command line makes a change.
SYSTEM = Principal(token_id="system")  # noqa: S106 - a name, not a secret
CLI = Principal(token_id="cli")  # noqa: S106 - a name, not a secret


def generate_token() -> str:
    """A new random token, to be shown once and stored hashed."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The digest a token is stored and looked up by."""
    return hashlib.sha256(token.encode()).hexdigest()


def shown_prefix(token: str) -> str:
    """The part of a token that lists may show (never enough to use it)."""
    return token[: len(TOKEN_PREFIX) + SHOWN_CHARS]


def issue(
    name: str,
    now: float,
    *,
    token_id: str,
    app_id: str | None = None,
    read_only: bool = False,
    expires_at: float | None = None,
    session_id: str | None = None,
    created_by: str | None = None,
) -> tuple[str, ApiToken]:
    """A new token: the plaintext (to show once) and the record to store."""
    plaintext = generate_token()
    record = ApiToken(
        id=token_id, name=name, token_hash=hash_token(plaintext), prefix=shown_prefix(plaintext),
        app_id=app_id, read_only=read_only, session_id=session_id, created_by=created_by,
        created_at=now, expires_at=expires_at,
    )  # fmt: skip
    return plaintext, record
