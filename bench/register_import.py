"""How long importing a benefits register of 5,000 rows takes, against saving the same events
with the library directly.

Writes one .xlsx register (openpyxl) of ``--benefits`` benefits (1,000 by default), each with a
Benefits row, two Profiles rows and two Measurements rows: 5,000 rows. Then, ``--runs`` times
each, into a fresh collaboration of one store:

- **raw save** (the baseline): the same benefits made through the domain (identify, set the
  profile, record the measurements) and saved with one ``Application.save`` call: the floor of
  recording these events, with no spreadsheet;
- **import**: ``read_register`` (openpyxl reading and checking every cell) and
  ``CollaborationRecords.import_benefits_register`` (every row checked against the rules, then
  one save), as the API and the command line run it;
- **import again**: the same file into the same collaboration, which records nothing (every row
  is compared with the benefit it names);
- **HTTP**: ``POST .../benefits/register`` through Flask's test client, into a fresh
  collaboration (multipart upload, auth, the projection caught up for the benefits' ids).

Prints the medians and the ratio raw/import.

    .venv/bin/python -m bench.register_import [--benefits 1000] [--runs 3]
    .venv/bin/python -m bench.register_import --database-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import io
from datetime import date
from decimal import Decimal
from time import perf_counter

from openpyxl import Workbook

from bench.common import median, scratch_database
from domain.benefit import Benefit
from domain.collaboration import Collaboration
from domain.values import Provenance
from service.access import Caller
from service.app import create_app
from service.benefits_workbook import BENEFIT_COLUMNS, MEASUREMENT_COLUMNS, PROFILE_COLUMNS, read_register

PARTIES = ["west-mercia", "warwickshire"]
START = Provenance(date(2019, 1, 15), "bench (admin)", "the alliance's benefits register")
YEARS = [(date(2019, 4, 1), date(2020, 3, 31)), (date(2020, 4, 1), date(2021, 3, 31))]
CALLER = Caller("bench (admin)")


def entry(number: int) -> dict[str, object]:
    return {
        "reference": f"B-{number:05d}",
        "title": f"Benefit {number:05d}: shared service savings",
        "kind": "dis_benefit" if number % 10 == 9 else "benefit",
        "category": "1",
        "sub_category": "1a",
        "pillar": "cost",
        "direction": "increase",
        "measure": "Cashable savings",
        "unit": "GBP",
        "baseline_value": Decimal("0.00"),
        "baseline_on": YEARS[0][0],
        "target_value": Decimal("100000.00"),
        "target_on": YEARS[1][1],
        "owner": "Alliance benefits manager",
        "senior_responsible_owner": "Deputy Chief Constable",
        "measurement_frequency": "annually",
        "objective": "A cheaper alliance",
        "stage": 3,
        "status": "realising",
    }


PLANNED = (Decimal("40000.00"), Decimal("60000.00"))
MEASURED = (Decimal("38000.00"), Decimal("61000.00"))


def register_file(benefits: int) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Benefits"
    sheet.append([column.header for column in BENEFIT_COLUMNS])
    profiles = workbook.create_sheet("Profiles")
    profiles.append([column.header for column in PROFILE_COLUMNS])
    measurements = workbook.create_sheet("Measurements")
    measurements.append([column.header for column in MEASUREMENT_COLUMNS])
    for number in range(benefits):
        values = entry(number)
        sheet.append([values.get(column.field) for column in BENEFIT_COLUMNS])
        for (start, end), planned, measured in zip(YEARS, PLANNED, MEASURED, strict=True):
            profiles.append([values["reference"], start, end, planned])
            measurements.append([values["reference"], None, start, end, measured, "Ledger", "Analyst", None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def raw_benefits(collaboration_id: str, benefits: int, on: date) -> list[Benefit]:
    """The same benefits and events, made through the domain."""
    made = []
    provenance = Provenance(on, "bench (admin)", "the alliance's benefits register")
    for number in range(benefits):
        values = entry(number)
        benefit = Benefit.identify(
            collaboration_id=collaboration_id,
            title=str(values["title"]),
            category="1",
            sub_category="1a",
            pillar="cost",
            direction="increase",
            measure="Cashable savings",
            unit="GBP",
            baseline={"value": "0.00", "on": YEARS[0][0]},
            target={"value": "100000.00", "on": YEARS[1][1]},
            owner="Alliance benefits manager",
            senior_responsible_owner="Deputy Chief Constable",
            measurement_frequency="annually",
            objective="A cheaper alliance",
            stage=3,
            status="realising",
            kind=str(values["kind"]),
            reference=str(values["reference"]),
            parties=PARTIES,
            provenance=provenance,
        )
        benefit.set_profile(
            periods=[
                {"period_start": start, "period_end": end, "value": planned}
                for (start, end), planned in zip(YEARS, PLANNED, strict=True)
            ],
            provenance=provenance,
        )
        for (start, end), measured in zip(YEARS, MEASURED, strict=True):
            benefit.record_measurement(
                period_start=start,
                period_end=end,
                value=measured,
                source="Ledger",
                measurer="Analyst",
                provenance=provenance,
            )
        made.append(benefit)
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benefits", type=int, default=1000, help="each is 5 rows (default 1,000: 5,000 rows)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL to use a scratch schema there")
    parser.add_argument("--dir", default=None, help="where to put the scratch SQLite files")
    arguments = parser.parse_args()
    started = perf_counter()
    content = register_file(arguments.benefits)
    print(
        f"register_import: {arguments.benefits * 5} rows ({arguments.benefits} benefits), {len(content):,} bytes, "
        f"written in {perf_counter() - started:.1f} s"
    )
    on = date(2021, 4, 30)
    with scratch_database(arguments.database_url, arguments.dir) as url:
        app = create_app({"DATABASE_URL": url, "TESTING": True})
        records = app.extensions["records"]
        queries = app.extensions["queries"]
        _, token = app.extensions["tokens"].create(name="bench", role="admin")
        client = app.test_client()

        def collaboration() -> str:
            established = Collaboration.establish(
                name="Strategic Alliance", purpose="Shared services", parties=PARTIES, lead_force=PARTIES[0],
                provenance=START,
            )  # fmt: skip
            records.save(established)
            return str(established.id)

        raws, imports, agains, https, reads = [], [], [], [], []
        events = 0
        for _ in range(arguments.runs):
            target = collaboration()
            benefits = raw_benefits(target, arguments.benefits, on)
            events = sum(len(benefit.pending_events) for benefit in benefits)
            began = perf_counter()
            records.save(*benefits)
            raws.append(perf_counter() - began)

            target = collaboration()
            known = queries.benefit_ids(target)  # the projection caught up with the raw save first
            began = perf_counter()
            register = read_register(content, "register.xlsx")
            reads.append(perf_counter() - began)
            plan = records.import_benefits_register(target, register, benefit_ids=known, caller=CALLER, effective_on=on)
            imports.append(perf_counter() - began)
            assert plan.events == events, (plan.events, events)

            known = queries.benefit_ids(target)
            began = perf_counter()
            again = records.import_benefits_register(
                target,
                read_register(content, "register.xlsx"),
                benefit_ids=known,
                caller=CALLER,
                effective_on=on,
            )
            agains.append(perf_counter() - began)
            assert again.events == 0

            target = collaboration()
            queries.benefit_ids(target)
            began = perf_counter()
            response = client.post(
                f"/api/v1/collaborations/{target}/benefits/register",
                data={"effective_on": on.isoformat(), "file": (io.BytesIO(content), "register.xlsx")},
                headers={"Authorization": f"Bearer {token}"},
                content_type="multipart/form-data",
            )
            https.append(perf_counter() - began)
            assert response.status_code == 201, response.get_json()
        backend = "postgres" if url.startswith("postgresql") else "sqlite"
        raw, imported = median(raws), median(imports)
        print(f"  on {backend}: {events} events per import; medians of {arguments.runs} runs")
        print(f"  raw save of the same events (baseline)   {raw:7.2f} s")
        print(
            f"  import (read {median(reads):.2f} s + check + save) {imported:7.2f} s   raw/import {raw / imported:.2f}"
        )
        print(f"  import again (records nothing)           {median(agains):7.2f} s")
        print(f"  HTTP upload (test client)                {median(https):7.2f} s")
        for name in ("register", "decision_log", "exit_cost_history", "benefits_realisation"):
            if name in app.extensions:
                app.extensions[name].close()
        records.close()


if __name__ == "__main__":
    main()
