"""The official ``svix`` SDK (2.9.1) drives a real ``hookline serve`` unchanged.

Every management operation the SDK offers for applications, event types,
endpoints, messages and attempts goes through ``Svix(token, SvixOptions(server_url))``
to a real server, and deliveries go to a real receiving HTTP server.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from svix.api import (
    ApplicationIn,
    ApplicationListOptions,
    ApplicationPatch,
    EndpointGetStatsOptions,
    EndpointHeadersIn,
    EndpointHeadersPatchIn,
    EndpointIn,
    EndpointListOptions,
    EndpointPatch,
    EndpointSecretRotateIn,
    EndpointUpsertIn,
    EventTypeDeleteOptions,
    EventTypeIn,
    EventTypeListOptions,
    EventTypePatch,
    EventTypeUpsertIn,
    MessageAttemptListByEndpointOptions,
    MessageAttemptListByMsgOptions,
    MessageAttemptTriggerType,
    MessageCreateOptions,
    MessageGetOptions,
    MessageIn,
    MessageListOptions,
    MessageStatus,
    MessageStatusText,
    Ordering,
    RecoverIn,
    StatusCodeClass,
    Svix,
    SvixOptions,
)
from svix.exceptions import HttpError, HTTPValidationError

from support.polling import wait_until
from support.receiver import Answer, Received, Receiver
from support.server import ADMIN_TOKEN, HooklineProcess

USER_SIGNUP_V1 = {
    "type": "object",
    "properties": {"email": {"type": "string"}},
    "required": ["email"],
}
USER_SIGNUP_V2 = {
    "type": "object",
    "properties": {"email": {"type": "string"}, "plan": {"type": "string"}},
    "required": ["email", "plan"],
}


@pytest.fixture
def svix(server: HooklineProcess) -> Iterator[Svix]:
    """The official SDK pointed at the server under test, with its admin token."""
    sdk = Svix(ADMIN_TOKEN, SvixOptions(server_url=server.url))
    yield sdk
    # The SDK has no close(); without this its pooled connections leak (ResourceWarning).
    sdk._httpx_client.close()


def new_secret() -> str:
    """A signing secret as Svix makes them: ``whsec_`` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


def only_path(received: list[Received], path: str) -> list[Received]:
    """The requests that reached one path of the receiver."""
    return [r for r in received if r.path == path]


def validation_field(error: pytest.ExceptionInfo[HTTPValidationError]) -> str:
    """The name of the field the server blamed, from ``detail[0].loc``."""
    assert error.value.status_code == 422
    loc = error.value.detail[0].loc
    assert loc, "a 422 must say which field is at fault"
    return str(loc[-1])


# applications ------------------------------------------------------------------


