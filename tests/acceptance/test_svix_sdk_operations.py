"""The official ``svix`` SDK (2.9.1) drives the rest of Svix's operations on a real server.

An endpoint's attempted messages filtered in the query, a message's destinations,
send-example, attempt figures, precheck, expunging (some payloads, all of them, an
attempt's content), the usage tasks and the event types' OpenAPI import: each through
``Svix(token, SvixOptions(server_url))`` to a real ``hookline serve``, with deliveries
to a real receiving server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from svix.api import (
    ApplicationIn,
    AppUsageStatsIn,
    BackgroundTaskStatus,
    BulkExpungeContentsIn,
    EndpointGetAttemptStatsOptions,
    EndpointIn,
    EndpointPatch,
    EventExampleIn,
    EventTypeImportOpenApiIn,
    EventTypeIn,
    MessageAttemptListAttemptedDestinationsOptions,
    MessageAttemptListAttemptedMessagesOptions,
    MessageAttemptListByEndpointOptions,
    MessageGetOptions,
    MessageIn,
    MessagePrecheckIn,
    MessageStatus,
    Svix,
    SvixOptions,
)
from svix.api import BackgroundTaskOut as SdkTask
from svix.exceptions import HttpError, HTTPValidationError

from support.polling import wait_until
from support.receiver import Answer, Receiver
from support.server import ADMIN_TOKEN, HooklineProcess


@pytest.fixture
def svix(server: HooklineProcess) -> Iterator[Svix]:
    """The official SDK pointed at the server under test, with its admin token."""
    sdk = Svix(ADMIN_TOKEN, SvixOptions(server_url=server.url))
    yield sdk
    sdk._httpx_client.close()  # the SDK has no close(); its pooled connections would leak


def finished(svix: Svix, task_id: str) -> SdkTask:
    """The background task once it has finished (the worker runs it)."""

    def done() -> SdkTask | None:
        task = svix.background_task.get(task_id)
        assert task.status != BackgroundTaskStatus.FAILED, task.data
        return task if task.status == BackgroundTaskStatus.FINISHED else None

    return wait_until(done, what=f"task {task_id} to finish")


def pages(fetch: Callable[[str | None], Any]) -> list[list[Any]]:
    """Every page of a list, following its iterators until ``done``."""
    found: list[list[Any]] = []
    iterator = None
    while True:
        page = fetch(iterator)
        found.append(page.data)
        if page.done:
            return found
        iterator = page.iterator


def test_attempted_messages_are_filtered_in_the_query(svix: Svix, receiver: Receiver) -> None:
    """listAttemptedMessages applies event_types, channel and tag before paging: every
    page is full and only the matching messages come back."""
    app = svix.application.create(ApplicationIn(name="Filters"))
    endpoint = svix.endpoint.create(app.id, EndpointIn(url=f"{receiver.url}/all"))
    published = []
    for n in range(9):
        kind = "user.signup" if n % 3 == 0 else "invoice.paid"
        published.append(
            svix.message.create(
                app.id,
                MessageIn(
                    event_type=kind,
                    payload={"n": n},
                    channels=["eu"] if n % 2 == 0 else ["us"],
                    tags=["vip"] if n in (1, 4, 7) else None,
                ),
            )
        )

    def listed(**options: Any) -> list[list[Any]]:
        return pages(
            lambda it: svix.message_attempt.list_attempted_messages(
                app.id,
                endpoint.id,
                MessageAttemptListAttemptedMessagesOptions(limit=2, iterator=it, **options),
            )
        )

    signups = listed(event_types=["user.signup"])
    assert [len(p) for p in signups] == [2, 1]
    assert [m.id for p in signups for m in p] == [published[n].id for n in (6, 3, 0)]
    eu = listed(channel="eu")
    assert [len(p) for p in eu] == [2, 2, 1]
    assert {m.id for p in eu for m in p} == {published[n].id for n in (0, 2, 4, 6, 8)}
    vip = listed(tag="vip", event_types=["invoice.paid"])
    assert [m.id for p in vip for m in p] == [published[n].id for n in (7, 4, 1)]
    assert listed(channel="nowhere") == [[]]
    # An empty list is "no filter" (the SDK sends event_types=).
    everything = listed(event_types=[])
    assert sum(len(p) for p in everything) == 9
    assert all(len(p) == 2 for p in everything[:-1])
    with_content = svix.message_attempt.list_attempted_messages(
        app.id, endpoint.id,
        MessageAttemptListAttemptedMessagesOptions(with_content=True, tag="vip", limit=1),
    )  # fmt: skip
    assert with_content.data[0].payload == {"n": 7}
    assert with_content.data[0].status in (MessageStatus.PENDING, MessageStatus.SUCCESS, 3)


def test_a_messages_destinations_are_listed_with_their_status(
    svix: Svix, receiver: Receiver
) -> None:
    """listAttemptedDestinations lists the endpoints a message went to, ascending by id,
    paged, with each delivery's status; an endpoint that filtered it out is absent."""
    app = svix.application.create(ApplicationIn(name="Destinations"))
    svix.event_type.create(EventTypeIn(name="user.signup", description="signup"))
    svix.event_type.create(EventTypeIn(name="invoice.paid", description="invoice"))
    first = svix.endpoint.create(app.id, EndpointIn(url=f"{receiver.url}/one", uid="one"))
    second = svix.endpoint.create(app.id, EndpointIn(url=f"{receiver.url}/two"))
    svix.endpoint.create(
        app.id, EndpointIn(url=f"{receiver.url}/other", event_types=["invoice.paid"])
    )
    message = svix.message.create(
        app.id, MessageIn(event_type="user.signup", payload={"a": 1}, event_id="evt-dest")
    )
    receiver.wait_for(2)

    def all_succeeded() -> list[Any] | None:
        found = svix.message_attempt.list_attempted_destinations(app.id, "evt-dest").data
        return found if all(d.status == MessageStatus.SUCCESS for d in found) else None

    destinations = wait_until(all_succeeded, what="both deliveries to succeed")
    assert [d.id for d in destinations] == sorted([first.id, second.id])
    by_id = {d.id: d for d in destinations}
    assert by_id[first.id].uid == "one"
    assert by_id[first.id].url == f"{receiver.url}/one"
    assert by_id[first.id].status_text == "success"
    assert by_id[first.id].next_attempt is None
    assert by_id[first.id].created_at.tzinfo is not None
    paged = pages(
        lambda it: svix.message_attempt.list_attempted_destinations(
            app.id, message.id, MessageAttemptListAttemptedDestinationsOptions(limit=1, iterator=it)
        )
    )
    assert [d.id for p in paged for d in p] == sorted([first.id, second.id])
    with pytest.raises(HttpError) as missing:
        svix.message_attempt.list_attempted_destinations(app.id, "msg_nope")
    assert missing.value.status_code == 404


