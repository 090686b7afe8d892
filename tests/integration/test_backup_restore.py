"""``flask backup create|restore|verify`` on SQLite and PostgreSQL: a backup taken while a writer
records events restores into a fresh store that verifies (chain, tree, kept checkpoints) and holds
every event recorded before the backup began; and a restore of an older backup is caught by the
checkpoint kept outside the store that covers the events it lost, which are named.

PostgreSQL tests restore into a fresh database of their own (created and dropped here), under
the schema the backup was dumped from; they are skipped, with the reason, when no server answers.
"""

from __future__ import annotations

import base64
import json
import stat
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from click.testing import Result
from flask import Flask

from service.app import create_app
from service.application import CollaborationRecords
from service.audit.checkpoints import KEY_FILE_VARIABLE, write_key_file
from service.audit.trail import AuditTrail
from service.persistence import PROJECTION_NAMES
from tests.conftest import POSTGRES_URL
from tests.integration.audit_support import (  # noqa: F401 (an autouse fixture)
    ADMIN,
    ON,
    no_key_from_the_environment,
    write_good_store,
)

GOOD_STORE_SIZE = 30  # write_good_store's events


# ------------------------------------------------------------------------------ helpers
def cli(app: Flask, *arguments: str) -> Result:
    return app.test_cli_runner().invoke(args=[str(argument) for argument in arguments])


def last_json(result: Result) -> dict[str, Any]:
    return json.loads(result.stdout.strip().splitlines()[-1])


def records_of(app: Flask) -> CollaborationRecords:
    return app.extensions["records"]


def chained_events(app: Flask) -> list[tuple[Any, ...]]:
    """(seq, position, hash, stream id, version) of every chained event, in log order."""
    store = records_of(app).side_tables
    rows = store.execute(
        f"SELECT c.seq, c.position, c.hash, e.originator_id, e.originator_version FROM {{schema}}event_chain c"
        f" JOIN {store.events_table_sql} e ON e.{store.position_column} = c.position ORDER BY c.seq"
    )
    return [
        (row["seq"], row["position"], row["hash"], str(row["originator_id"]), row["originator_version"]) for row in rows
    ]


def log_size(app: Flask) -> int:
    return AuditTrail(records_of(app).side_tables).head()[0]


def review(app: Flask, collaboration_id: str, count: int) -> None:
    for number in range(count):
        records_of(app).hold_review(collaboration_id, outcome=f"later review {number}", caller=ADMIN, **ON)


