"""Storage: one port (``Storage``), two backends (SQLite embedded, PostgreSQL scale-out)."""

from __future__ import annotations

from hookline.errors import ConfigError
from hookline.storage.base import Storage


def storage_from_url(url: str, *, sqlite_synchronous: str = "FULL", pool_size: int = 10) -> Storage:
    """Build the backend a database URL names (not yet opened)."""
    if url.startswith("sqlite:///"):
        from hookline.storage.sqlite import SqliteStorage

        return SqliteStorage(url.removeprefix("sqlite:///"), synchronous=sqlite_synchronous)
    if url.startswith(("postgresql://", "postgres://")):
        from hookline.storage.postgres import PostgresStorage

        return PostgresStorage(url, pool_size=pool_size)
    scheme = url.split(":", maxsplit=1)[0]
    raise ConfigError(
        f"HOOKLINE_DATABASE_URL must start with sqlite:/// or postgresql://, not {scheme!r}"
    )


__all__ = ["Storage", "storage_from_url"]
