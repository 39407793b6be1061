"""Endpoint credentials at rest: one sealed column, plaintext to callers, re-keyable.

Run against SQLite and PostgreSQL alike; the raw checks read the ``endpoints`` rows
through a connection of their own.
"""

from __future__ import annotations

from dataclasses import replace

from test_secrets_at_rest import KEY_A, KEY_B, T0, add_app, add_endpoint, opened

from hookline.domain import ids
from hookline.domain.endpoint_auth import (
    BasicAuth,
    ClientTls,
    EndpointAuth,
    OAuth2ClientCredentials,
)
from hookline.domain.models import Message
from hookline.domain.secrets import SEALED_PREFIX, SecretBox
from hookline.storage import Storage
from hookline.storage.base import Cursor

from support.database import query
from support.keyring import OTHER_TEST_KEY, TEST_KEY, TEST_SECRET_BOX

PASSWORD = "basic-password-that-must-not-leak"
CLIENT_SECRET = "oauth2-client-secret-that-must-not-leak"
KEY_PEM = "-----BEGIN PRIVATE KEY-----\nnot-a-real-key-but-secret\n-----END PRIVATE KEY-----"
AUTH = EndpointAuth(
    method=BasicAuth(username="hookline", password=PASSWORD),
    tls=ClientTls(certificate="-----BEGIN CERTIFICATE-----\nx\n", key=KEY_PEM),
)


def raw_auth(url: str) -> dict[str, str | None]:
    """Each endpoint's ``auth`` column as stored."""
    return {row[0]: row[1] for row in query(url, "SELECT id, auth FROM endpoints")}


async def test_credentials_are_sealed_in_the_database(storage: Storage, database_url: str) -> None:
    """The auth column holds one sealed value, and no secret of it is found in the rows."""
    app = await add_app(storage)
    endpoint = await add_endpoint(storage, app, auth=AUTH)
    bare = await add_endpoint(storage, app)
    stored = raw_auth(database_url)
    assert stored[bare.id] is None
    sealed = stored[endpoint.id]
    assert sealed is not None
    assert sealed.startswith(f"{SEALED_PREFIX}{KEY_A}:")
    rows = [str(v) for row in query(database_url, "SELECT * FROM endpoints") for v in row]
    for secret in (PASSWORD, "not-a-real-key-but-secret", "hookline"):
        assert not any(secret in value for value in rows)


async def test_readers_and_claims_get_the_credentials(storage: Storage) -> None:
    """Endpoint reads and claimed deliveries carry the credentials in plain text."""
    app = await add_app(storage)
    endpoint = await add_endpoint(storage, app, auth=AUTH)
    assert (await storage.get_endpoint(app.id, endpoint.id)).auth == AUTH
    [listed] = (await storage.list_endpoints(app.id, Cursor())).data
    assert listed.auth == AUTH
    oauth2 = EndpointAuth(
        method=OAuth2ClientCredentials(
            token_url="https://auth.example.com/token", client_id="c1",
            client_secret=CLIENT_SECRET, scope="hooks:write", client_auth="form",
        )
    )  # fmt: skip
    changed = await storage.update_endpoint(replace(endpoint, auth=oauth2, updated_at=T0 + 1))
    assert (await storage.get_endpoint(app.id, endpoint.id)).auth == changed.auth == oauth2
    message = Message(
        id=ids.new_id(ids.MESSAGE, T0), app_id=app.id, event_type="invoice.paid",
        payload=b"{}", created_at=T0,
    )  # fmt: skip
    await storage.publish(message)
    [claimed] = await storage.claim("w1", T0, T0 + 30, 10)
    assert claimed.auth == oauth2
    cleared = await storage.update_endpoint(replace(changed, auth=None, updated_at=T0 + 2))
    assert (await storage.get_endpoint(app.id, cleared.id)).auth is None


async def test_rekey_reseals_credentials(database_url: str) -> None:
    """Rekey under "B,A" re-seals each endpoint's credentials; B alone then reads them."""
    async with opened(database_url, TEST_SECRET_BOX) as storage:
        app = await add_app(storage)
        endpoints = [await add_endpoint(storage, app, auth=AUTH) for _ in range(3)]
        await add_endpoint(storage, app)  # no credentials: nothing to re-seal
    rotating = SecretBox.from_text(f"{OTHER_TEST_KEY},{TEST_KEY}")
    async with opened(database_url, rotating) as storage:
        result = await storage.rekey_secrets(batch_size=2)
        # Four signing secrets, three credentials.
        assert (result.rewritten, result.skipped) == (7, 0)
        assert (await storage.rekey_secrets()).rewritten == 0
    stored = raw_auth(database_url)
    for endpoint in endpoints:
        sealed = stored[endpoint.id]
        assert sealed is not None
        assert sealed.startswith(f"{SEALED_PREFIX}{KEY_B}:")
    async with opened(database_url, SecretBox.from_text(OTHER_TEST_KEY)) as storage:
        for endpoint in endpoints:
            assert (await storage.get_endpoint(app.id, endpoint.id)).auth == AUTH


async def test_unreadable_credentials_spoil_only_their_delivery(database_url: str) -> None:
    """A claimed delivery whose credentials do not unseal carries the problem, not them."""
    async with opened(database_url, TEST_SECRET_BOX) as storage:
        app = await add_app(storage)
        endpoint = await add_endpoint(storage, app, auth=AUTH)
        other = await add_endpoint(storage, app, auth=AUTH)
        # Another endpoint's sealed credentials do not unseal on this row (bound to its id).
        sealed_elsewhere = raw_auth(database_url)[other.id]
        query(database_url, "UPDATE endpoints SET auth = ? WHERE id = ?",
              (sealed_elsewhere, endpoint.id))  # fmt: skip
        message = Message(
            id=ids.new_id(ids.MESSAGE, T0), app_id=app.id, event_type="invoice.paid",
            payload=b"{}", created_at=T0,
        )  # fmt: skip
        await storage.publish(message)
        claimed = {c.endpoint_id: c for c in await storage.claim("w1", T0, T0 + 30, 10)}
    assert claimed[other.id].auth == AUTH
    assert claimed[endpoint.id].auth is None
    assert claimed[endpoint.id].problem is not None
    assert PASSWORD not in claimed[endpoint.id].problem