def test_applications_round_trip_through_the_sdk(svix: Svix) -> None:
    """Applications are created, fetched, listed, upserted, patched and deleted with the SDK."""
    acme = svix.application.create(
        ApplicationIn(name="Acme", uid="acme", metadata={"tier": "gold"}, throttle_rate=10)
    )
    assert acme.id.startswith("app_")
    assert (acme.name, acme.uid, acme.metadata, acme.throttle_rate) == (
        "Acme",
        "acme",
        {"tier": "gold"},
        10,
    )
    assert acme.created_at.tzinfo is not None
    assert abs(acme.created_at.timestamp() - time.time()) < 60

    with pytest.raises(HttpError) as duplicate:
        svix.application.create(ApplicationIn(name="Acme again", uid="acme"))
    assert duplicate.value.status_code == 409
    assert duplicate.value.code == "conflict"

    # get_or_create returns the existing app untouched, or creates a new one.
    same = svix.application.get_or_create(ApplicationIn(name="Ignored", uid="acme"))
    assert (same.id, same.name, same.metadata) == (acme.id, "Acme", {"tier": "gold"})
    beta = svix.application.get_or_create(ApplicationIn(name="Beta", uid="beta"))
    assert beta.id != acme.id
    assert beta.name == "Beta"
    assert beta.metadata == {}

    assert svix.application.get(acme.id) == acme
    assert svix.application.get("acme") == acme

    # PUT replaces an existing app (found by uid) and creates a missing one under that uid.
    replaced = svix.application.upsert("acme", ApplicationIn(name="Acme Corp"))
    assert (replaced.id, replaced.name, replaced.uid) == (acme.id, "Acme Corp", "acme")
    assert replaced.metadata == {}
    assert replaced.throttle_rate is None
    gamma = svix.application.upsert("gamma", ApplicationIn(name="Gamma", metadata={"a": "b"}))
    assert gamma.id.startswith("app_")
    assert gamma.uid == "gamma"
    assert gamma.metadata == {"a": "b"}

    # PATCH changes only what is sent; an explicit None clears.
    patched = svix.application.patch(acme.id, ApplicationPatch(metadata={"tier": "silver"}))
    assert (patched.name, patched.uid, patched.metadata) == (
        "Acme Corp",
        "acme",
        {"tier": "silver"},
    )
    cleared = svix.application.patch("gamma", ApplicationPatch(uid=None, throttle_rate=5))
    assert (cleared.id, cleared.name, cleared.uid, cleared.throttle_rate) == (
        gamma.id,
        "Gamma",
        None,
        5,
    )

    all_ids = {acme.id, beta.id, gamma.id}
    first = svix.application.list(ApplicationListOptions(limit=2))
    assert len(first.data) == 2
    assert first.done is False
    assert first.iterator is not None
    rest = svix.application.list(ApplicationListOptions(limit=2, iterator=first.iterator))
    assert len(rest.data) == 1
    assert rest.done is True
    assert {a.id for a in first.data + rest.data} == all_ids
    ascending = svix.application.list(ApplicationListOptions(order=Ordering.ASCENDING))
    descending = svix.application.list(ApplicationListOptions(order=Ordering.DESCENDING))
    assert [a.id for a in ascending.data] == sorted(all_ids)
    assert [a.id for a in descending.data] == sorted(all_ids, reverse=True)

    svix.application.delete(beta.id)
    with pytest.raises(HttpError) as gone:
        svix.application.get(beta.id)
    assert gone.value.status_code == 404
    with pytest.raises(HttpError) as unknown:
        svix.application.get("app_0000000000000000000000000000")
    assert unknown.value.status_code == 404
    assert {a.id for a in svix.application.list().data} == {acme.id, gamma.id}

    with pytest.raises(HTTPValidationError) as bad_uid:
        svix.application.create(ApplicationIn(name="Bad", uid="has spaces!"))
    assert validation_field(bad_uid) == "uid"
    with pytest.raises(HTTPValidationError) as bad_name:
        svix.application.create(ApplicationIn(name=""))
    assert validation_field(bad_name) == "name"
    with pytest.raises(HTTPValidationError) as bad_rate:
        svix.application.patch(acme.id, ApplicationPatch(throttle_rate=0))
    assert validation_field(bad_rate) == "throttleRate"


# event types -------------------------------------------------------------------


