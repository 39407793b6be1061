"""Payload filters: which events an endpoint wants, decided from an event's body and headers.

A filter document is JSON, ``{"body": <condition>, "headers": <condition>}``; both keys
are optional, any other key is an error, and ``null``, ``""`` or ``{}`` match everything.
``body`` is tested against the event's parsed JSON payload, ``headers`` against its HTTP
headers (inbound events). A condition is a JSON object in the style of MongoDB and Convoy::

    {"data.type": "invoice.paid", "data.amount": {"$gte": 100, "$lt": 10000}}
    {"$or": [{"data.currency": {"$in": ["EUR", "USD"]}}, {"$not": {"data.test": true}}]}

Semantics, exactly:

- Several entries in one condition object are ANDed; so are several operators in one
  operator object. ``$and`` and ``$or`` take a non-empty list of conditions, ``$not`` one
  condition; they stand where a field would, at any level of nesting.
- ``{"path": value}`` means ``{"path": {"$eq": value}}``. A nested object is an operator
  object when it is non-empty and every key starts with ``$``; otherwise it is a plain
  value compared whole. The argument of ``$eq``, ``$neq``, ``$in`` and ``$nin`` is always
  a plain value (``{"$eq": {"$x": 1}}`` compares with that object).
- Body paths are dotted, ``data.customer.id``. A segment names an object key; on an array
  an all-digit segment is an index (``items.0.sku``), any other segment reaches into every
  element that is an object, and the field then has one value per element that has it
  (arrays nested directly in arrays are not entered). The body itself must be an object:
  when it is an array or a scalar, every field is missing. Header fields are whole header
  names (no dots), matched case-insensitively.
- A field's *candidates* are each of its values and, for a value that is an array, each
  of that array's elements. ``$eq``, ``$in``, ``$gt``, ``$gte``, ``$lt``, ``$lte`` and
  ``$regex`` hold when they hold for some candidate; so ``{"tags": "a"}`` matches
  ``{"tags": ["a", "b"]}`` and ``{"tags": ["a", "b"]}`` matches it too. Each operator
  picks its own candidate. A missing field has no candidates, so these operators fail.
- ``$neq``, ``$nin`` and a field's ``$not`` (which takes an operator object) are exact
  negations of ``$eq``, ``$in`` and of that operator object: a missing field satisfies
  ``$neq`` and ``$nin``. ``$exist: true|false`` tests whether the field has any value
  (``null`` is a value; ``{"x": null}`` does not match a missing ``x``).
- Equality is JSON equality: numbers compare by value (``1 == 1.0``); booleans are not
  numbers; objects compare key by key regardless of order, arrays element by element.
- ``$gt`` and friends take a number or a string and compare numbers with numbers,
  strings with strings (by code point); any other pairing is simply false.
- ``$regex`` takes an RE2 pattern (linear time, no backreferences or lookaround; flags
  inline, e.g. ``(?i)``) and searches strings only; a match anywhere counts.

Cost is bounded twice. Compiling refuses a document over ``Limits``: serialized size,
node count (every JSON value under ``body`` and ``headers`` is one node), depth (the
condition object is at depth 1, each enclosing object or array adds one), path segments,
regex length and ``$in`` items. Evaluating counts steps: one per path segment followed,
per candidate tested and per value compared inside objects and arrays, the length of each
array reached into or expanded, and one per 256 characters a regex scans. Past
``max_steps`` the evaluation stops and the filter does not match. Evaluation never raises
on a JSON payload.
"""

from __future__ import annotations

from hookline.domain.filters._compile import PayloadFilter, compile_cached, compile_filter
from hookline.domain.filters._limits import DEFAULT_LIMITS, TOO_COSTLY, FilterError, Limits

__all__ = [
    "DEFAULT_LIMITS",
    "TOO_COSTLY",
    "FilterError",
    "Limits",
    "PayloadFilter",
    "compile_cached",
    "compile_filter",
]
