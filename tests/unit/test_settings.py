"""Settings: read from HOOKLINE_* variables, validated, documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from hookline.errors import ConfigError
from hookline.settings import Settings, load_settings

DOCS = Path(__file__).parents[2] / "docs" / "configuration.md"


def test_every_setting_is_documented() -> None:
    """docs/configuration.md lists every HOOKLINE_* setting."""
    text = DOCS.read_text()
    missing = [n for n in Settings.model_fields if f"`HOOKLINE_{n.upper()}`" not in text]
    assert missing == []


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """HOOKLINE_* variables set the fields, and the retry schedule parses."""
    monkeypatch.setenv("HOOKLINE_PORT", "9999")
    monkeypatch.setenv("HOOKLINE_RETRY_SCHEDULE", "1s,2m")
    settings = load_settings()
    assert settings.port == 9999
    assert settings.retry_policy.delays == (1, 120)


def test_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A malformed value is refused with the variable's name."""
    monkeypatch.setenv("HOOKLINE_WORKER_CONCURRENCY", "lots")
    with pytest.raises(ConfigError, match="HOOKLINE_WORKER_CONCURRENCY"):
        load_settings()


def test_lease_must_outlast_an_attempt() -> None:
    """A lease shorter than the request timeout plus a margin is refused."""
    with pytest.raises(ConfigError, match="lease_seconds"):
        load_settings({"lease_seconds": 10, "request_timeout": 15})


def test_config_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A --config file supplies settings; the environment wins over it."""
    config = tmp_path / "hookline.env"
    config.write_text("HOOKLINE_PORT=7000\nHOOKLINE_CLAIM_BATCH=7\n")
    monkeypatch.setenv("HOOKLINE_CLAIM_BATCH", "9")
    settings = load_settings(config_file=config)
    assert settings.port == 7000
    assert settings.claim_batch == 9
