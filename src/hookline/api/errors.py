"""Errors as Svix-shaped JSON answers.

Two shapes, as the Svix SDKs parse them: ``{"code", "detail"}`` for most errors,
and ``{"detail": [{"loc", "msg", "type"}]}`` for 422. Input values are never
echoed back: they may hold secrets.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match, Route

from hookline.domain.plans import QuotaExceededError
from hookline.domain.text import MAX_DEPTH
from hookline.errors import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    HooklineError,
    NotFoundError,
    StorageError,
    TooLargeError,
    ValidationError,
    VerificationFailed,
)

logger = logging.getLogger(__name__)

#: Where a field named by a ``ValidationError`` lives, when not in the body.
_NOT_BODY = frozenset({"query", "path"})

#: What a client is told when the database fails (the cause goes to the log).
STORAGE_UNAVAILABLE = "storage is unavailable; nothing was changed, try again later"

_STATUS = {
    AuthenticationError: 401, VerificationFailed: 401, ForbiddenError: 403, NotFoundError: 404,
    ConflictError: 409, TooLargeError: 413, ValidationError: 422, StorageError: 503,
}  # fmt: skip
_HTTP_CODES = {
    400: "bad_request",
    401: "authentication_failed",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer encoded with orjson."""
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def error_response(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> Response:
    """The ``{"code", "detail"}`` error shape."""
    return json_response(status, {"code": code, "detail": detail}, headers)


def validation_response(problems: Sequence[tuple[Sequence[str | int], str, str]]) -> Response:
    """The 422 shape: one entry per offending field."""
    return json_response(
        422,
        {"detail": [{"loc": list(loc), "msg": msg, "type": kind} for loc, msg, kind in problems]},
    )


def field_error(loc: Sequence[str | int], message: str) -> Response:
    """A 422 naming one field."""
    return validation_response([(loc, message, "value_error")])


async def _hookline_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HooklineError)
    return hookline_error_response(error, request.url.path)


def hookline_error_response(error: HooklineError, path: str) -> Response:
    """The answer to a hookline error: 422 naming the field, or its status and code."""
    if isinstance(error, ValidationError):
        # FastAPI's own 422s say where a field is ("body", "query", "path"); so do ours.
        located = bool(error.field) and error.field[0] in _NOT_BODY
        return field_error(error.field if located else ["body", *error.field], error.detail)
    if isinstance(error, QuotaExceededError):
        # Which quota, and when it resets: in the body and as Retry-After.
        resets = datetime.fromtimestamp(error.resets_at, UTC).isoformat().replace("+00:00", "Z")
        body = {
            "code": error.code, "detail": error.detail, "quota": error.quota,
            "limit": error.limit, "resetsAt": resets,
        }  # fmt: skip
        return json_response(429, body, {"Retry-After": str(error.retry_after)})
    status = next((s for kind, s in _STATUS.items() if isinstance(error, kind)), 500)
    if status >= 500:
        logger.error("request failed", extra={"path": path, "error": error.detail})
    if isinstance(error, StorageError):
        # The driver's words stay in the log: they name tables and values, not the fix.
        return error_response(status, error.code, STORAGE_UNAVAILABLE)
    return error_response(status, error.code, error.detail)


async def _request_validation(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    return validation_response(
        [
            (e.get("loc", ()), e.get("msg", "invalid"), e.get("type", "value_error"))
            for e in error.errors()
        ]
    )


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    if error.status_code == 400 and isinstance(error.__cause__, RecursionError):
        # FastAPI's JSON parser gave up on a body nested past the interpreter's limit.
        return field_error(["body"], f"nests deeper than {MAX_DEPTH} levels")
    code = _HTTP_CODES.get(error.status_code, "error")
    headers = dict(error.headers or {})
    if error.status_code == 405:
        # Starlette names the methods of the first route that matched the path only;
        # a 405 must list every method the path has (RFC 9110).
        headers["Allow"] = ", ".join(sorted(_methods_of(request)))
    return error_response(error.status_code, code, str(error.detail), headers)


def _methods_of(request: Request) -> set[str]:
    """Every method some route accepts at the request's path."""
    methods: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match != Match.NONE and isinstance(route, Route) and route.methods:
            methods |= route.methods
    return methods


async def _unexpected(request: Request, error: Exception) -> Response:
    logger.exception("unhandled error", extra={"path": request.url.path})
    return error_response(500, "internal_error", "internal server error")


def install(app: FastAPI) -> None:
    """Register the handlers that turn exceptions into Svix-shaped answers."""
    app.add_exception_handler(HooklineError, _hookline_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
