"""Snapshot storage per event as one collaboration grows, and what reads cost under the retention rule.

Writes one collaboration (12 functions and exit terms, then reviews and variations, with a
budget or an apportionment every fifth event) through ``CollaborationRecords.save`` in saves of
100 events, which takes a snapshot every 500 events as any command's save does and prunes the
stream's snapshots to the retention rule (the latest two and those at 500·2^k,
``service/persistence/snapshots.py``). At 1,000, 5,000, 10,000 and 20,000 events (``--long``:
also 50,000) it prints:

- the bytes of the stream's events and of its stored snapshots (their state), how many
  snapshots are stored, and the snapshot bytes per event, with its ratio to the first point
  (target: flat, ratio about 1 once the rule has pruned anything);
- the baseline: what keeping every snapshot, as before the rule, would have stored (the bytes of
  every snapshot taken, counted as they were inserted in this run), per event and its ratio;
- the median time of a cold ``get(id)`` (no aggregate cache: the latest snapshot and the events
  after it) and of ``get(id, version=v)`` for a few versions (just below the latest snapshot, in
  the window; just below the window, the worst case, from a landmark; about three quarters and a
  third of the way), each with the events it replayed, against replaying the same version from
  its events alone (no snapshot), measured alternately in the same run.

    .venv/bin/python -m bench.snapshots [--runs 5] [--long]
    .venv/bin/python -m bench.snapshots --database-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
from datetime import date
from time import perf_counter
from typing import Any
from uuid import UUID

from eventsourcing.application import Repository, project_aggregate

from bench.common import LEAD, PARTNER, long_lived_alliance, median, reapportion, rebudget, scratch_database, timed
from domain.collaboration import Collaboration
from domain.values import Provenance
from service.application import CollaborationRecords
from service.persistence import persistence_environment

FORCE, OTHER = LEAD, PARTNER
SAVE_EVERY = 100
POINTS = (1_000, 5_000, 10_000, 20_000)
LONG_POINT = 50_000


def establish(records: CollaborationRecords) -> tuple[Collaboration, list[str]]:
    collaboration, functions = long_lived_alliance()
    records.save(collaboration)
    return collaboration, functions


def grow(records: CollaborationRecords, collaboration: Collaboration, functions: list[str], events: int) -> None:
    """Mostly reviews and variations; every fifth event a budget or an apportionment."""
    pending = collaboration.version
    while collaboration.version < events:
        step = collaboration.version
        year = 2012 + step % 7
        on = Provenance(date(year, 4, 1), "bench (admin)", "agreed by the joint board")
        kind = step % 10
        if kind == 0:
            reapportion(collaboration, functions, step, on)
        elif kind == 5:
            rebudget(collaboration, functions, step, year, on)
        elif kind in (1, 3, 6, 8):
            collaboration.agree_variation(clause=f"{step % 40}.1", summary=f"clarified at {step}", provenance=on)
        else:
            collaboration.hold_review(outcome=f"review {step}: continue", provenance=on)
        if collaboration.version - pending >= SAVE_EVERY:
            records.save(collaboration)
            pending = collaboration.version
    records.save(collaboration)


def stream_bytes(records: CollaborationRecords, uuid: UUID) -> tuple[int, int]:
    """How many events the stream has, and the bytes of their state."""
    side = records.side_tables
    rows = side.execute(
        f"SELECT COUNT(*) AS count, SUM(LENGTH(state)) AS size FROM {side.events_table_sql} WHERE originator_id = ?",
        (side.stored_stream_id(uuid),),
    )
    return int(rows[0]["count"]), int(rows[0]["size"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="loads per measurement (default 5)")
    parser.add_argument("--long", action="store_true", help=f"also grow to {LONG_POINT:,} events")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL to use a scratch schema there")
    parser.add_argument("--dir", default=None, help="where to put the scratch SQLite files")
    arguments = parser.parse_args()
    runs = max(3, arguments.runs)
    points = (*POINTS, LONG_POINT) if arguments.long else POINTS

    with scratch_database(arguments.database_url, arguments.dir) as url:
        env = persistence_environment(url)
        records = CollaborationRecords(env=env)
        interval = records.snapshot_interval
        recorder: Any = records.snapshot_recorder
        taken: list[int] = []  # the bytes of every snapshot inserted: what keeping them all would store
        insert = recorder.insert_events

        def counting_insert(stored_events: Any, **kwargs: Any) -> Any:
            taken.extend(len(event.state) for event in stored_events)
            return insert(stored_events, **kwargs)

        recorder.insert_events = counting_insert
        cold = Repository(records.events, snapshot_store=records.snapshots)  # no aggregate cache
        backend = env["PERSISTENCE_MODULE"].rsplit(".", 1)[-1]
        print(f"snapshots: one collaboration on {backend}, a snapshot every {interval} events")
        started = perf_counter()
        collaboration, functions = establish(records)
        uuid = collaboration.id
        first: tuple[float, float] | None = None
        rows, timings = [], []
        for point in points:
            grow(records, collaboration, functions, point)
            events, event_bytes = stream_bytes(records, uuid)
            count, snapshot_bytes = recorder.snapshot_usage(uuid)
            versions = recorder.snapshot_versions(uuid)
            per_event, all_per_event = snapshot_bytes / events, sum(taken) / events
            first = first or (per_event, all_per_event)
            rows.append(
                f"| {events:,} | {event_bytes:,} | {snapshot_bytes:,} | {count} ({len(taken)} taken) "
                f"| {per_event:,.0f} | {per_event / first[0]:.2f} | {sum(taken):,} | {all_per_event:,.0f} "
                f"| {all_per_event / first[1]:.2f} |"
            )
            latest = versions[-1]
            asked = [events, latest - 1, latest - interval - 1, events * 3 // 4, events // 3]
            for version in dict.fromkeys(v for v in asked if v > 0):
                base = max((v for v in versions if v <= version), default=0)
                asked_version = None if version == events else version  # get(id): the latest snapshot and on
                loads, replays = [], []
                for _ in range(runs):  # alternately, so drift on a shared machine hits both alike
                    loads += timed(lambda v=asked_version: cold.get(uuid, version=v), 1)
                    replays += timed(lambda v=version: project_aggregate(None, records.events.get(uuid, lte=v)), 1)
                load, replay = median(loads), median(replays)
                label = "get(id)" if version == events else f"get(id, version={version:,})"
                timings.append(
                    f"| {events:,} | {label} | {version - base:,} from {base or 'the start'} | {load:.1f} ms "
                    f"| {replay:.1f} ms | {load / replay:.3f} |"
                )
            print(f"  {events:,} events stored and measured at {perf_counter() - started:.0f} s", flush=True)
        print(
            "\n| events | event bytes | snapshot bytes | snapshots kept | snapshot bytes/event | ratio to first "
            "| keeping all: bytes | bytes/event | ratio to first |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        print("\n".join(rows))
        print("\n| events | read | replayed | median | replay from scratch | ratio |")
        print("|---|---|---|---|---|---|")
        print("\n".join(timings))
        print(f"\nin {perf_counter() - started:.0f} s; kept at the end: {', '.join(map(str, versions))}")
        records.close()


if __name__ == "__main__":
    main()
