"""Whether a write's latency and its answer's size stay flat as one collaboration grows (issue 15).

One collaboration is grown (``bench.snapshots``' mix: 12 functions, a budget or an apportionment
every fifth event, reviews and variations for the rest) to each of ``--sizes`` events (default
1,000, 5,000, 10,000, 20,000 and 50,000). At each size, alternately:

- **HTTP write**: ``POST /api/v1/collaborations/{id}/reviews`` through Flask's test client, as
  an administrator, with the default (compact) answer: authentication, parsing, the command
  (load from the cache, check, save with the chain and side tables), the answer;
- **raw save (baseline)**: the same review on an aggregate held in memory, saved by a plain
  eventsourcing ``Application`` on the library's own recorder in the same database (what the
  library itself costs for one event, with no chain, side tables, cache or answer);

and once, the size of the answer asked for whole (``Prefer: return=representation``), which
grows with the record by design. Prints the medians, the ratio of the write to the raw save, and
each figure's ratio against the first size (flat: about 1).

    .venv/bin/python -m bench.write_growth [--sizes 1000,5000,10000,20000,50000] [--writes 60]
    .venv/bin/python -m bench.write_growth --database-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
from datetime import date
from time import perf_counter
from uuid import UUID

from bench.common import median, scratch_database
from bench.quote import FORCE, OTHER
from bench.snapshots import establish, grow
from bench.writes import RawStore
from domain.collaboration import Collaboration
from domain.values import Provenance
from service.app import create_app
from service.application import CollaborationRecords
from service.persistence import persistence_environment

ON = Provenance(date(2012, 4, 1), "bench (admin)", "agreed by the joint board")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,5000,10000,20000,50000")
    parser.add_argument("--writes", type=int, default=60, help="writes of each kind per size (default 60)")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL to use a scratch schema there")
    parser.add_argument("--dir", default=None, help="where to put the scratch SQLite files")
    arguments = parser.parse_args()
    sizes = sorted(int(text) for text in arguments.sizes.split(","))

    with scratch_database(arguments.database_url, arguments.dir) as url:
        env = persistence_environment(url)
        records = CollaborationRecords(env=env)
        backend = env["PERSISTENCE_MODULE"].rsplit(".", 1)[-1]
        collaboration, functions = establish(records)
        collaboration_id = str(collaboration.id)
        raw_store = RawStore(env={name: value for name, value in env.items() if name != "APPLICATION_RECORDER_TOPIC"})
        held = Collaboration.establish(
            name="Raw", purpose="Shared services", parties=[FORCE, OTHER], lead_force=FORCE, provenance=ON
        )
        raw_store.save(held)

        app = create_app({"DATABASE_URL": url, "TESTING": True})
        _, token = app.extensions["tokens"].create(name="bench", role="admin")
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        path = f"/api/v1/collaborations/{collaboration_id}/reviews"
        body = {"outcome": "continue", "effective_on": "2019-04-01", "reason": "annual review"}
        print(f"write_growth: one collaboration on {backend}; {arguments.writes} writes of each kind per size")
        print(f"{'events':>8} {'HTTP write':>11} {'raw save':>9} {'ratio':>6} {'answer':>8} {'whole answer':>13}")
        first: tuple[float, int, float] | None = None
        for size in sizes:
            collaboration = records.repository.get(UUID(collaboration_id))
            grow(records, collaboration, functions, size)
            https, raws, sizes_seen = [], [], []
            for _ in range(arguments.writes):
                started = perf_counter()
                response = client.post(path, json=body, headers=headers)
                https.append((perf_counter() - started) * 1000)
                assert response.status_code == 201, response.get_data(as_text=True)
                sizes_seen.append(len(response.get_data()))
                held.hold_review(outcome="continue", provenance=ON)
                started = perf_counter()
                raw_store.save(held)
                raws.append((perf_counter() - started) * 1000)
            whole = client.post(path, json=body, headers={**headers, "Prefer": "return=representation"})
            http, raw, answer = median(https), median(raws), int(median(sizes_seen))
            first = first or (http, answer, raw)
            version = records.repository.get(UUID(collaboration_id)).version
            print(
                f"{version:>8} {http:>8.2f} ms {raw:>6.2f} ms {raw / http:>6.2f} {answer:>6} B"
                f" {len(whole.get_data()):>11} B   vs first size: write x{http / first[0]:.2f},"
                f" answer x{answer / first[1]:.2f}, raw x{raw / first[2]:.2f}"
            )
        for name in ("register", "decision_log", "exit_cost_history", "benefits_realisation"):
            if name in app.extensions:
                app.extensions[name].close()
        app.extensions["records"].close()
        raw_store.close()
        records.close()


if __name__ == "__main__":
    main()
