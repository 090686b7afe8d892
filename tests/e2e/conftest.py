"""Starts the real service under gunicorn on loopback, with its own SQLite file."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from service.audit.checkpoints import generate_key_pem

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Service:
    base_url: str
    env: dict[str, str]
    log: Path | None = None
    workers: list[int] = field(default_factory=list)
    master: int = 0

    def log_text(self) -> str:
        return self.log.read_text()[-5000:] if self.log else ""

    def log_size(self, headers: dict[str, str]) -> int:
        """How many events the global feed holds, counted page by page."""
        count, after = 0, 0
        while True:
            page = requests.get(
                f"{self.base_url}/api/v1/events", params={"after": after, "limit": 1000}, headers=headers, timeout=30
            ).json()
            count += len(page["items"])
            if not page["items"]:
                return count
            after = page["next_after"]

    def create_token(self, *arguments: str) -> str:
        completed = subprocess.run(
            [str(BIN / "flask"), "--app", "wsgi", "tokens", "create", *arguments],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return completed.stdout.strip().splitlines()[-1]


def worker_pids(master: int) -> list[int]:
    """gunicorn's worker processes: the children of its master, from /proc."""
    deadline = time.monotonic() + 10
    pids: list[int] = []
    while time.monotonic() < deadline:
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master:
                pids.append(int(stat.parent.name))
        if len(pids) >= 3:
            return pids
        time.sleep(0.1)
    return pids


@contextmanager
def running_gunicorn(
    tmp_path: Path, database_url: str, workers: int = 3, settings: Mapping[str, str] | None = None
) -> Iterator[Service]:
    """gunicorn with ``workers`` workers on loopback, serving the store at ``database_url``, with
    an audit signing key of its own (and ``settings``, environment variables, if given)."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "AUDIT_SIGNING_KEY": generate_key_pem().decode(),
        "BIND": f"127.0.0.1:{port}",  # read by gunicorn.conf.py, as are the workers
        "WEB_CONCURRENCY": str(workers),
        **(settings or {}),
    }
    log = (tmp_path / "gunicorn.log").open("w")
    process = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "--config",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    service = Service(base_url, env, log=tmp_path / "gunicorn.log")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{base_url}/healthz", timeout=5).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass  # not listening yet, or listening while the workers still boot
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"gunicorn did not start:\n{(tmp_path / 'gunicorn.log').read_text()}")
            time.sleep(0.2)
        service.workers = worker_pids(process.pid)
        service.master = process.pid
        yield service
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture
def gunicorn_service(tmp_path: Path) -> Iterator[Service]:
    """Three workers on one SQLite file."""
    with running_gunicorn(tmp_path, f"sqlite:///{tmp_path / 'records.sqlite3'}") as service:
        yield service


@pytest.fixture
def gunicorn_postgres_service(tmp_path: Path, postgres_url: str) -> Iterator[Service]:
    """Three workers on one PostgreSQL schema (skipped, with the reason, when no server answers)."""
    with running_gunicorn(tmp_path, postgres_url) as service:
        yield service
