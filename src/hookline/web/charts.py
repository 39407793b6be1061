"""Charts of attempts over time, drawn as inline SVG on the server (no script, no library).

Pure geometry: ``SeriesPoint`` buckets in, shapes with plain numbers out; the
templates only place them. Three charts: attempts per second, success rate,
and latency percentiles (p50, p95, p99).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from hookline.domain.series import SeriesPoint

#: Windows a page can show: name -> (span, bucket) in seconds.
WINDOWS: dict[str, tuple[float, float]] = {
    "1h": (3600.0, 60.0),
    "6h": (6 * 3600.0, 300.0),
    "24h": (86400.0, 900.0),
    "7d": (7 * 86400.0, 3 * 3600.0),
}
DEFAULT_WINDOW = "1h"

WIDTH = 420
HEIGHT = 160
LEFT = 50
RIGHT = 10
TOP = 10
BOTTOM = 22


@dataclass(frozen=True, slots=True)
class Line:
    """One series: its label, its CSS class, and its runs of points (gaps where no data)."""

    label: str
    css: str
    runs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Bar:
    """One bucket's bar."""

    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True, slots=True)
class Chart:
    """A chart ready to place: axes labels, bars and lines, and a one-line summary."""

    title: str
    summary: str
    y_ticks: tuple[tuple[float, str], ...]
    x_ticks: tuple[tuple[float, str, str], ...]
    bars: tuple[Bar, ...]
    lines: tuple[Line, ...]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    top: int = TOP
    bottom_edge: int = HEIGHT - BOTTOM


def window(name: str | None, now: float) -> tuple[str, float, float, float]:
    """The named window (the default if unknown) ending at ``now``: name, since, until, bucket."""
    chosen = name if name in WINDOWS else DEFAULT_WINDOW
    span, bucket = WINDOWS[chosen]
    until = math.ceil(now / bucket) * bucket
    return chosen, until - span, until, bucket


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 times a power of ten at or above ``value`` (1 for nothing)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return 10.0 * power  # pragma: no cover - the loop always returns


def _number(value: float) -> str:
    if value >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:.2g}" if value < 1 else f"{value:.1f}"


def _x(index: float, count: int) -> float:
    return LEFT + (WIDTH - LEFT - RIGHT) * index / max(1, count)


def _y(value: float, top: float) -> float:
    return HEIGHT - BOTTOM - (HEIGHT - BOTTOM - TOP) * min(value, top) / top


def _time_ticks(series: Sequence[SeriesPoint], bucket: float) -> tuple[tuple[float, str, str], ...]:
    """Start, middle and end times (UTC), each with its text anchor."""
    if not series:
        return ()
    fmt = "%H:%M" if len(series) * bucket <= 86400 else "%m-%d %H:%M"
    picks = ((0, "start"), (len(series) // 2, "middle"), (len(series), "end"))
    ticks = []
    for index, anchor in picks:
        moment = datetime.fromtimestamp(series[0].at + index * bucket, UTC)
        ticks.append((round(_x(index, len(series)), 1), moment.strftime(fmt), anchor))
    return tuple(ticks)


def _y_ticks(top: float, unit: str) -> tuple[tuple[float, str], ...]:
    return tuple((round(_y(v, top), 1), f"{_number(v)}{unit}") for v in (0, top / 2, top))


def _runs(
    series: Sequence[SeriesPoint], value: Callable[[SeriesPoint], float | None], top: float
) -> tuple[str, ...]:
    """Polyline point lists through each bucket's middle; a bucket without data breaks the line."""
    runs: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] = []
    for index, point in enumerate(series):
        measured = value(point)
        if measured is None:
            if current:
                runs.append(current)
            current = []
            continue
        current.append((_x(index + 0.5, len(series)), _y(measured, top)))
    if current:
        runs.append(current)
    # A lone point still shows: as a flat segment across most of its bucket.
    half = max(1.5, (WIDTH - LEFT - RIGHT) / max(1, len(series)) * 0.4)
    shown = [run if len(run) > 1 else [(run[0][0] - half, run[0][1]), (run[0][0] + half, run[0][1])]
             for run in runs]  # fmt: skip
    return tuple(" ".join(f"{x:.1f},{y:.1f}" for x, y in run) for run in shown)


def rate_chart(series: Sequence[SeriesPoint], bucket: float) -> Chart:
    """Attempts per second in each bucket, as bars."""
    rates = [p.attempts / bucket for p in series]
    top = nice_ceiling(max(rates, default=0.0))
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(series))
    bars = []
    for index, (point, rate) in enumerate(zip(series, rates, strict=True)):
        if point.attempts == 0:
            continue
        y = _y(rate, top)
        bars.append(
            Bar(
                x=round(_x(index, len(series)) + slot * 0.1, 1), y=round(y, 1),
                width=round(max(1.0, slot * 0.8), 1), height=round(HEIGHT - BOTTOM - y, 1),
                title=f"{point.attempts} attempts ({_number(rate)}/s)",
            )
        )  # fmt: skip
    total = sum(p.attempts for p in series)
    span = bucket * max(1, len(series))
    summary = f"{total:,} attempts, {_number(total / span)}/s on average"
    return Chart(
        title="Deliveries per second", summary=summary, y_ticks=_y_ticks(top, "/s"),
        x_ticks=_time_ticks(series, bucket), bars=tuple(bars), lines=(),
    )  # fmt: skip


def success_chart(series: Sequence[SeriesPoint], bucket: float) -> Chart:
    """The share of attempts that succeeded, per bucket with attempts."""
    total = sum(p.attempts for p in series)
    succeeded = sum(p.succeeded for p in series)
    summary = f"{100 * succeeded / total:.1f}% of {total:,} attempts" if total else "no attempts"
    line = Line(
        "success rate", "line-ok",
        _runs(series, lambda p: 100 * p.succeeded / p.attempts if p.attempts else None, 100.0),
    )  # fmt: skip
    return Chart(
        title="Success rate", summary=summary, y_ticks=_y_ticks(100.0, "%"),
        x_ticks=_time_ticks(series, bucket), bars=(), lines=(line,),
    )  # fmt: skip


def latency_chart(series: Sequence[SeriesPoint], bucket: float) -> Chart:
    """p50, p95 and p99 attempt latency per bucket, in milliseconds."""
    worst = max((p.p99_ms for p in series if p.p99_ms is not None), default=0.0)
    top = nice_ceiling(worst)
    lines = (
        Line("p50", "line-p50", _runs(series, lambda p: p.p50_ms, top)),
        Line("p95", "line-p95", _runs(series, lambda p: p.p95_ms, top)),
        Line("p99", "line-p99", _runs(series, lambda p: p.p99_ms, top)),
    )
    summary = f"worst p99 {_number(worst)} ms" if worst else "no attempts"
    return Chart(
        title="Latency (p50, p95, p99)", summary=summary, y_ticks=_y_ticks(top, " ms"),
        x_ticks=_time_ticks(series, bucket), bars=(), lines=lines,
    )  # fmt: skip


def charts(series: Sequence[SeriesPoint], bucket: float) -> tuple[Chart, Chart, Chart]:
    """The three charts of a window."""
    return rate_chart(series, bucket), success_chart(series, bucket), latency_chart(series, bucket)