@dataclass
class Stores:
    """Apps on a live store and on fresh, empty stores of the same backend, closed after the test."""

    backend: str
    key_file: Path
    tmp_path: Path
    live_url: str
    opened: list[Flask] = field(default_factory=list)
    databases: list[str] = field(default_factory=list)

    def app(self, url: str) -> Flask:
        app = create_app({"DATABASE_URL": url, "TESTING": True, KEY_FILE_VARIABLE: str(self.key_file)})
        self.opened.append(app)
        return app

    def live(self) -> Flask:
        return self.app(self.live_url)

    def fresh(self) -> Flask:
        """An app on a new, empty store: a new SQLite file, or a new PostgreSQL database with the
        live store's schema (pg_restore restores into the schema that was dumped)."""
        if self.backend == "sqlite":
            return self.app(f"sqlite:///{self.tmp_path / f'fresh-{uuid.uuid4().hex[:8]}' / 'records.sqlite3'}")
        import psycopg

        database = f"restore_{uuid.uuid4().hex[:12]}"
        schema = parse_qs(urlparse(self.live_url).query)["schema"][0]
        base = POSTGRES_URL.split("?")[0]
        with psycopg.connect(base, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{database}"')
        self.databases.append(database)
        url = f"{base.rsplit('/', 1)[0]}/{database}"
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(f'CREATE SCHEMA "{schema}"')
        return self.app(f"{url}?schema={schema}")

    def close(self) -> None:
        for app in self.opened:
            for name in (*PROJECTION_NAMES, "records"):
                if name in app.extensions:
                    app.extensions[name].close()
        if self.databases:
            import psycopg

            with psycopg.connect(POSTGRES_URL.split("?")[0], autocommit=True) as connection:
                for database in self.databases:
                    connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "signing.pem"
    write_key_file(path)
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def stores(request: pytest.FixtureRequest, tmp_path: Path, key_file: Path) -> Iterator[Stores]:
    live_url = request.getfixturevalue(f"{request.param}_url")  # skips PostgreSQL, with the reason, if unreachable
    stores = Stores(request.param, key_file, tmp_path, live_url)
    try:
        yield stores
    finally:
        stores.close()


@pytest.fixture
def sqlite_stores(tmp_path: Path, key_file: Path, sqlite_url: str) -> Iterator[Stores]:
    stores = Stores("sqlite", key_file, tmp_path, sqlite_url)
    try:
        yield stores
    finally:
        stores.close()


class Writer(threading.Thread):
    """Records reviews through the application service until stopped, as users of a web worker would."""

    def __init__(self, app: Flask, collaboration_ids: list[str]):
        super().__init__(name="backup-test-writer", daemon=True)
        self.records = records_of(app)
        self.collaboration_ids = collaboration_ids
        self.stopping = threading.Event()
        self.written = 0
        self.errors: list[BaseException] = []

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                collaboration_id = self.collaboration_ids[self.written % len(self.collaboration_ids)]
                self.records.hold_review(collaboration_id, outcome=f"under load {self.written}", caller=ADMIN, **ON)
                self.written += 1
        except BaseException as error:  # reported by the test
            self.errors.append(error)

    def wait_for(self, count: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.written < count and not self.errors and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not self.errors, self.errors
        assert self.written >= count, f"the writer wrote {self.written} events in {timeout} s"

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)
        assert not self.is_alive()
        assert not self.errors, self.errors


# ------------------------------------------------------------------ backup under load
def test_a_backup_taken_under_write_load_restores_into_a_fresh_store_that_verifies(stores: Stores, tmp_path: Path):
    live = stores.live()
    ids = write_good_store(records_of(live))
    signed = tmp_path / "kept" / "checkpoint-30.json"
    signed.parent.mkdir()
    assert cli(live, "audit", "checkpoint", "--out", signed).exit_code == 0
    writer = Writer(stores.live(), ids)  # an app of its own, as a web worker is
    writer.start()
    try:
        writer.wait_for(20)
        present_before = chained_events(live)  # every event committed before the backup began
        created = cli(live, "backup", "create", tmp_path / "backups" / "live.backup")
        written_at_backup = writer.written
        writer.wait_for(written_at_backup + 10)  # the writer went on during and after the backup
    finally:
        writer.stop()
    assert created.exit_code == 0, created.output
    manifest = last_json(created)
    size = manifest["log"]["size"]
    live_log = chained_events(live)
    assert len(present_before) <= size < len(live_log)
    assert manifest["log"]["head_hash"] == live_log[size - 1][2]  # a consistent snapshot: a prefix of the log
    assert manifest["checkpoint"]["size"] == GOOD_STORE_SIZE
    assert Path(tmp_path / "backups" / "live.backup.manifest.json").exists()

    restored = stores.fresh()
    result = cli(restored, "backup", "restore", tmp_path / "backups" / "live.backup", "--checkpoint", signed)

    assert result.exit_code == 0, result.output
    report = last_json(result)
    assert report["ok"] is True and report["problems"] == []
    assert report["log"]["size"] == size and report["log"]["ok"] is True
    kinds = {(finding["kind"], finding["size"], finding["ok"]) for finding in report["checkpoints"]}
    assert kinds == {
        ("checkpoint kept in the restored store", GOOD_STORE_SIZE, True),
        ("signed checkpoint", GOOD_STORE_SIZE, True),
        ("backup manifest", size, True),
    }
    restored_log = chained_events(restored)
    assert restored_log == live_log[:size]
    assert restored_log[: len(present_before)] == present_before
    for name in PROJECTION_NAMES:  # rebuilt from the restored log
        assert restored.extensions[name].position() == restored_log[-1][1]

    # The service started again on the restored store takes writes, and stays verified against what was kept.
    restarted = stores.app(restored.config["DATABASE_URL"])
    review(restarted, ids[0], 2)
    again = cli(restarted, "backup", "verify", "--checkpoint", signed)
    assert again.exit_code == 0, again.output
    assert last_json(again)["log"]["size"] == size + 2


# -------------------------------------------------------- a restore that lost events
def test_a_restore_of_an_older_backup_fails_against_the_later_kept_checkpoint(stores: Stores, tmp_path: Path):
    live = stores.live()
    ids = write_good_store(records_of(live))
    older = tmp_path / "older.backup"
    earlier = tmp_path / "checkpoint-30.json"
    assert cli(live, "audit", "checkpoint", "--out", earlier).exit_code == 0
    assert cli(live, "backup", "create", older).exit_code == 0
    review(live, ids[1], 6)
    later = tmp_path / "checkpoint-36.json"
    assert cli(live, "audit", "checkpoint", "--out", later).exit_code == 0
    later_checkpoint = json.loads(later.read_text())
    assert later_checkpoint["size"] == GOOD_STORE_SIZE + 6
    live_log = chained_events(live)
    lost_after, lost_through = live_log[GOOD_STORE_SIZE - 1][1], live_log[-1][1]

    restored = stores.fresh()
    result = cli(restored, "backup", "restore", older, "--checkpoint", later)

    assert result.exit_code == 1, result.output
    missing = (
        f"covers 36 events but the restored log has 30: events 31 to 36 (6 events, after position {lost_after}, "
        f"through position {lost_through}) are missing"
    )
    assert missing in result.output
    assert "does NOT verify" in result.output and "were not rebuilt" in result.output
    report = last_json(result)
    assert report["ok"] is False and report["log"]["ok"] is True
    [failed] = [finding for finding in report["checkpoints"] if not finding["ok"]]
    assert failed["kind"] == "signed checkpoint" and failed["source"] == str(later)
    assert failed["missing"] == {
        "first": 31,
        "last": 36,
        "count": 6,
        "after_position": lost_after,
        "last_position": lost_through,
    }
    assert chained_events(restored) == live_log[:GOOD_STORE_SIZE]

    # The restored store on its own verifies: the events went with the checkpoint that covered them.
    assert cli(restored, "audit", "verify").exit_code == 0
    alone = cli(restored, "backup", "verify")
    assert alone.exit_code == 0 and "No checkpoint kept outside the store was given" in alone.output
    # Only what was kept outside it shows the loss, in every form it is kept in.
    assert cli(restored, "backup", "verify", "--checkpoint", earlier).exit_code == 0
    note = tmp_path / "checkpoint-36.note"
    note.write_text(later_checkpoint["note"])
    state = tmp_path / "witness-state.json"
    root = base64.b64encode(bytes.fromhex(later_checkpoint["root_hash"])).decode()
    state.write_text(json.dumps({"origin": "records.example/log", "size": 36, "root": root}))
    for kept in (later, note, state):
        checked = cli(restored, "backup", "verify", "--checkpoint", earlier, "--checkpoint", kept)
        assert checked.exit_code == 1, (kept, checked.output)
        assert "events 31 to 36" in checked.output and "are missing" in checked.output
        assert last_json(checked)["ok"] is False


def test_a_newer_backups_manifest_is_a_kept_checkpoint_too(sqlite_stores: Stores, tmp_path: Path):
    live = sqlite_stores.live()
    ids = write_good_store(records_of(live))
    assert cli(live, "backup", "create", tmp_path / "older.backup").exit_code == 0
    review(live, ids[0], 3)
    assert cli(live, "backup", "create", tmp_path / "newer.backup").exit_code == 0
    restored = sqlite_stores.fresh()
    assert cli(restored, "backup", "restore", tmp_path / "older.backup").exit_code == 0

    checked = cli(restored, "backup", "verify", "--checkpoint", tmp_path / "newer.backup.manifest.json")

    assert checked.exit_code == 1
    assert "(backup manifest) covers 33 events but the restored log has 30: events 31 to 33" in checked.output


def test_a_restored_log_that_differs_from_a_kept_checkpoint_fails(sqlite_stores: Stores, tmp_path: Path):
    """Another history of the same length (a backup of another store) is not the checkpointed one."""
    first, second = sqlite_stores.live(), sqlite_stores.fresh()
    write_good_store(records_of(first))
    write_good_store(records_of(second))
    kept = tmp_path / "first.json"
    assert cli(first, "audit", "checkpoint", "--out", kept).exit_code == 0

    checked = cli(second, "backup", "verify", "--checkpoint", kept)

    assert checked.exit_code == 1
    assert "is not the one the checkpoint signed" in checked.output


# ------------------------------------------------------------------------ refusals
def test_restore_refuses_a_store_that_is_not_empty_unless_forced(stores: Stores, tmp_path: Path):
    live = stores.live()
    ids = write_good_store(records_of(live))
    assert cli(live, "backup", "create", tmp_path / "b").exit_code == 0
    review(live, ids[2], 4)

    refused = cli(live, "backup", "restore", tmp_path / "b")
    assert refused.exit_code == 1
    assert "the store is not empty (34 events" in refused.output and "--force" in refused.output
    assert log_size(live) == GOOD_STORE_SIZE + 4

    forced = cli(live, "backup", "restore", tmp_path / "b", "--force")
    assert forced.exit_code == 0, forced.output
    assert log_size(live) == GOOD_STORE_SIZE
    assert last_json(forced)["ok"] is True


def test_create_never_overwrites_a_backup_and_keeps_it_private(sqlite_stores: Stores, tmp_path: Path):
    live = sqlite_stores.live()
    write_good_store(records_of(live))
    assert cli(live, "backup", "create", tmp_path / "b").exit_code == 0
    assert stat.S_IMODE((tmp_path / "b").stat().st_mode) == 0o600  # it holds the tokens' hashes too
    before = (tmp_path / "b").read_bytes()
    again = cli(live, "backup", "create", tmp_path / "b")
    assert again.exit_code == 1 and "refusing to overwrite" in again.output
    assert (tmp_path / "b").read_bytes() == before
    assert not (tmp_path / "b.partial").exists()


def test_restore_refuses_a_backup_file_its_manifest_does_not_describe(sqlite_stores: Stores, tmp_path: Path):
    live = sqlite_stores.live()
    write_good_store(records_of(live))
    assert cli(live, "backup", "create", tmp_path / "b").exit_code == 0
    with (tmp_path / "b").open("r+b") as file:
        file.truncate((tmp_path / "b").stat().st_size - 4096)  # lost its last page
    restored = sqlite_stores.fresh()

    refused = cli(restored, "backup", "restore", tmp_path / "b")

    assert refused.exit_code == 1
    assert "is not the file its manifest describes" in refused.output
    assert log_size(restored) == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not a checkpoint", "is not a checkpoint's JSON, a signed note, a witness state or a backup manifest"),
        ('{"size": 3}', "not a checkpoint: missing"),
    ],
)
def test_an_unreadable_kept_checkpoint_is_refused_with_exit_2(
    sqlite_stores: Stores, tmp_path: Path, content: str, message: str
):
    live = sqlite_stores.live()
    path = tmp_path / "kept.json"
    path.write_text(content)
    result = cli(live, "backup", "verify", "--checkpoint", path)
    assert result.exit_code == 2
    assert message in result.output


