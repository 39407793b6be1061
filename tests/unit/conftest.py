"""Unit-test hooks: the verifier contract tests run once per scheme of their class."""

from __future__ import annotations

import pytest

from support.verifier_contract import parametrize_schemes


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Give each verifier contract test the schemes its class lists."""
    parametrize_schemes(metafunc)
