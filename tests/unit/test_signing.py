"""Tests for hookline.domain.signing: spec vectors, library interop, rejections."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import standardwebhooks
import svix.webhooks
from hypothesis import given
from hypothesis import strategies as st

from hookline.domain import signing
from hookline.domain.signing import SignatureError, Signer
from hookline.errors import HooklineError

# The vector every Standard Webhooks reference library tests against.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

# The asymmetric vector of the spec repository's Go library (webhook_asymmetric_test.go):
# a 32-byte Ed25519 seed, same message id, timestamp and payload as above.
SPEC_PRIVATE_KEY = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk="
SPEC_V1A_SIGNATURE = (
    "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag=="
)

OTHER_SECRET = "whsec_" + base64.b64encode(b"another secret, 24 bytes").decode()
BODY = '{"type":"invoice.paid","data":{"amount":42,"name":"Zoë"}}'.encode()
MSG_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
NOW = 1_700_000_000


def counting_bytes(n: int) -> bytes:
    """A deterministic stand-in for secrets.token_bytes."""
    return bytes(range(n))


def spec_headers(signature: str = SPEC_SIGNATURE) -> dict[str, str]:
    """The spec vector as received headers."""
    return {
        "webhook-id": SPEC_MSG_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": signature,
    }


def reason_of(func: Callable[..., object], *args: object, **kwargs: object) -> str:
    """Call ``func`` and return the reason of the SignatureError it raises."""
    with pytest.raises(SignatureError) as caught:
        func(*args, **kwargs)
    return caught.value.reason


# --- the spec's published vectors ---------------------------------------------------


def test_spec_vector_signs_to_published_signature() -> None:
    """The spec's test vector signs to its published v1 signature."""
    assert signing.sign(SPEC_SECRET, SPEC_MSG_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_spec_vector_matches_standardwebhooks_library() -> None:
    """The standardwebhooks library produces the same published signature."""
    when = datetime.fromtimestamp(SPEC_TIMESTAMP, tz=UTC)
    theirs = standardwebhooks.Webhook(SPEC_SECRET).sign(SPEC_MSG_ID, when, SPEC_BODY.decode())
    assert theirs == SPEC_SIGNATURE


def test_spec_vector_verifies() -> None:
    """The spec's published signature verifies at its own timestamp."""
    signing.verify(SPEC_SECRET, SPEC_BODY, spec_headers(), now=SPEC_TIMESTAMP)


def test_spec_vector_verifies_with_unprefixed_secret() -> None:
    """A secret given as bare base64, without whsec_, verifies like the prefixed one."""
    bare = SPEC_SECRET.removeprefix("whsec_")
    signing.verify(bare, SPEC_BODY, spec_headers(), now=SPEC_TIMESTAMP)


def test_spec_asymmetric_vector_signs_to_published_signature() -> None:
    """The spec library's Ed25519 vector signs to its published v1a signature."""
    signature = signing.sign(SPEC_PRIVATE_KEY, SPEC_MSG_ID, SPEC_TIMESTAMP, SPEC_BODY)
    assert signature == SPEC_V1A_SIGNATURE


def test_spec_asymmetric_vector_verifies_with_public_key() -> None:
    """The published v1a signature verifies with the whpk_ key derived from the seed."""
    public = signing.public_key(SPEC_PRIVATE_KEY)
    signing.verify(public, SPEC_BODY, spec_headers(SPEC_V1A_SIGNATURE), now=SPEC_TIMESTAMP)


# --- secrets --------------------------------------------------------------------------


def test_generate_secret_draws_24_bytes_like_svix() -> None:
    """A new secret is whsec_ and the base64 of 24 bytes from the given source."""
    asked: list[int] = []

    def source(n: int) -> bytes:
        asked.append(n)
        return counting_bytes(n)

    secret = signing.generate_secret(source)
    assert asked == [24]
    assert secret == "whsec_" + base64.b64encode(bytes(range(24))).decode()


def test_generated_secret_is_accepted_by_standardwebhooks() -> None:
    """A generated secret is one the standardwebhooks library can load and verify with."""
    secret = signing.generate_secret()
    now = int(time.time())
    sent = signing.headers(secret, MSG_ID, now, BODY)
    standardwebhooks.Webhook(secret).verify(BODY, sent, json_parse=False)


@pytest.mark.parametrize(
    "secret",
    ["whsec_", "", "whsec_not*base64!", "whsk_AAAA", "whpk_AAAA", "whsk_" + "A" * 87],
)
def test_unreadable_secret_is_bad_secret(secret: str) -> None:
    """An empty, non-base64 or wrongly sized secret is rejected as bad_secret."""
    assert reason_of(Signer.from_secret, secret) == "bad_secret"


def test_bad_secret_while_verifying_is_reported() -> None:
    """Verifying with an unreadable secret raises bad_secret, not a crash."""
    assert (
        reason_of(signing.verify, "whsec_%%%", SPEC_BODY, spec_headers(), SPEC_TIMESTAMP)
        == "bad_secret"
    )


def test_public_key_cannot_sign() -> None:
    """Signing with a whpk_ public key is refused as bad_secret."""
    public = signing.public_key(SPEC_PRIVATE_KEY)
    assert reason_of(signing.sign, public, MSG_ID, NOW, BODY) == "bad_secret"


def test_no_secrets_is_bad_secret() -> None:
    """An empty list of secrets is refused rather than producing an empty header."""
    assert reason_of(signing.signature_header, [], MSG_ID, NOW, BODY) == "bad_secret"


def test_signature_error_is_a_hookline_error() -> None:
    """SignatureError derives from HooklineError and carries its reason."""
    error = SignatureError("timestamp_too_old")
    assert isinstance(error, HooklineError)
    assert error.reason == "timestamp_too_old"
    assert error.code == "invalid_signature"


def test_signer_object_signs_like_the_secret_string() -> None:
    """A pre-built Signer signs exactly as its secret string does."""
    signer = Signer.from_secret(SPEC_SECRET)
    assert signer.version == "v1"
    assert signer.sign(SPEC_MSG_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE
    assert signing.sign(signer, SPEC_MSG_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


# --- headers and interop ---------------------------------------------------------------


def test_headers_are_the_three_webhook_headers() -> None:
    """headers() returns webhook-id, -timestamp and -signature for the message."""
    sent = signing.headers(SPEC_SECRET, SPEC_MSG_ID, SPEC_TIMESTAMP, SPEC_BODY)
    assert sent == spec_headers()


def test_headers_with_svix_flag_repeat_values_under_svix_names() -> None:
    """With svix_headers, the svix-* headers carry the same values as webhook-*."""
    sent = signing.headers(SPEC_SECRET, SPEC_MSG_ID, SPEC_TIMESTAMP, SPEC_BODY, svix_headers=True)
    assert sent == {
        **spec_headers(),
        "svix-id": SPEC_MSG_ID,
        "svix-timestamp": str(SPEC_TIMESTAMP),
        "svix-signature": SPEC_SIGNATURE,
    }


def test_standardwebhooks_accepts_hookline_signature() -> None:
    """A webhook signed here verifies with standardwebhooks.Webhook."""
    now = int(time.time())
    sent = signing.headers(SPEC_SECRET, MSG_ID, now, BODY)
    assert standardwebhooks.Webhook(SPEC_SECRET).verify(BODY, sent) == {
        "type": "invoice.paid",
        "data": {"amount": 42, "name": "Zoë"},
    }


def test_svix_accepts_hookline_signature_with_svix_headers_only() -> None:
    """A webhook signed here verifies with svix.webhooks.Webhook from the svix-* headers."""
    now = int(time.time())
    sent = signing.headers(SPEC_SECRET, MSG_ID, now, BODY, svix_headers=True)
    svix_only = {name: value for name, value in sent.items() if name.startswith("svix-")}
    svix.webhooks.Webhook(SPEC_SECRET).verify(BODY, svix_only)


def test_standardwebhooks_accepts_rotation_header() -> None:
    """standardwebhooks accepts a two-signature header with either secret."""
    now = int(time.time())
    sent = signing.headers([SPEC_SECRET, OTHER_SECRET], MSG_ID, now, BODY)
    for secret in (SPEC_SECRET, OTHER_SECRET):
        standardwebhooks.Webhook(secret).verify(BODY, sent, json_parse=False)


def test_hookline_accepts_standardwebhooks_signature() -> None:
    """A signature made by standardwebhooks verifies here."""
    now = int(time.time())
    when = datetime.fromtimestamp(now, tz=UTC)
    theirs = standardwebhooks.Webhook(SPEC_SECRET).sign(MSG_ID, when, BODY.decode())
    received = {"webhook-id": MSG_ID, "webhook-timestamp": str(now), "webhook-signature": theirs}
    signing.verify(SPEC_SECRET, BODY, received, now=now)


def test_hookline_accepts_svix_headers() -> None:
    """A webhook carrying only svix-* headers verifies here."""
    received = {
        "svix-id": SPEC_MSG_ID,
        "svix-timestamp": str(SPEC_TIMESTAMP),
        "svix-signature": SPEC_SIGNATURE,
    }
    signing.verify(SPEC_SECRET, SPEC_BODY, received, now=SPEC_TIMESTAMP)


def test_header_names_are_case_insensitive() -> None:
    """Header names match whatever their case."""
    received = {name.title(): value for name, value in spec_headers().items()}
    assert "Webhook-Signature" in received
    signing.verify(SPEC_SECRET, SPEC_BODY, received, now=SPEC_TIMESTAMP)


# --- rotation and signature lists --------------------------------------------------------


def test_rotation_header_verifies_with_either_secret() -> None:
    """A header with two signatures verifies with either of the two secrets."""
    received = signing.headers([SPEC_SECRET, OTHER_SECRET], MSG_ID, NOW, BODY)
    assert len(received["webhook-signature"].split(" ")) == 2
    for secret in (SPEC_SECRET, OTHER_SECRET):
        signing.verify(secret, BODY, received, now=NOW)


def test_verify_accepts_any_of_several_secrets() -> None:
    """A receiver holding old and new secrets accepts a message signed with one of them."""
    received = signing.headers(OTHER_SECRET, MSG_ID, NOW, BODY)
    signing.verify([SPEC_SECRET, OTHER_SECRET], BODY, received, now=NOW)


def test_duplicate_secrets_give_one_signature() -> None:
    """The same secret listed twice yields its signature once."""
    header = signing.signature_header(
        [SPEC_SECRET, SPEC_SECRET], SPEC_MSG_ID, SPEC_TIMESTAMP, SPEC_BODY
    )
    assert header == SPEC_SIGNATURE


def test_unknown_versions_are_ignored() -> None:
    """Unknown or malformed entries are skipped and a valid v1 among them still passes."""
    header = f"v2,abc v1,%%% junk {SPEC_SIGNATURE} v1a,AAAA"
    signing.verify(SPEC_SECRET, SPEC_BODY, spec_headers(header), now=SPEC_TIMESTAMP)


def test_valid_bytes_under_unknown_version_do_not_pass() -> None:
    """The right MAC labelled with an unknown version is not accepted."""
    header = SPEC_SIGNATURE.replace("v1,", "v2,")
    assert (
        reason_of(signing.verify, SPEC_SECRET, SPEC_BODY, spec_headers(header), SPEC_TIMESTAMP)
        == "no_matching_signature"
    )


# --- rejections --------------------------------------------------------------------------


def test_tampered_body_is_rejected() -> None:
    """A body changed after signing fails with no_matching_signature."""
    assert (
        reason_of(signing.verify, SPEC_SECRET, SPEC_BODY + b" ", spec_headers(), SPEC_TIMESTAMP)
        == "no_matching_signature"
    )


def test_wrong_secret_is_rejected() -> None:
    """A signature made with another secret fails with no_matching_signature."""
    assert (
        reason_of(signing.verify, OTHER_SECRET, SPEC_BODY, spec_headers(), SPEC_TIMESTAMP)
        == "no_matching_signature"
    )


def test_changed_msg_id_is_rejected() -> None:
    """The message id is signed, so changing it fails verification."""
    received = {**spec_headers(), "webhook-id": "msg_other"}
    assert (
        reason_of(signing.verify, SPEC_SECRET, SPEC_BODY, received, SPEC_TIMESTAMP)
        == "no_matching_signature"
    )


def test_stale_timestamp_is_rejected() -> None:
    """A timestamp older than the tolerance fails with timestamp_too_old."""
    assert (
        reason_of(signing.verify, SPEC_SECRET, SPEC_BODY, spec_headers(), SPEC_TIMESTAMP + 301)
        == "timestamp_too_old"
    )


def test_future_timestamp_is_rejected() -> None:
    """A timestamp further ahead than the tolerance fails with timestamp_in_future."""
    assert (
        reason_of(signing.verify, SPEC_SECRET, SPEC_BODY, spec_headers(), SPEC_TIMESTAMP - 301)
        == "timestamp_in_future"
    )


@pytest.mark.parametrize("offset", [-300, 300])
def test_timestamp_at_the_tolerance_edge_passes(offset: int) -> None:
    """A timestamp exactly tolerance seconds off still verifies."""
    signing.verify(SPEC_SECRET, SPEC_BODY, spec_headers(), now=SPEC_TIMESTAMP + offset)


def test_custom_tolerance_is_honoured() -> None:
    """A tighter tolerance rejects what the default would accept."""
    reason = reason_of(
        signing.verify, SPEC_SECRET, SPEC_BODY, spec_headers(), SPEC_TIMESTAMP + 10, tolerance=5
    )
    assert reason == "timestamp_too_old"


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_rejected(missing: str) -> None:
    """Leaving out any one of the three headers fails with missing_headers."""
    received = {name: value for name, value in spec_headers().items() if name != missing}
    assert (
        reason_of(signing.verify, SPEC_SECRET, SPEC_BODY, received, SPEC_TIMESTAMP)
        == "missing_headers"
    )


def test_mixed_header_families_are_not_combined() -> None:
    """webhook-id with svix-timestamp and svix-signature is not a complete set."""
    received = {
        "webhook-id": SPEC_MSG_ID,
        "svix-timestamp": str(SPEC_TIMESTAMP),
        "svix-signature": SPEC_SIGNATURE,
    }
    assert (
        reason_of(signing.verify, SPEC_SECRET, SPEC_BODY, received, SPEC_TIMESTAMP)
        == "missing_headers"
    )


@pytest.mark.parametrize("timestamp", ["1614265330.5", "-1", "+1614265330", "abc", "1" * 40])
def test_malformed_timestamp_is_rejected(timestamp: str) -> None:
    """A timestamp header that is not plain digits is treated as a missing header."""
    received = {**spec_headers(), "webhook-timestamp": timestamp}
    assert (
        reason_of(signing.verify, SPEC_SECRET, SPEC_BODY, received, SPEC_TIMESTAMP)
        == "missing_headers"
    )


# --- asymmetric v1a -----------------------------------------------------------------------


def test_v1a_round_trip() -> None:
    """An Ed25519 keypair signs with whsk_ and verifies with whpk_ (and with whsk_)."""
    private, public = signing.generate_keypair(counting_bytes)
    assert private.startswith("whsk_")
    assert public.startswith("whpk_")
    assert len(base64.b64decode(public.removeprefix("whpk_"))) == 32
    received = signing.headers(private, MSG_ID, NOW, BODY)
    assert received["webhook-signature"].startswith("v1a,")
    signing.verify(public, BODY, received, now=NOW)
    signing.verify(private, BODY, received, now=NOW)
    assert Signer.from_secret(public).can_sign is False


def test_v1a_tampered_body_is_rejected() -> None:
    """A v1a signature does not verify a changed body."""
    private, public = signing.generate_keypair(counting_bytes)
    received = signing.headers(private, MSG_ID, NOW, BODY)
    assert reason_of(signing.verify, public, BODY + b"!", received, NOW) == "no_matching_signature"


def test_v1a_and_v1_do_not_cross_verify() -> None:
    """A symmetric secret ignores v1a signatures and a public key ignores v1 ones."""
    public = signing.public_key(SPEC_PRIVATE_KEY)
    v1a_only = spec_headers(SPEC_V1A_SIGNATURE)
    v1_only = spec_headers()
    assert reason_of(signing.verify, SPEC_SECRET, SPEC_BODY, v1a_only, SPEC_TIMESTAMP) == (
        "no_matching_signature"
    )
    assert reason_of(signing.verify, public, SPEC_BODY, v1_only, SPEC_TIMESTAMP) == (
        "no_matching_signature"
    )


def test_mixed_header_carries_v1_and_v1a() -> None:
    """Signing with a whsec_ and a whsk_ secret yields both versions, each verifiable."""
    header = signing.signature_header(
        [SPEC_SECRET, SPEC_PRIVATE_KEY], SPEC_MSG_ID, SPEC_TIMESTAMP, SPEC_BODY
    )
    assert header == f"{SPEC_SIGNATURE} {SPEC_V1A_SIGNATURE}"
    public = signing.public_key(SPEC_PRIVATE_KEY)
    for secret in (SPEC_SECRET, public):
        signing.verify(secret, SPEC_BODY, spec_headers(header), now=SPEC_TIMESTAMP)


def test_v1a_accepts_64_byte_libsodium_private_key() -> None:
    """A whsk_ key in the 64-byte seed-plus-public form signs like its 32-byte seed."""
    seed = base64.b64decode(SPEC_PRIVATE_KEY.removeprefix("whsk_"))
    public_raw = base64.b64decode(signing.public_key(SPEC_PRIVATE_KEY).removeprefix("whpk_"))
    long_form = "whsk_" + base64.b64encode(seed + public_raw).decode()
    signature = signing.sign(long_form, SPEC_MSG_ID, SPEC_TIMESTAMP, SPEC_BODY)
    assert signature == SPEC_V1A_SIGNATURE
    wrong_half = "whsk_" + base64.b64encode(seed + bytes(32)).decode()
    assert reason_of(Signer.from_secret, wrong_half) == "bad_secret"


# --- properties ----------------------------------------------------------------------------

msg_ids = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=64)


@given(msg_id=msg_ids, body=st.binary(max_size=512), data=st.data())
def test_sign_then_verify_round_trips_and_any_byte_change_fails(
    msg_id: str, body: bytes, data: st.DataObject
) -> None:
    """Any id and body verify after signing, and changing any one body byte breaks it."""
    received = signing.headers([SPEC_SECRET, SPEC_PRIVATE_KEY], msg_id, NOW, body)
    public = signing.public_key(SPEC_PRIVATE_KEY)
    signing.verify(SPEC_SECRET, body, received, now=NOW)
    signing.verify(public, body, received, now=NOW)
    if not body:
        return
    index = data.draw(st.integers(0, len(body) - 1), label="index")
    flip = data.draw(st.integers(1, 255), label="xor")  # non-zero, so the byte does change
    changed = body[:index] + bytes([body[index] ^ flip]) + body[index + 1 :]
    for secret in (SPEC_SECRET, public):
        assert reason_of(signing.verify, secret, changed, received, NOW) == "no_matching_signature"
