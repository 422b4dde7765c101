"""Chart geometry for the experiment pages, computed here and drawn as inline SVG.

No chart library and no script: Python works out every coordinate, and the Jinja macro
``chart_svg`` in ``templates/experiment_macros.html`` writes the SVG elements with
autoescaping on, so variant names and tooltips are text, never markup. Colours come from
the stylesheet (classes ``s0``, ``s1``... per variant), so light and dark themes apply.

Two shapes:

* :func:`timeline_chart` — each variant's cumulative mean per day with its confidence band
  (what the service's per-day sufficient statistics give);
* :func:`bars_chart` — one bar per variant with confidence whiskers, for experiments whose
  data spans a single day (a line needs two points).

Each is computed for a given pixel width, so the page can carry a wide and a narrow
drawing and let CSS show the one that fits, keeping text at a readable size on phones.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

__all__ = [
    "Bar",
    "Chart",
    "Dot",
    "Series",
    "bars_chart",
    "nice_ticks",
    "timeline_chart",
]

SERIES_COLOURS = 6  # classes s0..s5 in app.css; variants beyond that reuse them


@dataclass(frozen=True, slots=True)
class Dot:
    """One data point: its position and the tooltip text."""

    x: float
    y: float
    title: str


@dataclass(frozen=True, slots=True)
class Series:
    """One variant's line, confidence band and points."""

    index: int
    name: str
    line: str
    band: str
    dots: tuple[Dot, ...]

    @property
    def css(self) -> str:
        """The colour class of this series."""
        return f"s{self.index % SERIES_COLOURS}"


@dataclass(frozen=True, slots=True)
class Bar:
    """One variant's bar and whisker (``low``/``high`` None when the CI is undefined)."""

    index: int
    name: str
    label: str
    x: float
    width: float
    top: float
    base: float
    low: float | None
    high: float | None
    value_y: float
    title: str

    @property
    def css(self) -> str:
        """The colour class of this bar."""
        return f"s{self.index % SERIES_COLOURS}"

    @property
    def centre(self) -> float:
        """The x of the bar's middle (where the whisker goes)."""
        return self.x + self.width / 2


@dataclass(frozen=True, slots=True)
class Chart:
    """Everything the SVG macro draws; coordinates are in pixels of ``width`` x ``height``."""

    kind: str  # "timeline" or "bars"
    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    y_ticks: tuple[tuple[float, str], ...]
    x_ticks: tuple[tuple[float, str], ...]
    title: str
    description: str
    series: tuple[Series, ...] = ()
    bars: tuple[Bar, ...] = ()
    zero: float | None = None
    font: int = 12
    extras: dict[str, Any] = field(default_factory=dict)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering ``[low, high]`` (steps of 1, 2, 2.5 or 5 x 10^k)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high < low:
        low, high = high, low
    if high - low < 1e-12:
        pad = abs(high) * 0.1 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw - 1e-12)
    first = math.floor(low / step + 1e-9) * step
    ticks = []
    value = first
    while value < high + step * 0.999:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _scale(lo: float, hi: float, a: float, b: float) -> Callable[[float], float]:
    span = hi - lo or 1.0
    return lambda v: a + (v - lo) / span * (b - a)


def _round(value: float) -> float:
    return round(value, 1)


def _path(points: Sequence[tuple[float, float]]) -> str:
    return " ".join(
        f"{'M' if i == 0 else 'L'}{_round(x)},{_round(y)}" for i, (x, y) in enumerate(points)
    )


def _frame(width: int, height: int, font: int) -> tuple[float, float, float, float]:
    """Plot area (left, right, top, bottom) inside the drawing, leaving room for labels."""
    return 8 + font * 4.2, width - 12.0, 12.0, height - font * 2.6


