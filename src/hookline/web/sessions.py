"""Browser sessions of the dashboard and the portal, kept on the server.

The cookie holds only a random session id; the session holds the API token it was
opened with, a CSRF token and its flash notices. Every request checks the token
again, exactly as the API checks a bearer token, so a revoked or expired token ends
its sessions at once.

Sessions are stored in the database (the token sealed like every stored secret), so
any API process serves any browser; flash notices stay in the process that made them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from hookline.storage.base import Sessions, WebSession


class Kind(StrEnum):
    """Which face a session belongs to; each has its own cookie."""

    DASHBOARD = "dashboard"
    PORTAL = "portal"


#: Cookie names; both are ``HttpOnly; SameSite=Strict; Path=/`` (and ``Secure`` over https).
COOKIES = {Kind.DASHBOARD: "hookline_dashboard", Kind.PORTAL: "hookline_portal"}
#: A session unused this long ends (the token's own expiry ends it sooner).
IDLE_SECONDS = 8 * 3600
#: Sessions cached at most per process; the least recently used go first.
MAX_SESSIONS = 10_000
#: How long a process trusts a session it read before reading it again.
RECHECK = 5.0
#: A session in use has its expiry moved on at most this often (one write a minute).
TOUCH_EVERY = 60.0
#: Flash notices kept per session at most.
MAX_NOTICES = 5


@dataclass
class Session:
    """One signed-in browser: the token it signed in with, its CSRF token, its notices."""

    kind: Kind
    token: str
    csrf: str
    last_seen: float
    notices: list[tuple[str, str]] = field(default_factory=list)

    def csrf_matches(self, given: str | None) -> bool:
        """Whether a form's CSRF field is this session's token (compared in constant time)."""
        return given is not None and hmac.compare_digest(given.encode(), self.csrf.encode())

    def notify(self, level: str, text: str) -> None:
        """Keep a notice ("ok" or "error") for the next page this session sees."""
        self.notices = [*self.notices[-(MAX_NOTICES - 1) :], (level, text)]

    def take_notices(self) -> list[tuple[str, str]]:
        """The notices kept so far, forgotten once taken."""
        taken, self.notices = self.notices, []
        return taken


class SessionStore:
    """Sessions in the database (``web_sessions``), so any API process serves any browser.

    Each process keeps the sessions it has seen for ``RECHECK`` seconds before reading
    them again, so a sign-out in another process ends a session here within that time.
    """

    def __init__(self, storage: Sessions, clock: Callable[[], float] = time.time) -> None:
        self.storage = storage
        self.clock = clock
        #: Session by id digest, with when it was last read from the database.
        self._cached: OrderedDict[str, tuple[Session, float]] = OrderedDict()

    @staticmethod
    def _key(session_id: str) -> str:
        return hashlib.sha256(session_id.encode()).hexdigest()

    async def open(self, kind: Kind, token: str) -> tuple[str, Session]:
        """A new session (and its id, for the cookie) for ``token``; always a fresh id."""
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        session = Session(kind, token, secrets.token_urlsafe(32), now)
        key = self._key(session_id)
        await self.storage.create_web_session(
            WebSession(key, str(kind), token, session.csrf, now + IDLE_SECONDS)
        )
        self._remember(key, session, now)
        return session_id, session

    async def get(self, kind: Kind, session_id: str | None) -> Session | None:
        """The live session of this kind behind ``session_id``, or None."""
        if not session_id or len(session_id) > 100:
            return None
        key = self._key(session_id)
        now = self.clock()
        cached = self._cached.get(key)
        session = cached[0] if cached is not None else None
        if cached is None or now - cached[1] > RECHECK:
            stored = await self.storage.get_web_session(key, now)
            if stored is None:
                self._cached.pop(key, None)
                return None
            fresh = Session(Kind(stored.kind), stored.token, stored.csrf, now)
            if session is not None:  # keep what this process knew: notices, last use
                fresh.notices, fresh.last_seen = session.notices, session.last_seen
            session = fresh
            self._remember(key, session, now)
        assert session is not None
        if session.kind is not kind:
            return None
        if now - session.last_seen > IDLE_SECONDS:
            await self.close(session_id)
            return None
        if now - session.last_seen > TOUCH_EVERY:
            await self.storage.touch_web_session(key, now + IDLE_SECONDS)
        session.last_seen = now
        return session

    async def close(self, session_id: str | None) -> None:
        """End the session behind ``session_id``, in every process (nothing if none)."""
        if session_id and len(session_id) <= 100:
            key = self._key(session_id)
            self._cached.pop(key, None)
            await self.storage.delete_web_session(key)

    def _remember(self, key: str, session: Session, now: float) -> None:
        self._cached[key] = (session, now)
        self._cached.move_to_end(key)
        while len(self._cached) > MAX_SESSIONS:
            self._cached.popitem(last=False)
