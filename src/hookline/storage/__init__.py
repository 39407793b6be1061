"""Storage: ports by role (``ports/``; ``Storage`` is all of them), two backends
(SQLite embedded, PostgreSQL scale-out) over one set of SQL operations (``sql/``)."""

from __future__ import annotations

from typing import cast

from hookline.domain.secrets import SecretBox
from hookline.errors import ConfigError
from hookline.storage.base import Storage


def storage_from_url(
    url: str, *, secret_box: SecretBox, sqlite_synchronous: str = "FULL", pool_size: int = 10
) -> Storage:
    """Build the backend a database URL names (not yet opened).

    ``secret_box`` seals endpoint secrets on their way into the database and unseals
    them on their way out. The backends' port methods are made from their synchronous
    operations (``storage/_threaded.py``), so mypy knows them as ``Storage``; the port
    test proves each has the port's signature.
    """
    if url.startswith("sqlite:///"):
        from hookline.storage.sqlite import SqliteStorage

        return cast(
            Storage,
            SqliteStorage(
                url.removeprefix("sqlite:///"),
                secret_box=secret_box,
                synchronous=sqlite_synchronous,
            ),
        )
    if url.startswith(("postgresql://", "postgres://")):
        from hookline.storage.postgres import PostgresStorage

        return cast(Storage, PostgresStorage(url, secret_box=secret_box, pool_size=pool_size))
    scheme = url.split(":", maxsplit=1)[0]
    raise ConfigError(
        f"HOOKLINE_DATABASE_URL must start with sqlite:/// or postgresql://, not {scheme!r}"
    )


__all__ = ["Storage", "storage_from_url"]
