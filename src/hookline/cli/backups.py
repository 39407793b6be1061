"""``hookline backup`` and ``hookline restore`` (SQLite; PostgreSQL gets its own recipe)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final, NoReturn

import click

from hookline.cli._common import config_option, db_option, settings_for
from hookline.errors import HooklineError
from hookline.settings import Settings

#: The exit status when the command does nothing but print the PostgreSQL recipe.
RECIPE_STATUS: Final = 2


def _database_file(settings: Settings, command: str, file: Path) -> Path:
    """The SQLite file the settings name; for PostgreSQL, print the recipe and exit."""
    from hookline import backup

    try:
        path = backup.sqlite_path(settings.database_url)
    except HooklineError as error:
        raise click.UsageError(error.detail) from None
    if path is None:
        click.echo(backup.postgres_recipe(command, str(file)), err=True)
        sys.exit(RECIPE_STATUS)
    return path


def _configured_key_ids(settings: Settings) -> tuple[str, ...] | None:
    """The ids of the keys this hookline would unseal with (None: none configured yet).

    Unlike starting hookline, this never creates a key file.
    """
    from hookline.domain.secrets import SecretBox

    text = settings.secret_key.get_secret_value()
    source = "HOOKLINE_SECRET_KEY"
    if not text.strip():
        if not settings.secret_key_file.is_file():
            return None
        text, source = settings.secret_key_file.read_text(), f"key file {settings.secret_key_file}"
    try:
        return SecretBox.from_text(text, source).key_ids
    except HooklineError as error:
        raise click.UsageError(error.detail) from None


def _fail(error: HooklineError) -> NoReturn:
    click.echo(f"error: {error.detail}", err=True)
    sys.exit(1)


@click.command("backup")
@config_option
@db_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@click.option(
    "--pages-per-step", type=click.IntRange(min=1), default=256, show_default=True,
    help="Pages (4 KiB) copied per step of SQLite's online backup.",
)  # fmt: skip
def backup_command(
    config: Path | None, database_url: str | None, file: Path, force: bool, pages_per_step: int
) -> None:
    """Copy the SQLite database to FILE while hookline serves; check the copy; say what it holds.

    The copy is one consistent snapshot. It does not hold the secret key (HOOKLINE_SECRET_KEY
    or the key file): back that up separately. On PostgreSQL this prints the pg_dump recipe.
    """
    from hookline import backup

    settings = settings_for(config, database_url=database_url)
    source = _database_file(settings, "backup", file)
    try:
        report = backup.backup(source, file, force=force, pages_per_step=pages_per_step)
    except HooklineError as error:
        _fail(error)
    click.echo(
        f"backup of {source}: {report.pages} pages in {report.steps} step(s), copied and"
        f" checked in {report.seconds:.2f} s"
    )
    click.echo("\n".join(report.contents.describe()))
    if report.contents.key_ids:
        where = (
            "HOOKLINE_SECRET_KEY"
            if settings.secret_key.get_secret_value().strip()
            else f"the key file {settings.secret_key_file}"
        )
        click.echo(
            f"the secret key is not in the backup: keep a copy of {where} to restore it,"
            " stored apart from the backup"
        )


@click.command("restore")
@config_option
@db_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--force", is_flag=True,
    help="Replace an existing database, even one a hookline has open, and restore even if"
    " the configured keys cannot unseal the backup's secrets.",
)  # fmt: skip
def restore_command(config: Path | None, database_url: str | None, file: Path, force: bool) -> None:
    """Restore the SQLite database from FILE (a `hookline backup`), checked first.

    Refuses a file that is not a hookline database or is from a newer schema and, without
    --force, an existing or live database and a backup sealed under keys this hookline does
    not have. Stop hookline first. On PostgreSQL this prints the pg_restore recipe.
    """
    from hookline import backup

    settings = settings_for(config, database_url=database_url)
    target = _database_file(settings, "restore", file)
    try:
        contents = backup.inspect(file)
    except HooklineError as error:
        _fail(error)
    configured = _configured_key_ids(settings)
    missing = [k for k in contents.key_ids if configured is None or k not in configured]
    if missing and not force:
        have = ", ".join(configured) if configured else "none"
        click.echo(
            f"error: the backup's secrets are sealed under key(s) {', '.join(missing)}, which"
            f" this hookline does not have (configured: {have}). Set HOOKLINE_SECRET_KEY to"
            " the key of the backup (or copy its key file), or pass --force to restore anyway"
            " (its endpoints then need new secrets)",
            err=True,
        )
        sys.exit(1)
    try:
        restored = backup.restore(file, target, force=force)
    except HooklineError as error:
        _fail(error)
    click.echo(f"restored {file} into {target}")
    click.echo("\n".join(restored.describe()))
    due = restored.unfinished["pending"]
    if due:
        click.echo(
            f"{due} pending delivery(ies) will be attempted once hookline runs; those made"
            " after the backup was taken are made again (at-least-once)"
        )
    if restored.undelivered > due:
        click.echo(
            f"{restored.undelivered - due} more stay parked as they were (waiting for a paused"
            " endpoint or an open circuit, queued behind their FIFO key, held for a disabled"
            " endpoint)"
        )
    if contents.leased:
        click.echo(
            f"{contents.leased} of them were in flight when the backup was taken: their leases"
            " are released, so they are due at once (their receivers may get them twice)"
        )


COMMANDS: Final = (backup_command, restore_command)
