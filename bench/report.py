"""The benchmark's output: the table on the terminal and the JSON file beside it."""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
_HEADINGS = ("figure", "value", "ceiling", "ratio", "goal")


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    figure: str
    value: str
    ceiling: str = "—"
    ratio: str = "—"
    goal: str = "—"
    #: The raw numbers behind the line, for the JSON file.
    data: dict[str, Any] | None = None

    def cells(self) -> tuple[str, str, str, str, str]:
        """The five cells, in column order."""
        return (self.figure, self.value, self.ceiling, self.ratio, self.goal)


def table(rows: list[Row]) -> str:
    """A Markdown table, padded so it also reads well as plain text."""
    grid = [_HEADINGS, *(row.cells() for row in rows)]
    widths = [max(len(line[column]) for line in grid) for column in range(len(_HEADINGS))]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(grid[0]), rule, *(line(cells) for cells in grid[1:])])


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for text in cpuinfo:
                if text.startswith("model name"):
                    return text.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, Any]:
    """What the numbers were measured on (they only compare within one run)."""
    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "packages": {
            name: _version(name) for name in ("hookline", "aiohttp", "uvloop", "uvicorn", "orjson")
        },
    }


def save(document: dict[str, Any], directory: Path = RESULTS_DIR) -> Path:
    """Write ``document`` to ``<directory>/<UTC timestamp>.json`` and return the path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    return path
