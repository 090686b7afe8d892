"""How long a write holds the lock that orders the log, on PostgreSQL (issue 15).

Every write takes the library's EXCLUSIVE lock on the events table (so positions are committed
in order) and, under it, inserts its events, its idempotency record, its chain entries and
Merkle tree nodes, then commits; nothing else can write meanwhile, so this hold time bounds
the store's write throughput at 1/hold. Measured by timing, in this process, from the moment
the recorder asks for the lock to the moment the commit returns, for ``--writes`` reviews
through ``CollaborationRecords`` (one client, so the lock is never waited for), against the
whole write (load, command, save) and, as the baseline, a plain eventsourcing ``Application``
saving the same event on the library's own recorder (its own lock, insert and commit).

    .venv/bin/python -m bench.write_lock [--writes 500]   # PostgreSQL at 127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
from datetime import date
from time import perf_counter

from bench.common import median, scratch_database, timed
from bench.writes import RawStore
from domain.collaboration import Collaboration
from domain.values import Provenance
from service.application import Caller, CollaborationRecords
from service.persistence import persistence_environment
from service.persistence.postgres import RecordsPostgresRecorder

ON = Provenance(date(2015, 4, 1), "bench (admin)", "agreed by the joint board")
PARTIES = ["west-mercia", "warwickshire"]


class HoldTimer:
    """Wraps the recorder's lock and its one insert transaction: the time between them."""

    def __init__(self) -> None:
        self.holds: list[float] = []
        self.locked_at: float | None = None
        self.original_lock = RecordsPostgresRecorder._lock_table
        self.original_insert = RecordsPostgresRecorder._insert_once

    def install(self) -> None:
        timer = self

        def lock(recorder, curs):  # type: ignore[no-untyped-def]
            if timer.locked_at is None:
                timer.locked_at = perf_counter()
            return timer.original_lock(recorder, curs)

        def insert_once(recorder, *args, **kwargs):  # type: ignore[no-untyped-def]
            timer.locked_at = None
            try:
                return timer.original_insert(recorder, *args, **kwargs)
            finally:
                if timer.locked_at is not None:
                    timer.holds.append((perf_counter() - timer.locked_at) * 1000)

        RecordsPostgresRecorder._lock_table = lock  # type: ignore[method-assign]
        RecordsPostgresRecorder._insert_once = insert_once  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writes", type=int, default=500)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    arguments = parser.parse_args()

    with scratch_database(arguments.database_url) as url:
        env = persistence_environment(url)
        records = CollaborationRecords(env=env)
        raw = RawStore(env={name: value for name, value in env.items() if name != "APPLICATION_RECORDER_TOPIC"})
        collaboration_id = records.establish_collaboration(
            name="Alliance",
            purpose="Shared services",
            parties=PARTIES,
            lead_force=PARTIES[0],
            caller=Caller("bench (admin)"),
            effective_on=ON.effective_on,
            reason="agreed",
        ).result["id"]
        held = Collaboration.establish(
            name="Raw", purpose="Shared services", parties=PARTIES, lead_force=PARTIES[0], provenance=ON
        )
        raw.save(held)
        timer = HoldTimer()
        timer.install()

        def write() -> None:
            records.hold_review(
                collaboration_id,
                outcome="continue",
                caller=Caller("bench (admin)"),
                effective_on=ON.effective_on,
                reason="annual review",
            )

        def raw_save() -> None:
            held.hold_review(outcome="continue", provenance=ON)
            raw.save(held)

        writes, raws = [], []
        for _ in range(3):  # alternately
            writes += timed(write, arguments.writes // 3)
            raws += timed(raw_save, arguments.writes // 3)
        hold, whole, baseline = median(timer.holds), median(writes), median(raws)
        print(f"write_lock: PostgreSQL, {len(writes)} writes, one client")
        print(f"  lock held (lock .. commit)        median {hold:6.2f} ms  -> at most {1000 / hold:5.0f} writes/s")
        print(f"  whole write (load, command, save) median {whole:6.2f} ms  (lock held {hold / whole:.0%} of it)")
        print(f"  raw eventsourcing save (baseline) median {baseline:6.2f} ms  hold / raw save {hold / baseline:.2f}")
        raw.close()
        records.close()


if __name__ == "__main__":
    main()