def test_send_example_reaches_one_endpoint_and_attempt_stats_count(
    svix: Svix, receiver: Receiver
) -> None:
    """send-example delivers the schema's example (or the one asked for, or a made one) to
    that endpoint alone, whatever its event types; attempt-stats counts its attempts."""
    receiver.behaviour = lambda request, count: Answer(
        status=500 if request.path == "/down" else 200
    )
    app = svix.application.create(ApplicationIn(name="Examples"))
    listed_examples = {
        "type": "object", "properties": {"email": {"type": "string"}}, "required": ["email"],
        "examples": [{"email": "first@example.com"}, {"email": "second@example.com"}],
    }  # fmt: skip
    svix.event_type.create(
        EventTypeIn(name="user.signup", description="signup", schemas={"1": listed_examples})
    )
    made = {"type": "object", "properties": {"total": {"type": "integer"}}, "required": ["total"]}
    svix.event_type.create(
        EventTypeIn(name="invoice.paid", description="paid", schemas={"1": made})
    )
    svix.event_type.create(EventTypeIn(name="bare", description="no schema"))
    target = svix.endpoint.create(
        app.id, EndpointIn(url=f"{receiver.url}/target", event_types=["invoice.paid"])
    )
    svix.endpoint.create(app.id, EndpointIn(url=f"{receiver.url}/bystander"))
    down = svix.endpoint.create(app.id, EndpointIn(url=f"{receiver.url}/down"))
    started = datetime.now(UTC) - timedelta(seconds=5)

    sent = svix.endpoint.send_example(
        app.id, target.id, EventExampleIn(event_type="user.signup", example_index=1)
    )
    assert sent.event_type == "user.signup"
    assert sent.id.startswith("msg_")
    first = receiver.wait_for(1)[0]
    assert first.path == "/target"
    assert orjson.loads(first.body) == {"email": "second@example.com"}
    assert first.headers["webhook-id"] == sent.id
    svix.endpoint.send_example(app.id, target.id, EventExampleIn(event_type="invoice.paid"))
    generated = receiver.wait_for(2)[1]
    assert generated.path == "/target"
    assert isinstance(orjson.loads(generated.body)["total"], int)
    svix.endpoint.send_example(app.id, down.id, EventExampleIn(event_type="user.signup"))
    wait_until(lambda: [r for r in receiver.snapshot() if r.path == "/down"], what="/down")
    assert not [r for r in receiver.snapshot() if r.path == "/bystander"]

    with pytest.raises(HTTPValidationError) as no_schema:
        svix.endpoint.send_example(app.id, target.id, EventExampleIn(event_type="bare"))
    assert no_schema.value.detail[0].loc[-1] == "eventType"
    with pytest.raises(HTTPValidationError) as out_of_range:
        svix.endpoint.send_example(
            app.id, target.id, EventExampleIn(event_type="user.signup", example_index=5)
        )
    assert out_of_range.value.detail[0].loc[-1] == "exampleIndex"
    with pytest.raises(HttpError) as unknown:
        svix.endpoint.send_example(app.id, target.id, EventExampleIn(event_type="no.such"))
    assert unknown.value.status_code == 404

    good = wait_until(
        lambda: (s := svix.endpoint.get_attempt_stats(app.id, target.id)).success == 2 and s,
        what="two successful attempts",
    )
    assert (good.fail, good.canceled) == (0, 0)
    bad = wait_until(
        lambda: (s := svix.endpoint.get_attempt_stats(app.id, down.id)).fail >= 1 and s,
        what="a failed attempt",
    )
    assert bad.success == 0
    window = EndpointGetAttemptStatsOptions(since=started, until=datetime.now(UTC))
    assert svix.endpoint.get_attempt_stats(app.id, target.id, window).success == 2
    earlier = EndpointGetAttemptStatsOptions(
        since=started - timedelta(hours=2), until=started - timedelta(hours=1)
    )
    assert svix.endpoint.get_attempt_stats(app.id, target.id, earlier).success == 0


