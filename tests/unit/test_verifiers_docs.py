"""docs/inbound.md's provider table agrees with the registry and with the tests.

Each row names a kind that exists, every provider kind has a row, and a row's
"tested by" is how that kind's test fixtures are really made (the ``tested_by`` of
its scheme in the family's test module).
"""

from __future__ import annotations

import re
from pathlib import Path

import test_verifiers_asymmetric
import test_verifiers_body
import test_verifiers_standard
import test_verifiers_timestamped
import test_verifiers_url

from hookline.domain.verifiers import KINDS

from support.verifier_contract import Scheme

DOC = Path(__file__).parents[2] / "docs" / "inbound.md"
GENERIC = {"standard_webhooks", "hmac", "basic_auth", "api_key", "none", "generic-webhook"}
#: Kinds that check a credential, tested directly in test_verifiers.py.
CREDENTIALS = {"gitlab", "adobe-sign"}
SCHEMES: dict[str, Scheme] = {
    scheme.kind: scheme
    for module in (
        test_verifiers_standard,
        test_verifiers_body,
        test_verifiers_timestamped,
        test_verifiers_url,
        test_verifiers_asymmetric,
    )
    for scheme in module.SCHEMES
}


def provider_rows() -> dict[str, list[str]]:
    """The provider table's rows by kind: its cells."""
    text = DOC.read_text()
    table = text.split("### Providers", 1)[1].split("\n\n| provider", 1)[1]
    rows: dict[str, list[str]] = {}
    for line in ("| provider" + table).splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        kind = re.search(r"\(`([^`]+)`", cells[0])
        assert kind is not None, line
        rows[kind.group(1)] = cells
    return rows


def test_every_provider_kind_has_one_row_and_every_row_a_kind() -> None:
    """The table lists exactly the provider kinds of the registry, 40 and more."""
    rows = provider_rows()
    assert set(rows) == set(KINDS) - GENERIC
    assert len(rows) >= 40


def test_each_rows_tested_by_is_how_its_test_signs() -> None:
    """A row's "tested by" matches its scheme's fixtures; credential rows are the two kinds."""
    for kind, cells in provider_rows().items():
        tested_by = cells[-1]
        if kind in CREDENTIALS:
            assert tested_by == "credential, tested directly"
            continue
        expected = SCHEMES[kind].tested_by.split(" from ")[0]
        assert tested_by.startswith(expected), (kind, tested_by)


def test_each_rows_replay_window_matches_the_scheme() -> None:
    """A row says 300 s exactly where the scheme's test checks a replay window."""
    for kind, cells in provider_rows().items():
        window = cells[3]
        if kind in SCHEMES and SCHEMES[kind].timestamped and kind != "tailscale":
            assert window.startswith("300 s"), (kind, window)
        elif kind not in SCHEMES or not SCHEMES[kind].timestamped:
            assert window.startswith("none"), (kind, window)
