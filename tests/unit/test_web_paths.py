"""Which request paths the web front (dashboard, portal, assets) takes from the API."""

from __future__ import annotations

import pytest

from hookline.web.site import is_web_path


@pytest.mark.parametrize(
    ("path", "web"),
    [
        ("/", True),
        ("/dashboard", True),
        ("/dashboard/", True),
        ("/dashboard/apps/app_1", True),
        ("/portal/app_1", True),
        ("/static", True),
        ("/static/app.css", True),
        ("/dashboardx", False),
        ("/portalx/a", False),
        ("/dash", False),
        ("", False),
        ("/api/v1/app/app_1/msg", False),
        ("/in/hk_in_token", False),
        ("/api/v1/static", False),
    ],
)
def test_only_the_web_prefixes_and_the_root_are_web_paths(path: str, web: bool) -> None:
    """A path is the web front's when its first segment is a web prefix (or it is "/")."""
    assert is_web_path(path) is web
