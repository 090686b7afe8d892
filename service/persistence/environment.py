"""The eventsourcing environment of this process's store, from ``DATABASE_URL`` (``sqlite:///``,
``postgresql://`` or ``memory://``) or the library's own variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from eventsourcing.utils import get_topic

from service.persistence.common import PROJECTION_NAMES, WEBHOOKS_DATABASE, DatabaseUrlError
from service.persistence.memory import MEMORY_SCHEME, memory_environment
from service.persistence.postgres import RecordsPostgresRecorder, postgres_pool_settings
from service.persistence.sqlite import RecordsSQLiteRecorder, sqlite_environment

DEFAULT_DATABASE_URL = "sqlite:///instance/records.sqlite3"


def environment_from(environ: Mapping[str, str], *, base_dir: Path | None = None) -> dict[str, str]:
    """The persistence environment for this process: ``DATABASE_URL`` if set; else the
    library's own ``PERSISTENCE_MODULE`` and ``POSTGRES_*``/``SQLITE_*`` variables if set;
    else the embedded SQLite default."""
    if environ.get("DATABASE_URL") or not environ.get("PERSISTENCE_MODULE"):
        return persistence_environment(environ.get("DATABASE_URL"), base_dir=base_dir, environ=environ)
    env = {
        key: value for key, value in environ.items() if key.startswith(("PERSISTENCE_MODULE", "POSTGRES_", "SQLITE_"))
    }
    if env["PERSISTENCE_MODULE"] == "eventsourcing.postgres":
        env["APPLICATION_RECORDER_TOPIC"] = get_topic(RecordsPostgresRecorder)
        env.update(postgres_pool_settings(environ))
    elif env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        env["APPLICATION_RECORDER_TOPIC"] = get_topic(RecordsSQLiteRecorder)
        path = Path(env.get("SQLITE_DBNAME", ""))
        for name in (*PROJECTION_NAMES, WEBHOOKS_DATABASE):
            env.setdefault(f"{name.upper()}_SQLITE_DBNAME", str(path.with_name(f"{path.stem}.{name}{path.suffix}")))
    else:
        raise DatabaseUrlError(f"PERSISTENCE_MODULE {env['PERSISTENCE_MODULE']!r} is not supported")
    return env


def persistence_environment(
    database_url: str | None = None, *, base_dir: Path | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The eventsourcing environment for a DATABASE_URL.

    ``sqlite:///PATH`` (relative to ``base_dir``) or ``sqlite:////ABSOLUTE/PATH`` selects
    ``eventsourcing.sqlite``; each projection gets its own file beside it, because the
    library's SQLite tracking table is per database. ``postgresql://USER[:PASSWORD]@HOST[:PORT]/DB
    [?schema=NAME]`` selects ``eventsourcing.postgres``; projections get prefixed tables.
    ``memory://`` or ``memory://NAME`` selects ``eventsourcing.sqlite`` on in-memory databases,
    for tests and trying things out (``memory.py``): nothing in them survives the process, and
    ``memory://`` without a NAME is a fresh store each time it is read here.
    """
    environ = os.environ if environ is None else environ
    url = database_url or DEFAULT_DATABASE_URL
    parsed = urlparse(url)
    if parsed.scheme == MEMORY_SCHEME:
        return memory_environment(url, environ)
    if parsed.scheme == "sqlite":
        raw_path = unquote(parsed.path)
        if not raw_path or raw_path == "/":
            raise DatabaseUrlError(f"DATABASE_URL {url!r} names no file")
        path = Path(raw_path[1:])  # sqlite:///relative or sqlite:////absolute
        if not path.is_absolute():
            path = (base_dir or Path.cwd()) / path
        path.parent.mkdir(parents=True, exist_ok=True)
        return sqlite_environment(
            str(path), lambda name: str(path.with_name(f"{path.stem}.{name}{path.suffix}")), environ
        )
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
            "POSTGRES_LOCK_TIMEOUT": environ.get("POSTGRES_LOCK_TIMEOUT", "10"),
            "APPLICATION_RECORDER_TOPIC": get_topic(RecordsPostgresRecorder),
            **postgres_pool_settings(environ),
        }
        schema = parse_qs(parsed.query).get("schema", [""])[0]
        if schema:
            env["POSTGRES_SCHEMA"] = schema
        return env
    raise DatabaseUrlError(f"DATABASE_URL must start sqlite:///, postgresql:// or memory://, not {url!r}")
