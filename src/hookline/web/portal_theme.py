"""The portal's theme: the server's (``HOOKLINE_PORTAL_*``) with the application's
overrides (its ``portal.*`` metadata), in every portal page's header and in
``/portal/theme.css``, the stylesheet that carries its colours.

The colours are a stylesheet of their own, not an inline style, so that the pages keep
``style-src 'self'``; it is the signed-in application's theme, never one named in a URL.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hookline.domain.models import Application
from hookline.domain.portal_look import Theme, theme_css, themed
from hookline.errors import NotFoundError
from hookline.settings import Settings
from hookline.web.access import public
from hookline.web.core import SignedOut, signed_in, web_of
from hookline.web.sessions import Kind


def theme_of(settings: Settings, app: Application | None) -> Theme:
    """The theme a portal page of ``app`` (None: signed out) shows."""
    server = settings.portal_theme
    return server if app is None else themed(server, app.metadata)


@public
async def stylesheet(request: Request) -> Response:
    """The theme's colours: the signed-in application's, else the server's."""
    web = web_of(request)
    app = None
    if request.cookies:
        try:
            visit = await signed_in(request, Kind.PORTAL)
            if visit.principal.app_id is not None:
                app = await web.storage.get_application(visit.principal.app_id)
        except (SignedOut, NotFoundError):
            app = None
    css = theme_css(theme_of(web.settings, app))
    return Response(css, media_type="text/css", headers={"Cache-Control": "no-store"})


routes = [Route("/portal/theme.css", stylesheet, methods=["GET"])]
