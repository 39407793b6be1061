"""The console commands as click commands; ``hookline.cli`` adds them to ``hookline``.

Only click is imported here, so that ``hookline --help`` stays quick: httpx, rich,
aiohttp and the signing code load when a command runs.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from hookline.console._client import Api

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_URL = "http://127.0.0.1:8040"


def _api_options(command: F) -> F:
    command = click.option(
        "--token", envvar="HOOKLINE_TOKEN", required=True, show_envvar=True,
        help="An API token (hk_...), sent as 'Authorization: Bearer'.",
    )(command)  # fmt: skip
    return click.option(
        "--url", envvar="HOOKLINE_URL", default=DEFAULT_URL, show_default=True, show_envvar=True,
        help="Where hookline's API is.",
    )(command)  # fmt: skip


def _api(url: str, token: str) -> Api:
    from hookline.console._client import Api

    return Api(url, token)


def _moment(text: str, option: str, now: float) -> float:
    from hookline.console._text import parse_moment

    try:
        return parse_moment(text, now)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint=option) from None


def _stdin_text() -> str:
    return sys.stdin.read()


def print_rows(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A list for people: a table on a terminal, else one line per row (for scripts)."""
    from hookline.console._output import print_rows as show

    show(columns, rows)


# --- send ----------------------------------------------------------------------------------


@click.command("send")
@click.argument("app")
@click.argument("event_type")
@click.option(
    "--data",
    help="The payload: a JSON object, @file.json, or - for stdin."
    " Without it: stdin when piped, else {}.",
)
@click.option("--channel", "channels", multiple=True, help="A channel (repeatable).")
@click.option("--event-id", help="Your idempotency id for the event (eventId).")
@click.option(
    "--priority", type=click.Choice(["high", "normal", "low"]), default="normal", show_default=True
)
@click.option("--wait", is_flag=True, help="Wait for each endpoint's first answer; show a table.")
@click.option(
    "--timeout", type=click.FloatRange(min=0), default=30.0, show_default=True,
    help="Seconds --wait waits at most.",
)  # fmt: skip
@_api_options
def send(
    app: str, event_type: str, data: str | None, channels: tuple[str, ...], event_id: str | None,
    priority: str, wait: bool, timeout: float, url: str, token: str,
) -> None:  # fmt: skip
    """Publish a test event to APP (id or uid) and print the message id.

    With --wait, exits 1 unless every endpoint the event is routed to answered 2xx.
    """
    from pathlib import Path

    from hookline.console import _output, _publish
    from hookline.console._text import load_payload

    def read_stdin() -> str:
        return "" if data is None and sys.stdin.isatty() else _stdin_text()

    try:
        payload = load_payload(data, read_stdin, lambda p: Path(p).read_text("utf-8"))
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--data") from None
    with _api(url, token) as api:
        message = _publish.publish(
            api, app, event_type, payload, channels=channels, event_id=event_id, priority=priority
        )
        click.echo(message["id"])
        if not wait:
            return
        routed = _publish.targets(api, app, event_type, payload, channels)
        if not routed:
            click.echo("no endpoint receives this event (routing/preview says why)", err=True)
            return
        err = _output.console(stderr=True)
        with err.status(f"waiting for {len(routed)} endpoint(s)..."):
            results = _publish.wait(api, app, message["id"], routed, timeout)
    _output.console().print(_output.table(_publish.COLUMNS, [r.row() for r in results]))
    failed = [r.target.label for r in results if r.known and not r.succeeded]
    silent = [r.target.label for r in results if not r.known]
    if failed:
        click.echo(f"failed at: {', '.join(failed)} (retried on the endpoint's schedule)", err=True)
    if silent:
        click.echo(f"no attempt within {timeout:g} s at: {', '.join(silent)}", err=True)
    if failed or silent:
        sys.exit(1)


# --- tail ----------------------------------------------------------------------------------


