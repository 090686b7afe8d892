"""``flask projections rebuild`` and ``flask projections run`` against a bare Flask app."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from datetime import date

import pytest
from flask import Flask

from projections.cli import projections_cli
from projections.register import Register
from service.application import Caller, CollaborationRecords
from service.persistence import persistence_environment

ADMIN = Caller("tester (admin)")
ON = {"effective_on": date(2015, 3, 1), "reason": "agreed"}


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    env = persistence_environment(database_url)
    records = CollaborationRecords(env=env)
    register = Register(env, records, batch_size=3)
    flask_app = Flask(__name__)
    flask_app.extensions["records"] = records
    flask_app.extensions["register"] = register
    flask_app.cli.add_command(projections_cli)
    yield flask_app
    register.close()
    records.close()


def write(records: CollaborationRecords, count: int) -> None:
    for index in range(count):
        written = records.establish_collaboration(
            caller=ADMIN, name=f"C{index}", purpose="p", parties=["dorset", "suffolk"], lead_force="dorset", **ON
        )
        records.hold_review(written.result["id"], outcome="fine", caller=ADMIN, **ON)


def test_rebuild_reports_the_events_processed_and_the_rate(app: Flask):
    records: CollaborationRecords = app.extensions["records"]
    register: Register = app.extensions["register"]
    write(records, 5)
    register.catch_up()

    result = app.test_cli_runner().invoke(args=["projections", "rebuild"])

    assert result.exit_code == 0, result.output
    assert "Rebuilt the register: 10 events processed in" in result.output
    assert "events/s" in result.output
    assert register.position() == 10
    assert register.search()["total"] == 5


def test_run_follows_until_interrupted(app: Flask):
    records: CollaborationRecords = app.extensions["records"]
    register: Register = app.extensions["register"]
    write(records, 4)

    def interrupt_once_caught_up() -> None:
        deadline = time.monotonic() + 10
        while register.position() < 8 and time.monotonic() < deadline:
            time.sleep(0.02)
        # SIGINT, not SIGTERM: were the command's handler not installed, pytest would see a
        # KeyboardInterrupt instead of being killed.
        os.kill(os.getpid(), signal.SIGINT)

    interrupter = threading.Thread(target=interrupt_once_caught_up)
    interrupter.start()
    result = app.test_cli_runner().invoke(args=["projections", "run", "--poll-interval", "0.05"])
    interrupter.join()

    assert result.exit_code == 0, result.output
    assert register.position() == 8
    assert register.search()["total"] == 4
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored
