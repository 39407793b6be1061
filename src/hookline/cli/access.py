"""The ``token`` and ``source`` commands: API tokens and inbound sources, on the database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import click

from hookline.cli._common import (
    config_option,
    create_option,
    db_option,
    settings_for,
    storable,
    with_storage,
)
from hookline.console import commands as console_commands
from hookline.domain.ingress import MAX_RATE
from hookline.errors import HooklineError

if TYPE_CHECKING:
    from hookline.storage.base import Storage


@click.group()
def token() -> None:
    """Create, list and revoke API tokens (works on the database directly)."""


@token.command("create")
@config_option
@db_option
@create_option
@click.option(
    "--name", required=True, callback=storable,
    help="What the token is for, e.g. 'billing service'.",
)  # fmt: skip
@click.option("--app", "app_key", help="Scope the token to this application (id or uid).")
@click.option("--read-only", is_flag=True, help="Allow only reads (GET).")
@click.option("--expires-in", type=click.IntRange(min=60), help="Seconds until it expires.")
def token_create(
    config: Path | None, database_url: str | None, create: bool, name: str,
    app_key: str | None, read_only: bool, expires_in: int | None,
) -> None:  # fmt: skip
    """Create a token and print it (the only time it is shown)."""
    import time

    from hookline.domain import audit, ids, tokens

    async def make(storage: Storage) -> str:
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

    plaintext = with_storage(settings_for(config, database_url=database_url), make, create=create)
    click.echo(plaintext)


@token.command("list")
@config_option
@db_option
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
    for item in with_storage(settings_for(config, database_url=database_url), every):
        state = item.problem(now) or "active"
        scope = f"app {item.app_id}" if item.app_id else "admin"
        access = "read-only" if item.read_only else "read-write"
        rows.append([item.id, f"{item.prefix}...", scope, access, state, item.name])
    console_commands.print_rows(("id", "prefix", "scope", "access", "state", "name"), rows)


@token.command("revoke")
@config_option
@db_option
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

    with_storage(settings_for(config, database_url=database_url), revoke)
    click.echo(f"revoked {token_id}")


@click.group()
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
@config_option
@db_option
@click.option("--app", "app_key", required=True, help="The application events go to (id or uid).")
@click.option(
    "--name", required=True, callback=storable, help="What the source is, e.g. 'Stripe live'."
)
@click.option("--verifier", "kind", required=True, help="stripe, github, standard_webhooks, ...")
@click.option(
    "--secret", "secrets", multiple=True, callback=storable,
    help="A signing secret (repeat during rotation).",
)  # fmt: skip
@click.option(
    "--config-value", "pairs", multiple=True, callback=storable,
    help="A verifier setting, key=value.",
)  # fmt: skip
@click.option("--uid", callback=storable, help="Your own name for the source.")
@click.option(
    "--allow-from", "networks", multiple=True,
    help="A network the provider sends from, in CIDR notation (repeat; none: anyone).",
)  # fmt: skip
@click.option(
    "--rate-limit", type=click.IntRange(1, MAX_RATE), help="Requests per second taken (429 beyond)."
)
def source_create(
    config: Path | None, database_url: str | None, app_key: str, name: str, kind: str,
    secrets: tuple[str, ...], pairs: tuple[str, ...], uid: str | None,
    networks: tuple[str, ...], rate_limit: int | None,
) -> None:  # fmt: skip
    """Create a source and print the path providers post to (/in/<token>)."""
    import time

    from hookline.domain import tokens
    from hookline.domain.models import Source
    from hookline.usecases import sources

    settings = settings_for(config, database_url=database_url)
    draft = sources.VerifierDraft(kind, _config_pairs(pairs), secrets)
    limits = sources.Ingress(networks, rate_limit)
    try:  # checked before a database is opened, so a typo changes nothing
        sources.checked_verifier(draft)
        sources.checked_networks(networks)
    except HooklineError as error:
        raise click.UsageError(error.detail) from None

    async def create(storage: Storage) -> Source:
        app = await storage.get_application(app_key)
        return await sources.create_source(
            storage, tokens.CLI, app.id, name, uid, draft, 86400.0, True, time.time(), limits
        )

    made = with_storage(settings, create)
    base = settings.public_url.rstrip("/") or f"http://{settings.host}:{settings.port}"
    click.echo(f"{made.id}  {base}/in/{made.token}")


@source.command("list")
@config_option
@db_option
@click.option("--app", "app_key", required=True, help="The application (id or uid).")
def source_list(config: Path | None, database_url: str | None, app_key: str) -> None:
    """List an application's sources: id, verifier, name."""
    from hookline.domain.models import Source
    from hookline.storage.base import Cursor

    async def every(storage: Storage) -> list[Source]:
        app = await storage.get_application(app_key)
        page = await storage.list_sources(app.id, Cursor(limit=250))
        return page.data

    found = with_storage(settings_for(config, database_url=database_url), every)
    console_commands.print_rows(
        ("id", "verifier", "name"), [[item.id, item.verifier, item.name] for item in found]
    )


COMMANDS: Final = (token, source)
