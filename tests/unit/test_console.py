"""Tests for hookline.console: the pure parts of the commands for people, and the API client."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from multidict import CIMultiDict
from rich.console import Console

from hookline.cli import main
from hookline.console import _output, _publish, _tail
from hookline.console._client import Api
from hookline.console._errors import ConsoleError
from hookline.console._listen import forwarded_headers, under
from hookline.console._text import (
    AttemptFeed,
    AttemptView,
    attempt_line,
    check_signature,
    describe_api_error,
    event_type_of,
    iso,
    load_payload,
    parse_api_time,
    parse_header,
    parse_moment,
    preview_body,
)
from hookline.domain import signing

NOW = 1_790_000_000.0
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER_SECRET = "whsec_" + "A" * 32
BODY = b'{"type":"invoice.paid","amount":1999}'


def signed(body: bytes = BODY, at: int = int(NOW), svix: bool = False) -> dict[str, str]:
    """Headers hookline would send for ``body`` at ``at``."""
    made = signing.headers(SECRET, "msg_1", at, body, svix_headers=svix)
    if svix:
        return {k: v for k, v in made.items() if k.startswith("svix-")}
    return made


def attempt(
    n: int, at: float, endpoint: str = "ep_1", status: int = 0, code: int = 200
) -> AttemptView:
    """An attempt whose id sorts with ``n``."""
    return AttemptView(f"atmpt_{n:04d}", f"msg_{n}", endpoint, status, code, 12, None, at)


def api_attempt(view: AttemptView) -> dict[str, Any]:
    """``view`` as the API writes an attempt."""
    return {
        "id": view.id, "msgId": view.msg_id, "endpointId": view.endpoint_id,
        "status": view.status, "responseStatusCode": view.status_code,
        "responseDurationMs": view.duration_ms, "errorClass": view.error_class,
        "timestamp": iso(view.at),
    }  # fmt: skip


def mock_api(handler: Callable[[httpx.Request], httpx.Response]) -> Api:
    """An Api whose requests go to ``handler`` instead of a network."""
    return Api("http://hookline.test/", "hk_test", transport=httpx.MockTransport(handler))


def page(data: list[Any], done: bool = True, iterator: str | None = None) -> httpx.Response:
    """A Svix list page."""
    return httpx.Response(
        200, json={"data": data, "done": done, "iterator": iterator, "prevIterator": None}
    )


# --- times and input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("90s", NOW - 90),
        ("5m", NOW - 300),
        ("2h", NOW - 7200),
        ("1.5d", NOW - 1.5 * 86400),
        ("1w", NOW - 604800),
        ("2026-01-31T12:00:00Z", datetime(2026, 1, 31, 12, tzinfo=UTC).timestamp()),
        ("2026-01-31T12:00:00", datetime(2026, 1, 31, 12, tzinfo=UTC).timestamp()),
        ("2026-01-31T13:00:00+01:00", datetime(2026, 1, 31, 12, tzinfo=UTC).timestamp()),
        ("2026-01-31", datetime(2026, 1, 31, tzinfo=UTC).timestamp()),
    ],
)
def test_moments_are_durations_ago_or_iso_times(text: str, expected: float) -> None:
    """--since takes now, a duration ago, or ISO 8601 (UTC without an offset)."""
    assert parse_moment(text, NOW) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["yesterday", "5 minutes", "-5m", "", "5y"])
def test_a_moment_that_is_neither_is_refused_with_the_forms_it_takes(text: str) -> None:
    """Anything else is refused, naming the forms accepted."""
    with pytest.raises(ValueError, match="30s, 5m, 2h, 1d"):
        parse_moment(text, NOW)


def test_times_round_trip_through_the_api_format() -> None:
    """The API's time text reads back to the same instant, to the microsecond."""
    assert iso(NOW + 0.123456).endswith(".123456Z")
    assert parse_api_time(iso(NOW + 0.123456)) == pytest.approx(NOW + 0.123456, abs=1e-6)


