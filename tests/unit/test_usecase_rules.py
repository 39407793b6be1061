"""The use cases' own rules that need no storage: secret rotation, header merges, time
windows, form text, controls and event type versions."""

from __future__ import annotations

import pytest

from hookline.domain.controls import Batching, BreakerConfig, Controls, Ordering
from hookline.domain.models import Endpoint, SigningKey
from hookline.errors import ValidationError
from hookline.usecases.controls import ControlsDraft
from hookline.usecases.endpoints import (
    MAX_OLD_SECRETS,
    check_text,
    merged_headers,
    normalise_secret,
    rotated,
)
from hookline.usecases.event_types import check_name, check_versioning
from hookline.usecases.messages import encode_payload
from hookline.usecases.replays import window

NOW = 1_700_000_000.0
SECRET = "whsec_" + "A" * 32


def endpoint(**fields: object) -> Endpoint:
    return Endpoint(id="ep_1", app_id="app_1", url="https://example.com/in", secret=SECRET,
                    **fields)  # type: ignore[arg-type]  # fmt: skip


def test_rotation_keeps_the_old_secret_for_the_grace_period() -> None:
    """A rotated endpoint signs with the new secret, and with the old one until the grace ends."""
    after = rotated(endpoint(), "whsec_" + "B" * 32, 3600, NOW)
    assert after.secret == "whsec_" + "B" * 32
    assert after.old_secrets == (SigningKey(SECRET, NOW + 3600),)
    assert after.signing_secrets(NOW + 3599) == [after.secret, SECRET]
    assert after.signing_secrets(NOW + 3600) == [after.secret]


def test_rotation_without_grace_drops_the_old_secret_and_expired_ones() -> None:
    """A grace of 0 keeps no old secret; old secrets already expired are dropped."""
    expired = SigningKey("whsec_" + "C" * 32, NOW - 1)
    after = rotated(endpoint(old_secrets=(expired,)), "whsec_" + "B" * 32, 0, NOW)
    assert after.old_secrets == ()


def test_rotation_keeps_at_most_a_few_old_secrets() -> None:
    """Repeated rotations keep the newest old secrets only, so signatures stay bounded."""
    current = endpoint()
    for round_ in range(MAX_OLD_SECRETS + 3):
        current = rotated(current, f"whsec_{round_:02d}" + "D" * 30, 86400, NOW + round_)
    assert len(current.old_secrets) == MAX_OLD_SECRETS
    assert current.old_secrets[0].expires_at == NOW + MAX_OLD_SECRETS + 2 + 86400


def test_header_merge_removes_by_any_case_and_adds() -> None:
    """Removed names match in any case; given headers are merged over the rest."""
    merged = merged_headers({"X-Team": "a", "X-Env": "prod"}, {"X-New": "1"}, ["x-team"])
    assert merged == {"X-Env": "prod", "X-New": "1"}


def test_a_window_ends_now_by_default_and_never_runs_backwards() -> None:
    """No ``until`` means now; an ``until`` before ``since`` is refused, naming ``until``."""
    assert window(NOW - 60, None, NOW) == (NOW - 60, NOW)
    with pytest.raises(ValidationError) as refused:
        window(NOW, NOW - 1, NOW)
    assert refused.value.field == ("until",)


@pytest.mark.parametrize(
    ("url", "description", "event_types", "field"),
    [
        ("", "", None, ("url",)),
        ("https://example.com", "x" * 4097, None, ("description",)),
        ("https://example.com", "", ["a", "a"], ("eventTypes",)),
        ("https://example.com", "", ["ok.*", "no spaces"], ("eventTypes", 1)),
    ],
)
def test_form_text_is_refused_naming_its_field(
    url: str, description: str, event_types: list[str] | None, field: tuple[str | int, ...]
) -> None:
    """The portal's form text meets the limits the API's body models state, field by field."""
    with pytest.raises(ValidationError) as refused:
        check_text(url, description, event_types)
    assert refused.value.field == field


