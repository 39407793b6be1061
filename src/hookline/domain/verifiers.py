"""Inbound webhook verifiers: did this request really come from the provider?

One :class:`Verifier` per provider scheme, built from a kind, its options and its
secrets by :func:`build_verifier`::

    verifier = build_verifier("github", {}, ["It's a Secret to Everybody"])
    event = verifier.verify(InboundRequest("POST", url, headers, body), now=time.time())

Every check runs on the raw body bytes as received (re-serialised JSON has other
bytes and fails, by design) and compares MACs with ``hmac.compare_digest``. A
verifier holds a list of secrets so that, during a rotation, a request signed with
any of them passes. Timestamped schemes refuse a timestamp more than ``tolerance``
seconds (default 300) away from ``now``, in either direction. A failure raises
:class:`~hookline.errors.VerificationFailed`, whose ``reason`` is for logs only.

Everything here is pure: no I/O, no web framework, and the clock is an argument.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Protocol
from urllib.parse import parse_qs, parse_qsl, urlsplit, urlunsplit

import orjson

from hookline.domain import signing
from hookline.domain.signing import SignatureError
from hookline.errors import ValidationError, VerificationFailed

__all__ = [
    "DEFAULT_TOLERANCE",
    "KINDS",
    "NO_MATCH",
    "InboundRequest",
    "VerificationFailed",
    "VerifiedEvent",
    "Verifier",
    "build_verifier",
    "slack_challenge",
]

#: Five minutes either way: what Stripe, Slack and Standard Webhooks libraries allow.
DEFAULT_TOLERANCE = 300

# A Unix timestamp in seconds has 10 digits until the year 2286; the bound keeps a
# hostile header from costing a long int parse.
_MAX_TIMESTAMP_DIGITS = 20


@dataclass(frozen=True, slots=True)
class InboundRequest:
    """A received webhook request, as the provider sent it.

    ``url`` is the full URL the provider called (Twilio signs it); ``headers``
    names are lower-cased on construction, so lookups ignore case.
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
    """

    event_id: str | None = None
    event_type: str | None = None
    timestamp: float | None = None


class Verifier(Protocol):
    """Checks one provider's signature scheme."""

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        """Return what the request says about its event, or raise ``VerificationFailed``."""
        ...


# ---------------------------------------------------------------------------
# Shared pieces: headers, timestamps, MACs, JSON bodies


#: The reason when every signature was checked and none was made by an accepted secret.
NO_MATCH = "no signature matched"


def _require_header(request: InboundRequest, name: str) -> str:
    value = request.header(name)
    if not value:
        raise VerificationFailed(f"missing header {name}")
    return value


def _check_timestamp(text: str, now: float, tolerance: float) -> int:
    """Parse a Unix timestamp in seconds and refuse it outside the replay window."""
    text = text.strip()
    # Digits only: int() would also take "+5", " 5", "1_000" or non-ASCII digits.
    if not (text.isascii() and text.isdigit() and len(text) <= _MAX_TIMESTAMP_DIGITS):
        raise VerificationFailed("timestamp is not a Unix timestamp")
    timestamp = int(text)
    if timestamp < now - tolerance:
        raise VerificationFailed("timestamp too old (outside the replay window)")
    if timestamp > now + tolerance:
        raise VerificationFailed("timestamp in the future (outside the replay window)")
    return timestamp


def _decode(value: str, encoding: str) -> bytes | None:
    """Decode a received signature (``hex`` or ``base64``); None if it is malformed."""
    try:
        if encoding == "hex":
            return bytes.fromhex(value)
        return base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


class _HmacKeys:
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


def _require_match(
    keys: _HmacKeys, parts: Sequence[bytes], provided: Sequence[bytes | None]
) -> None:
    if not keys.matches(parts, provided):
        raise VerificationFailed(NO_MATCH)


def _json_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None when it is not one (form bodies, say)."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _at_path(payload: Any, path: Sequence[str]) -> str | None:
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


# ---------------------------------------------------------------------------
# The verifiers, one per scheme


