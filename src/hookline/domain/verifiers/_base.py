"""What every verifier shares: the request, the event, MACs, timestamps, options, the spec.

Pure: no I/O, and the clock is an argument of ``verify``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal, Protocol, cast, runtime_checkable

import orjson

from hookline.errors import ValidationError, VerificationFailed

#: Five minutes either way: what Stripe, Slack and Standard Webhooks libraries allow.
DEFAULT_TOLERANCE = 300

#: The reason when every signature was checked and none was made by an accepted secret.
NO_MATCH = "no signature matched"

# A Unix timestamp in seconds has 10 digits until the year 2286 (13 in milliseconds);
# the bound keeps a hostile header from costing a long int parse.
_MAX_TIMESTAMP_DIGITS = 20


@dataclass(frozen=True, slots=True)
class InboundRequest:
    """A received webhook request, as the provider sent it.

    ``url`` is the full URL the provider called (Twilio, HubSpot and PandaDoc sign
    or carry something in it); ``headers`` names are lower-cased on construction,
    so lookups ignore case.
    """

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes

    def __post_init__(self) -> None:
        lowered = {name.lower(): value for name, value in self.headers.items()}
        object.__setattr__(self, "headers", MappingProxyType(lowered))

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (any case), or None."""
        return self.headers.get(name.lower())


@dataclass(frozen=True, slots=True)
class VerifiedEvent:
    """What a successful verification learnt about the event.

    ``event_id`` is the provider's id for deduplication, ``event_type`` its event
    name, ``timestamp`` the signed time (epoch seconds) for timestamped schemes.
    ``answer_fields`` are (name, value) pairs the provider wants back in the JSON
    answer (Adobe Sign's client id echo).
    """

    event_id: str | None = None
    event_type: str | None = None
    timestamp: float | None = None
    answer_fields: tuple[tuple[str, str], ...] = ()


class Verifier(Protocol):
    """Checks one provider's signature scheme."""

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        """Return what the request says about its event, or raise ``VerificationFailed``."""
        ...


@runtime_checkable
class Handshake(Protocol):
    """A verifier whose provider checks the endpoint first (Zoom, Meta, Adobe Sign...).

    ``answer`` is called on a request that passed ``verify``: it returns the JSON
    body to answer with (status 200, nothing stored), or None for an ordinary event.
    """

    def answer(self, request: InboundRequest) -> bytes | None:
        """The handshake's answer, or None when the request is an event to store."""
        ...


# ---------------------------------------------------------------------------
# Headers, timestamps, encodings


def require_header(request: InboundRequest, name: str) -> str:
    """The header's value, or fail naming the missing header."""
    value = request.header(name)
    if not value:
        raise VerificationFailed(f"missing header {name}")
    return value


def check_timestamp(text: str, now: float, tolerance: float, *, per_second: int = 1) -> int:
    """Parse a Unix timestamp and refuse it outside the replay window.

    ``per_second`` is 1000 for providers that send milliseconds (Airwallex, HubSpot);
    the result is in the unit received.
    """
    text = text.strip()
    # Digits only: int() would also take "+5", " 5", "1_000" or non-ASCII digits.
    if not (text.isascii() and text.isdigit() and len(text) <= _MAX_TIMESTAMP_DIGITS):
        raise VerificationFailed("timestamp is not a Unix timestamp")
    timestamp = int(text)
    if timestamp < (now - tolerance) * per_second:
        raise VerificationFailed("timestamp too old (outside the replay window)")
    if timestamp > (now + tolerance) * per_second:
        raise VerificationFailed("timestamp in the future (outside the replay window)")
    return timestamp


Encoding = Literal["hex", "base64", "base64url"]


def decode(value: str, encoding: Encoding) -> bytes | None:
    """Decode a received signature; None if it is malformed."""
    try:
        if encoding == "hex":
            return bytes.fromhex(value)
        padded = value + "=" * (-len(value) % 4)
        if encoding == "base64url":
            return base64.urlsafe_b64decode(padded.encode("ascii"))
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None


class HmacKeys:
    """Every accepted secret, keyed once for one hash, checking signatures against all.

    Keying once and copying the keyed state per request skips re-hashing the key
    pads each time, which is much of the cost for small bodies.
    """

    __slots__ = ("_keyed",)

    def __init__(self, secrets: Sequence[bytes], algorithm: str) -> None:
        self._keyed = tuple(hmac.new(secret, digestmod=algorithm) for secret in secrets)

    def matches(self, parts: Sequence[bytes], provided: Sequence[bytes | None]) -> bool:
        """Tell whether any provided signature is the MAC of ``parts`` under any secret."""
        candidates = [signature for signature in provided if signature]
        for keyed in self._keyed:
            mac = keyed.copy()
            # One update per part: no copy of a large body to prepend a prefix.
            for part in parts:
                mac.update(part)
            expected = mac.digest()
            # compare_digest, not ==: an early-exit comparison would let a forger
            # learn the expected MAC byte by byte from response times.
            if any(hmac.compare_digest(expected, signature) for signature in candidates):
                return True
        return False

    def digests(self, parts: Sequence[bytes]) -> list[bytes]:
        """The MAC of ``parts`` under each secret (for answers such as Zoom's challenge)."""
        macs = []
        for keyed in self._keyed:
            mac = keyed.copy()
            for part in parts:
                mac.update(part)
            macs.append(mac.digest())
        return macs


