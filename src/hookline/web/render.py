"""Pages from Jinja2 templates, with autoescaping on for every value."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse

from hookline.domain.models import AttemptStatus, DeliveryStatus
from hookline.domain.text import text_problem
from hookline.web.core import Visit, web_of
from hookline.web.portal_theme import theme_of

TEMPLATES = Path(__file__).parent / "templates"

_STATUS_NAMES = {
    AttemptStatus.SUCCESS: "success", AttemptStatus.PENDING: "pending",
    AttemptStatus.FAIL: "failed", AttemptStatus.SENDING: "sending",
}  # fmt: skip


def at(moment: float | None) -> str:
    """An epoch time as ``2026-01-31 12:00:00 UTC`` ('-' for none)."""
    if moment is None:
        return "-"
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def pretty(payload: bytes | str) -> str:
    """A JSON payload indented for reading; anything else as text."""
    text = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else payload
    try:
        return _readable(json.loads(text), indent=2)
    except ValueError:
        return text


def compact(value: Any) -> str:
    """A value as one line of JSON."""
    return _readable(value, sort_keys=True)


def _readable(value: Any, **options: Any) -> str:
    """JSON with its characters as they are, unless one cannot be written as UTF-8 (a lone
    surrogate a provider sent escaped): then escaped, so the page can still be sent."""
    shown = json.dumps(value, ensure_ascii=False, **options)
    if text_problem(shown, nul_allowed=True) is None:
        return shown
    return json.dumps(value, ensure_ascii=True, **options)


def percent(value: float | None) -> str:
    """A fraction as a percentage ('-' for none)."""
    return "-" if value is None else f"{100 * value:.1f}%"


def status_name(status: AttemptStatus | DeliveryStatus | int) -> str:
    """An attempt's or a delivery's status in words."""
    if isinstance(status, DeliveryStatus):
        return str(status.value)
    return _STATUS_NAMES.get(AttemptStatus(status), str(status))


_ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters.update(at=at, pretty=pretty, compact=compact, percent=percent, status=status_name)


def page(
    request: Request, template: str, visit: Visit | None, status: int = 200, **values: Any
) -> HTMLResponse:
    """Render ``template`` for ``visit`` (None when signed out); never cached by browsers."""
    notices = visit.session.take_notices() if visit is not None else []
    if template.startswith("portal/") or request.url.path.startswith("/portal"):
        # Every portal page wears the theme (a signed-out page, the server's).
        values.setdefault("theme", theme_of(web_of(request).settings, values.get("app")))
    html = _ENV.get_template(template).render(
        request=request, visit=visit, notices=notices,
        csrf=visit.session.csrf if visit is not None else "",
        can_write=visit.can_write if visit is not None else False, **values,
    )  # fmt: skip
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
