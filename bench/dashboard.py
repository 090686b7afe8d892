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


def build(records: CollaborationRecords, benefits: int, measurements: int) -> str:
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
            parties=SEVEN_FORCES,
            provenance=start,
        )
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
        records.save(benefit)
    return str(collaboration.id)


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
        stored = perf_counter() - started
        projection = BenefitsRealisation(env, records)
        started = perf_counter()
        projection.catch_up()
        backend = env["PERSISTENCE_MODULE"].rsplit(".", 1)[-1]
        events = records.log_size()
        print(
            f"dashboard: {arguments.benefits} benefits, {arguments.benefits * arguments.measurements} measurements"
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

        raws, dashboards, https = [], [], []
        for _ in range(3):
            raws += timed(raw, runs // 3 + 1)
            dashboards += timed(lambda: projection.dashboard(collaboration_id, read_on=date.today()), runs // 3 + 1)
            if has_route:
                https += timed(lambda: client.get(path, headers=headers), runs // 3 + 1)
        raw_ms, dashboard_ms = median(raws), median(dashboards)
        print(f"  raw SQL select of the rows     median {raw_ms:7.2f} ms")
        ratio = raw_ms / dashboard_ms
        print(f"  dashboard (projection)         median {dashboard_ms:7.2f} ms   raw/dashboard {ratio:.2f}")
        if https:
            http_ms = median(https)
            print(f"  dashboard (HTTP, test client)  median {http_ms:7.2f} ms")
            print(f"target: dashboard median < 20 ms -> {'met' if http_ms < 20 else 'NOT met'} (HTTP)")
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