def test_a_kept_checkpoint_signed_by_another_key_is_refused_with_exit_2(sqlite_stores: Stores, tmp_path: Path):
    live = sqlite_stores.live()
    write_good_store(records_of(live))
    kept = tmp_path / "kept.json"
    assert cli(live, "audit", "checkpoint", "--out", kept).exit_code == 0
    other = base64.b64encode(bytes(32)).decode()
    result = cli(live, "backup", "verify", "--checkpoint", kept, "--public-key", other)
    assert result.exit_code == 2
    assert "signature does not verify" in result.output


@pytest.fixture
def postgres_stores(tmp_path: Path, key_file: Path, postgres_url: str) -> Iterator[Stores]:
    stores = Stores("postgres", key_file, tmp_path, postgres_url)
    try:
        yield stores
    finally:
        stores.close()


@pytest.fixture
def other_schema_url(postgres_url: str) -> Iterator[str]:
    """Another schema of the live store's database (dropped after the test)."""
    import psycopg

    schema = f"test_{uuid.uuid4().hex[:12]}"
    base = POSTGRES_URL.split("?")[0]
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{base}?schema={schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.mark.postgres
def test_restore_refuses_a_dump_of_another_schema(postgres_stores: Stores, other_schema_url: str, tmp_path: Path):
    live = postgres_stores.live()
    write_good_store(records_of(live))
    assert cli(live, "backup", "create", tmp_path / "b").exit_code == 0
    other = postgres_stores.app(other_schema_url)

    refused = cli(other, "backup", "restore", tmp_path / "b")

    assert refused.exit_code == 1
    assert "pg_restore restores into the schema that was dumped" in refused.output
    assert log_size(other) == 0


@pytest.mark.unpublished_events("restores a backup altered by hand")
def test_a_restored_log_that_does_not_verify_is_reported_and_not_served(sqlite_stores: Stores, tmp_path: Path):
    """A backup altered by hand (its manifest gone with it) is restored, found not to verify, and
    its projections are not rebuilt."""
    import sqlite3

    live = sqlite_stores.live()
    write_good_store(records_of(live))
    assert cli(live, "backup", "create", tmp_path / "b").exit_code == 0
    (tmp_path / "b.manifest.json").unlink()
    with sqlite3.connect(tmp_path / "b") as connection:
        connection.execute("UPDATE stored_events SET state = replace(state, 'review 4', 'review 5') WHERE rowid = 17")
    connection.close()
    restored = sqlite_stores.fresh()

    result = cli(restored, "backup", "restore", tmp_path / "b")

    assert result.exit_code == 1
    assert "no manifest" in result.output
    assert "the log does not verify at position 17" in result.output
    assert last_json(result)["log"]["first_bad_position"] == 17
    assert restored.extensions["register"].position() == 0