_STANDARD_HEADER_FAMILIES = (
    ("webhook-id", "webhook-timestamp", "webhook-signature"),
    ("svix-id", "svix-timestamp", "svix-signature"),
)
# The same words for the same failure across kinds, so metrics can group by reason.
_SIGNING_REASONS = MappingProxyType(
    {
        "timestamp_too_old": "timestamp too old (outside the replay window)",
        "timestamp_in_future": "timestamp in the future (outside the replay window)",
        "no_matching_signature": NO_MATCH,
    }
)


def _standard_family(request: InboundRequest) -> tuple[str, str, str]:
    """The complete header family (``webhook-*`` first), or fail naming what is missing."""
    headers = request.headers  # lower-cased, as the family's names are
    for family in _STANDARD_HEADER_FAMILIES:
        if headers.get(family[0]) and headers.get(family[1]) and headers.get(family[2]):
            return family
    # Name the gap in the family the sender started on, webhook-* if neither.
    started = [f for f in _STANDARD_HEADER_FAMILIES if any(request.header(n) for n in f)]
    family = (started or _STANDARD_HEADER_FAMILIES)[0]
    missing = next(name for name in family if not request.header(name))
    raise VerificationFailed(f"missing header {missing}")


@dataclass(frozen=True, slots=True)
class _StandardWebhooks:
    """``webhook-*`` (or Svix's ``svix-*``) headers, verified by ``domain.signing``."""

    signers: tuple[signing.Signer, ...]
    tolerance: int

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        family = _standard_family(request)
        try:
            # signing compares whole seconds; flooring keeps "too old" exact at the edge.
            signing.verify(self.signers, request.body, request.headers, int(now), self.tolerance)
        except SignatureError as exc:
            raise VerificationFailed(_SIGNING_REASONS.get(exc.reason, exc.detail)) from None
        id_header, timestamp_header, _ = family
        return VerifiedEvent(
            event_id=request.header(id_header),
            event_type=_at_path(_json_object(request.body), ("type",)),
            timestamp=float(request.headers[timestamp_header]),
        )


@dataclass(frozen=True, slots=True)
class _Stripe:
    """``Stripe-Signature: t=<ts>,v1=<hex>[,v1=<hex>...]`` over ``"{t}." + body``."""

    keys: _HmacKeys
    tolerance: int

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        header = _require_header(request, "stripe-signature")
        timestamp_text, signatures = _parse_stripe_header(header)
        if timestamp_text is None:
            raise VerificationFailed("stripe-signature has no timestamp")
        if not signatures:
            raise VerificationFailed("stripe-signature has no v1 signature")
        timestamp = _check_timestamp(timestamp_text, now, self.tolerance)
        # Stripe's own verifier signs the timestamp re-rendered from its integer.
        signed_prefix = f"{timestamp}.".encode()
        _require_match(
            self.keys, (signed_prefix, request.body), [_decode(s, "hex") for s in signatures]
        )
        payload = _json_object(request.body)
        return VerifiedEvent(
            event_id=_at_path(payload, ("id",)),
            event_type=_at_path(payload, ("type",)),
            timestamp=float(timestamp),
        )


def _parse_stripe_header(header: str) -> tuple[str | None, list[str]]:
    """Split the header into its timestamp and its ``v1`` signatures (others ignored)."""
    timestamp: str | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            timestamp = value
        elif key == "v1":
            signatures.append(value)
    return timestamp, signatures


@dataclass(frozen=True, slots=True)
class _GitHub:
    """``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>``."""

    keys: _HmacKeys

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        header = _require_header(request, "x-hub-signature-256")
        scheme, _, signature = header.partition("=")
        if scheme != "sha256":
            raise VerificationFailed("x-hub-signature-256 is not sha256=<hex>")
        _require_match(self.keys, (request.body,), [_decode(signature, "hex")])
        return VerifiedEvent(
            event_id=request.header("x-github-delivery"),
            event_type=request.header("x-github-event"),
        )