@click.command("tail")
@click.argument("app")
@click.option("--endpoint", help="Only this endpoint (id or uid); default: all of APP's.")
@click.option(
    "--since", default="now", show_default=True,
    help="Start from: 30s, 5m, 2h, 1d ago, or an ISO 8601 time.",
)  # fmt: skip
@click.option("--status", type=click.Choice(["success", "fail"]), help="Only these.")
@click.option("--count", type=click.IntRange(min=1), help="Stop after this many attempts.")
@click.option(
    "--interval", type=click.FloatRange(min=0.05), default=1.0, show_default=True,
    help="Seconds between polls.",
)  # fmt: skip
@_api_options
def tail(
    app: str, endpoint: str | None, since: str, status: str | None, count: int | None,
    interval: float, url: str, token: str,
) -> None:  # fmt: skip
    """Follow APP's delivery attempts as they are made, one line each (Ctrl-C stops)."""
    from rich.text import Text

    from hookline.console import _output, _tail
    from hookline.console._text import STATUS_FILTER, AttemptView, attempt_line, short_time

    start = _moment(since, "--since", time.time())
    options = _tail.TailOptions(
        app=app, endpoint=endpoint, since=start, count=count, interval=interval,
        status=None if status is None else STATUS_FILTER[status],
    )  # fmt: skip
    out = _output.console()

    def show(attempt: AttemptView, label: str) -> None:
        style = "green" if attempt.succeeded else "red"
        out.print(Text(attempt_line(attempt, label), style=style))

    what = f"endpoint {endpoint}" if endpoint else "every endpoint"
    click.echo(f"tail: {app}, {what}, since {short_time(start)}; Ctrl-C stops", err=True)
    # SIGTERM ends it as Ctrl-C does: quietly, exit 0.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with _api(url, token) as api:
            _tail.follow(api, options, show)
    except KeyboardInterrupt:
        return


# --- recover ---------------------------------------------------------------------------------


