"""Event types: the catalogue of what can be published, with schemas per version."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import (
    field_validator,
)

from hookline.api.schemas.common import (
    Description,
    FeatureFlags,
    Name,
    RequestModel,
    ResponseModel,
)


class _EventTypeFields(RequestModel):
    schemas: dict[str, Any] | None = None
    #: hookline: version -> transformation turning a latest-version payload into its shape.
    transformations: dict[str, dict[str, Any]] | None = None
    enforce_schema: bool | None = None
    feature_flags: FeatureFlags | None = None
    feature_flag: Name | None = None  # the singular form older Svix SDKs send
    group_name: Name | None = None

    @field_validator("schemas")
    @classmethod
    def _versions_are_objects(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        for version, schema in (value or {}).items():
            if not isinstance(schema, dict):
                raise ValueError(f"schema of version {version!r} must be a JSON object")
        return value

    @property
    def flags(self) -> tuple[str, ...] | None:
        """The feature flags, from ``featureFlags`` or else the legacy singular ``featureFlag``."""
        if self.feature_flags is not None:
            return tuple(self.feature_flags) or None
        return (self.feature_flag,) if self.feature_flag else None

    @property
    def flag_given(self) -> bool:
        """Whether the body says anything about the feature flag (PATCH leaves it otherwise)."""
        return bool({"feature_flags", "feature_flag"} & self.model_fields_set)


class EventTypeIn(_EventTypeFields):
    """Create an event type."""

    name: Name
    description: Description = ""
    archived: bool = False
    deprecated: bool = False


class EventTypeUpdate(_EventTypeFields):
    """Replace an event type (PUT); the name comes from the path."""

    description: Description = ""
    archived: bool = False
    deprecated: bool = False


class EventTypePatch(_EventTypeFields):
    """Change some fields of an event type."""

    description: Description | None = None
    archived: bool | None = None
    deprecated: bool | None = None


class EventTypeOut(ResponseModel):
    """An event type."""

    name: str
    description: str
    archived: bool
    deprecated: bool
    schemas: dict[str, Any] | None
    feature_flag: str | None
    feature_flags: list[str] | None
    group_name: str | None
    created_at: datetime
    updated_at: datetime
    #: hookline: a transformation per older version, and whether publishing validates.
    transformations: dict[str, Any] | None = None
    enforce_schema: bool = False
