"""Tests for hookline.domain.secrets: sealing, binding to a row, rotation, key parsing."""

from __future__ import annotations

import base64

import pytest

from hookline.domain.secrets import (
    SEALED_PREFIX,
    SecretBox,
    generate_key,
    key_id,
    parse_keys,
)
from hookline.errors import ConfigError, HooklineError, SecretKeyError

KEY_A = base64.urlsafe_b64encode(b"A" * 32).decode()
KEY_B = base64.urlsafe_b64encode(b"B" * 32).decode()
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
HERE = "endpoint:ep_1:secret"


def test_round_trip() -> None:
    """A sealed secret unseals to the same text, and the sealed text does not contain it."""
    box = SecretBox.from_text(KEY_A)
    sealed = box.seal(SECRET, HERE)
    assert sealed.startswith(f"{SEALED_PREFIX}{key_id(b'A' * 32)}:")
    assert SECRET not in sealed
    assert SECRET.removeprefix("whsec_") not in sealed
    assert box.unseal(sealed, HERE) == SECRET


def test_each_seal_uses_a_fresh_nonce() -> None:
    """Sealing the same secret twice gives two different texts."""
    box = SecretBox.from_text(KEY_A)
    assert box.seal(SECRET, HERE) != box.seal(SECRET, HERE)


def test_nonce_comes_from_the_injected_random_source() -> None:
    """The random source is an argument: the same source gives the same sealed text."""

    def fixed(n: int) -> bytes:
        return b"\x01" * n

    first = SecretBox([b"A" * 32], token_bytes=fixed).seal(SECRET, HERE)
    assert SecretBox([b"A" * 32], token_bytes=fixed).seal(SECRET, HERE) == first


def test_ciphertext_moved_to_another_row_does_not_unseal() -> None:
    """A sealed value copied to another endpoint or column fails, even once cached."""
    box = SecretBox.from_text(KEY_A)
    sealed = box.seal(SECRET, HERE)
    assert box.unseal(sealed, HERE) == SECRET  # now in the cache
    for elsewhere in ("endpoint:ep_2:secret", "endpoint:ep_1:old_secrets"):
        with pytest.raises(SecretKeyError, match="copied from another row") as caught:
            box.unseal(sealed, elsewhere)
        assert SECRET not in str(caught.value)


def test_altered_ciphertext_does_not_unseal() -> None:
    """Flipping one character of the sealed body is detected."""
    box = SecretBox.from_text(KEY_A)
    sealed = box.seal(SECRET, HERE)
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(SecretKeyError):
        box.unseal(flipped, HERE)


def test_rotation_new_key_seals_old_key_still_unseals() -> None:
    """With keys "B,A", values sealed under A unseal, and new values are sealed under B."""
    under_a = SecretBox.from_text(KEY_A).seal(SECRET, HERE)
    rotating = SecretBox.from_text(f"{KEY_B},{KEY_A}")
    assert rotating.unseal(under_a, HERE) == SECRET
    assert not rotating.is_current(under_a)
    under_b = rotating.seal(SECRET, HERE)
    assert rotating.is_current(under_b)
    assert SecretBox.from_text(KEY_B).unseal(under_b, HERE) == SECRET
    assert rotating.key_ids == (key_id(b"B" * 32), key_id(b"A" * 32))


def test_missing_key_names_its_id_not_the_secret() -> None:
    """Unsealing without the right key raises SecretKeyError naming the key id only."""
    sealed = SecretBox.from_text(KEY_A).seal(SECRET, HERE)
    with pytest.raises(SecretKeyError) as caught:
        SecretBox.from_text(KEY_B).unseal(sealed, HERE)
    error = caught.value
    assert isinstance(error, HooklineError)
    assert error.key_id == key_id(b"A" * 32)
    assert error.key_id in error.detail
    for revealing in (SECRET, KEY_A, KEY_B, SECRET.removeprefix("whsec_")):
        assert revealing not in error.detail


def test_legacy_plaintext_passes_through() -> None:
    """A value written before encryption (not in the sealed format) unseals to itself."""
    box = SecretBox.from_text(KEY_A)
    assert box.unseal(SECRET, HERE) == SECRET
    assert not box.is_current(SECRET)


def test_generated_keys_parse_and_differ() -> None:
    """generate_key makes a fresh, valid 32-byte key each time."""
    first, second = generate_key(), generate_key()
    assert first != second
    assert [len(k) for k in parse_keys(f"{first},{second}")] == [32, 32]


def test_keys_parse_with_spaces_and_without_padding() -> None:
    """Keys are trimmed, and the trailing "=" of base64 padding is optional."""
    assert parse_keys(f" {KEY_A.rstrip('=')} , {KEY_B} ") == [b"A" * 32, b"B" * 32]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "holds no key"),
        (" , ", "holds no key"),
        ("c2hvcnQ=", "key 1 of 1 is not urlsafe base64 of 32 bytes"),
        (base64.urlsafe_b64encode(b"x" * 48).decode(), "key 1 of 1"),
        (f"{KEY_A},{KEY_B[:-2]}+=", "key 2 of 2"),
        (f"{KEY_A},", "key 2 of 2"),
        (f"{KEY_A},{KEY_A}", "key 2 repeats an earlier key"),
    ],
)
def test_bad_keys_are_refused_without_echoing_them(text: str, problem: str) -> None:
    """A malformed key list raises ConfigError saying which key, never what it is."""
    with pytest.raises(ConfigError, match=problem) as caught:
        parse_keys(text)
    for part in filter(None, (p.strip() for p in text.split(","))):
        assert part not in caught.value.detail


def test_box_refuses_keys_of_the_wrong_size() -> None:
    """Keys given as bytes must be 32 bytes each, and there must be at least one."""
    with pytest.raises(ConfigError):
        SecretBox([b"short"])
    with pytest.raises(ConfigError):
        SecretBox([])
