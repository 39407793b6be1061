"""Tests for hookline.domain.verifiers: the registry, configuration, overrides, credentials.

The signed schemes are tested family by family, each against its provider's own
library or documentation: test_verifiers_standard.py (Standard Webhooks and Svix),
test_verifiers_body.py (an HMAC of the body), test_verifiers_timestamped.py (an HMAC
over a timestamp), test_verifiers_url.py (Twilio, HubSpot, PandaDoc) and
test_verifiers_asymmetric.py (Telnyx, Orum). This file covers what every kind
shares, and the kinds that check a credential rather than a signature.
"""

from __future__ import annotations

import base64
import typing
from typing import Any

import pytest
from svix.models.ingest_source_in import IngestSourceIn

import hookline
from hookline.api.schemas import ID_PATTERN
from hookline.domain.inbound import forwarded_headers
from hookline.domain.models import Source
from hookline.domain.verifiers import (
    COMMON_OPTIONS,
    KINDS,
    NO_MATCH,
    VERIFIERS,
    InboundRequest,
    VerificationFailed,
    VerifiedEvent,
    build_verifier,
    handshake_answer,
)
from hookline.errors import ValidationError

from support.verifier_contract import BODY, NOW, URL, reason_of

WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#: What each kind needs at least; the others take a whsec_ secret (any text keys an HMAC).
MINIMAL: dict[str, tuple[dict[str, Any], list[str]]] = {
    "hmac": ({"algorithm": "sha256", "header": "X-Sig"}, ["s"]),
    "basic_auth": ({}, ["u:p"]),
    "api_key": ({"header": "X-Key"}, ["k"]),
    "meta": ({"verify_token": "t"}, ["s"]),
    "telnyx": ({}, [base64.b64encode(bytes(32)).decode()]),
    "none": ({}, []),
    "generic-webhook": ({}, []),
}  # fmt: skip
#: IngestSourceIn types that are not a verifier: a schedule (cron), and two with no
#: public signing scheme found (openclaw, vgs).
NOT_VERIFIERS = {"cron", "openclaw", "vgs"}


def minimal(kind: str) -> tuple[dict[str, Any], list[str]]:
    """The least ``kind`` builds from."""
    if kind == "orum-io":
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
        pem = key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return {}, [pem.decode()]
    return MINIMAL.get(kind, ({}, [WHSEC]))


def ingest_source_types() -> list[str]:
    """Every ``type`` the svix SDK's IngestSourceIn takes."""
    found: list[str] = []

    def walk(annotation: Any) -> None:
        if typing.get_origin(annotation) is typing.Literal:
            found.extend(typing.get_args(annotation))
        for inner in typing.get_args(annotation):
            walk(inner)

    walk(IngestSourceIn.model_fields["type"].annotation)
    return found


# ---------------------------------------------------------------------------
# The registry


def test_every_ingest_source_type_with_a_signing_scheme_is_a_kind() -> None:
    """Each IngestSourceIn type of the svix SDK is a verifier kind, but cron, openclaw, vgs."""
    types = ingest_source_types()
    assert len(types) > 40
    assert set(types) >= NOT_VERIFIERS
    assert sorted(set(types) - NOT_VERIFIERS - set(KINDS)) == []


def test_the_registry_counts_forty_providers_and_more() -> None:
    """More than forty kinds name a provider (the generic kinds aside)."""
    generic = {"standard_webhooks", "hmac", "basic_auth", "api_key", "none", "generic-webhook"}
    providers = [kind for kind in KINDS if kind not in generic]
    assert len(providers) >= 40
    assert tuple(sorted(KINDS)) == KINDS


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_builds_from_its_minimal_options(kind: str) -> None:
    """Each kind builds with the least it needs, and names its provider."""
    config, secrets = minimal(kind)
    assert callable(build_verifier(kind, config, secrets).verify)
    assert VERIFIERS[kind].provider


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_refuses_an_unknown_option_naming_it(kind: str) -> None:
    """An option a kind does not document is refused, not ignored, naming the field."""
    config, secrets = minimal(kind)
    with pytest.raises(ValidationError) as caught:
        build_verifier(kind, {**config, "tolerence": 60}, secrets)
    assert caught.value.field == ("config", "tolerence")


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_name_fits_the_apis_verifier_type(kind: str) -> None:
    """A kind's name is what the API accepts as a verifier type (and Svix's ingest type)."""
    import re

    assert len(kind) <= 32
    assert re.fullmatch(ID_PATTERN, kind)


