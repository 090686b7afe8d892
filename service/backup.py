"""Backup and restore of the record store, and the check of a restored log against the
checkpoints kept outside it (``flask --app wsgi backup create|restore|verify``: ``backup_cli.py``).

What a backup holds:

- SQLite: the event store file (``SQLITE_DBNAME``), which holds the events and every side table
  (their hash chain and Merkle tree, the signed checkpoints, the witnesses and their
  cosignatures, the tokens, the idempotency keys, the event times, the log clock). It is copied
  with SQLite's online backup API (``sqlite3.Connection.backup``) in one step, so in one read
  transaction: a consistent snapshot, taken while writers go on (the store is in WAL mode). The
  copy is switched to a rollback journal, so the backup is one self-contained file. The
  projections' files are NOT backed up: a read model copied at another moment than the log may
  be ahead of it, and nothing vouches for it, while the log rebuilds it exactly (a restore runs
  ``flask projections rebuild``).
- PostgreSQL: the store's schema (``POSTGRES_SCHEMA``; the projections' tables are in it too),
  with ``pg_dump --format=custom``, in the snapshot of a transaction held open here
  (``pg_export_snapshot``), so the head written in the manifest is exactly the dump's. Writers
  go on: ``pg_dump`` takes ACCESS SHARE locks, which the writers' EXCLUSIVE lock does not
  conflict with. A restore is ``pg_restore --single-transaction --clean --if-exists``: it
  replaces the schema's objects, or changes nothing.

Beside each backup, ``<backup>.manifest.json``: the backup file's size and SHA-256, the log's
head in it (size, head hash and position, Merkle root) and the latest checkpoint kept in it.

Checking a restore. The chain and the tree are walked in full (``AuditTrail.verify``), and the
checkpoints kept inside the restored store are compared with the restored log. That alone cannot
see a restore that lost events (an older backup, a truncated file): the lost events went with
the checkpoints that covered them, and what is left verifies. So the restored log is also
compared with checkpoints kept OUTSIDE it: files from ``flask audit checkpoint --out``, the JSON
of ``GET /api/v1/audit/checkpoint`` or ``/checkpoints``, the signed note of
``GET /api/v1/audit/checkpoint/note``, a witness's state file (``collab-witness --state``: the
size and root it last cosigned), or the manifest of a later backup. A log shorter than one of
them lost the events between (named by their numbers in the log, and their positions where
known); a log whose first ``size`` events have another root or head hash than one of them is
not the history that was checkpointed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service.audit import notes
from service.audit.chain import GENESIS, Verification
from service.audit.checkpoints import Checkpoint, CheckpointInvalid, check_signature
from service.audit.trail import AuditTrail
from service.audit.tree import LogTree, TreeIncomplete
from service.persistence import SideTableAccess, store_in_memory

MANIFEST_FORMAT = "collaboration-records-backup/1"
MANIFEST_SUFFIX = ".manifest.json"
PARTIAL_SUFFIX = ".partial"
SQLITE, POSTGRES = "sqlite", "postgresql"
RESTORE_LOCK_TIMEOUT = "60s"  # pg_restore gives up, and changes nothing, rather than wait longer for a lock


class BackupRefused(RuntimeError):
    """The backup or the restore was not made (or changed nothing); the message says why."""


class CheckpointUnreadable(ValueError):
    """A kept checkpoint cannot be read, its signature does not verify, or there is no key to check it with."""


# ------------------------------------------------------------------------------ the store
@dataclass(frozen=True)
class SQLiteStore:
    path: Path
    events_table: str

    backend = SQLITE


@dataclass(frozen=True)
class PostgresStore:
    host: str
    port: str
    dbname: str
    user: str
    password: str
    schema: str
    events_table: str

    backend = POSTGRES

    def connect(self) -> Any:
        import psycopg

        return psycopg.connect(
            host=self.host,
            port=self.port,
            dbname=self.dbname,
            user=self.user,
            password=self.password or None,
            connect_timeout=10,
        )

    def tool_arguments(self) -> list[str]:
        """How pg_dump and pg_restore reach the database (the password goes in the environment)."""
        return ["--host", self.host, "--port", self.port, "--username", self.user, "--dbname", self.dbname]

    def tool_environment(self, **extra: str) -> dict[str, str]:
        environment = dict(os.environ, **extra)
        if self.password:
            environment["PGPASSWORD"] = self.password
        return environment


Store = SQLiteStore | PostgresStore


def store_of(records: Any) -> Store:
    """Where the application's record store is, from the environment it was built with."""
    env = records.env
    module = env.get("PERSISTENCE_MODULE")
    events_table = records.side_tables.events_table_name
    if module == "eventsourcing.sqlite":
        name = env.get("SQLITE_DBNAME") or ""
        if store_in_memory(env):
            raise BackupRefused(
                "the record store is in memory (DATABASE_URL=memory://): it lives only in the process that opened "
                "it, there is no file to back up or restore into, and nothing in it outlives that process. Back up "
                "a store on a file (sqlite:///) or on PostgreSQL"
            )
        if not name or name.startswith((":memory:", "file:")) or "mode=memory" in name:
            raise BackupRefused(f"the SQLite store {name!r} is not a file this command can back up or restore")
        return SQLiteStore(Path(name), events_table)
    if module == "eventsourcing.postgres":
        return PostgresStore(
            host=env.get("POSTGRES_HOST") or "localhost",
            port=env.get("POSTGRES_PORT") or "5432",
            dbname=env.get("POSTGRES_DBNAME") or "",
            user=env.get("POSTGRES_USER") or "",
            password=env.get("POSTGRES_PASSWORD") or "",
            schema=(env.get("POSTGRES_SCHEMA") or "").strip() or "public",
            events_table=events_table,
        )
    raise BackupRefused(f"PERSISTENCE_MODULE {module!r} is not a store this command knows")


