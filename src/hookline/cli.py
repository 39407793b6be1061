"""The ``hookline`` command."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import click

from hookline import __version__
from hookline.errors import HooklineError
from hookline.settings import Settings, load_settings


def _settings(config: Path | None, **overrides: Any) -> Settings:
    try:
        return load_settings({k: v for k, v in overrides.items() if v is not None}, config)
    except HooklineError as error:
        raise click.UsageError(error.detail) from None


_config_option = click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file of HOOKLINE_* settings (KEY=value lines); the environment wins over it.",
)
_db_option = click.option(
    "--database-url", help="Overrides HOOKLINE_DATABASE_URL (default sqlite:///hookline.db)."
)


@click.group()
@click.version_option(__version__, prog_name="hookline")
def main() -> None:
    """hookline: send and receive webhooks, durably."""


def _start(settings: Settings, *, api: bool, workers: bool) -> None:
    from hookline import logs, runtime

    logs.configure(settings.log_level, settings.log_json)
    what = " + ".join(p for p, on in (("API", api), ("workers", workers)) if on)
    click.echo(f"hookline {__version__}: {what} on {settings.database_url}", err=True)

    def ready(url: str) -> None:
        if url:
            click.echo(f"hookline listening on {url}  (API docs: {url}/docs)", err=True)
        else:
            click.echo("hookline workers running", err=True)

    runtime.run(settings, api=api, workers=workers, on_ready=ready)


@main.command()
@_config_option
@_db_option
@click.option("--host", help="Overrides HOOKLINE_HOST (default 127.0.0.1).")
@click.option("--port", type=int, help="Overrides HOOKLINE_PORT (default 8040).")
def serve(
    config: Path | None, database_url: str | None, host: str | None, port: int | None
) -> None:
    """Run the API and the delivery workers in one process."""
    _start(
        _settings(config, database_url=database_url, host=host, port=port), api=True, workers=True
    )


@main.command()
@_config_option
@_db_option
@click.option("--host", help="Overrides HOOKLINE_HOST.")
@click.option("--port", type=int, help="Overrides HOOKLINE_PORT.")
def api(config: Path | None, database_url: str | None, host: str | None, port: int | None) -> None:
    """Run only the API (scale out with `hookline worker` on PostgreSQL)."""
    _start(
        _settings(config, database_url=database_url, host=host, port=port), api=True, workers=False
    )


@main.command()
@_config_option
@_db_option
def worker(config: Path | None, database_url: str | None) -> None:
    """Run only delivery workers."""
    _start(_settings(config, database_url=database_url), api=False, workers=True)


@main.command()
@_config_option
@_db_option
def migrate(config: Path | None, database_url: str | None) -> None:
    """Bring the database schema up to date, then exit."""
    from hookline.runtime import open_storage

    settings = _settings(config, database_url=database_url)

    async def run() -> list[int]:
        storage = open_storage(settings)
        try:
            # open() migrates; report what it applied.
            await storage.open()
            return await storage.migrate()
        finally:
            await storage.close()

    try:
        asyncio.run(run())
    except HooklineError as error:
        click.echo(f"migration failed: {error.detail}", err=True)
        sys.exit(1)
    click.echo(f"schema of {settings.database_url} is up to date")
