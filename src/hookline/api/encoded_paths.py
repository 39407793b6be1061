"""A ``/`` sent percent-encoded inside a path segment (``%2F``) names nothing: 404.

The ASGI server decodes the path before routing, so ``GET /api/v1/app/acme%2Fendpoint``
(what the JavaScript SDK sends for the key ``acme/endpoint``: it encodes every path
parameter) would otherwise be routed as ``/api/v1/app/acme/endpoint`` and list acme's
endpoints. No id, uid or event type name can hold a ``/``, so such a request is
answered as Svix would: the thing named does not exist.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from hookline.api.errors import error_response


class EncodedSlashGuard:
    """Answers 404 to an API request whose raw path holds ``%2F`` (either case)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope.get("raw_path") if scope["type"] == "http" else None
        if raw and b"%2f" in raw.lower() and scope["path"].startswith("/api/"):
            response = error_response(
                404, "not_found", "no resource has a '/' in its id, uid or name"
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
