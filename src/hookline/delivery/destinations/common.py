"""What every broker and database channel shares.

- ``outgoing``: each delivery of a group as one signed message (its shaped body, its
  Standard Webhooks headers made by ``request.headers``, as for HTTP).
- ``checked_host``: the SSRF check of a destination's host before any connection
  (``domain.ssrf``), answering the checked address to connect to.
- ``Connections``: a destination's connection, opened once per configuration and reused
  by every send to it, dropped when it breaks, closed at shutdown.
- ``DestinationChannel``: the ``send`` of every kind: shape, sign, connect, publish
  under a deadline, and turn whatever went wrong into an ``AttemptResult`` with an
  ``ErrorClass`` and a reason a person can read. A kind writes ``connect``,
  ``publish`` and ``disconnect``.
"""

from __future__ import annotations

import abc
import asyncio
import ipaddress
import json
import logging
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import SplitResult, urlsplit, urlunsplit

from hookline.domain.outcome import AttemptResult, ErrorClass, SentRequest, recorded_headers
from hookline.domain.shaping import Shaped
from hookline.domain.ssrf import (
    BlockedDestination,
    DestinationPolicy,
    check_resolved,
    parse_ip_literal,
)
from hookline.storage.base import ClaimedDelivery

from .. import request as requests
from ..channels import Sent, shape_group

logger = logging.getLogger(__name__)

#: Signature headers only: a broker message carries ``webhook-*``, not the ``svix-*`` copies.
SIGNING = requests.RequestConfig(send_svix_headers=False)
#: Open destination connections a channel keeps (the least recently used one goes first).
MAX_CONNECTIONS = 256
#: A reason is cut to this many characters (as the HTTP transport does).
MAX_REASON = 1000

Connection = TypeVar("Connection")


class Refused(Exception):
    """The destination answered, and the answer is no (a NACK, an unroutable message, a
    missing table, a bad configuration): the attempt fails with this class and reason."""

    def __init__(self, error_class: ErrorClass, reason: str) -> None:
        super().__init__(reason)
        self.error_class = error_class
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One delivery as the message a broker or database gets."""

    msg_id: str
    event_type: str
    body: bytes
    #: The signed ``webhook-timestamp`` (the attempt's time, whole seconds).
    timestamp: int
    #: ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``, ``content-type``, and
    #: the headers an inbound event came with or the endpoint adds (as over HTTP).
    headers: dict[str, str]


def outgoing(
    group: Sequence[ClaimedDelivery], shaped: Sequence[Shaped], now: float
) -> list[Outgoing]:
    """Each delivery of ``group`` as one message, its shaped body signed on its own
    (a batch is many messages in one publish, not one batch body)."""
    made = []
    for delivery, shape in zip(group, shaped, strict=True):
        headers = requests.headers(
            delivery, now, delivery.msg_id, shape.body, shape.headers, SIGNING
        )
        headers.pop("user-agent", None)
        made.append(Outgoing(delivery.msg_id, delivery.event_type, shape.body, int(now), headers))
    return made


def sent_record(first: ClaimedDelivery, message: Outgoing) -> SentRequest:
    """What the attempt records: the first message's headers (credential-like ones
    masked) and its body when it is not the stored payload."""
    custom = (*first.headers, *(first.message_headers or ()))
    body = None if message.body is first.payload else message.body.decode("utf-8", "replace")
    return SentRequest(recorded_headers(message.headers, custom), body)


async def checked_host(host: str | None, policy: DestinationPolicy) -> str:
    """The address to connect to for ``host``: an IP literal or every address the name
    resolves to must pass ``policy`` (raises ``BlockedDestination``); the first is used."""
    if not host:
        raise BlockedDestination("the destination has no host")
    literal = parse_ip_literal(host)
    if literal is not None:
        kind = policy.refusal(literal)
        if kind:
            raise BlockedDestination(f"refused: {literal} is {kind}")
        return str(literal)
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    return str(check_resolved(host, addresses, policy)[0])


def with_host(parts: SplitResult, address: str) -> str:
    """The URL ``parts`` with its host replaced by ``address`` (credentials and port kept),
    so the connection goes to the address that was checked, not a second DNS answer."""
    shown = f"[{address}]" if ":" in address else address
    credentials, _, _ = parts.netloc.rpartition("@")
    netloc = f"{credentials}@{shown}" if credentials else shown
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def parse_url(url: object, schemes: Mapping[str, bool], field: str) -> SplitResult:
    """``url`` split, its scheme one of ``schemes`` (name → whether it is TLS), else
    ``Refused`` naming the field."""
    if not isinstance(url, str) or not url:
        raise Refused(ErrorClass.INVALID_URL, f"the destination has no {field}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as error:
        raise Refused(ErrorClass.INVALID_URL, f"{field} is malformed: {error}") from None
    if parts.scheme not in schemes:
        allowed = ", ".join(f"{scheme}://" for scheme in schemes)
        raise Refused(ErrorClass.INVALID_URL, f"{field} must start with {allowed}")
    if not parts.hostname:
        raise Refused(ErrorClass.INVALID_URL, f"{field} has no host")
    return parts


def config_text(config: Mapping[str, Any], field: str) -> str:
    """A required text field of a destination's configuration, else ``Refused``."""
    value = config.get(field)
    if not isinstance(value, str) or not value:
        raise Refused(ErrorClass.INVALID_CONFIG, f"the destination has no {field}")
    return value