@dataclass(frozen=True, slots=True)
class _Shopify:
    """``X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the body>``."""

    keys: _HmacKeys

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        header = _require_header(request, "x-shopify-hmac-sha256")
        _require_match(self.keys, (request.body,), [_decode(header.strip(), "base64")])
        return VerifiedEvent(
            event_id=request.header("x-shopify-webhook-id") or request.header("x-shopify-event-id"),
            event_type=request.header("x-shopify-topic"),
        )


@dataclass(frozen=True, slots=True)
class _Slack:
    """``X-Slack-Signature: v0=<hex>`` over ``"v0:{X-Slack-Request-Timestamp}:" + body``."""

    keys: _HmacKeys
    tolerance: int

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        header = _require_header(request, "x-slack-signature")
        timestamp_text = _require_header(request, "x-slack-request-timestamp")
        version, _, signature = header.partition("=")
        if version != "v0":
            raise VerificationFailed("x-slack-signature is not v0=<hex>")
        timestamp = _check_timestamp(timestamp_text, now, self.tolerance)
        signed_prefix = f"v0:{timestamp_text.strip()}:".encode()
        _require_match(self.keys, (signed_prefix, request.body), [_decode(signature, "hex")])
        # Events API bodies are JSON; slash commands and interactions are forms (no id).
        payload = _json_object(request.body)
        return VerifiedEvent(
            event_id=_at_path(payload, ("event_id",)),
            event_type=_at_path(payload, ("event", "type")) or _at_path(payload, ("type",)),
            timestamp=float(timestamp),
        )


def slack_challenge(body: bytes) -> bytes | None:
    """The JSON answer to Slack's ``url_verification`` request, or None for other bodies.

    Call it on a body that has passed verification: Slack signs the challenge too.
    """
    payload = _json_object(body)
    if payload is None or payload.get("type") != "url_verification":
        return None
    challenge = payload.get("challenge")
    if not isinstance(challenge, str):
        return None
    return orjson.dumps({"challenge": challenge})


_TWILIO_ALGORITHMS = MappingProxyType({"HMAC_SHA1": "sha1", "HMAC_SHA256": "sha256"})
_FORM_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True, slots=True)
class _Twilio:
    """``X-Twilio-Signature``: base64 HMAC of the URL plus the sorted form parameters.

    As Twilio's ``RequestValidator``: a JSON body is covered by the ``bodySHA256``
    query parameter (the body's SHA-256, hex) and the signature then covers the URL
    alone; the URL is tried without and with its default port, since Twilio signs
    either; ``X-Twilio-Webhooks-Signature-Settings: ...,algorithm=HMAC_SHA256``
    selects SHA-256 (shared-key signing), SHA-1 otherwise.
    """

    keys: Mapping[str, _HmacKeys]

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        signature = _require_header(request, "x-twilio-signature")
        keys = self.keys.get(
            _twilio_algorithm(request.header("x-twilio-webhooks-signature-settings"))
        )
        if keys is None:
            raise VerificationFailed("unsupported twilio signature algorithm")
        query = parse_qs(urlsplit(request.url).query)
        if "bodySHA256" in query:
            _check_body_hash(request.body, query["bodySHA256"][0])
            parameters = ""
        else:
            parameters = _twilio_form_text(request)
        provided = [_decode(signature.strip(), "base64")]
        for url in _twilio_url_variants(request.url):
            if keys.matches(((url + parameters).encode(),), provided):
                return VerifiedEvent(event_id=request.header("i-twilio-idempotency-token"))
        raise VerificationFailed(NO_MATCH)


def _twilio_algorithm(settings: str | None) -> str:
    for part in (settings or "").split(","):
        name, separator, value = part.partition("=")
        if separator and name.strip() == "algorithm" and value.strip():
            return value.strip().upper()
    return "HMAC_SHA1"


def _check_body_hash(body: bytes, expected_hex: str) -> None:
    computed = hashlib.sha256(body).hexdigest().encode()
    if not hmac.compare_digest(computed, expected_hex.strip().lower().encode()):
        raise VerificationFailed("body does not match bodySHA256")


