"""Shared fixtures: a database per test, on SQLite (a file, or in memory) and, where reachable,
on PostgreSQL.

PostgreSQL tests use the server at 127.0.0.1:5432 (database ``test``, trust auth; override
with TEST_POSTGRES_URL). Each test gets its own schema, dropped afterwards. When no server
answers, those tests are skipped with the reason, never faked.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def pytest_configure(config: pytest.Config) -> None:
    """Every event a test stores is checked against the published event catalogue
    (tests/event_conformance.py)."""
    from tests.event_conformance import EventConformance

    config.pluginmanager.register(EventConformance(), "event-conformance")  # configured on registering


def _postgres_unavailable_reason() -> str | None:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return "psycopg is not installed"
    try:
        with psycopg.connect(POSTGRES_URL.split("?")[0], connect_timeout=3):
            return None
    except psycopg.Error as error:
        return f"PostgreSQL at {POSTGRES_URL} is unreachable: {str(error).strip().splitlines()[0]}"


_POSTGRES_REASON = _postgres_unavailable_reason()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'records.sqlite3'}"


@pytest.fixture
def memory_url() -> str:
    """An in-memory store (service/persistence/memory.py): the SQLite backend without a disk. Each
    app built from it has a store of its own, gone when the app is closed; a test that needs a
    file (a backup, a second process, a second app on the same store) takes ``sqlite_url``."""
    return "memory://"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    if _POSTGRES_REASON:
        pytest.skip(_POSTGRES_REASON)
    import psycopg

    schema = f"test_{uuid.uuid4().hex[:12]}"
    base = POSTGRES_URL.split("?")[0]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{base}?schema={schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """The same test on both backends."""
    return request.getfixturevalue(f"{request.param}_url")
