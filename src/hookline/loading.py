"""Objects named on the command line as ``module:attribute`` (handlers, backfill fetchers)."""

from __future__ import annotations

import importlib
from typing import Any

from hookline.errors import ConfigError


def load_object(spec: str, option: str) -> Any:
    """The attribute ``spec`` names; ``option`` (e.g. ``--handlers``) says where it came from."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"{option} must look like module:attribute, not {spec!r}")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise ConfigError(f"cannot load {option} {spec!r}: {error}") from None
