"""Writes per second over HTTP under gunicorn, against raw eventsourcing saves (issue 15; target >= 0.4).

Starts the service under gunicorn (``gunicorn.conf.py``, ``--workers`` workers, default 3) on
loopback on a scratch store, creates one collaboration per client, then, in turn, at least
three times each:

- **HTTP**: ``--clients`` threads (default 8), each with its own keep-alive connection, each
  posting ``--requests`` reviews (default 150) to its own collaboration with the default
  (compact) answer; every answer must be 201;
- **raw (baseline)**: the same number of threads, each saving the same number of reviews on an
  aggregate it holds in memory through a plain eventsourcing ``Application`` on the library's
  own recorder, in the same database (one transaction per event, no reload, no chain, no side
  tables, no answer);
- **HTTP floor**: the same requests to ``bench.http_floor`` under gunicorn with the same
  settings and workers, on a store of its own of the same kind: a bare Flask route around the
  raw save (no authentication, validation, reload, chain or side tables). What gunicorn, Flask
  and a library save allow on this machine; the service's own cost is its gap to this.

Prints requests/s and saves/s per run and as medians, the service against raw saves (the
issue's ratio), the floor against raw saves and the service against the floor.

    .venv/bin/python -m bench.http_writes [--clients 8] [--requests 150] [--workers 3]
    .venv/bin/python -m bench.http_writes --database-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from time import perf_counter

from bench.common import median, scratch_database
from bench.writes import RawStore
from domain.collaboration import Collaboration
from domain.values import Provenance
from service.audit.checkpoints import generate_key_pem
from service.persistence import persistence_environment

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PARTIES = ["west-mercia", "warwickshire"]
REVIEW = json.dumps({"outcome": "continue", "effective_on": "2019-04-01", "reason": "annual review"})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(
    url: str, workers: int, log: Path, target: str = "wsgi:app"
) -> tuple[subprocess.Popen[bytes], int, dict[str, str]]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "AUDIT_SIGNING_KEY": generate_key_pem().decode(),
        "WEB_CONCURRENCY": str(workers),
    }
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "--config", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", target],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return process, port, env
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"gunicorn did not start:\n{log.read_text()[-3000:]}")


def admin_token(env: dict[str, str]) -> str:
    completed = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "tokens", "create", "--name", "bench", "--role", "admin"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return completed.stdout.strip().splitlines()[-1]


def over_http(port: int, token: str, collaboration_ids: list[str], requests: int) -> float:
    """Requests per second: one thread per collaboration, each posting ``requests`` reviews."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    failures: list[str] = []

    def client(collaboration_id: str) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for _ in range(requests):
            connection.request("POST", f"/api/v1/collaborations/{collaboration_id}/reviews", REVIEW, headers)
            response = connection.getresponse()
            answer = response.read()
            if response.status != 201:
                failures.append(f"{response.status} {answer[:300]!r}")
        connection.close()

    threads = [threading.Thread(target=client, args=(cid,)) for cid in collaboration_ids]
    started = perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} writes to port {port} failed: {failures[:5]}")
    return len(collaboration_ids) * requests / elapsed


def raw_saves(store: RawStore, clients: int, saves: int) -> float:
    provenance = Provenance(date(2019, 4, 1), "bench (admin)", "annual review")
    held = []
    for _ in range(clients):
        collaboration = Collaboration.establish(
            name="Raw", purpose="Shared services", parties=PARTIES, lead_force=PARTIES[0], provenance=provenance
        )
        store.save(collaboration)
        held.append(collaboration)

    def client(collaboration: Collaboration) -> None:
        for _ in range(saves):
            collaboration.hold_review(outcome="continue", provenance=provenance)
            store.save(collaboration)

    threads = [threading.Thread(target=client, args=(c,)) for c in held]
    started = perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return clients * saves / (perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=150, help="writes per client per run (default 150)")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL to use a scratch schema there")
    arguments = parser.parse_args()
    runs = max(3, arguments.runs)

    with (
        scratch_database(arguments.database_url) as url,
        scratch_database(arguments.database_url) as floor_url,
        tempfile.TemporaryDirectory() as scratch,
    ):
        env = persistence_environment(url)
        raw_env = {name: value for name, value in env.items() if name != "APPLICATION_RECORDER_TOPIC"}
        raw_env["POSTGRES_POOL_SIZE"] = str(arguments.clients)  # a connection per thread, as the workers have
        store = RawStore(env=raw_env)
        process, port, service_env = start_gunicorn(url, arguments.workers, Path(scratch) / "gunicorn.log")
        floor_env = persistence_environment(floor_url)
        RawStore(env={name: value for name, value in floor_env.items() if name != "APPLICATION_RECORDER_TOPIC"}).close()
        # (the floor's tables made here, not by its workers racing to make them at once)
        floor, floor_port, _ = start_gunicorn(
            floor_url, arguments.workers, Path(scratch) / "floor.log", target="bench.http_floor:app"
        )
        try:
            token = admin_token(service_env)
            collaboration_ids = establish(port, token, arguments.clients)
            backend = env["PERSISTENCE_MODULE"].rsplit(".", 1)[-1]
            print(
                f"http_writes: {backend}, gunicorn with {arguments.workers} workers, {arguments.clients} clients"
                f" x {arguments.requests} writes per run"
            )
            https, raws, floors = [], [], []
            for run in range(1, runs + 1):
                https.append(over_http(port, token, collaboration_ids, arguments.requests))
                raws.append(raw_saves(store, arguments.clients, arguments.requests))
                floors.append(over_http(floor_port, "", collaboration_ids, arguments.requests))
                print(
                    f"  run {run}: HTTP {https[-1]:6.0f} requests/s   raw {raws[-1]:6.0f} saves/s"
                    f"   floor {floors[-1]:6.0f} requests/s   ratio {https[-1] / raws[-1]:.2f}"
                )
            http_rate, raw_rate, floor_rate = median(https), median(raws), median(floors)
            ratio = http_rate / raw_rate
            print(
                f"median: HTTP {http_rate:.0f} requests/s, raw {raw_rate:.0f} saves/s, floor {floor_rate:.0f}"
                f" requests/s; HTTP / raw {ratio:.2f}, floor / raw {floor_rate / raw_rate:.2f},"
                f" HTTP / floor {http_rate / floor_rate:.2f}"
            )
            print(f"target: HTTP / raw >= 0.40 -> {'met' if ratio >= 0.4 else 'NOT met'}")
        finally:
            for server in (process, floor):
                server.terminate()
                server.wait(timeout=30)
            store.close()


def establish(port: int, token: str, count: int) -> list[str]:
    """The ids of ``count`` new collaborations, established over HTTP."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    ids = []
    for n in range(count):
        body = {
            "name": f"Alliance {n}",
            "purpose": "Shared services",
            "parties": PARTIES,
            "lead_force": PARTIES[0],
            "effective_on": "2015-04-01",
            "reason": "agreed by the joint board",
        }
        connection.request("POST", "/api/v1/collaborations", json.dumps(body), headers)
        response = connection.getresponse()
        ids.append(json.loads(response.read())["id"])
    connection.close()
    return ids


if __name__ == "__main__":
    main()
