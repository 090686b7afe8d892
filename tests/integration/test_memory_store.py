"""The in-memory store (``DATABASE_URL=memory://``, service/persistence/memory.py): the SQLite
backend on SQLite's shared-cache in-memory databases, for tests and trying things out. A fresh
store each time ``memory://`` is read, one shared store per ``memory://NAME`` in a process,
nothing on disk, nothing after the process; and refused where another process would be needed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.application import CollaborationRecords
from service.audit.trail import AuditTrail
from service.persistence import (
    PROJECTION_NAMES,
    DatabaseUrlError,
    RecordsSQLiteRecorder,
    persistence_environment,
    store_in_memory,
)
from tests.integration import http_support
from tests.integration.audit_support import ADMIN, ON, write_good_store
from tests.integration.http_support import Http

http = http_support.http
collaboration = http_support.collaboration

ROOT = Path(__file__).resolve().parents[2]


def establish(records: CollaborationRecords, name: str = "Alliance") -> str:
    return records.establish_collaboration(
        caller=ADMIN,
        name=name,
        purpose="Shared services",
        parties=["west-mercia", "warwickshire"],
        lead_force="west-mercia",
        **ON,
    ).result["id"]


@pytest.fixture
def opened() -> Iterator[list[CollaborationRecords]]:
    """Applications the test opens, closed after it (an in-memory store lives while one is open)."""
    applications: list[CollaborationRecords] = []
    yield applications
    for application in applications:
        application.close()


def open_records(opened: list[CollaborationRecords], env: dict[str, str]) -> CollaborationRecords:
    records = CollaborationRecords(env=env)
    opened.append(records)
    return records


# ------------------------------------------------------------------------- the environment
def test_memory_selects_sqlite_in_memory_with_the_same_recorder():
    env = persistence_environment("memory://")
    name = env["SQLITE_DBNAME"].removeprefix("file:").removesuffix("?mode=memory&cache=shared")
    assert env["SQLITE_DBNAME"] == f"file:{name}?mode=memory&cache=shared"
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite"
    assert env["APPLICATION_RECORDER_TOPIC"] == "service.persistence.sqlite:RecordsSQLiteRecorder"
    for projection in PROJECTION_NAMES:
        assert env[f"{projection.upper()}_SQLITE_DBNAME"] == f"file:{name}.{projection}?mode=memory&cache=shared"
    assert store_in_memory(env)
    assert not store_in_memory(persistence_environment("sqlite:///records.sqlite3", base_dir=Path("/tmp")))


def test_each_reading_of_memory_without_a_name_is_a_fresh_store():
    first, second = persistence_environment("memory://"), persistence_environment("memory://")
    assert first["SQLITE_DBNAME"] != second["SQLITE_DBNAME"]
    assert {first[f"{name.upper()}_SQLITE_DBNAME"] for name in PROJECTION_NAMES}.isdisjoint(second.values())


def test_a_named_store_is_the_same_name_every_time():
    assert persistence_environment("memory://tests_1") == persistence_environment("memory://tests_1")
    assert persistence_environment("memory://tests_1")["SQLITE_DBNAME"] == "file:tests_1?mode=memory&cache=shared"


@pytest.mark.parametrize("url", ["memory://a.b", "memory://a/b", "memory://a?cache=private", "memory://a b"])
def test_a_memory_url_that_names_more_than_a_store_is_refused(url: str):
    with pytest.raises(DatabaseUrlError, match="memory"):
        persistence_environment(url)


def test_the_recorder_topic_stored_before_the_split_still_resolves():
    from eventsourcing.utils import resolve_topic

    assert resolve_topic("service.persistence:RecordsSQLiteRecorder") is RecordsSQLiteRecorder


# ------------------------------------------------------------------------- the store
def test_an_application_records_and_reads_back_and_its_chain_verifies(opened):
    records = open_records(opened, persistence_environment("memory://"))
    ids = write_good_store(records)
    assert records.log_size() == 30
    assert records.collaboration(ids[0]).name == "Alliance 0"
    report = AuditTrail(records.side_tables).verify()
    assert report.ok and report.events_checked == 30, report.as_report()


def test_two_stores_without_a_name_share_nothing(opened):
    first = open_records(opened, persistence_environment("memory://"))
    second = open_records(opened, persistence_environment("memory://"))
    establish(first)
    assert first.log_size() == 1 and second.log_size() == 0


def test_a_named_store_is_shared_within_the_process_while_it_is_open(opened):
    env = persistence_environment("memory://shared_in_this_test")
    first = open_records(opened, env)
    collaboration_id = establish(first)
    second = open_records(opened, env)
    assert second.collaboration(collaboration_id).name == "Alliance"
    report = AuditTrail(second.side_tables).verify()
    assert report.ok and report.events_checked == 1, report.as_report()


def test_nothing_outlives_the_last_connection():
    env = persistence_environment("memory://gone_when_closed")
    records = CollaborationRecords(env=env)
    establish(records)
    records.close()
    again = CollaborationRecords(env=env)
    try:
        assert again.log_size() == 0
    finally:
        again.close()


def test_the_app_on_memory_writes_nothing_to_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    for app_http in http_support.http_for("memory://"):
        created = app_http.establish()
        assert app_http.get(f"/api/v1/collaborations/{created['id']}").status_code == 200
        verified = app_http.get("/api/v1/audit/verify").get_json()
        assert verified["ok"] is True and verified["events_checked"] == 1
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------- what is refused
@pytest.mark.parametrize("command", ["create", "restore"])
def test_backup_refuses_a_store_in_memory(http: Http, collaboration, tmp_path: Path, command: str):
    target = tmp_path / "records.backup"
    if command == "restore":
        target.write_bytes(b"not a backup")
    result = http.app.test_cli_runner().invoke(args=["backup", command, str(target)])
    assert result.exit_code == 1, result.output
    assert "in memory" in result.output and "Traceback" not in result.output
    assert http.log_size() == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == (["records.backup"] if command == "restore" else [])


def test_gunicorn_refuses_several_workers_on_a_store_in_memory(tmp_path: Path):
    """Each worker would keep a store of its own: refused before any worker starts."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    environment = {
        **os.environ,
        "DATABASE_URL": "memory://",
        "WEB_CONCURRENCY": "2",
        "BIND": "127.0.0.1:0",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    result = subprocess.run(
        [str(gunicorn), "wsgi:app"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "keeps the records in one process's memory: 2 workers" in result.stderr, result.stderr
    assert "Booting worker" not in result.stderr
