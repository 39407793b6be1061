"""The exceptions hookline raises.

Every error derives from one root, so callers can catch ``HooklineError`` alone::

    HooklineError
    ├── ConfigError          a setting is missing or malformed
    ├── ValidationError      input is well-formed JSON but breaks a rule (API: 422)
    ├── TooLargeError        a body or payload is over its size limit (API: 413)
    ├── AuthenticationError  no token, or one that is invalid, expired or revoked (API: 401)
    ├── ForbiddenError       the caller's token may not do this (API: 403)
    ├── NotFoundError        an id or uid names nothing (API: 404)
    ├── ConflictError        a uid or eventId is already taken (API: 409)
    ├── StorageError         the database refused or is unreachable (API: 503)
    │   ├── MigrationError   the schema could not be brought up to date
    │   └── BackupError      a backup or restore was refused or failed (see hookline.backup)
    ├── SecretKeyError       a stored secret does not unseal with the configured keys
    ├── SignatureError       a webhook signature did not verify (see domain.signing)
    └── VerificationFailed   an inbound webhook failed its verifier (see domain.verifiers; API: 401)

Each carries structured fields (``code``, ``detail`` and, where it applies, the
``field`` at fault) so the API can answer with them and logs can index them.
"""

from __future__ import annotations


class HooklineError(Exception):
    """Root of every hookline error; ``code`` is a stable machine-readable name."""

    code = "error"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code


class ConfigError(HooklineError):
    """A setting is missing, malformed or contradicts another."""

    code = "config_error"


class ValidationError(HooklineError):
    """Input breaks a rule; ``field`` is the path of the offending value."""

    code = "validation"

    def __init__(self, detail: str, *, field: tuple[str | int, ...] = ()) -> None:
        super().__init__(detail)
        self.field = field


class TooLargeError(HooklineError):
    """A request body or a message payload is larger than the configured limit."""

    code = "payload_too_large"


class AuthenticationError(HooklineError):
    """The caller did not prove who it is."""

    code = "authentication_failed"


class ForbiddenError(HooklineError):
    """The caller is known but its token may not do this."""

    code = "forbidden"


class NotFoundError(HooklineError):
    """The named resource does not exist (or is not visible to the caller)."""

    code = "not_found"


class ConflictError(HooklineError):
    """The resource already exists under that uid or eventId."""

    code = "conflict"


class StorageError(HooklineError):
    """The database failed; the operation changed nothing and may be retried."""

    code = "storage_unavailable"


class MigrationError(StorageError):
    """The schema could not be migrated to the version this code expects."""

    code = "migration_failed"


class BackupError(StorageError):
    """A backup or restore was refused (not a hookline database, a newer schema, a database
    in use) or failed; it changed nothing."""

    code = "backup_failed"


class SecretKeyError(HooklineError):
    """A stored secret does not unseal: its key (``key_id``) is missing, or it was altered.

    The message names the key by its id (a fingerprint), never the key or the secret.
    """

    code = "secret_key"

    def __init__(self, detail: str, *, key_id: str) -> None:
        super().__init__(detail)
        self.key_id = key_id


class VerificationFailed(HooklineError):
    """An inbound webhook failed its verifier's check (API: 401).

    ``detail`` is the generic message a receiver answers with, the same for every
    failure, so a forger learns nothing from it. ``reason`` is the precise cause
    ("no signature matched", "missing header x-hub-signature-256"...), for logs and
    metrics only; it never holds a secret or a computed signature.
    """

    code = "signature_invalid"
    #: What a receiver answers, whatever the reason.
    public_detail = "invalid signature"

    def __init__(self, reason: str) -> None:
        super().__init__(self.public_detail)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.public_detail}: {self.reason}"