def root_error(error: BaseException) -> BaseException:
    """The innermost cause or context of ``error`` (libraries wrap the OSError)."""
    seen = {id(error)}
    while True:
        inner = error.__cause__ or error.__context__
        if inner is None or id(inner) in seen:
            return error
        seen.add(id(inner))
        error = inner


def classify(error: BaseException) -> ErrorClass:
    """The error class of a connection or publish failure."""
    for candidate in (error, root_error(error)):
        if isinstance(candidate, TimeoutError):
            return ErrorClass.TIMEOUT
        if isinstance(candidate, ConnectionRefusedError):
            return ErrorClass.CONNECTION_REFUSED
        if isinstance(candidate, ConnectionResetError | BrokenPipeError):
            return ErrorClass.CONNECTION_RESET
        if isinstance(candidate, socket.gaierror):
            return ErrorClass.DNS
        if isinstance(candidate, ssl.SSLError):
            return ErrorClass.TLS
    return ErrorClass.ERROR


def describe(error: BaseException) -> str:
    """``error`` in a line: its class and message, and the root cause's when different."""
    text = f"{type(error).__name__}: {error}".rstrip(": ")
    root = root_error(error)
    if root is not error and str(root) and str(root) not in text:
        text += f" ({type(root).__name__}: {root})"
    return text


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every secret in ``secrets`` masked: reasons are stored and shown."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def config_key(config: Mapping[str, Any]) -> str:
    """The key a destination's connection is cached under: its whole configuration
    (a changed password or URI opens a new connection)."""
    return json.dumps(config, sort_keys=True, default=str)


class Connections(Generic[Connection]):
    """Open connections by destination configuration: made once, reused by every send,
    dropped when broken, closed at shutdown. At most ``limit`` stay open."""

    def __init__(
        self,
        connect: Callable[[Mapping[str, Any]], Awaitable[Connection]],
        disconnect: Callable[[Connection], Awaitable[None]],
        is_open: Callable[[Connection], bool] = lambda _: True,
        limit: int = MAX_CONNECTIONS,
    ) -> None:
        self._connect = connect
        self._disconnect = disconnect
        self._is_open = is_open
        self.limit = limit
        self._open: dict[str, Connection] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._closing: set[asyncio.Future[None]] = set()

    async def get(self, config: Mapping[str, Any]) -> Connection:
        """The open connection for ``config``, opened now if there is none (concurrent
        sends to one destination wait for the same connection)."""
        key = config_key(config)
        found = self._open.get(key)
        if found is not None and self._is_open(found):
            self._open[key] = self._open.pop(key)  # most recently used goes last
            return found
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            found = self._open.get(key)
            if found is not None and not self._is_open(found):
                # Closed under us (the broker restarted, the server dropped it): reopen.
                await self.discard(config, found)
                found = None
            if found is None:
                found = await self._connect(config)
                while len(self._open) >= self.limit:
                    oldest = next(iter(self._open))
                    await self._close(self._open.pop(oldest))
                self._open[key] = found
            return found

    def __len__(self) -> int:
        """How many connections are open."""
        return len(self._open)

    async def discard(self, config: Mapping[str, Any], connection: Connection) -> None:
        """Forget and close ``connection`` (it failed: the next send opens a new one)."""
        key = config_key(config)
        if self._open.get(key) is connection:
            del self._open[key]
        # Closed in the background: a send that timed out must not wait for it too.
        closing = asyncio.ensure_future(self._close(connection))
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        """Close every open connection."""
        while self._open:
            _, connection = self._open.popitem()
            await self._close(connection)
        self._locks.clear()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    async def _close(self, connection: Connection) -> None:
        try:
            await asyncio.wait_for(self._disconnect(connection), timeout=5.0)
        except Exception as error:
            logger.debug("closing a destination connection failed", extra={"error": str(error)})


