"""``PyreqwestTransport``: the ``Transport`` port on pyreqwest (Rust, its own threads).

Chosen with ``HOOKLINE_HTTP_CLIENT=pyreqwest``. Measured in the real worker at
1.6-1.8 times aiohttp's delivery rate with ~45% less CPU per delivery (see
docs/research/pyreqwest.md), at the cost of a young dependency and error classes
read from its messages.

Semantics kept from ``hookline.delivery.transport.AiohttpTransport``:

* redirects are never followed (a 3xx is a failed attempt, ``ErrorClass.REDIRECT``);
* at most ``max_response_bytes`` of the (decompressed) answer are read;
* failures never raise: they become an ``AttemptResult`` with an ``ErrorClass``;
* ``Retry-After`` is parsed with ``hookline.domain.retry.parse_retry_after``;
* SSRF: scheme/credentials/IP literals are judged by ``check_url`` before any I/O;
  host *names* are resolved here (getaddrinfo in the default executor, as
  aiohttp's ThreadedResolver does), every answer is judged by ``check_resolved``,
  and the request then goes through a client built with
  ``ClientBuilder.resolve(host, checked_ip, 0)``, so reqwest connects to the checked
  address and does no DNS of its own for that name (no rebinding window).

pyreqwest 0.15 has no resolver hook (reqwest's ``dns_resolver`` is not exposed), and
``resolve()`` is fixed when a client is built, so pinning costs one ``Client`` (and one
connection pool) per host name, rebuilt every ``dns_ttl`` seconds. Only one address per
name can be pinned (a second ``resolve()`` for the same name replaces the first), so
there is no fail-over to a second A record. Proxies from the environment are disabled
(``no_proxy()``); the egress proxy of ``HOOKLINE_PROXY_URL`` is the only one used. Through
it, a name is still resolved and judged here before the request (the same check), but the
proxy resolves it again to connect: pinning the checked address is not possible then.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import ipaddress
import socket
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta

from pyreqwest import exceptions as px
from pyreqwest.client import Client, ClientBuilder
from pyreqwest.http import Url
from pyreqwest.proxy import ProxyBuilder

from hookline.domain.egress import EgressProxy
from hookline.domain.endpoint_auth import ClientTls, split_pem_certificates
from hookline.domain.outcome import AttemptResult, ErrorClass
from hookline.domain.ssrf import (
    BlockedDestination,
    DestinationPolicy,
    check_resolved,
    check_url,
    parse_ip_literal,
)

from .transport import URL_CACHE_SIZE, answered, ms_since

_TLS_WORDS = ("certificate", "tls", "handshake", "corrupt message", "alert", "peer sent")


def _causes(error: BaseException) -> str:
    details = getattr(error, "details", None) or {}
    return " | ".join(c.get("message", "") for c in details.get("causes") or []).lower()


def classify(error: BaseException, https: bool = False) -> ErrorClass:  # noqa: PLR0911
    """Map a pyreqwest exception onto hookline's error classes.

    pyreqwest's types are coarse (refused, DNS, TLS and reset are all ``ConnectError``;
    a server that accepts but never answers is a ``ConnectTimeoutError``), so the
    cause chain (reqwest/hyper/rustls messages) has to be read.
    """
    text = _causes(error)
    if isinstance(error, px.ConnectTimeoutError):
        # Only a timeout during reqwest's Connect phase is a connect timeout.
        in_connect = "client error (connect)" in text
        return ErrorClass.CONNECT_TIMEOUT if in_connect else ErrorClass.TIMEOUT
    if isinstance(error, px.RequestTimeoutError | TimeoutError):
        return ErrorClass.TIMEOUT
    if isinstance(error, px.NetworkError):
        if "dns error" in text:
            return ErrorClass.DNS
        if "connection refused" in text:
            return ErrorClass.CONNECTION_REFUSED
        if any(w in text for w in ("connection reset", "broken pipe", "connection closed before")):
            return ErrorClass.CONNECTION_RESET
        in_connect = "client error (connect)" in text and "tcp connect error" not in text
        if any(w in text for w in _TLS_WORDS) or (https and in_connect):
            return ErrorClass.TLS
        return ErrorClass.ERROR
    if isinstance(error, px.BuilderError):
        return ErrorClass.INVALID_URL
    return ErrorClass.ERROR


class PyreqwestTransport:
    """pyreqwest clients shared by every delivery of a worker (keep-alive per host)."""

    def __init__(
        self,
        connect_timeout: float = 5.0,
        total_timeout: float = 15.0,
        max_response_bytes: int = 20 * 1024,
        policy: DestinationPolicy | None = None,
        dns_ttl: float = 60.0,
        max_pinned: int = 1024,
        proxy: EgressProxy | None = None,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.total_timeout = total_timeout
        self.max_response_bytes = max_response_bytes
        self.policy = policy or DestinationPolicy()
        self.dns_ttl = dns_ttl
        self.max_pinned = max_pinned
        #: Every request goes through this proxy when set (names are still resolved and
        #: judged here first: the SSRF defence applies to the real destination).
        self.proxy = proxy
        #: Verdicts of the pre-DNS check by URL: (refusal, name to pin, https).
        self._checked: dict[str, tuple[str | None, str | None, bool]] = {}
        #: The clients for IP-literal URLs (no DNS happens for them), by TLS identity.
        self._literal: dict[str, Client] = {}
        #: Pinned clients by host name and TLS identity: (client, expires_at).
        self._pinned: dict[tuple[str, str], tuple[Client, float]] = {}
        self._resolving: dict[tuple[str, str], asyncio.Future[Client]] = {}
        self._retired: list[Client] = []
        self._closing: set[asyncio.Future[None]] = set()

    # -- clients -------------------------------------------------------------

    def _builder(self, tls: ClientTls | None = None) -> ClientBuilder:
        """A client builder with the worker's settings, and ``tls``'s identity and CAs."""
        builder = self._base_builder()
        if tls is not None:
            if tls.has_identity:
                builder = builder.identity_pem(tls.identity_pem())
            if tls.ca_bundle:
                for certificate in split_pem_certificates(tls.ca_bundle):
                    builder = builder.add_root_certificate_pem(certificate)
        return builder

    def _base_builder(self) -> ClientBuilder:
        # No connection limit: the worker bounds concurrency itself, as with aiohttp.
        builder = (
            ClientBuilder()
            .follow_redirects(False)
            .no_proxy()
            .referer(False)
            .gzip(True)
            .deflate(True)
            .brotli(False)
            .zstd(False)
            .http1_lower_case_headers()
            .connect_timeout(timedelta(seconds=self.connect_timeout))
            .timeout(timedelta(seconds=self.total_timeout))
            .pool_idle_timeout(timedelta(seconds=15))  # aiohttp's keepalive_timeout
        )
        if self.proxy is not None:
            proxy = ProxyBuilder.all(self.proxy.url)
            if self.proxy.username is not None:
                proxy = proxy.basic_auth(self.proxy.username, self.proxy.password or "")
            builder = builder.proxy(proxy)
        return builder

    def _check(self, url: str) -> tuple[str | None, str | None, bool]:
        """(refusal, name to pin or None for an IP literal, https) for ``url``, cached.

        ``check_url`` judges scheme, credentials and literals; then the URL is parsed
        the way reqwest will parse it (WHATWG, IDNA to punycode), so the name pinned
        is byte for byte the name reqwest looks up, and a literal that reqwest reads
        differently from ``check_url`` is judged again.
        """
        verdict = self._checked.get(url)
        if verdict is None:
            if len(self._checked) >= URL_CACHE_SIZE:
                self._checked.clear()
            try:
                check_url(url, self.policy)
                parsed = Url(url)
                name = parsed.domain
                if name is None:
                    address = ipaddress.ip_address((parsed.host_str or "").strip("[]"))
                    kind = self.policy.refusal(address)
                    if kind:
                        raise BlockedDestination(f"refused: {address} is {kind}")
                verdict = (None, name, parsed.scheme == "https")
            except BlockedDestination as refused:
                verdict = (refused.reason, None, False)
            except ValueError as error:
                verdict = (f"the URL is malformed: {error}", None, False)
            self._checked[url] = verdict
        return verdict

    async def _client_for(self, name: str | None, tls: ClientTls | None = None) -> Client:
        identity = _identity_key(tls)
        if name is None or not self.policy.enabled:
            literal = self._literal.get(identity)
            if literal is None:
                literal = self._literal[identity] = self._builder(tls).build()
            return literal
        key = (name, identity)
        entry = self._pinned.get(key)
        if entry is not None and entry[1] > time.monotonic():
            return entry[0]
        pending = self._resolving.get(key)
        if pending is None:  # one resolution per name, however many sends wait for it
            pending = asyncio.ensure_future(self._pin(name, tls))
            self._resolving[key] = pending
            pending.add_done_callback(lambda _: self._resolving.pop(key, None))
        return await asyncio.shield(pending)

    async def _pin(self, name: str, tls: ClientTls | None) -> Client:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(name, 0, type=socket.SOCK_STREAM)
        addresses = [parse_ip_literal(str(info[4][0])) for info in infos]
        allowed = check_resolved(name, [a for a in addresses if a is not None], self.policy)
        # Port 0: reqwest uses the URL's port with the pinned address. Building a
        # client costs ~6-10 ms of CPU (TLS roots), with the GIL released: off the loop.
        builder = self._builder(tls).resolve(name, str(allowed[0]), 0)
        client = await asyncio.to_thread(builder.build)
        key = (name, _identity_key(tls))
        old = self._pinned.pop(key, None)
        self._pinned[key] = (client, time.monotonic() + self.dns_ttl)
        if old is not None:
            self._retire(old[0])
        while len(self._pinned) > self.max_pinned:  # ~115 KiB per idle client: bound them
            self._retire(self._pinned.pop(next(iter(self._pinned)))[0])
        return client

    def _retire(self, client: Client) -> None:
        """Close ``client`` once requests already using it have had time to finish."""
        self._retired.append(client)
        asyncio.get_running_loop().call_later(self.total_timeout + 1, self._close_retired, client)

    def _close_retired(self, client: Client) -> None:
        if client in self._retired:
            self._retired.remove(client)
            task = asyncio.ensure_future(client.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    # -- the port ------------------------------------------------------------

    async def send(  # noqa: PLR0911 - one return per way an attempt ends reads best
        self, url: str, body: bytes, headers: Mapping[str, str], tls: ClientTls | None = None
    ) -> AttemptResult:
        """POST and read at most ``max_response_bytes`` of the answer; with ``tls``, through
        a client that presents its identity and trusts its CAs."""
        started = time.perf_counter()
        refusal, name, https = self._check(url)
        if refusal is not None:
            return AttemptResult(0, refusal, {}, 0, ErrorClass.BLOCKED)
        try:
            client = await self._client_for(name, tls)
        except BlockedDestination as refused:
            return AttemptResult(0, refused.reason, {}, ms_since(started), ErrorClass.BLOCKED)
        except OSError as error:  # socket.gaierror and friends
            return _failure(error, ErrorClass.DNS, started)
        except (px.BuilderError, ValueError) as error:  # a TLS identity reqwest refused
            return _failure(error, ErrorClass.TLS, started)
        try:
            builder = client.post(url)
        except ValueError as error:
            return _failure(error, ErrorClass.INVALID_URL, started)
        limit = self.max_response_bytes
        try:
            request = builder.headers(headers).body_bytes(body).build_streamed()
            async with request as response:
                reader = response.body_reader
                raw = bytearray()
                while len(raw) < limit:
                    chunk = await reader.read(limit - len(raw))
                    if chunk is None:
                        break
                    raw += bytes(chunk)
                response_headers = dict(response.headers.items())
                status = response.status
        except (px.PyreqwestError, OSError, ValueError) as error:
            failed = _failure(error, classify(error, https), started)
            return _with_tls_hint(failed, https, tls)
        return answered(status, bytes(raw), response_headers, started)

    async def close(self) -> None:
        """Close every client and its pooled connections."""
        clients = [c for c, _ in self._pinned.values()] + self._retired
        clients += self._literal.values()
        self._pinned.clear()
        self._retired.clear()
        self._literal = {}
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


#: What reqwest says when a TLS server hangs up on the request (TLS 1.3 servers check the
#: client certificate after the handshake, so a refusal often arrives as this, or an alert).
_HUNG_UP = (
    "peer closed connection without sending tls close_notify",
    "certificaterequired", "certificate required", "bad certificate", "badcertificate",
    "unknown ca", "unknownca",
)  # fmt: skip


def _with_tls_hint(result: AttemptResult, https: bool, tls: ClientTls | None) -> AttemptResult:
    """``result`` with the likely reason first when a TLS server hung up on the request:
    a client certificate refused, or one required and none configured."""
    text = result.response_body.lower()
    if not https or not any(words in text for words in _HUNG_UP):
        return result
    if tls is not None and tls.has_identity:
        hint = "the server ended the TLS connection: it did not accept the client certificate"
    else:
        hint = "the server ended the TLS connection: it may require a client certificate (none set)"
    body = f"{hint} | {result.response_body}"[:1000]
    return replace(result, response_body=body, error_class=ErrorClass.TLS)


def _identity_key(tls: ClientTls | None) -> str:
    """What tells clients with different TLS identities or CAs apart ("" for none)."""
    if tls is None:
        return ""
    return _digest_of(tls)


@functools.lru_cache(maxsize=1024)
def _digest_of(tls: ClientTls) -> str:
    # Cached: claims hand out one ClientTls object per stored value, whose string hashes
    # Python keeps, so a send pays a dictionary lookup, not a SHA-256 of its PEMs.
    material = "\x00".join((tls.certificate or "", tls.key or "", tls.ca_bundle or ""))
    return hashlib.sha256(material.encode()).hexdigest()


def _failure(error: BaseException, error_class: ErrorClass, started: float) -> AttemptResult:
    causes = _causes(error)
    text = f"{type(error).__name__}: {causes or error}"
    return AttemptResult(
        status_code=0,
        response_body=text[:1000],
        response_headers={},
        duration_ms=ms_since(started),
        error_class=error_class,
    )
