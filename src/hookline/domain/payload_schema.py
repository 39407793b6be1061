"""Event type schemas: checking a schema on save, and a payload against it on publish.

Pure (jsonschema, which resolves no remote ``$ref``: a schema cannot make hookline
fetch anything). Validators are compiled once per schema text.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import jsonschema
import orjson
from jsonschema.exceptions import SchemaError, best_match
from jsonschema.protocols import Validator


@dataclass(frozen=True, slots=True)
class SchemaFault:
    """Where a payload (or a schema) breaks the rules, and how."""

    path: tuple[str | int, ...]
    message: str


def check_schema(schema: dict[str, Any]) -> SchemaFault | None:
    """Whether ``schema`` is a valid JSON Schema (of the draft it names, else 2020-12)."""
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as error:
        return SchemaFault(tuple(error.absolute_path), error.message)
    return None


@functools.lru_cache(maxsize=512)
def _validator(schema_text: str) -> Validator:
    schema = orjson.loads(schema_text)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    validator: Validator = cls(schema)
    return validator


def validate(schema: dict[str, Any], payload: Any) -> SchemaFault | None:
    """The most relevant fault of ``payload`` under ``schema`` (None: it conforms)."""
    text = orjson.dumps(schema, option=orjson.OPT_SORT_KEYS).decode()
    error = best_match(_validator(text).iter_errors(payload))
    if error is None:
        return None
    return SchemaFault(tuple(error.absolute_path), error.message[:300])
