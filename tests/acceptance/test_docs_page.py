"""The OpenAPI document and its docs page, served by hookline alone."""

from __future__ import annotations

from support.server import HooklineProcess


def test_openapi_and_docs_page_need_no_cdn(server: HooklineProcess) -> None:
    """The OpenAPI document lists the Svix routes, and the docs page loads its assets locally."""
    with server.client() as api:
        spec = api.get("/api/v1/openapi.json").json()
        assert "/api/v1/app/{app_id}/msg" in spec["paths"]
        assert "/api/v1/app/{app_id}/endpoint/{endpoint_id}/recover" in spec["paths"]
        page = api.get("/docs")
        assert page.status_code == 200
        assert "/docs/assets/swagger-ui-bundle.js" in page.text
        assert "cdn" not in page.text.lower()
        script = api.get("/docs/assets/swagger-ui-bundle.js")
        assert script.status_code == 200
        assert len(script.content) > 100_000
