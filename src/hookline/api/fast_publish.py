"""``POST /api/v1/app/{app_id}/msg`` past FastAPI's router, to the same publish code.

Publishing is the API's hot call, and FastAPI's route matching and dependency
solving took about a third of its event-loop time (py-spy; docs/performance.md).
This plain ASGI middleware sits inside authentication, the body limit and
idempotency, so a publish meets every check it met before; it only skips the
router. It takes a request only when the route would read it the same way (JSON,
no query parameters) and it validates with the route's own model; anything else,
invalid bodies included, goes on to the route, so errors keep one shape.
"""

from __future__ import annotations

import re

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError as PydanticValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from hookline.api.asgi import read_body, replay_body
from hookline.api.context import Context
from hookline.api.errors import hookline_error_response
from hookline.api.input_rules import PAYLOAD_FIELDS, check_body, is_json_media_type
from hookline.api.routes.messages import PUBLISH, publish_message
from hookline.api.schemas import MessageIn
from hookline.domain.text import text_problem
from hookline.domain.tokens import Principal
from hookline.errors import HooklineError
from hookline.usecases.access import check

_PATH = re.compile(r"/api/v1/app/([^/]+)/msg")
ROUTE = "/api/v1/app/{app_id}/msg"


class PublishFastPath:
    """Takes plain JSON publishes straight to ``publish_message``."""

    def __init__(self, app: ASGIApp, context: Context) -> None:
        self.app = app
        self.context = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _PATH.fullmatch(scope["path"]) if scope["type"] == "http" else None
        if (
            match is None
            or scope["method"] != "POST"
            or scope.get("query_string")
            or not _is_json(scope)
            or text_problem(match.group(1)) is not None  # the route names the fault
        ):
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        try:
            # The text rule first, as on every route: its parse sees repeated keys, which
            # a faster parser would hide (the route would then refuse what this took).
            parsed = check_body(body, PAYLOAD_FIELDS[ROUTE])
            message_in = MessageIn.model_validate(parsed)
        except (PydanticValidationError, RequestValidationError):
            # The route says what is wrong, in FastAPI's words: hand it the body again.
            await self.app(scope, replay_body(body), send)
            return
        who = scope.get("state", {}).get("principal")
        assert isinstance(who, Principal)  # the auth middleware ran: this is an API path
        try:
            # What the route declares it needs, checked as its dependency would.
            await check(PUBLISH, who, match.group(1), self.context.storage)
            response = await publish_message(self.context, who, match.group(1), message_in)
        except HooklineError as error:
            response = hookline_error_response(error, scope["path"])
        await response(scope, receive, send)


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return is_json_media_type(value.decode("latin-1"))
    return False
