"""Storage: maps ``DATABASE_URL`` onto eventsourcing's persistence modules, and extends the
library's application recorders with the side tables that must commit with the events.

The side tables are:

- ``idempotency_keys``: the result of each POST that carried an ``Idempotency-Key``. It is
  inserted in the same transaction as the events the POST recorded (through the recorder's
  ``_insert_events`` extension point), so a retried request either finds the first result or
  finds nothing was recorded: never both, never half.
- ``api_tokens``: bearer tokens, stored as SHA-256 hashes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import get_topic

DEFAULT_DATABASE_URL = "sqlite:///instance/records.sqlite3"
PROJECTION_NAMES = ("register",)


class DatabaseUrlError(ValueError):
    """DATABASE_URL names no storage this service supports."""


@dataclass(frozen=True)
class IdempotentRequest:
    """A POST that carried an Idempotency-Key, and the result it produced."""

    principal: str
    key: str
    fingerprint: str
    result: Mapping[str, Any]


SIDE_TABLES = [
    "CREATE TABLE IF NOT EXISTS {schema}idempotency_keys ("
    " principal TEXT NOT NULL,"
    " idempotency_key TEXT NOT NULL,"
    " fingerprint TEXT NOT NULL,"
    " result TEXT NOT NULL,"
    " PRIMARY KEY (principal, idempotency_key))",
    "CREATE TABLE IF NOT EXISTS {schema}api_tokens ("
    " id TEXT PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " role TEXT NOT NULL,"
    " force TEXT,"
    " token_hash TEXT NOT NULL UNIQUE,"
    " created_at TEXT NOT NULL,"
    " revoked_at TEXT)",
]
INSERT_IDEMPOTENCY = (
    "INSERT INTO {schema}idempotency_keys (principal, idempotency_key, fingerprint, result) VALUES (?, ?, ?, ?)"
)


def _idempotency_params(request: IdempotentRequest) -> tuple[str, str, str, str]:
    return (request.principal, request.key, request.fingerprint, json.dumps(request.result, sort_keys=True))


class SideTableAccess:
    """Plain SQL on the side tables, written once for both backends with ``?`` placeholders
    and a ``{schema}`` prefix."""

    def side_sql(self, statement: str) -> str:
        raise NotImplementedError

    def execute(self, statement: str, params: Sequence[Any] = (), *, commit: bool = False) -> list[dict[str, Any]]:
        raise NotImplementedError


class RecordsSQLiteRecorder(SQLiteApplicationRecorder, SideTableAccess):
    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *(self.side_sql(s) for s in SIDE_TABLES)]

    def side_sql(self, statement: str) -> str:
        return statement.replace("{schema}", "")

    def _insert_events(self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        notification_ids = super()._insert_events(c, stored_events, **kwargs)
        request: IdempotentRequest | None = kwargs.get("idempotency")
        if request is not None:
            c.execute(self.side_sql(INSERT_IDEMPOTENCY), _idempotency_params(request))
        return notification_ids

    def execute(self, statement: str, params: Sequence[Any] = (), *, commit: bool = False) -> list[dict[str, Any]]:
        with self.datastore.transaction(commit=commit) as c:
            c.execute(self.side_sql(statement), tuple(params))
            return [dict(row) for row in c.fetchall()]


class RecordsPostgresRecorder(PostgresApplicationRecorder, SideTableAccess):
    def __init__(self, datastore: Any, **kwargs: Any):
        super().__init__(datastore, **kwargs)
        from psycopg.sql import SQL

        self.sql_create_statements.extend(SQL(self.side_sql(s)) for s in SIDE_TABLES)  # type: ignore[arg-type]

    def side_sql(self, statement: str) -> str:
        schema = self.datastore.schema
        return statement.replace("{schema}", f'"{schema}".').replace("?", "%s")

    def _insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        request: IdempotentRequest | None = kwargs.get("idempotency")
        if request is not None:
            curs.execute(self.side_sql(INSERT_IDEMPOTENCY), _idempotency_params(request))

    def execute(self, statement: str, params: Sequence[Any] = (), *, commit: bool = False) -> list[dict[str, Any]]:
        with self.datastore.transaction(commit=commit) as curs:
            curs.execute(self.side_sql(statement), tuple(params))
            return [dict(row) for row in curs.fetchall()] if curs.description else []


def environment_from(environ: Mapping[str, str], *, base_dir: Path | None = None) -> dict[str, str]:
    """The persistence environment for this process: ``DATABASE_URL`` if set; else the
    library's own ``PERSISTENCE_MODULE`` and ``POSTGRES_*``/``SQLITE_*`` variables if set;
    else the embedded SQLite default."""
    if environ.get("DATABASE_URL") or not environ.get("PERSISTENCE_MODULE"):
        return persistence_environment(environ.get("DATABASE_URL"), base_dir=base_dir)
    env = {
        key: value for key, value in environ.items() if key.startswith(("PERSISTENCE_MODULE", "POSTGRES_", "SQLITE_"))
    }
    if env["PERSISTENCE_MODULE"] == "eventsourcing.postgres":
        env["APPLICATION_RECORDER_TOPIC"] = get_topic(RecordsPostgresRecorder)
    elif env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        env["APPLICATION_RECORDER_TOPIC"] = get_topic(RecordsSQLiteRecorder)
        path = Path(env.get("SQLITE_DBNAME", ""))
        for name in PROJECTION_NAMES:
            env.setdefault(f"{name.upper()}_SQLITE_DBNAME", str(path.with_name(f"{path.stem}.{name}{path.suffix}")))
    else:
        raise DatabaseUrlError(f"PERSISTENCE_MODULE {env['PERSISTENCE_MODULE']!r} is not supported")
    return env


def persistence_environment(database_url: str | None = None, *, base_dir: Path | None = None) -> dict[str, str]:
    """The eventsourcing environment for a DATABASE_URL.

    ``sqlite:///PATH`` (relative to ``base_dir``) or ``sqlite:////ABSOLUTE/PATH`` selects
    ``eventsourcing.sqlite``; each projection gets its own file beside it, because the
    library's SQLite tracking table is per database. ``postgresql://USER[:PASSWORD]@HOST[:PORT]/DB
    [?schema=NAME]`` selects ``eventsourcing.postgres``; projections get prefixed tables.
    """
    url = database_url or DEFAULT_DATABASE_URL
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        raw_path = unquote(parsed.path)
        if not raw_path or raw_path == "/":
            raise DatabaseUrlError(f"DATABASE_URL {url!r} names no file")
        path = Path(raw_path[1:])  # sqlite:///relative or sqlite:////absolute
        if not path.is_absolute():
            path = (base_dir or Path.cwd()) / path
        path.parent.mkdir(parents=True, exist_ok=True)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(path),
            "SQLITE_LOCK_TIMEOUT": os.environ.get("SQLITE_LOCK_TIMEOUT", "30"),
            "APPLICATION_RECORDER_TOPIC": get_topic(RecordsSQLiteRecorder),
        }
        for name in PROJECTION_NAMES:
            env[f"{name.upper()}_SQLITE_DBNAME"] = str(path.with_name(f"{path.stem}.{name}{path.suffix}"))
        return env
    if parsed.scheme in ("postgresql", "postgres"):
        if not parsed.hostname or not parsed.path.strip("/"):
            raise DatabaseUrlError(f"DATABASE_URL {url!r} needs a host and a database name")
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": unquote(parsed.path.strip("/")),
            "POSTGRES_HOST": parsed.hostname,
            "POSTGRES_PORT": str(parsed.port or 5432),
            "POSTGRES_USER": unquote(parsed.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parsed.password or ""),
            "POSTGRES_LOCK_TIMEOUT": os.environ.get("POSTGRES_LOCK_TIMEOUT", "10"),
            "APPLICATION_RECORDER_TOPIC": get_topic(RecordsPostgresRecorder),
        }
        schema = parse_qs(parsed.query).get("schema", [""])[0]
        if schema:
            env["POSTGRES_SCHEMA"] = schema
        return env
    raise DatabaseUrlError(f"DATABASE_URL must start sqlite:/// or postgresql://, not {url!r}")
