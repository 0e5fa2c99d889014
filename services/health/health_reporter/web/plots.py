"""Server-side SVG sparklines from the history: the dashboard needs no JavaScript and no external files."""

from __future__ import annotations

from dataclasses import dataclass

from ..history import SERIES, History

WIDTH, HEIGHT = 300, 80
FIXED_RANGES = {"%": (0.0, 100.0)}  # percentages always on a 0-100 axis so plots compare at a glance


@dataclass(frozen=True)
class Plot:
    key: str
    title: str
    unit: str
    latest: float | None
    low: float
    high: float
    points: str  # SVG polyline "x,y x,y ..."; empty when the device does not report this value
    last: tuple[float, float] = (0.0, 0.0)  # where the latest value sits: marked, as one point draws no line


def _range(unit: str, values: list[float]) -> tuple[float, float]:
    if unit in FIXED_RANGES:
        return FIXED_RANGES[unit]
    low, high = min(values), max(values)
    pad = max((high - low) * 0.1, 1.0)  # a flat line sits mid-plot instead of on the border
    floor = low - pad if low < 0 else max(low - pad, 0.0)  # no "-1 records" on the axis of a count
    return floor, high + pad


def _x(t: float, now: float, span: float) -> float:
    return WIDTH * (1 - (now - t) / span)


def _y(value: float, low: float, high: float) -> float:
    clamped = min(max(value, low), high)
    return HEIGHT * (1 - (clamped - low) / (high - low))


def build_plots(history: History, now: float) -> list[Plot]:
    span = history.span_seconds
    plots = []
    for series in SERIES:
        pairs = [(t, v) for t, v in history.series(series.key) if t >= now - span]
        if not pairs:
            plots.append(Plot(series.key, series.title, series.unit, None, 0.0, 0.0, ""))
            continue
        low, high = _range(series.unit, [v for _, v in pairs])
        xy = [(round(_x(t, now, span), 1), round(_y(v, low, high), 1)) for t, v in pairs]
        coords = " ".join(f"{x},{y}" for x, y in xy)
        plots.append(Plot(series.key, series.title, series.unit, pairs[-1][1], low, high, coords, xy[-1]))
    return _shown(plots)


def _shown(plots: list[Plot]) -> list[Plot]:
    """A fallback series (the backlog in bytes) appears only with points, and then replaces its primary
    if that one has none: one "Log backlog" plot, in records or, from older agents, in bytes."""
    drawn = {plot.key for plot in plots if plot.points}
    replaced = {s.fallback_for for s in SERIES if s.fallback_for and s.key in drawn}
    fallbacks = {s.key for s in SERIES if s.fallback_for}
    return [p for p in plots if p.key in drawn or (p.key not in fallbacks and p.key not in replaced)]
