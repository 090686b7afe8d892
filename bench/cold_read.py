"""How long a read of a projection takes when the projection has not been built (issue 15).

Stores ``--events`` events (default 1,000,000: 50,000 collaborations x 20 events, about two
minutes on SQLite), then starts the service on that store with every projection empty, as a
first start after a restore or an upgrade that rebuilds them, with no follower running. Each
projection's read is asked for through Flask's test client, one request each, and the time to
the answer is printed with its status and ``Retry-After``: the answer must come within the
read budget (``READ_CATCH_UP_SECONDS``, 1.5 s; no batch is begun that would end past it), as a 503 with ``Retry-After``
while the projection is behind (never a request held until the worker is killed), and the
projection keeps what it read, so the reads that follow get on. Baseline, in the same run: a
read that needs no projection (``GET /api/v1/collaborations/{id}``, the aggregate itself).

    .venv/bin/python -m bench.cold_read [--events 1000000]
    .venv/bin/python -m bench.cold_read --events 100000 --database-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
from time import perf_counter

from bench.common import FORCES, median, scratch_database, store_history
from service.app import create_app
from service.application import CollaborationRecords
from service.persistence import persistence_environment
from service.queries import DEFAULT_CATCH_UP_SECONDS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL to use a scratch schema there")
    parser.add_argument("--dir", default=None, help="where to put the scratch SQLite files")
    arguments = parser.parse_args()

    with scratch_database(arguments.database_url, arguments.dir) as url:
        records = CollaborationRecords(env=persistence_environment(url))
        started = perf_counter()
        events = store_history(records, arguments.events // 20, 100)
        some_id = str(records.recorder.select_notifications(start=1, limit=1)[0].originator_id)
        records.close()
        print(f"cold_read: {events} events stored in {perf_counter() - started:.0f} s; every projection empty")

        app = create_app({"DATABASE_URL": url, "TESTING": True})
        _, token = app.extensions["tokens"].create(name="bench", role="auditor")
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        budget = app.config.get("READ_CATCH_UP_SECONDS", DEFAULT_CATCH_UP_SECONDS)

        def get(path: str) -> tuple[float, int, str | None]:
            started = perf_counter()
            response = client.get(path, headers=headers)
            return (perf_counter() - started) * 1000, response.status_code, response.headers.get("Retry-After")

        baseline = median([get(f"/api/v1/collaborations/{some_id}")[0] for _ in range(5)])
        print(f"  baseline: GET /api/v1/collaborations/{{id}} (no projection) median {baseline:.1f} ms")
        paths = [
            "/api/v1/collaborations",
            "/api/v1/decisions",
            f"/api/v1/collaborations/{some_id}/exit-cost-history?force={FORCES[0]}",
            f"/api/v1/collaborations/{some_id}/benefits",
        ]
        worst = 0.0
        for path in paths:
            for attempt in (1, 2):
                elapsed, status, retry_after = get(path)
                worst = max(worst, elapsed)
                print(
                    f"  {path.split('?')[0][:60]:60} try {attempt}: {status} in {elapsed:7.0f} ms"
                    f" (Retry-After {retry_after}; x{elapsed / baseline:.0f} the baseline)"
                )
        verdict = "met" if worst < 2000 else "NOT met"
        print(f"slowest answer {worst:.0f} ms (read budget {budget} s); target: every answer within 2 s -> {verdict}")
        for name in ("register", "decision_log", "exit_cost_history", "benefits_realisation"):
            if name in app.extensions:
                app.extensions[name].close()
        app.extensions["records"].close()


if __name__ == "__main__":
    main()