def test_event_types_round_trip_through_the_sdk(svix: Svix) -> None:
    """Event types are created, listed, fetched, upserted, patched, archived and expunged."""
    signup = svix.event_type.create(
        EventTypeIn(
            name="user.signup",
            description="A user signed up",
            schemas={"1": USER_SIGNUP_V1},
            group_name="users",
            feature_flags=["beta-signup", "early-access"],
        )
    )
    assert (signup.name, signup.description, signup.archived, signup.deprecated) == (
        "user.signup",
        "A user signed up",
        False,
        False,
    )
    assert signup.schemas == {"1": USER_SIGNUP_V1}
    assert signup.group_name == "users"
    assert signup.feature_flags == ["beta-signup", "early-access"]
    svix.event_type.create(EventTypeIn(name="invoice.paid", description="An invoice was paid"))
    svix.event_type.create(EventTypeIn(name="legacy.event", description="Old"))

    with pytest.raises(HttpError) as duplicate:
        svix.event_type.create(EventTypeIn(name="user.signup", description="again"))
    assert duplicate.value.status_code == 409

    # Lists leave the schemas out unless asked for; archived types only on request.
    listed = svix.event_type.list()
    assert [e.name for e in listed.data] == ["invoice.paid", "legacy.event", "user.signup"]
    assert all(e.schemas is None for e in listed.data)
    assert listed.done is True
    with_content = svix.event_type.list(EventTypeListOptions(with_content=True))
    assert {e.name: e.schemas for e in with_content.data}["user.signup"] == {"1": USER_SIGNUP_V1}
    page = svix.event_type.list(EventTypeListOptions(limit=2))
    assert [e.name for e in page.data] == ["invoice.paid", "legacy.event"]
    assert not page.done
    after = svix.event_type.list(EventTypeListOptions(limit=2, iterator=page.iterator))
    assert [e.name for e in after.data] == ["user.signup"]
    assert after.done

    got = svix.event_type.get("user.signup")
    assert got.schemas is not None
    assert got.schemas["1"] == USER_SIGNUP_V1
    assert got.feature_flags == ["beta-signup", "early-access"]

    # PUT replaces, here adding a second schema version; it also creates a missing type.
    upserted = svix.event_type.upsert(
        "user.signup",
        EventTypeUpsertIn(
            description="A user signed up (v2)", schemas={"1": USER_SIGNUP_V1, "2": USER_SIGNUP_V2}
        ),
    )
    assert upserted.description == "A user signed up (v2)"
    assert upserted.schemas == {"1": USER_SIGNUP_V1, "2": USER_SIGNUP_V2}
    assert upserted.created_at == signup.created_at
    fetched = svix.event_type.get("user.signup")
    assert fetched.schemas is not None
    assert fetched.schemas["2"] == USER_SIGNUP_V2
    created = svix.event_type.upsert("order.created", EventTypeUpsertIn(description="New order"))
    assert (created.name, created.description, created.archived) == (
        "order.created",
        "New order",
        False,
    )

    patched = svix.event_type.patch("user.signup", EventTypePatch(deprecated=True))
    assert patched.deprecated is True
    assert patched.description == "A user signed up (v2)"
    assert patched.schemas == {"1": USER_SIGNUP_V1, "2": USER_SIGNUP_V2}

    # DELETE archives by default: still gettable, hidden from lists unless include_archived.
    svix.event_type.delete("legacy.event")
    archived = svix.event_type.get("legacy.event")
    assert archived.archived is True
    assert "legacy.event" not in [e.name for e in svix.event_type.list().data]
    everything = svix.event_type.list(EventTypeListOptions(include_archived=True))
    assert {e.name: e.archived for e in everything.data} == {
        "invoice.paid": False,
        "legacy.event": True,
        "order.created": False,
        "user.signup": False,
    }

    # Creating an archived name brings it back with the new definition.
    revived = svix.event_type.create(EventTypeIn(name="legacy.event", description="Back"))
    assert (revived.archived, revived.description) == (False, "Back")

    svix.event_type.delete("order.created", EventTypeDeleteOptions(expunge=True))
    with pytest.raises(HttpError) as expunged:
        svix.event_type.get("order.created")
    assert expunged.value.status_code == 404
    with pytest.raises(HttpError) as missing_patch:
        svix.event_type.patch("no.such.type", EventTypePatch(description="x"))
    assert missing_patch.value.status_code == 404

    with pytest.raises(HTTPValidationError) as bad_name:
        svix.event_type.create(EventTypeIn(name="bad name", description="spaces"))
    assert validation_field(bad_name) == "name"
    with pytest.raises(HTTPValidationError) as bad_schema:
        svix.event_type.create(EventTypeIn(name="x.y", description="d", schemas={"1": "nope"}))
    assert validation_field(bad_schema) == "schemas"


# endpoints ---------------------------------------------------------------------


