"""The ``hookline`` command."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from hookline import __version__
from hookline.console import commands as console_commands
from hookline.domain.secrets import SecretBox, generate_key
from hookline.errors import HooklineError
from hookline.settings import Settings, load_settings

if TYPE_CHECKING:
    from hookline.domain.handlers import Handlers
    from hookline.storage.base import Storage

T = TypeVar("T")


def _settings(config: Path | None, **overrides: Any) -> Settings:
    try:
        return load_settings({k: v for k, v in overrides.items() if v is not None}, config)
    except HooklineError as error:
        raise click.UsageError(error.detail) from None


def _secret_box(settings: Settings) -> SecretBox:
    """The keys sealing stored secrets; a bad or unreadable key stops the command."""
    from hookline.secret_keys import load_secret_box

    try:
        return load_secret_box(settings)
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


# The commands for people (send, tail, recover, verify, listen): clients of a running
# hookline, or of nothing at all; see hookline.console.
for _command in console_commands.COMMANDS:
    main.add_command(_command)


def _start(settings: Settings, *, api: bool, workers: bool, handlers: str | None = None) -> None:
    from hookline import logs, runtime

    logs.configure(settings.log_level, settings.log_json)
    secret_box = _secret_box(settings)
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


@main.command()
@_config_option
@_db_option
@click.option("--host", help="Overrides HOOKLINE_HOST (default 127.0.0.1).")
@click.option("--port", type=int, help="Overrides HOOKLINE_PORT (default 8040).")
@_processes_option
@_handlers_option
def serve(
    config: Path | None, database_url: str | None, host: str | None, port: int | None,
    processes: int | None, handlers: str | None,
) -> None:  # fmt: skip
    """Run the API and the delivery workers in one process (or --processes N)."""
    settings = _settings(
        config, database_url=database_url, host=host, port=port, api_processes=processes
    )
    _start(settings, api=True, workers=True, handlers=handlers)


@main.command()
@_config_option
@_db_option
@click.option("--host", help="Overrides HOOKLINE_HOST.")
@click.option("--port", type=int, help="Overrides HOOKLINE_PORT.")
@_processes_option
def api(
    config: Path | None, database_url: str | None, host: str | None, port: int | None,
    processes: int | None,
) -> None:  # fmt: skip
    """Run only the API (scale out with `hookline worker` on PostgreSQL)."""
    settings = _settings(
        config, database_url=database_url, host=host, port=port, api_processes=processes
    )
    _start(settings, api=True, workers=False)


@main.command()
@_config_option
@_db_option
@_handlers_option
def worker(config: Path | None, database_url: str | None, handlers: str | None) -> None:
    """Run only delivery workers (with --handlers, also Python handlers)."""
    _start(_settings(config, database_url=database_url), api=False, workers=True, handlers=handlers)


@main.command()
@_config_option
@_db_option
def migrate(config: Path | None, database_url: str | None) -> None:
    """Bring the database schema up to date, then exit."""
    from hookline.runtime import open_storage

    settings = _settings(config, database_url=database_url)
    secret_box = _secret_box(settings)

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
    click.echo(f"schema of {settings.database_url} is up to date")


@main.command()
@_config_option
@_db_option
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

    settings = _settings(config, database_url=database_url)
    logs.configure(settings.log_level, settings.log_json)
    secret_box = _secret_box(settings)

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


@main.command()
def keygen() -> None:
    """Print a new secret key (for HOOKLINE_SECRET_KEY or the key file)."""
    click.echo(generate_key())


def _with_storage(settings: Settings, work: Callable[[Storage], Awaitable[T]]) -> T:
    """Open the database the settings name, run ``work`` on it, close it; errors exit 1."""
    from hookline.runtime import open_storage

    secret_box = _secret_box(settings)

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


@main.group()
def token() -> None:
    """Create, list and revoke API tokens (works on the database directly)."""


@token.command("create")
@_config_option
@_db_option
@click.option("--name", required=True, help="What the token is for, e.g. 'billing service'.")
@click.option("--app", "app_key", help="Scope the token to this application (id or uid).")
@click.option("--read-only", is_flag=True, help="Allow only reads (GET).")
@click.option("--expires-in", type=click.IntRange(min=60), help="Seconds until it expires.")
def token_create(
    config: Path | None, database_url: str | None, name: str, app_key: str | None,
    read_only: bool, expires_in: int | None,
) -> None:  # fmt: skip
    """Create a token and print it (the only time it is shown)."""
    import time

    from hookline.domain import audit, ids, tokens

    async def create(storage: Storage) -> str:
        app_id = None if app_key is None else (await storage.get_application(app_key)).id
        now = time.time()
        plaintext, record = tokens.issue(
            name, now, token_id=ids.new_id(ids.TOKEN, now), app_id=app_id, read_only=read_only,
            expires_at=None if expires_in is None else now + expires_in, created_by="cli",
        )  # fmt: skip
        await storage.create_token(
            record, audit.change(tokens.CLI, "token.created", None, record, now)
        )
        return plaintext

    plaintext = _with_storage(_settings(config, database_url=database_url), create)
    click.echo(plaintext)


@token.command("list")
@_config_option
@_db_option
@click.option("--app", "app_key", help="Only this application's tokens (id or uid).")
def token_list(config: Path | None, database_url: str | None, app_key: str | None) -> None:
    """List tokens (never the tokens themselves): id, prefix, scope, name, state."""
    from hookline.domain.tokens import ApiToken
    from hookline.storage.base import Cursor

    async def every(storage: Storage) -> list[ApiToken]:
        app_id = None if app_key is None else (await storage.get_application(app_key)).id
        found: list[ApiToken] = []
        cursor = Cursor(limit=250, ascending=True)
        while True:
            page = await storage.list_tokens(cursor, app_id)
            found.extend(page.data)
            if page.done:
                return found
            cursor = Cursor(limit=250, iterator=page.iterator, ascending=True)

    now = datetime.now(UTC).timestamp()
    rows = []
    for item in _with_storage(_settings(config, database_url=database_url), every):
        state = item.problem(now) or "active"
        scope = f"app {item.app_id}" if item.app_id else "admin"
        access = "read-only" if item.read_only else "read-write"
        rows.append([item.id, f"{item.prefix}...", scope, access, state, item.name])
    console_commands.print_rows(("id", "prefix", "scope", "access", "state", "name"), rows)


@token.command("revoke")
@_config_option
@_db_option
@click.argument("token_id")
def token_revoke(config: Path | None, database_url: str | None, token_id: str) -> None:
    """Revoke a token by id; API processes stop accepting it within their auth cache time."""
    import time

    from hookline.domain import audit, tokens

    async def revoke(storage: Storage) -> None:
        current = await storage.get_token(token_id)
        now = time.time()
        await storage.revoke_token(
            current.id, now, audit.change(tokens.CLI, "token.revoked", current, None, now)
        )

    _with_storage(_settings(config, database_url=database_url), revoke)
    click.echo(f"revoked {token_id}")


@main.group()
def source() -> None:
    """Create and list inbound sources (works on the database directly)."""


def _config_pairs(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``key=value`` options; a value that reads as JSON (600, true) is taken as such."""
    import json

    config: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.UsageError(f"--config-value must look like key=value, not {pair!r}")
        try:
            config[key] = json.loads(value)
        except ValueError:
            config[key] = value
    return config