def test_headers_are_name_colon_value_with_the_name_lowercased() -> None:
    """'Name: value' splits at the first colon; the name is lowercased."""
    assert parse_header("Webhook-Id: msg_1") == ("webhook-id", "msg_1")
    assert parse_header("x-note:  a: b ") == ("x-note", "a: b")
    for bad in ("webhook-id msg_1", ": value", "two words: x"):
        with pytest.raises(ValueError, match="name: value"):
            parse_header(bad)


def test_payloads_come_from_data_a_file_or_stdin(tmp_path: Path) -> None:
    """--data is JSON, @file or - (stdin); without it stdin; empty input is {}."""
    file = tmp_path / "event.json"
    file.write_text('{"from": "file"}')

    def load(data: str | None, stdin: str = "") -> dict[str, Any]:
        return load_payload(data, lambda: stdin, lambda p: Path(p).read_text())

    assert load('{"a": 1}') == {"a": 1}
    assert load(f"@{file}") == {"from": "file"}
    assert load("-", '{"from": "stdin"}') == {"from": "stdin"}
    assert load(None, '{"from": "stdin"}') == {"from": "stdin"}
    assert load(None) == {}
    with pytest.raises(ValueError, match="must be a JSON object"):
        load("[1, 2]")
    with pytest.raises(ValueError, match="--data is not JSON"):
        load("{nope")
    with pytest.raises(ValueError, match="cannot read"):
        load(f"@{tmp_path / 'missing.json'}")


# --- API errors and the client --------------------------------------------------------------------


def test_api_errors_read_as_one_line() -> None:
    """Status, code and detail; for 422 every field's location; a 401 hints at the token."""
    missing = b'{"code": "not_found", "detail": "application \'x\' not found"}'
    assert describe_api_error(404, missing) == "404 not_found: application 'x' not found"
    refused = b'{"code": "authentication_failed", "detail": "invalid token"}'
    assert describe_api_error(401, refused) == (
        "401 authentication_failed: invalid token (check --token / HOOKLINE_TOKEN)"
    )
    invalid = json.dumps(
        {"detail": [{"loc": ["body", "eventType"], "msg": "Field required", "type": "missing"},
                    {"loc": ["body", "channels", 0], "msg": "too long", "type": "value_error"}]}
    ).encode()  # fmt: skip
    assert describe_api_error(422, invalid) == (
        "422 invalid request: body.eventType: Field required; body.channels.0: too long"
    )
    assert describe_api_error(502, b"Bad Gateway") == "502: Bad Gateway"
    assert describe_api_error(500, b"") == "500 (no detail)"


def test_the_client_sends_the_token_and_raises_api_errors() -> None:
    """Every request carries the bearer token; an error answer is a ConsoleError with status."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(403, json={"code": "forbidden", "detail": "read-only token"})

    with mock_api(handler) as api, pytest.raises(ConsoleError) as raised:
        api.post("/api/v1/app/acme/msg", {"eventType": "x", "payload": {}})
    assert raised.value.status == 403
    assert raised.value.format_message() == "403 forbidden: read-only token"
    assert seen[0].headers["authorization"] == "Bearer hk_test"
    assert seen[0].url == "http://hookline.test/api/v1/app/acme/msg"


def test_the_client_names_the_url_it_could_not_reach() -> None:
    """A refused connection says where the client tried and how to point it elsewhere."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    with mock_api(handler) as api, pytest.raises(ConsoleError) as raised:
        api.get("/api/v1/app")
    assert raised.value.format_message() == (
        "cannot connect to hookline at http://hookline.test (Connection refused);"
        " is it running? (--url / HOOKLINE_URL)"
    )


