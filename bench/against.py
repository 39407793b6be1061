"""``--against DIR``: the same hookline figures from another source tree, in the same run.

A change to the engine is judged A/B: this tree against an older one (typically a
``git worktree`` of the commit before the change), measured side by side, round after
round, so that the shared machine's noise falls on both alike. The other tree's
``hookline`` processes run with ``PYTHONPATH=DIR/src`` ahead of this tree's install;
the backlogs they drain are the same copies this tree's runs drain, so both trees must
read the same schema (a change that adds a migration cannot be compared this way).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bench.report import Row


class _Rated(Protocol):
    @property
    def per_second(self) -> float: ...


def add_against_argument(parser: argparse.ArgumentParser) -> None:
    """``--against DIR`` on the bench's command line."""
    parser.add_argument(
        "--against",
        type=Path,
        help="another hookline checkout (e.g. a git worktree of an older commit): its worker, "
        "PostgreSQL and publish figures are measured beside this tree's, round by round",
    )


def against_env(env: dict[str, str], tree: Path) -> dict[str, str]:
    """``env`` for a child that runs the hookline of ``tree`` instead of this one."""
    source = tree.resolve() / "src"
    if not (source / "hookline" / "__init__.py").is_file():
        raise SystemExit(f"--against {tree}: no src/hookline there (give a hookline checkout)")
    return {**env, "PYTHONPATH": str(source)}


@dataclass
class Comparison:
    """Every run of each compared figure, this tree's and the other's."""

    tree: Path
    this: dict[str, list[float]] = field(default_factory=dict)
    other: dict[str, list[float]] = field(default_factory=dict)

    def add(self, figure: str, this: _Rated, other: _Rated) -> None:
        """One round of ``figure``: both trees' runs, measured one after the other."""
        self.this.setdefault(figure, []).append(this.per_second)
        self.other.setdefault(figure, []).append(other.per_second)

    def rows(self) -> list[Row]:
        """One row per figure: best of this tree, best of the other, and their ratio."""
        return [
            Row(
                f"A/B: {figure} (this tree / {self.tree.name})",
                f"{max(runs):,.0f}",
                f"{max(self.other[figure]):,.0f}",
                f"{max(runs) / max(self.other[figure]):.2f}",
                "~1.00",
                data={"this": runs, "against": self.other[figure], "tree": str(self.tree)},
            )
            for figure, runs in self.this.items()
        ]
