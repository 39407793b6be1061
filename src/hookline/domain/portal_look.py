"""How the customer portal looks and what it lets a customer change: its theme (name, logo,
accent colours for light and dark), the origins that may embed it in a frame, and the
endpoint features the operator opens to customers.

The server's settings give the defaults (``HOOKLINE_PORTAL_*``); an application's metadata
may override the theme with the keys in :data:`METADATA_KEYS` (docs/portal.md). Every
value is checked here, so that what reaches a stylesheet or a header is known to be
plain: colours are ``#rgb`` or ``#rrggbb``, a logo is an https URL or a path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Final
from urllib.parse import urlsplit

#: What the operator may open to customers in the portal (HOOKLINE_PORTAL_FEATURES).
FEATURES: Final = ("headers", "rate_limit", "transformations")
#: Application metadata keys that override the server's theme for that application.
METADATA_KEYS: Final = {
    "portal.name": "name", "portal.logoUrl": "logo_url", "portal.accent": "accent",
    "portal.accentDark": "accent_dark",
}  # fmt: skip

_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_HOST = re.compile(r"^(?:\*\.)?[A-Za-z0-9.-]+$|^\[[0-9A-Fa-f:.]+\]$")
_PLAIN_URL = re.compile(r"^[^\s\"'<>\\()]+$")
MAX_NAME = 80


@dataclass(frozen=True, slots=True)
class Theme:
    """The portal's look: a name in the header, a logo, and accent colours."""

    name: str = ""
    logo_url: str = ""
    accent: str = ""
    accent_dark: str = ""


def check_colour(value: str) -> str:
    """A CSS colour as ``#rgb`` or ``#rrggbb`` ('' for the default); else ValueError."""
    value = value.strip()
    if value and not _COLOUR.match(value):
        raise ValueError(f"{value[:20]!r} is not a colour like #3151d3")
    return value.lower()


def check_logo_url(value: str) -> str:
    """A logo's address: an https URL or a path on this server ('' for none)."""
    value = value.strip()
    if not value:
        return ""
    if len(value) > 2048 or not _PLAIN_URL.match(value):
        raise ValueError("a logo URL is at most 2048 characters, without spaces or quotes")
    parts = urlsplit(value)
    if value.startswith("/") and not value.startswith("//"):
        return value
    if parts.scheme != "https" or not parts.netloc:
        raise ValueError("a logo URL is an https:// URL or a path starting with /")
    return value


def check_name(value: str) -> str:
    """A portal's name: one line of at most ``MAX_NAME`` characters."""
    value = value.strip()
    if len(value) > MAX_NAME or any(ch in value for ch in "\r\n\x00"):
        raise ValueError(f"a portal name is one line of at most {MAX_NAME} characters")
    return value


def frame_ancestors(value: str) -> tuple[str, ...]:
    """The origins that may embed the portal (comma or space separated): each
    ``scheme://host[:port]`` (``https://*.example.com`` allowed) or ``'self'``."""
    found: list[str] = []
    for item in re.split(r"[,\s]+", value.strip()):
        if not item:
            continue
        if item in {"'self'", "self"}:
            found.append("'self'")
            continue
        parts = urlsplit(item)
        plain = parts.path in {"", "/"} and not (parts.query or parts.fragment or parts.username)
        host = parts.netloc.rsplit(":", 1)[0] if not parts.netloc.endswith("]") else parts.netloc
        port = parts.netloc[len(host) + 1 :] if len(parts.netloc) > len(host) else ""
        if (
            parts.scheme not in {"http", "https"}
            or not plain
            or not _HOST.match(host)
            or (port and not port.isdigit())
        ):
            raise ValueError(
                f"{item[:60]!r} is not an origin like https://app.example.com (or 'self')"
            )
        found.append(f"{parts.scheme}://{parts.netloc.lower()}")
    return tuple(found)


def features(value: str) -> frozenset[str]:
    """The features named (comma separated) from :data:`FEATURES`; else ValueError."""
    named = {item.strip() for item in value.split(",") if item.strip()}
    unknown = sorted(named - set(FEATURES))
    if unknown:
        choices = ", ".join(FEATURES)
        raise ValueError(f"unknown portal feature {unknown[0]!r}: choose from {choices}")
    return frozenset(named)


def themed(server: Theme, metadata: Mapping[str, str]) -> Theme:
    """The server's theme with an application's overrides; a value that does not pass
    its check is ignored (the metadata is free text the API does not check)."""
    checks = {"name": check_name, "logo_url": check_logo_url, "accent": check_colour,
              "accent_dark": check_colour}  # fmt: skip
    changes: dict[str, str] = {}
    for key, field in METADATA_KEYS.items():
        given = metadata.get(key)
        if given is None:
            continue
        try:
            changes[field] = checks[field](given)
        except ValueError:
            continue
    return replace(server, **changes)


def on_colour(colour: str) -> str:
    """Black or white, whichever reads better on ``colour`` (WCAG relative luminance)."""
    digits = colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    # Contrast with white is 1.05 / (L + 0.05), with black (L + 0.05) / 0.05.
    return "#ffffff" if 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.05 else "#000000"


def theme_css(theme: Theme) -> str:
    """The stylesheet that carries the theme's colours (empty when it has none)."""
    rules = []
    if theme.accent:
        rules.append(
            f":root {{ --accent: {theme.accent}; --on-accent: {on_colour(theme.accent)}; }}"
        )
    dark = theme.accent_dark or theme.accent
    if dark:
        values = f"--accent: {dark}; --on-accent: {on_colour(dark)};"
        rules.append(
            f":root[data-theme=dark] {{ {values} }}\n"
            "@media (prefers-color-scheme: dark) {\n"
            f"  :root:not([data-theme=light]) {{ {values} }}\n}}"
        )
    return "\n".join(rules) + ("\n" if rules else "")
