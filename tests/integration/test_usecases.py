"""The use cases over a real storage, on both backends: what they refuse changes nothing,
what they create is found again, each change with its audit entry."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hookline.domain import ids
from hookline.domain.models import EventType
from hookline.domain.ssrf import DestinationPolicy
from hookline.domain.tokens import Principal
from hookline.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    TooLargeError,
    ValidationError,
)
from hookline.storage import Storage
from hookline.storage.base import BEGINNING, END_OF_TIME, Cursor, MessageFilter
from hookline.usecases import (
    access,
    applications,
    endpoints,
    event_types,
    messages,
    replays,
    sources,
    tasks,
    tokens,
)
from hookline.usecases.applications import ApplicationDraft
from hookline.usecases.endpoints import EndpointDraft
from hookline.usecases.messages import MessageDraft, PublishLimits

T0 = 1_700_000_000.0
ADMIN = Principal("tok_admin")
#: The SSRF defence off: no host name is resolved (tests send nothing beyond loopback).
POLICY = DestinationPolicy.from_strings([], enabled=False)
LIMITS = PublishLimits(max_payload_bytes=1024, retention_days=1)
EVERYTHING = MessageFilter(since=BEGINNING, until=END_OF_TIME)


def cache(storage: Storage) -> event_types.EventTypeCache:
    return event_types.EventTypeCache(storage, ttl=0)  # read afresh each time


async def an_app(storage: Storage, uid: str | None = None) -> str:
    app = await applications.create_application(
        storage, ADMIN, ApplicationDraft(name="Acme", uid=uid), T0
    )
    return app.id


async def publish(storage: Storage, app_key: str, draft: MessageDraft) -> str:
    stored = await messages.publish(
        storage, storage.publish, cache(storage), LIMITS, ADMIN, app_key, draft, T0
    )
    return stored.id


async def test_a_payload_over_the_limit_is_refused_and_nothing_is_stored(storage: Storage) -> None:
    """Over the payload limit is 413 and no message is stored."""
    app_id = await an_app(storage)
    with pytest.raises(TooLargeError):
        await publish(storage, app_id, MessageDraft("e", {"blob": "x" * 2000}))
    assert (await storage.list_messages(app_id, Cursor(limit=10), EVERYTHING)).data == []


async def test_an_enforced_schema_refuses_a_payload_naming_its_path(storage: Storage) -> None:
    """A payload its event type's enforced schema refuses is 422 at the path; nothing stored."""
    app_id = await an_app(storage)
    schema = {"type": "object", "properties": {"total": {"type": "integer"}}}
    await event_types.create_event_type(
        storage, cache(storage), ADMIN,
        EventType(name="invoice.paid", schemas={"1": schema}, enforce_schema=True,
                  created_at=T0, updated_at=T0),
        T0,
    )  # fmt: skip
    with pytest.raises(ValidationError) as refused:
        await publish(storage, app_id, MessageDraft("invoice.paid", {"total": "ten"}))
    assert refused.value.field == ("payload", "total")
    assert (await storage.list_messages(app_id, Cursor(limit=10), EVERYTHING)).data == []
    assert await publish(storage, app_id, MessageDraft("invoice.paid", {"total": 10}))


async def test_a_publish_carrying_an_application_creates_it_under_the_uid(storage: Storage) -> None:
    """Publishing to an unknown uid with an application creates it under that uid (Svix's
    get-or-create); without one, the application is not found."""
    with pytest.raises(NotFoundError):
        await publish(storage, "acme", MessageDraft("e", {"a": 1}))
    draft = MessageDraft("e", {"a": 1}, application=ApplicationDraft(name="Acme"))
    await publish(storage, "acme", draft)
    app = await storage.get_application("acme")
    assert (app.uid, app.name) == ("acme", "Acme")
    assert len((await storage.list_messages(app.id, Cursor(limit=10), EVERYTHING)).data) == 1
    trail = await storage.list_audit(Cursor(limit=10), app.id)
    assert [(e.action, e.actor) for e in trail.data] == [("application.created", "tok_admin")]


async def test_an_archived_event_type_is_refused_in_a_new_endpoint(storage: Storage) -> None:
    """An endpoint cannot subscribe to an archived event type; nothing is stored."""
    app_id = await an_app(storage)
    await storage.create_event_type(
        EventType(name="old.event", archived=True, created_at=T0, updated_at=T0)
    )
    draft = EndpointDraft(url="https://example.com/in", event_types=["invoice.*", "old.event"])
    with pytest.raises(ValidationError) as refused:
        await endpoints.create_endpoint(storage, ADMIN, app_id, draft, POLICY, T0)
    assert refused.value.field == ("eventTypes", 1)
    assert (await storage.list_endpoints(app_id, Cursor(limit=10))).data == []