@source.command("create")
@_config_option
@_db_option
@click.option("--app", "app_key", required=True, help="The application events go to (id or uid).")
@click.option("--name", required=True, help="What the source is, e.g. 'Stripe live'.")
@click.option("--verifier", "kind", required=True, help="stripe, github, standard_webhooks, ...")
@click.option(
    "--secret", "secrets", multiple=True, help="A signing secret (repeat during rotation)."
)
@click.option("--config-value", "pairs", multiple=True, help="A verifier setting, key=value.")
@click.option("--uid", help="Your own name for the source.")
def source_create(
    config: Path | None, database_url: str | None, app_key: str, name: str, kind: str,
    secrets: tuple[str, ...], pairs: tuple[str, ...], uid: str | None,
) -> None:  # fmt: skip
    """Create a source and print the path providers post to (/in/<token>)."""
    import time

    from hookline.domain import audit, ids, tokens
    from hookline.domain.models import Source
    from hookline.domain.verifiers import build_verifier
    from hookline.usecases.sources import new_ingest_token

    settings = _settings(config, database_url=database_url)
    values = _config_pairs(pairs)
    try:
        build_verifier(kind, values, list(secrets))
    except HooklineError as error:
        raise click.UsageError(error.detail) from None

    async def create(storage: Storage) -> Source:
        app = await storage.get_application(app_key)
        now = time.time()
        made = Source(
            id=ids.new_id(ids.SOURCE, now), app_id=app.id, name=name, uid=uid,
            token=new_ingest_token(), verifier=kind, config=dict(values), secrets=secrets,
            created_at=now, updated_at=now,
        )  # fmt: skip
        return await storage.create_source(
            made, audit.change(tokens.CLI, "source.created", None, made, now)
        )

    made = _with_storage(settings, create)
    base = settings.public_url.rstrip("/") or f"http://{settings.host}:{settings.port}"
    click.echo(f"{made.id}  {base}/in/{made.token}")


@source.command("list")
@_config_option
@_db_option
@click.option("--app", "app_key", required=True, help="The application (id or uid).")
def source_list(config: Path | None, database_url: str | None, app_key: str) -> None:
    """List an application's sources: id, verifier, name."""
    from hookline.domain.models import Source
    from hookline.storage.base import Cursor

    async def every(storage: Storage) -> list[Source]:
        app = await storage.get_application(app_key)
        page = await storage.list_sources(app.id, Cursor(limit=250))
        return page.data

    found = _with_storage(_settings(config, database_url=database_url), every)
    console_commands.print_rows(
        ("id", "verifier", "name"), [[item.id, item.verifier, item.name] for item in found]
    )


@main.command("backfill")
@_config_option
@_db_option
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

    settings = _settings(config, database_url=database_url)
    start, end = _moment(since, "--since"), _moment(until, "--until") if until else None
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

    report = _with_storage(settings, run)
    if report.already_finished:
        click.echo("backfill: this period was already filled in; nothing to do")
        return
    resumed = f" (resumed after {report.resumed_from})" if report.resumed_from else ""
    click.echo(
        f"backfill: done{resumed}: {report.stored} stored, {report.duplicates} already there"
    )


def _moment(text: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 time", param_hint=option) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@main.command()
@_config_option
@_db_option
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

    settings = _settings(config, database_url=database_url)
    start = _moment(since, "--since").timestamp() if since else 0.0
    end = _moment(until, "--until").timestamp() if until else 1e12

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

    count = _with_storage(settings, run)
    click.echo(f"exported {count} line(s)", err=True)


@main.command()
@_config_option
@_db_option
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

    found = _with_storage(_settings(config, database_url=database_url), load)
    text = event_catalogue.render(found, "json" if fmt == "json" else "markdown")
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    click.echo(f"catalogue: {len(found)} event type(s) written to {output}", err=True)
