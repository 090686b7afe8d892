"""``flask projections rebuild [NAME]...`` and ``run [NAME]...`` over every read model of the app
``create_app`` builds: the register and the decision log."""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import date

from service.application import Caller, CollaborationRecords
from tests.integration import http_support
from tests.integration.http_support import Http

http_any = http_support.http_any

ADMIN = Caller("tester (admin)")
ON = {"effective_on": date(2015, 3, 1), "reason": "agreed"}


def write(records: CollaborationRecords, count: int) -> None:
    for index in range(count):
        written = records.establish_collaboration(
            caller=ADMIN, name=f"C{index}", purpose="p", parties=["dorset", "suffolk"], lead_force="dorset", **ON
        )
        records.hold_review(written.result["id"], outcome="fine", caller=ADMIN, **ON)


def test_rebuild_rebuilds_every_projection_or_those_named(http_any: Http):
    app = http_any.app
    records, register, log = (app.extensions[name] for name in ("records", "register", "decision_log"))
    write(records, 3)
    runner = app.test_cli_runner()

    result = runner.invoke(args=["projections", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "Rebuilt the register: 6 events processed in" in result.output
    assert "Rebuilt the decision log: 6 events processed in" in result.output
    assert "Rebuilding the decision log" in result.output  # its own progress bar
    assert register.position() == log.position() == 6
    assert register.search()["total"] == 3
    assert log.search()["total"] == 6

    write(records, 1)
    result = runner.invoke(args=["projections", "rebuild", "decision_log"])
    assert result.exit_code == 0, result.output
    assert "Rebuilt the decision log: 8 events processed" in result.output
    assert "register" not in result.output
    assert (register.position(), log.position()) == (6, 8)

    result = runner.invoke(args=["projections", "rebuild", "ledger"])
    assert result.exit_code == 2
    assert "ledger: this app has the projections register, decision_log" in result.output


def test_run_follows_every_projection_until_interrupted(http_any: Http):
    app = http_any.app
    records, register, log = (app.extensions[name] for name in ("records", "register", "decision_log"))
    write(records, 4)

    def interrupt_once_caught_up() -> None:
        deadline = time.monotonic() + 10
        while (register.position(), log.position()) != (8, 8) and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGINT)

    interrupter = threading.Thread(target=interrupt_once_caught_up)
    interrupter.start()
    result = app.test_cli_runner().invoke(args=["projections", "run", "--poll-interval", "0.05"])
    interrupter.join()

    assert result.exit_code == 0, result.output
    assert (register.position(), log.position()) == (8, 8)
    assert log.search()["total"] == 8
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored
