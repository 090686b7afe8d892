"""What the benchmarks share: a scratch database per run, and medians."""

from __future__ import annotations

import statistics
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse


@contextmanager
def scratch_database(base_url: str | None, directory: str | None = None) -> Iterator[str]:
    """A DATABASE_URL for an empty store: a new SQLite file in a temporary directory, or, given a
    PostgreSQL URL, a new schema in that database, dropped afterwards."""
    if base_url is None or urlparse(base_url).scheme == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bench-", dir=directory) as scratch:
            yield f"sqlite:///{Path(scratch) / 'records.sqlite3'}"
        return
    import psycopg

    base = base_url.split("?")[0]
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{base}?schema={schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def median(values: list[float]) -> float:
    return statistics.median(values)
