"""A filter's limits, its error, and the step budget of one evaluation."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Final

from hookline.errors import ValidationError

TOO_COSTLY: Final = "filter too costly for this payload"


class FilterError(ValidationError, ValueError):
    """A filter document is invalid; ``path`` says where: ``("body", "data.amount", "$gt")``."""

    def __init__(self, path: tuple[str, ...], message: str) -> None:
        super().__init__(f"{' > '.join(path) or 'filter'}: {message}", field=path)
        self.path = path
        self.message = message


@dataclass(frozen=True, slots=True)
class Limits:
    """How large a filter may be, and how much work one evaluation may do."""

    max_nodes: int = 256
    max_depth: int = 12
    max_regex_length: int = 512
    max_in_items: int = 256
    max_document_bytes: int = 16384
    max_steps: int = 100_000
    max_path_segments: int = 32

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            if getattr(self, field.name) < 1:
                raise ValueError(f"Limits.{field.name} must be at least 1")


DEFAULT_LIMITS: Final = Limits()


class _TooCostly(Exception):
    """The step budget ran out."""


class _Budget:
    __slots__ = ("left",)

    def __init__(self, steps: int) -> None:
        self.left = steps

    def spend(self, steps: int = 1) -> None:
        self.left -= steps
        if self.left < 0:
            raise _TooCostly
