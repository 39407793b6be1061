"""The pure parts of the console commands: reading what people type, wording what they see.

No I/O here: the clock arrives as an argument, files and stdin as callables.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hookline.domain import signing
from hookline.domain.signing import SignatureError, Signer

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

#: How far behind the newest attempt it has shown ``tail`` keeps looking. An attempt's
#: id and time are when it was *sent*; it is recorded when its answer arrives, up to the
#: server's request timeout (15 s by default) plus the recorder's batching later, so a
#: slow attempt can appear after faster, newer ones.
LATE_WINDOW = 60.0

#: Attempt status numbers (Svix's MessageStatus) that ``tail --status`` selects.
STATUS_FILTER = {"success": 0, "fail": 2}


# --- times -----------------------------------------------------------------------------


def parse_moment(text: str, now: float) -> float:
    """``now``, ``90s``/``5m``/``2h``/``1d``/``1w`` ago, or ISO 8601 (UTC if no offset).

    Returns epoch seconds; raises ``ValueError`` with a sentence to show.
    """
    value = text.strip()
    if value.lower() == "now":
        return now
    relative = _RELATIVE.match(value)
    if relative:
        return now - float(relative.group(1)) * _UNIT_SECONDS[relative.group(2)]
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a duration ago (30s, 5m, 2h, 1d) nor an ISO 8601 time"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def iso(at: float) -> str:
    """Epoch seconds as the API writes times: ISO 8601, UTC, microseconds, ``Z``."""
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def short_time(at: float) -> str:
    """Epoch seconds for a line of output: ``2026-01-31T12:00:01.123Z``."""
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_api_time(text: str) -> float:
    """A time as the API returns it (``2026-01-31T12:00:01.123456Z``) as epoch seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# --- input -----------------------------------------------------------------------------


def parse_header(text: str) -> tuple[str, str]:
    """``'webhook-id: msg_1'`` as ``("webhook-id", "msg_1")``; the name in lower case."""
    name, colon, value = text.partition(":")
    name = name.strip()
    if not colon or not name or any(c.isspace() for c in name):
        raise ValueError(f"{text!r} is not a header; write it as 'name: value'")
    return name.lower(), value.strip()


def load_payload(
    data: str | None, read_stdin: Callable[[], str], read_file: Callable[[str], str]
) -> dict[str, Any]:
    """The event payload from ``--data``: JSON text, ``@file``, ``-`` (stdin) or none (stdin).

    Empty input is ``{}``. The payload must be a JSON object, as the API requires.
    """
    if data is None or data == "-":
        source, text = "stdin", read_stdin()
    elif data.startswith("@"):
        path = data[1:]
        try:
            source, text = path, read_file(path)
        except OSError as error:
            raise ValueError(f"cannot read {path}: {error.strerror or error}") from None
    else:
        source, text = "--data", data
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as error:
        raise ValueError(f"{source} is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{source} must be a JSON object ({{...}}), not {type(value).__name__}")
    return value


# --- API errors ------------------------------------------------------------------------


def describe_api_error(status: int, body: bytes) -> str:
    """One line for an error answer: status, code and detail; for 422, where and what."""
    try:
        parsed = json.loads(body)
    except ValueError:
        text = body.decode("utf-8", "replace").strip()
        return f"{status}: {text[:200]}" if text else f"{status} (no detail)"
    if not isinstance(parsed, dict):
        return f"{status}: {str(parsed)[:200]}"
    detail = parsed.get("detail")
    if isinstance(detail, list):
        problems = []
        for item in detail:
            if not isinstance(item, dict):
                continue
            where = ".".join(str(part) for part in item.get("loc", ()) or ()) or "request"
            problems.append(f"{where}: {item.get('msg', 'invalid')}")
        return f"{status} invalid request: " + "; ".join(problems or ["(no detail)"])
    code = parsed.get("code")
    line = f"{status} {code}" if code else str(status)
    if detail:
        line += f": {detail}"
    if status == 401:
        line += " (check --token / HOOKLINE_TOKEN)"
    return line


