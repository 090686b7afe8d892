"""The web view's step charts (``service/webview/charts.py``): axis ranges, labels and the
geometry of the step lines, all in exact decimals."""

from __future__ import annotations

import itertools
import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.webview.charts import (
    BOTTOM,
    HEIGHT,
    LEFT,
    RIGHT,
    TOP,
    WIDTH,
    Step,
    compact_money,
    nice_tick,
    step_chart,
    value_range,
)

money = st.decimals(min_value=Decimal("-1e11"), max_value=Decimal("1e11"), places=2, allow_nan=False)


def steps(*values: dict[str, str | None]) -> list[Step]:
    return [
        Step(
            label=f"2020-01-{i + 1:02d}",
            href=f"#event-{i + 1}",
            description=f"Event {i + 1}",
            values={k: None if v is None else Decimal(v) for k, v in row.items()},
        )
        for i, row in enumerate(values)
    ]


@pytest.mark.parametrize(
    ("rough", "tick"),
    [("0.3", "0.5"), ("1", "1"), ("1.1", "2"), ("2.1", "2.5"), ("3", "5"), ("7", "10"), ("2480000", "2500000")],
)
def test_a_nice_tick_is_the_next_1_2_2_5_or_5_times_a_power_of_ten(rough: str, tick: str) -> None:
    assert nice_tick(Decimal(rough)) == Decimal(tick)


@given(money, money)
def test_the_value_range_holds_zero_and_both_values_in_at_most_six_whole_ticks(a: Decimal, b: Decimal) -> None:
    low, high = min(a, b), max(a, b)
    start, end, tick = value_range(low, high)
    assert start <= min(low, Decimal(0)) and end >= max(high, Decimal(0)) and start < end
    assert tick > 0 and (end - start) % tick == 0 and start % tick == 0
    assert (end - start) / tick <= 6


@pytest.mark.parametrize(
    ("amount", "label"),
    [
        ("12400000.00", "£12.4m"),
        ("10000000", "£10m"),
        ("2500000", "£2.5m"),
        ("250000", "£250k"),
        ("900", "£900"),
        ("0", "£0"),
        ("-1200000", "-£1.2m"),
        ("1500000000", "£1.5bn"),
    ],
)
def test_axis_labels_are_compact_money(amount: str, label: str) -> None:
    assert compact_money(Decimal(amount)) == label


def test_no_values_no_chart() -> None:
    assert step_chart("Nothing", [], [("total", "Total")]) is None
    assert step_chart("Nothing", steps({"total": None}, {"total": None}), [("total", "Total")]) is None


def test_a_step_line_holds_each_value_until_the_next_event() -> None:
    chart = step_chart("Total", steps({"total": "100"}, {"total": "100"}, {"total": "300"}), [("total", "Total")])
    assert chart is not None
    (series,) = chart.series
    p1, p2, p3 = series.points
    assert p1.x < p2.x < p3.x
    assert p1.y == p2.y > p3.y  # higher values are drawn higher up
    assert series.path == f"M{p1.x} {p1.y} H{p2.x} H{p3.x} V{p3.y}"
    assert [c.href for c in chart.columns] == ["#event-1", "#event-2", "#event-3"]
    assert chart.columns[2].title == "Event 3, effective 2020-01-03: Total £300"
    assert all(isinstance(v, Decimal) for p in series.points for v in (p.x, p.y, p.value))


def test_points_lie_inside_the_plot_and_zero_is_on_its_scale() -> None:
    chart = step_chart("Total", steps({"total": "-300000.50"}, {"total": "1234567.89"}), [("total", "Total")])
    assert chart is not None
    assert (chart.left, chart.right, chart.top, chart.bottom) == (LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM)
    for point in chart.series[0].points:
        assert chart.left <= point.x <= chart.right and chart.top <= point.y <= chart.bottom
    low, high = chart.series[0].points
    assert low.y > chart.zero > high.y  # the credit under the zero line, the cost above it
    assert chart.columns[0].title.endswith("Total -£300,000.50")
    labels = [tick.label for tick in chart.y_ticks]
    assert "£0" in labels
    assert [tick.position for tick in chart.y_ticks] == sorted((tick.position for tick in chart.y_ticks), reverse=True)


def test_a_missing_value_breaks_the_line_and_series_keep_their_styles() -> None:
    chart = step_chart(
        "Case",
        steps({"a": "1", "b": None}, {"a": None, "b": "2"}, {"a": "3", "b": "2"}),
        [("a", "A"), ("b", "B"), ("c", "C")],
    )
    assert chart is not None
    a, b = chart.series  # C has no values and is not drawn
    assert (a.index, b.index) == (0, 1)
    assert a.path.count("M") == 2 and len(a.points) == 2  # a new line after the gap
    assert b.path.count("M") == 1 and "V" not in b.path  # level from event 2 to 3


@given(st.integers(min_value=1, max_value=400))
def test_the_columns_tile_the_plot_whatever_the_number_of_events(count: int) -> None:
    chart = step_chart("Many", steps(*({"total": str(i)} for i in range(count))), [("total", "Total")])
    assert chart is not None and len(chart.columns) == count
    assert chart.columns[0].x == chart.left and chart.columns[-1].x + chart.columns[-1].width == chart.right
    for before, after in zip(chart.columns, chart.columns[1:], strict=False):
        assert before.x + before.width == after.x


def test_each_event_is_one_column_of_the_plot_titled_with_every_figure() -> None:
    chart = step_chart(
        "Case",
        steps({"a": "1", "b": None}, {"a": "1", "b": "2.50"}, {"a": "3", "b": "2.50"}, {"a": None, "b": None}),
        [("a", "Claimed"), ("b", "Agreed"), ("c", "Paid")],
    )
    assert chart is not None
    columns = chart.columns
    assert len(columns) == 4  # every event, even one with no figures
    assert columns[0].x == chart.left and columns[-1].x + columns[-1].width == chart.right
    for before, after in itertools.pairwise(columns):
        assert before.x + before.width == after.x  # side by side, no gaps, no overlaps
    for column, point in zip(columns, chart.series[0].points, strict=False):
        assert column.x < point.x < column.x + column.width  # each point inside its event's column
    assert [c.title for c in columns] == [
        "Event 1, effective 2020-01-01: Claimed £1",
        "Event 2, effective 2020-01-02: Claimed £1; Agreed £2.50",
        "Event 3, effective 2020-01-03: Claimed £3; Agreed £2.50",
        "Event 4, effective 2020-01-04: no figures",
    ]
    assert chart.description == "Claimed, Agreed after each of 4 events, from 2020-01-01 to 2020-01-04."


def test_one_event_and_all_zero_values_still_draw() -> None:
    chart = step_chart("Zero", steps({"total": "0.00"}), [("total", "Total")])
    assert chart is not None
    (point,) = chart.series[0].points
    assert point.y == chart.zero == chart.bottom
    assert [tick.label for tick in chart.x_ticks] == ["2020-01-01"]


def test_x_labels_are_few_and_the_last_event_is_labelled() -> None:
    many = steps(*({"total": str(i)} for i in range(23)))
    chart = step_chart("Many", many, [("total", "Total")])
    assert chart is not None
    labels = [tick.label for tick in chart.x_ticks]
    assert len(labels) <= 6 and labels[0] == "2020-01-01" and labels[-1] == "2020-01-23"
    assert all(re.fullmatch(r"2020-01-\d\d", label) for label in labels)
