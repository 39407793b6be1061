"""Tokens, the rate limiter, audit snapshots and log redaction: the pure parts of access control."""

from __future__ import annotations

import orjson
import pytest

from hookline.api.auth import RateLimiter
from hookline.domain import audit, tokens
from hookline.domain.models import Application, Endpoint, SigningKey
from hookline.logs import redact


def test_issued_token_is_stored_only_as_its_digest() -> None:
    plaintext, record = tokens.issue("ci", 100.0, token_id="tok_1", app_id="app_1")
    assert plaintext.startswith("hk_")
    assert len(plaintext) > 40
    assert record.token_hash == tokens.hash_token(plaintext)
    assert plaintext not in orjson.dumps(record).decode()
    assert plaintext.startswith(record.prefix)
    assert len(record.prefix) < 16
    assert record.principal == tokens.Principal("tok_1", app_id="app_1")


def test_two_tokens_never_repeat() -> None:
    assert len({tokens.generate_token() for _ in range(1000)}) == 1000


def test_token_problems() -> None:
    _, record = tokens.issue("t", 0.0, token_id="tok_1", expires_at=50.0)
    assert record.problem(49.0) is None
    assert record.problem(50.0) == "the token has expired"
    _, revoked = tokens.issue("t", 0.0, token_id="tok_2")
    from dataclasses import replace

    assert replace(revoked, revoked_at=10.0).problem(11.0) == "the token has been revoked"


def test_principal_reach() -> None:
    admin = tokens.Principal("tok_a")
    scoped = tokens.Principal("tok_b", app_id="app_1")
    assert admin.is_admin
    assert admin.may_see("app_2")
    assert admin.may_see(None)
    assert not scoped.is_admin
    assert scoped.may_see("app_1")
    assert not scoped.may_see("app_2")
    assert not scoped.may_see(None)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_allows_a_burst_then_the_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=10, burst=3, monotonic=clock)
    assert [limiter.wait_needed("t") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.wait_needed("t")
    assert wait == pytest.approx(0.1)
    assert limiter.wait_needed("other") == 0.0  # buckets are per token
    clock.now += 0.1
    assert limiter.wait_needed("t") == 0.0
    assert limiter.wait_needed("t") > 0


def test_rate_limiter_off_at_zero() -> None:
    limiter = RateLimiter(rate=0, burst=1)
    assert all(limiter.wait_needed("t") == 0.0 for _ in range(100))


def test_audit_snapshot_masks_secrets_and_header_values() -> None:
    endpoint = Endpoint(
        id="ep_1", app_id="app_1", url="https://example.com/hook",
        secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        old_secrets=(SigningKey("whsec_b2xkb2xkb2xkb2xkb2xkb2xkb2xkb2xk", 99.0),),
        headers={"Authorization": "Basic c2VjcmV0OnNlY3JldA=="},
    )  # fmt: skip
    entry = audit.change(tokens.Principal("tok_1"), "endpoint.created", None, endpoint, 5.0)
    text = orjson.dumps(entry).decode()
    assert "whsec_" not in text
    assert "c2VjcmV0" not in text
    assert entry.after is not None
    assert entry.after["secret"].startswith("<masked sha256:")
    assert entry.after["url"] == "https://example.com/hook"
    assert (entry.app_id, entry.actor, entry.resource_type) == ("app_1", "tok_1", "endpoint")
    # The same secret masks the same way, so a rotation shows as a changed fingerprint.
    assert audit.masked(endpoint.secret) == entry.after["secret"]


def test_audit_of_an_application_is_filed_under_it() -> None:
    app = Application(id="app_9", name="Acme")
    entry = audit.change(tokens.Principal("tok_1"), "application.deleted", app, None, 1.0)
    assert entry.app_id == "app_9"
    assert entry.after is None
    assert entry.before is not None


def test_audit_of_a_token_leaves_out_its_digest() -> None:
    _, record = tokens.issue("t", 0.0, token_id="tok_1")
    entry = audit.change(tokens.Principal("tok_0"), "token.created", None, record, 1.0)
    assert entry.after is not None
    assert "token_hash" not in entry.after


@pytest.mark.parametrize(
    "secret",
    [
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "hk_3q2-7_wAbCdEfGhIjKlMnOp",
        "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
        "v1a,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
    ],
)
def test_redact_removes_secret_shapes(secret: str) -> None:
    line = f'{{"msg": "failed", "error": "bad value {secret} here"}}'
    cleaned = redact(line)
    assert secret not in cleaned
    assert "<redacted>" in cleaned


def test_redact_removes_bearer_values_and_keeps_the_rest() -> None:
    assert redact("Authorization: Bearer abc.def-ghi") == "Authorization: <redacted>"
    plain = '{"msg": "attempt", "path": "/api/v1/app/app_1/msg", "status": 200}'
    assert redact(plain) == plain