def test_form_text_within_the_limits_passes() -> None:
    """A URL, a description and event type patterns within the limits pass."""
    check_text("https://example.com/hook", "Billing", ["invoice.*", "order.paid"])


def test_secrets_are_normalised_or_made() -> None:
    """A bare secret gets its prefix, none makes a new one, bad base64 names the field."""
    assert normalise_secret("A" * 32) == SECRET
    assert normalise_secret(None).startswith("whsec_")
    with pytest.raises(ValidationError) as refused:
        normalise_secret("whsec_!!!not-base64!!!", "key")
    assert refused.value.field == ("key",)


@pytest.mark.parametrize(
    ("url", "draft", "field"),
    [
        ("https://example.com", ControlsDraft(batching=Batching(10, 1.0), ordering=Ordering()),
         ("ordering",)),
        ("handler:billing", ControlsDraft(transformation={"body": "@"}), ("transformation",)),
        ("handler:billing", ControlsDraft(batching=Batching(10, 1.0)), ("batching",)),
        ("https://example.com",
         ControlsDraft(breaker=BreakerConfig(cooldown=60, max_cooldown=30)),
         ("circuitBreaker", "maxCooldownSeconds")),
        ("https://example.com", ControlsDraft(filter={"nope": 1}), ("filter",)),
    ],
)  # fmt: skip
def test_controls_that_contradict_each_other_are_refused(
    url: str, draft: ControlsDraft, field: tuple[str, ...]
) -> None:
    """Batching with FIFO, reshaping for a handler, a max cooldown under the cooldown and
    a filter that does not compile are refused, each naming its field."""
    with pytest.raises(ValidationError) as refused:
        draft.build(url)
    assert refused.value.field[: len(field)] == field


def test_stored_controls_rebuild_as_they_were() -> None:
    """Controls already stored, taken as a draft, build back to the same controls."""
    stored = Controls(
        filter={"body": {"type": "invoice.paid"}}, transformation={"body": "{total: amount}"},
        batching=Batching(5, 0.5), breaker=BreakerConfig(), max_in_flight=3,
    )  # fmt: skip
    assert ControlsDraft.of(stored).build("https://example.com") == stored


@pytest.mark.parametrize(
    ("schemas", "transformations", "enforce", "field"),
    [
        ({"one": {"type": "object"}}, None, False, ("schemas", "one")),
        ({"1": {"type": "object"}}, {"1": {"body": "@"}}, False, ("transformations", "1")),
        (None, None, True, ("enforceSchema",)),
        ({"1": {"type": "nonsense"}}, None, False, ("schemas", "1")),
    ],
)
def test_event_type_versions_are_checked(
    schemas: dict[str, object] | None,
    transformations: dict[str, dict[str, object]] | None,
    enforce: bool,
    field: tuple[str, ...],
) -> None:
    """Versions are numbers, schemas are JSON Schemas, a transformation turns the latest
    version into an older one, and enforcing needs a schema."""
    with pytest.raises(ValidationError) as refused:
        check_versioning(schemas, transformations, enforce)  # type: ignore[arg-type]
    assert refused.value.field[: len(field)] == field


def test_a_payload_hookline_cannot_keep_exactly_is_refused() -> None:
    """An integer beyond 64 bits would change on the way: refused, naming the payload."""
    assert encode_payload({"a": 1}) == b'{"a":1}'
    with pytest.raises(ValidationError) as refused:
        encode_payload({"a": 2**70})
    assert refused.value.field == ("payload",)


def test_names_from_paths_follow_the_id_rules() -> None:
    """A uid or name taken from a path is letters, digits, '-', '_' or '.', at most 256."""
    assert check_name("acme-1.b_c", "app_id") == "acme-1.b_c"
    for bad in ("", "a b", "x" * 257):
        with pytest.raises(ValidationError) as refused:
            check_name(bad, "app_id")
        assert refused.value.field == ("path", "app_id")