def test_precheck_says_whether_an_enabled_endpoint_would_get_a_message(
    svix: Svix, receiver: Receiver
) -> None:
    """precheck/active judges event types, channels and disabled endpoints."""
    app = svix.application.create(ApplicationIn(name="Precheck"))
    svix.event_type.create(EventTypeIn(name="user.signup", description="signup"))
    endpoint = svix.endpoint.create(
        app.id,
        EndpointIn(url=f"{receiver.url}/eu", event_types=["user.signup"], channels=["eu"]),
    )

    def active(event_type: str, channels: list[str] | None = None) -> bool:
        return svix.message.precheck(
            app.id, MessagePrecheckIn(event_type=event_type, channels=channels)
        ).active

    assert active("user.signup", ["eu"]) is True
    assert active("user.signup", ["us"]) is False
    assert active("invoice.paid", ["eu"]) is False
    svix.endpoint.patch(app.id, endpoint.id, EndpointPatch(disabled=True))
    assert active("user.signup", ["eu"]) is False
    with pytest.raises(HTTPValidationError):
        svix.message.precheck(app.id, MessagePrecheckIn(event_type="bad name!"))


def test_payloads_and_attempt_content_are_expunged(svix: Svix, receiver: Receiver) -> None:
    """bulk-expunge answers per id, expunge-all-contents runs as a task that counts what it
    purged, and an attempt's content can be removed on its own."""
    receiver.behaviour = lambda request, count: Answer(body="thanks")
    app = svix.application.create(ApplicationIn(name="Expunge"))
    endpoint = svix.endpoint.create(app.id, EndpointIn(url=f"{receiver.url}/hook"))
    first = svix.message.create(app.id, MessageIn(event_type="a.b", payload={"secret": 1}))
    svix.message.create(app.id, MessageIn(event_type="a.b", payload={"n": 2}, event_id="evt-2"))
    third = svix.message.create(app.id, MessageIn(event_type="a.b", payload={"n": 3}))
    receiver.wait_for(3)

    result = svix.message.bulk_expunge_content(
        app.id, BulkExpungeContentsIn(ids=[first.id, "evt-2", "msg_unknown"])
    )
    assert {k: str(v) for k, v in result.results.items()} == {
        first.id: "expunged", "evt-2": "expunged", "msg_unknown": "not-found",
    }  # fmt: skip
    with_content = svix.message.get(app.id, first.id, _with_content())
    assert with_content.payload == {}
    assert svix.message.get(app.id, third.id, _with_content()).payload == {"n": 3}

    attempt = wait_until(
        lambda: (
            svix.message_attempt.list_by_endpoint(
                app.id, endpoint.id, MessageAttemptListByEndpointOptions(with_content=True)
            ).data
        ),
        what="attempts",
    )[0]
    assert attempt.response == "thanks"
    svix.message_attempt.expunge_content(app.id, attempt.msg_id, attempt.id)
    again = svix.message_attempt.get(app.id, attempt.msg_id, attempt.id)
    assert (again.response, again.response_status_code) == ("", 200)
    with pytest.raises(HttpError) as missing:
        svix.message_attempt.expunge_content(app.id, attempt.msg_id, "atmpt_nope")
    assert missing.value.status_code == 404

    task = svix.message.expunge_all_contents(app.id)
    assert (str(task.status), str(task.task)) == ("running", "application.purge_content")
    done = finished(svix, task.id)
    assert done.data == {"messagesPurged": 1}
    assert svix.message.get(app.id, third.id, _with_content()).payload == {}