async def test_only_an_admin_may_point_an_endpoint_at_a_handler(storage: Storage) -> None:
    """``handler:`` endpoints run the operator's code: an application's token is refused."""
    app_id = await an_app(storage)
    draft = EndpointDraft(url="handler:billing")
    with pytest.raises(ForbiddenError):
        await endpoints.create_endpoint(
            storage, Principal("tok_app", app_id=app_id), app_id, draft, POLICY, T0
        )
    created = await endpoints.create_endpoint(storage, ADMIN, app_id, draft, POLICY, T0)
    assert created.url == "handler:billing"


async def test_a_put_creates_under_its_uid_then_replaces_keeping_the_secret(
    storage: Storage,
) -> None:
    """PUT to an unknown uid creates the endpoint under it; a second PUT replaces it."""
    app_id = await an_app(storage)
    first, created = await endpoints.put_endpoint(
        storage, ADMIN, app_id, "billing", EndpointDraft(url="https://example.com/a"), POLICY, T0
    )
    assert (created, first.uid) == (True, "billing")
    second, created = await endpoints.put_endpoint(
        storage, ADMIN, app_id, "billing",
        EndpointDraft(url="https://example.com/b", description="moved"), POLICY, T0 + 1,
    )  # fmt: skip
    assert (created, second.id, second.secret) == (False, first.id, first.secret)
    assert (second.url, second.uid, second.updated_at) == (
        "https://example.com/b",
        "billing",
        T0 + 1,
    )


async def test_enabling_by_hand_restarts_the_failure_clock(storage: Storage) -> None:
    """Re-enabling a disabled endpoint clears its failing-since and is recorded as enabling."""
    app_id = await an_app(storage)
    made = await endpoints.create_endpoint(
        storage, ADMIN, app_id, EndpointDraft(url="https://example.com/in", disabled=True),
        POLICY, T0,
    )  # fmt: skip
    failing = await storage.update_endpoint(replace(made, failing_since=T0))
    assert failing.failing_since == T0
    patched = await endpoints.patch_endpoint(
        storage, ADMIN, failing, {"disabled": False}, None, POLICY, T0 + 5
    )
    assert (patched.disabled, patched.failing_since) == (False, None)
    trail = await storage.list_audit(Cursor(limit=10), app_id)
    actions = [e.action for e in trail.data]
    assert actions[0] == "endpoint.enabled"
    assert sorted(actions[1:]) == ["application.created", "endpoint.created"]


async def test_a_rotated_secret_is_stored_and_the_old_one_signs_on(storage: Storage) -> None:
    """Rotation stores the new secret, keeps the old one for the grace period, audits it."""
    app_id = await an_app(storage)
    made = await endpoints.create_endpoint(
        storage, ADMIN, app_id, EndpointDraft(url="https://example.com/in"), POLICY, T0
    )
    key = await endpoints.rotate_secret(storage, ADMIN, made, T0 + 1, grace_seconds=60)
    stored = await storage.get_endpoint(app_id, made.id)
    assert stored.signing_secrets(T0 + 2) == [key, made.secret]
    trail = await storage.list_audit(Cursor(limit=10), app_id)
    assert trail.data[0].action == "endpoint.secret.rotated"


async def test_creating_an_archived_event_type_revives_it_and_a_live_one_conflicts(
    storage: Storage,
) -> None:
    """An archived name comes back with the new definition and its first creation time;
    a live name is a conflict."""
    types = cache(storage)
    first = EventType(name="order.paid", description="v1", created_at=T0, updated_at=T0)
    await event_types.create_event_type(storage, types, ADMIN, first, T0)
    await event_types.delete_event_type(storage, types, ADMIN, "order.paid", False, T0 + 1)
    again = EventType(name="order.paid", description="v2", created_at=T0 + 2, updated_at=T0 + 2)
    revived = await event_types.create_event_type(storage, types, ADMIN, again, T0 + 2)
    assert (revived.description, revived.archived, revived.created_at) == ("v2", False, T0)
    with pytest.raises(ConflictError):
        await event_types.create_event_type(storage, types, ADMIN, again, T0 + 3)