def _twilio_form_text(request: InboundRequest) -> str:
    """Form parameters as Twilio signs them: names sorted, each name's values sorted."""
    if not request.body:
        return ""
    content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
    if content_type != _FORM_TYPE:
        raise VerificationFailed("twilio body is neither form-encoded nor covered by bodySHA256")
    try:
        pairs = parse_qsl(request.body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise VerificationFailed("twilio form body is not UTF-8") from None
    values: dict[str, set[str]] = {}
    for name, value in pairs:
        values.setdefault(name, set()).add(value)
    return "".join(name + value for name in sorted(values) for value in sorted(values[name]))


def _twilio_url_variants(url: str) -> list[str]:
    """The URL without its port and with the scheme's default port, as Twilio's validator."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise VerificationFailed("url has an invalid port") from None
    host = parts.netloc.rsplit(":", 1)[0] if port else parts.netloc
    default_port = 443 if parts.scheme == "https" else 80
    with_port = parts.netloc if port else f"{parts.netloc}:{default_port}"
    return [
        urlunsplit(parts._replace(netloc=host)),
        urlunsplit(parts._replace(netloc=with_port)),
    ]


@dataclass(frozen=True, slots=True)
class _GenericHmac:
    """Any HMAC scheme: which header, which encoding, which prefix, what is signed."""

    keys: _HmacKeys
    header: str
    encoding: str
    prefix: str
    timestamp_header: str | None
    tolerance: int

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        value = _require_header(request, self.header).strip()
        if not value.startswith(self.prefix):
            raise VerificationFailed(f"{self.header} does not start with the configured prefix")
        parts: tuple[bytes, ...] = (request.body,)
        timestamp: int | None = None
        if self.timestamp_header is not None:
            timestamp_text = _require_header(request, self.timestamp_header).strip()
            timestamp = _check_timestamp(timestamp_text, now, self.tolerance)
            parts = (f"{timestamp_text}.".encode(), request.body)
        signature = _decode(value.removeprefix(self.prefix), self.encoding)
        _require_match(self.keys, parts, [signature])
        return VerifiedEvent(timestamp=None if timestamp is None else float(timestamp))


@dataclass(frozen=True, slots=True)
class _BasicAuth:
    """``Authorization: Basic base64(user:password)`` against each accepted pair."""

    credentials: tuple[bytes, ...]

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        header = _require_header(request, "authorization")
        scheme, _, encoded = header.strip().partition(" ")
        if scheme.lower() != "basic":
            raise VerificationFailed("authorization is not basic")
        provided = _decode(encoded.strip(), "base64")
        if provided is None or not any(
            hmac.compare_digest(provided, accepted) for accepted in self.credentials
        ):
            raise VerificationFailed("credentials did not match")
        return VerifiedEvent()


@dataclass(frozen=True, slots=True)
class _ApiKey:
    """A key in a header (after an optional prefix such as ``Bearer ``)."""

    header: str
    prefix: str
    keys: tuple[bytes, ...]

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        value = _require_header(request, self.header).strip()
        if not value.startswith(self.prefix):
            raise VerificationFailed(f"{self.header} does not start with the configured prefix")
        provided = value.removeprefix(self.prefix).strip().encode()
        if not any(hmac.compare_digest(provided, accepted) for accepted in self.keys):
            raise VerificationFailed("api key did not match")
        return VerifiedEvent()


@dataclass(frozen=True, slots=True)
class _AcceptAll:
    """The explicit ``none`` kind: no check at all, chosen on purpose."""

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        return VerifiedEvent()


@dataclass(frozen=True, slots=True)
class _Located:
    """Where a value is read from: a header, or a dotted path into the JSON body."""

    header: str | None = None
    path: tuple[str, ...] | None = None

    def read(self, request: InboundRequest) -> str | None:
        if self.header is not None:
            return request.header(self.header)
        return _at_path(_json_object(request.body), self.path or ())


@dataclass(frozen=True, slots=True)
class _WithOverrides:
    """Wraps a verifier so that the user's ``id_*``/``type_*`` options win."""

    inner: Verifier
    event_id: _Located | None
    event_type: _Located | None

    def verify(self, request: InboundRequest, now: float) -> VerifiedEvent:
        event = self.inner.verify(request, now)
        if self.event_id is not None:
            event = replace(event, event_id=self.event_id.read(request))
        if self.event_type is not None:
            event = replace(event, event_type=self.event_type.read(request))
        return event


# ---------------------------------------------------------------------------
# Building a verifier from its configuration


@dataclass
class _Options:
    """Reads a kind's config, naming the field at fault; unknown keys are refused."""

    kind: str
    config: Mapping[str, Any]
    used: set[str] = field(default_factory=set)

    def _raw(self, key: str) -> Any:
        self.used.add(key)
        return self.config.get(key)

    def text(self, key: str, default: str | None = None, choices: Sequence[str] = ()) -> str | None:
        value = self._raw(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise _invalid(f"{key} must be a string", key)
        if choices and value not in choices:
            raise _invalid(f"{key} must be one of {', '.join(choices)}", key)
        return value

    def required_text(self, key: str, choices: Sequence[str] = ()) -> str:
        value = self.text(key, choices=choices)
        if not value:
            raise _invalid(f"{key} is required for {self.kind}", key)
        return value

    def header(self, key: str, *, required: bool = False) -> str | None:
        name = self.required_text(key) if required else self.text(key)
        if name is None:
            return None
        name = name.strip().lower()
        if not name or any(c.isspace() or c == ":" or not c.isprintable() for c in name):
            raise _invalid(f"{key} must be a header name", key)
        return name

    def tolerance(self) -> int:
        value = self._raw("tolerance")
        if value is None:
            return DEFAULT_TOLERANCE
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise _invalid("tolerance must be a positive whole number of seconds", "tolerance")
        return value

    def located(self, header_key: str, path_key: str) -> _Located | None:
        header = self.header(header_key)
        path = self.text(path_key)
        if header is not None and path is not None:
            raise _invalid(f"set {header_key} or {path_key}, not both", path_key)
        if path is not None:
            steps = tuple(path.split("."))
            if not all(steps):
                raise _invalid(f"{path_key} must be a dotted path such as data.id", path_key)
            return _Located(path=steps)
        return None if header is None else _Located(header=header)

    def refuse_unknown(self) -> None:
        for key in self.config:
            if key not in self.used:
                raise _invalid(f"{self.kind} has no option {key!r}", str(key))


def _invalid(detail: str, key: str) -> ValidationError:
    return ValidationError(detail, field=("config", key))


def _secret_bytes(secrets: Sequence[str], encoding: str = "utf-8") -> list[bytes]:
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


def _standard_webhooks(options: _Options, secrets: Sequence[str]) -> Verifier:
    tolerance = options.tolerance()
    signers = []
    for index, secret in enumerate(secrets):
        try:
            signers.append(signing.Signer.from_secret(secret))
        except SignatureError:
            raise ValidationError(
                "secret must be whsec_<base64> (or a whpk_ public key)", field=("secrets", index)
            ) from None
    return _StandardWebhooks(tuple(signers), tolerance)


def _stripe(options: _Options, secrets: Sequence[str]) -> Verifier:
    # Stripe keys its HMAC with the whole "whsec_..." string, not decoded base64.
    return _Stripe(_HmacKeys(_secret_bytes(secrets), "sha256"), options.tolerance())


def _github(options: _Options, secrets: Sequence[str]) -> Verifier:
    return _GitHub(_HmacKeys(_secret_bytes(secrets), "sha256"))


def _shopify(options: _Options, secrets: Sequence[str]) -> Verifier:
    return _Shopify(_HmacKeys(_secret_bytes(secrets), "sha256"))


def _slack(options: _Options, secrets: Sequence[str]) -> Verifier:
    return _Slack(_HmacKeys(_secret_bytes(secrets), "sha256"), options.tolerance())


def _twilio(options: _Options, secrets: Sequence[str]) -> Verifier:
    keys = _secret_bytes(secrets)
    return _Twilio(
        MappingProxyType(
            {name: _HmacKeys(keys, algorithm) for name, algorithm in _TWILIO_ALGORITHMS.items()}
        )
    )


def _generic_hmac(options: _Options, secrets: Sequence[str]) -> Verifier:
    algorithm = options.required_text("algorithm", choices=("sha1", "sha256", "sha512"))
    header = options.header("header", required=True)
    assert header is not None  # required=True never returns None
    encoding = options.text("encoding", "hex", choices=("hex", "base64"))
    prefix = options.text("prefix", "")
    signed = options.text("signed", "body", choices=("body", "timestamp.body"))
    secret_encoding = options.text("secret_encoding", "utf-8", choices=("utf-8", "hex", "base64"))
    timestamp_header = options.header("timestamp_header")
    if signed == "timestamp.body" and timestamp_header is None:
        raise _invalid(
            "timestamp_header is required when signed is timestamp.body", "timestamp_header"
        )
    if signed == "body" and timestamp_header is not None:
        raise _invalid("timestamp_header needs signed: timestamp.body", "timestamp_header")
    # The replay window applies only where a timestamp is signed.
    tolerance = options.tolerance() if timestamp_header is not None else DEFAULT_TOLERANCE
    return _GenericHmac(
        keys=_HmacKeys(_secret_bytes(secrets, secret_encoding or "utf-8"), algorithm),
        header=header,
        encoding=encoding or "hex",
        prefix=prefix or "",
        timestamp_header=timestamp_header,
        tolerance=tolerance,
    )


def _basic_auth(options: _Options, secrets: Sequence[str]) -> Verifier:
    for index, secret in enumerate(secrets):
        if ":" not in secret:
            raise ValidationError("secret must be user:password", field=("secrets", index))
    return _BasicAuth(tuple(secret.encode() for secret in secrets))


def _api_key(options: _Options, secrets: Sequence[str]) -> Verifier:
    header = options.header("header", required=True)
    assert header is not None  # required=True never returns None
    return _ApiKey(header, options.text("prefix", "") or "", tuple(s.encode() for s in secrets))


def _none(options: _Options, secrets: Sequence[str]) -> Verifier:
    return _AcceptAll()


_BUILDERS: Mapping[str, Callable[[_Options, Sequence[str]], Verifier]] = MappingProxyType(
    {
        "standard_webhooks": _standard_webhooks,
        "stripe": _stripe,
        "github": _github,
        "shopify": _shopify,
        "slack": _slack,
        "twilio": _twilio,
        "hmac": _generic_hmac,
        "basic_auth": _basic_auth,
        "api_key": _api_key,
        "none": _none,
    }
)

#: Every verifier kind :func:`build_verifier` knows.
KINDS = tuple(_BUILDERS)


def _checked_secrets(kind: str, secrets: Sequence[str]) -> Sequence[str]:
    # A str is itself a Sequence[str]: one secret passed bare would become its characters.
    if isinstance(secrets, str) or not all(isinstance(s, str) for s in secrets):
        raise ValidationError("secrets must be a list of strings", field=("secrets",))
    if kind == "none":
        if secrets:
            raise ValidationError("the none verifier takes no secrets", field=("secrets",))
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
    type; they win over the provider's own. Raises ``ValidationError`` naming the field
    at fault, e.g. ``("config", "header")`` or ``("secrets", 1)``.
    """
    builder = _BUILDERS.get(kind)
    if builder is None:
        raise ValidationError(f"kind must be one of {', '.join(KINDS)}", field=("kind",))
    if not isinstance(config, Mapping):
        raise ValidationError("config must be an object", field=("config",))
    options = _Options(kind, config)
    verifier = builder(options, _checked_secrets(kind, secrets))
    event_id = options.located("id_header", "id_path")
    event_type = options.located("type_header", "type_path")
    options.refuse_unknown()
    if event_id is None and event_type is None:
        return verifier
    return _WithOverrides(verifier, event_id, event_type)