def test_the_client_follows_list_pages_oldest_first() -> None:
    """``every`` asks for ascending pages and follows the iterator until done."""
    asked: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        query = dict(request.url.params)
        asked.append(query)
        if "iterator" not in query:
            return page([{"id": 1}, {"id": 2}], done=False, iterator="it_2")
        return page([{"id": 3}])

    with mock_api(handler) as api:
        assert [item["id"] for item in api.every("/list", {"status": 2})] == [1, 2, 3]
    assert asked[0] == {"status": "2", "limit": "250", "order": "ascending"}
    assert asked[1]["iterator"] == "it_2"


# --- attempts and tail -------------------------------------------------------------------------


def test_an_attempt_line_shows_time_message_endpoint_code_duration_and_error() -> None:
    """One line per attempt, columns apart by two spaces; no HTTP answer shows as ---."""
    ok = attempt(1, NOW)
    assert attempt_line(ok, "main") == (
        f"{iso(NOW)[:-4]}Z  msg_1  main  200     12 ms  -"  # milliseconds
    )
    timed_out = AttemptView("atmpt_2", "msg_2", "ep_1", 2, 0, 15000, "timeout", NOW)
    assert attempt_line(timed_out, "ep_1").split()[2:] == ["ep_1", "---", "15000", "ms", "timeout"]


def test_the_feed_shows_each_attempt_once_oldest_first() -> None:
    """Attempts seen again in later polls are not shown again; each poll's new ones sort."""
    feed = AttemptFeed(since=NOW - 300)
    first = feed.fresh([attempt(2, NOW + 2), attempt(1, NOW + 1), attempt(1, NOW + 1)])
    assert [a.id for a in first] == ["atmpt_0001", "atmpt_0002"]
    again = feed.fresh([attempt(1, NOW + 1), attempt(2, NOW + 2), attempt(3, NOW + 3)])
    assert [a.id for a in again] == ["atmpt_0003"]
    assert feed.fresh([attempt(3, NOW + 3)]) == []


def test_the_feed_window_trails_the_newest_attempt_to_catch_late_ones() -> None:
    """The next poll starts a late window before the newest attempt shown (never before since)."""
    feed = AttemptFeed(since=NOW, late_window=60)
    assert feed.window_start() == NOW
    feed.fresh([attempt(1, NOW + 10)])
    assert feed.window_start() == NOW
    feed.fresh([attempt(2, NOW + 100)])
    assert feed.window_start() == NOW + 40
    # Sent before the newest but recorded after it: still shown, once.
    assert [a.id for a in feed.fresh([attempt(3, NOW + 90)])] == ["atmpt_0003"]
    assert feed.fresh([attempt(3, NOW + 90)]) == []


def test_the_feed_forgets_ids_no_poll_can_return() -> None:
    """Only the ids inside the window are remembered, so a long tail stays small."""
    feed = AttemptFeed(since=NOW, late_window=60)
    for n in range(1, 1001):
        feed.fresh([attempt(n, NOW + n)])
    assert feed.remembered() <= 62
    assert feed.fresh([attempt(1, NOW + 1)]) == []  # not returned by polls: before the window
    assert feed.fresh([attempt(0, NOW - 1)]) == []  # before since


def test_tail_follows_attempts_across_polls_and_stops_at_count() -> None:
    """``follow`` polls each endpoint after the window start and shows count attempts once."""
    recorded = [attempt(1, NOW + 1, "ep_a"), attempt(2, NOW + 2, "ep_b")]
    polls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/endpoint"):
            return page([{"id": "ep_a", "uid": "main"}, {"id": "ep_b", "uid": None}])
        after = parse_api_time(request.url.params["after"])
        polls.append(path)
        endpoint = path.rsplit("/", 1)[1]
        data = [api_attempt(a) for a in recorded if a.endpoint_id == endpoint and a.at > after]
        return page(data)

    shown: list[tuple[str, str]] = []
    rounds = iter(range(10))

    def sleep(_: float) -> None:
        if next(rounds) == 0:
            recorded.append(attempt(3, NOW + 3, "ep_a"))  # made between two polls

    options = _tail.TailOptions(app="acme", endpoint=None, since=NOW, count=3, interval=0)
    with mock_api(handler) as api:
        assert (
            _tail.follow(api, options, lambda a, label: shown.append((a.id, label)), sleep=sleep)
            == 3
        )
    assert shown == [("atmpt_0001", "main"), ("atmpt_0002", "ep_b"), ("atmpt_0003", "main")]
    assert "/api/v1/app/acme/attempt/endpoint/ep_a" in polls


