"""Start-up waits out what passes (issue 13): a database not there yet, full, restarting, or a
deadlock with a running writer while creating tables; it gives up at once on what will not."""

from __future__ import annotations

import psycopg.errors
import pytest
from eventsourcing.persistence import OperationalError, ProgrammingError

from service.persistence import wait_for_store


def failing(*errors: BaseException):
    """An ``open_store`` that raises each of ``errors`` (as the library raises them: its own
    error caused by psycopg's), then answers "opened"."""
    pending = list(errors)
    calls = []

    def open_store() -> str:
        calls.append(1)
        if pending:
            cause = pending.pop(0)
            raise OperationalError(str(cause)) from cause
        return "opened"

    return open_store, calls


@pytest.mark.parametrize(
    "cause",
    [
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        psycopg.errors.TooManyConnections("sorry, too many clients already"),
        psycopg.errors.CannotConnectNow("the database system is starting up"),
        psycopg.OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused'),
        psycopg.OperationalError("connection failed: FATAL:  sorry, too many clients already"),
    ],
    ids=["deadlock", "terminated", "full", "starting", "refused", "full-at-connect"],
)
def test_what_passes_is_waited_out(cause, monkeypatch):
    monkeypatch.setattr("service.persistence.postgres.time.sleep", lambda seconds: None)
    open_store, calls = failing(cause, cause)
    assert wait_for_store(open_store, patience=60) == "opened"
    assert len(calls) == 3


@pytest.mark.parametrize(
    "cause",
    [
        psycopg.OperationalError('connection failed: FATAL:  database "nope" does not exist'),
        psycopg.OperationalError('connection failed: FATAL:  password authentication failed for user "x"'),
        psycopg.errors.InsufficientPrivilege("permission denied for schema records"),
    ],
    ids=["no-database", "bad-password", "no-privilege"],
)
def test_what_will_not_pass_is_raised_at_once(cause, monkeypatch):
    monkeypatch.setattr("service.persistence.postgres.time.sleep", lambda seconds: None)
    open_store, calls = failing(cause)
    with pytest.raises(OperationalError):
        wait_for_store(open_store, patience=60)
    assert len(calls) == 1


def test_an_error_of_the_embedded_store_is_raised_at_once():
    calls = []

    def open_store() -> str:
        calls.append(1)
        raise ProgrammingError("no such table")

    with pytest.raises(ProgrammingError):
        wait_for_store(open_store, patience=60)
    assert len(calls) == 1
