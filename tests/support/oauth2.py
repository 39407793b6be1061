"""A real OAuth 2.0 token endpoint on 127.0.0.1 (RFC 6749 section 4.4, client credentials).

It checks the client's credentials (HTTP Basic with form-encoded parts, or form fields),
issues random bearer tokens that expire after ``expires_in`` seconds, and can revoke
them early. ``valid(authorization)`` tells a receiver whether a request's token is good.
It runs on its own thread and loop, like ``support.receiver.Receiver``.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import unquote_plus

from aiohttp import web


@dataclass(frozen=True)
class TokenRequest:
    """One token request as the server saw it."""

    client_auth: str  # "basic" or "form"
    scope: str | None
    audience: str | None
    granted: bool


class TokenServer:
    """Start with ``start()``; ``url`` is the token URL."""

    def __init__(self, client_id: str, client_secret: str, expires_in: float = 3600) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.expires_in = expires_in
        self.requests: list[TokenRequest] = []
        self._tokens: dict[str, float] = {}  # token -> expires at
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0
        #: Seconds each answer waits (to let concurrent requests pile up).
        self.delay = 0.0

    @property
    def url(self) -> str:
        """The token URL."""
        return f"http://127.0.0.1:{self.port}/oauth/token"

    def _client(self, request: web.Request, form: dict[str, str]) -> tuple[str, str, str] | None:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            decoded = base64.b64decode(header[6:]).decode()
            client_id, _, client_secret = decoded.partition(":")
            return "basic", unquote_plus(client_id), unquote_plus(client_secret)
        if "client_id" in form:
            return "form", form["client_id"], form.get("client_secret", "")
        return None

    async def _token(self, request: web.Request) -> web.Response:
        if request.content_type != "application/x-www-form-urlencoded":
            return _error(400, "invalid_request", "the body must be form-encoded")
        form = {k: str(v) for k, v in (await request.post()).items()}
        if self.delay:
            await asyncio.sleep(self.delay)
        client = self._client(request, form)
        granted = (
            client is not None and client[1] == self.client_id and client[2] == self.client_secret
        )
        with self._lock:
            self.requests.append(
                TokenRequest(
                    client[0] if client else "none",
                    form.get("scope"),
                    form.get("audience"),
                    granted,
                )
            )
        if form.get("grant_type") != "client_credentials":
            return _error(400, "unsupported_grant_type", "only client_credentials")
        if not granted:
            return _error(401, "invalid_client", "unknown client or wrong secret")
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = time.time() + self.expires_in
        answer = {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in}
        return web.json_response(answer, headers={"Cache-Control": "no-store"})

    def valid(self, authorization: str | None) -> bool:
        """Whether ``authorization`` carries a token issued here, not expired nor revoked."""
        if not authorization or not authorization.startswith("Bearer "):
            return False
        with self._lock:
            expires_at = self._tokens.get(authorization[7:])
        return expires_at is not None and expires_at > time.time()

    def revoke_all(self) -> None:
        """Make every token issued so far invalid (as an early revocation would)."""
        with self._lock:
            self._tokens.clear()

    @property
    def granted(self) -> int:
        """How many tokens were issued."""
        with self._lock:
            return sum(1 for r in self.requests if r.granted)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/oauth/token", self._token)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def start(self) -> TokenServer:
        """Start serving on a free port."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        """Stop serving and end the thread."""
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            # Connections a peer still held (a proxy's keep-alive upstream) finish closing
            # on the loop's next turns: let them, so none is left to the garbage collector.
            asyncio.run_coroutine_threadsafe(asyncio.sleep(0.05), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def _error(status: int, error: str, description: str) -> web.Response:
    headers = {"WWW-Authenticate": 'Basic realm="token"'} if status == 401 else {}
    return web.json_response(
        {"error": error, "error_description": description}, status=status, headers=headers
    )
