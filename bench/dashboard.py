"""How long the benefits realisation dashboard takes for a collaboration with many benefits.

Stores one 7-force collaboration with 200 benefits (``--benefits``) and 100 measurements each
(``--measurements``: 20,000 in all), a mix of money savings, hours, survey scores and
compliance levels in every pillar, then catches the benefits realisation projection up and,
alternately, at least ``--runs`` times each:

- **raw SQL** (the baseline): the projection's rows of that collaboration selected straight
  from its SQLite file with the ``sqlite3`` module (or psycopg), nothing else: the floor of any
  read of this data;
- **dashboard (projection)**: ``BenefitsRealisation.dashboard(id)``: the rows as documents and
  the totals per pillar and per category;
- **dashboard (HTTP)**: ``GET /api/v1/collaborations/{id}/benefits`` through Flask's test client
  (auth, catching the projection up, JSON), when the route exists.

Prints the medians and the ratio of raw SQL to the dashboard. Target: median under 20 ms.

With the register's fields (issue 17), a second collaboration of the same store holds the same
benefits, each also with a quarterly **profile** (so its plan, variance and RAG are read from
the profile), a confidence, every tenth a dis-benefit and every seventh a RAG override; its
dashboard is timed alike and compared with the first (**profiles/plain**), and both are also
exported as an .xlsx workbook (``?format=xlsx``) through the test client.

    .venv/bin/python -m bench.dashboard [--benefits 200] [--measurements 100] [--runs 60]
    .venv/bin/python -m bench.dashboard --database-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import sqlite3
from datetime import date, timedelta
from decimal import Decimal
from time import perf_counter

from bench.common import median, scratch_database, timed
from domain.benefit import Benefit
from domain.collaboration import Collaboration
from domain.values import Provenance
from projections.benefits_realisation import BenefitsRealisation
from service.app import create_app
from service.application import CollaborationRecords
from service.persistence import persistence_environment

SEVEN_FORCES = ["essex", "kent", "norfolk", "suffolk", "hertfordshire", "bedfordshire", "cambridgeshire"]
# (category, sub-category, pillar, direction, measure, unit, baseline, target); savings are in
# their sub-category's unit (1a Money: GBP, 1b Time: hours, 1c Cost avoidance: GBP)
KINDS = [
    ("1", "1a", "cost", "increase", "Procurement savings", "GBP", "0.00", "2000000.00"),
    ("1", "1b", "people", "increase", "Officer hours released", "hours", "0", "40000"),
    ("2", "2a", "people", "increase", "Staff survey score", "score", "55", "70"),
    ("2", "2b", "service", "decrease", "Average response time (minutes)", "count", "18", "12"),
    ("3", "3b", "service", "maintain", "HMICFRS recommendations open", "count", "4", "4"),
]


def build(records: CollaborationRecords, benefits: int, measurements: int, *, register: bool = False) -> str:
    start = Provenance(date(2019, 1, 15), "bench (admin)", "7F benefits framework")
    collaboration = Collaboration.establish(
        name="7F Procurement",
        purpose="Joint procurement for seven forces",
        parties=SEVEN_FORCES,
        lead_force="essex",
        provenance=start,
    )
    records.save(collaboration)
    for number in range(benefits):
        category, sub_category, pillar, direction, measure, unit, baseline, target = KINDS[number % len(KINDS)]
        benefit = Benefit.identify(
            collaboration_id=str(collaboration.id),
            title=f"Benefit {number:03d}: {measure}",
            category=category,
            sub_category=sub_category,
            pillar=pillar,
            direction=direction,
            measure=measure,
            unit=unit,
            tolerance="1" if direction == "maintain" else None,
            baseline={"value": baseline, "on": date(2019, 4, 1)},
            target={"value": target, "on": date(2019, 4, 1) + timedelta(days=7 * measurements)},
            owner="7F Benefits Manager",
            stage=3,
            status="realising",
            kind="dis_benefit" if register and number % 10 == 9 else "benefit",
            parties=SEVEN_FORCES,
            provenance=start,
        )
        if register:
            profile(benefit, measurements, start)
        for week in range(measurements):
            period_start = date(2019, 4, 1) + timedelta(days=7 * week)
            period_end = period_start + timedelta(days=6)
            base, goal = Decimal(baseline), Decimal(target)
            if unit in ("GBP", "hours"):
                value = (goal / measurements).quantize(Decimal("0.01"))
            else:
                value = base + (goal - base) * week / measurements
            benefit.record_measurement(
                period_start=period_start,
                period_end=period_end,
                value=str(value.quantize(Decimal("0.01"))),
                source="7F performance report",
                measurer="7F Benefits Manager",
                # returned 4 days after the week ends: a measurement takes effect once its period has ended
                provenance=Provenance(period_end + timedelta(days=4), "bench (admin)", "weekly return"),
            )
        if register and number % 7 == 0:
            benefit.override_rag(rag="amber", provenance=Provenance(date(2021, 1, 1), "bench (admin)", "held"))
        records.save(benefit)
    return str(collaboration.id)


def profile(benefit: Benefit, measurements: int, start: Provenance) -> None:
    """A quarterly profile over the weeks measured (a cumulative benefit plans its target in equal
    parts; a level, the straight line's level at each quarter's end), and a confidence."""
    first, last = date(2019, 4, 1), date(2019, 4, 1) + timedelta(days=7 * measurements)
    quarters = []
    period_start = first
    while period_start < last:
        period_end = min(period_start + timedelta(days=90), last)
        quarters.append((period_start, period_end))
        period_start = period_end + timedelta(days=1)
    base, goal = benefit.baseline_value, benefit.target_value
    periods = []
    for index, (period_start, period_end) in enumerate(quarters, start=1):
        value = goal / len(quarters) if benefit.is_cumulative else base + (goal - base) * index / len(quarters)
        places = Decimal("0.01") if benefit.unit == "GBP" else Decimal("0.0001")
        periods.append({"period_start": period_start, "period_end": period_end, "value": value.quantize(places)})
    benefit.set_profile(periods=periods, provenance=start)
    benefit.assess_confidence(confidence="medium", provenance=start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benefits", type=int, default=200)
    parser.add_argument("--measurements", type=int, default=100, help="per benefit (default 100)")
    parser.add_argument("--runs", type=int, default=60, help="reads per measurement, at least 3 (default 60)")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL to use a scratch schema there")
    parser.add_argument("--dir", default=None, help="where to put the scratch SQLite files")
    arguments = parser.parse_args()
    runs = max(3, arguments.runs)

    with scratch_database(arguments.database_url, arguments.dir) as url:
        env = persistence_environment(url)
        records = CollaborationRecords(env=env)
        started = perf_counter()
        collaboration_id = build(records, arguments.benefits, arguments.measurements)
        profiled_id = build(records, arguments.benefits, arguments.measurements, register=True)
        stored = perf_counter() - started
        projection = BenefitsRealisation(env, records)
        started = perf_counter()
        projection.catch_up()
        backend = env["PERSISTENCE_MODULE"].rsplit(".", 1)[-1]
        events = records.log_size()
        print(
            f"dashboard: 2 x {arguments.benefits} benefits,"
            f" {arguments.benefits * arguments.measurements} measurements each"
            f" ({events} events) on {backend}; stored in {stored:.1f} s, projected in {perf_counter() - started:.1f} s"
        )
        dashboard = projection.dashboard(collaboration_id, read_on=date.today())
        assert len(dashboard["benefits"]) == arguments.benefits

        if backend == "sqlite":
            connection = sqlite3.connect(env["BENEFITS_REALISATION_SQLITE_DBNAME"])

            def raw() -> None:
                rows = connection.execute(
                    "SELECT * FROM benefits_realisation_benefits WHERE collaboration_id = ?", (collaboration_id,)
                ).fetchall()
                assert len(rows) == arguments.benefits
        else:
            import psycopg

            connection = psycopg.connect(url.split("?")[0])
            schema = url.split("schema=")[1]

            def raw() -> None:
                rows = connection.execute(
                    f'SELECT * FROM "{schema}".benefits_realisation_benefits WHERE collaboration_id = %s',
                    (collaboration_id,),
                ).fetchall()
                assert len(rows) == arguments.benefits

        app = create_app({"DATABASE_URL": url, "TESTING": True})
        _, token = app.extensions["tokens"].create(name="bench", role="auditor")
        client = app.test_client()
        path = f"/api/v1/collaborations/{collaboration_id}/benefits"
        headers = {"Authorization": f"Bearer {token}"}
        has_route = client.get(path, headers=headers).status_code == 200

        profiled_path = f"/api/v1/collaborations/{profiled_id}/benefits"
        raws, dashboards, profiled, https, profiled_https, workbooks = [], [], [], [], [], []
        for _ in range(3):
            raws += timed(raw, runs // 3 + 1)
            dashboards += timed(lambda: projection.dashboard(collaboration_id, read_on=date.today()), runs // 3 + 1)
            profiled += timed(lambda: projection.dashboard(profiled_id, read_on=date.today()), runs // 3 + 1)
            if has_route:
                https += timed(lambda: client.get(path, headers=headers), runs // 3 + 1)
                profiled_https += timed(lambda: client.get(profiled_path, headers=headers), runs // 3 + 1)
                workbooks += timed(lambda: client.get(profiled_path + "?format=xlsx", headers=headers), 1)
        raw_ms, dashboard_ms, profiled_ms = median(raws), median(dashboards), median(profiled)
        print(f"  raw SQL select of the rows     median {raw_ms:7.2f} ms")
        ratio = raw_ms / dashboard_ms
        print(f"  dashboard (projection)         median {dashboard_ms:7.2f} ms   raw/dashboard {ratio:.2f}")
        print(
            f"  with profiles (projection)     median {profiled_ms:7.2f} ms   raw/dashboard {raw_ms / profiled_ms:.2f}"
            f"   profiles/plain {profiled_ms / dashboard_ms:.2f}"
        )
        if https:
            http_ms, profiled_http_ms = median(https), median(profiled_https)
            print(f"  dashboard (HTTP, test client)  median {http_ms:7.2f} ms")
            print(
                f"  with profiles (HTTP)           median {profiled_http_ms:7.2f} ms"
                f"   profiles/plain {profiled_http_ms / http_ms:.2f}"
            )
            print(f"  with profiles as .xlsx (HTTP)  median {median(workbooks):7.2f} ms")
            slowest = max(http_ms, profiled_http_ms)
            print(f"target: dashboard median < 20 ms -> {'met' if slowest < 20 else 'NOT met'} (HTTP)")
        else:
            print("  (no GET .../benefits route in this build: HTTP not measured)")
        connection.close()
        for name in ("register", "decision_log", "exit_cost_history", "benefits_realisation"):
            if name in app.extensions:
                app.extensions[name].close()
        app.extensions["records"].close()
        projection.close()
        records.close()


if __name__ == "__main__":
    main()
