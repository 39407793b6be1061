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
    from hookline import logs, processes, runtime

    logs.configure(settings.log_level, settings.log_json)
    secret_box = secret_box_for(settings)
    loaded = _handlers(handlers)
    # serve: N API processes and a delivery process, unless asked for a single process;
    # api: one process unless asked for more.
    if api and workers and not settings.single_process:
        count, delivery = settings.api_processes or processes.default_api_processes(), True
    else:
        count, delivery = settings.api_processes or 1, False
    click.echo(
        f"hookline {__version__}: {_layout(api, workers, count, delivery)} on"
        f" {settings.database_url}",
        err=True,
    )

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

    if api and (delivery or count > 1):
        sys.exit(
            processes.run(
                settings, api_processes=count, delivery=delivery, on_ready=ready,
                on_first_token=first_token, handlers_spec=handlers,
            )
        )  # fmt: skip
    runtime.run(
        settings, api=api, workers=workers, on_ready=ready, on_first_token=first_token,
        secret_box=secret_box, handlers=loaded,
    )  # fmt: skip


def _layout(api: bool, workers: bool, count: int, delivery: bool) -> str:
    """What runs, for the first line: "API + workers", "2 API processes + a delivery process"."""
    if not api:
        return "workers"
    if not delivery and count == 1:
        return "API + workers" if workers else "API"
    processes = f"{count} API process{'es' if count > 1 else ''}"
    return f"{processes} + a delivery process" if delivery else processes


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
    help="Overrides HOOKLINE_API_PROCESSES: API processes sharing the port (serve: one per"
    " CPU but one, beside its delivery process; api: 1).",
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
@click.option(
    "--single-process",
    is_flag=True,
    default=None,
    help="Overrides HOOKLINE_SINGLE_PROCESS: the API and delivery in one process.",
)
@_handlers_option
def serve(
    config: Path | None, database_url: str | None, host: str | None, port: int | None,
    processes: int | None, single_process: bool | None, handlers: str | None,
) -> None:  # fmt: skip
    """Run the API and the delivery workers: API processes sharing the port (one per CPU
    but one) and a delivery process, or all in one with --single-process."""
    settings = settings_for(
        config, database_url=database_url, host=host, port=port, api_processes=processes,
        single_process=single_process,
    )  # fmt: skip
    if settings.single_process and (settings.api_processes or 1) > 1:
        raise click.UsageError(
            "--single-process runs one process: leave out --processes (HOOKLINE_API_PROCESSES)"
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