def test_documented_options_are_described() -> None:
    """Every documented option, the common ones too, says what it means."""
    for spec in VERIFIERS.values():
        for option, meaning in {**spec.options, **COMMON_OPTIONS}.items():
            assert option.isidentifier()
            assert len(meaning) > 10


# ---------------------------------------------------------------------------
# Configuration


@pytest.mark.parametrize(
    ("kind", "config", "secrets", "field"),
    [
        ("carrier_pigeon", {}, ["s"], ("kind",)),
        ("github", {}, [], ("secrets",)),
        ("github", {}, "a bare string", ("secrets",)),
        ("github", {}, ["ok", "  "], ("secrets", 1)),
        ("github", {"tolerance": 60}, ["s"], ("config", "tolerance")),
        ("stripe", {"tolerance": -1}, ["s"], ("config", "tolerance")),
        ("stripe", {"tolerance": "300"}, ["s"], ("config", "tolerance")),
        ("slack", {"tolerance": True}, ["s"], ("config", "tolerance")),
        ("standard_webhooks", {}, [WHSEC, "not base64 !"], ("secrets", 1)),
        ("clerk", {}, ["whsec_!!!"], ("secrets", 0)),
        ("hmac", {"header": "X-Sig"}, ["s"], ("config", "algorithm")),
        ("hmac", {"algorithm": "md5", "header": "X-Sig"}, ["s"], ("config", "algorithm")),
        ("hmac", {"algorithm": "sha256"}, ["s"], ("config", "header")),
        ("hmac", {"algorithm": "sha256", "header": "X Sig"}, ["s"], ("config", "header")),
        ("hmac", {"algorithm": "sha256", "header": 5}, ["s"], ("config", "header")),
        ("hmac", {"algorithm": "sha256", "header": "X", "encoding": "b32"}, ["s"],
         ("config", "encoding")),
        ("hmac", {"algorithm": "sha256", "header": "X", "signed": "timestamp.body"}, ["s"],
         ("config", "timestamp_header")),
        ("hmac", {"algorithm": "sha256", "header": "X", "timestamp_header": "T"}, ["s"],
         ("config", "timestamp_header")),
        ("hmac", {"algorithm": "sha256", "header": "X", "tolerance": 60}, ["s"],
         ("config", "tolerance")),
        ("hmac", {"algorithm": "sha256", "header": "X", "secret_encoding": "hex"}, ["xyz"],
         ("secrets", 0)),
        ("vapi", {"mode": "plain"}, ["s"], ("config", "mode")),
        ("meta", {"verify_token": 7}, ["s"], ("config", "verify_token")),
        ("basic_auth", {}, ["no-colon"], ("secrets", 0)),
        ("api_key", {}, ["k"], ("config", "header")),
        ("none", {}, ["s"], ("secrets",)),
        ("generic-webhook", {}, ["s"], ("secrets",)),
        ("github", {"id_header": "X-A", "id_path": "a"}, ["s"], ("config", "id_path")),
        ("github", {"id_path": "a..b"}, ["s"], ("config", "id_path")),
        ("github", [("id_path", "a")], ["s"], ("config",)),
    ],
)  # fmt: skip
def test_bad_configuration_names_the_field(
    kind: str, config: Any, secrets: Any, field: tuple[str | int, ...]
) -> None:
    """A bad kind, option or secret raises ValidationError naming the field at fault."""
    with pytest.raises(ValidationError) as caught:
        build_verifier(kind, config, secrets)
    assert caught.value.field == field


def test_a_bad_secret_is_never_echoed_in_the_error() -> None:
    """The ValidationError for a malformed secret does not repeat the secret."""
    with pytest.raises(ValidationError) as caught:
        build_verifier("standard_webhooks", {}, ["whsec_!!secret-material!!"])
    assert "secret-material" not in str(caught.value)


def test_inbound_request_lower_cases_header_names() -> None:
    """Header names are lower-cased once, so lookups ignore case; the mapping is read-only."""
    request = InboundRequest("POST", URL, {"X-GitHub-Event": "push"}, b"")
    assert dict(request.headers) == {"x-github-event": "push"}
    assert request.header("X-GITHUB-EVENT") == "push"
    with pytest.raises(TypeError):
        request.headers["x"] = "y"  # type: ignore[index]


