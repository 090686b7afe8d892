"""How fast the central register rebuilds, against simply reading and decoding the log.

Stores 100,000 events once (5,000 collaborations x 20 events, every event type the register
handles and the ones it only counts, interleaved across groups of collaborations as concurrent
users would write them), then, alternately and at least three times each:

- **raw**: ``application.recorder.select_notifications`` in pages of 500 and
  ``application.mapper.to_domain_event`` for every notification: the floor any projection
  pays to read the log;
- **rebuild**: ``Register.rebuild()``: clear, then catch up in locked, batched transactions
  (``--projection decision_log``: ``DecisionLog.rebuild()``, which writes a row per event).

Prints both rates, their ratio (target >= 0.5) and medians.

    .venv/bin/python -m bench.rebuild [--collaborations 5000] [--runs 3] [--batch-size 500]
    .venv/bin/python -m bench.rebuild --database-url postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python -m bench.rebuild --profile   # cProfile one rebuild, print the top entries
    .venv/bin/python -m bench.rebuild --projection decision_log
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
from datetime import date
from decimal import Decimal
from time import perf_counter

from bench.common import median, scratch_database
from domain.collaboration import Collaboration
from domain.values import Provenance
from projections.decision_log import DecisionLog
from projections.register import DEFAULT_BATCH_SIZE, Register
from service.application import CollaborationRecords
from service.persistence import persistence_environment

EVENTS_PER_COLLABORATION = 20
PAGE_SIZE = 500
FORCES = ["west-mercia", "warwickshire", "dorset", "devon-cornwall", "suffolk", "norfolk", "essex", "kent"]


def history_step(collaboration: Collaboration, step: int, provenance: Provenance) -> None:
    """The ``step``-th of the 20 changes every benchmark collaboration goes through."""
    functions = list(collaboration.functions)
    first, second = collaboration.parties[:2]
    if step == 1:
        collaboration.join(next(f for f in FORCES if f not in collaboration.parties), provenance)
    elif 2 <= step <= 6:
        collaboration.add_function(
            name=f"Function {step}",
            kind="operational" if step % 2 else "enabling",
            host_force=collaboration.parties[step % 3],
            annual_budget=Decimal("1000000.00") * step,
            provenance=provenance,
        )
    elif 7 <= step <= 9:
        collaboration.set_function_budget(
            function_id=functions[step - 7],
            financial_year=f"{2012 + step}/{(13 + step) % 100:02d}",
            annual_budget=Decimal("1100000.00"),
            provenance=provenance,
        )
    elif 10 <= step <= 12:
        collaboration.agree_apportionment(
            function_id=None if step == 10 else functions[step - 10],
            basis="fixed_ratio",
            shares={first: "0.69", second: "0.31"},
            provenance=provenance,
        )
    elif step == 13:
        collaboration.agree_exit_terms(
            notice_period_months=12, stranded_cost_rate="0.25", stranded_cost_months=6, caps=None, provenance=provenance
        )
    elif step in (14, 15):
        collaboration.register_asset(
            name=f"Asset {step}",
            cost=Decimal("3000000.00"),
            acquired_on=date(2016, 4, 1),
            useful_life_months=60,
            funded_shares={first: "0.69", second: "0.31"},
            provenance=provenance,
        )
    elif step in (16, 17):
        collaboration.commit_contract(
            supplier=f"Supplier {step}",
            function_id=functions[0],
            annual_value=Decimal("500000.00"),
            ends_on=date(2022, 3, 31),
            break_cost=Decimal("400000.00"),
            provenance=provenance,
        )
    elif step == 18:
        collaboration.hold_review(outcome="continue", provenance=provenance)
    else:
        collaboration.agree_variation(clause="4.2", summary="longer notice", provenance=provenance)


def store_history(records: CollaborationRecords, collaborations: int, group: int) -> int:
    """Writes the history group by group: each save holds one step of every collaboration in
    the group, so the log interleaves the group's collaborations."""
    provenance = Provenance(date(2015, 4, 1), "bench (admin)", "agreed by the joint board")
    for start in range(0, collaborations, group):
        members = [
            Collaboration.establish(
                name=f"Collaboration {index:05d}",
                purpose="Shared services across forces",
                parties=[FORCES[index % 8], FORCES[(index + 1) % 8], FORCES[(index + 2) % 8]],
                lead_force=FORCES[index % 8],
                governance_body="Joint Board",
                review_cycle_months=12,
                provenance=provenance,
            )
            for index in range(start, min(start + group, collaborations))
        ]
        records.save(*members)
        for step in range(1, EVENTS_PER_COLLABORATION):
            for collaboration in members:
                history_step(collaboration, step, provenance)
            records.save(*members)
    return records.recorder.max_notification_id() or 0


def read_raw(records: CollaborationRecords) -> int:
    position, count = 0, 0
    while True:
        notifications = records.recorder.select_notifications(start=position, limit=PAGE_SIZE, inclusive_of_start=False)
        if not notifications:
            return count
        for notification in notifications:
            records.mapper.to_domain_event(notification)
        count += len(notifications)
        position = notifications[-1].id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--collaborations", type=int, default=5000, help="x 20 events each (default 5000)")
    parser.add_argument("--group", type=int, default=100, help="collaborations interleaved per save (default 100)")
    parser.add_argument("--runs", type=int, default=3, help="runs, at least 3 (default 3)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="projection batch size")
    parser.add_argument("--projection", choices=["register", "decision_log"], default="register")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL to use a scratch schema there")
    parser.add_argument("--dir", default=None, help="where to put the scratch SQLite files (default: the temp dir)")
    parser.add_argument("--profile", action="store_true", help="cProfile one more rebuild and print the top entries")
    arguments = parser.parse_args()
    runs = max(3, arguments.runs)

    with scratch_database(arguments.database_url, arguments.dir) as url:
        env = persistence_environment(url)
        records = CollaborationRecords(env=env)
        projection_class = DecisionLog if arguments.projection == "decision_log" else Register
        register = projection_class(env, records, batch_size=arguments.batch_size)
        backend = env["PERSISTENCE_MODULE"].rsplit(".", 1)[-1]
        started = perf_counter()
        events = store_history(records, arguments.collaborations, arguments.group)
        print(
            f"rebuild: {events} events stored on {backend} in {perf_counter() - started:.1f} s;"
            f" {arguments.projection} batch size {arguments.batch_size}; {runs} runs"
        )

        raw_rates, rebuild_rates = [], []
        for run in range(1, runs + 1):
            started = perf_counter()
            assert read_raw(records) == events
            raw_rates.append(events / (perf_counter() - started))

            started = perf_counter()
            assert register.rebuild() == events
            rebuild_rates.append(events / (perf_counter() - started))
            expected = arguments.collaborations if arguments.projection == "register" else events
            assert register.search()["total"] == expected
            print(
                f"  run {run}: raw read+decode {raw_rates[-1]:8.0f} events/s   rebuild {rebuild_rates[-1]:8.0f}"
                f" events/s   ratio {rebuild_rates[-1] / raw_rates[-1]:.2f}"
            )
        raw, rebuild = median(raw_rates), median(rebuild_rates)
        print(f"median: raw read+decode {raw:.0f} events/s, rebuild {rebuild:.0f} events/s, ratio {rebuild / raw:.2f}")
        print(f"target: ratio >= 0.50 -> {'met' if rebuild / raw >= 0.5 else 'NOT met'}")

        if arguments.profile:
            profiler = cProfile.Profile()
            profiler.runcall(register.rebuild)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        register.close()
        records.close()


if __name__ == "__main__":
    main()
