"""The management API (Svix v1 compatible)."""

from __future__ import annotations

from hookline.api.app import create_app, create_metrics_app

__all__ = ["create_app", "create_metrics_app"]