def test_endpoints_round_trip_through_the_sdk(svix: Svix, receiver: Receiver) -> None:
    """Endpoints, their secrets and their headers are managed with the SDK."""
    app = svix.application.create(ApplicationIn(name="Acme", uid="acme"))
    for name in ("user.signup", "invoice.paid"):
        svix.event_type.create(EventTypeIn(name=name, description=name))
    secret = new_secret()

    primary = svix.endpoint.create(
        app.id,
        EndpointIn(
            url=f"{receiver.url}/primary",
            description="Primary",
            uid="primary",
            disabled=False,
            event_types=["user.signup"],
            channels=["eu", "us"],
            metadata={"team": "core"},
            throttle_rate=100,
            secret=secret,
        ),
    )
    assert primary.id.startswith("ep_")
    assert (primary.url, primary.description, primary.uid, primary.disabled) == (
        f"{receiver.url}/primary",
        "Primary",
        "primary",
        False,
    )
    assert (primary.event_types, primary.channels, primary.metadata, primary.throttle_rate) == (
        ["user.signup"],
        ["eu", "us"],
        {"team": "core"},
        100,
    )
    assert svix.endpoint.get(app.id, primary.id) == primary
    assert svix.endpoint.get("acme", "primary") == primary
    assert svix.endpoint.get_secret(app.id, primary.id).key == secret

    # Without a secret the server makes one; the description defaults to "".
    second = svix.endpoint.create(app.id, EndpointIn(url=f"{receiver.url}/second"))
    assert second.description == ""
    assert second.metadata == {}
    assert second.event_types is None
    generated = svix.endpoint.get_secret(app.id, second.id).key
    assert generated.startswith("whsec_")
    assert len(base64.b64decode(generated[6:])) >= 24

    all_ids = {primary.id, second.id}
    first = svix.endpoint.list(app.id, EndpointListOptions(limit=1))
    assert len(first.data) == 1
    assert first.done is False
    rest = svix.endpoint.list(app.id, EndpointListOptions(limit=1, iterator=first.iterator))
    assert len(rest.data) == 1
    assert rest.done is True
    assert {first.data[0].id, rest.data[0].id} == all_ids
    ascending = svix.endpoint.list(app.id, EndpointListOptions(order=Ordering.ASCENDING))
    assert [e.id for e in ascending.data] == sorted(all_ids)
    descending = svix.endpoint.list(app.id, EndpointListOptions(order=Ordering.DESCENDING))
    assert [e.id for e in descending.data] == sorted(all_ids, reverse=True)

    # PUT replaces (by uid here) and creates a missing endpoint under the given uid.
    replaced = svix.endpoint.upsert(
        app.id,
        "primary",
        EndpointUpsertIn(url=f"{receiver.url}/primary-v2", event_types=["invoice.paid"]),
    )
    assert (replaced.id, replaced.url, replaced.uid, replaced.event_types) == (
        primary.id,
        f"{receiver.url}/primary-v2",
        "primary",
        ["invoice.paid"],
    )
    assert replaced.description == ""
    assert replaced.channels is None
    assert replaced.metadata == {}
    assert svix.endpoint.get_secret(app.id, primary.id).key == secret  # PUT keeps the secret
    third = svix.endpoint.upsert(app.id, "third", EndpointUpsertIn(url=f"{receiver.url}/third"))
    assert third.id.startswith("ep_")
    assert third.uid == "third"

    patched = svix.endpoint.patch(
        app.id, primary.id, EndpointPatch(disabled=True, channels=["eu"], description="Patched")
    )
    assert (patched.disabled, patched.channels, patched.description) == (True, ["eu"], "Patched")
    assert patched.url == f"{receiver.url}/primary-v2"
    assert patched.event_types == ["invoice.paid"]
    cleared = svix.endpoint.patch(app.id, primary.id, EndpointPatch(event_types=None))
    assert cleared.event_types is None
    assert cleared.channels == ["eu"]

    # Custom headers: replace, read back, merge and remove.
    assert svix.endpoint.get_headers(app.id, primary.id).headers == {}
    svix.endpoint.set_headers(
        app.id, primary.id, EndpointHeadersIn(headers={"X-Tenant": "acme", "X-Env": "prod"})
    )
    headers = svix.endpoint.get_headers(app.id, primary.id)
    assert headers.headers == {"X-Tenant": "acme", "X-Env": "prod"}
    assert headers.sensitive == []
    svix.endpoint.patch_headers(
        app.id,
        primary.id,
        EndpointHeadersPatchIn(headers={"X-Region": "eu"}, delete_headers=["X-Env"]),
    )
    merged = svix.endpoint.get_headers(app.id, primary.id).headers
    assert merged == {"X-Tenant": "acme", "X-Region": "eu"}

    # Rotation returns the new key (a generated one, or the one given).
    rotated = svix.endpoint.rotate_secret(app.id, primary.id, EndpointSecretRotateIn())
    assert rotated.key.startswith("whsec_")
    assert rotated.key != secret
    assert svix.endpoint.get_secret(app.id, primary.id).key == rotated.key
    chosen = new_secret()
    assert svix.endpoint.rotate_secret(
        app.id, "primary", EndpointSecretRotateIn(key=chosen)
    ).key == (chosen)
    assert svix.endpoint.get_secret(app.id, primary.id).key == chosen

    svix.endpoint.delete(app.id, second.id)
    with pytest.raises(HttpError) as gone:
        svix.endpoint.get(app.id, second.id)
    assert gone.value.status_code == 404
    with pytest.raises(HttpError) as unknown_app:
        svix.endpoint.list("app_0000000000000000000000000000")
    assert unknown_app.value.status_code == 404

    with pytest.raises(HTTPValidationError) as bad_url:
        svix.endpoint.create(app.id, EndpointIn(url="ftp://example.com/hook"))
    assert validation_field(bad_url) == "url"
    with pytest.raises(HTTPValidationError) as bad_filter:
        svix.endpoint.create(app.id, EndpointIn(url=receiver.url, event_types=["no.such.type"]))
    assert "eventTypes" in [str(part) for part in bad_filter.value.detail[0].loc]
    with pytest.raises(HTTPValidationError) as bad_secret:
        svix.endpoint.create(app.id, EndpointIn(url=receiver.url, secret="short"))
    assert validation_field(bad_secret) == "secret"
    with pytest.raises(HTTPValidationError) as bad_channel:
        svix.endpoint.patch(app.id, primary.id, EndpointPatch(channels=["no spaces"]))
    assert "channels" in [str(part) for part in bad_channel.value.detail[0].loc]


