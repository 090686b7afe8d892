"""Several workers starting at once on a fresh database all build their store and projections: the
library's tracking tables are created once and nobody fails to boot (seen with gunicorn: one
worker's IntegrityError on the tracking migration record took the whole server down)."""

from __future__ import annotations

import threading

from projections.benefits_realisation import BenefitsRealisation
from projections.decision_log import DecisionLog
from projections.exit_cost_history import ExitCostHistory
from projections.register import Register
from service.application import CollaborationRecords
from service.persistence import persistence_environment

WORKERS = 3  # as gunicorn runs them; each opens 5 pools of 5 PostgreSQL connections


def test_projections_start_together_on_a_fresh_database(database_url):
    env = persistence_environment(database_url)
    start = threading.Barrier(WORKERS)
    errors: list[BaseException] = []
    opened = []

    def boot() -> None:
        start.wait()
        try:
            records = CollaborationRecords(env=env)  # the store's own tables, created at once too
            opened.append(records)
            opened.append(Register(env, records))
            opened.append(DecisionLog(env, records))
            opened.append(ExitCostHistory(env, records))
            opened.append(BenefitsRealisation(env, records))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=boot) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert errors == []
        assert len(opened) == 5 * WORKERS
        assert all(item.position() == 0 for item in opened if not isinstance(item, CollaborationRecords))
    finally:
        for item in opened:
            item.close()
