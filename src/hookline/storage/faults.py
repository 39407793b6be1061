"""Which database failures are the input's fault, shared by both backends.

A value the edge should have refused but did not (a NUL in a PostgreSQL text
column, a lone surrogate no UTF-8 encoder writes, an integer past 64 bits, a
number out of a column's range, a value too long for an index) is the caller's
to fix: ``InputRefused`` (a ``ValidationError``, 422 in the API, with a generic
message: the driver's words name columns and values, never the request's
fields). Anything else the driver raises is a ``StorageError`` (503 in the API,
where the answer says only that storage is unavailable; the log keeps the cause).
"""

from __future__ import annotations

import orjson

from hookline.errors import ValidationError

#: What a client is told when the database refuses its value.
REFUSED_DETAIL = "a value in this request cannot be stored (unsupported characters or size)"
#: Python-side failures of turning a value into a database parameter: never a fault of
#: the database, always of the value (encoding it to JSON, to UTF-8, to an integer).
VALUE_FAULTS: tuple[type[Exception], ...] = (
    orjson.JSONEncodeError,
    UnicodeEncodeError,
    OverflowError,
)


class InputRefused(ValidationError):
    """The database (or its driver) refused a value of the request; nothing was written."""

    code = "validation"

    def __init__(self) -> None:
        super().__init__(REFUSED_DETAIL)
