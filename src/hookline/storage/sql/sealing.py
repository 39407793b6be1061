"""Secrets sealed at the storage boundary: the columns hold only ciphertext, and every
record handed out (an Endpoint, a ClaimedDelivery, a Source) holds plaintext."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import orjson

from hookline.domain.destinations import Destination
from hookline.domain.endpoint_auth import EndpointAuth
from hookline.domain.models import SigningKey
from hookline.domain.secrets import SecretBox


def secret_context(endpoint_id: str, column: str) -> str:
    """The associated data binding a sealed secret to its endpoint and column."""
    return f"endpoint:{endpoint_id}:{column}"


def source_context(source_id: str, column: str) -> str:
    """The associated data binding a sealed source value to its source and column."""
    return f"source:{source_id}:{column}"


def seal_secrets(
    box: SecretBox, endpoint_id: str, secret: str, old_secrets: Sequence[SigningKey]
) -> tuple[str, str]:
    """The ``secret`` and ``old_secrets`` columns of an endpoint, sealed."""
    old_context = secret_context(endpoint_id, "old_secrets")
    sealed_old = [
        {"secret": box.seal(key.secret, old_context), "expires_at": key.expires_at}
        for key in old_secrets
    ]
    sealed = box.seal(secret, secret_context(endpoint_id, "secret"))
    return sealed, orjson.dumps(sealed_old).decode()


def unseal_secret(box: SecretBox, endpoint_id: str, stored: str) -> str:
    """An endpoint's current signing secret from its column."""
    return box.unseal(stored, secret_context(endpoint_id, "secret"))


def unseal_old_secrets(box: SecretBox, endpoint_id: str, stored: str) -> tuple[SigningKey, ...]:
    """An endpoint's previous signing secrets (during a rotation) from their column."""
    keys = orjson.loads(stored)
    if not keys:
        return ()
    context = secret_context(endpoint_id, "old_secrets")
    return tuple(SigningKey(box.unseal(k["secret"], context), k.get("expires_at")) for k in keys)


def sealed_under_current_key(box: SecretBox, secret: str, old_secrets: str) -> bool:
    """Whether an endpoint's secret columns are all sealed under the box's sealing key."""
    return box.is_current(secret) and all(
        box.is_current(key["secret"]) for key in orjson.loads(old_secrets)
    )


def seal_auth(box: SecretBox, endpoint_id: str, auth: EndpointAuth | None) -> str | None:
    """An endpoint's ``auth`` column: its credentials as one sealed JSON object (None: none)."""
    if auth is None or auth.empty:
        return None
    return box.seal(orjson.dumps(auth.to_json()).decode(), secret_context(endpoint_id, "auth"))


def unseal_auth(box: SecretBox, endpoint_id: str, stored: str | None) -> EndpointAuth | None:
    """An endpoint's credentials from their column (raises ``SecretKeyError`` if they do not
    unseal). Parsed once per distinct text: the claim reads them for every delivery."""
    if stored is None:
        return None
    return _auth_of(box.unseal(stored, secret_context(endpoint_id, "auth")))


@functools.lru_cache(maxsize=4096)
def _auth_of(text: str) -> EndpointAuth | None:
    return EndpointAuth.from_json(orjson.loads(text))


def seal_destination(
    box: SecretBox, endpoint_id: str, destination: Destination | None
) -> tuple[str | None, str | None]:
    """The ``destination_kind`` and ``destination_config`` columns of an endpoint: the
    configuration sealed whole, since passwords and URI credentials sit inside it."""
    if destination is None:
        return None, None
    text = orjson.dumps(dict(destination.config)).decode()
    return destination.kind, box.seal(text, secret_context(endpoint_id, "destination_config"))


def unseal_destination(
    box: SecretBox, endpoint_id: str, kind: str | None, stored: str | None
) -> Destination | None:
    """An endpoint's destination from its columns (None for an HTTP endpoint)."""
    if kind is None:
        return None
    config = box.unseal(stored or "{}", secret_context(endpoint_id, "destination_config"))
    return Destination(kind=kind, config=orjson.loads(config))