# --- send --wait ---------------------------------------------------------------------------------


def test_each_target_shows_its_latest_attempt() -> None:
    """A table row per routed endpoint: latest attempt, count, and whether it succeeded."""
    targets = [
        _publish.Target("ep_a", "main", "http://a"), _publish.Target("ep_b", "ep_b", "http://b")
    ]  # fmt: skip
    results = _publish.outcomes(
        targets, [attempt(1, NOW, "ep_a", status=2, code=500), attempt(2, NOW + 1, "ep_a")]
    )
    assert [r.row() for r in results] == [
        ["main", "http://a", "200", "12 ms", "-", "2", "ok"],
        ["ep_b", "http://b", "-", "-", "-", "0", "no attempt yet"],
    ]
    assert results[0].succeeded
    assert not results[1].known


def test_waiting_gives_up_at_the_timeout() -> None:
    """``wait`` polls until every target has an attempt, or the timeout passes."""
    now = [0.0]

    def handler(request: httpx.Request) -> httpx.Response:
        return page([])

    def sleep(seconds: float) -> None:
        now[0] += max(seconds, 0.1)

    targets = [_publish.Target("ep_a", "main", "http://a")]
    with mock_api(handler) as api:
        results = _publish.wait(
            api, "acme", "msg_1", targets, 2.0, clock=lambda: now[0], sleep=sleep
        )
    assert [r.known for r in results] == [False]
    assert 2.0 <= now[0] < 3.0


# --- verify -------------------------------------------------------------------------------------


def test_a_good_signature_verifies_with_either_header_family() -> None:
    """webhook-* and svix-* headers both verify; the verdict names the message and time."""
    for headers in (signed(), signed(svix=True)):
        verdict = check_signature(SECRET, BODY, headers, int(NOW), 300)
        assert verdict.ok
        assert (verdict.msg_id, verdict.timestamp) == ("msg_1", int(NOW))
    assert (
        check_signature(SECRET, BODY, signed(), int(NOW), 300)
        .describe()
        .startswith("OK: signature verified; message msg_1, timestamp 1790000000 (")
    )


@pytest.mark.parametrize(
    ("secret", "body", "headers", "reason"),
    [
        ("whsec_not*base64", BODY, signed(), "bad secret: secret is not valid base64"),
        (SECRET, BODY, {"webhook-id": "msg_1"},
         "missing header(s) webhook-timestamp, webhook-signature"),
        (SECRET, BODY, signed(at=int(NOW) - 400),
         "stale timestamp: 1789999600 (2026-09-21T14:06:40.000Z) is 400 s old and the tolerance"),
        (SECRET, BODY, signed(at=int(NOW) + 400), "is 400 s in the future"),
        (SECRET, BODY, {**signed(), "webhook-timestamp": "soon"}, "'soon' is not a Unix timestamp"),
        (SECRET, BODY.replace(b"1999", b"9999"), signed(),
         "none of the 1 v1 signature(s) in webhook-signature was made with this secret"),
        (OTHER_SECRET, BODY, signed(), "was made with this secret over these exact body bytes"),
        (SECRET, BODY, {**signed(), "webhook-signature": "v1a,AAAA"},
         "webhook-signature holds no v1 signature (found: v1a)"),
    ],
)  # fmt: skip
def test_a_failure_says_exactly_why(
    secret: str, body: bytes, headers: dict[str, str], reason: str
) -> None:
    """Bad secret, missing headers, stale or future timestamps, no matching signature."""
    verdict = check_signature(secret, body, headers, int(NOW), 300)
    assert not verdict.ok
    assert reason in verdict.reason
    assert verdict.describe() == f"signature NOT verified: {verdict.reason}"


