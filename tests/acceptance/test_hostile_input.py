"""Hostile bodies on every write route of a real server, on SQLite and PostgreSQL alike.

The write routes come from the server's own OpenAPI document, so a new route is
covered the day it is added. Each field of each route's body gets values that no
backend may store (lone surrogates, NULs, deep nesting, numbers JSON cannot keep,
keys given twice) and values that are merely wrong (wrong types, huge strings,
unknown keys); bodies go with wrong content types too. No answer may be a 5xx,
a value the text rule refuses is a 422 naming its field, and the refused requests
leave every table's row count as it was. (Slow clients: test_slow_clients.py.)
"""

from __future__ import annotations

import base64
import itertools
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from svix.webhooks import Webhook

from support.database import dialect, query
from support.server import ADMIN_TOKEN, HooklineProcess, ServerFactory

PROVIDER_SECRET = "whsec_" + base64.b64encode(b"provider-secret-0123456789abcdef").decode()
APP_UID = "hostile-app"
EVENT_TYPE = "order.created"


def deep(levels: int) -> str:
    """The JSON text of a list nested ``levels`` deep (past what JSON encoders write)."""
    return "[" * levels + "]" * levels


#: Values no backend may store, by name: (JSON text of the value, where the 422 points
#: below the field). The JSON is written by hand: no encoder writes a lone surrogate.
REFUSED_VALUES: dict[str, tuple[str, tuple[str | int, ...]]] = {
    "surrogate": ('"ab\\ud800cd"', ()),
    "low surrogate alone": ('"\\udfff"', ()),
    "nul": ('"ab\\u0000cd"', ()),
    "surrogate in an object": ('{"key": "\\ud83d"}', ("key",)),
    "nul in an object": ('{"key": "a\\u0000"}', ("key",)),
    "surrogate key": ('{"k\\udc00": "v"}', ("k\ufffd",)),
    "nul key": ('{"k\\u0000": "v"}', ("k\ufffd",)),
    "nul in a list": ('["ok", "\\u0000"]', (1,)),
    "surrogate deep inside": ('{"a": [{"b": {"c": "\\ud800"}}]}', ("a", 0, "b", "c")),
    "nested 300 deep": (deep(300), (0,) * 127),
    "nested 5000 deep": (deep(5000), ()),
    "NaN": ("NaN", ()),
    "Infinity": ('{"n": -Infinity}', ("n",)),
    "1e400": ("[1e400]", (0,)),
    "integer past 64 bits": ("123456789012345678901234567890", ()),
}
#: Values that are only wrong for some fields: any 4xx, never a 5xx.
WRONG_VALUES: dict[str, str] = {
    "wrong type: list": "[[1, 2], {}]",
    "wrong type: number": "12.5",
    "wrong type: boolean string": '"yes"',
    "wrong type: null": "null",
    "huge string": orjson.dumps("x" * 300_000).decode(),
    "huge object": orjson.dumps({f"k{i}": "v" * 64 for i in range(5000)}).decode(),
}


def body_with(field: str, value_json: str) -> bytes:
    """A body naming ``field`` once, with a value given as JSON text."""
    return f'{{"{field}": {value_json}}}'.encode()


@pytest.fixture
def hostile_server(start_server: ServerFactory, database_url: str) -> HooklineProcess:
    """A server on each backend (its API unthrottled: this is one fast client on purpose)."""
    return start_server(database_url=database_url, api_rate_limit="0", auth_failure_limit="0")


