"""Wire models of plans and an application's plan and usage (docs/plans.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from hookline.api.schemas import Name, RateLimit, RetrySchedule
from hookline.api.schemas.common import RequestModel, ResponseModel


class PlanLimits(RequestModel):
    """A plan's values, each optional: a missing one is no limit (or the server's default)."""

    retry_schedule: RetrySchedule | None = None
    request_timeout: Annotated[float, Field(gt=0, le=300)] | None = None
    max_attempts: Annotated[int, Field(ge=1, le=100)] | None = None
    throttle_rate: RateLimit | None = None
    max_endpoints: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    max_in_flight: Annotated[int, Field(ge=1, le=10_000)] | None = None
    messages_per_day: Annotated[int, Field(ge=0, le=2_000_000_000)] | None = None
    messages_per_month: Annotated[int, Field(ge=0, le=2_000_000_000)] | None = None
    retention_days: Annotated[int, Field(ge=1, le=90)] | None = None
    max_payload_bytes: Annotated[int, Field(ge=1, le=64 * 1024 * 1024)] | None = None
    default_priority: Literal["high", "normal", "low"] | None = None

    def stored(self) -> dict[str, Any]:
        """The values set, under their stored (snake_case) names."""
        return self.model_dump(exclude_none=True)


class PlanIn(RequestModel):
    """Create or replace a plan (the name is in the path)."""

    limits: PlanLimits = Field(default_factory=PlanLimits)


class PlanOut(ResponseModel):
    """A plan."""

    name: str
    limits: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class PlanListOut(ResponseModel):
    """Every plan, by name."""

    data: list[PlanOut]


class ApplicationPlanIn(RequestModel):
    """An application's plan (null: none) and the values it overrides."""

    plan: Name | None = None
    overrides: PlanLimits | None = None


class UsageOut(ResponseModel):
    """An application's messages in one quota period."""

    quota: str
    period: str
    used: int
    limit: int | None
    resets_at: datetime


class ApplicationPlanOut(ResponseModel):
    """An application's plan, overrides, effective limits and usage now."""

    plan: str | None
    overrides: dict[str, Any]
    limits: dict[str, Any]
    usage: list[UsageOut]
