"""What the commands share: the ``main`` group, settings and database options, storage."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from hookline import __version__
from hookline.domain.secrets import SecretBox
from hookline.domain.text import text_problem
from hookline.errors import HooklineError
from hookline.settings import Settings, load_settings

if TYPE_CHECKING:
    from hookline.storage.base import Storage

T = TypeVar("T")


def storable(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """A click callback for options whose text is stored: refuse what no backend keeps
    alike (``domain.text``; an argument that is not UTF-8 reaches Python as lone
    surrogates)."""
    for item in value if isinstance(value, tuple) else (value,):
        problem = text_problem(item) if isinstance(item, str) else None
        if problem is not None:
            raise click.BadParameter(problem, ctx=ctx, param=param)
    return value


def settings_for(config: Path | None, **overrides: Any) -> Settings:
    """The settings from the environment and ``--config``, with the options given; bad ones stop."""
    try:
        return load_settings({k: v for k, v in overrides.items() if v is not None}, config)
    except HooklineError as error:
        raise click.UsageError(error.detail) from None


def secret_box_for(settings: Settings) -> SecretBox:
    """The keys sealing stored secrets; a bad or unreadable key stops the command."""
    from hookline.secret_keys import load_secret_box

    try:
        return load_secret_box(settings)
    except HooklineError as error:
        raise click.UsageError(error.detail) from None


config_option = click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file of HOOKLINE_* settings (KEY=value lines); the environment wins over it.",
)
db_option = click.option(
    "--database-url", help="Overrides HOOKLINE_DATABASE_URL (default sqlite:///hookline.db)."
)


create_option = click.option(
    "--create",
    is_flag=True,
    help="Make a new SQLite database if there is none at HOOKLINE_DATABASE_URL (without it, "
    "a missing database is an error: the command was most likely run in the wrong folder).",
)


def sqlite_file(url: str) -> Path | None:
    """The file an SQLite database URL names (None for other databases)."""
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def database_in_use(url: str) -> str:
    """The database a command works on, as it tells the user: an SQLite file's absolute
    path, or a server's URL without its password."""
    from urllib.parse import urlsplit, urlunsplit

    path = sqlite_file(url)
    if path is not None:
        return f"sqlite:///{path.absolute()}"
    parts = urlsplit(url)
    if parts.password is not None:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@"))
    return urlunsplit(parts)


def require_database(settings: Settings, create: bool = False) -> None:
    """Say which database the command uses; stop before making a new SQLite file unless
    ``create`` (a token made in a new database is refused by the server on the real one)."""
    click.echo(f"database: {database_in_use(settings.database_url)}", err=True)
    path = sqlite_file(settings.database_url)
    if path is None or create or path.exists():
        return
    click.echo(
        f"error: there is no database at {path.absolute()}. Run this in the folder where "
        "`hookline serve` runs (its default is hookline.db there), or name the database with "
        "--database-url or HOOKLINE_DATABASE_URL; --create makes a new one.",
        err=True,
    )
    sys.exit(1)


@click.group()
@click.version_option(__version__, prog_name="hookline")
def main() -> None:
    """hookline: send and receive webhooks, durably."""


def with_storage(
    settings: Settings, work: Callable[[Storage], Awaitable[T]], *, create: bool = False
) -> T:
    """Open the database the settings name (an SQLite file only if it exists, or with
    ``create``), run ``work`` on it, close it; errors exit 1."""
    from hookline.runtime import open_storage

    require_database(settings, create)
    secret_box = secret_box_for(settings)

    async def run() -> T:
        storage = open_storage(settings, secret_box)
        await storage.open()
        try:
            return await work(storage)
        finally:
            await storage.close()

    try:
        return asyncio.run(run())
    except HooklineError as error:
        click.echo(f"error: {error.detail}", err=True)
        sys.exit(1)


def moment(text: str, option: str) -> datetime:
    """An ISO 8601 time given to ``option``, in UTC when it has no offset."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 time", param_hint=option) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