class World:
    """What the hostile requests aim at: one of everything, made through the API."""

    def __init__(self, server: HooklineProcess, database_url: str) -> None:
        self.server = server
        self.database_url = database_url
        self.api = server.client()
        self.path_values: dict[str, str] = {}
        self.operational_id = ""
        self.ingest_url = ""

    def make(self) -> World:
        """Create the application, event type, message, endpoint, source and operational
        endpoint the routes' paths name (the message first: it fans out to nothing)."""
        api = self.api
        ok = api.post("/api/v1/app", json={"name": "hostile", "uid": APP_UID})
        assert ok.status_code == 201, ok.text
        ok = api.post("/api/v1/event-type", json={"name": EVENT_TYPE, "description": "d"})
        assert ok.status_code == 201, ok.text
        base = f"/api/v1/app/{APP_UID}"
        msg = api.post(f"{base}/msg", json={"eventType": EVENT_TYPE, "payload": {"a": 1}})
        assert msg.status_code == 202, msg.text
        endpoint = api.post(
            f"{base}/endpoint", json={"url": "http://127.0.0.1:9/hook", "disabled": True}
        )
        assert endpoint.status_code == 201, endpoint.text
        source = api.post(
            f"{base}/source",
            json={
                "name": "provider",
                "verifier": {"type": "standard_webhooks", "secrets": [PROVIDER_SECRET]},
            },
        )
        assert source.status_code == 201, source.text
        operational = api.post(
            "/api/v1/operational-webhook/endpoint",
            json={"url": "http://127.0.0.1:9/ops", "disabled": True},
        )
        assert operational.status_code == 201, operational.text
        self.operational_id = operational.json()["id"]
        poller = api.post(f"{base}/destination", json={"type": "pollingEndpoint", "config": {}})
        assert poller.status_code == 201, poller.text
        self.ingest_url = source.json()["ingestUrl"]
        self.path_values = {
            "app_id": APP_UID, "event_type_name": EVENT_TYPE, "msg_id": msg.json()["id"],
            "endpoint_id": endpoint.json()["id"], "source_id": source.json()["id"],
            "destination_id": poller.json()["id"], "sink_id": poller.json()["id"],
            "consumer_id": "hostile-consumer", "plan_name": "hostile-plan",
        }  # fmt: skip
        return self

    def url(self, template: str) -> str:
        """A route's path with this world's ids in it."""
        values = dict(self.path_values)
        if template.startswith("/api/v1/operational-webhook/"):
            values["endpoint_id"] = self.operational_id
        return template.format(**values)

    def counts(self) -> dict[str, int]:
        """The number of rows in every table of the database."""
        if dialect(self.database_url) == "sqlite":
            listed = "SELECT name FROM sqlite_master WHERE type = 'table'"
        else:
            listed = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        tables = sorted(row[0] for row in query(self.database_url, listed))
        # Table names read from the database's own catalogue, not from any input.
        union = " UNION ALL ".join(f"SELECT '{t}', COUNT(*) FROM \"{t}\"" for t in tables)  # noqa: S608
        return {name: int(count) for name, count in query(self.database_url, union)}


