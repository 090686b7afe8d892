"""In memory: ``DATABASE_URL=memory://`` (or ``memory://NAME``), for tests and for trying the
service out. Nothing in it survives the process.

It is the SQLite backend (``sqlite.py``: the same ``RecordsSQLiteRecorder``, the same SQL) on
SQLite's shared-cache in-memory databases: the store is ``file:NAME?mode=memory&cache=shared``
and each projection ``file:NAME.PROJECTION?mode=memory&cache=shared`` (one database each, as on
files: the library's SQLite tracking table is one per database). The library's connection pool
sees ``mode=memory`` in the name and lets its readers and writers in one at a time (an
in-memory database has no write-ahead log); ``use_wal`` leaves such a name alone.

A database lives as long as this process holds a connection to it (the application's pool
keeps some open until the application is closed), and no other process can open it. So
gunicorn's workers would each have a store of their own (``gunicorn.conf.py`` refuses more than
one worker on ``memory://``); a follower (``flask projections run``) or any other ``flask``
command started beside the service opens an empty store of its own, which is gone when it
exits; and there is no file to back up or restore into (``flask backup`` refuses,
``service/backup.py``). Use ``sqlite:///`` or ``postgresql://`` for records you mean to keep.

``memory://`` names a fresh database each time ``persistence_environment`` reads it, so each
application (each test) built from it has its own; ``memory://NAME`` is the same database
wherever this process opens it while it is open (two applications in one test, say).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from urllib.parse import urlparse

from eventsourcing.sqlite import SQLiteConnectionPool

from service.persistence.common import DatabaseUrlError
from service.persistence.sqlite import sqlite_environment

MEMORY_SCHEME = "memory"
_NAME = re.compile(r"[A-Za-z0-9_-]+")  # no '.', which separates a projection's database from the store's


def memory_uri(name: str) -> str:
    """The SQLite URI of the shared-cache in-memory database ``name`` (opened with ``uri=True``,
    as the library opens every SQLite database)."""
    return f"file:{name}?mode=memory&cache=shared"


def is_memory_database(db_name: str) -> bool:
    """Whether a SQLite database name (``SQLITE_DBNAME``) is in memory, as the library's
    connection pool decides it."""
    return SQLiteConnectionPool.detect_memory_mode(db_name)


def store_in_memory(env: Mapping[str, str]) -> bool:
    """Whether the persistence environment ``env`` keeps the event store in this process's memory."""
    return env.get("PERSISTENCE_MODULE") == "eventsourcing.sqlite" and is_memory_database(
        env.get("SQLITE_DBNAME") or ""
    )


def memory_database_name(url: str) -> str:
    """The database a ``memory://[NAME]`` URL names: NAME, or without one a fresh unique name."""
    parsed = urlparse(url)
    if parsed.path.strip("/") or parsed.query or parsed.fragment:
        raise DatabaseUrlError(f"DATABASE_URL {url!r}: an in-memory store is memory:// or memory://NAME")
    if not parsed.netloc:
        return f"records-{uuid.uuid4().hex}"
    if not _NAME.fullmatch(parsed.netloc):
        raise DatabaseUrlError(f"DATABASE_URL {url!r}: the NAME of memory://NAME is letters, digits, '-' and '_' only")
    return parsed.netloc


def memory_environment(url: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The eventsourcing environment of ``memory://[NAME]``: ``eventsourcing.sqlite`` on
    in-memory databases, named as ``persistence_environment`` names the files of ``sqlite:///``."""
    name = memory_database_name(url)
    return sqlite_environment(memory_uri(name), lambda projection: memory_uri(f"{name}.{projection}"), environ)