def failed(error_class: ErrorClass, reason: str, started: float) -> AttemptResult:
    """A failed attempt's result."""
    return AttemptResult(0, reason[:MAX_REASON], {}, ms_since(started), error_class)


def ms_since(started: float) -> int:
    """Milliseconds since ``started`` (a ``time.perf_counter()`` reading)."""
    return int((time.perf_counter() - started) * 1000)


class DestinationChannel(abc.ABC, Generic[Connection]):
    """A delivery channel to one kind of broker or database: a batch is one publish of
    many messages with one wait for the confirmations. Never raises out of ``send``."""

    batches = True
    #: The kind's name in reasons ("RabbitMQ").
    name = "destination"

    def __init__(
        self,
        policy: DestinationPolicy | None = None,
        connect_timeout: float = 5.0,
        timeout: float = 15.0,
    ) -> None:
        self.policy = policy or DestinationPolicy()
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self.connections: Connections[Connection] = Connections(
            self.connect, self.disconnect, self.is_open
        )

    @abc.abstractmethod
    async def connect(self, config: Mapping[str, Any]) -> Connection:
        """Open a connection to the destination ``config`` names (its host checked first)."""

    @abc.abstractmethod
    async def publish(
        self, connection: Connection, config: Mapping[str, Any], messages: Sequence[Outgoing]
    ) -> str:
        """Publish ``messages`` at once and wait until the destination confirmed every one;
        answer what it said (e.g. "3 messages confirmed"), raise ``Refused`` for a no."""

    @abc.abstractmethod
    async def disconnect(self, connection: Connection) -> None:
        """Close ``connection``."""

    def classify(self, error: BaseException) -> ErrorClass:
        """The error class of a failure this kind's library raised."""
        return classify(error)

    def is_open(self, connection: Connection) -> bool:
        """Whether a cached ``connection`` can still be used (else it is reopened)."""
        del connection
        return True

    def secrets(self, config: Mapping[str, Any]) -> list[str]:
        """Values of ``config`` that must never appear in a reason (passwords)."""
        found = []
        for value in config.values():
            if isinstance(value, str) and value:
                password = _url_password(value)
                if password:
                    found.append(password)
        password = config.get("password")
        if isinstance(password, str):
            found.append(password)
        return found

    async def send(self, group: Sequence[ClaimedDelivery], sent_at: float) -> Sent:
        """Shape, sign and publish the group; wait for the destination's confirmation."""
        shaped = await shape_group(group)
        if isinstance(shaped, AttemptResult):
            return shaped, None
        messages = outgoing(group, shaped, sent_at)
        sent = sent_record(group[0], messages[0])
        destination = group[0].destination
        config: Mapping[str, Any] = destination.config if destination is not None else {}
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                answer = await self._publish(config, messages)
        except Refused as refused:
            return failed(refused.error_class, refused.reason, started), sent
        except BlockedDestination as blocked:
            return failed(ErrorClass.BLOCKED, blocked.reason, started), sent
        except TimeoutError:
            reason = f"{self.name} did not confirm within {self.timeout:g}s"
            return failed(ErrorClass.TIMEOUT, reason, started), sent
        except Exception as error:
            reason = scrub(f"{self.name}: {describe(error)}", self.secrets(config))
            return failed(self.classify(error), reason, started), sent
        return AttemptResult(200, answer, {}, ms_since(started)), sent

    async def _publish(self, config: Mapping[str, Any], messages: Sequence[Outgoing]) -> str:
        connection = await self.connections.get(config)
        try:
            return await self.publish(connection, config, messages)
        except Refused:
            raise  # the destination answered: the connection is fine
        except BaseException:
            # Broken, or in a state nobody knows (a timeout): the next send reconnects.
            await self.connections.discard(config, connection)
            raise

    async def close(self) -> None:
        """Close every connection this channel opened (at worker shutdown)."""
        await self.connections.close()


def _url_password(value: str) -> str | None:
    if "://" not in value:
        return None
    try:
        return urlsplit(value).password
    except ValueError:
        return None


def count(number: int, what: str, plural: str | None = None) -> str:
    """``number`` and ``what``, plural when it is not one ("3 messages")."""
    return f"{number} {what}" if number == 1 else f"{number} {plural or what + 's'}"