def test_the_public_names_are_exported_from_hookline() -> None:
    """``from hookline import build_verifier, InboundRequest`` works; __all__ is sorted."""
    assert hookline.build_verifier is build_verifier
    assert hookline.InboundRequest is InboundRequest
    assert hookline.VerificationFailed is VerificationFailed
    assert hookline.__all__ == sorted(hookline.__all__)
    assert all(hasattr(hookline, name) for name in hookline.__all__)


# ---------------------------------------------------------------------------
# Id and type overrides


def github_request(body: bytes = BODY) -> InboundRequest:
    """A GitHub request signed with secret "s"."""
    import hashlib
    import hmac

    digest = hmac.new(b"s", body, hashlib.sha256).hexdigest()
    headers = {
        "X-Hub-Signature-256": f"sha256={digest}",
        "X-GitHub-Delivery": "d-1",
        "X-GitHub-Event": "push",
    }
    return InboundRequest("POST", URL, headers, body)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"id_path": "data.object.id"}, VerifiedEvent("in_42", "push")),
        ({"id_path": "data.object.n"}, VerifiedEvent("7", "push")),
        ({"id_path": "data.missing"}, VerifiedEvent(None, "push")),
        ({"id_header": "X-GitHub-Event", "type_path": "event.type"},
         VerifiedEvent("push", "app_mention")),
        ({"type_header": "X-Nope"}, VerifiedEvent("d-1", None)),
    ],
)  # fmt: skip
def test_id_and_type_options_override_the_providers(
    config: dict[str, str], expected: VerifiedEvent
) -> None:
    """id_path/id_header and type_path/type_header win over the provider's own fields."""
    assert build_verifier("github", config, ["s"]).verify(github_request(), NOW) == expected


def test_id_path_indexes_lists() -> None:
    """A numeric step in id_path indexes a JSON list."""
    body = b'{"events": [{"id": "a"}, {"id": "b"}]}'
    verifier = build_verifier("none", {"id_path": "events.1.id"}, [])
    assert verifier.verify(InboundRequest("POST", URL, {}, body), NOW).event_id == "b"


def test_overrides_keep_the_providers_handshake() -> None:
    """A kind with a handshake still answers it when id or type options wrap it."""
    verifier = build_verifier("meta", {"verify_token": "t", "type_path": "object"}, ["s"])
    url = URL + "&hub.mode=subscribe&hub.verify_token=t&hub.challenge=42"
    request = InboundRequest("GET", url, {}, b"")
    verifier.verify(request, NOW)
    assert handshake_answer(verifier, request) == b"42"


# ---------------------------------------------------------------------------
# Credentials: GitLab, Adobe Sign, basic auth, API key, none


def test_gitlab_token_passes_and_names_its_event() -> None:
    """X-Gitlab-Token equal to a configured token passes; id and type come from headers."""
    verifier = build_verifier("gitlab", {}, ["old-token", "new-token"])
    headers = {
        "X-Gitlab-Token": "new-token",
        "X-Gitlab-Event": "Push Hook",
        "X-Gitlab-Event-UUID": "uuid-1",
        "Idempotency-Key": "idem-1",
    }
    assert verifier.verify(InboundRequest("POST", URL, headers, BODY), NOW) == VerifiedEvent(
        "idem-1", "Push Hook"
    )
    del headers["Idempotency-Key"]
    assert verifier.verify(InboundRequest("POST", URL, headers, BODY), NOW).event_id == "uuid-1"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [({}, "missing header x-gitlab-token"), ({"X-Gitlab-Token": "guess"}, NO_MATCH)],
)
def test_gitlab_refuses_a_missing_or_wrong_token(headers: dict[str, str], reason: str) -> None:
    """No token, or another token, fails."""
    verifier = build_verifier("gitlab", {}, ["token"])
    assert reason_of(verifier, InboundRequest("POST", URL, headers, BODY)) == reason


