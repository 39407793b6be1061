"""OAuth 2.0 client-credentials tokens for endpoints: fetched, cached and shared.

One ``TokenCache`` per worker (inside its ``HttpChannel``). An endpoint's token is
fetched once and shared by every request to it until it nears expiry
(``domain.oauth2.AccessToken.fresh``); requests that need a token while it is being
fetched wait for that one fetch (single flight), and so do requests that got a 401
with the same stale token: the endpoint gets one refresh, not one per request.

The token request goes through the worker's ``Transport``: the token URL is judged by
the same destination (SSRF) checks as a delivery, on the address connected to, and
goes through the egress proxy when one is set. A failure is a ``TokenError`` whose
reason the attempt records (``ErrorClass.TOKEN``); failures are not cached, so the
next attempt tries again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from hookline.domain.endpoint_auth import OAuth2ClientCredentials
from hookline.domain.oauth2 import (
    AccessToken,
    TokenError,
    cache_key,
    parse_token_response,
    token_request,
)

from .transport import Transport

#: Endpoints whose tokens a worker keeps (the oldest go first past it).
MAX_CACHED_TOKENS = 4096


class TokenCache:
    """Bearer tokens by endpoint (and credentials), fetched through ``transport``."""

    def __init__(
        self, transport: Transport, clock: Callable[[], float] = time.time,
        max_tokens: int = MAX_CACHED_TOKENS,
    ) -> None:  # fmt: skip
        self.transport = transport
        self.clock = clock
        self.max_tokens = max_tokens
        self._tokens: dict[str, AccessToken] = {}
        self._fetching: dict[str, asyncio.Future[AccessToken]] = {}
        #: Token requests sent (for tests and metrics: how many fetches the cache saved).
        self.fetches = 0

    async def authorization(
        self, endpoint_id: str, credentials: OAuth2ClientCredentials, stale: str | None = None
    ) -> str:
        """The ``Authorization`` value for a request to the endpoint; a new token when the
        cached one nears expiry or is ``stale`` (the one the endpoint just refused).

        Raises ``TokenError`` with a reason when no token can be had.
        """
        key = cache_key(endpoint_id, credentials)
        token = self._tokens.get(key)
        if token is not None and token.fresh(self.clock()) and token.authorization != stale:
            return token.authorization
        pending = self._fetching.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._fetch(key, credentials))
            self._fetching[key] = pending
            pending.add_done_callback(lambda _: self._fetching.pop(key, None))
        return (await asyncio.shield(pending)).authorization

    async def _fetch(self, key: str, credentials: OAuth2ClientCredentials) -> AccessToken:
        body, headers = token_request(credentials)
        self.fetches += 1
        result = await self.transport.send(credentials.token_url, body, headers)
        if result.status_code == 0:
            raise TokenError(
                f"the token endpoint could not be reached ({result.error_class}): "
                f"{result.response_body[:300]}"
            )
        token = parse_token_response(result.status_code, result.response_body, self.clock())
        self._tokens.pop(key, None)
        self._tokens[key] = token
        while len(self._tokens) > self.max_tokens:
            self._tokens.pop(next(iter(self._tokens)))
        return token