def store_contents(side_tables: SideTableAccess) -> dict[str, int]:
    """How many events, tokens, checkpoints and witnesses the store holds (all 0: empty)."""
    counts = {}
    for name, table in (
        ("events", side_tables.events_table_sql),
        ("tokens", "{schema}api_tokens"),
        ("checkpoints", "{schema}audit_checkpoints"),
        ("witnesses", "{schema}audit_witnesses"),
    ):
        counts[name] = side_tables.execute(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"]
    return counts


# ---------------------------------------------------------------- the head of a snapshot
Rows = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]


class _Snapshot:
    """Reads a store's head through one connection (the backup file, or the dump's snapshot),
    with the side tables' SQL: ``?`` placeholders and a ``{schema}`` prefix."""

    def __init__(self, rows: Rows, events_table: str):
        self.rows = rows
        self.events_table = events_table

    # The two reads LogTree needs for a root.
    def tree_size(self) -> int:
        last = self.rows("SELECT MAX(idx) FROM {schema}merkle_nodes WHERE level = 0", ())[0][0]
        return 0 if last is None else last + 1

    def tree_nodes(self, keys: Any) -> dict[tuple[int, int], bytes]:
        keys = list(keys)
        if not keys:
            return {}
        condition = " OR ".join("(level = ? AND idx = ?)" for _ in keys)
        found = self.rows(
            f"SELECT level, idx, hash FROM {{schema}}merkle_nodes WHERE {condition}",
            [value for key in keys for value in key],
        )
        return {(level, index): bytes.fromhex(digest) for level, index, digest in found}

    def chained_document(self, position: int) -> None:  # pragma: no cover - LogTree.root never asks
        raise NotImplementedError

    def head(self) -> dict[str, Any]:
        """The log's head: chain size, head hash and position, Merkle root at that size (None
        where the tree lags the chain), how many events the table holds, and the latest
        checkpoint kept."""
        chain = self.rows("SELECT seq, position, hash FROM {schema}event_chain ORDER BY seq DESC LIMIT 1", ())
        size, position, head_hash = chain[0] if chain else (0, None, GENESIS)
        events = self.rows(f'SELECT COUNT(*) FROM {{schema}}"{self.events_table}"', ())[0][0]
        tree_size = self.tree_size()
        root = LogTree(self).root(size).hex() if tree_size >= size else None
        kept = self.rows("SELECT checkpoint FROM {schema}audit_checkpoints ORDER BY size DESC LIMIT 1", ())
        return {
            "log": {
                "size": size,
                "head_hash": head_hash,
                "head_position": position,
                "root_hash": root,
                "events": events,
                "tree_size": tree_size,
            },
            "checkpoint": json.loads(kept[0][0]) if kept else None,
        }


