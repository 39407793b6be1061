"""API tokens: issued (for a customer portal link, or by an admin), revoked, logged out
and expired by application. The plaintext is returned once and stored only hashed.

Callers that cache checked tokens (the API's ``TokenCache``) forget the ones these
functions revoke or expire; that cache is theirs."""

from __future__ import annotations

from hookline.domain import audit, ids, tokens
from hookline.domain.tokens import ApiToken, Principal
from hookline.errors import ForbiddenError, NotFoundError
from hookline.storage.base import Storage


async def issue(
    storage: Storage, who: Principal, name: str, now: float, *, app_id: str | None = None,
    read_only: bool = False, expires_at: float | None = None, session_id: str | None = None,
) -> tuple[str, ApiToken]:  # fmt: skip
    """Store a new token (an application's if ``app_id``): (its plaintext, the record)."""
    plaintext, token = tokens.issue(
        name, now, token_id=ids.new_id(ids.TOKEN, now), app_id=app_id, read_only=read_only,
        session_id=session_id, created_by=who.token_id, expires_at=expires_at,
    )  # fmt: skip
    await storage.create_token(token, audit.change(who, "token.created", None, token, now))
    return plaintext, token


async def create_token(
    storage: Storage, who: Principal, name: str, app_key: str | None, read_only: bool,
    lifetime: float | None, now: float,
) -> tuple[str, ApiToken]:  # fmt: skip
    """An admin's token, or one scoped to the application ``app_key`` (id or uid), living
    ``lifetime`` seconds (None: until revoked)."""
    app_id = None
    if app_key is not None:
        try:
            app_id = (await storage.get_application(app_key)).id
        except NotFoundError:
            raise NotFoundError(f"application {app_key!r} not found") from None
    return await issue(
        storage, who, name, now, app_id=app_id, read_only=read_only,
        expires_at=None if lifetime is None else now + lifetime,
    )  # fmt: skip


async def revoke(storage: Storage, who: Principal, token_id: str, now: float) -> ApiToken:
    """Revoke the token ``token_id``; the revoked record."""
    token = await storage.get_token(token_id)
    return await storage.revoke_token(
        token.id, now, audit.change(who, "token.revoked", token, None, now)
    )


async def log_out(storage: Storage, who: Principal, now: float) -> ApiToken:
    """Revoke the application token in use (admin tokens are revoked by id instead)."""
    if who.is_admin:
        raise ForbiddenError("only application tokens can log out; revoke admin tokens by id")
    return await revoke(storage, who, who.token_id, now)


async def expire_app_tokens(
    storage: Storage, who: Principal, app_key: str, after: float, session_ids: list[str] | None,
    now: float,
) -> str:  # fmt: skip
    """Make the tokens of the application ``app_key`` (those of ``session_ids`` only, if
    given) expire ``after`` seconds from now; the application's id."""
    app = await storage.get_application(app_key)
    at = now + after
    entry = audit.action(
        who, "token.expired", app.id, ("application", app.id),
        {"expires_at": at, "session_ids": session_ids}, now,
    )  # fmt: skip
    await storage.expire_app_tokens(app.id, at, session_ids, entry)
    return app.id
