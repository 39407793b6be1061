"""``hookline listen``: a local receiver that verifies, shows and forwards webhooks.

It binds to 127.0.0.1 only. Each request is verified (with ``--secret``), shown, and
(with ``--forward-to``) sent on with the exact body bytes and the same headers; the
sender gets the forward's status. It answers both endpoint verification handshakes
itself (``domain/verification.py``): a CloudEvents abuse-protection ``OPTIONS``
(allowing the origin), and a Standard Webhooks ``webhook-challenge`` (with
``--secret``); neither is forwarded. SIGINT and SIGTERM stop it cleanly.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, MultiMapping
from rich.console import Console
from rich.text import Text

from hookline.console._output import print_body
from hookline.console._text import Verdict, check_signature, event_type_of, preview_body, short_time
from hookline.domain import verification

#: Headers that belong to one connection, not to the webhook: never forwarded.
_HOP_BY_HOP = frozenset(
    {
        "host", "content-length", "transfer-encoding", "connection", "keep-alive", "te",
        "trailer", "upgrade", "proxy-authorization", "proxy-authenticate", "expect",
    }
)  # fmt: skip
#: Headers aiohttp's client would add on its own; only the sender's are sent.
_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")
#: Webhooks are small; a receiver for trying things out refuses anything huge.
_MAX_BODY = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ListenOptions:
    """Where to listen, how to verify, where to forward."""

    port: int = 9000
    secret: str | None = None
    forward_to: str | None = None
    path: str = "/"
    tolerance: int = 300
    show_chars: int = 4000
    forward_timeout: float = 30.0


def forwarded_headers(headers: MultiMapping[str]) -> CIMultiDict[str]:
    """The request's headers minus the hop-by-hop ones, repeats and case kept."""
    return CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in _HOP_BY_HOP)


def under(path: str, prefix: str) -> bool:
    """Whether a request path falls under ``--path`` (``/`` takes everything)."""
    prefix = "/" + prefix.strip("/")
    if prefix == "/":
        return True
    return path == prefix or path.startswith(prefix + "/")


class Listener:
    """The aiohttp application and what it shows."""

    def __init__(
        self, options: ListenOptions, out: Console, clock: Callable[[], float] = time.time
    ) -> None:
        """Listen with ``options``, showing requests on ``out``."""
        self.options = options
        self.out = out
        self.clock = clock
        self._session: aiohttp.ClientSession | None = None

    def app(self) -> web.Application:
        """The web application: every method, every path (those outside ``--path`` get 404)."""
        made = web.Application(client_max_size=_MAX_BODY)
        made.router.add_route("*", "/{tail:.*}", self.handle)
        made.on_cleanup.append(self._close)
        return made

    async def _close(self, app: web.Application) -> None:
        if self._session is not None:
            await self._session.close()

    async def handle(self, request: web.Request) -> web.StreamResponse:  # noqa: PLR0911 - one return per answer
        """Answer a handshake; verify, show, forward: 200, 401 or the forward's status."""
        if not under(request.path, self.options.path):
            return web.Response(status=404, text="not under --path\n")
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        handshake = self._handshake(request, headers, body)
        if handshake is not None:
            return handshake
        verdict = None
        if self.options.secret is not None:
            verdict = check_signature(
                self.options.secret, body, headers, int(self.clock()), self.options.tolerance
            )
        if verdict is not None and not verdict.ok:
            self._show(request, headers, body, verdict, "answered 401, not forwarded")
            return web.Response(status=401, text=verdict.reason + "\n")
        if verification.CHALLENGE_HEADER in headers:
            return self._challenge(request, headers, body, verdict)
        if self.options.forward_to is None:
            self._show(request, headers, body, verdict, "answered 200")
            return web.Response(status=200, text="ok\n")
        answer = await self._forward(request, body)
        self._show(request, headers, body, verdict, self._forward_note(answer))
        if isinstance(answer, str):
            return web.Response(status=502, text=f"forward failed: {answer}\n")
        status, content, content_type = answer
        return web.Response(status=status, body=content, content_type=content_type)

    def _handshake(
        self, request: web.Request, headers: dict[str, str], body: bytes
    ) -> web.Response | None:
        """Answer a CloudEvents abuse-protection request, allowing its origin (None: not one)."""
        allowed = verification.answer_handshake(headers) if request.method == "OPTIONS" else None
        if allowed is None:
            return None
        origin = allowed[verification.ALLOWED_ORIGIN]
        self._show(request, headers, body, None, f"CloudEvents handshake: allowed {origin}")
        return web.Response(status=200, headers=allowed)

    def _challenge(
        self, request: web.Request, headers: dict[str, str], body: bytes, verdict: Verdict | None
    ) -> web.Response:
        """Answer a Standard Webhooks verification challenge (it needs the secret)."""
        if self.options.secret is None:
            self._show(request, headers, body, verdict, "a challenge, not answered: no --secret")
            return web.Response(status=400, text="a webhook-challenge needs --secret\n")
        answer = verification.answer_challenge(self.options.secret, headers)
        assert answer is not None  # the header is there
        self._show(request, headers, body, verdict, "answered the verification challenge")
        return web.Response(status=200, headers=answer, text="ok\n")

    async def _forward(self, request: web.Request, body: bytes) -> tuple[int, bytes, str] | str:
        """Send the body on; (status, body, content type), or why it failed."""
        assert self.options.forward_to is not None
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.options.forward_timeout),
                skip_auto_headers=_AUTO_HEADERS,
            )
        try:
            async with self._session.request(
                request.method, self.options.forward_to, data=body,
                headers=forwarded_headers(request.headers), allow_redirects=False,
            ) as response:  # fmt: skip
                content = await response.read()
                return response.status, content, response.content_type
        except TimeoutError:
            return f"no answer in {self.options.forward_timeout:g} s"
        except aiohttp.ClientError as error:
            return str(error) or type(error).__name__

    def _forward_note(self, answer: tuple[int, bytes, str] | str) -> str:
        if isinstance(answer, str):
            return f"forward to {self.options.forward_to} failed ({answer}); answered 502"
        return f"forwarded to {self.options.forward_to}: {answer[0]}"

    def _show(
        self, request: web.Request, headers: dict[str, str], body: bytes,
        verdict: Verdict | None, what: str,
    ) -> None:  # fmt: skip
        line = Text()
        line.append(short_time(self.clock()), style="dim")
        line.append(f"  {request.method} {request.path_qs}", style="bold")
        line.append(f"  {headers.get('webhook-id') or headers.get('svix-id') or '(no webhook-id)'}")
        event_type = event_type_of(body)
        if event_type:
            line.append(f"  {event_type}", style="cyan")
        if verdict is None:
            line.append("  not verified (no --secret)", style="yellow")
        elif verdict.ok:
            line.append("  verified", style="green")
        else:
            line.append(f"  REJECTED: {verdict.reason}", style="red")
        line.append(f"  -> {what}", style="dim")
        self.out.print(line)
        print_body(self.out, preview_body(body, self.options.show_chars))
        self.out.print()


async def serve(
    options: ListenOptions, out: Console, on_ready: Callable[[str], None]
) -> None:  # fmt: skip
    """Serve until SIGINT or SIGTERM."""
    listener = Listener(options, out)
    runner = web.AppRunner(listener.app(), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", options.port).start()
        port = runner.addresses[0][1]
        path = "/" + options.path.strip("/")
        on_ready(f"http://127.0.0.1:{port}{path}")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(number, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()