# --- attempts ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AttemptView:
    """One attempt as the console shows it (from the API's MessageAttemptOut)."""

    id: str
    msg_id: str
    endpoint_id: str
    status: int
    status_code: int
    duration_ms: int
    error_class: str | None
    at: float

    @property
    def succeeded(self) -> bool:
        """Status 0 is success; attempts are otherwise failures."""
        return self.status == 0

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> AttemptView:
        """Read the API's camelCase attempt."""
        return cls(
            id=str(item["id"]), msg_id=str(item["msgId"]), endpoint_id=str(item["endpointId"]),
            status=int(item["status"]), status_code=int(item["responseStatusCode"]),
            duration_ms=int(item["responseDurationMs"]), error_class=item.get("errorClass"),
            at=parse_api_time(str(item["timestamp"])),
        )  # fmt: skip


def attempt_line(attempt: AttemptView, endpoint: str) -> str:
    """One line of ``tail``: time, message, endpoint, status code, duration, error class."""
    code = str(attempt.status_code) if attempt.status_code else "---"
    return "  ".join(
        (
            short_time(attempt.at),
            attempt.msg_id,
            endpoint,
            code,
            f"{attempt.duration_ms:>5} ms",
            attempt.error_class or "-",
        )
    )


class AttemptFeed:
    """What ``tail`` has shown: each attempt once, and where the next poll must start.

    The next poll asks for attempts after :meth:`window_start`, which trails the newest
    attempt shown by :data:`LATE_WINDOW` (never before ``since``), so attempts recorded
    late are still found; the ids shown in that window are remembered, so none is
    shown twice. Ids older than the window are forgotten: no poll returns them again.
    """

    def __init__(self, since: float, late_window: float = LATE_WINDOW) -> None:
        """Show attempts made after ``since`` (epoch seconds)."""
        self.since = since
        self.late_window = late_window
        self._newest = since
        self._seen: dict[str, float] = {}
        self._horizon = since - 1.0

    def window_start(self) -> float:
        """The ``after`` bound of the next poll (epoch seconds)."""
        return max(self.since, self._newest - self.late_window)

    def fresh(self, attempts: Iterable[AttemptView]) -> list[AttemptView]:
        """The attempts not shown before, oldest first; they count as shown from now on."""
        new: dict[str, AttemptView] = {}
        for attempt in attempts:
            if attempt.id in self._seen or attempt.id in new:
                continue
            # Before the horizon: its id may have been forgotten, so it may have been shown.
            if attempt.at > self.since and attempt.at >= self._horizon:
                new[attempt.id] = attempt
        ordered = sorted(new.values(), key=lambda a: (a.at, a.id))
        for attempt in ordered:
            self._seen[attempt.id] = attempt.at
            self._newest = max(self._newest, attempt.at)
        # A second of slack: times round-trip through ISO text at microsecond precision.
        self._horizon = self.window_start() - 1.0
        for attempt_id in [i for i, at in self._seen.items() if at < self._horizon]:
            del self._seen[attempt_id]
        return ordered

    def remembered(self) -> int:
        """How many ids are held to de-duplicate (bounded by the window)."""
        return len(self._seen)


# --- signatures ----------------------------------------------------------------------------

