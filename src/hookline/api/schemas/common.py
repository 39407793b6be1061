"""The building blocks of the wire models: id and name rules, bounded types, the
request and response bases, pagination, and helpers the routes share.

Field names are camelCase on the wire (docs/svix-compat.md is the reference).
Input models validate every value the server stores; an error names its field.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)
from pydantic.alias_generators import to_camel

from hookline.domain.custom_headers import check_headers
from hookline.errors import ValidationError

T = TypeVar("T")

ID_PATTERN = r"^[a-zA-Z0-9\-_.]+$"
CHANNEL_PATTERN = r"^[a-zA-Z0-9\-_.:]+$"
SECRET_PATTERN = r"^(whsec_)?[a-zA-Z0-9+/=]{32,100}$"

Uid = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=ID_PATTERN)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=ID_PATTERN)]
Channel = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=CHANNEL_PATTERN)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Description = Annotated[str, StringConstraints(max_length=4096)]
RateLimit = Annotated[int, Field(ge=1, le=65535)]
Version = Annotated[int, Field(ge=1, le=1000)]
#: Per-endpoint retry delays in seconds (at most 20 retries, each at most a week).
RetrySchedule = Annotated[list[Annotated[float, Field(ge=0, le=7 * 86400)]], Field(max_length=20)]


def json_bytes(value: Any, field: str) -> bytes:
    """``value`` as JSON bytes; JSON that hookline cannot keep exactly is refused (422)."""
    try:
        return orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError) as error:
        # orjson keeps integers exact only within 64 bits; a bigger one would change.
        raise ValidationError(f"cannot be stored as JSON: {error}", field=(field,)) from None


def check_name(value: str, field: str) -> str:
    """Refuse a name or uid taken from a path that breaks the id rules."""
    if not 1 <= len(value) <= 256 or not re.fullmatch(ID_PATTERN, value):
        raise ValidationError(
            "must be 1-256 characters of letters, digits, '-', '_' or '.'", field=("path", field)
        )
    return value


def unique_items(values: list[str] | None) -> list[str] | None:
    if values is not None and len(set(values)) != len(values):
        raise ValueError("values must be unique")
    return values


def _metadata(value: dict[str, str]) -> dict[str, str]:
    if len(value) > 64:
        raise ValueError("at most 64 metadata keys")
    for key, item in value.items():
        if not key or len(key) > 256 or len(item) > 4096:
            raise ValueError("metadata keys are 1-256 characters and values at most 4096")
    return value


Metadata = Annotated[dict[str, str], AfterValidator(_metadata)]
Headers = Annotated[dict[str, str], AfterValidator(check_headers)]
Channels = Annotated[list[Channel], Field(max_length=64), AfterValidator(unique_items)]
EventTypeNames = Annotated[list[Name], Field(max_length=1024), AfterValidator(unique_items)]
#: An endpoint's event types: names, or patterns where ``*`` stands for any characters.
EventTypePattern = Annotated[
    str, StringConstraints(min_length=1, max_length=256, pattern=r"^[a-zA-Z0-9\-_.*]+$")
]
EventTypePatterns = Annotated[
    list[EventTypePattern], Field(max_length=1024), AfterValidator(unique_items)
]
#: A dotted path into a JSON payload (``data.customer.id``).
JsonPath = Annotated[
    str, StringConstraints(min_length=1, max_length=256, pattern=r"^[^.\s]+(\.[^.\s]+)*$")
]
FeatureFlags = Annotated[list[Name], Field(max_length=16), AfterValidator(unique_items)]


def _as_utc(value: datetime) -> datetime:
    # The Svix SDK sends naive datetimes without an offset: they mean UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


class RequestModel(BaseModel):
    """The base of request bodies: camelCase on the wire, snake_case accepted too."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", str_strip_whitespace=False
    )


class ResponseModel(BaseModel):
    """The base of answers: camelCase on the wire."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class EmptyOut(ResponseModel):
    """An empty JSON object: Svix's answer where nothing more is to be said."""


#: The extra answer of a PUT that creates what it did not find (Svix's update-or-create).
CREATED_BY_PUT: dict[int | str, dict[str, Any]] = {
    201: {"description": "Created: nothing had this id or uid yet"}
}


# Pagination ----------------------------------------------------------------------


class ListResponse(ResponseModel, Generic[T]):
    """A page of a list and the cursors to move through it."""

    data: list[T]
    iterator: str | None
    prev_iterator: str | None
    done: bool


def utc(timestamp: float) -> datetime:
    """A stored time (epoch seconds) as an aware UTC datetime."""
    return datetime.fromtimestamp(timestamp, UTC)
