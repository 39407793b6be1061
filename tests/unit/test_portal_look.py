"""The portal's theme and framing values: checked before they reach a stylesheet or a header."""

from __future__ import annotations

import pytest

from hookline.domain import portal_look
from hookline.domain.portal_look import Theme
from hookline.errors import ConfigError
from hookline.settings import load_settings


def test_origins_are_checked_and_normalised() -> None:
    """Origins (and 'self') pass, lower-cased; paths, other schemes and junk are refused."""
    assert portal_look.frame_ancestors("https://App.Example.com, 'self' http://127.0.0.1:8080") == (
        "https://app.example.com", "'self'", "http://127.0.0.1:8080",
    )  # fmt: skip
    assert portal_look.frame_ancestors("https://*.example.com") == ("https://*.example.com",)
    assert portal_look.frame_ancestors("") == ()
    for bad in ["https://a.example/path", "javascript:alert(1)", "*", "https://a b", "ftp://x"]:
        with pytest.raises(ValueError, match="not an origin"):
            portal_look.frame_ancestors(bad)


def test_a_bad_setting_stops_the_server_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """HOOKLINE_PORTAL_* values are checked when the settings load."""
    bad = {"PORTAL_FRAME_ANCESTORS": "https://x/y", "PORTAL_ACCENT": "red",
           "PORTAL_LOGO_URL": "http://x/logo.png", "PORTAL_FEATURES": "all"}  # fmt: skip
    for name, value in bad.items():
        monkeypatch.setenv(f"HOOKLINE_{name}", value)
        with pytest.raises(ConfigError, match=f"HOOKLINE_{name}"):
            load_settings()
        monkeypatch.delenv(f"HOOKLINE_{name}")


def test_application_metadata_overrides_the_theme_and_bad_values_are_ignored() -> None:
    """portal.* keys override the server's theme; a value failing its check keeps the server's."""
    server = Theme("Hooks", "/static/logo.svg", "#3151d3", "")
    got = portal_look.themed(server, {"portal.name": "Acme", "portal.accent": "#0A7D33",
                                      "portal.logoUrl": "javascript:x", "other": "y"})  # fmt: skip
    assert got == Theme("Acme", "/static/logo.svg", "#0a7d33", "")


def test_the_stylesheet_carries_the_colours_with_a_readable_text_colour() -> None:
    """Light and dark accents, each with black or white text, whichever contrasts more."""
    css = portal_look.theme_css(Theme(accent="#0a7d33", accent_dark="#7ee2a0"))
    assert ":root { --accent: #0a7d33; --on-accent: #ffffff; }" in css
    assert "--accent: #7ee2a0; --on-accent: #000000;" in css
    assert "prefers-color-scheme: dark" in css
    assert portal_look.theme_css(Theme()) == ""
