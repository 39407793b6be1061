"""Running hookline: the API server and delivery workers in one event loop.

``run(settings, api=True, workers=True)`` is ``hookline serve``; the ``api`` and
``worker`` commands run one half each. SIGTERM and SIGINT stop new work, let
in-flight attempts finish (up to ``shutdown_grace``), release the rest, and exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import uvicorn

from hookline import tracing
from hookline.delivery.handlers import HandlerRunner
from hookline.delivery.maintenance import JobRunner, RetentionCleaner
from hookline.delivery.transport import AiohttpTransport, Transport
from hookline.delivery.worker import DeliveryWorker, WorkerConfig
from hookline.domain import tokens
from hookline.domain.handlers import Handlers
from hookline.domain.secrets import SecretBox
from hookline.secret_keys import load_secret_box
from hookline.server_limits import server_config
from hookline.settings import Settings
from hookline.storage import storage_from_url
from hookline.storage.base import Retention, Storage, Tokens

if TYPE_CHECKING:
    from hookline.delivery.destinations import DestinationChannels

logger = logging.getLogger(__name__)

#: How often idle housekeeping runs (expiring idempotency keys).
HOUSEKEEPING_INTERVAL = 3600.0
#: The id of the admin token a first start creates; its presence means "not the first start".
FIRST_TOKEN_ID = "tok_first_admin"  # noqa: S105 - an id, not a secret


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: ``run`` owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def open_storage(settings: Settings, secret_box: SecretBox | None = None) -> Storage:
    """The storage the settings name (not yet opened), sealing secrets with ``secret_box``.

    Without a box, the keys the settings name are loaded (see ``hookline.secret_keys``).
    """
    return storage_from_url(
        settings.database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        pool_size=settings.postgres_pool_size,
        secret_box=secret_box or load_secret_box(settings),
    )


def make_transport(settings: Settings) -> Transport:
    """The outbound HTTP client the settings choose."""
    arguments = (
        settings.connect_timeout,
        settings.request_timeout,
        settings.max_response_bytes,
        settings.destination_policy,
    )
    if settings.http_client == "pyreqwest":
        from hookline.delivery.pyreqwest_transport import PyreqwestTransport

        return PyreqwestTransport(*arguments, proxy=settings.egress_proxy)
    return AiohttpTransport(*arguments)


async def serve(
    settings: Settings,
    *,
    api: bool = True,
    workers: bool = True,
    on_ready: Callable[[str], None] | None = None,
    on_first_token: Callable[[str], None] | None = None,
    secret_box: SecretBox | None = None,
    handlers: Handlers | None = None,
    sock: socket.socket | None = None,
) -> None:
    """Open storage, run what was asked for until a signal, then shut down cleanly.

    On the very first start of an API with no admin token in its settings, an
    admin token is created and handed to ``on_first_token``, the only time it
    exists in clear. The API listens on ``sock`` when given (one of several API
    processes sharing a port: ``hookline.processes``), else binds its own.
    """
    tracing.setup(settings.traces)
    storage = open_storage(settings, secret_box)
    await storage.open()
    if api and not settings.admin_token.get_secret_value():
        first = await create_first_token(storage)
        if first is not None and on_first_token is not None:
            on_first_token(first)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    tasks: list[asyncio.Task[None]] = []
    engine: list[DeliveryWorker | JobRunner | RetentionCleaner] = []
    transport = make_transport(settings)
    destinations = make_destinations(settings) if workers else None
    server: _Server | None = None
    try:
        if workers:
            engine = _engine(storage, settings, transport, handlers, destinations)
            tasks += [asyncio.create_task(part.run()) for part in engine]
            tasks.append(asyncio.create_task(_housekeeping(storage, settings, stop)))
        if workers and not api and settings.metrics_port:
            server = _metrics_server(settings, storage)
            tasks.append(asyncio.create_task(server.serve(), name="hookline-metrics"))
        if api:
            from hookline.server import create_app  # a worker-only process need not load it

            app = create_app(settings, storage)
            sock = sock or bind_socket(settings.host, settings.port)
            server = _Server(server_config(app, settings, timeout_graceful_shutdown=5))
            tasks.append(asyncio.create_task(server.serve(sockets=[sock]), name="hookline-api"))
            host, port = sock.getsockname()[:2]
            url = f"http://{host}:{port}"
            logger.info("hookline API listening", extra={"url": url})
            if on_ready:
                on_ready(url)
        elif on_ready:
            on_ready("")
        await _until_stopped(stop, tasks)
    finally:
        logger.info("shutting down")
        stop.set()  # also when a task failed: housekeeping waits on it
        if server is not None:
            server.should_exit = True
        for part in engine:
            part.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(transport.close(), destinations.close() if destinations else _done())
        await storage.close()
        tracing.shutdown()
        logger.info("stopped")


def _metrics_server(settings: Settings, storage: Storage) -> _Server:
    """``/metrics`` of a worker-only process: where its delivery counters can be scraped."""
    from hookline.api import create_metrics_app

    config = server_config(
        create_metrics_app(settings, storage), settings, host=settings.host,
        port=settings.metrics_port,
    )  # fmt: skip
    logger.info(
        "metrics served", extra={"url": f"http://{settings.host}:{settings.metrics_port}/metrics"}
    )
    return _Server(config)


async def _done() -> None:
    """Nothing to close."""


def make_destinations(settings: Settings) -> DestinationChannels:
    """The channels to brokers and databases (they connect on their first delivery).
    Imported here: an API-only process need not load the broker client libraries."""
    from hookline.delivery.destinations import DestinationChannels

    return DestinationChannels(
        settings.destination_policy, settings.connect_timeout, settings.request_timeout
    )


def _engine(
    storage: Storage, settings: Settings, transport: Transport, handlers: Handlers | None,
    destinations: DestinationChannels | None,
) -> list[DeliveryWorker | JobRunner | RetentionCleaner]:  # fmt: skip
    """A worker process's parts: delivery, and beside it background jobs and retention."""
    worker = DeliveryWorker(
        storage, transport, WorkerConfig.from_settings(settings),
        handlers=HandlerRunner(handlers, timeout=settings.request_timeout),
        destinations=destinations.by_kind if destinations else None,
    )  # fmt: skip
    cleaner = RetentionCleaner(
        storage, settings.attempt_retention_days * 86400, settings.retention_interval,
        settings.retention_batch,
    )  # fmt: skip
    return [worker, JobRunner(storage, worker.name, settings.poll_interval), cleaner]


