"""What a route needs of its caller, and whether a caller has it.

Every route of the API and of the web faces declares one ``Need`` beside itself (the
API with ``api.access.requires``, the web faces with the decorators of ``web.access``),
and a test walks both apps and fails for a route that declares none. A need is a
reach and whether the route writes:

- ``PUBLIC``: anyone, no token (health, the OpenAPI document, sign-in pages);
- ``ADMIN_*``: an admin token only; an application's token gets 403;
- ``APP_*``: an admin token, or the token of the application named in the route's
  ``{app_id}`` (its id or uid); another application's id answers 404, exactly as an
  id that does not exist, so a token cannot learn which ids are taken;
- ``TOKEN_*``: any valid token; the route itself narrows what an application's token
  sees to that application (its own application, its own background tasks...).

Writing needs a token that is not read-only (403).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from hookline.domain.tokens import Principal
from hookline.errors import ForbiddenError, NotFoundError
from hookline.storage.base import Storage

#: Methods that read: a read-only token may use them, and only routes of these read.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Reach(Enum):
    """Whose tokens may use a route."""

    PUBLIC = "public"
    ADMIN = "admin"
    APPLICATION = "application"
    TOKEN = "token"  # noqa: S105 - a reach, not a secret


@dataclass(frozen=True, slots=True)
class Need:
    """What a route needs: a reach, and whether it writes.

    ``checked_by_route`` marks a route outside the token middleware that checks its
    caller itself (``/metrics``, whose rule depends on a setting); the declaration
    still says what it needs.
    """

    reach: Reach
    writes: bool
    checked_by_route: bool = False

    def __str__(self) -> str:
        return f"{self.reach.value} {'write' if self.writes else 'read'}"


PUBLIC = Need(Reach.PUBLIC, writes=False)
ADMIN_READ = Need(Reach.ADMIN, writes=False)
ADMIN_WRITE = Need(Reach.ADMIN, writes=True)
APP_READ = Need(Reach.APPLICATION, writes=False)
APP_WRITE = Need(Reach.APPLICATION, writes=True)
TOKEN_READ = Need(Reach.TOKEN, writes=False)
TOKEN_WRITE = Need(Reach.TOKEN, writes=True)


def refusal(need: Need, who: Principal) -> ForbiddenError | None:
    """Why ``who`` may not use a route that needs ``need`` at all (None if it may).

    For application routes this is not the whole answer: see ``check``.
    """
    if need.writes and who.read_only:
        return ForbiddenError("this token is read-only")
    if who.is_admin or need.reach in (Reach.PUBLIC, Reach.TOKEN):
        return None
    if need.reach is Reach.ADMIN:
        return ForbiddenError("an application's token cannot use this route")
    return None


async def check(need: Need, who: Principal, app_key: str | None, storage: Storage) -> None:
    """Refuse ``who`` unless it has ``need`` on the application ``app_key`` (id or uid):
    403 for routes its token cannot use, 404 for another application's ids."""
    refused = refusal(need, who)
    if refused is not None:
        raise refused
    if who.is_admin or need.reach is not Reach.APPLICATION:
        return
    if app_key is None:
        raise ForbiddenError("an application's token cannot use this route")
    if app_key != who.app_id:
        # A uid is resolved; anything not this token's application reads as absent.
        try:
            app = await storage.get_application(app_key)
        except NotFoundError:
            app = None
        if app is None or app.id != who.app_id:
            raise NotFoundError(f"application {app_key!r} not found")