_FAMILIES = (
    ("webhook-id", "webhook-timestamp", "webhook-signature"),
    ("svix-id", "svix-timestamp", "svix-signature"),
)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a webhook verified; if not, ``reason`` says exactly why, in a sentence."""

    ok: bool
    msg_id: str | None = None
    timestamp: int | None = None
    reason: str = ""

    def describe(self) -> str:
        """The line to print."""
        if not self.ok:
            return f"signature NOT verified: {self.reason}"
        when = "" if self.timestamp is None else f" ({short_time(self.timestamp)})"
        return f"OK: signature verified; message {self.msg_id}, timestamp {self.timestamp}{when}"


def _chosen_family(headers: Mapping[str, str]) -> tuple[str, str, str] | None:
    """The header family that verification reads, as ``signing.verify`` picks it."""
    for family in _FAMILIES:
        if all(headers.get(name) for name in family):
            return family
    return None


def check_signature(
    secret: str, body: bytes, headers: Mapping[str, str], now: int, tolerance: int
) -> Verdict:
    """Verify with hookline's own verifier, and explain a failure in full."""
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        signer = Signer.from_secret(secret)
    except SignatureError as error:
        return Verdict(
            False,
            reason=f"bad secret: {error.detail} (expected whsec_<base64>, or whpk_/whsk_ for v1a)",
        )
    family = _chosen_family(lowered)
    if family is None:
        wanted = _FAMILIES[0]
        missing = [name for name in wanted if not lowered.get(name)]
        return Verdict(
            False,
            reason=f"missing header(s) {', '.join(missing)} (the svix-* ones work too)",
        )
    msg_id, stamp = lowered[family[0]], lowered[family[1]].strip()
    try:
        signing.verify(signer, body, lowered, now=now, tolerance=tolerance)
    except SignatureError as error:
        return Verdict(
            False,
            msg_id,
            _as_int(stamp),
            _why(error, signer, body, lowered, family, now, tolerance),
        )
    return Verdict(True, msg_id, int(stamp))


def _as_int(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 20 else None


def _why(
    error: SignatureError, signer: Signer, body: bytes, headers: Mapping[str, str],
    family: tuple[str, str, str], now: int, tolerance: int,
) -> str:  # fmt: skip
    stamp_text = headers[family[1]].strip()
    stamp = _as_int(stamp_text)
    if error.reason == "missing_headers" or stamp is None:
        return f"{family[1]} {stamp_text!r} is not a Unix timestamp (whole seconds)"
    if error.reason == "timestamp_too_old":
        return (
            f"stale timestamp: {stamp} ({short_time(stamp)}) is {now - stamp} s old and the"
            f" tolerance is {tolerance} s (a replay? --tolerance accepts older ones)"
        )
    if error.reason == "timestamp_in_future":
        return (
            f"timestamp {stamp} ({short_time(stamp)}) is {stamp - now} s in the future and the"
            f" tolerance is {tolerance} s (is a clock wrong?)"
        )
    entries = headers[family[2]].split()
    mine = [e for e in entries if e.partition(",")[0] == signer.version]
    if not mine:
        versions = sorted({e.partition(",")[0] for e in entries}) or ["none"]
        return (
            f"no matching signature: {family[2]} holds no {signer.version} signature"
            f" (found: {', '.join(versions)}); this secret makes {signer.version} ones"
        )
    reason = (
        f"no matching signature: none of the {len(mine)} {signer.version} signature(s) in"
        f" {family[2]} was made with this secret over these exact body bytes"
    )
    trimmed = body.rstrip(b"\r\n")
    if trimmed != body:
        try:
            signing.verify(signer, trimmed, headers, now=now, tolerance=tolerance)
        except SignatureError:
            pass
        else:
            reason += "; it would match without the trailing newline, which the sender did not sign"
    return reason


# --- received requests ---------------------------------------------------------------------


def event_type_of(body: bytes) -> str | None:
    """The event type a JSON body names (``type``, ``eventType`` or ``event_type``), if any."""
    try:
        value = json.loads(body)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    for key in ("type", "eventType", "event_type"):
        found = value.get(key)
        if isinstance(found, str) and found:
            return found
    return None


@dataclass(frozen=True, slots=True)
class BodyPreview:
    """A body to print: JSON pretty-printed (or text), cut at a limit."""

    text: str
    is_json: bool
    cut: int  # characters left out

    def note(self) -> str:
        """What was left out, or nothing."""
        return f"... {self.cut} more character(s) not shown" if self.cut else ""


def preview_body(body: bytes, limit: int) -> BodyPreview:
    """Pretty JSON when the body is JSON, else its text; at most ``limit`` characters."""
    try:
        text = json.dumps(json.loads(body), indent=2, ensure_ascii=False)
        is_json = True
    except ValueError:
        text = body.decode("utf-8", "replace")
        is_json = False
    if len(text) <= limit:
        return BodyPreview(text, is_json, 0)
    return BodyPreview(text[:limit], is_json, len(text) - limit)
