"""How fast a projection rebuilds (the central register by default), against a raw baseline.

Stores 100,000 events once (5,000 collaborations x 20 events, every event type the register
handles and the ones it only counts, interleaved across groups of collaborations as concurrent
users would write them), then, alternately and at least three times each:

- **raw**: ``application.recorder.select_notifications`` in pages of 500 and
  ``application.mapper.to_domain_event`` for every notification: the floor any projection
  pays to read the log;
- **rebuild**: ``Register.rebuild()``: clear, then catch up in locked, batched transactions
  (``--projection decision_log``: ``DecisionLog.rebuild()``, which writes a row per event;
  ``--projection exit_cost_history``: ``ExitCostHistory.rebuild()``, which recomputes every
  party's exit-cost quote after every event that may change it and writes a row per change).

For the exit-cost history the baseline is **raw recompute** (``recompute_raw``): read, decode,
mutate the aggregates in memory and compute the same standing figures, writing nothing; for the
decision log, ``recompute_decisions_raw``: read, decode and build every row, writing nothing.
Prints both rates, their ratio (target >= 0.5 for every projection: what writing the rows
costs on top of the same work in memory) and medians.

    .venv/bin/python -m bench.rebuild [--collaborations 5000] [--runs 3] [--batch-size 500]
    .venv/bin/python -m bench.rebuild --database-url postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python -m bench.rebuild --profile   # cProfile one rebuild, print the top entries
    .venv/bin/python -m bench.rebuild --projection decision_log
    .venv/bin/python -m bench.rebuild --projection exit_cost_history --collaborations 1000
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
from time import perf_counter

from bench.common import median, scratch_database, store_history
from domain.collaboration import Collaboration
from projections.decision_log import DecisionLog, DecisionLogChanges
from projections.exit_cost_history import NOT_FORCE_CANDIDATES, ExitCostHistory, standing_figures
from projections.register import DEFAULT_BATCH_SIZE, Register
from service.application import CollaborationRecords
from service.persistence import persistence_environment

PAGE_SIZE = 500
PROJECTIONS = {"register": Register, "decision_log": DecisionLog, "exit_cost_history": ExitCostHistory}


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


def recompute_raw(records: CollaborationRecords) -> int:
    """The exit-cost history's floor: read and decode the log, keep each aggregate in memory,
    and compute every party's standing figures after each event that may change them, as the
    projection does, but write nothing (no rows, no comparison with the previous row)."""
    aggregates: dict[object, object] = {}
    position, count = 0, 0
    while True:
        notifications = records.recorder.select_notifications(start=position, limit=PAGE_SIZE, inclusive_of_start=False)
        if not notifications:
            return count
        for notification in notifications:
            event = records.mapper.to_domain_event(notification)
            aggregate = event.mutate(aggregates.get(event.originator_id))  # type: ignore[attr-defined]
            aggregates[event.originator_id] = aggregate
            if isinstance(aggregate, Collaboration) and not isinstance(event, NOT_FORCE_CANDIDATES):
                for force in aggregate.parties:
                    standing_figures(aggregate, force, event.effective_on, None)  # type: ignore[attr-defined]
        count += len(notifications)
        position = notifications[-1].id


def recompute_decisions_raw(records: CollaborationRecords) -> int:
    """The decision log's floor: read and decode the log and turn every decision into its row
    (summary, forces, the event's data as JSON), keeping each collaboration's context in
    memory, but write nothing."""
    changes = DecisionLogChanges({})
    position, count = 0, 0
    while True:
        notifications = records.recorder.select_notifications(start=position, limit=PAGE_SIZE, inclusive_of_start=False)
        if not notifications:
            return count
        for notification in notifications:
            changes.apply(notification.id, records.mapper.to_domain_event(notification))
        changes.decisions.clear()
        count += len(notifications)
        position = notifications[-1].id


# What each projection's rebuild is measured against: the same reading and working, without
# the writing (the register's work beside reading is small, so reading and decoding it is).
BASELINES = {"register": read_raw, "decision_log": recompute_decisions_raw, "exit_cost_history": recompute_raw}
BASELINE_NAMES = {
    "register": "read+decode",
    "decision_log": "read+decode+rows",
    "exit_cost_history": "read+decode+recompute",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--collaborations", type=int, default=5000, help="x 20 events each (default 5000)")
    parser.add_argument("--group", type=int, default=100, help="collaborations interleaved per save (default 100)")
    parser.add_argument("--runs", type=int, default=3, help="runs, at least 3 (default 3)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="projection batch size")
    parser.add_argument("--projection", choices=list(PROJECTIONS), default="register")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL to use a scratch schema there")
    parser.add_argument("--dir", default=None, help="where to put the scratch SQLite files (default: the temp dir)")
    parser.add_argument("--profile", action="store_true", help="cProfile one more rebuild and print the top entries")
    arguments = parser.parse_args()
    runs = max(3, arguments.runs)

    with scratch_database(arguments.database_url, arguments.dir) as url:
        env = persistence_environment(url)
        records = CollaborationRecords(env=env)
        projection_class = PROJECTIONS[arguments.projection]
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
            assert BASELINES[arguments.projection](records) == events
            raw_rates.append(events / (perf_counter() - started))

            started = perf_counter()
            assert register.rebuild() == events
            rebuild_rates.append(events / (perf_counter() - started))
            if arguments.projection == "register":
                assert register.search()["total"] == arguments.collaborations
            elif arguments.projection == "decision_log":
                assert register.search()["total"] == events
            else:
                assert register.position() == events
            print(
                f"  run {run}: raw {raw_rates[-1]:8.0f} events/s   rebuild {rebuild_rates[-1]:8.0f}"
                f" events/s   ratio {rebuild_rates[-1] / raw_rates[-1]:.2f}"
            )
        raw, rebuild = median(raw_rates), median(rebuild_rates)
        baseline = BASELINE_NAMES[arguments.projection]
        print(f"median: raw ({baseline}) {raw:.0f} events/s, rebuild {rebuild:.0f} events/s, ratio {rebuild / raw:.2f}")
        print(f"target: ratio >= 0.50 -> {'met' if rebuild / raw >= 0.5 else 'NOT met'}")

        if arguments.profile:
            profiler = cProfile.Profile()
            profiler.runcall(register.rebuild)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        register.close()
        records.close()


if __name__ == "__main__":
    main()