def timeline_chart(
    points: Sequence[Mapping[str, Any]],
    variants: Sequence[str],
    *,
    fmt: Callable[[float], str],
    width: int = 720,
    height: int = 280,
    font: int = 12,
    title: str = "",
) -> Chart | None:
    """Cumulative mean per day and variant with its CI band; None with fewer than two days.

    ``points`` are the report's timeline rows ``{"day", "variant", "n", "mean", "ci_low",
    "ci_high"}``; ``fmt`` formats a metric value for axis labels and tooltips.
    """
    days = sorted({str(p["day"]) for p in points})
    if len(days) < 2:
        return None
    values = [float(p["mean"]) for p in points if p.get("mean") is not None]
    values += [float(p[k]) for p in points for k in ("ci_low", "ci_high") if p.get(k) is not None]
    if not values:
        return None
    left, right, top, bottom = _frame(width, height, font)
    ticks = nice_ticks(min(values), max(values))
    y = _scale(ticks[0], ticks[-1], bottom, top)
    ordinals = {d: date.fromisoformat(d).toordinal() for d in days}
    x = _scale(ordinals[days[0]], ordinals[days[-1]], left + 6, right - 6)
    by_variant: dict[str, list[Mapping[str, Any]]] = {v: [] for v in variants}
    for p in points:
        if p["variant"] in by_variant and p.get("mean") is not None:
            by_variant[str(p["variant"])].append(p)
    series = []
    for index, name in enumerate(variants):
        rows = sorted(by_variant[name], key=lambda p: str(p["day"]))
        if not rows:
            continue
        line = [(x(ordinals[str(p["day"])]), y(float(p["mean"]))) for p in rows]
        banded = [p for p in rows if p.get("ci_low") is not None and p.get("ci_high") is not None]
        band = ""
        if len(banded) >= 2:
            upper = [(x(ordinals[str(p["day"])]), y(float(p["ci_high"]))) for p in banded]
            lower = [(x(ordinals[str(p["day"])]), y(float(p["ci_low"]))) for p in banded]
            band = _path(upper + lower[::-1]) + " Z"
        dots = tuple(
            Dot(
                _round(px),
                _round(py),
                _tooltip(name, str(p["day"]), p, fmt),
            )
            for (px, py), p in zip(line, rows, strict=True)
        )
        series.append(Series(index, name, _path(line), band, dots))
    label_every = max(1, math.ceil(len(days) / max(2, int((right - left) // (font * 6)))))
    shown = days[::label_every]
    if days[-1] not in shown:
        shown = [*shown[:-1], days[-1]] if len(shown) > 1 else [*shown, days[-1]]
    x_ticks = tuple((_round(x(ordinals[d])), _day_label(d)) for d in shown)
    y_ticks = _y_ticks(ticks, y, fmt)
    return Chart(
        kind="timeline",
        width=width,
        height=height,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        title=title,
        description=(
            f"Cumulative {title or 'metric'} per variant from {days[0]} to {days[-1]}, "
            "each with its 95% confidence band."
        ),
        series=tuple(series),
        font=font,
    )


def bars_chart(
    rows: Sequence[tuple[str, float | None, float | None, float | None, int]],
    *,
    fmt: Callable[[float], str],
    width: int = 720,
    height: int = 280,
    font: int = 12,
    title: str = "",
) -> Chart | None:
    """One bar per variant ``(name, mean, ci_low, ci_high, n)`` with CI whiskers.

    Bars start at zero (the axis includes it), so their lengths compare honestly. None
    when no variant has a mean yet.
    """
    known = [r for r in rows if r[1] is not None]
    if not known:
        return None
    values = [0.0] + [float(v) for r in known for v in r[1:4] if v is not None]
    left, right, top, bottom = _frame(width, height, font)
    ticks = nice_ticks(min(values), max(values))
    y = _scale(ticks[0], ticks[-1], bottom, top)
    slot = (right - left) / len(rows)
    bar_width = min(slot * 0.55, 96.0)
    zero = y(0.0)
    bars = []
    for index, (name, mean, low, high, n) in enumerate(rows):
        x0 = left + slot * index + (slot - bar_width) / 2
        if mean is None:
            continue
        top_y = y(float(mean))
        lo_y = None if low is None else _round(y(float(low)))
        hi_y = None if high is None else _round(y(float(high)))
        label_y = min(top_y, hi_y if hi_y is not None else top_y) - font * 0.5
        ci = "" if low is None or high is None else f" (95% CI {fmt(low)} to {fmt(high)})"
        bars.append(
            Bar(
                index=index,
                name=name,
                label=fmt(float(mean)),
                x=_round(x0),
                width=_round(bar_width),
                top=_round(min(top_y, zero)),
                base=_round(abs(zero - top_y)),
                low=lo_y,
                high=hi_y,
                value_y=_round(max(label_y, top + font)),
                title=f"{name}: {fmt(float(mean))}{ci}, n={n:,}",
            )
        )
    # Variant names under the bars; long names are shortened (the tooltip has the full one).
    room = max(4, int(slot // (font * 0.62)))
    x_ticks = tuple(
        (_round(left + slot * i + slot / 2), _shorten(r[0], room)) for i, r in enumerate(rows)
    )
    return Chart(
        kind="bars",
        width=width,
        height=height,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        y_ticks=_y_ticks(ticks, y, fmt),
        x_ticks=x_ticks,
        title=title,
        description=f"{title or 'Metric'} per variant with 95% confidence intervals.",
        bars=tuple(bars),
        zero=_round(zero),
        font=font,
    )


_TRAILING_ZERO = re.compile(r"\.0+(?=%?$)")


def _tidy(labels: list[str]) -> list[str]:
    """Axis labels without a decimal part they all share as zeros (``60.0%`` -> ``60%``)."""
    if labels and all(_TRAILING_ZERO.search(label) for label in labels):
        return [_TRAILING_ZERO.sub("", label) for label in labels]
    return labels


def _y_ticks(
    ticks: Sequence[float], y: Callable[[float], float], fmt: Callable[[float], str]
) -> tuple[tuple[float, str], ...]:
    labels = _tidy([fmt(t) for t in ticks])
    return tuple((_round(y(t)), label) for t, label in zip(ticks, labels, strict=True))


def _tooltip(name: str, day: str, p: Mapping[str, Any], fmt: Callable[[float], str]) -> str:
    text = f"{name} · {day}: {fmt(float(p['mean']))}"
    if p.get("ci_low") is not None and p.get("ci_high") is not None:
        text += f" (95% CI {fmt(float(p['ci_low']))} to {fmt(float(p['ci_high']))})"
    return f"{text}, n={int(p.get('n', 0)):,}"


def _day_label(day: str) -> str:
    parsed = date.fromisoformat(day)
    return f"{parsed.strftime('%b')} {parsed.day}"


def _shorten(text: str, room: int) -> str:
    return text if len(text) <= room else text[: max(room - 1, 1)] + "…"
