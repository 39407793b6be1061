"""Applications: created (also on the way, by a publish or a portal link that carries
one), replaced, patched and deleted, each change with its audit entry."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from hookline.domain import audit, ids
from hookline.domain.models import Application
from hookline.domain.tokens import Principal
from hookline.errors import NotFoundError
from hookline.storage.base import Storage
from hookline.usecases.event_types import check_name


@dataclass(frozen=True, slots=True)
class ApplicationDraft:
    """An application's given fields, before it has an id."""

    name: str
    uid: str | None = None
    rate_limit: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)


def new_application(draft: ApplicationDraft, now: float, uid: str | None = None) -> Application:
    """An application record from a draft; ``uid`` when the draft names none."""
    return Application(
        id=ids.new_id(ids.APPLICATION, now), name=draft.name, uid=draft.uid or uid,
        rate_limit=draft.rate_limit, metadata=draft.metadata, created_at=now, updated_at=now,
    )  # fmt: skip


def _uid_from_key(app_key: str) -> str | None:
    """The uid an application created under ``app_key`` takes: the key, unless it is an id."""
    return None if ids.looks_like_id(app_key, ids.APPLICATION) else app_key


async def create_application(
    storage: Storage, who: Principal, draft: ApplicationDraft, now: float,
    uid: str | None = None,
) -> Application:  # fmt: skip
    """Store a new application (a taken uid is a ``ConflictError``)."""
    app = new_application(draft, now, uid)
    return await storage.create_application(
        app, audit.change(who, "application.created", None, app, now)
    )


async def get_or_create(
    storage: Storage, who: Principal, draft: ApplicationDraft, now: float
) -> tuple[Application, bool]:
    """The application of the draft's uid if there is one, else a new one: (it, created)."""
    if draft.uid:
        try:
            return await storage.get_application(draft.uid), False
        except NotFoundError:
            pass
    return await create_application(storage, who, draft, now), True


async def application_or_create(
    storage: Storage, who: Principal, app_key: str, draft: ApplicationDraft | None, now: float
) -> Application:
    """The application ``app_key`` (id or uid); if there is none and a draft is given, the
    draft created under that uid (Svix's get-or-create), else ``NotFoundError``."""
    try:
        return await storage.get_application(app_key)
    except NotFoundError:
        if draft is None:
            raise
    return await create_application(storage, who, draft, now, _uid_from_key(app_key))


async def put_application(
    storage: Storage, who: Principal, app_key: str, draft: ApplicationDraft, now: float
) -> tuple[Application, bool]:
    """Replace the application ``app_key`` with the draft, or create it: (it, created)."""
    try:
        current = await storage.get_application(app_key)
    except NotFoundError:
        uid = None if ids.looks_like_id(app_key, ids.APPLICATION) else check_name(app_key, "app_id")
        return await create_application(storage, who, draft, now, uid), True
    updated = replace(
        current, name=draft.name, uid=draft.uid or current.uid, rate_limit=draft.rate_limit,
        metadata=draft.metadata, updated_at=now,
    )  # fmt: skip
    entry = audit.change(who, "application.updated", current, updated, now)
    return await storage.update_application(updated, entry), False


async def update_application(
    storage: Storage, who: Principal, current: Application, updated: Application, now: float
) -> Application:
    """Store ``updated`` (``current`` with some fields changed) as of ``now``."""
    stamped = replace(updated, updated_at=now)
    entry = audit.change(who, "application.updated", current, stamped, now)
    return await storage.update_application(stamped, entry)


async def delete_application(
    storage: Storage, who: Principal, app: Application, now: float
) -> None:
    """Delete the application and all its data (its tokens too; its audit trail stays)."""
    await storage.delete_application(
        app.id, audit.change(who, "application.deleted", app, None, now)
    )
