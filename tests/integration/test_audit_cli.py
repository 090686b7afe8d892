"""``flask audit keygen|checkpoint|verify|chain`` on SQLite and PostgreSQL, including the one-off
migration of a store written before the hash chain existed."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask

from service.app import create_app
from service.application import CollaborationRecords
from service.audit.checkpoints import (
    KEY_FILE_VARIABLE,
    KEY_VARIABLE,
    Checkpoint,
    check_signature,
    load_signing_key,
    sign,
)
from service.audit.cli import audit_cli
from service.audit.trail import AuditTrail
from service.persistence import ChainBroken, persistence_environment
from service.queries import RecordQueries
from tests.integration.audit_support import (  # noqa: F401 (an autouse fixture)
    ADMIN,
    GOOD_STORE_SIZE,
    ON,
    RawDatabase,
    audit_app,
    no_key_from_the_environment,
    write_good_store,
)

app = audit_app


def audit(app: Flask, *arguments: str, key_file: Path | None = None) -> Result:
    env = {KEY_FILE_VARIABLE: str(key_file)} if key_file else None
    return app.test_cli_runner().invoke(args=["audit", *arguments], env=env)


def last_json(result: Result) -> dict:
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def key_file(app: Flask, tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "signing.pem"
    result = audit(app, "keygen", "--out", str(path))
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture
def good(app: Flask) -> CollaborationRecords:
    records = app.extensions["records"]
    write_good_store(records)
    return records


def test_create_app_registers_the_audit_commands(sqlite_url: str):
    app = create_app({"DATABASE_URL": sqlite_url, "TESTING": True})
    try:
        result = app.test_cli_runner().invoke(args=["audit", "--help"])
        assert result.exit_code == 0
        for command in ("keygen", "checkpoint", "verify", "chain"):
            assert command in result.output
    finally:
        for name in ("register", "decision_log", "records"):
            if name in app.extensions:
                app.extensions[name].close()


# ------------------------------------------------------------------------------ keygen
def test_keygen_writes_a_private_key_file_and_prints_how_to_use_it(app: Flask, tmp_path: Path):
    path = tmp_path / "keys" / "signing.pem"
    result = audit(app, "keygen", "--out", str(path))
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert str(path.resolve()) in result.output
    assert f"export {KEY_FILE_VARIABLE}={path.resolve()}" in result.output
    public_key = result.output.split("Public key (give it to auditors, to check checkpoints with --public-key): ")[1]
    assert len(public_key.split()[0]) == 44  # 32 bytes in base64


def test_keygen_never_overwrites_a_key(app: Flask, key_file: Path):
    before = key_file.read_bytes()
    result = audit(app, "keygen", "--out", str(key_file))
    assert result.exit_code == 1
    assert "refusing to overwrite" in result.output
    assert key_file.read_bytes() == before


def test_keygen_writes_to_the_instance_folder_by_default(app: Flask):
    result = audit(app, "keygen")
    assert result.exit_code == 0, result.output
    assert (Path(app.instance_path) / "audit-signing-key.pem").exists()


# -------------------------------------------------------------------------- checkpoint
def test_checkpoint_signs_the_head_and_prints_it_last(app: Flask, good, key_file: Path, tmp_path: Path):
    out = tmp_path / "checkpoint.json"
    result = audit(app, "checkpoint", "--out", str(out), key_file=key_file)
    assert result.exit_code == 0, result.output
    checkpoint = Checkpoint.from_dict(last_json(result))
    check_signature(checkpoint)
    assert checkpoint.size == GOOD_STORE_SIZE
    assert Checkpoint.from_dict(json.loads(out.read_text())) == checkpoint
    trail = AuditTrail(good.side_tables)
    assert trail.latest_checkpoint() == checkpoint
    assert (checkpoint.size, checkpoint.head_hash, checkpoint.head_position) == trail.head()
    again = audit(app, "checkpoint", "--out", str(out), key_file=key_file)
    assert again.exit_code == 1 and "refusing to overwrite" in again.output


def test_checkpoint_reads_the_key_from_the_environment_at_command_time(app: Flask, good, key_file: Path):
    result = app.test_cli_runner().invoke(args=["audit", "checkpoint"], env={KEY_VARIABLE: key_file.read_text()})
    assert result.exit_code == 0, result.output
    assert last_json(result)["size"] == GOOD_STORE_SIZE


def test_checkpoint_without_a_key_says_how_to_configure_one(app: Flask, good):
    result = audit(app, "checkpoint")
    assert result.exit_code == 1
    assert KEY_FILE_VARIABLE in result.output and "keygen" in result.output
    assert AuditTrail(good.side_tables).latest_checkpoint() is None


def test_checkpoint_refuses_a_log_that_does_not_verify(app: Flask, good, key_file: Path, database_url: str):
    raw = RawDatabase(database_url)
    position = raw.positions()[7]
    raw.flip_bit(position, 20)
    result = audit(app, "checkpoint", key_file=key_file)
    assert result.exit_code == 1
    assert f"does not verify at position {position}" in result.output
    assert AuditTrail(good.side_tables).latest_checkpoint() is None


# ------------------------------------------------------------------------------ verify
def test_verify_prints_the_report_last_and_exits_0_when_ok(app: Flask, good):
    result = audit(app, "verify")
    assert result.exit_code == 0, result.output
    report = last_json(result)
    assert report["ok"] is True and report["events_checked"] == GOOD_STORE_SIZE
    assert report["first_bad_position"] is None
    assert f"Verifying {GOOD_STORE_SIZE} events" in result.stderr  # the progress bar, on standard error


def test_verify_exits_1_and_names_the_first_bad_position(app: Flask, good, database_url: str):
    raw = RawDatabase(database_url)
    position = raw.positions()[12]
    raw.set_topic(position, "domain.collaboration:Collaboration.Forged")
    result = audit(app, "verify")
    assert result.exit_code == 1
    report = last_json(result)
    assert report["ok"] is False and report["first_bad_position"] == position
    assert report["events_checked"] == 12


def saved_checkpoint(app: Flask, key_file: Path, tmp_path: Path) -> Path:
    out = tmp_path / "held-by-the-auditor.json"
    result = audit(app, "checkpoint", "--out", str(out), key_file=key_file)
    assert result.exit_code == 0, result.output
    return out


def test_verify_against_a_checkpoint_file(app: Flask, good, key_file: Path, tmp_path: Path, database_url: str):
    held = saved_checkpoint(app, key_file, tmp_path)
    public_key = json.loads(held.read_text())["public_key"]
    write_good_store(good, collaborations=1, rounds=2)
    result = audit(app, "verify", "--against", str(held), "--public-key", public_key)
    assert result.exit_code == 0, result.output
    assert last_json(result)["events_checked"] == GOOD_STORE_SIZE + 3
    assert last_json(result)["trusted_key"] == "given"

    raw = RawDatabase(database_url)
    positions = raw.positions()
    raw.edit_state(positions[3], reason="rewritten")
    raw.rehash_from(positions[3])
    raw.rebuild_tree()
    assert audit(app, "verify").exit_code == 0  # self-consistent...
    result = audit(app, "verify", "--against", str(held), "--public-key", public_key)
    assert result.exit_code == 1  # ...but not what the auditor holds
    assert last_json(result)["first_bad_position"] == positions[GOOD_STORE_SIZE - 1]


def test_verify_against_a_truncated_log(app: Flask, good, key_file: Path, tmp_path: Path, database_url: str):
    held = saved_checkpoint(app, key_file, tmp_path)
    raw = RawDatabase(database_url)
    raw.truncate(raw.positions()[19], with_chain_entries=True)
    assert audit(app, "verify").exit_code == 0
    result = audit(app, "verify", "--against", str(held), key_file=key_file)
    assert result.exit_code == 1
    report = last_json(result)
    assert report["size"] == 20 and "removed from its end" in report["problem"]


@pytest.mark.parametrize(
    "change",
    [{"size": 5}, {"head_hash": "00" * 32}, {"created_at": "2001-01-01T00:00:00Z"}, {"signature": "AAAA"}],
)
def test_verify_rejects_an_altered_checkpoint_file_with_exit_2(app: Flask, good, key_file, tmp_path, change):
    held = saved_checkpoint(app, key_file, tmp_path)
    held.write_text(json.dumps({**json.loads(held.read_text()), **change}))
    result = audit(app, "verify", "--against", str(held), "--trust-embedded-key")
    assert result.exit_code == 2, result.output
    assert "rejected" in result.output
    result = audit(app, "verify", "--against", str(held), key_file=key_file)
    assert result.exit_code == 2, result.output
    assert "rejected" in result.output


def test_verify_rejects_a_checkpoint_signed_with_another_key_with_exit_2(app: Flask, good, key_file, tmp_path):
    held = saved_checkpoint(app, key_file, tmp_path)
    other = tmp_path / "other.pem"
    keygen = audit(app, "keygen", "--out", str(other))
    other_public_key = keygen.output.split("--public-key): ")[1].split()[0]
    result = audit(app, "verify", "--against", str(held), "--public-key", other_public_key)
    assert result.exit_code == 2, result.output
    # with no --public-key, the configured signing key is the trusted one
    assert audit(app, "verify", "--against", str(held), key_file=other).exit_code == 2
    assert audit(app, "verify", "--against", str(held), key_file=key_file).exit_code == 0


def test_verify_without_a_trusted_key_refuses_unless_told_to_trust_the_embedded_key(
    app: Flask, good, key_file, tmp_path
):
    held = saved_checkpoint(app, key_file, tmp_path)
    result = audit(app, "verify", "--against", str(held))
    assert result.exit_code == 2, result.output
    assert "--public-key" in result.stderr and "--trust-embedded-key" in result.stderr
    assert "Verifying" not in result.stderr  # refused before reading the log

    result = audit(app, "verify", "--against", str(held), "--trust-embedded-key")
    assert result.exit_code == 0, result.output
    assert "Warning: no --public-key" in result.stderr
    assert last_json(result)["trusted_key"] == "embedded"

    result = audit(app, "verify", "--against", str(held), "--trust-embedded-key", key_file=key_file)
    assert result.exit_code == 0 and "Warning" not in result.stderr
    assert last_json(result)["trusted_key"] == "configured"  # a configured key wins over the embedded one
    assert "trusted_key" not in last_json(audit(app, "verify", key_file=key_file))


@pytest.mark.parametrize("blank", ["", "   "])
def test_verify_refuses_a_blank_public_key_with_exit_2(app: Flask, good, key_file, tmp_path, blank):
    held = saved_checkpoint(app, key_file, tmp_path)
    result = audit(app, "verify", "--against", str(held), "--public-key", blank, key_file=key_file)
    assert result.exit_code == 2, result.output
    assert "rejected" in result.stderr and "empty" in result.stderr


@pytest.mark.parametrize(
    "change",
    [{"size": 20.0}, {"size": "20"}, {"head_position": True}, {"head_hash": "AB" * 32}, {"public_key": ""}],
)
def test_verify_refuses_a_checkpoint_file_with_lax_fields_with_exit_2(app: Flask, good, key_file, tmp_path, change):
    held = saved_checkpoint(app, key_file, tmp_path)
    held.write_text(json.dumps({**json.loads(held.read_text()), **change}))
    result = audit(app, "verify", "--against", str(held), key_file=key_file)
    assert result.exit_code == 2, result.output
    assert "not a checkpoint" in result.stderr


def test_verify_against_a_checkpoint_signing_the_wrong_head_position_is_not_ok(app: Flask, good, key_file, tmp_path):
    held = json.loads(saved_checkpoint(app, key_file, tmp_path).read_text())
    wrong = sign(
        load_signing_key({KEY_FILE_VARIABLE: str(key_file)}),
        size=held["size"],
        head_hash=held["head_hash"],
        head_position=held["head_position"] + 1,
        created_at=held["created_at"],
    )
    path = tmp_path / "wrong-position.json"
    path.write_text(json.dumps(wrong.as_dict()))
    result = audit(app, "verify", "--against", str(path), key_file=key_file)
    assert result.exit_code == 1, result.output
    report = last_json(result)
    assert report["ok"] is False and report["first_bad_position"] == held["head_position"]
    assert f"head position {held['head_position'] + 1}" in report["problem"]


@pytest.mark.parametrize("content", ["not json", "[1, 2]", '{"size": 1}'])
def test_verify_rejects_a_file_that_is_no_checkpoint_with_exit_2(app: Flask, good, tmp_path, content):
    path = tmp_path / "junk.json"
    path.write_text(content)
    assert audit(app, "verify", "--against", str(path)).exit_code == 2


# ----------------------------------------------------------------------- the migration
def plain_records(database_url: str) -> CollaborationRecords:
    """The application as it was before the hash chain: the library's own recorder on the same
    tables, which stores events and nothing else."""
    env = persistence_environment(database_url)
    del env["APPLICATION_RECORDER_TOPIC"]
    records = CollaborationRecords(env=env)
    assert type(records.recorder).__module__.startswith("eventsourcing.")
    return records


def test_chain_migrates_a_store_written_before_the_chain_existed(database_url: str, tmp_path: Path):
    before = plain_records(database_url)
    write_good_store(before)
    before.close()
    raw = RawDatabase(database_url)
    assert len(raw.positions()) == GOOD_STORE_SIZE

    records = CollaborationRecords(env=persistence_environment(database_url))  # creates the chain's table
    try:
        assert raw.run("SELECT count(*) FROM {chain}") == [(0,)]
        trail = AuditTrail(records.side_tables)
        report = trail.verify()
        assert not report.ok and report.first_bad_position == raw.positions()[0]
        assert "no chain entry" in report.problem

        app = Flask(__name__, instance_path=str(tmp_path))
        app.extensions["records"] = records
        app.cli.add_command(audit_cli)
        result = audit(app, "chain")
        assert result.exit_code == 0, result.output
        assert f"Chained {GOOD_STORE_SIZE} events" in result.output
        assert trail.verify().as_report()["ok"] is True
        assert trail.verify().events_checked == GOOD_STORE_SIZE
        again = audit(app, "chain")  # running it again changes nothing
        assert "Chained 0 events" in again.output and trail.verify().events_checked == GOOD_STORE_SIZE
        assert audit(app, "verify").exit_code == 0
    finally:
        records.close()


def test_chain_migrates_in_batches(database_url: str):
    before = plain_records(database_url)
    write_good_store(before)
    before.close()
    records = CollaborationRecords(env=persistence_environment(database_url))
    try:
        assert records.side_tables.chain_unchained(batch_size=7) == GOOD_STORE_SIZE
        report = AuditTrail(records.side_tables).verify()
        assert report.ok and report.events_checked == GOOD_STORE_SIZE
    finally:
        records.close()


def test_the_next_write_after_a_pre_chain_store_chains_the_old_events_first(database_url: str):
    before = plain_records(database_url)
    ids = write_good_store(before)
    before.close()
    records = CollaborationRecords(env=persistence_environment(database_url))
    try:
        records.hold_review(ids[0], outcome="after the upgrade", caller=ADMIN, **ON)
        report = AuditTrail(records.side_tables).verify()
        assert report.ok and report.events_checked == GOOD_STORE_SIZE + 1
        _, items = RecordQueries(records).history(ids[0], kind="collaboration")
        history = list(items)
        assert all(item["hash"] for item in history) and len(history) == 11
    finally:
        records.close()


def test_events_written_by_an_old_worker_during_an_upgrade_are_chained(database_url: str):
    """A worker still running the old code (no chain) writes after the chain exists. Nothing
    chains those events by accident (they could as well be planted); `audit chain --force`
    chains them deliberately, while they are still after the head."""
    records = CollaborationRecords(env=persistence_environment(database_url))
    old = plain_records(database_url)
    try:
        ids = write_good_store(records, collaborations=2, rounds=2)
        old.hold_review(ids[0], outcome="from the old worker", caller=ADMIN, **ON)
        old.hold_review(ids[1], outcome="from the old worker", caller=ADMIN, **ON)
        trail = AuditTrail(records.side_tables)
        assert not trail.verify().ok
        with pytest.raises(ChainBroken):
            records.side_tables.chain_unchained()
        assert records.side_tables.chain_unchained(force=True) == 2
        report = trail.verify()
        assert report.ok and report.events_checked == 8
    finally:
        old.close()
        records.close()


def test_the_chain_command_refuses_a_stray_event_after_the_head_unless_forced(database_url: str):
    records = CollaborationRecords(env=persistence_environment(database_url))
    old = plain_records(database_url)
    try:
        ids = write_good_store(records, collaborations=1, rounds=1)
        old.hold_review(ids[0], outcome="from the old worker", caller=ADMIN, **ON)
        app = create_app({"DATABASE_URL": database_url, "TESTING": True})
        runner = app.test_cli_runner()
        refused = runner.invoke(args=["audit", "chain"])
        assert refused.exit_code != 0 and "--force" in refused.output
        forced = runner.invoke(args=["audit", "chain", "--force"])
        assert forced.exit_code == 0, forced.output
        assert "Chained 1 events" in forced.output
        assert AuditTrail(records.side_tables).verify().ok
    finally:
        old.close()
        records.close()


def test_verify_since_a_checkpoint_file(app: Flask, good, key_file: Path, tmp_path: Path, database_url: str):
    held = saved_checkpoint(app, key_file, tmp_path)
    assert json.loads(held.read_text())["note"].startswith("collaboration-records/")
    write_good_store(good, collaborations=1, rounds=2)
    result = audit(app, "verify", "--since", str(held), key_file=key_file)
    assert result.exit_code == 0, result.output
    report = last_json(result)
    assert report["ok"] and report["size"] == good.log_size() and report["events_checked"] == good.log_size() - 30

    raw = RawDatabase(database_url)
    position = raw.positions()[2]
    raw.edit_state(position, reason="rewritten")
    raw.rehash_from(position)
    raw.rebuild_tree()
    result = audit(app, "verify", "--since", str(held), key_file=key_file)
    assert result.exit_code == 1 and "does not extend" in last_json(result)["problem"]
    assert audit(app, "verify", "--since", str(held), "--against", str(held), key_file=key_file).exit_code == 2
