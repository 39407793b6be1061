"""What every signed provider scheme must do, written once for all of them.

A family's test module lists its :class:`Scheme`s (how the provider signs, what
verifying must return) in a subclass of :class:`VerifierContract` (and of
:class:`TimestampContract` where its schemes sign a timestamp); the tests here
then run for each scheme. ``tests/unit/conftest.py`` parametrizes them from the
class's ``SCHEMES``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest

from hookline.domain.verifiers import (
    NO_MATCH,
    VERIFIERS,
    InboundRequest,
    VerifiedEvent,
    Verifier,
    build_verifier,
)
from hookline.errors import HooklineError, VerificationFailed

NOW = 1_700_000_000
URL = "https://hooks.example.com/in/source?tenant=7"
# Spaces after the colons: json.dumps with compact separators gives other bytes.
BODY = (
    b'{"id": "evt_1N", "type": "invoice.paid", "event_id": "Ev08", '
    b'"event": {"type": "app_mention"}, "data": {"object": {"id": "in_42", "n": 7}}}'
)
TAMPER = (b"in_42", b"in_43")

#: How a scheme's test fixtures are made, for the docs table.
OFFICIAL = "official library"
DOCUMENTED = "documented example"
COMPUTED = "computed from the documented algorithm"


def reserialised(body: bytes) -> bytes:
    """The same JSON in other bytes (compact separators)."""
    return json.dumps(json.loads(body), separators=(",", ":")).encode()


def _plain_url(secret: str, body: bytes, timestamp: int) -> str:
    return URL


@dataclass(frozen=True)
class Scheme:
    """One signed scheme: how the provider signs, and what verifying ``body`` must return.

    ``sign(secret, body, timestamp)`` returns the headers the provider sends;
    ``url_for`` the URL it calls (most: :data:`URL`). ``tested_by`` says where the
    signatures come from (:data:`OFFICIAL`, :data:`DOCUMENTED`, :data:`COMPUTED`)
    and ``reference`` cites the library or the page.
    """

    name: str
    kind: str
    secret: str
    other_secret: str
    sign: Callable[[str, bytes, int], dict[str, str]]
    signature_header: str | None
    expected: VerifiedEvent
    tested_by: str
    reference: str
    config: Mapping[str, Any] = field(default_factory=dict)
    body: bytes = BODY
    url_for: Callable[[str, bytes, int], str] = _plain_url
    #: The timestamp header the malformed-timestamp test rewrites, where it is one.
    timestamp_header: str | None = None

    @property
    def timestamped(self) -> bool:
        """Whether the scheme signs a timestamp (and so has a replay window)."""
        return self.expected.timestamp is not None

    def verifier(self, secrets: Sequence[str] | None = None, **config: Any) -> Verifier:
        """The verifier for this scheme, with the scheme's secret unless told otherwise."""
        return build_verifier(self.kind, {**self.config, **config}, secrets or [self.secret])

    def request(
        self,
        body: bytes | None = None,
        *,
        secret: str | None = None,
        timestamp: int = NOW,
        sent_body: bytes | None = None,
    ) -> InboundRequest:
        """A request signed over ``body``; ``sent_body`` replaces the body after signing."""
        body = self.body if body is None else body
        secret = secret or self.secret
        headers = self.sign(secret, body, timestamp)
        url = self.url_for(secret, body, timestamp)
        return InboundRequest("POST", url, headers, body if sent_body is None else sent_body)


def reason_of(verifier: Verifier, request: InboundRequest, now: float = NOW) -> str:
    """Verify and return the reason of the VerificationFailed that must follow."""
    with pytest.raises(VerificationFailed) as caught:
        verifier.verify(request, now)
    return caught.value.reason


#: Reasons a changed body may fail with: no match, or a body hash that no longer agrees.
TAMPERED_REASONS = {NO_MATCH, "body does not match bodySHA256"}


