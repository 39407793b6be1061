"""The web faces of hookline, served by hookline itself (no CDN, no build step).

- The dashboard (``/dashboard``), for operators: sign in with an admin token.
- The customer portal (``/portal``), for one application's users: opened by the
  link that ``POST /api/v1/auth/app-portal-access/{app_id}`` returns.

Server-rendered Jinja2 pages with autoescaping, forms protected by a SameSite=Strict
session cookie and a per-session CSRF token; every change goes through the same use
cases (``hookline.usecases``: checks, audit entries) as the API, which this package does
not import. Each page and form declares what it needs (``web.access``). See
docs/dashboard.md.
"""

from __future__ import annotations

from hookline.web.site import WebFront, create_web

__all__ = ["WebFront", "create_web"]