@click.command("recover")
@click.argument("app")
@click.argument("endpoint")
@click.option(
    "--since", required=True, help="Messages created from: 5m, 2h, 1d ago or an ISO 8601 time."
)
@click.option("--until", help="Up to (default: now).")
@click.option(
    "--wait", is_flag=True, help="Then follow the re-sent messages until none is pending."
)
@click.option(
    "--timeout", type=click.FloatRange(min=0), default=120.0, show_default=True,
    help="Seconds --wait waits at most.",
)  # fmt: skip
@_api_options
def recover(
    app: str, endpoint: str, since: str, until: str | None, wait: bool, timeout: float,
    url: str, token: str,
) -> None:  # fmt: skip
    """Re-send ENDPOINT's failed messages (failed or held while it was disabled).

    With --wait, exits 1 unless every re-sent message was delivered in time.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    from hookline.console import _output, _recover
    from hookline.console._errors import ConsoleError
    from hookline.console._text import parse_api_time

    now = time.time()
    start = _moment(since, "--since", now)
    end = None if until is None else _moment(until, "--until", now)
    err = _output.console(stderr=True)
    columns = (
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(),
    )  # fmt: skip
    with _api(url, token) as api:
        # Recovery takes failed messages only: those still retrying are counted first, to
        # say so, since "recovered: 0" alone reads as "nothing is wrong".
        retrying = _recover.backlog(api, app, endpoint, start, end if end else now).pending
        with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
            step = bar.add_task("recovering", total=None)
            task = _recover.start(api, app, endpoint, start, end)
            task = _recover.finish(api, task, on_poll=lambda t: bar.update(step))
        if task.get("status") != "finished":
            raise ConsoleError(f"recovery task {task['id']} ended {task.get('status')}")
        sent = int(task.get("data", {}).get("messagesSent", 0))
        click.echo(f"recovered: {sent} message(s) re-queued for {endpoint} (task {task['id']})")
        if retrying:
            click.echo(
                f"still retrying: {retrying} message(s) of {endpoint} in that window have not "
                "failed yet, so recover leaves them to their retry schedule "
                "(`hookline resend APP MESSAGE` sends one now)"
            )
        if not wait or sent == 0:
            return
        window_end = end if end is not None else parse_api_time(task["updatedAt"])
        with Progress(*columns, console=err, disable=not err.is_terminal) as bar:
            step = bar.add_task("re-sending", total=sent)

            def progress(left: _recover.Backlog) -> None:
                bar.update(step, completed=max(sent - left.pending, 0))

            left = _recover.redeliver(api, app, endpoint, start, window_end, timeout, progress)
    delivered = max(sent - left.pending - left.failed, 0)
    click.echo(
        f"re-sent: {delivered} delivered, {left.failed} failed, {left.pending} still pending"
    )
    if left.pending or left.failed:
        sys.exit(1)


# --- resend ----------------------------------------------------------------------------------


@click.command("resend")
@click.argument("app")
@click.argument("message")
@click.option(
    "--endpoint", "endpoints", multiple=True,
    help="Only to this endpoint (id or uid; repeatable). Default: every endpoint the "
    "message was attempted at.",
)  # fmt: skip
@_api_options
def resend(app: str, message: str, endpoints: tuple[str, ...], url: str, token: str) -> None:
    """Send MESSAGE (its id or eventId) of APP again, now, whatever happened to it.

    Each endpoint gets a new delivery, attempted at once and retried on its schedule;
    `hookline tail APP` follows it.
    """
    from hookline.console import _recover
    from hookline.console._errors import ConsoleError

    with _api(url, token) as api:
        targets = list(endpoints) or _recover.attempted_endpoints(api, app, message)
        if not targets:
            raise ConsoleError(
                f"{message} has no attempt yet (it is on its way, or reached no endpoint); "
                "name one with --endpoint"
            )
        for endpoint in targets:
            _recover.resend(api, app, message, endpoint)
            click.echo(f"re-sent {message} to {endpoint}")


# --- verify ----------------------------------------------------------------------------------


@click.command("verify")
@click.option("--secret", required=True, help="The endpoint's signing secret (whsec_...).")
@click.option(
    "--header", "-H", "header_lines", multiple=True, required=True, metavar="'NAME: VALUE'",
    help="A received header (repeat): webhook-id, webhook-timestamp, webhook-signature"
    " (or svix-*).",
)  # fmt: skip
@click.option(
    "--body-file", type=click.File("rb"), help="The raw body as received (default: stdin)."
)
@click.option(
    "--tolerance", type=click.IntRange(min=0), default=300, show_default=True,
    help="Seconds the timestamp may be off.",
)  # fmt: skip
def verify(
    secret: str, header_lines: tuple[str, ...], body_file: Any, tolerance: int
) -> None:  # fmt: skip
    """Check a Standard Webhooks signature by hand; say exactly why it fails (exit 1)."""
    from hookline.console._text import check_signature, parse_header

    headers: dict[str, str] = {}
    for line in header_lines:
        try:
            name, value = parse_header(line)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--header") from None
        headers[name] = value
    if body_file is not None:
        body: bytes = body_file.read()
    else:
        stdin = sys.stdin.buffer
        if stdin.isatty():
            raise click.UsageError("give the body with --body-file FILE, or on stdin")
        body = stdin.read()
    verdict = check_signature(secret, body, headers, int(time.time()), tolerance)
    if not verdict.ok:
        click.echo(verdict.describe(), err=True)
        sys.exit(1)
    click.echo(verdict.describe())


# --- listen ----------------------------------------------------------------------------------


@click.command("listen")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=9000, show_default=True,
    help="Port on 127.0.0.1 (0: any free one).",
)  # fmt: skip
@click.option("--secret", help="Verify with this secret (whsec_...); bad signatures get 401.")
@click.option(
    "--forward-to", metavar="URL", help="Send each webhook on to this URL (byte for byte)."
)
@click.option(
    "--path", default="/", show_default=True, help="Accept requests under this path only."
)
@click.option(
    "--tolerance", type=click.IntRange(min=0), default=300, show_default=True,
    help="Seconds a signature's timestamp may be off.",
)  # fmt: skip
@click.option(
    "--show-chars", type=click.IntRange(min=0), default=4000, show_default=True,
    help="Show at most this much of each body.",
)  # fmt: skip
def listen(
    port: int, secret: str | None, forward_to: str | None, path: str, tolerance: int,
    show_chars: int,
) -> None:  # fmt: skip
    """Receive webhooks on 127.0.0.1: verify, pretty-print, optionally forward (Ctrl-C stops)."""
    import asyncio
    from urllib.parse import urlsplit

    from hookline.console import _listen, _output
    from hookline.console._errors import ConsoleError
    from hookline.domain.signing import SignatureError, Signer

    if secret is not None:
        try:
            Signer.from_secret(secret)
        except SignatureError as error:
            raise click.BadParameter(f"bad secret: {error.detail}", param_hint="--secret") from None
    if forward_to is not None:
        parts = urlsplit(forward_to)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise click.BadParameter("must be an http(s):// URL", param_hint="--forward-to")
    options = _listen.ListenOptions(
        port=port, secret=secret, forward_to=forward_to, path=path, tolerance=tolerance,
        show_chars=show_chars,
    )  # fmt: skip
    out = _output.console()

    def ready(where: str) -> None:
        checks = "verifying signatures" if secret else "NOT verifying (no --secret)"
        onward = f", forwarding to {forward_to}" if forward_to else ""
        click.echo(f"listen: receiving on {where} ({checks}{onward}); Ctrl-C stops")

    try:
        asyncio.run(_listen.serve(options, out, ready))
    except OSError as error:
        raise ConsoleError(
            f"cannot listen on 127.0.0.1:{port}: {error.strerror or error}"
        ) from None
    except KeyboardInterrupt:
        pass
    click.echo("listen: stopped")


COMMANDS = (send, tail, recover, resend, verify, listen)