def require_match(keys: HmacKeys, parts: Sequence[bytes], provided: Sequence[bytes | None]) -> None:
    """Fail with :data:`NO_MATCH` unless a provided signature matches."""
    if not keys.matches(parts, provided):
        raise VerificationFailed(NO_MATCH)


def matches_any(provided: bytes, accepted: Sequence[bytes]) -> bool:
    """A credential compared, timing-safe, with every accepted one."""
    return any(hmac.compare_digest(provided, candidate) for candidate in accepted)


# ---------------------------------------------------------------------------
# JSON bodies


def json_value(body: bytes) -> Any:
    """The body as JSON, or None when it is not JSON (form bodies, say)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def json_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None when it is not one."""
    parsed = json_value(body)
    return parsed if isinstance(parsed, dict) else None


def at_path(payload: Any, path: Sequence[str]) -> str | None:
    """The string or integer at a dotted path (list items by index), as text."""
    for step in path:
        if isinstance(payload, dict):
            payload = payload.get(step)
        elif isinstance(payload, list) and step.isdigit() and int(step) < len(payload):
            payload = payload[int(step)]
        else:
            return None
    # bool is an int; an id of True is a payload mistake, not an id.
    if isinstance(payload, str | int) and not isinstance(payload, bool):
        return str(payload)
    return None


def single_event(body: bytes) -> Any:
    """The body's one event: the object itself, or the only item of a one-item list.

    Tailscale and HubSpot send JSON arrays of events; a batch of several has no one
    id or type (deduplicating it by its first event's id would drop the others).
    """
    parsed = json_value(body)
    if isinstance(parsed, list):
        return parsed[0] if len(parsed) == 1 else None
    return parsed


def from_body(body: bytes, *paths: Sequence[str]) -> str | None:
    """The first of ``paths`` present in the JSON body (one event of a one-item list)."""
    payload = single_event(body)
    for path in paths:
        value = at_path(payload, path)
        if value is not None:
            return value
    return None


# ---------------------------------------------------------------------------
# Options: a kind's config, read with the field at fault named


def invalid(detail: str, key: str) -> ValidationError:
    """A ValidationError on ``config.<key>``."""
    return ValidationError(detail, field=("config", key))


#: Options every kind takes: where the dedup id and the event type are read instead.
COMMON_OPTIONS: Mapping[str, str] = MappingProxyType(
    {
        "id_header": "the header holding the deduplication id (wins over the provider's)",
        "id_path": "a dotted JSON path to the deduplication id, such as data.object.id",
        "type_header": "the header holding the event type",
        "type_path": "a dotted JSON path to the event type",
    }
)
#: The documented option of every timestamped kind.
TOLERANCE_OPTION: Mapping[str, str] = MappingProxyType(
    {"tolerance": f"the replay window in seconds, either way (default {DEFAULT_TOLERANCE})"}
)


