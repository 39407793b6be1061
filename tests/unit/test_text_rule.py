"""The text rule (domain.text): what no backend may store, and where it is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hookline.cli import main
from hookline.domain.text import (
    MAX_DEPTH,
    JsonObject,
    Offence,
    TooDeep,
    first_offence,
    parse_json,
    shown_key,
    text_problem,
)

PAYLOAD = frozenset({("payload",)})


def offence(text: str, zones: frozenset[tuple[str | int, ...]] = frozenset()) -> Offence | None:
    return first_offence(parse_json(text), nul_allowed_under=zones)


def test_plain_text_and_unicode_keep_the_rule() -> None:
    """Text with accents, emoji (a surrogate pair in JSON) and control characters is fine."""
    assert text_problem("café 😀 \t\n") is None
    assert offence('{"a": "\\ud83d\\ude00", "b": [1, 2.5, true, null, "x"]}') is None


@pytest.mark.parametrize(
    ("text", "path", "words"),
    [
        ('{"a": "x\\u0000"}', ("a",), "NUL"),
        ('{"a": "\\ud800"}', ("a",), "surrogate"),
        ('{"a": ["ok", "\\udfff"]}', ("a", 1), "surrogate"),
        ('{"m": {"k\\ud800": 1}}', ("m", "k\ufffd"), "key"),
        ('{"m": {"k\\u0000": 1}}', ("m", "k\ufffd"), "NUL"),
        ('{"a": 1, "a": 2}', ("a",), "twice"),
        ('{"n": NaN}', ("n",), "finite"),
        ('{"n": [-Infinity]}', ("n", 0), "finite"),
        ('{"n": 1e400}', ("n",), "finite"),
        ('{"n": 18446744073709551616}', ("n",), "64 bits"),
        ('{"n": -9223372036854775809}', ("n",), "64 bits"),
    ],
)
def test_the_first_offence_is_named_by_its_path(
    text: str, path: tuple[str | int, ...], words: str
) -> None:
    """Each kind of offence comes back with its path and a reason that says what it is."""
    found = offence(text)
    assert found is not None
    assert found.path == path
    assert words in found.reason


def test_the_first_offence_in_reading_order_is_the_one_named() -> None:
    """Several offences: the one a reader meets first is named."""
    found = offence('{"a": {"b": "ok", "c": "\\u0000"}, "d": "\\ud800"}')
    assert found == Offence(("a", "c"), found.reason if found else "")


def test_a_payload_may_hold_nuls_and_repeated_keys_but_no_surrogate() -> None:
    """Below a payload path a NUL and a repeated key are fine; a surrogate is not."""
    assert offence('{"payload": {"a": "\\u0000", "a": 1, "\\u0000": 2}}', PAYLOAD) is None
    assert offence('{"payload": {"a": "\\ud800"}}', PAYLOAD) == Offence(
        ("payload", "a"), "must not contain a lone UTF-16 surrogate (\\ud800-\\udfff)"
    )
    found = offence('{"payload": {}, "name": "\\u0000"}', PAYLOAD)
    assert found is not None
    assert found.path == ("name",)


def test_depth_is_counted_from_the_body_and_limited() -> None:
    """A body may nest MAX_DEPTH levels; one more is named where it starts."""
    assert offence("[" * MAX_DEPTH + "]" * MAX_DEPTH) is None
    found = offence("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    assert found is not None
    assert found.path == (0,) * MAX_DEPTH
    assert str(MAX_DEPTH) in found.reason


def test_text_nested_past_the_parser_is_too_deep_not_a_crash() -> None:
    """Nesting past the interpreter's recursion limit is TooDeep, any depth."""
    with pytest.raises(TooDeep):
        parse_json("[" * 100_000 + "]" * 100_000)


def test_parse_json_remembers_repeated_keys_and_keeps_values() -> None:
    """A repeated key keeps its last value, as any parser would, and is remembered."""
    value = parse_json('{"a": 1, "b": {"c": 2}, "a": 3}')
    assert isinstance(value, JsonObject)
    assert value == {"a": 3, "b": {"c": 2}}
    assert value.repeated_key == "a"
    with pytest.raises(json.JSONDecodeError):
        parse_json("{")


def test_values_built_in_python_are_checked_alike() -> None:
    """Dicts and tuples made in code (the web forms, the CLI) follow the same rule."""
    value: Any = {"names": ("ok", "a\x00")}
    assert first_offence(value) == Offence(
        ("names", 1), "must not contain a NUL character (\\u0000)"
    )
    assert first_offence({"x": {1: "a"}}) is not None  # JSON keys are text
    assert shown_key("a\x00b\ud800") == "a\ufffdb\ufffd"


def test_a_path_prefix_is_kept_in_the_answer() -> None:
    """``path`` says where the value sits; it prefixes the offence."""
    found = first_offence({"a": "\x00"}, path=("body", "metadata"))
    assert found == Offence(("body", "metadata", "a"), "must not contain a NUL character (\\u0000)")


def test_cli_options_that_are_stored_keep_the_rule(tmp_path: Path) -> None:
    """An argument that is not UTF-8 (a lone surrogate in Python) is a usage error before
    any database is opened."""
    database = tmp_path / "never-made.db"
    done = CliRunner().invoke(
        main, ["token", "create", "--name", "bad\udcff", "--database-url", f"sqlite:///{database}"]
    )
    assert done.exit_code == 2
    assert "surrogate" in done.output
    assert not database.exists()
