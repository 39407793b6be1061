"""Secrets at rest: seal values with AES-256-GCM before they are stored, unseal them after.

A ``SecretBox`` holds one or more 256-bit keys. The first one seals; every one of
them unseals, which is what makes a key rotation possible: run with ``new,old``,
re-seal everything (``hookline rekey``), then drop ``old``.

A sealed value is text that says how it was made::

    enc:v1:<key id>:<urlsafe base64 of nonce (12 bytes) + ciphertext and tag>

The key id is the first 8 hex digits of the key's SHA-256, so unsealing picks its
key at once and a missing key can be named without revealing it. Every value is
sealed with associated data naming where it lives (for example
``endpoint:ep_...:secret``): a ciphertext copied onto another row or field does
not unseal. A value that is not in this format was written before secrets were
encrypted, and unseals to itself, so existing databases keep working until they
are re-sealed.

Pure logic: the random source is an argument; nothing here reads files or settings.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from secrets import token_bytes as _token_bytes

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hookline.errors import ConfigError, SecretKeyError

__all__ = [
    "KEY_BYTES",
    "SEALED_PREFIX",
    "SecretBox",
    "generate_key",
    "key_id",
    "parse_keys",
]

#: AES-256: keys are 32 bytes.
KEY_BYTES = 32
#: GCM's standard nonce size; a fresh random nonce per seal.
NONCE_BYTES = 12
SEALED_PREFIX = "enc:v1:"
#: Decrypted values kept per box. The worker unseals an endpoint's secret on every
#: claimed delivery; with the cache that is a dictionary lookup, not an AES call.
DEFAULT_CACHE_SIZE = 8192

# 32 bytes in urlsafe base64: 43 characters and one optional "=" of padding.
_KEY_TEXT = re.compile(r"[A-Za-z0-9_-]{43}=?")


def key_id(key: bytes) -> str:
    """The short public name of a key: the first 8 hex digits of its SHA-256."""
    return hashlib.sha256(key).hexdigest()[:8]


def generate_key(token_bytes: Callable[[int], bytes] = _token_bytes) -> str:
    """A new key as the settings spell it: urlsafe base64 of 32 random bytes."""
    return base64.urlsafe_b64encode(token_bytes(KEY_BYTES)).decode()


def parse_keys(text: str, source: str = "HOOKLINE_SECRET_KEY") -> list[bytes]:
    """Read comma-separated keys; ``source`` names where they came from in errors.

    Errors say which key is wrong (by position), never what it is.
    """
    parts = [part.strip() for part in text.split(",")]
    if not any(parts):
        raise ConfigError(f"{source} holds no key")
    keys: list[bytes] = []
    for position, part in enumerate(parts, start=1):
        if not _KEY_TEXT.fullmatch(part):
            raise ConfigError(
                f"{source}: key {position} of {len(parts)} is not urlsafe base64 of "
                f"{KEY_BYTES} bytes (make one with `hookline keygen`)"
            )
        key = base64.urlsafe_b64decode(part.rstrip("=") + "=")
        if key in keys:
            raise ConfigError(f"{source}: key {position} repeats an earlier key ({key_id(key)})")
        keys.append(key)
    return keys


class SecretBox:
    """A keyring that seals text with its first key and unseals with any of its keys."""

    def __init__(
        self,
        keys: Sequence[bytes],
        token_bytes: Callable[[int], bytes] = _token_bytes,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        if not keys:
            raise ConfigError("a SecretBox needs at least one key")
        if any(len(key) != KEY_BYTES for key in keys):
            raise ConfigError(f"secret keys are {KEY_BYTES} bytes each")
        self._ciphers = {key_id(key): AESGCM(key) for key in keys}
        self.current_key_id = key_id(keys[0])
        self._token_bytes = token_bytes
        # lru_cache is thread-safe and never caches a failure; the storage backends
        # unseal on several threads at once.
        self._unseal_cached = lru_cache(maxsize=cache_size)(self._decrypt)

    @classmethod
    def from_text(cls, text: str, source: str = "HOOKLINE_SECRET_KEY") -> SecretBox:
        """A box over the comma-separated keys of a setting (see ``parse_keys``)."""
        return cls(parse_keys(text, source))

    @property
    def key_ids(self) -> tuple[str, ...]:
        """The ids of the keys, the sealing key first."""
        return tuple(self._ciphers)

    def seal(self, plaintext: str, context: str) -> str:
        """Encrypt ``plaintext`` under the first key, bound to ``context`` (where it is stored)."""
        nonce = self._token_bytes(NONCE_BYTES)
        cipher = self._ciphers[self.current_key_id]
        sealed_bytes = nonce + cipher.encrypt(nonce, plaintext.encode(), context.encode())
        body = base64.urlsafe_b64encode(sealed_bytes).decode()
        return f"{SEALED_PREFIX}{self.current_key_id}:{body}"

    def unseal(self, stored: str, context: str) -> str:
        """The plaintext of a sealed value; a value that was never sealed comes back as is.

        Raises ``SecretKeyError`` when no key of the box fits, or the value was altered or
        belongs to another ``context``.
        """
        if not stored.startswith(SEALED_PREFIX):
            return stored
        return self._unseal_cached(stored, context)

    def is_current(self, stored: str) -> bool:
        """Whether ``stored`` is sealed under this box's sealing key (nothing to re-seal)."""
        return stored.startswith(f"{SEALED_PREFIX}{self.current_key_id}:")

    def _decrypt(self, sealed: str, context: str) -> str:
        found_id, _, body = sealed.removeprefix(SEALED_PREFIX).partition(":")
        cipher = self._ciphers.get(found_id)
        if cipher is None:
            raise SecretKeyError(
                f"a stored secret is sealed with key {found_id}, which is not configured "
                f"(configured: {', '.join(self.key_ids)}); add it to HOOKLINE_SECRET_KEY",
                key_id=found_id,
            )
        try:
            raw = base64.urlsafe_b64decode(body.encode())
            nonce, ciphertext = raw[:NONCE_BYTES], raw[NONCE_BYTES:]
            return cipher.decrypt(nonce, ciphertext, context.encode()).decode()
        except (InvalidTag, binascii.Error, ValueError):
            raise SecretKeyError(
                f"a stored secret sealed with key {found_id} does not unseal for {context}: "
                "it was altered or copied from another row",
                key_id=found_id,
            ) from None