def write_routes(api: httpx.Client) -> Iterator[tuple[str, str, list[str]]]:
    """(method, path template, body field names) of every route that reads a JSON body."""
    document = api.get("/api/v1/openapi.json").json()
    schemas = document["components"]["schemas"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            reference = content["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
            yield method.upper(), path, sorted(schemas[reference].get("properties", {}))


def send(api: httpx.Client, method: str, url: str, body: bytes, content_type: str | None) -> Any:
    """Send raw bytes; no 5xx may come back."""
    headers = {} if content_type is None else {"Content-Type": content_type}
    answer = api.request(method, url, content=body, headers=headers)
    assert answer.status_code < 500, (method, url, body[:120], answer.status_code, answer.text)
    return answer


@pytest.fixture
def world(hostile_server: HooklineProcess, database_url: str) -> Iterator[World]:
    """The world, made on a fresh server."""
    made = World(hostile_server, database_url).make()
    yield made
    made.api.close()


def test_values_no_backend_may_store_are_refused_naming_the_field(world: World) -> None:
    """Surrogates, NULs, deep nesting, lost numbers, repeated keys: 422 naming the field, no row."""
    routes = list(write_routes(world.api))
    assert len(routes) >= 25  # the document lists them: a broken walk would test nothing
    before = world.counts()
    for method, template, fields in routes:
        url = world.url(template)
        payload_route = template.endswith(("/msg", "/routing/preview", "/dry-run"))
        for field, (name, (value, below)) in itertools.product(fields, REFUSED_VALUES.items()):
            if payload_route and field == "payload" and name.startswith("nul"):
                continue  # a payload may hold a NUL: test_a_nul_in_a_payload_is_kept_exactly
            answer = send(world.api, method, url, body_with(field, value), "application/json")
            assert answer.status_code == 422, (method, url, field, name, answer.text)
            loc = answer.json()["detail"][0]["loc"]
            expected = ["body"] if name == "nested 5000 deep" else ["body", field, *below]
            assert loc == expected, (method, url, field, name, loc)
        repeated = f'{{"{fields[0]}": 1, "{fields[0]}": 2}}'.encode()
        answer = send(world.api, method, url, repeated, "application/json")
        assert answer.status_code == 422, (method, url, "repeated key", answer.text)
        assert answer.json()["detail"][0]["loc"] == ["body", fields[0]]
    assert world.counts() == before


def test_wrong_values_unknown_keys_and_content_types_get_a_4xx(world: World) -> None:
    """Wrong types, huge values, unknown keys and wrong content types: a 4xx, never a 5xx."""
    for method, template, fields in write_routes(world.api):
        url = world.url(template)
        for field, value in itertools.product(fields, WRONG_VALUES.values()):
            send(world.api, method, url, body_with(field, value), "application/json")
        send(world.api, method, url, b'{"noSuchField": {"deep": [1, 2, 3]}}', "application/json")
        for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
            answer = send(world.api, method, url, b'{"name": "x"}', content_type)
            assert answer.status_code == 415, (method, url, content_type, answer.text)
            assert "application/json" in answer.json()["detail"]
        for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
            answer = send(world.api, method, url, b'{"zz": 1', content_type)
            assert answer.status_code == 422, (method, url, content_type, answer.text)
        send(world.api, method, url, b"\xff\xfe not text", "application/json")


def test_a_wrong_content_type_says_so_and_the_svix_shape_still_passes(world: World) -> None:
    """A JSON body sent as text/plain is a 415 saying what to send; application/json and
    its charset form are taken, as the svix SDKs send them."""
    body = orjson.dumps({"name": "typed"})
    refused = send(world.api, "POST", "/api/v1/app", body, "text/plain")
    assert refused.status_code == 415
    assert refused.json()["code"] == "unsupported_media_type"
    for content_type in ("application/json", "application/json; charset=utf-8"):
        taken = send(world.api, "POST", "/api/v1/app", body, content_type)
        assert taken.status_code == 201, taken.text


def test_a_nul_in_a_payload_is_kept_exactly(world: World) -> None:
    """A payload stored as JSON bytes may hold a NUL: both backends give back what was sent."""
    url = f"/api/v1/app/{APP_UID}/msg"
    body = b'{"eventType": "order.created", "payload": {"text": "a\\u0000b", "k\\u0000": 1}}'
    for path in (url, f"{url}?with_content=true"):  # the fast path, then the route
        answer = send(world.api, "POST", path, body, "application/json")
        assert answer.status_code == 202, answer.text
        stored = world.api.get(f"{url}/{answer.json()['id']}").json()
        assert stored["payload"] == {"text": "a\x00b", "k\x00": 1}


@pytest.mark.parametrize(
    ("path", "field", "body"),
    [
        ("/api/v1/app", "name", {"name": "a\x00b"}),
        ("/api/v1/app", "metadata", {"name": "a", "metadata": {"k": "v\x00"}}),
        ("/api/v1/event-type", "description", {"name": "e.nul", "description": "d\x00"}),
        ("/api/v1/auth/token", "name", {"name": "t\x00"}),
        (f"/api/v1/app/{APP_UID}/endpoint", "description",
         {"url": "http://127.0.0.1:9/x", "description": "\x00", "disabled": True}),
        (f"/api/v1/app/{APP_UID}/source", "name",
         {"name": "s\x00", "verifier": {"type": "standard_webhooks", "secrets": ["x" * 32]}}),
        (f"/api/v1/app/{APP_UID}/msg", "tags",
         {"eventType": EVENT_TYPE, "payload": {}, "tags": ["t\x00"]}),
    ],
)  # fmt: skip
def test_a_nul_in_an_otherwise_valid_body_is_a_422_on_every_backend(
    world: World, path: str, field: str, body: dict[str, Any]
) -> None:
    """A NUL in a name, description, source or tag of a valid body: 422 naming it, nothing
    stored (PostgreSQL used to answer 503 with its driver's words; SQLite stored it)."""
    before = world.counts()
    answer = send(world.api, "POST", path, orjson.dumps(body), "application/json")
    assert answer.status_code == 422, answer.text
    loc = answer.json()["detail"][0]["loc"]
    assert loc[0] == "body"
    assert loc[1] == field
    assert "database" not in answer.text.lower()
    assert world.counts() == before


def test_schemas_nested_past_the_limit_are_a_422_and_below_it_are_stored(world: World) -> None:
    """Event type schemas 120 levels deep are stored; 256 deep (once a 500) are a 422."""
    nested: Any = {"type": "object"}
    for _ in range(60):
        nested = {"type": "object", "properties": {"a": nested}}  # two levels per step
    taken = world.api.post(
        "/api/v1/event-type", json={"name": "deep.ok", "description": "d", "schemas": {"1": nested}}
    )
    assert taken.status_code == 201, taken.text
    refused = send(
        world.api, "POST", "/api/v1/event-type",
        f'{{"name": "deep.no", "description": "d", "schemas": {{"1": {deep(256)}}}}}'.encode(),
        "application/json",
    )  # fmt: skip
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"][:3] == ["body", "schemas", "1"]


def test_a_nul_in_a_path_or_query_is_a_422_naming_it(world: World) -> None:
    """``%00`` in a path parameter or a query value: 422 naming it, on every backend."""
    answer = world.api.get("/api/v1/app/app%00x")
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["path", "app_id"]
    answer = world.api.get(f"/api/v1/app/{APP_UID}/msg", params={"tag": "a\x00"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["query", "tag"]


def test_the_gateway_stores_provider_text_alike_on_every_backend(world: World) -> None:
    """A provider's event type or id holding a NUL or a lone surrogate is stored (the type
    as the default, the id hashed); a body with a raw NUL byte is a 422."""

    def deliver(msg_id: str, body: bytes) -> httpx.Response:
        now = datetime.fromtimestamp(int(time.time()), UTC)
        signature = Webhook(PROVIDER_SECRET).sign(msg_id, now, body.decode())
        headers = {
            "webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature, "content-type": "application/json",
        }  # fmt: skip
        answer = httpx.post(world.ingest_url, content=body, headers=headers, timeout=10)
        assert answer.status_code < 500, answer.text
        return answer

    for odd_type in (b"order.\\u0000", b"order.\\ud800"):
        stored = deliver(
            f"evt_{odd_type[-4:].decode()}", b'{"type": "%s", "n": "\\u0000"}' % odd_type
        )
        assert stored.status_code == 200, stored.text
        message = world.api.get(f"/api/v1/app/{APP_UID}/msg/{stored.json()['id']}").json()
        assert message["eventType"] == "inbound"
    assert message["payload"] == {"body": '{"type": "order.\\ud800", "n": "\\u0000"}'}
    refused = deliver("evt_raw_nul", b'{"type": "a", "n": "\x00"}')
    assert refused.status_code == 422, refused.text


def test_web_forms_keep_the_same_rule(world: World) -> None:
    """A NUL in any field of a dashboard form is a 422 page, and the form changes nothing."""
    with httpx.Client(base_url=world.server.url, timeout=10, follow_redirects=False) as browser:
        refused = browser.post("/dashboard/sign-in", data={"token": "hk_\x00", "next": "/"})
        assert refused.status_code == 422
        assert "NUL" in refused.text
        signed = browser.post("/dashboard/sign-in", data={"token": ADMIN_TOKEN, "next": "/"})
        assert signed.status_code == 303, signed.text
        endpoint = f"/dashboard/app/{APP_UID}/endpoint/{world.path_values['endpoint_id']}"
        page = browser.get(endpoint)
        assert page.status_code == 200, page.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        before = world.counts()
        form = {"csrf": csrf.group(1), "note": "a\x00b"}
        assert browser.post(f"{endpoint}/pause", data=form).status_code == 422
        assert world.counts() == before
    shown = world.api.get(f"/api/v1/app/{APP_UID}/endpoint/{world.path_values['endpoint_id']}")
    assert shown.json().get("paused") is not True