# messages and attempts ------------------------------------------------------------


def test_messages_are_published_listed_and_fetched(svix: Svix, receiver: Receiver) -> None:
    """Messages are published, filtered, fetched by id or eventId, and de-duplicated."""
    app = svix.application.create(ApplicationIn(name="Acme", uid="acme"))
    for name in ("user.signup", "invoice.paid"):
        svix.event_type.create(EventTypeIn(name=name, description=name))
    svix.endpoint.create(app.id, EndpointIn(url=f"{receiver.url}/all"))

    first = svix.message.create(
        app.id,
        MessageIn(
            event_type="user.signup",
            event_id="evt-1",
            payload={"email": "a@example.com"},
            channels=["eu"],
            tags=["signup", "web"],
        ),
        MessageCreateOptions(with_content=True),
    )
    assert first.id.startswith("msg_")
    assert (first.event_type, first.event_id, first.payload) == (
        "user.signup",
        "evt-1",
        {"email": "a@example.com"},
    )
    assert (first.channels, first.tags) == (["eu"], ["signup", "web"])
    time.sleep(0.05)
    between = datetime.now(UTC)
    time.sleep(0.05)
    # With SDK defaults the payload is not echoed back.
    second = svix.message.create(
        "acme", MessageIn(event_type="invoice.paid", payload={"amount": 42}, channels=["us"])
    )
    assert second.payload == {}
    assert second.event_id is None

    with pytest.raises(HttpError) as duplicate:
        svix.message.create(
            app.id, MessageIn(event_type="user.signup", event_id="evt-1", payload={})
        )
    assert duplicate.value.status_code == 409

    # The same Idempotency-Key gives the first answer again, and only one message.
    keyed = MessageIn(event_type="user.signup", payload={"email": "k@example.com"})
    once = svix.message.create(app.id, keyed, MessageCreateOptions(idempotency_key="key-1"))
    again = svix.message.create(app.id, keyed, MessageCreateOptions(idempotency_key="key-1"))
    assert again.id == once.id
    listed = svix.message.list(app.id)
    assert sorted(m.id for m in listed.data) == sorted([first.id, second.id, once.id])
    assert all(m.payload == {} for m in listed.data)
    assert listed.done is True

    by_type = svix.message.list(app.id, MessageListOptions(event_types=["invoice.paid"]))
    assert [m.id for m in by_type.data] == [second.id]
    by_channel = svix.message.list(app.id, MessageListOptions(channel="eu"))
    assert [m.id for m in by_channel.data] == [first.id]
    by_tag = svix.message.list(app.id, MessageListOptions(tag="web"))
    assert [m.id for m in by_tag.data] == [first.id]
    older = svix.message.list(app.id, MessageListOptions(before=between))
    assert [m.id for m in older.data] == [first.id]
    newer = svix.message.list(app.id, MessageListOptions(after=between, with_content=True))
    assert {m.id: m.payload for m in newer.data} == {
        second.id: {"amount": 42},
        once.id: {"email": "k@example.com"},
    }
    # The SDK sends a naive datetime without an offset: it means UTC.
    naive = svix.message.list(app.id, MessageListOptions(before=between.replace(tzinfo=None)))
    assert [m.id for m in naive.data] == [first.id]
    paged = svix.message.list(app.id, MessageListOptions(limit=2))
    rest = svix.message.list(app.id, MessageListOptions(limit=2, iterator=paged.iterator))
    assert len(paged.data) == 2
    assert not paged.done
    assert len(rest.data) == 1
    assert rest.done

    got = svix.message.get(app.id, first.id, MessageGetOptions(with_content=True))
    assert (got.id, got.payload, got.timestamp) == (first.id, first.payload, first.timestamp)
    by_event_id = svix.message.get(app.id, "evt-1")
    assert by_event_id.id == first.id
    assert by_event_id.payload == {}
    with pytest.raises(HttpError) as unknown:
        svix.message.get(app.id, "msg_0000000000000000000000000000")
    assert unknown.value.status_code == 404
    with pytest.raises(HttpError) as no_app:
        svix.message.create("nobody", MessageIn(event_type="user.signup", payload={}))
    assert no_app.value.status_code == 404

    # A message carrying an application creates it when the path names none.
    created = svix.message.create(
        "newcomer",
        MessageIn(event_type="user.signup", payload={}, application=ApplicationIn(name="Newcomer")),
    )
    assert created.id.startswith("msg_")
    assert svix.application.get("newcomer").name == "Newcomer"

    with pytest.raises(HTTPValidationError) as bad_type:
        svix.message.create(app.id, MessageIn(event_type="bad type!", payload={}))
    assert validation_field(bad_type) == "eventType"
    with pytest.raises(HTTPValidationError) as bad_limit:
        svix.message.list(app.id, MessageListOptions(limit=0))
    assert list(bad_limit.value.detail[0].loc) == ["query", "limit"]
    with pytest.raises(HttpError) as too_large:
        svix.message.create(
            app.id, MessageIn(event_type="user.signup", payload={"blob": "x" * (1024 * 1024)})
        )
    assert too_large.value.status_code == 413
    assert too_large.value.code == "payload_too_large"
    with pytest.raises(HTTPValidationError) as bad_channels:
        svix.message.create(
            app.id, MessageIn(event_type="user.signup", payload={}, channels=["a b"])
        )
    assert "channels" in [str(part) for part in bad_channels.value.detail[0].loc]

    # All three messages of the app reached the endpoint.
    assert len(only_path(receiver.wait_for(3), "/all")) == 3


