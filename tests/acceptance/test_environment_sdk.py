"""Svix's environment export and import move event types, applications and endpoints
between two fresh ``hookline serve`` instances, driven by the official ``svix`` SDK;
secrets travel only when asked for, sealed under the operator's key."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook
from svix.api import (
    ApplicationIn,
    EndpointHeadersIn,
    EndpointIn,
    EnvironmentIn,
    EventTypeIn,
    MessageIn,
    Svix,
    SvixOptions,
)
from svix.exceptions import HTTPValidationError

from hookline.domain.secrets import generate_key

from support.receiver import Receiver
from support.server import ADMIN_TOKEN, AUTH, HooklineProcess, ServerFactory

HEADER = "hookline-secrets-key"
SCHEMA = {"type": "object", "properties": {"email": {"type": "string"}}}


@pytest.fixture
def two(start_server: ServerFactory, tmp_path: Path) -> Iterator[tuple[Svix, Svix, str]]:
    """Two fresh servers, each with its own database, and an SDK client of each."""
    servers: list[HooklineProcess] = [
        start_server(database_url=f"sqlite:///{tmp_path / name}.db", retry_schedule="1s")
        for name in ("source", "target")
    ]
    clients = [Svix(ADMIN_TOKEN, SvixOptions(server_url=s.url)) for s in servers]
    yield clients[0], clients[1], servers[1].url
    for client in clients:
        client._httpx_client.close()


def document_in(svix: Svix) -> EnvironmentIn:
    """What an export answers, as the SDK's import takes it."""
    out = svix.environment.export()
    types = [EventTypeIn.model_validate(e.model_dump()) for e in out.event_types]
    return EnvironmentIn(event_types=types, settings=out.settings)


def test_an_environment_moves_between_two_servers(
    two: tuple[Svix, Svix, str], receiver: Receiver
) -> None:
    """Export from one, import into the other: the same ids, fields and subscriptions;
    secrets stay behind unless the export is given a key."""
    source, target, target_url = two
    source.event_type.create(
        EventTypeIn(name="user.signup", description="Signed up", schemas={"1": SCHEMA})
    )
    source.event_type.create(EventTypeIn(name="invoice.paid", description="Paid"))
    acme = source.application.create(
        ApplicationIn(name="Acme", uid="acme", metadata={"tier": "gold"}, throttle_rate=50)
    )
    secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    hook = source.endpoint.create(
        acme.id,
        EndpointIn(
            url=f"{receiver.url}/acme", uid="main", event_types=["user.signup"],
            channels=["eu"], secret=secret, description="main hook",
        ),
    )  # fmt: skip
    source.endpoint.set_headers(acme.id, hook.id, EndpointHeadersIn(headers={"X-Team": "a"}))
    other = source.application.create(ApplicationIn(name="Other"))
    source.endpoint.create(other.id, EndpointIn(url=f"{receiver.url}/other"))

    # Without a key: everything but the secrets and headers.
    out = source.environment.export()
    assert out.version == 1
    assert {e.name for e in out.event_types} == {"user.signup", "invoice.paid"}
    exported = out.settings["hookline"]
    assert exported["secretsKeyId"] is None
    assert {a["id"] for a in exported["applications"]} == {acme.id, other.id}
    assert all("sealedSecret" not in e for a in exported["applications"] for e in a["endpoints"])
    target.environment.import_(document_in(source))

    assert target.event_type.get("user.signup").schemas == {"1": SCHEMA}
    moved = target.application.get("acme")
    assert (moved.id, moved.name, moved.metadata, moved.throttle_rate) == (
        acme.id, "Acme", {"tier": "gold"}, 50,
    )  # fmt: skip
    moved_hook = target.endpoint.get(acme.id, "main")
    assert (moved_hook.id, moved_hook.url, moved_hook.event_types, moved_hook.channels) == (
        hook.id, f"{receiver.url}/acme", ["user.signup"], ["eu"],
    )  # fmt: skip
    assert moved_hook.description == "main hook"
    assert target.endpoint.get_secret(acme.id, hook.id).key != secret
    assert target.endpoint.get_headers(acme.id, hook.id).headers == {}
    assert len(target.endpoint.list(other.id).data) == 1

    # With a key, sealed: refused without it or with another, nothing changed; then moved.
    key = generate_key()
    source._httpx_client.headers[HEADER] = key
    sealed = document_in(source)
    del source._httpx_client.headers[HEADER]
    endpoints = [e for a in sealed.settings["hookline"]["applications"] for e in a["endpoints"]]
    assert all(e["sealedSecret"].startswith("enc:v1:") for e in endpoints)
    assert secret not in str(sealed.settings)
    with pytest.raises(HTTPValidationError) as keyless:
        target.environment.import_(sealed)
    assert keyless.value.detail[0].loc[-1] == HEADER
    target._httpx_client.headers[HEADER] = generate_key()
    with pytest.raises(HTTPValidationError):
        target.environment.import_(sealed)
    assert target.endpoint.get_secret(acme.id, hook.id).key != secret
    target._httpx_client.headers[HEADER] = key
    target.environment.import_(sealed)
    assert target.endpoint.get_secret(acme.id, hook.id).key == secret
    assert target.endpoint.get_headers(acme.id, hook.id).headers == {"X-Team": "a"}

    # The target delivers with the moved secret; importing again changes nothing new.
    message = target.message.create(
        acme.id, MessageIn(event_type="user.signup", payload={"email": "a@x"}, channels=["eu"])
    )
    delivered = receiver.wait_for(1)[0]
    assert delivered.path == "/acme"
    assert delivered.headers["webhook-id"] == message.id
    assert Webhook(secret).verify(delivered.body, delivered.headers) == {"email": "a@x"}
    again = httpx.post(
        f"{target_url}/api/v1/environment/import",
        headers={**AUTH, HEADER: key, "content-type": "application/json"},
        content=sealed.model_dump_json(exclude_unset=True, by_alias=True),
        timeout=10,
    )
    assert again.status_code == 200, again.text
    assert again.json() == {"created": 0, "updated": 2 + 2 + 2}


def test_an_import_that_does_not_fit_changes_nothing(two: tuple[Svix, Svix, str]) -> None:
    """A document naming an event type nobody has, or with connectors, is a 422."""
    _, target, target_url = two
    app = {"id": "app_2aaaaaaaaaaaaaaaaaaaaaaaaaa", "name": "X", "endpoints": [
        {"id": "ep_2aaaaaaaaaaaaaaaaaaaaaaaaaa", "url": "https://example.com/in",
         "eventTypes": ["no.such"]},
    ]}  # fmt: skip
    body = {"eventTypes": [{"name": "fine", "description": ""}],
            "settings": {"hookline": {"applications": [app]}}}  # fmt: skip
    refused = httpx.post(f"{target_url}/api/v1/environment/import", headers=AUTH, json=body)
    assert refused.status_code == 422
    assert "no.such" in refused.text
    assert target.event_type.list().data == []
    assert target.application.list().data == []
    connectors = {"connectors": [{"name": "c", "transformation": "x"}]}
    refused = httpx.post(f"{target_url}/api/v1/environment/import", headers=AUTH, json=connectors)
    assert refused.status_code == 422
    bad_key = httpx.post(
        f"{target_url}/api/v1/environment/export", headers={**AUTH, HEADER: "short"}
    )
    assert bad_key.status_code == 422
    assert bad_key.json()["detail"][0]["loc"][-1] == HEADER
