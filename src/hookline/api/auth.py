"""Who is calling: bearer tokens and the per-token rate limit.

``AuthMiddleware`` (plain ASGI, outermost) turns ``Authorization: Bearer <token>``
into a ``Principal`` for every ``/api/`` request, or answers 401 (no or bad
token), 403 (a read-only token writing) or 429 (over the token's rate). Whether
that principal may use a route is what the route declares beside itself
(``api.access.requires``, over ``usecases.access``): admin tokens may use
everything; an application's token only the routes of its own application, and
a few server-wide reads (event types, its own background tasks). Another
application's id answers 404, exactly as an id that does not exist.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from hookline.api.errors import error_response
from hookline.domain.throttle import FailureThrottle
from hookline.domain.tokens import ApiToken, Principal, hash_token
from hookline.errors import AuthenticationError, HooklineError
from hookline.storage.base import Storage

#: Paths anyone may call: load balancers probe health, tools read the schema.
PUBLIC_PATHS = frozenset({"/api/v1/health", "/api/v1/openapi.json"})
#: Id of the admin token given in settings (it lives in the settings, not the database).
SETTINGS_TOKEN_ID = "tok_settings"  # noqa: S105 - an id, not a secret
_READS = frozenset({"GET", "HEAD", "OPTIONS"})
_MAX_CACHED = 10_000


class TokenCache:
    """Checked tokens by digest, trusted for ``ttl`` seconds before being read again.

    The cache is what lets a token check cost a hash and a dict lookup. Revoking
    through this process forgets the token at once; other processes notice
    within ``ttl``.
    """

    def __init__(
        self,
        storage: Storage,
        ttl: float,
        settings_token: str = "",
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.storage = storage
        self.ttl = ttl
        self.monotonic = monotonic
        self._cached: dict[str, tuple[ApiToken, float]] = {}
        self._pinned: dict[str, ApiToken] = {}
        if settings_token:
            digest = hash_token(settings_token)
            self._pinned[digest] = ApiToken(
                id=SETTINGS_TOKEN_ID, name="admin token from settings", token_hash=digest,
                prefix="(settings)",
            )  # fmt: skip

    async def find(self, token: str) -> ApiToken | None:
        """The stored token behind ``token`` (revoked or expired ones included), or None."""
        digest = hash_token(token)
        pinned = self._pinned.get(digest)
        if pinned is not None:
            return pinned
        now = self.monotonic()
        cached = self._cached.get(digest)
        if cached is not None and now - cached[1] < self.ttl:
            return cached[0]
        found = await self.storage.find_token(digest)
        if found is None:
            self._cached.pop(digest, None)  # unknown tokens are not cached: no memory to fill
            return None
        if len(self._cached) >= _MAX_CACHED:
            self._cached.clear()
        self._cached[digest] = (found, now)
        return found

    def forget(self, matches: Callable[[ApiToken], bool]) -> None:
        """Drop cached tokens that ``matches`` picks (after a revoke or an expiry)."""
        for digest in [d for d, (token, _) in self._cached.items() if matches(token)]:
            del self._cached[digest]


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per API token: ``rate`` requests a second, ``burst`` at once."""

    def __init__(
        self, rate: float, burst: int, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.monotonic = monotonic
        self._buckets: dict[str, _Bucket] = {}

    def wait_needed(self, key: str) -> float:
        """Take one request from ``key``'s bucket: 0 if allowed, else seconds until it would be."""
        if self.rate <= 0:
            return 0.0
        now = self.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= _MAX_CACHED:
                self._prune(now)
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate

    def _prune(self, now: float) -> None:
        """Forget buckets that have refilled: they hold nothing a new bucket would not."""
        refill = self.burst / self.rate
        for key in [k for k, b in self._buckets.items() if now - b.updated >= refill]:
            del self._buckets[key]


class AuthMiddleware:
    """Authenticates every ``/api/`` request and applies the per-token rate limit."""

    def __init__(
        self,
        app: ASGIApp,
        tokens: TokenCache,
        limiter: RateLimiter,
        clock: Callable[[], float],
        failures: FailureThrottle | None = None,
    ) -> None:
        self.app = app
        self.tokens = tokens
        self.limiter = limiter
        self.clock = clock
        self.failures = failures if failures is not None else FailureThrottle(0, 1.0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/api/") or path in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        try:
            principal = await self._authenticate(scope)
        except _Refused as refused:
            if refused.status == 401 and _header(scope, b"authorization") is not None:
                # A credential that failed (not a missing one): throttled per address.
                refused = _throttled(self.failures, scope) or refused
            await refused.response(scope, receive, send)
            return
        except HooklineError:
            await error_response(503, "storage_unavailable", "cannot check the token now")(
                scope, receive, send
            )
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)

    async def _authenticate(self, scope: Scope) -> Principal:
        header = _header(scope, b"authorization")
        if header is None:
            raise _Refused(
                401, "missing Authorization header: send 'Authorization: Bearer <token>'"
            )
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise _Refused(401, "malformed Authorization header: expected 'Bearer <token>'")
        token = await self.tokens.find(value.strip())
        if token is None:
            raise _Refused(401, "invalid token")
        problem = token.problem(self.clock())
        if problem is not None:
            raise _Refused(401, problem)
        if token.read_only and scope["method"] not in _READS:
            raise _Refused(403, "this token is read-only")
        wait = self.limiter.wait_needed(token.id)
        if wait > 0:
            raise _Refused(
                429, "too many requests for this token; slow down",
                {"Retry-After": str(max(1, math.ceil(wait)))},
            )  # fmt: skip
        return token.principal


class _Refused(Exception):
    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}

    @property
    def response(self) -> ASGIApp:
        code = {401: "authentication_failed", 403: "forbidden", 429: "rate_limited"}[self.status]
        answer = error_response(self.status, code, self.detail)
        if self.status == 401:
            answer.headers["WWW-Authenticate"] = "Bearer"
        answer.headers.update(self.headers)
        return answer


def _throttled(failures: FailureThrottle, scope: Scope) -> _Refused | None:
    """429 if the caller's address failed too often (the failure is counted), else None."""
    client = scope.get("client")
    wait = failures.failed(client[0] if client else "")
    if wait <= 0:
        return None
    return _Refused(
        429, "too many failed authentications from this address; wait and check the token",
        {"Retry-After": str(max(1, math.ceil(wait)))},
    )  # fmt: skip


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            text: str = value.decode("latin-1")
            return text
    return None


def principal_of(request: Request) -> Principal:
    """The caller the middleware authenticated (401 if it did not run for this path)."""
    found = request.scope.get("state", {}).get("principal")
    if not isinstance(found, Principal):
        raise AuthenticationError("authentication required")
    return found
