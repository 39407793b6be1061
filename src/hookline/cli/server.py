"""The server commands: ``serve``, ``api`` and ``worker``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final

import click

from hookline import __version__
from hookline.cli._common import (
    config_option,
    db_option,
    secret_box_for,
    settings_for,
)
from hookline.errors import HooklineError
from hookline.settings import Settings

if TYPE_CHECKING:
    from hookline.domain.handlers import Handlers


def _start(settings: Settings, *, api: bool, workers: bool, handlers: str | None = None) -> None:
    from hookline import logs, runtime

    logs.configure(settings.log_level, settings.log_json)
    secret_box = secret_box_for(settings)
    loaded = _handlers(handlers)
    what = " + ".join(p for p, on in (("API", api), ("workers", workers)) if on)
    click.echo(f"hookline {__version__}: {what} on {settings.database_url}", err=True)

    def ready(url: str) -> None:
        if url:
            click.echo(f"hookline listening on {url}  (API docs: {url}/docs)", err=True)
        else:
            click.echo("hookline workers running", err=True)

    def first_token(token: str) -> None:
        click.echo(
            "\nhookline created the first admin API token. It is shown only this once;"
            f" keep it safe:\n\n    {token}\n\n"
            "Send it as 'Authorization: Bearer <token>'. Lost it? `hookline token create"
            " --name NAME` makes another (it needs the database, not the API).\n",
            err=True,
        )

    if api and settings.api_processes > 1:
        from hookline import processes

        sys.exit(
            processes.run(
                settings, workers=workers, on_ready=ready, on_first_token=first_token,
                handlers_spec=handlers,
            )
        )  # fmt: skip
    runtime.run(
        settings, api=api, workers=workers, on_ready=ready, on_first_token=first_token,
        secret_box=secret_box, handlers=loaded,
    )  # fmt: skip


def _handlers(spec: str | None) -> Handlers | None:
    if spec is None:
        return None
    from hookline.delivery.handlers import load

    # The current directory is importable, as for `python -m`: handler modules live there.
    sys.path.insert(0, str(Path.cwd()))
    try:
        return load(spec)
    except HooklineError as error:
        raise click.UsageError(error.detail) from None


_processes_option = click.option(
    "--processes",
    type=click.IntRange(1, 64),
    help="Overrides HOOKLINE_API_PROCESSES: API processes sharing the port (default 1).",
)
_handlers_option = click.option(
    "--handlers",
    metavar="MODULE:OBJECT",
    help="A hookline Handlers object: runs deliveries to handler:<group> endpoints in-process.",
)


@click.command()
@config_option
@db_option
@click.option("--host", help="Overrides HOOKLINE_HOST (default 127.0.0.1).")
@click.option("--port", type=int, help="Overrides HOOKLINE_PORT (default 8040).")
@_processes_option
@_handlers_option
def serve(
    config: Path | None, database_url: str | None, host: str | None, port: int | None,
    processes: int | None, handlers: str | None,
) -> None:  # fmt: skip
    """Run the API and the delivery workers in one process (or --processes N)."""
    settings = settings_for(
        config, database_url=database_url, host=host, port=port, api_processes=processes
    )
    _start(settings, api=True, workers=True, handlers=handlers)


@click.command()
@config_option
@db_option
@click.option("--host", help="Overrides HOOKLINE_HOST.")
@click.option("--port", type=int, help="Overrides HOOKLINE_PORT.")
@_processes_option
def api(
    config: Path | None, database_url: str | None, host: str | None, port: int | None,
    processes: int | None,
) -> None:  # fmt: skip
    """Run only the API (scale out with `hookline worker` on PostgreSQL)."""
    settings = settings_for(
        config, database_url=database_url, host=host, port=port, api_processes=processes
    )
    _start(settings, api=True, workers=False)


@click.command()
@config_option
@db_option
@_handlers_option
def worker(config: Path | None, database_url: str | None, handlers: str | None) -> None:
    """Run only delivery workers (with --handlers, also Python handlers)."""
    _start(
        settings_for(config, database_url=database_url), api=False, workers=True, handlers=handlers
    )


COMMANDS: Final = (serve, api, worker)
