"""Where the secret keys come from: HOOKLINE_SECRET_KEY, or a key file made on first use."""

from __future__ import annotations

import logging
import stat
import threading
from pathlib import Path

import pytest

from hookline.domain.secrets import SecretBox, generate_key
from hookline.errors import ConfigError
from hookline.secret_keys import load_secret_box, read_or_create_key_file
from hookline.settings import load_settings


def logged_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured log record, message and structured fields alike, as one string."""
    return "\n".join(str(record.__dict__) for record in caplog.records)


def test_missing_key_file_is_created_private_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Without a key, a new key file (mode 0600) is written and a warning says to back it up."""
    path = tmp_path / "keys" / "hookline.key"
    with caplog.at_level(logging.INFO, logger="hookline.secret_keys"):
        box = load_secret_box(load_settings({"secret_key_file": path}))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert SecretBox.from_text(path.read_text()).key_ids == box.key_ids
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "back it up" in warning.getMessage()
    assert "HOOKLINE_SECRET_KEY" in warning.getMessage()
    assert path.read_text().strip() not in logged_text(caplog)
    assert box.current_key_id in logged_text(caplog)  # the id is logged, the key is not


def test_existing_key_file_is_read_not_replaced(tmp_path: Path) -> None:
    """A key file that exists is used as it is, every time."""
    path = tmp_path / "hookline.key"
    key = generate_key()
    path.write_text(key + "\n")
    settings = load_settings({"secret_key_file": path})
    assert load_secret_box(settings).key_ids == SecretBox.from_text(key).key_ids
    assert path.read_text() == key + "\n"


def test_setting_wins_and_no_file_is_made(tmp_path: Path) -> None:
    """HOOKLINE_SECRET_KEY, when set, is the keyring; the key file is not touched."""
    path = tmp_path / "hookline.key"
    new, old = generate_key(), generate_key()
    settings = load_settings({"secret_key": f"{new},{old}", "secret_key_file": path})
    box = load_secret_box(settings)
    assert box.key_ids == SecretBox.from_text(f"{new},{old}").key_ids
    assert not path.exists()


def test_bad_key_setting_is_refused_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A malformed HOOKLINE_SECRET_KEY raises ConfigError naming the variable, not the value."""
    value = "not-a-key-but-a-password-someone-typed"
    monkeypatch.setenv("HOOKLINE_SECRET_KEY", value)
    settings = load_settings()
    assert value not in repr(settings)
    with pytest.raises(ConfigError, match="HOOKLINE_SECRET_KEY") as caught:
        load_secret_box(settings)
    assert value not in caught.value.detail


def test_bad_key_file_names_the_file(tmp_path: Path) -> None:
    """A key file that does not hold a key is refused, naming the file."""
    path = tmp_path / "hookline.key"
    path.write_text("hunter2\n")
    with pytest.raises(ConfigError, match=r"key file .*hookline\.key") as caught:
        load_secret_box(load_settings({"secret_key_file": path}))
    assert "hunter2" not in caught.value.detail


def test_processes_starting_together_share_one_key(tmp_path: Path) -> None:
    """Many concurrent first starts create the key file once and all read the same key."""
    path = tmp_path / "hookline.key"
    start = threading.Barrier(8)
    keys: list[str] = []

    def first_start() -> None:
        start.wait()
        keys.append(read_or_create_key_file(path))

    threads = [threading.Thread(target=first_start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8
    assert len(set(keys)) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["hookline.key"]  # no temporary left