def test_adobe_sign_checks_and_echoes_the_client_id() -> None:
    """A notification with a configured client id passes and asks for the id back."""
    verifier = build_verifier("adobe-sign", {}, ["CBJCHBCAABAA-old", "CBJCHBCAABAA-new"])
    body = b'{"webhookNotificationId": "n-1", "event": "AGREEMENT_ACTION_COMPLETED"}'
    request = InboundRequest("POST", URL, {"X-AdobeSign-ClientId": "CBJCHBCAABAA-new"}, body)
    event = verifier.verify(request, NOW)
    assert event.event_id == "n-1"
    assert event.event_type == "AGREEMENT_ACTION_COMPLETED"
    assert event.answer_fields == (("xAdobeSignClientId", "CBJCHBCAABAA-new"),)
    assert handshake_answer(verifier, request) is None
    wrong = InboundRequest("POST", URL, {"X-AdobeSign-ClientId": "someone-else"}, body)
    assert reason_of(verifier, wrong) == NO_MATCH


def test_adobe_sign_verification_of_intent_is_answered() -> None:
    """Acrobat Sign's GET with the client id is answered with the id echoed."""
    verifier = build_verifier("adobe-sign", {}, ["CBJCHBCAABAA-new"])
    request = InboundRequest("GET", URL, {"X-AdobeSign-ClientId": "CBJCHBCAABAA-new"}, b"")
    verifier.verify(request, NOW)
    assert handshake_answer(verifier, request) == b'{"xAdobeSignClientId":"CBJCHBCAABAA-new"}'


def basic(credentials: str) -> dict[str, str]:
    """An Authorization: Basic header."""
    return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


def test_basic_auth_accepts_any_configured_pair() -> None:
    """Either configured user:password passes; another password fails."""
    verifier = build_verifier("basic_auth", {}, ["hooks:old-pass", "hooks:new-pass"])
    for credentials in ("hooks:old-pass", "hooks:new-pass"):
        assert verifier.verify(InboundRequest("POST", URL, basic(credentials), BODY), NOW) == (
            VerifiedEvent()
        )
    wrong = InboundRequest("POST", URL, basic("hooks:guess"), BODY)
    assert reason_of(verifier, wrong) == "credentials did not match"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing header authorization"),
        ({"Authorization": "Bearer abc"}, "authorization is not basic"),
        ({"Authorization": "Basic !!!"}, "credentials did not match"),
    ],
)
def test_basic_auth_refuses_other_authorizations(headers: dict[str, str], reason: str) -> None:
    """No header, another scheme or garbled base64 fail with a reason."""
    verifier = build_verifier("basic_auth", {}, ["hooks:pass"])
    assert reason_of(verifier, InboundRequest("POST", URL, headers, BODY)) == reason


def test_api_key_header_with_prefix() -> None:
    """An API key after the configured prefix passes; another key or none fails."""
    verifier = build_verifier(
        "api_key", {"header": "Authorization", "prefix": "Bearer "}, ["key-one", "key-two"]
    )
    ok = InboundRequest("POST", URL, {"authorization": "Bearer key-two"}, BODY)
    assert verifier.verify(ok, NOW) == VerifiedEvent()
    wrong = InboundRequest("POST", URL, {"authorization": "Bearer key-three"}, BODY)
    assert reason_of(verifier, wrong) == "api key did not match"
    missing = InboundRequest("POST", URL, {}, BODY)
    assert reason_of(verifier, missing) == "missing header authorization"


@pytest.mark.parametrize("kind", ["none", "generic-webhook"])
def test_no_check_kinds_accept_everything_and_still_find_an_id(kind: str) -> None:
    """none (and Svix's generic-webhook) pass any request; id_path still picks the id."""
    verifier = build_verifier(kind, {"id_path": "data.object.id"}, [])
    assert verifier.verify(InboundRequest("GET", URL, {}, BODY), NOW) == VerifiedEvent("in_42")


@pytest.mark.parametrize(
    ("kind", "config", "credential"),
    [
        ("gitlab", {}, "x-gitlab-token"),
        ("vapi", {"mode": "secret"}, "x-vapi-secret"),
        ("api_key", {"header": "X-Hook-Key"}, "x-hook-key"),
    ],
)
def test_a_credential_header_is_not_forwarded_with_the_event(
    kind: str, config: dict[str, str], credential: str
) -> None:
    """The header that carries a source's secret as is stays at the gateway."""
    source = Source(
        id="src_1", app_id="app_1", name="s", uid=None, token="hk_in_x", verifier=kind,
        config=config, secrets=("s",), dedup_window=60, forward_headers=True,
        created_at=NOW, updated_at=NOW,
    )  # fmt: skip
    forwarded = forwarded_headers(source, {credential: "s", "x-gitlab-event": "Push Hook"})
    assert forwarded == {"x-gitlab-event": "Push Hook"}
