"""How long an exit-cost quote takes on a collaboration with a long history.

Stores one collaboration of 10,000 events (``--events``): 12 functions, their budgets year by
year, per-function and all-function apportionments, exit terms, 60 jointly funded assets, 60
contracts, and reviews and variations for the rest (most of a long-lived agreement's events
are of that kind), written in saves of 500 events by the service's application (which takes a
snapshot every 500 events). Then notice is served and, alternately, at least
``--runs`` times each:

- **load (raw eventsourcing)**: ``records.repository.get(id)``: the library's own load of the
  aggregate (from its aggregate cache, fast-forwarded from the store, and copied out). Any read
  of the aggregate pays this.
- **quote (service)**: ``RecordQueries(records).exit_quote(id, force=...)``: load, the calculator, the exit
  case lookup and the source-event lookup of every input, as ``GET .../exit-costs`` does.
- **quote (HTTP)**: ``GET /api/v1/collaborations/{id}/exit-costs?force=...`` through Flask's test
  client: authentication, argument parsing and JSON as well.
- **cold load**: the same load bypassing the cache (the latest snapshot and the events after
  it), as a worker's first read of the collaboration pays;
- **replay (no snapshots)**: for scale, loading the same aggregate from all its events.

Prints the medians and the ratio of the raw load to the quote (the share of the quote spent
loading). Target: quote median under 10 ms.

    .venv/bin/python -m bench.quote [--events 10000] [--runs 200]
    .venv/bin/python -m bench.quote --database-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
from datetime import date
from decimal import Decimal
from time import perf_counter
from uuid import UUID

from eventsourcing.application import project_aggregate

from bench.common import LEAD, PARTNER, long_lived_alliance, median, reapportion, rebudget, scratch_database, timed
from domain.values import Provenance
from service.app import create_app
from service.application import Caller, CollaborationRecords
from service.persistence import persistence_environment
from service.queries import RecordQueries

FORCE, OTHER = LEAD, PARTNER
SAVE_EVERY = 500


def build(records: CollaborationRecords, events: int) -> str:
    collaboration, functions = long_lived_alliance()
    pending = collaboration.version
    step = 0
    while collaboration.version < events - 1:
        step += 1
        year = 2012 + step % 7
        on = Provenance(date(year, 4, 1), "bench (admin)", "agreed by the joint board")
        kind = step % 10
        if kind == 0 and step < 1200:
            collaboration.register_asset(
                name=f"Asset {step}",
                cost=Decimal("300000.00"),
                acquired_on=date(year, 4, 1),
                useful_life_months=60,
                funded_shares={FORCE: "0.69", OTHER: "0.31"},
                provenance=on,
            )
        elif kind == 1 and step < 1200:
            collaboration.commit_contract(
                supplier=f"Supplier {step}",
                function_id=functions[step % 12],
                annual_value=Decimal("50000.00"),
                ends_on=date(2022, 3, 31),
                break_cost=Decimal("40000.00"),
                provenance=on,
            )
        elif kind == 2:
            rebudget(collaboration, functions, step, year, on)
        elif kind == 3:
            reapportion(collaboration, functions, step, on)
        elif kind in (4, 5, 6):
            collaboration.hold_review(outcome=f"review {step}: continue", provenance=on)
        else:
            collaboration.agree_variation(clause=f"{step % 40}.1", summary="clarified", provenance=on)
        if collaboration.version - pending >= SAVE_EVERY:
            records.save(collaboration)
            pending = collaboration.version
    records.save(collaboration)
    records.serve_withdrawal_notice(
        str(collaboration.id),
        force=FORCE,
        caller=Caller("bench (admin)"),
        effective_on=date(2018, 10, 9),
        reason="notice",
    )
    return str(collaboration.id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=200, help="quotes per measurement (default 200)")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL to use a scratch schema there")
    parser.add_argument("--dir", default=None, help="where to put the scratch SQLite files")
    arguments = parser.parse_args()
    runs = max(3, arguments.runs)

    with scratch_database(arguments.database_url, arguments.dir) as url:
        env = persistence_environment(url)
        records = CollaborationRecords(env=env)
        started = perf_counter()
        collaboration_id = build(records, arguments.events)
        version = records.collaboration(collaboration_id).version
        backend = env["PERSISTENCE_MODULE"].rsplit(".", 1)[-1]
        print(f"quote: one collaboration of {version} events on {backend}, stored in {perf_counter() - started:.1f} s")

        app = create_app({"DATABASE_URL": url, "TESTING": True})
        _, token = app.extensions["tokens"].create(name="bench", role="auditor")
        client = app.test_client()
        path = f"/api/v1/collaborations/{collaboration_id}/exit-costs?force={FORCE}"
        headers = {"Authorization": f"Bearer {token}"}
        expected = RecordQueries(records).exit_quote(collaboration_id, force=FORCE)["total"]

        def over_http() -> None:
            response = client.get(path, headers=headers)
            assert response.status_code == 200 and response.get_json()["total"] == expected

        uuid = UUID(collaboration_id)
        loads, quotes, https = [], [], []
        for _ in range(3):  # alternate, so drift on a shared machine hits all three alike
            loads += timed(lambda: records.repository.get(uuid), runs // 3 + 1)
            quotes += timed(lambda: RecordQueries(records).exit_quote(collaboration_id, force=FORCE), runs // 3 + 1)
            https += timed(over_http, runs // 3 + 1)
        replays = timed(lambda: project_aggregate(None, records.events.get(uuid)), 5)
        colds = timed(lambda: records.repository.get(uuid, version=version), 5)  # bypasses the cache

        load, quote, http = median(loads), median(quotes), median(https)
        print(f"  load (raw eventsourcing, cache + ff)      median {load:7.2f} ms")
        print(f"  quote (service)                           median {quote:7.2f} ms   load/quote {load / quote:.2f}")
        print(f"  quote (HTTP, test client)                 median {http:7.2f} ms")
        print(f"  cold load (snapshot + tail, no cache)     median {median(colds):7.2f} ms (a worker's first read)")
        print(f"  replay of all {version} events, no snapshot  median {median(replays):7.2f} ms (for scale)")
        print(f"target: quote median < 10 ms -> {'met' if http < 10 else 'NOT met'} (HTTP), total {expected}")
        for name in ("register", "decision_log", "exit_cost_history"):
            if name in app.extensions:
                app.extensions[name].close()
        app.extensions["records"].close()
        records.close()


if __name__ == "__main__":
    main()
