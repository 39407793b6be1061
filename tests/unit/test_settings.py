"""Settings: read from HOOKLINE_* variables, validated, documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from hookline.errors import ConfigError
from hookline.server_limits import ServerLimits
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


def test_server_limits_come_from_the_settings_with_bounds() -> None:
    """The HTTP server's limits are settings with sane defaults; nonsense values are
    refused with the variable's name."""
    limits = ServerLimits.from_settings(load_settings())
    assert limits == ServerLimits(
        header_timeout=10.0, body_timeout=30.0, max_header_bytes=32768, max_connections=10_000,
        max_connections_per_address=256, keep_alive_timeout=5.0, max_requests_per_connection=1000,
    )  # fmt: skip
    assert limits.tick == 1.0
    small = ServerLimits.from_settings(load_settings({"header_timeout": 0.4}))
    assert small.tick == pytest.approx(0.1)
    for name, value in [("max_header_bytes", 100), ("header_timeout", 0), ("body_timeout", -1),
                        ("max_connections", 0), ("auth_failure_window", 0)]:  # fmt: skip
        with pytest.raises(ConfigError, match=f"HOOKLINE_{name.upper()}"):
            load_settings({name: value})
