"""Declarative payload transformations: reshape a JSON payload with JMESPath. Pure, no I/O.

An endpoint may carry a transformation that reshapes each event's payload before it
is signed and sent; event types use the same engine to turn a payload into an older
version's shape. The document is a JSON object, every key optional, applied in order:

- ``body``: a JMESPath expression on the payload; its result becomes the new payload.
- ``drop``: dotted paths removed from the result, one after another; missing paths
  are ignored; numeric segments index arrays (``items.0.card``).
- ``rename``: ``{"from.path": "to.path"}``; moves a field, creating missing objects on
  the way; a missing source is ignored.
- ``headers``: static request headers.
- ``headerExpressions``: header name -> JMESPath expression on the *original* payload.
  Strings are used as they are, numbers and booleans as JSON, null omits the header,
  objects and arrays are an error.

The authors are untrusted tenants. JMESPath runs no user code and has no loops or
recursion, so for a fixed expression the cost is polynomial in the payload; but it can
be exponential in the *expression's* length: ``{a:@,b:@}`` repeated n times builds, in
n steps, a DAG with 2^n paths, and serialising it, projecting over it (``*.*``),
comparing it (``==``, ``contains``) or ``to_string``-ing it walks every path, and
``[@,@] | []`` repeated doubles a list each time. So expressions run in an interpreter
that charges every node it visits, every element it copies or compares and every 16
characters it scans or builds against ``TransformLimits.max_cost``; strings built and
the output are capped at ``max_output_bytes``; and the output's size is measured by a
walk that stops as soon as it passes the cap, before anything is serialised.
"""

from __future__ import annotations

from hookline.domain.transform._apply import Transformation
from hookline.domain.transform._compile import compile_cached, compile_transformation
from hookline.domain.transform._limits import (
    DEFAULT_LIMITS,
    MAX_HEADER_NAME_LENGTH,
    MAX_HEADER_VALUE_LENGTH,
    MAX_HEADERS,
    MAX_PATH_LENGTH,
    RESERVED_HEADER_PREFIXES,
    RESERVED_HEADERS,
    CostExceeded,
    Path,
    TransformError,
    TransformLimits,
    TransformResult,
)

__all__ = [
    "DEFAULT_LIMITS",
    "MAX_HEADERS",
    "MAX_HEADER_NAME_LENGTH",
    "MAX_HEADER_VALUE_LENGTH",
    "MAX_PATH_LENGTH",
    "RESERVED_HEADERS",
    "RESERVED_HEADER_PREFIXES",
    "CostExceeded",
    "Path",
    "TransformError",
    "TransformLimits",
    "TransformResult",
    "Transformation",
    "compile_cached",
    "compile_transformation",
]