def test_a_trailing_newline_the_sender_did_not_sign_is_pointed_out() -> None:
    """A body saved with an extra newline fails, and the reason says the newline is why."""
    verdict = check_signature(SECRET, BODY + b"\n", signed(), int(NOW), 300)
    assert not verdict.ok
    assert "it would match without the trailing newline" in verdict.reason


# --- listen -------------------------------------------------------------------------------------


def test_bodies_are_previewed_pretty_and_cut() -> None:
    """JSON is pretty-printed; text stays text; beyond the limit it is cut and counted."""
    pretty = preview_body(BODY, 1000)
    assert pretty.is_json
    assert pretty.text == json.dumps(json.loads(BODY), indent=2)
    cut = preview_body(b'{"big": "' + b"x" * 100 + b'"}', 20)
    assert (len(cut.text), cut.cut) == (20, len(json.dumps({"big": "x" * 100}, indent=2)) - 20)
    assert cut.note() == f"... {cut.cut} more character(s) not shown"
    text = preview_body(b"a=1&b=\xff", 100)
    assert (text.is_json, text.text, text.note()) == (False, "a=1&b=\ufffd", "")


def test_the_event_type_is_read_from_the_body_when_it_names_one() -> None:
    """type, eventType or event_type of a JSON object; nothing otherwise."""
    assert event_type_of(BODY) == "invoice.paid"
    assert event_type_of(b'{"eventType": "a.b"}') == "a.b"
    assert event_type_of(b'{"event_type": "c"}') == "c"
    assert event_type_of(b"[1]") is None
    assert event_type_of(b"not json") is None
    assert event_type_of(b'{"type": 3}') is None


def test_listen_takes_paths_under_its_path_and_forwards_end_to_end_headers() -> None:
    """--path is a prefix; hop-by-hop headers stay behind, the rest go on, repeats kept."""
    assert under("/anything", "/")
    assert under("/hooks", "/hooks/")
    assert under("/hooks/stripe", "hooks")
    assert not under("/hooksx", "/hooks")
    headers = CIMultiDict(
        [("Host", "a"), ("Content-Length", "3"), ("webhook-id", "msg_1"), ("X-Tag", "1"),
         ("X-Tag", "2"), ("Connection", "keep-alive"), ("Content-Type", "application/json")]
    )  # fmt: skip
    assert list(forwarded_headers(headers).items()) == [
        ("webhook-id", "msg_1"), ("X-Tag", "1"), ("X-Tag", "2"),
        ("Content-Type", "application/json"),
    ]  # fmt: skip


# --- output and registration ----------------------------------------------------------------


def test_lists_are_plain_lines_in_a_pipe_and_a_table_on_a_terminal() -> None:
    """Piped, a list keeps one line per row, columns two spaces apart; a table has headers."""
    piped = io.StringIO()
    _output.print_rows(("id", "name"), [["tok_1", "ops laptop"], ["tok_2", "ci"]], file=piped)
    assert piped.getvalue() == "tok_1  ops laptop\ntok_2  ci\n"
    drawn = io.StringIO()
    Console(file=drawn, width=80).print(_output.table(("id", "name"), [["tok_1", "ops [b]x"]]))
    assert "id" in drawn.getvalue()
    assert "ops [b]x" in drawn.getvalue()  # cells are text, never markup


def test_the_commands_for_people_are_registered() -> None:
    """``hookline --help`` lists send, tail, recover, verify and listen."""
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in ("send", "tail", "recover", "verify", "listen", "token", "source"):
        assert f"  {name} " in result.output
