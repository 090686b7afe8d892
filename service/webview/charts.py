"""Server-rendered step charts for the web view: the geometry, in exact decimals.

A chart is drawn event by event: step ``i`` is the ``i``-th row of a history (the figures as
they stood once that event was recorded), placed at an even spacing along the x axis and
labelled with the date the event took effect. Event order, not a date axis, because a
back-dated event is known only from when it was recorded: placed at its effective date it would
show figures nobody knew then. Each series is a step line through its values. Each event is one
link (a column the height of the plot, so points of several series at the same place are all
reached) to the event behind it, titled with every figure after it.

Only the positions are computed here (``Decimal`` pixels, rounded to a tenth); the SVG markup is
the ``webview/_chart.html`` template's. Money is never turned into float.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

WIDTH = Decimal(640)
HEIGHT = Decimal(260)
LEFT = Decimal(72)  # room for the y-axis labels
RIGHT = Decimal(16)
TOP = Decimal(16)
BOTTOM = Decimal(40)  # room for the x-axis labels
MAX_X_LABELS = 6
PIXEL = Decimal("0.1")
NICE_STEPS = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10))


@dataclass(frozen=True)
class Step:
    """One event of a history: its values per series (``None`` where a series has none)."""

    label: str  # the x-axis label: the date the event took effect
    href: str  # where the event is shown
    description: str  # what the event was, for the tooltip
    values: Mapping[str, Decimal | None]


@dataclass(frozen=True)
class Point:
    x: Decimal
    y: Decimal
    value: Decimal


@dataclass(frozen=True)
class Column:
    """One event's link: the slot it occupies along the x axis, where it leads, its tooltip."""

    x: Decimal
    width: Decimal
    href: str
    title: str


@dataclass(frozen=True)
class Series:
    key: str
    name: str
    index: int  # which of the stylesheet's series styles draws it
    path: str  # the step line, in SVG path syntax
    points: tuple[Point, ...]


@dataclass(frozen=True)
class Tick:
    position: Decimal
    label: str


@dataclass(frozen=True)
class Chart:
    title: str
    description: str
    width: Decimal
    height: Decimal
    left: Decimal
    right: Decimal  # x of the plot's right edge
    top: Decimal
    bottom: Decimal  # y of the plot's bottom edge
    zero: Decimal  # y of the value 0
    series: tuple[Series, ...]
    columns: tuple[Column, ...]
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]


def step_chart(title: str, steps: Sequence[Step], series: Sequence[tuple[str, str]]) -> Chart | None:
    """The chart of ``series`` (``(key, name)`` pairs, read from each step's ``values``) over
    ``steps``; ``None`` if no step has a value to draw."""
    values = [v for step in steps for key, _ in series if (v := step.values.get(key)) is not None]
    if not values:
        return None
    low, high, tick = value_range(min(values), max(values))
    plot_left, plot_right = LEFT, WIDTH - RIGHT
    plot_top, plot_bottom = TOP, HEIGHT - BOTTOM
    slot = (plot_right - plot_left) / len(steps)

    def x_of(index: int) -> Decimal:
        return pixel(plot_left + slot * index + slot / 2)

    def y_of(value: Decimal) -> Decimal:
        return pixel(plot_bottom - (value - low) * (plot_bottom - plot_top) / (high - low))

    drawn = []
    for index, (key, name) in enumerate(series):
        points = []
        path: list[str] = []
        previous: Point | None = None
        for position, step in enumerate(steps):
            value = step.values.get(key)
            if value is None:
                previous = None
                continue
            point = Point(x=x_of(position), y=y_of(value), value=value)
            if previous is None:
                path.append(f"M{point.x} {point.y}")
            else:
                path.append(f"H{point.x}")
                if point.y != previous.y:
                    path.append(f"V{point.y}")
            points.append(point)
            previous = point
        if points:
            drawn.append(Series(key=key, name=name, index=index, path=" ".join(path), points=tuple(points)))

    def figures_of(step: Step) -> str:
        figures = [f"{name} {pounds(v)}" for key, name in series if (v := step.values.get(key)) is not None]
        return "; ".join(figures) or "no figures"

    edges = [pixel(plot_left + slot * position) for position in range(len(steps) + 1)]
    columns = tuple(
        Column(
            x=edges[position],
            width=edges[position + 1] - edges[position],
            href=step.href,
            title=f"{step.description}, effective {step.label}: {figures_of(step)}",
        )
        for position, step in enumerate(steps)
    )
    y_ticks = []
    level = low
    while level <= high:
        y_ticks.append(Tick(position=y_of(level), label=compact_money(level)))
        level += tick
    every = max(1, -(-len(steps) // MAX_X_LABELS))
    x_ticks = [Tick(position=x_of(i), label=steps[i].label) for i in range(0, len(steps), every)]
    last = len(steps) - 1
    if last % every and len(steps) > 1:
        x_ticks[-1] = Tick(position=x_of(last), label=steps[last].label)
    names = ", ".join(drawn_series.name for drawn_series in drawn)
    return Chart(
        title=title,
        description=f"{names} after each of {len(steps)} events, from {steps[0].label} to {steps[-1].label}.",
        width=WIDTH,
        height=HEIGHT,
        left=plot_left,
        right=plot_right,
        top=plot_top,
        bottom=plot_bottom,
        zero=y_of(Decimal(0)),
        series=tuple(drawn),
        columns=columns,
        y_ticks=tuple(y_ticks),
        x_ticks=tuple(x_ticks),
    )


def value_range(low: Decimal, high: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """The axis ``(from, to, tick)``: always including 0, widened to whole ticks of a "nice"
    size (1, 2, 2.5 or 5 times a power of ten) with at most six intervals."""
    low, high = min(low, Decimal(0)), max(high, Decimal(0))
    if low == high:
        high = Decimal(1)
    tick = nice_tick((high - low) / 5)
    while True:
        start = (low / tick).to_integral_value(ROUND_FLOOR) * tick
        end = (high / tick).to_integral_value(ROUND_CEILING) * tick
        if (end - start) / tick <= 6:
            return start, end, tick
        tick = nice_tick(tick * Decimal("1.01"))


def nice_tick(rough: Decimal) -> Decimal:
    """The smallest 1, 2, 2.5, 5 or 10 times a power of ten that is at least ``rough`` (> 0)."""
    power = Decimal(10) ** rough.adjusted()
    for factor in NICE_STEPS:
        if factor * power >= rough:
            return factor * power
    raise AssertionError("unreachable: 10 x the power is always enough")  # pragma: no cover


def compact_money(amount: Decimal) -> str:
    """An axis label: £12.5m, £250k, £900, -£1.2m (exact to the shown figures; never float)."""
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    for size, suffix in ((Decimal(1_000_000_000), "bn"), (Decimal(1_000_000), "m"), (Decimal(1000), "k")):
        if amount >= size:
            scaled = (amount / size).quantize(Decimal("0.01")).normalize()
            return f"{sign}£{scaled:f}{suffix}"
    return f"{sign}£{amount.normalize():f}"


def pounds(amount: Decimal) -> str:
    """An exact amount with thousands separators: £1,234.50, -£300,000.50."""
    return f"-£{-amount:,}" if amount < 0 else f"£{amount:,}"


def pixel(value: Decimal) -> Decimal:
    return value.quantize(PIXEL)