def _with_content() -> MessageGetOptions:
    """Ask for the payload (the SDK's default leaves it out)."""
    return MessageGetOptions(with_content=True)


def test_usage_statistics_run_as_background_tasks(svix: Svix, receiver: Receiver) -> None:
    """stats/usage/app counts each application's message destinations in a window and
    names the ids it could not resolve; stats/usage/event-types lists what apps listen to."""
    svix.event_type.create(EventTypeIn(name="user.signup", description="signup"))
    busy = svix.application.create(ApplicationIn(name="Busy", uid="busy"))
    quiet = svix.application.create(ApplicationIn(name="Quiet"))
    svix.endpoint.create(busy.id, EndpointIn(url=f"{receiver.url}/a"))
    svix.endpoint.create(busy.id, EndpointIn(url=f"{receiver.url}/b", event_types=["user.signup"]))
    svix.endpoint.create(quiet.id, EndpointIn(url=f"{receiver.url}/c", event_types=["user.signup"]))
    since = datetime.now(UTC) - timedelta(minutes=1)
    for _ in range(2):
        svix.message.create(busy.id, MessageIn(event_type="user.signup", payload={}))
    svix.message.create(busy.id, MessageIn(event_type="other", payload={}))
    until = datetime.now(UTC) + timedelta(minutes=1)

    named = svix.statistics.aggregate_app_stats(
        AppUsageStatsIn(since=since, until=until, app_ids=["busy", "nope"])
    )
    assert named.unresolved_app_ids == ["nope"]
    assert str(named.task) == "application.stats"
    stats = finished(svix, named.id).data["appStats"]
    assert stats == [{"appId": busy.id, "appUid": "busy", "messageDestinations": 5}]
    every = finished(
        svix, svix.statistics.aggregate_app_stats(AppUsageStatsIn(since=since, until=until)).id
    )
    counts = {s["appId"]: s["messageDestinations"] for s in every.data["appStats"]}
    assert counts == {busy.id: 5, quiet.id: 0}
    # A window to the year 9999 (past what ids can name) counts everything, and the
    # worker that runs it stays up.
    far = datetime(9999, 12, 31, tzinfo=UTC)
    forever = svix.statistics.aggregate_app_stats(AppUsageStatsIn(since=since, until=far))
    assert len(finished(svix, forever.id).data["appStats"]) == 2
    with pytest.raises(HTTPValidationError) as unresolved:
        svix.statistics.aggregate_app_stats(
            AppUsageStatsIn(since=since, until=until, app_ids=["nope"])
        )
    assert unresolved.value.detail[0].loc[-1] == "appIds"

    aggregate = svix.statistics.aggregate_event_types()
    assert str(aggregate.task) == "event-type.aggregate"
    listened = {e["appId"]: e for e in finished(svix, aggregate.id).data["event_types"]}
    assert listened[busy.id]["explicitlySubscribedEventTypes"] == ["user.signup"]
    assert listened[busy.id]["hasCatchAllEndpoint"] is True
    assert listened[quiet.id]["hasCatchAllEndpoint"] is False


OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "Shop", "version": "1"},
    "webhooks": {
        "order.created": {
            "post": {
                "summary": "An order was placed",
                "tags": ["orders"],
                "requestBody": {
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Order"}}
                    }
                },
            }
        },
        "order.cancelled": {
            "post": {"description": "An order was cancelled", "deprecated": True}
        },
    },
    "components": {
        "schemas": {
            "Order": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "lines": {"$ref": "#/components/schemas/Lines"},
                },
            },
            "Lines": {"type": "array", "items": {"type": "integer"}},
        }
    },
}  # fmt: skip

OPENAPI_YAML = """
openapi: 3.0.3
info: {title: Shop, version: "2"}
x-webhooks:
  order.created:
    post:
      summary: An order was placed
      tags: [orders]
      requestBody:
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/Order'
components:
  schemas:
    Order:
      type: object
      properties:
        id: {type: string}
        lines: {type: array, items: {type: integer}}
"""


def test_event_types_are_imported_from_an_openapi_document(svix: Svix) -> None:
    """import/openapi turns webhooks into event types ($refs put in place); a dry run
    changes nothing, and replaceAll archives the types the document leaves out."""
    svix.event_type.create(EventTypeIn(name="legacy.thing", description="old"))
    dry = svix.event_type.import_openapi(EventTypeImportOpenApiIn(spec=OPENAPI, dry_run=True))
    assert dry.data.modified == ["order.cancelled", "order.created"]
    assert [e.name for e in dry.data.to_modify or []] == ["order.cancelled", "order.created"]
    with pytest.raises(HttpError):
        svix.event_type.get("order.created")

    done = svix.event_type.import_openapi(EventTypeImportOpenApiIn(spec=OPENAPI))
    assert done.data.modified == ["order.cancelled", "order.created"]
    created = svix.event_type.get("order.created")
    assert (created.description, created.group_name) == ("An order was placed", "orders")
    assert created.schemas == {
        "1": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "lines": {"type": "array", "items": {"type": "integer"}},
            },
        }
    }
    assert svix.event_type.get("order.cancelled").deprecated is True
    # The same document again changes nothing; the YAML (3.0) form of it neither.
    assert (
        svix.event_type.import_openapi(EventTypeImportOpenApiIn(spec=OPENAPI)).data.modified == []
    )
    raw = svix.event_type.import_openapi(
        EventTypeImportOpenApiIn(spec_raw=OPENAPI_YAML, replace_all=True)
    )
    assert raw.data.modified == ["legacy.thing", "order.cancelled"]
    assert svix.event_type.get("legacy.thing").archived is True
    assert svix.event_type.get("order.cancelled").archived is True
    assert svix.event_type.get("order.created").archived is False

    broken = {"openapi": "3.1.0", "webhooks": {"bad name": {"post": {}}}}
    with pytest.raises(HTTPValidationError):
        svix.event_type.import_openapi(EventTypeImportOpenApiIn(spec=broken))
    with pytest.raises(HTTPValidationError):
        svix.event_type.import_openapi(EventTypeImportOpenApiIn(spec_raw="a: [unclosed"))
    dangling = {"webhooks": {"x.y": {"post": {"requestBody": {"content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Nope"}}}}}}}}  # fmt: skip
    with pytest.raises(HTTPValidationError):
        svix.event_type.import_openapi(EventTypeImportOpenApiIn(spec=dangling))
    with pytest.raises(HttpError):
        svix.event_type.get("x.y")
