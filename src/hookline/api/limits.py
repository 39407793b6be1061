"""The request body size limit, enforced before anything reads or stores the body."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hookline.api.errors import error_response


class BodyLimitMiddleware:
    """Answers 413 to a request body over ``limit`` bytes.

    A declared ``Content-Length`` over the limit is refused before a byte is
    read; a chunked body is counted as it arrives and refused once it passes
    the limit, so an endless body cannot fill memory either.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await self._refuse(scope, receive, send)
            return
        seen = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # FastAPI passes an HTTPException from reading the body through
                    # to the error handlers, which answer 413 in the usual shape.
                    raise HTTPException(413, self.detail)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except HTTPException as error:
            # Raised outside FastAPI's handlers (by a middleware reading the body).
            if error.status_code != 413 or started:
                raise
            await self._refuse(scope, receive, send)

    @property
    def detail(self) -> str:
        """What a refused client is told."""
        return f"request body is larger than the limit of {self.limit} bytes"

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        await error_response(413, "payload_too_large", self.detail)(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
