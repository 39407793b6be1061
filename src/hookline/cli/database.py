"""The commands that look after the database: ``migrate``, ``rekey``, ``keygen``."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Final

import click

from hookline.cli._common import (
    config_option,
    database_in_use,
    db_option,
    require_database,
    secret_box_for,
    settings_for,
)
from hookline.domain.secrets import generate_key
from hookline.errors import HooklineError


@click.command()
@config_option
@db_option
def migrate(config: Path | None, database_url: str | None) -> None:
    """Bring the database schema up to date, then exit."""
    from hookline.runtime import open_storage

    settings = settings_for(config, database_url=database_url)
    secret_box = secret_box_for(settings)

    async def run() -> list[int]:
        storage = open_storage(settings, secret_box)
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
    click.echo(f"schema of {database_in_use(settings.database_url)} is up to date")


@click.command()
@config_option
@db_option
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=500,
    show_default=True,
    help="Endpoints re-sealed per transaction.",
)
def rekey(config: Path | None, database_url: str | None, batch_size: int) -> None:
    """Re-seal every stored endpoint secret under the first key of HOOKLINE_SECRET_KEY.

    Safe while hookline is serving. To rotate the key: set HOOKLINE_SECRET_KEY=new,old
    on every hookline process and restart them, run this, then drop old.
    """
    from hookline import logs
    from hookline.runtime import open_storage

    settings = settings_for(config, database_url=database_url)
    logs.configure(settings.log_level, settings.log_json)
    require_database(settings)
    secret_box = secret_box_for(settings)

    async def run() -> tuple[int, int]:
        storage = open_storage(settings, secret_box)
        try:
            await storage.open()
            result = await storage.rekey_secrets(batch_size)
            return result.rewritten, result.skipped
        finally:
            await storage.close()

    try:
        rewritten, skipped = asyncio.run(run())
    except HooklineError as error:
        click.echo(f"rekey failed: {error.detail}", err=True)
        sys.exit(1)
    key = secret_box.current_key_id
    click.echo(f"rekey: rewrote {rewritten} endpoint(s) and source(s) under key {key}")
    if skipped:
        click.echo(
            f"rekey: {skipped} row(s) kept changing while being re-sealed; run it again",
            err=True,
        )
        sys.exit(1)


@click.command()
def keygen() -> None:
    """Print a new secret key (for HOOKLINE_SECRET_KEY or the key file)."""
    click.echo(generate_key())


COMMANDS: Final = (migrate, rekey, keygen)
