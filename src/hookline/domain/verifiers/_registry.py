"""The registry of verifier kinds, and building a verifier from a kind, options and secrets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, cast

from hookline.domain.verifiers import (
    _asymmetric,
    _body,
    _credentials,
    _standard,
    _timestamped,
    _url,
)
from hookline.domain.verifiers._base import (
    Handshake,
    InboundRequest,
    Options,
    Verifier,
    VerifierSpec,
    WithOverrides,
)
from hookline.errors import ValidationError


def _merged(*families: Mapping[str, VerifierSpec]) -> Mapping[str, VerifierSpec]:
    merged: dict[str, VerifierSpec] = {}
    for family in families:
        for kind, spec in family.items():
            assert kind not in merged, f"verifier kind {kind} is defined twice"
            merged[kind] = spec
    return MappingProxyType(dict(sorted(merged.items())))


#: Every verifier kind, by name: who uses it, how it is built, its documented options.
#: The API validates a source's verifier (and lists the kinds) from this mapping.
VERIFIERS: Mapping[str, VerifierSpec] = _merged(
    _standard.SPECS,
    _body.SPECS,
    _timestamped.SPECS,
    _url.SPECS,
    _asymmetric.SPECS,
    _credentials.SPECS,
)

#: Every verifier kind :func:`build_verifier` knows, sorted.
KINDS = tuple(VERIFIERS)


def _checked_secrets(kind: str, spec: VerifierSpec, secrets: Sequence[str]) -> Sequence[str]:
    # A str is itself a Sequence[str]: one secret passed bare would become its characters.
    if isinstance(secrets, str) or not all(isinstance(s, str) for s in secrets):
        raise ValidationError("secrets must be a list of strings", field=("secrets",))
    if spec.secrets == "none":
        if secrets:
            raise ValidationError(f"the {kind} verifier takes no secrets", field=("secrets",))
        return secrets
    if not secrets:
        raise ValidationError(f"{kind} needs at least one secret", field=("secrets",))
    for index, secret in enumerate(secrets):
        if not secret.strip():
            raise ValidationError("secret is empty", field=("secrets", index))
    return secrets


def build_verifier(kind: str, config: Mapping[str, Any], secrets: Sequence[str]) -> Verifier:
    """Build the verifier of ``kind`` (one of :data:`KINDS`) from its options and secrets.

    ``secrets`` lists every secret accepted now (several during a rotation). Any kind
    takes ``id_header`` or ``id_path`` (a dotted JSON path such as ``data.object.id``)
    to choose the deduplication id, and ``type_header`` or ``type_path`` for the event
    type; they win over the provider's own. An option the kind does not document is
    refused. Raises ``ValidationError`` naming the field at fault, e.g.
    ``("config", "header")`` or ``("secrets", 1)``.
    """
    spec = VERIFIERS.get(kind)
    if spec is None:
        raise ValidationError(
            f"unknown verifier kind {kind!r}; the kinds are {', '.join(KINDS)}", field=("kind",)
        )
    if not isinstance(config, Mapping):
        raise ValidationError("config must be an object", field=("config",))
    options = Options(kind, config, frozenset(spec.options))
    verifier = spec.build(options, _checked_secrets(kind, spec, secrets))
    event_id = options.located("id_header", "id_path")
    event_type = options.located("type_header", "type_path")
    options.refuse_unknown()
    if event_id is None and event_type is None:
        return verifier
    return WithOverrides(verifier, event_id, event_type)


def handshake_answer(verifier: Verifier, request: InboundRequest) -> bytes | None:
    """What to answer a verified request that is a provider's endpoint check, or None.

    Slack's ``url_verification``, Zoom's ``endpoint.url_validation``, Meta's GET
    subscription check and Adobe Sign's verification of intent are answered (200,
    with this body) and not stored; every other request is an event.
    """
    # getattr, not isinstance(Handshake): a runtime Protocol check costs microseconds
    # on every received request, and most verifiers have no handshake.
    answer = getattr(verifier, "answer", None)
    return None if answer is None else cast(Handshake, verifier).answer(request)


def credential_headers(kind: str, config: Mapping[str, Any]) -> frozenset[str]:
    """The (lower-cased) headers of a ``kind`` source that carry a secret as is.

    They are checked at the gateway and never travel on with the event: GitLab's
    token, Vapi's legacy secret, the configured header of an ``api_key`` source.
    """
    spec = VERIFIERS.get(kind)
    found = set() if spec is None else set(spec.credential_headers)
    if kind == "api_key" and isinstance(config.get("header"), str):
        found.add(config["header"].strip().lower())
    return frozenset(found)