class VerifierContract:
    """The behaviour every signed scheme shares; subclasses set ``SCHEMES``."""

    SCHEMES: ClassVar[Sequence[Scheme]] = ()

    def test_a_request_signed_by_the_provider_verifies_with_its_id_and_type(
        self, scheme: Scheme
    ) -> None:
        """A request signed as the provider signs verifies and yields its id and type."""
        assert scheme.verifier().verify(scheme.request(), NOW) == scheme.expected

    def test_the_kind_is_registered_for_its_provider(self, scheme: Scheme) -> None:
        """The kind is in the registry, and the scheme says how its fixtures were made."""
        assert scheme.kind in VERIFIERS
        assert scheme.tested_by in {OFFICIAL, DOCUMENTED, COMPUTED}
        assert scheme.reference

    def test_a_tampered_body_fails(self, scheme: Scheme) -> None:
        """A body changed after signing fails."""
        assert TAMPER[0] in scheme.body
        tampered = scheme.body.replace(*TAMPER)
        reason = reason_of(scheme.verifier(), scheme.request(sent_body=tampered))
        assert reason in TAMPERED_REASONS

    def test_reserialised_json_fails(self, scheme: Scheme) -> None:
        """The same JSON data in other bytes fails: verification is on the raw body."""
        other_bytes = reserialised(scheme.body)
        assert other_bytes != scheme.body
        reason = reason_of(scheme.verifier(), scheme.request(sent_body=other_bytes))
        assert reason in TAMPERED_REASONS

    def test_a_wrong_secret_fails(self, scheme: Scheme) -> None:
        """A request signed with a secret the verifier does not hold fails."""
        assert reason_of(scheme.verifier(), scheme.request(secret=scheme.other_secret)) == NO_MATCH

    def test_during_a_rotation_either_secret_verifies(self, scheme: Scheme) -> None:
        """A verifier holding the old and the new secret accepts a request signed by either."""
        verifier = scheme.verifier([scheme.other_secret, scheme.secret])
        assert verifier.verify(scheme.request(), NOW) == scheme.expected
        assert verifier.verify(scheme.request(secret=scheme.other_secret), NOW) == scheme.expected

    def test_a_failure_reason_holds_no_secret_or_signature(self, scheme: Scheme) -> None:
        """Neither the reason nor the message of a failure shows a secret or a signature."""
        with pytest.raises(VerificationFailed) as caught:
            scheme.verifier().verify(scheme.request(secret=scheme.other_secret), NOW)
        failure = caught.value
        signed = scheme.request()
        shown = [v for v in signed.headers.values() if len(v) > 16] + [scheme.secret]
        for text in (failure.reason, str(failure), failure.detail):
            for value in (*shown, scheme.other_secret):
                assert value not in text
        assert failure.detail == "invalid signature"
        assert failure.code == "signature_invalid"
        assert isinstance(failure, HooklineError)

    def test_header_names_are_case_insensitive(self, scheme: Scheme) -> None:
        """Headers match whatever case the framework hands them in."""
        signed = scheme.request()
        shouted = {name.upper(): value for name, value in signed.headers.items()}
        request = InboundRequest("POST", signed.url, shouted, signed.body)
        assert scheme.verifier().verify(request, NOW) == scheme.expected

    def test_a_missing_signature_header_is_named(self, header_scheme: Scheme) -> None:
        """Without the signature header the reason names the missing header."""
        scheme = header_scheme
        signed = scheme.request()
        headers = {k: v for k, v in signed.headers.items() if k != scheme.signature_header}
        reason = reason_of(
            scheme.verifier(), InboundRequest("POST", signed.url, headers, signed.body)
        )
        assert reason.startswith("missing header")
        assert str(scheme.signature_header) in reason


class TimestampContract:
    """The replay window of timestamped schemes; for families that have some."""

    SCHEMES: ClassVar[Sequence[Scheme]] = ()

    def test_a_stale_timestamp_fails(self, timestamped_scheme: Scheme) -> None:
        """A request signed more than five minutes ago fails, however valid its signature."""
        scheme = timestamped_scheme
        reason = reason_of(scheme.verifier(), scheme.request(timestamp=NOW - 301))
        assert reason == "timestamp too old (outside the replay window)"

    def test_a_future_timestamp_fails(self, timestamped_scheme: Scheme) -> None:
        """A request signed more than five minutes in the future fails too."""
        scheme = timestamped_scheme
        reason = reason_of(scheme.verifier(), scheme.request(timestamp=NOW + 301))
        assert reason == "timestamp in the future (outside the replay window)"

    def test_the_replay_window_edges_are_inside(self, timestamped_scheme: Scheme) -> None:
        """Exactly the tolerance away, either way, still verifies."""
        scheme = timestamped_scheme
        verifier = scheme.verifier()
        for timestamp in (NOW - 300, NOW + 300):
            assert verifier.verify(scheme.request(timestamp=timestamp), NOW).timestamp == timestamp

    def test_the_replay_window_is_configurable(self, timestamped_scheme: Scheme) -> None:
        """``tolerance`` narrows (or widens) the window."""
        scheme = timestamped_scheme
        narrow = scheme.verifier(tolerance=60)
        assert narrow.verify(scheme.request(timestamp=NOW - 60), NOW).timestamp == NOW - 60
        assert "replay window" in reason_of(narrow, scheme.request(timestamp=NOW - 61))
        wide = scheme.verifier(tolerance=3600)
        assert wide.verify(scheme.request(timestamp=NOW - 3000), NOW).timestamp == NOW - 3000

    @pytest.mark.parametrize("bad", ["abc", "+1700000000", "1700000000.5", "9" * 30])
    def test_a_malformed_timestamp_fails(self, timestamped_scheme: Scheme, bad: str) -> None:
        """A timestamp that is not plain Unix time fails before any MAC is computed."""
        scheme = timestamped_scheme
        signed = scheme.request()
        headers = dict(signed.headers)
        if scheme.timestamp_header is not None:
            headers[scheme.timestamp_header] = bad
        else:  # the timestamp is inside the signature header (t=...)
            name = str(scheme.signature_header)
            headers[name] = headers[name].replace(f"t={NOW}", f"t={bad}")
        request = InboundRequest("POST", signed.url, headers, signed.body)
        assert "timestamp" in reason_of(scheme.verifier(), request)


def parametrize_schemes(metafunc: pytest.Metafunc) -> None:
    """Parametrize a contract test with its class's schemes (the conftest hook's body)."""
    schemes: Sequence[Scheme] = getattr(metafunc.cls, "SCHEMES", ())
    if not schemes:  # not a contract class: its own parameters are its own
        return
    choices = {
        "scheme": list(schemes),
        "header_scheme": [s for s in schemes if s.signature_header is not None],
        "timestamped_scheme": [s for s in schemes if s.timestamped],
    }
    for name, chosen in choices.items():
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, chosen, ids=[s.name for s in chosen])
