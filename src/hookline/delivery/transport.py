"""Sending one webhook request: the HTTP transport, injected into the worker.

``Transport`` is the port; ``AiohttpTransport`` is the real one (chosen by
measurement, see docs/decisions.md). Redirects are never followed: a 3xx is a
failed attempt, since following it would let an endpoint bounce us elsewhere.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
import time
from collections.abc import Mapping
from typing import Protocol

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from hookline.domain.endpoint_auth import ClientTls
from hookline.domain.outcome import AttemptResult, ErrorClass
from hookline.domain.retry import parse_retry_after
from hookline.domain.ssrf import (
    BlockedDestination,
    DestinationPolicy,
    check_resolved,
    check_url,
    parse_ip_literal,
)

#: URLs whose pre-DNS verdict a transport remembers (cleared when full).
URL_CACHE_SIZE = 10_000


class Transport(Protocol):
    """Sends one POST and reports what came back, never raising for network trouble."""

    async def send(
        self, url: str, body: bytes, headers: Mapping[str, str], tls: ClientTls | None = None
    ) -> AttemptResult:
        """POST ``body`` to ``url`` (presenting the TLS identity and trusting the CAs of
        ``tls``, if given); classify any failure into an ``AttemptResult``."""

    async def close(self) -> None:
        """Release connections."""


def classify(error: BaseException) -> ErrorClass:  # noqa: PLR0911 - one return per class reads best
    """Map a transport exception onto the error classes recorded with attempts."""
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        return ErrorClass.CONNECT_TIMEOUT
    if isinstance(error, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return ErrorClass.TIMEOUT
    if isinstance(error, aiohttp.ClientConnectorDNSError):
        return ErrorClass.DNS
    if isinstance(error, aiohttp.ClientSSLError | ssl.SSLError):
        return ErrorClass.TLS
    if isinstance(error, aiohttp.InvalidURL):
        return ErrorClass.INVALID_URL
    if isinstance(error, aiohttp.ClientConnectorError):
        if isinstance(error.os_error, ConnectionRefusedError):
            return ErrorClass.CONNECTION_REFUSED
        return ErrorClass.ERROR
    if isinstance(error, aiohttp.ServerDisconnectedError | ConnectionResetError):
        return ErrorClass.CONNECTION_RESET
    if isinstance(error, aiohttp.ClientOSError) and error.errno in {errno.ECONNRESET, errno.EPIPE}:
        return ErrorClass.CONNECTION_RESET
    return ErrorClass.ERROR


class GuardedResolver(AbstractResolver):
    """Resolves names, then refuses any answer the destination policy does not allow.

    aiohttp connects only to the addresses its resolver returns, so the address
    checked here is the address connected to: no DNS rebinding in between.
    """

    def __init__(self, policy: DestinationPolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        self.inner = inner or aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve ``host`` and keep its answers only if every one of them is allowed."""
        results = await self.inner.resolve(host, port, family)
        addresses = [parse_ip_literal(r["host"]) for r in results]
        check_resolved(host, [a for a in addresses if a is not None], self.policy)
        return results

    async def close(self) -> None:
        """Close the inner resolver."""
        await self.inner.close()


class AiohttpTransport:
    """An aiohttp session shared by every delivery of a worker (keep-alive per host)."""

    def __init__(
        self,
        connect_timeout: float = 5.0,
        total_timeout: float = 15.0,
        max_response_bytes: int = 20 * 1024,
        policy: DestinationPolicy | None = None,
    ) -> None:
        self.timeout = aiohttp.ClientTimeout(total=total_timeout, connect=connect_timeout)
        self.max_response_bytes = max_response_bytes
        self.policy = policy or DestinationPolicy()
        self._session: aiohttp.ClientSession | None = None
        #: Verdicts of the literal-address check by URL (pure, so safe to remember).
        self._refusals: dict[str, str | None] = {}

    def _refusal(self, url: str) -> str | None:
        """Why ``url`` is refused before any DNS (scheme, literal address), or None."""
        if url not in self._refusals:
            if len(self._refusals) >= URL_CACHE_SIZE:
                self._refusals.clear()
            try:
                check_url(url, self.policy)
                self._refusals[url] = None
            except BlockedDestination as refused:
                self._refusals[url] = refused.reason
        return self._refusals[url]

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            # The worker bounds concurrency itself (globally and per endpoint), so the
            # connector must not add a second, hidden limit.
            connector = aiohttp.TCPConnector(
                limit=0,
                limit_per_host=0,
                ttl_dns_cache=60,
                enable_cleanup_closed=True,
                resolver=GuardedResolver(self.policy),
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self.timeout,
                auto_decompress=True,
                skip_auto_headers=("User-Agent",),
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def send(
        self, url: str, body: bytes, headers: Mapping[str, str], tls: ClientTls | None = None
    ) -> AttemptResult:
        """POST and read at most ``max_response_bytes`` of the answer. A TLS client
        identity is not supported here (the API refuses it with this transport)."""
        if tls is not None:
            return AttemptResult(
                0, "the aiohttp transport does not present TLS client identities; "
                "use HOOKLINE_HTTP_CLIENT=pyreqwest", {}, 0, ErrorClass.TLS,
            )  # fmt: skip
        session = self._open()
        started = time.perf_counter()
        # IP literals skip the resolver, so they are judged here; names are judged
        # by the resolver, on the very addresses that get connected to.
        refusal = self._refusal(url)
        if refusal is not None:
            return AttemptResult(0, refusal, {}, 0, ErrorClass.BLOCKED)
        try:
            async with session.post(
                url, data=body, headers=dict(headers), allow_redirects=False
            ) as response:
                raw = await response.content.read(self.max_response_bytes)
                response_headers = {k.lower(): v for k, v in response.headers.items()}
                status = response.status
        except BlockedDestination as refused:
            return AttemptResult(0, refused.reason, {}, ms_since(started), ErrorClass.BLOCKED)
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as error:
            return AttemptResult(
                status_code=0,
                response_body=f"{type(error).__name__}: {error}"[:1000],
                response_headers={},
                duration_ms=ms_since(started),
                error_class=classify(error),
            )
        return answered(status, bytes(raw), response_headers, started)

    async def close(self) -> None:
        """Close the session and its pooled connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None


def answered(status: int, raw: bytes, headers: dict[str, str], started: float) -> AttemptResult:
    """The result of an attempt that got an HTTP answer: only a 2xx is a success."""
    error_class = None
    if 300 <= status < 400:
        error_class = ErrorClass.REDIRECT  # redirects are never followed
    elif not 200 <= status < 300:
        error_class = ErrorClass.HTTP_STATUS
    return AttemptResult(
        status_code=status,
        response_body=raw.decode("utf-8", errors="replace"),
        response_headers=headers,
        duration_ms=ms_since(started),
        error_class=error_class,
        retry_after=parse_retry_after(headers, time.time()),
    )


def ms_since(started: float) -> int:
    """Milliseconds since ``started`` (a ``time.perf_counter()`` reading)."""
    return int((time.perf_counter() - started) * 1000)