def _sqlite_rows(connection: sqlite3.Connection) -> Rows:
    def rows(statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return connection.execute(statement.replace("{schema}", ""), tuple(params)).fetchall()

    return rows


def _postgres_rows(connection: Any, schema: str) -> Rows:
    prefix = _identifier(schema) + "."

    def rows(statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with connection.cursor() as cursor:
            cursor.execute(statement.replace("{schema}", prefix).replace("?", "%s"), tuple(params))
            return cursor.fetchall()

    return rows


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# ---------------------------------------------------------------------------- backups
def manifest_path(backup: Path) -> Path:
    return backup.with_name(backup.name + MANIFEST_SUFFIX)


def create_backup(records: Any, destination: Path) -> dict[str, Any]:
    """Backs the store up to ``destination`` (never overwritten) and writes its manifest beside
    it; answers the manifest. BackupRefused when it cannot."""
    store = store_of(records)
    destination = destination.resolve()
    for path in (destination, manifest_path(destination)):
        if path.exists():
            raise BackupRefused(f"{path} exists; refusing to overwrite it")
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + PARTIAL_SUFFIX)
    partial.unlink(missing_ok=True)  # left by a backup that failed
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # it holds token hashes too
    os.close(descriptor)
    try:
        if isinstance(store, SQLiteStore):
            snapshot = _backup_sqlite(store, partial)
            extra: dict[str, Any] = {}
        else:
            snapshot = _backup_postgres(store, partial)
            extra = {"schema": store.schema}
        _fsync(partial)
        os.replace(partial, destination)
        _fsync(destination.parent)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    manifest = {
        "format": MANIFEST_FORMAT,
        "backend": store.backend,
        **extra,
        "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "file": destination.name,
        "bytes": destination.stat().st_size,
        "sha256": file_sha256(destination),
        **snapshot,
    }
    with manifest_path(destination).open("x") as file:
        file.write(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def _backup_sqlite(store: SQLiteStore, partial: Path) -> dict[str, Any]:
    if not store.path.is_file():
        raise BackupRefused(f"there is no store at {store.path}")
    with closing(sqlite3.connect(store.path, timeout=60)) as source, closing(sqlite3.connect(partial)) as copy:
        source.backup(copy)  # one step: one read transaction, a consistent snapshot; writers go on (WAL)
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        _quick_check(copy, f"the copy {partial}")
        return _Snapshot(_sqlite_rows(copy), store.events_table).head()


def _backup_postgres(store: PostgresStore, partial: Path) -> dict[str, Any]:
    import psycopg

    pg_dump = _tool("pg_dump")
    with closing(store.connect()) as connection:
        connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        connection.read_only = True
        # The transaction's snapshot, shared with pg_dump: the head read here is the dump's.
        snapshot_id = connection.execute("SELECT pg_export_snapshot()").fetchone()[0]
        _require_events_table(connection, store)
        snapshot = _Snapshot(_postgres_rows(connection, store.schema), store.events_table).head()
        _run(
            [
                pg_dump,
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--schema={_identifier(store.schema)}",
                "--strict-names",
                f"--snapshot={snapshot_id}",
                f"--file={partial}",
                *store.tool_arguments(),
            ],
            store.tool_environment(),
        )
        connection.rollback()
    return snapshot


def _require_events_table(connection: Any, store: PostgresStore) -> None:
    found = connection.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
        (store.schema, store.events_table),
    ).fetchone()
    if found is None:
        raise BackupRefused(f"schema {store.schema!r} of database {store.dbname!r} holds no record store")


# --------------------------------------------------------------------------- restores
def read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise BackupRefused(f"cannot read the manifest {path}: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise BackupRefused(f"{path} is not a backup manifest ({MANIFEST_FORMAT})")
    return manifest


def check_backup_file(source: Path, manifest: dict[str, Any]) -> None:
    """The backup file is the one its manifest describes (not truncated, not altered)."""
    digest = file_sha256(source)
    if digest != manifest.get("sha256"):
        raise BackupRefused(
            f"{source} is not the file its manifest describes: SHA-256 {digest}, the manifest says "
            f"{manifest.get('sha256')} ({manifest.get('bytes')} bytes; the file has {source.stat().st_size}). "
            "It was truncated, altered or replaced: restore another backup"
        )


def restore_backup(records: Any, source: Path, *, force: bool = False, manifest: dict[str, Any] | None = None) -> Store:
    """Replaces the store's contents with the backup ``source``. The service must be stopped.
    Refuses a store that holds events, tokens, checkpoints or witnesses unless ``force``."""
    store = store_of(records)
    source = source.resolve()
    if manifest is not None:
        if manifest.get("backend") != store.backend:
            raise BackupRefused(f"{source} is a {manifest.get('backend')} backup; this store is {store.backend}")
        check_backup_file(source, manifest)
    if isinstance(store, SQLiteStore):
        _check_sqlite_backup(store, source)
    else:
        _check_postgres_backup(store, source, manifest)
    contents = store_contents(records.side_tables)
    if any(contents.values()) and not force:
        held = ", ".join(f"{count} {name}" for name, count in contents.items() if count)
        raise BackupRefused(
            f"the store is not empty ({held}); refusing to overwrite it. Restore into an empty store, or give "
            "--force to replace everything in it (back it up first)"
        )
    if isinstance(store, SQLiteStore):
        _restore_sqlite(store, source)
    else:
        _restore_postgres(store, source)
    return store


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)


def _check_sqlite_backup(store: SQLiteStore, source: Path) -> None:
    try:
        with closing(_read_only(source)) as backup:
            _quick_check(backup, str(source))
            tables = {row[0] for row in backup.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as error:
        raise BackupRefused(f"{source} is not a SQLite backup of the record store: {error}") from None
    if not {store.events_table, "event_chain", "merkle_nodes"} <= tables:
        raise BackupRefused(f"{source} is not a backup of the record store (it has no {store.events_table} table)")


def _restore_sqlite(store: SQLiteStore, source: Path) -> None:
    with closing(_read_only(source)) as backup, closing(sqlite3.connect(store.path, timeout=60)) as target:
        backup.backup(target)  # page by page, under the target's write lock; other connections see it after
        target.execute("PRAGMA journal_mode=WAL")
        _quick_check(target, f"the restored store {store.path}")


_SCHEMA_ENTRY = re.compile(r"^\s*\d+;\s+\d+\s+\d+\s+SCHEMA\s+-\s+(\S+)")
_TABLE_ENTRY = re.compile(r"^\s*\d+;\s+\d+\s+\d+\s+TABLE\s+(\S+)\s+(\S+)")


def _check_postgres_backup(store: PostgresStore, source: Path, manifest: dict[str, Any] | None) -> None:
    """The dump holds this store's schema, and only it: pg_restore restores into the schema
    that was dumped, so the store's POSTGRES_SCHEMA must be that one."""
    listing = _run([_tool("pg_restore"), "--list", str(source)], store.tool_environment())
    schemas = sorted({match[1] for line in listing.splitlines() if (match := _SCHEMA_ENTRY.match(line))})
    tables = {match.groups() for line in listing.splitlines() if (match := _TABLE_ENTRY.match(line))}
    if manifest is not None and manifest.get("schema") not in (None, *schemas):
        raise BackupRefused(f"{source} holds schema(s) {schemas}, not {manifest.get('schema')!r} as its manifest says")
    if schemas != [store.schema]:
        raise BackupRefused(
            f"{source} holds the schema(s) {', '.join(schemas) or '(none)'}; this store is schema {store.schema!r} "
            "(POSTGRES_SCHEMA, or ?schema= in DATABASE_URL). pg_restore restores into the schema that was dumped: "
            "configure that schema (in another database if need be)"
        )
    if (store.schema, store.events_table) not in tables:
        raise BackupRefused(f"{source} holds no {store.events_table} table: it is not a backup of the record store")


def _restore_postgres(store: PostgresStore, source: Path) -> None:
    options = " ".join(filter(None, [os.environ.get("PGOPTIONS", ""), f"-c lock_timeout={RESTORE_LOCK_TIMEOUT}"]))
    _run(
        [
            _tool("pg_restore"),
            "--single-transaction",  # all of it, or nothing
            "--exit-on-error",
            "--clean",  # drop the objects the dump holds (the empty tables the service made), then create them
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            *store.tool_arguments(),
            str(source),
        ],
        store.tool_environment(PGOPTIONS=options),
    )


# -------------------------------------------------------------------- kept checkpoints
SIGNED_JSON, SIGNED_NOTE, WITNESS_STATE, MANIFEST, KEPT_INSIDE = (
    "signed checkpoint",
    "signed note",
    "witness state",
    "backup manifest",
    "checkpoint kept in the restored store",
)


@dataclass(frozen=True)
class KeptCheckpoint:
    """What someone kept of the log at some size: at least the size, and the Merkle root or the
    head hash (or both) of its first ``size`` events."""

    source: str
    kind: str
    size: int
    root_hash: str | None = None
    head_hash: str | None = None
    head_position: int | None = None
    signature: str = "none (not signed)"

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind,
            "size": self.size,
            "root_hash": self.root_hash,
            "head_hash": self.head_hash,
            "head_position": self.head_position,
            "signature": self.signature,
        }


@dataclass(frozen=True)
class KeyPolicy:
    """How signed checkpoints are checked: with ``trusted_key`` (base64 Ed25519), else, with
    ``trust_embedded``, with the key a JSON checkpoint names itself (a note names none: it is
    then not checked); else a signed checkpoint is refused."""

    trusted_key: str | None = None
    trusted_from: str | None = None
    trust_embedded: bool = False


def read_kept_checkpoints(path: Path, keys: KeyPolicy) -> list[KeptCheckpoint]:
    """The checkpoints a file holds: a checkpoint's JSON (``audit checkpoint --out``,
    ``GET /api/v1/audit/checkpoint``), a list of them (``GET /api/v1/audit/checkpoints``), a
    signed note (``GET /api/v1/audit/checkpoint/note``), a witness's state file, or a backup
    manifest. CheckpointUnreadable when it is none of these, or a signature does not verify."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise CheckpointUnreadable(f"cannot read {path}: {error}") from None
    try:
        data = json.loads(text)
    except ValueError:
        return [_from_note(path, text, keys)]
    if isinstance(data, dict) and data.get("format") == MANIFEST_FORMAT:
        log = data.get("log") or {}
        try:
            return [
                KeptCheckpoint(
                    f"{path}",
                    MANIFEST,
                    _size(log.get("size")),
                    root_hash=log.get("root_hash"),
                    head_hash=log.get("head_hash"),
                    head_position=log.get("head_position"),
                )
            ]
        except CheckpointUnreadable as error:
            raise CheckpointUnreadable(f"{path}: {error}") from None
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        return [_from_json(f"{path} item {n}", item, keys) for n, item in enumerate(data["items"])]
    if isinstance(data, dict) and {"origin", "size", "root"} <= set(data) and "signature" not in data:
        try:
            root = base64.b64decode(str(data["root"]), validate=True)
        except (binascii.Error, ValueError):
            root = b""
        if len(root) != 32:
            raise CheckpointUnreadable(f"{path}: a witness state's root is 32 bytes of base64")
        return [KeptCheckpoint(f"{path}", WITNESS_STATE, _size(data["size"]), root_hash=root.hex())]
    return [_from_json(f"{path}", data, keys)]


def _size(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise CheckpointUnreadable(f"size {value!r} is not a whole number")
    return value


def _from_json(source: str, data: Any, keys: KeyPolicy) -> KeptCheckpoint:
    if not isinstance(data, dict):
        raise CheckpointUnreadable(f"{source} is not a checkpoint, a signed note, a witness state or a manifest")
    try:
        checkpoint = Checkpoint.from_dict(data)
    except CheckpointInvalid as error:
        raise CheckpointUnreadable(f"{source}: {error}") from None
    if keys.trusted_key is not None:
        signature = f"checked with the {keys.trusted_from or 'given'} key"
        key: str | None = keys.trusted_key
    elif keys.trust_embedded:
        signature, key = "checked only with the key it names itself", None
    else:
        raise CheckpointUnreadable(_no_key(source))
    try:
        check_signature(checkpoint, key)
    except CheckpointInvalid as error:
        raise CheckpointUnreadable(f"{source}: {error}") from None
    return _kept(source, SIGNED_JSON, checkpoint, signature)


def _kept(source: str, kind: str, checkpoint: Checkpoint, signature: str) -> KeptCheckpoint:
    return KeptCheckpoint(
        source,
        kind,
        checkpoint.size,
        root_hash=checkpoint.root_hash,
        head_hash=checkpoint.head_hash,
        head_position=checkpoint.head_position,
        signature=signature,
    )


def _from_note(path: Path, text: str, keys: KeyPolicy) -> KeptCheckpoint:
    try:
        note = notes.parse_note(text)
        body = notes.parse_checkpoint(note.text)
    except notes.NoteError as error:
        raise CheckpointUnreadable(
            f"{path} is not a checkpoint's JSON, a signed note, a witness state or a backup manifest: {error}"
        ) from None
    if keys.trusted_key is not None:
        try:
            verifier = notes.Verifier.of(body.origin, base64.b64decode(keys.trusted_key, validate=True))
            signed = notes.verify_signature(note, verifier)
        except (notes.NoteError, binascii.Error, ValueError) as error:
            raise CheckpointUnreadable(f"{path}: the note's signature does not verify: {error}") from None
        if not signed:
            raise CheckpointUnreadable(f"{path}: the note carries no signature by the trusted key for {body.origin}")
        signature = f"checked with the {keys.trusted_from or 'given'} key"
    elif keys.trust_embedded:
        signature = "not checked (a note names no key of its own)"
    else:
        raise CheckpointUnreadable(_no_key(str(path)))
    return KeptCheckpoint(f"{path}", SIGNED_NOTE, body.size, root_hash=body.root.hex(), signature=signature)


def _no_key(source: str) -> str:
    return (
        f"{source}: no key to check the checkpoint's signature with: give the log's --public-key, or configure "
        "the signing key (AUDIT_SIGNING_KEY_FILE), or pass --trust-embedded-key to compare it with the log "
        "without knowing who signed it"
    )


# ------------------------------------------------------------------- checking a restore
@dataclass
class Finding:
    checkpoint: KeptCheckpoint
    ok: bool
    problem: str | None = None
    missing: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {**self.checkpoint.as_dict(), "ok": self.ok, "problem": self.problem, "missing": self.missing}


@dataclass
class RestoreCheck:
    log: Verification
    findings: list[Finding] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # beyond the log and the checkpoints

    @property
    def ok(self) -> bool:
        return self.log.ok and not self.problems and all(finding.ok for finding in self.findings)

    def failures(self) -> list[str]:
        failed = []
        if not self.log.ok:
            failed.append(f"the log does not verify at position {self.log.first_bad_position}: {self.log.problem}")
        return failed + self.problems + [finding.problem or "" for finding in self.findings if not finding.ok]

    def as_report(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "log": {**self.log.as_report(), "head_position": self.log.head_position},
            "checkpoints": [finding.as_dict() for finding in self.findings],
            "problems": self.failures(),
        }


def inside_checkpoints(trail: AuditTrail, keys: KeyPolicy) -> tuple[list[KeptCheckpoint], list[str]]:
    """The checkpoints kept in the (restored) store, their signatures checked with the trusted
    key where there is one; and the problems with those that cannot be read or do not verify."""
    kept, problems = [], []
    rows = trail.store.execute("SELECT size, checkpoint FROM {schema}audit_checkpoints ORDER BY size")
    for row in rows:
        source = f"the store's checkpoint of size {row['size']}"
        try:
            data = json.loads(row["checkpoint"])
            checkpoint = Checkpoint.from_dict(data if isinstance(data, dict) else {})
        except (CheckpointInvalid, TypeError, ValueError) as error:
            problems.append(f"{source} cannot be read: {error}")
            continue
        if checkpoint.size != row["size"]:
            problems.append(f"{source} is kept under size {row['size']} but signs size {checkpoint.size}")
            continue
        if keys.trusted_key is None:
            signature = "not checked (no key: give --public-key or configure the signing key)"
        else:
            try:
                check_signature(checkpoint, keys.trusted_key)
            except CheckpointInvalid as error:
                problems.append(f"{source}: {error}")
                continue
            signature = f"checked with the {keys.trusted_from or 'given'} key"
        kept.append(_kept(source, KEPT_INSIDE, checkpoint, signature))
    return kept, problems


def check_restored(
    trail: AuditTrail,
    kept: Sequence[KeptCheckpoint],
    keys: KeyPolicy,
    *,
    progress: Callable[[int], None] | None = None,
) -> RestoreCheck:
    """Walks the whole restored log (the hash chain and the Merkle tree, as ``audit verify``),
    then compares it with the checkpoints kept inside it and with ``kept`` (kept outside)."""
    check = RestoreCheck(trail.verify(progress=progress))
    inside, check.problems = inside_checkpoints(trail, keys)
    for checkpoint in [*inside, *kept]:
        check.findings.append(compare(trail, check.log, checkpoint))
    return check


def compare(trail: AuditTrail, log: Verification, kept: KeptCheckpoint) -> Finding:
    """Whether the walked log still holds what ``kept`` says it held at its size."""
    size = log.size
    label = f"{kept.source} ({kept.kind})"
    if not log.ok:  # its size is only how far the walk got
        return Finding(kept, False, f"{label} was not compared: the restored log does not verify")
    if kept.size > size:
        count = kept.size - size
        after = "from the start of the log" if log.head_position is None else f"after position {log.head_position}"
        through = f", through position {kept.head_position}" if kept.head_position is not None else ""
        missing = {
            "first": size + 1,
            "last": kept.size,
            "count": count,
            "after_position": log.head_position,
            "last_position": kept.head_position,
        }
        return Finding(
            kept,
            False,
            f"{label} covers {kept.size} events but the restored log has {size}: events {size + 1} to {kept.size} "
            f"({count} event{'s' if count != 1 else ''}, {after}{through}) are missing. The restore lost events "
            "this checkpoint covered: restore a later backup, or recover them, before the service starts",
            missing,
        )
    if kept.size == 0:
        return Finding(kept, True)
    if kept.head_hash is not None:
        rows = trail.store.execute("SELECT position, hash FROM {schema}event_chain WHERE seq = ?", (kept.size,))
        head = (rows[0]["hash"], rows[0]["position"]) if rows else (None, None)
        if head[0] != kept.head_hash or (kept.head_position is not None and head[1] != kept.head_position):
            return Finding(
                kept,
                False,
                f"{label}: event {kept.size} of the restored log (at position {head[1]}) is not the one the checkpoint "
                f"signed (head hash {kept.head_hash} at position {kept.head_position}): the restored history differs "
                "from what was checkpointed",
            )
    if kept.root_hash is not None:
        try:
            root = LogTree(trail.store).root(kept.size).hex()
        except TreeIncomplete as error:
            return Finding(kept, False, f"{label}: the restored tree cannot be compared ({error}); run audit tree")
        if root != kept.root_hash:
            return Finding(
                kept,
                False,
                f"{label}: the restored log's first {kept.size} events have Merkle root {root}, not the "
                f"checkpoint's {kept.root_hash}: the restored history differs from what was checkpointed",
            )
    return Finding(kept, True)


def check_matches_manifest(trail: AuditTrail, check: RestoreCheck, manifest: dict[str, Any], source: str) -> None:
    """A store just restored holds exactly the log its backup's manifest describes: no less
    (``compare``), and no more."""
    log = manifest.get("log") or {}
    try:
        size = _size(log.get("size"))
    except CheckpointUnreadable as error:
        check.problems.append(f"{source}: {error}")
        return
    kept = KeptCheckpoint(
        source,
        MANIFEST,
        size,
        root_hash=log.get("root_hash"),
        head_hash=log.get("head_hash"),
        head_position=log.get("head_position"),
    )
    check.findings.append(compare(trail, check.log, kept))
    if check.log.size > size:
        check.problems.append(
            f"the restored log has {check.log.size} events, the backup held {size} ({source}): the store was not "
            "emptied, or the backup is not the one its manifest describes"
        )


# ------------------------------------------------------------------------------- helpers
def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _quick_check(connection: sqlite3.Connection, what: str) -> None:
    result = connection.execute("PRAGMA quick_check").fetchone()[0]
    if result != "ok":
        raise BackupRefused(f"{what} fails SQLite's quick_check: {result}")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupRefused(
            f"{name} is not on PATH: install the PostgreSQL client tools (the server's major version or later)"
        )
    return path


def _run(command: list[str], environment: dict[str, str]) -> str:
    """Runs a PostgreSQL client tool; its standard output, or BackupRefused with its error."""
    completed = subprocess.run(  # noqa: S603 (pg_dump or pg_restore, found on PATH, with our arguments)
        command, env=environment, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        errors = completed.stderr.strip() or completed.stdout.strip()
        raise BackupRefused(f"{Path(command[0]).name} failed (exit {completed.returncode}): {errors}")
    return completed.stdout
