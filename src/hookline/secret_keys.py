"""Where the keys that seal stored secrets come from: a setting, or a key file.

``HOOKLINE_SECRET_KEY`` (comma-separated, the first seals) wins. Without it, the
key is read from ``HOOKLINE_SECRET_KEY_FILE`` (``hookline.key``), and a missing
file is created with a new key, readable by its owner only. Creation is
exclusive, so two processes starting together end up with the same key, not one
each. The key never appears in a log line or an error message: only its id does.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from hookline.domain.secrets import SecretBox, generate_key
from hookline.errors import ConfigError
from hookline.settings import Settings

logger = logging.getLogger(__name__)


def load_secret_box(settings: Settings) -> SecretBox:
    """The keyring the settings name, creating the key file on first use."""
    configured = settings.secret_key.get_secret_value()
    if configured.strip():
        box = SecretBox.from_text(configured, "HOOKLINE_SECRET_KEY")
    else:
        path = settings.secret_key_file
        box = SecretBox.from_text(read_or_create_key_file(path), f"key file {path}")
    logger.info("secret keys loaded", extra={"key_ids": list(box.key_ids)})
    return box


def read_or_create_key_file(path: Path) -> str:
    """The text of the key file at ``path``; a new key is written there if it does not exist."""
    try:
        return path.read_text()
    except FileNotFoundError:
        pass
    except OSError as error:
        raise ConfigError(f"cannot read key file {path}: {error.strerror}") from None
    if _create_exclusively(path, generate_key() + "\n"):
        where = str(path.absolute())
        logger.warning(
            "generated a new secret key in %s: back it up, since stored endpoint secrets cannot "
            "be read without it; every process on this database, on every machine, must use "
            "the same key (copy the file, or set HOOKLINE_SECRET_KEY)",
            where,
            extra={"path": where},
        )
    return path.read_text()


def _create_exclusively(path: Path, text: str) -> bool:
    """Write ``text`` to a new file at ``path`` (mode 0600); False if it already exists.

    The key is written to a private temporary file that is then hard-linked into
    place: the link fails if ``path`` exists, and a reader never sees a half-written
    file (as it could between an exclusive create and its write).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # mkstemp: a new file of a unique name, mode 0600.
        descriptor, temporary_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as error:
        raise ConfigError(f"cannot create key file {path}: {error.strerror}") from None
    temporary = Path(temporary_name)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.link(temporary, path)
        _sync_directory(path.parent)
    except FileExistsError:
        return False
    except OSError as error:
        raise ConfigError(f"cannot create key file {path}: {error.strerror}") from None
    finally:
        temporary.unlink(missing_ok=True)
    return True


def _sync_directory(directory: Path) -> None:
    """Make a new name in ``directory`` durable: secrets sealed with the key outlive a power cut."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
