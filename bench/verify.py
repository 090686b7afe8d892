"""How fast the audit trail verifies the log, against raw SHA-256 over the same bytes.

Stores 100,000 events once (5,000 collaborations x 20 events of several types, interleaved
across groups of collaborations as concurrent users would write them; each save chains its
events in its own transaction, as the service does). Then, alternately and at least three
times each:

- **verify**: ``AuditTrail.verify()``: reads the log joined with its chain in pages, rebuilds
  every event's canonical document and recomputes and compares every hash;
- **raw**: ``hashlib.sha256(document).digest()`` over the canonical documents of the same
  events, built beforehand from the same rows (only the hashing is timed): the floor any
  verifier in Python pays.

Prints both rates, their ratio (target >= 0.5) and medians; then, untimed, the peak memory one
verification allocates (tracemalloc), to show it does not grow with the log.

    .venv/bin/python -m bench.verify [--collaborations 5000] [--runs 3]
    .venv/bin/python -m bench.verify --database-url postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python -m bench.verify --profile   # cProfile one more verification
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import pstats
import tracemalloc
from time import perf_counter

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.common import median, scratch_database, store_history
from service.application import CollaborationRecords
from service.audit.chain import GENESIS, canonical_bytes
from service.audit.trail import PAGE_SIZE, AuditTrail
from service.persistence import persistence_environment


def canonical_documents(trail: AuditTrail) -> list[bytes]:
    """The canonical document of every event, from the same rows the verifier reads."""
    documents, previous = [], GENESIS
    for link in trail.links():
        documents.append(
            canonical_bytes(
                position=link.position,
                stream_id=link.stream_id,
                version=link.version,
                topic=link.topic,
                state=link.state,
                previous=previous,
            )
        )
        previous = link.hash or GENESIS
    return documents


def hash_raw(documents: list[bytes]) -> None:
    sha256 = hashlib.sha256
    for document in documents:
        sha256(document).digest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--collaborations", type=int, default=5000, help="x 20 events each (default 5000)")
    parser.add_argument("--group", type=int, default=100, help="collaborations interleaved per save (default 100)")
    parser.add_argument("--runs", type=int, default=3, help="runs, at least 3 (default 3)")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL to use a scratch schema there")
    parser.add_argument("--dir", default=None, help="where to put the scratch SQLite file (default: the temp dir)")
    parser.add_argument("--profile", action="store_true", help="cProfile one more verification, print the top")
    arguments = parser.parse_args()
    runs = max(3, arguments.runs)

    with scratch_database(arguments.database_url, arguments.dir) as url:
        env = persistence_environment(url)
        records = CollaborationRecords(env=env)
        trail = AuditTrail(records.side_tables)
        backend = env["PERSISTENCE_MODULE"].rsplit(".", 1)[-1]
        started = perf_counter()
        events = store_history(records, arguments.collaborations, arguments.group)
        print(f"verify: {events} events stored and chained on {backend} in {perf_counter() - started:.1f} s")
        documents = canonical_documents(trail)
        assert len(documents) == events
        print(
            f"  canonical documents: {sum(map(len, documents)) / events:.0f} bytes on average;"
            f" {runs} runs, pages of {PAGE_SIZE} events"
        )

        # A checkpoint, then 1% more events: what a regular `audit verify --since` reads.
        key = Ed25519PrivateKey.generate()
        checkpoint = trail.make_checkpoint(key)
        extra = store_history(records, max(1, arguments.collaborations // 100), arguments.group) - events
        documents += canonical_documents(trail)[events:]
        events += extra
        print(f"  a checkpoint at {checkpoint.size} events, then {extra} more (what --since reads)")

        raw_rates, verify_rates, since_times, full_times = [], [], [], []
        for run in range(1, runs + 1):
            started = perf_counter()
            hash_raw(documents)
            raw_rates.append(events / (perf_counter() - started))

            started = perf_counter()
            report = trail.verify()
            full_times.append(perf_counter() - started)
            verify_rates.append(events / full_times[-1])
            assert report.ok and report.events_checked == events, report.as_report()

            started = perf_counter()
            since = trail.verify_since(checkpoint, trusted_public_key=checkpoint.public_key)
            since_times.append(perf_counter() - started)
            assert since.ok and since.events_checked == extra, since.as_report()
            print(
                f"  run {run}: raw sha256 {raw_rates[-1]:9.0f} events/s   verify {verify_rates[-1]:9.0f} events/s"
                f"   ratio {verify_rates[-1] / raw_rates[-1]:.2f}"
            )
        raw, verify = median(raw_rates), median(verify_rates)
        print(f"median: raw sha256 {raw:.0f} events/s, verify {verify:.0f} events/s, ratio {verify / raw:.2f}")
        print(f"target: ratio >= 0.50 -> {'met' if verify / raw >= 0.5 else 'NOT met'}")
        full, since = median(full_times), median(since_times)
        print(
            f"verify --since the checkpoint ({extra} new events): {since * 1000:.1f} ms median,"
            f" the full verify {full * 1000:.0f} ms: ratio {since / full:.3f} (new events are {extra / events:.3f})"
        )

        del documents
        tracemalloc.start()
        assert trail.verify().ok
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"peak memory allocated by one verification (untimed, tracemalloc): {peak / 2**20:.1f} MiB")

        if arguments.profile:
            profiler = cProfile.Profile()
            profiler.runcall(trail.verify)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
        records.close()


if __name__ == "__main__":
    main()