def test_attempts_resend_recover_and_stats(svix: Svix, receiver: Receiver) -> None:
    """Attempts are listed, filtered and fetched; resend and recover deliver again; stats count."""
    failing = {"on": True}

    def behaviour(request: Received, count: int) -> Answer:
        if request.path == "/flaky" and failing["on"]:
            return Answer(status=500, body="down")
        return Answer(status=200, body="thanks")

    receiver.behaviour = behaviour
    app = svix.application.create(ApplicationIn(name="Acme"))
    for name in ("user.signup", "invoice.paid"):
        svix.event_type.create(EventTypeIn(name=name, description=name))
    good = svix.endpoint.create(
        app.id, EndpointIn(url=f"{receiver.url}/good", event_types=["user.signup"])
    )
    flaky = svix.endpoint.create(
        app.id, EndpointIn(url=f"{receiver.url}/flaky", event_types=["invoice.paid"])
    )
    started = datetime.now(UTC)

    signup = svix.message.create(
        app.id, MessageIn(event_type="user.signup", payload={"email": "a@example.com"})
    )
    invoice = svix.message.create(app.id, MessageIn(event_type="invoice.paid", payload={"n": 1}))

    ok = wait_until(lambda: svix.message_attempt.list_by_endpoint(app.id, good.id).data)
    assert len(ok) == 1
    attempt = ok[0]
    assert (attempt.msg_id, attempt.endpoint_id, attempt.url) == (
        signup.id,
        good.id,
        f"{receiver.url}/good",
    )
    assert (attempt.status, attempt.status_text, attempt.response_status_code) == (
        MessageStatus.SUCCESS,
        MessageStatusText.SUCCESS,
        200,
    )
    assert attempt.trigger_type == MessageAttemptTriggerType.SCHEDULED
    assert attempt.id.startswith("atmpt_")
    assert attempt.response == ""
    with_content = svix.message_attempt.list_by_endpoint(
        app.id, good.id, MessageAttemptListByEndpointOptions(with_content=True, with_msg=True)
    )
    assert with_content.data[0].response == "thanks"
    assert with_content.data[0].msg is not None
    assert with_content.data[0].msg.id == signup.id
    fetched = svix.message_attempt.get(app.id, signup.id, attempt.id)
    assert (fetched.id, fetched.status, fetched.msg_id) == (
        attempt.id,
        MessageStatus.SUCCESS,
        signup.id,
    )

    # Four attempts (the first and three retries, 1 s apart), all 500, then given up.
    def all_failed() -> list[object] | None:
        attempts = svix.message_attempt.list_by_msg(app.id, invoice.id).data
        stats = svix.endpoint.get_stats(app.id, flaky.id)
        return attempts if len(attempts) == 4 and stats.fail == 1 else None

    failed = wait_until(all_failed)
    assert len(failed) == 4
    by_status = svix.message_attempt.list_by_msg(
        app.id,
        invoice.id,
        MessageAttemptListByMsgOptions(
            status=MessageStatus.FAIL, status_code_class=StatusCodeClass.CODE5XX
        ),
    )
    assert len(by_status.data) == 4
    assert {(a.status, a.response_status_code, a.endpoint_id) for a in by_status.data} == {
        (MessageStatus.FAIL, 500, flaky.id)
    }
    assert (
        svix.message_attempt.list_by_msg(
            app.id, invoice.id, MessageAttemptListByMsgOptions(status=MessageStatus.SUCCESS)
        ).data
        == []
    )
    assert (
        svix.message_attempt.list_by_msg(
            app.id,
            invoice.id,
            MessageAttemptListByMsgOptions(status_code_class=StatusCodeClass.CODE2XX),
        ).data
        == []
    )
    page = svix.message_attempt.list_by_endpoint(
        app.id, flaky.id, MessageAttemptListByEndpointOptions(limit=3)
    )
    assert len(page.data) == 3
    assert not page.done
    stats = svix.endpoint.get_stats(app.id, flaky.id, EndpointGetStatsOptions(since=started))
    assert (stats.success, stats.pending, stats.sending, stats.fail, stats.canceled) == (
        0,
        0,
        0,
        1,
        0,
    )
    future = svix.endpoint.get_stats(
        app.id, flaky.id, EndpointGetStatsOptions(since=datetime.now(UTC) + timedelta(hours=1))
    )
    assert (future.success, future.fail) == (0, 0)

    # Recover re-sends the failed message once the receiver is back.
    failing["on"] = False
    before_recover = len(only_path(receiver.snapshot(), "/flaky"))
    empty = svix.endpoint.recover(
        app.id, flaky.id, RecoverIn(since=started - timedelta(hours=2), until=started)
    )
    assert empty.task == "endpoint.recover"
    time.sleep(0.3)
    assert svix.endpoint.get_stats(app.id, flaky.id).fail == 1  # nothing in that window
    task = svix.endpoint.recover(
        app.id, flaky.id, RecoverIn(since=started, until=datetime.now(UTC) + timedelta(seconds=1))
    )
    assert task.id.startswith("qtask_")
    assert task.task == "endpoint.recover"
    assert task.status in ("running", "finished")
    fetched = wait_until(
        lambda: (t := svix.background_task.get(task.id)).status.value == "finished" and t
    )
    assert fetched.id == task.id
    assert fetched.data == {"messagesSent": 1}
    wait_until(lambda: svix.endpoint.get_stats(app.id, flaky.id).success == 1)
    assert len(only_path(receiver.snapshot(), "/flaky")) == before_recover + 1
    succeeded = svix.message_attempt.list_by_msg(
        app.id, invoice.id, MessageAttemptListByMsgOptions(status=MessageStatus.SUCCESS)
    ).data
    assert len(succeeded) == 1
    assert succeeded[0].response_status_code == 200

    # Resend makes a new, manual attempt.
    svix.message_attempt.resend(app.id, signup.id, good.id)
    resent = wait_until(
        lambda: [
            a
            for a in svix.message_attempt.list_by_endpoint(app.id, good.id).data
            if a.trigger_type == MessageAttemptTriggerType.MANUAL
        ]
    )
    assert resent[0].status == MessageStatus.SUCCESS
    assert resent[0].msg_id == signup.id
    assert len(only_path(receiver.snapshot(), "/good")) == 2
    good_stats = svix.endpoint.get_stats(app.id, good.id)
    assert (good_stats.success, good_stats.fail) == (1, 0)

    with pytest.raises(HttpError) as unknown:
        svix.message_attempt.get(app.id, signup.id, "atmpt_0000000000000000000000000000")
    assert unknown.value.status_code == 404
    with pytest.raises(HttpError) as no_endpoint:
        svix.message_attempt.resend(app.id, signup.id, "ep_0000000000000000000000000000")
    assert no_endpoint.value.status_code == 404


