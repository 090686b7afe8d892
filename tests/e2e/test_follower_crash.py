"""A follower process killed at any moment (SIGKILL, no clean-up) loses nothing and applies
nothing twice: a restarted follower catches up, and the register it leaves equals one rebuilt
from zero."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from datetime import date
from pathlib import Path

import pytest

from domain.collaboration import Collaboration
from domain.values import Provenance
from projections.register import Register
from service.application import CollaborationRecords
from service.persistence import persistence_environment
from tests.e2e.conftest import BIN, ROOT

pytestmark = pytest.mark.e2e

FORCES = ["west-mercia", "warwickshire", "dorset", "devon-cornwall", "suffolk", "norfolk", "kent", "essex"]


def write_events(records: CollaborationRecords, collaborations: int, events_each: int, seed: int) -> None:
    """Events written with no projection running: the 'crash between write and projection'."""
    chooser = random.Random(seed)
    provenance = Provenance(date(2015, 3, 1), "loader (admin)", "bulk load for the crash test")
    batch = []
    for number in range(collaborations):
        parties = chooser.sample(FORCES, 2)
        collaboration = Collaboration.establish(
            name=f"Collaboration {seed}-{number}",
            purpose="p",
            parties=parties,
            lead_force=parties[0],
            provenance=provenance,
        )
        for step in range(events_each - 1):
            if step % 5 == 0:
                collaboration.add_function(
                    name=f"F{step}", kind="enabling", host_force=parties[1], annual_budget="1000", provenance=provenance
                )
            else:
                collaboration.hold_review(outcome=f"review {step}", provenance=provenance)
        batch.append(collaboration)
        if len(batch) == 50:
            records.save(*batch)
            batch = []
    if batch:
        records.save(*batch)


def start_follower(env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / "flask"), "--app", "wsgi", "projections", "run", "--poll-interval", "0.05"],
        cwd=ROOT,
        env=env,
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
    )


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_killed_follower_resumes_exactly_where_it_committed(tmp_path: Path):
    database_url = f"sqlite:///{tmp_path / 'records.sqlite3'}"
    env = persistence_environment(database_url)
    process_env = {**os.environ, "DATABASE_URL": database_url}
    records = CollaborationRecords(env=env)
    register = Register(env, records, batch_size=100)
    log = tmp_path / "follower.log"
    try:
        write_events(records, collaborations=600, events_each=20, seed=1)  # 12,000 events
        total = records.log_size()
        positions_at_kill = []
        for round_number in range(3):
            follower = start_follower(process_env, log)
            # Kill it once it has committed something but (usually) not everything.
            assert wait_until(
                lambda: register.position() > positions_at_kill[-1] if positions_at_kill else register.position() > 0,
                timeout=30,
            ), log.read_text()
            time.sleep(random.uniform(0, 0.05))
            follower.send_signal(signal.SIGKILL)
            follower.wait(timeout=10)
            positions_at_kill.append(register.position())
            write_events(records, collaborations=20, events_each=10, seed=100 + round_number)
        total = records.log_size()
        follower = start_follower(process_env, log)
        try:
            assert wait_until(lambda: register.position() == total, timeout=60), log.read_text()
        finally:
            follower.terminate()
            follower.wait(timeout=15)

        rebuilt_env = {**env, "REGISTER_SQLITE_DBNAME": str(tmp_path / "rebuilt.register.sqlite3")}
        with Register(rebuilt_env, records) as rebuilt:
            assert rebuilt.rebuild() == total
            followed_pages = [register.search(page=page, page_size=100) for page in range(1, 8)]
            rebuilt_pages = [rebuilt.search(page=page, page_size=100) for page in range(1, 8)]
        assert followed_pages == rebuilt_pages
        assert followed_pages[0]["total"] == 660
        # Every event counted once: each entry's version is its collaboration's event count.
        for page in followed_pages:
            for item in page["items"]:
                assert item["version"] == records.collaboration(item["id"]).version
    finally:
        register.close()
        records.close()
