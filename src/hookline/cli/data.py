"""The commands that move data in and out: ``backfill``, ``export``, ``catalogue``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final

import click

from hookline.cli._common import (
    config_option,
    db_option,
    moment,
    settings_for,
    with_storage,
)
from hookline.errors import HooklineError

if TYPE_CHECKING:
    from hookline.storage.base import Storage


@click.command("backfill")
@config_option
@db_option
@click.argument("source_key")
@click.option("--app", "app_key", required=True, help="The source's application (id or uid).")
@click.option("--since", required=True, help="Start of the period, ISO 8601 (UTC if no offset).")
@click.option("--until", help="End of the period (default: now).")
@click.option("--fetcher", required=True, metavar="MODULE:FUNCTION",
              help="function(since, until) yielding the provider's events.")  # fmt: skip
def backfill_command(
    config: Path | None, database_url: str | None, source_key: str, app_key: str, since: str,
    until: str | None, fetcher: str,
) -> None:  # fmt: skip
    """Fetch missed events from a provider and feed them through the inbound path.

    Each event is stored as if it had been received, so events already received
    are skipped as duplicates. Interrupted? Run the same command again: it resumes.
    """
    import time

    from hookline import backfill

    settings = settings_for(config, database_url=database_url)
    start, end = moment(since, "--since"), moment(until, "--until") if until else None
    sys.path.insert(0, str(Path.cwd()))
    try:
        fetch = backfill.load_fetcher(fetcher)
    except HooklineError as error:
        raise click.UsageError(error.detail) from None

    def progress(report: backfill.BackfillReport) -> None:
        click.echo(f"backfill: {report.stored} stored, {report.duplicates} already there", err=True)

    async def run(storage: Storage) -> backfill.BackfillReport:
        found = await storage.get_source((await storage.get_application(app_key)).id, source_key)
        return await backfill.backfill(
            storage, found, fetch, start, end, clock=time.time, on_progress=progress,
            retention=settings.payload_retention_days * 86400,
        )  # fmt: skip

    report = with_storage(settings, run)
    if report.already_finished:
        click.echo("backfill: this period was already filled in; nothing to do")
        return
    resumed = f" (resumed after {report.resumed_from})" if report.resumed_from else ""
    click.echo(
        f"backfill: done{resumed}: {report.stored} stored, {report.duplicates} already there"
    )


@click.command()
@config_option
@db_option
@click.option("--app", "app_key", required=True, help="The application (id or uid).")
@click.option("--since", help="Only what was made from this time on, ISO 8601 (UTC if no offset).")
@click.option("--until", help="Only what was made before this time, ISO 8601.")
@click.option("--no-attempts", is_flag=True, help="Messages only, without their attempts.")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (default: standard output).",
)  # fmt: skip
def export(
    config: Path | None, database_url: str | None, app_key: str, since: str | None,
    until: str | None, no_attempts: bool, output: Path | None,
) -> None:  # fmt: skip
    """Export an application's messages and attempts as JSON lines (works on the database)."""
    from hookline.export import export_lines

    settings = settings_for(config, database_url=database_url)
    start = moment(since, "--since").timestamp() if since else 0.0
    end = moment(until, "--until").timestamp() if until else 1e12

    async def run(storage: Storage) -> int:
        lines = 0
        sink = output.open("wb") if output else sys.stdout.buffer
        try:
            async for line in export_lines(storage, app_key, start, end, not no_attempts):
                sink.write(line)
                lines += 1
        finally:
            if output:
                sink.close()
            else:
                sink.flush()
        return lines

    count = with_storage(settings, run)
    click.echo(f"exported {count} line(s)", err=True)


@click.command()
@config_option
@db_option
@click.option(
    "--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown",
    show_default=True, help="Markdown (a page to publish) or JSON (for other tools).",
)  # fmt: skip
@click.option("--include-archived", is_flag=True, help="Also list archived event types (marked).")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (default: standard output).",
)  # fmt: skip
def catalogue(
    config: Path | None, database_url: str | None, fmt: str, include_archived: bool,
    output: Path | None,
) -> None:  # fmt: skip
    """Write the event catalogue: every event type, its schema per version, an example each."""
    from hookline import catalogue as event_catalogue
    from hookline.domain.models import EventType

    async def load(storage: Storage) -> list[EventType]:
        return await event_catalogue.load_event_types(storage, include_archived)

    found = with_storage(settings_for(config, database_url=database_url), load)
    text = event_catalogue.render(found, "json" if fmt == "json" else "markdown")
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    click.echo(f"catalogue: {len(found)} event type(s) written to {output}", err=True)


COMMANDS: Final = (backfill_command, export, catalogue)