@dataclass
class Options:
    """Reads a kind's config, naming the field at fault; unknown keys are refused."""

    kind: str
    config: Mapping[str, Any]
    documented: frozenset[str] = frozenset()
    used: set[str] = field(default_factory=set)

    def _raw(self, key: str) -> Any:
        # A kind reading an option its spec does not list is a bug here, not bad input:
        # the registry's option list is what the API and the docs show.
        if key not in self.documented and key not in COMMON_OPTIONS:
            raise AssertionError(f"{self.kind} reads undocumented option {key!r}")
        self.used.add(key)
        return self.config.get(key)

    def text(self, key: str, default: str | None = None, choices: Sequence[str] = ()) -> str | None:
        """A string option (one of ``choices`` if given), or ``default``."""
        value = self._raw(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise invalid(f"{key} must be a string", key)
        if choices and value not in choices:
            raise invalid(f"{key} must be one of {', '.join(choices)}", key)
        return value

    def required_text(self, key: str, choices: Sequence[str] = ()) -> str:
        """A string option that must be set."""
        value = self.text(key, choices=choices)
        if not value:
            raise invalid(f"{key} is required for {self.kind}", key)
        return value

    def header(self, key: str, *, required: bool = False) -> str | None:
        """A header-name option, lower-cased."""
        name = self.required_text(key) if required else self.text(key)
        if name is None:
            return None
        name = name.strip().lower()
        if not name or any(c.isspace() or c == ":" or not c.isprintable() for c in name):
            raise invalid(f"{key} must be a header name", key)
        return name

    def required_header(self, key: str) -> str:
        """A header-name option that must be set."""
        name = self.header(key, required=True)
        assert name is not None  # required=True never returns None
        return name

    def tolerance(self) -> int:
        """The ``tolerance`` option: a positive whole number of seconds."""
        value = self._raw("tolerance")
        if value is None:
            return DEFAULT_TOLERANCE
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise invalid("tolerance must be a positive whole number of seconds", "tolerance")
        return value

    def located(self, header_key: str, path_key: str) -> Located | None:
        """Where ``*_header`` or ``*_path`` say a value is read, if either is set."""
        header = self.header(header_key)
        path = self.text(path_key)
        if header is not None and path is not None:
            raise invalid(f"set {header_key} or {path_key}, not both", path_key)
        if path is not None:
            steps = tuple(path.split("."))
            if not all(steps):
                raise invalid(f"{path_key} must be a dotted path such as data.id", path_key)
            return Located(path=steps)
        return None if header is None else Located(header=header)

    def refuse_unknown(self) -> None:
        """Refuse every key that this kind did not read: a typo must not pass silently."""
        for key in self.config:
            if key not in self.used:
                raise invalid(f"{self.kind} has no option {key!r}", str(key))


def secret_bytes(secrets: Sequence[str], encoding: str = "utf-8") -> list[bytes]:
    """Secrets as HMAC keys; ``encoding`` says how the strings spell the key bytes."""
    keys = []
    for index, secret in enumerate(secrets):
        try:
            if encoding == "utf-8":
                keys.append(secret.encode())
            elif encoding == "hex":
                keys.append(bytes.fromhex(secret))
            else:
                keys.append(base64.b64decode(secret, validate=True))
        except (binascii.Error, ValueError):
            # The detail names the encoding, never the secret.
            raise ValidationError(f"secret is not {encoding}", field=("secrets", index)) from None
    return keys


def hmac_keys(secrets: Sequence[str], algorithm: str = "sha256") -> HmacKeys:
    """The secrets, as UTF-8 text, keyed for ``algorithm``."""
    return HmacKeys(secret_bytes(secrets), algorithm)


@dataclass(frozen=True, slots=True)
class Located:
    """Where a value is read from: a header, or a dotted path into the JSON body."""

    header: str | None = None
    path: tuple[str, ...] | None = None

    def read(self, request: InboundRequest) -> str | None:
        """The value in ``request``, or None."""
        if self.header is not None:
            return request.header(self.header)
        return at_path(json_object(request.body), self.path or ())


@dataclass(frozen=True, slots=True)
class WithOverrides:
    """Wraps a verifier so that the user's ``id_*``/``type_*`` options win."""

    inner: Verifier
    event_id: Located | None
    event_type: Located | None

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        """The inner verifier's event, with the configured id and type."""
        event = self.inner.verify(request, now)
        if self.event_id is not None:
            event = replace(event, event_id=self.event_id.read(request))
        if self.event_type is not None:
            event = replace(event, event_type=self.event_type.read(request))
        return event

    def answer(self, request: InboundRequest) -> bytes | None:
        """The inner verifier's handshake answer, if it has one."""
        answer = getattr(self.inner, "answer", None)
        return None if answer is None else cast(Handshake, self.inner).answer(request)


# ---------------------------------------------------------------------------
# The registry's entry


Builder = Callable[[Options, Sequence[str]], Verifier]


@dataclass(frozen=True, slots=True)
class VerifierSpec:
    """One verifier kind: who uses it, how it is built, and what it takes.

    ``options`` are the kind's own config options with what each means (every kind
    also takes :data:`COMMON_OPTIONS`); ``secrets`` says whether it takes secrets;
    ``signs_url`` that the gateway must pass the URL the provider called.
    """

    provider: str
    build: Builder
    options: Mapping[str, str] = field(default_factory=dict)
    secrets: Literal["required", "none"] = "required"
    signs_url: bool = False
    #: Request methods besides POST and PUT that reach the verifier (a GET handshake).
    methods: frozenset[str] = frozenset()
    #: Headers that carry the secret itself (a token, not a MAC): never forwarded.
    credential_headers: frozenset[str] = frozenset()


def timestamped(options: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """``options`` plus the ``tolerance`` option."""
    return MappingProxyType({**(options or {}), **TOLERANCE_OPTION})