async def test_a_bulk_replay_of_successes_narrows_to_successes(storage: Storage) -> None:
    """Status 0 asks for successful deliveries only (2 for failed ones); others are refused."""
    app_id = await an_app(storage)
    made = await endpoints.create_endpoint(
        storage, ADMIN, app_id, EndpointDraft(url="https://example.com/in"), POLICY, T0
    )
    await replays.bulk_replay(storage, ADMIN, made, T0 - 60, None, T0, status=0)
    trail = await storage.list_audit(Cursor(limit=10), app_id)
    [started] = [e for e in trail.data if e.action == "endpoint.bulk-replay"]
    assert started.after is not None
    assert started.after["status"] == "success"
    with pytest.raises(ValidationError) as refused:
        await replays.bulk_replay(storage, ADMIN, made, T0 - 60, None, T0, status=1)
    assert refused.value.field == ("status",)


async def test_an_application_token_reaches_its_own_application_only(storage: Storage) -> None:
    """By id or uid its own application passes; another's id and an unknown one read as
    absent (404); admin routes and app routes without an application are refused (403)."""
    own = await an_app(storage, uid="acme")
    other = await an_app(storage, uid="globex")
    token = Principal("tok_app", app_id=own)
    await access.check(access.APP_WRITE, token, own, storage)
    await access.check(access.APP_READ, token, "acme", storage)
    for key in (other, "globex", ids.new_id(ids.APPLICATION, T0)):
        with pytest.raises(NotFoundError):
            await access.check(access.APP_READ, token, key, storage)
    for need, key in ((access.ADMIN_WRITE, own), (access.APP_READ, None)):
        with pytest.raises(ForbiddenError):
            await access.check(need, token, key, storage)
    await access.check(access.ADMIN_WRITE, ADMIN, other, storage)


async def test_tokens_are_issued_for_an_application_and_logged_out_by_it(
    storage: Storage,
) -> None:
    """A token for an application's uid is that application's; it logs itself out; an
    admin token cannot log out, and an unknown application is not found."""
    app_id = await an_app(storage, uid="acme")
    plaintext, token = await tokens.create_token(storage, ADMIN, "ci", "acme", True, 60, T0)
    assert (token.app_id, token.read_only, token.expires_at) == (app_id, True, T0 + 60)
    assert plaintext not in repr(await storage.get_token(token.id))
    revoked = await tokens.log_out(storage, token.principal, T0 + 1)
    assert revoked.problem(T0 + 2) == "the token has been revoked"
    with pytest.raises(ForbiddenError):
        await tokens.log_out(storage, ADMIN, T0)
    with pytest.raises(NotFoundError):
        await tokens.create_token(storage, ADMIN, "ci", "globex", False, None, T0)


async def test_another_applications_task_reads_as_absent(storage: Storage) -> None:
    """A background task is visible to its application's token and to admins only."""
    own, other = await an_app(storage), await an_app(storage)
    made = await endpoints.create_endpoint(
        storage, ADMIN, own, EndpointDraft(url="https://example.com/in"), POLICY, T0
    )
    task = await replays.recover(storage, ADMIN, made, T0 - 60, None, T0)
    assert (await tasks.visible_task(storage, Principal("t", app_id=own), task.id)).id == task.id
    assert (await tasks.visible_task(storage, ADMIN, task.id)).id == task.id
    with pytest.raises(NotFoundError):
        await tasks.cancel(storage, Principal("t", app_id=other), task.id, T0 + 1)


async def test_a_source_with_a_verifier_it_cannot_build_is_refused(storage: Storage) -> None:
    """A verifier the gateway could not build is refused naming ``verifier``; nothing is
    stored; a rotated source answers at a new URL only."""
    app_id = await an_app(storage)
    broken = sources.VerifierDraft(kind="stripe", config={}, secrets=[])
    with pytest.raises(ValidationError) as refused:
        await sources.create_source(storage, ADMIN, app_id, "s", None, broken, 60, True, T0)
    assert refused.value.field[0] == "verifier"
    assert (await storage.list_sources(app_id, Cursor(limit=10))).data == []
    plain = sources.VerifierDraft(kind="none", config={}, secrets=[])
    made = await sources.create_source(storage, ADMIN, app_id, "s", None, plain, 60, True, T0)
    moved = await sources.rotate_url(storage, ADMIN, made, T0 + 1)
    assert moved.token != made.token
    assert await storage.find_source(made.token) is None
    found = await storage.find_source(moved.token)
    assert found is not None
    assert found.id == made.id
