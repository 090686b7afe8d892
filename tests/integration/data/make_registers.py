"""Writes the benefits register fixtures of the import tests, as a force's analyst would fill in
the template in a spreadsheet program (dates as dates, numbers as numbers, Yes/No flags):

- ``benefits_register.xlsx``: a good register of the Strategic Alliance (a saving with a
  profile and measurements, a dis-benefit, a service benefit);
- ``benefits_register_faulty.xlsx``: the same with deliberate faults: a bad category, a
  sub-category of another category, overlapping profile periods and a stage-2 benefit without
  an owner.

Run ``.venv/bin/python -m tests.integration.data.make_registers`` to write them again; the
files are kept in the repository so the tests read real .xlsx files, not ones made on the fly.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from service.benefits_workbook import BENEFIT_COLUMNS, MEASUREMENT_COLUMNS, PROFILE_COLUMNS

HERE = Path(__file__).parent

SAVING = {
    "reference": "SA-01",
    "title": "Shared ICT savings",
    "kind": "benefit",
    "category": 1,
    "sub_category": "1a",
    "pillar": "cost",
    "direction": "increase",
    "measure": "Cashable savings against the ICT revenue budget",
    "unit": "GBP",
    "baseline_value": 0,
    "baseline_on": date(2019, 4, 1),
    "target_value": 100000,
    "target_on": date(2021, 3, 31),
    "owner": "Alliance ICT Director",
    "senior_responsible_owner": "Deputy Chief Constable",
    "cash_releasing": "Yes",
    "quantitative": "Yes",
    "measurement_frequency": "annually",
    "function": "Alliance ICT Dept",
    "objective": "Cheaper shared ICT",
    "stage": 3,
    "status": "realising",
    "confidence": "medium",
    "confidence_reason": "Contracts let; savings from year 2 depend on the data centre closing",
}
DIS_BENEFIT = {
    "reference": "SA-02",
    "title": "Dual running of the two data centres",
    "kind": "dis_benefit",
    "category": 1,
    "sub_category": "1a",
    "pillar": "cost",
    "direction": "increase",
    "measure": "Extra running costs until the old data centre closes",
    "unit": "GBP",
    "baseline_value": 0,
    "baseline_on": date(2019, 4, 1),
    "target_value": 30000,
    "target_on": date(2021, 3, 31),
    "owner": "Alliance ICT Director",
    "stage": 3,
    "status": "realising",
    "objective": "Cheaper shared ICT",
}
SERVICE = {
    "reference": "SA-03",
    "title": "Calls answered within 10 seconds",
    "category": 2,
    "sub_category": "2b",
    "pillar": "service",
    "direction": "increase",
    "measure": "Share of 999 calls answered within 10 seconds",
    "unit": "percent",
    "baseline_value": 85,
    "baseline_on": date(2019, 4, 1),
    "target_value": 92,
    "target_on": date(2021, 3, 31),
    "owner": "Head of Contact Management",
    "stage": 2,
    "status": "planned",
    "measurement_frequency": "quarterly",
}
PROFILE = [
    ("SA-01", date(2019, 4, 1), date(2020, 3, 31), Decimal("30000.00")),
    ("SA-01", date(2020, 4, 1), date(2021, 3, 31), Decimal("70000.00")),
]
MEASUREMENTS = [
    ("SA-01", date(2019, 4, 1), date(2020, 3, 31), Decimal("28500.00"), "ICT ledger"),
    ("SA-02", date(2019, 4, 1), date(2020, 3, 31), Decimal("12000.00"), "ICT ledger"),
    ("SA-03", date(2020, 1, 1), date(2020, 3, 31), Decimal("87.5"), "Call centre statistics"),
]


def register(benefits: list[dict[str, Any]], profile: list[tuple], measurements: list[tuple]) -> Workbook:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Benefits"
    sheet.append([column.header for column in BENEFIT_COLUMNS])
    for benefit in benefits:
        sheet.append([benefit.get(column.field) for column in BENEFIT_COLUMNS])
    profiles = workbook.create_sheet("Profiles")
    profiles.append([column.header for column in PROFILE_COLUMNS])
    for row in profile:
        profiles.append(list(row))
    sheet = workbook.create_sheet("Measurements")
    sheet.append([column.header for column in MEASUREMENT_COLUMNS])
    for reference, start, end, value, source in measurements:
        sheet.append([reference, None, start, end, value, source, "Performance analyst", None])
    return workbook


def main() -> None:
    register([SAVING, DIS_BENEFIT, SERVICE], PROFILE, MEASUREMENTS).save(HERE / "benefits_register.xlsx")
    faulty = [
        {**SAVING, "category": 4},  # row 2: no such category
        {**DIS_BENEFIT, "sub_category": "2a"},  # row 3: a sub-category of another category
        {**SERVICE, "owner": None},  # row 4: stage 2 (OBC) without an owner
    ]
    overlapping = [*PROFILE, ("SA-01", date(2021, 1, 1), date(2021, 6, 30), Decimal("10000.00"))]  # row 4
    register(faulty, overlapping, MEASUREMENTS).save(HERE / "benefits_register_faulty.xlsx")


if __name__ == "__main__":
    main()