# signing end to end ----------------------------------------------------------------


def test_deliveries_verify_with_standardwebhooks_across_a_rotation(
    svix: Svix, receiver: Receiver
) -> None:
    """A delivery verifies with the endpoint's secret; after rotation, with old and new secret."""
    app = svix.application.create(ApplicationIn(name="Acme"))
    svix.event_type.create(EventTypeIn(name="user.signup", description="A user signed up"))
    endpoint = svix.endpoint.create(app.id, EndpointIn(url=f"{receiver.url}/hook"))
    old_secret = svix.endpoint.get_secret(app.id, endpoint.id).key

    first = svix.message.create(
        app.id, MessageIn(event_type="user.signup", payload={"email": "a@example.com", "n": 1})
    )
    delivered = receiver.wait_for(1)[0]
    assert Webhook(old_secret).verify(delivered.body, delivered.headers) == {
        "email": "a@example.com",
        "n": 1,
    }
    assert delivered.headers["webhook-id"] == first.id
    assert len(delivered.headers["webhook-signature"].split()) == 1

    new_secret_key = svix.endpoint.rotate_secret(app.id, endpoint.id, EndpointSecretRotateIn()).key
    assert new_secret_key != old_secret
    second = svix.message.create(app.id, MessageIn(event_type="user.signup", payload={"n": 2}))
    rotated = receiver.wait_for(2)[1]
    assert rotated.headers["webhook-id"] == second.id
    assert len(rotated.headers["webhook-signature"].split()) == 2
    assert Webhook(new_secret_key).verify(rotated.body, rotated.headers) == {"n": 2}
    assert Webhook(old_secret).verify(rotated.body, rotated.headers) == {"n": 2}
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(rotated.body, rotated.headers)
