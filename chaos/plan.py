"""What one chaos run does: its size, its faults, and the hookline settings it runs with."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from chaos.receiver import DEFAULT_MIX

#: The admin token every hookline process of a run accepts.
ADMIN_TOKEN = "hk_chaos_admin_token_0123456789abcdefghij"  # noqa: S105 - a harness fixture
#: The event types published; each endpoint subscribes to two of them.
EVENT_TYPES = ("chaos.a", "chaos.b", "chaos.c")


@dataclass(frozen=True)
class Plan:
    """A run's parameters (see ``python -m chaos --help``)."""

    backend: str = "sqlite"
    messages: int = 300
    kills: int = 3
    #: Seconds over which the messages are published and the kills happen.
    duration: float = 8.0
    seed: int = 1
    restart_postgres: bool = False
    endpoints: int = 3
    #: PostgreSQL: run on this (fresh) database; empty: create one on ``postgres_url``.
    database_url: str = ""
    postgres_url: str = ""
    http_client: str = "pyreqwest"
    #: Longest wait for every delivery to settle after the load and the faults.
    drain_timeout: float = 60.0
    workdir: Path | None = None
    long: bool = False
    #: Broker mode (chaos/broker_mode.py): deliver to these instead of the HTTP receiver.
    brokers: tuple[str, ...] = ()
    # hookline's settings for the run
    request_timeout: float = 2.0
    connect_timeout: float = 1.0
    lease_seconds: float = 7.0
    worker_concurrency: int = 32
    endpoint_concurrency: int = 12
    retry_schedule: str = "0.5s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s"
    #: The receiver's answers by kind, weights in per cent.
    mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))

    @property
    def api_processes(self) -> int:
        """``hookline api`` processes (0: one ``hookline serve`` does everything)."""
        return 2 if self.backend == "postgres" else 0

    @property
    def worker_processes(self) -> int:
        """``hookline worker`` processes (0 on SQLite: ``serve`` has the workers)."""
        return 2 if self.backend == "postgres" else 0

    @property
    def hang_seconds(self) -> float:
        """How long a hanging request is held at most: well past hookline's timeout."""
        return self.request_timeout + 3.0

    @property
    def slow_seconds(self) -> float:
        """The longest slow body: well inside hookline's timeout."""
        return self.request_timeout * 0.4

    def hookline_settings(self, database_url: str, secret_key: str) -> dict[str, str]:
        """The ``HOOKLINE_*`` environment of every hookline process of the run."""
        return {
            "HOOKLINE_DATABASE_URL": database_url,
            "HOOKLINE_SECRET_KEY": secret_key,
            "HOOKLINE_ADMIN_TOKEN": ADMIN_TOKEN,
            "HOOKLINE_HOST": "127.0.0.1",
            "HOOKLINE_ALLOWED_NETWORKS": "127.0.0.0/8",
            "HOOKLINE_API_RATE_LIMIT": "0",
            "HOOKLINE_LOG_LEVEL": "INFO",
            "HOOKLINE_HTTP_CLIENT": self.http_client,
            "HOOKLINE_REQUEST_TIMEOUT": str(self.request_timeout),
            "HOOKLINE_CONNECT_TIMEOUT": str(self.connect_timeout),
            "HOOKLINE_LEASE_SECONDS": str(self.lease_seconds),
            "HOOKLINE_WORKER_CONCURRENCY": str(self.worker_concurrency),
            "HOOKLINE_ENDPOINT_CONCURRENCY": str(self.endpoint_concurrency),
            "HOOKLINE_RETRY_SCHEDULE": self.retry_schedule,
            "HOOKLINE_RETRY_JITTER": "0.2",
            "HOOKLINE_MAX_RETRY_AFTER": "2",
            "HOOKLINE_POLL_INTERVAL": "0.5",
            "HOOKLINE_SHUTDOWN_GRACE": "3",
            "HOOKLINE_POSTGRES_POOL_SIZE": "4",
            # Log lines must reach the file before a kill -9, not sit in a buffer.
            "PYTHONUNBUFFERED": "1",
        }

    @property
    def max_attempts(self) -> int:
        """Attempts per delivery before it is dead-lettered."""
        return len([p for p in self.retry_schedule.split(",") if p.strip()]) + 1


def routes(endpoints: int) -> dict[str, tuple[str, ...] | None]:
    """Each endpoint's path and the event types it takes (``None``: every type).

    Endpoint ``i`` takes types ``i`` and ``i + 1`` (of three, in a ring): every
    message goes to some endpoints and not to others (routing is checked), and no
    endpoint carries the whole load.
    """
    count = len(EVENT_TYPES)
    return {
        f"/ep/{i}": (EVENT_TYPES[i % count], EVENT_TYPES[(i + 1) % count]) for i in range(endpoints)
    }


def routed_to(event_type: str, table: dict[str, tuple[str, ...] | None]) -> frozenset[str]:
    """The endpoint paths that a message of ``event_type`` must reach."""
    return frozenset(path for path, types in table.items() if types is None or event_type in types)