async def prepare(settings: Settings, secret_box: SecretBox | None = None) -> str | None:
    """Bring the schema up to date and, for an API with no admin token in its settings,
    create the first one: what one process does before several start on the database.
    Returns the first token in clear when it was created now."""
    storage = open_storage(settings, secret_box)
    await storage.open()
    try:
        if settings.admin_token.get_secret_value():
            return None
        return await create_first_token(storage)
    finally:
        await storage.close()


async def create_first_token(storage: Tokens) -> str | None:
    """Create the first admin token unless one was ever created; return it in clear if so.

    The fixed id makes this safe when several API processes start at once: one
    insert wins, and the others see that the token exists.
    """
    plaintext, token = tokens.issue("first admin token", time.time(), token_id=FIRST_TOKEN_ID)
    return plaintext if await storage.create_token_once(token) else None


async def _until_stopped(stop: asyncio.Event, tasks: list[asyncio.Task[None]]) -> None:
    """Wait for a signal, or for any task to end early (which is a failure to report)."""
    waiter = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({waiter, *tasks}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    for task in done:
        if task is not waiter and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


async def _housekeeping(storage: Retention, settings: Settings, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await storage.expire_idempotent(time.time() - settings.idempotency_ttl)
            await storage.expire_dedup_keys(time.time())
            await storage.expire_web_sessions(time.time())
        except Exception:  # housekeeping must never take the server down
            logger.exception("housekeeping failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), HOUSEKEEPING_INTERVAL)


def bind_socket(
    host: str, port: int, *, reuse_port: bool = False, listen: bool = True
) -> socket.socket:
    """The API's listening socket. With ``reuse_port``, several processes bind the same
    port and the kernel spreads new connections evenly between those listening."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    if listen:
        sock.listen(2048)
    return sock


def run(
    settings: Settings,
    *,
    api: bool = True,
    workers: bool = True,
    on_ready: Callable[[str], None] | None = None,
    on_first_token: Callable[[str], None] | None = None,
    secret_box: SecretBox | None = None,
    handlers: Handlers | None = None,
    sock: socket.socket | None = None,
) -> None:
    """Blocking entry point: use uvloop when available."""
    try:
        import uvloop

        runner: Callable[..., None] = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        runner = asyncio.run
    try:
        runner(
            serve(
                settings, api=api, workers=workers, on_ready=on_ready,
                on_first_token=on_first_token, secret_box=secret_box, handlers=handlers,
                sock=sock,
            )
        )  # fmt: skip
    except OSError as error:
        logger.error("cannot start", extra={"error": str(error)})
        sys.exit(1)
