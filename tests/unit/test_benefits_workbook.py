"""Reading and writing the register's cells: what a spreadsheet gives for each kind of column,
and what the export writes so that it reads back exactly."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import Workbook

from service.benefits_workbook import BENEFIT_COLUMNS, PROFILE_COLUMNS, _cell, cell_value

COLUMNS = {column.field: column for column in (*BENEFIT_COLUMNS, *PROFILE_COLUMNS)}


@pytest.mark.parametrize(
    "field, raw, value",
    [
        ("value", 0.1 + 0.2, Decimal("0.3")),  # a formula's double, as the spreadsheet shows it
        ("value", 528437.5, Decimal("528437.5")),
        ("value", 12, Decimal(12)),
        ("value", "1,150,000.00", Decimal("1150000.00")),
        ("value", "123456789.0123456789", Decimal("123456789.0123456789")),  # text keeps every digit
        ("period_start", datetime(2020, 4, 1), date(2020, 4, 1)),
        ("period_start", "2020-04-01", date(2020, 4, 1)),
        ("category", 1, "1"),
        ("stage", 3.0, 3),
        ("cash_releasing", "yes", True),
        ("cash_releasing", False, False),
        ("title", "  Savings  ", "Savings"),
        ("title", "   ", None),
    ],
)
def test_a_cell_is_read_as_its_column_takes_it(field, raw, value) -> None:
    assert cell_value(raw, COLUMNS[field]) == value


@pytest.mark.parametrize(
    "field, raw",
    [
        ("value", "ten"),
        ("value", True),
        ("value", float("inf")),
        ("period_start", "01/04/2020"),
        ("period_start", datetime(2020, 4, 1, 9, 30)),
        ("category", 4),
        ("cash_releasing", "maybe"),
        ("title", date(2020, 1, 1)),
    ],
)
def test_a_cell_that_does_not_fit_its_column_is_refused_saying_what_it_takes(field, raw) -> None:
    with pytest.raises(ValueError, match=COLUMNS[field].header):
        cell_value(raw, COLUMNS[field])


def test_text_is_written_as_text_and_long_decimals_as_text() -> None:
    sheet = Workbook().active
    formula = _cell(sheet, '=HYPERLINK("http://example.invalid")')
    assert formula.data_type == "s" and formula.value.startswith("=")
    long = _cell(sheet, Decimal("123456789.0123456789"), "#,##0.00")
    assert (long.data_type, long.value) == ("s", "123456789.0123456789")
    short = _cell(sheet, Decimal("528437.50"), "#,##0.00")
    assert (short.data_type, short.value, short.number_format) == ("n", Decimal("528437.50"), "#,##0.00")
