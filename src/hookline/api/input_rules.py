"""The text rule (``domain.text``) on every API route, as one dependency of every router.

``check_request`` runs before a route's own dependencies and body validation:

- a body sent to a route that reads JSON must say it is JSON (``application/json``,
  with or without a charset, or a ``+json`` type): anything else is 415, not a
  puzzling "Input should be a valid dictionary";
- the body, the path parameters and the query parameters keep the text rule: no
  lone surrogate, no NUL (but inside a payload), no nesting past ``MAX_DEPTH``, no
  number that would not come back as sent, no key given twice; the first offence
  is a 422 naming its field.

So nothing a request carries reaches storage in a form one backend would refuse
or keep differently from the other.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from hookline.domain.text import Path, TooDeep, first_offence, parse_json, text_problem

#: Routes (by path template) whose body holds a payload: data kept as JSON bytes, where a
#: NUL is stored alike everywhere and repeated keys resolve as in any JSON parser.
PAYLOAD_FIELDS: dict[str, frozenset[Path]] = {
    "/api/v1/app/{app_id}/msg": frozenset({("payload",)}),
    "/api/v1/app/{app_id}/routing/preview": frozenset({("payload",)}),
    "/api/v1/app/{app_id}/transformation/dry-run": frozenset({("payload",)}),
}
#: What a refused content type is told.
NOT_JSON = "the body must be JSON, sent with Content-Type: application/json"


def is_json_media_type(content_type: str | None) -> bool:
    """True for ``application/json`` (parameters such as a charset allowed) and
    ``application/<anything>+json``."""
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    kind, _, subtype = media_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def refusal(path: Path, reason: str) -> RequestValidationError:
    """The 422 naming one field (``path`` starts with ``body``, ``path`` or ``query``)."""
    return RequestValidationError([{"loc": path, "msg": reason, "type": "value_error"}])


async def check_request(request: Request) -> None:
    """Refuse a request whose parameters or body break the text rule (see the module)."""
    for name, value in request.path_params.items():
        problem = text_problem(value) if isinstance(value, str) else None
        if problem is not None:
            raise refusal(("path", name), problem)
    for name, value in request.query_params.multi_items():
        problem = text_problem(value) or text_problem(name)
        if problem is not None:
            raise refusal(("query", name), problem)
    route = request.scope.get("route")
    if getattr(route, "body_field", None) is None:
        return
    body = await request.body()
    if not body:
        return  # the route says whether it needs one
    if not is_json_media_type(request.headers.get("content-type")):
        raise HTTPException(415, NOT_JSON)
    check_body(body, PAYLOAD_FIELDS.get(getattr(route, "path", ""), frozenset()))


def check_body(body: bytes, payload_fields: frozenset[Path] = frozenset()) -> Any:
    """``body`` parsed, if it keeps the text rule; else the 422 naming the first offence.

    Text that is not JSON is left to the caller (FastAPI says where it breaks).
    """
    try:
        value = parse_json(body)
    except TooDeep as error:
        raise refusal(("body",), str(error)) from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    offence = first_offence(value, nul_allowed_under=payload_fields)
    if offence is not None:
        raise refusal(("body", *offence.path), offence.reason)
    return value


#: The dependency every router is included with (``api.app``).
CHECKED = Depends(check_request)
