"""The project's own fault test (issue 13): writers run against gunicorn with three workers and a
projection follower while a worker and the follower are killed with SIGKILL (and, on PostgreSQL,
every backend of the campaign's processes is terminated, and a second host, its own gunicorn and follower on
the same database, is killed whole mid-load). Afterwards every acknowledged write is stored
exactly once, no request was answered 500, the projections equal a rebuild from the log, and the
hash chain and Merkle tree verify. On PostgreSQL no process holds more connections than its cap.

Bounded: about LOAD_SECONDS of writes per run, on loopback only. The figures are printed (run
with ``-s`` to see them): writes acknowledged, lost, duplicated, 5xx answers, connections."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from service.persistence import APPLICATION_NAME, DEFAULT_MAX_CONNECTIONS
from tests.e2e.conftest import BIN, ROOT, Service, running_gunicorn, worker_pids

pytestmark = pytest.mark.e2e

LOAD_SECONDS = 14.0
WRITERS = 6
COLLABORATIONS = 3
ATTEMPTS = 40  # tries of one write (same Idempotency-Key) before the writer gives up on it
PARTIES = ["west-mercia", "warwickshire"]


@dataclass
class Host:
    name: str
    service: Service
    follower_log: Path
    follower: subprocess.Popen[bytes] | None = None
    lost: bool = False  # killed whole (kill_host)

    def start_follower(self) -> None:
        self.follower = subprocess.Popen(
            [str(BIN / "flask"), "--app", "wsgi", "projections", "run", "--poll-interval", "0.1"],
            cwd=ROOT,
            env=self.service.env,
            stdout=self.follower_log.open("a"),
            stderr=subprocess.STDOUT,
        )

    def stop_follower(self) -> None:
        if self.follower is not None and self.follower.poll() is None:
            self.follower.terminate()
            try:
                self.follower.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.follower.kill()
                self.follower.wait(timeout=10)


@dataclass
class Tally:
    acknowledged: list[str] = field(default_factory=list)
    given_up: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # a 4xx other than "try again": a defect
    statuses: Counter[int] = field(default_factory=Counter)
    connection_errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def host(tmp_path: Path, name: str, database_url: str) -> Iterator[Host]:
    directory = tmp_path / name
    directory.mkdir()
    with running_gunicorn(directory, database_url, workers=3) as service:
        running = Host(name, service, directory / "follower.log")
        running.start_follower()
        try:
            yield running
        finally:
            running.stop_follower()


def kill_host(running: Host) -> None:
    """A machine lost whole: its gunicorn master, its workers and its follower, SIGKILLed."""
    running.lost = True
    for pid in [running.service.master, *worker_pids(running.service.master)]:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if running.follower is not None:
        running.follower.kill()
        running.follower.wait(timeout=10)


def establish(base: str, headers: dict[str, str], number: int) -> str:
    created = requests.post(
        f"{base}/api/v1/collaborations",
        json={
            "name": f"Fault campaign {number}",
            "purpose": "Shared services",
            "parties": PARTIES,
            "lead_force": PARTIES[0],
            "effective_on": "2012-03-01",
            "reason": "signed by both forces",
        },
        headers=headers,
        timeout=30,
    )
    assert created.status_code == 201, created.text
    return created.json()["id"]


def writer(
    number: int,
    hosts: list[Host],
    collaborations: list[str],
    headers: dict[str, str],
    stop: threading.Event,
    tally: Tally,
) -> None:
    """Writes reviews until stopped; each with its own Idempotency-Key, repeated (to the next host,
    as a load balancer would) after a refused connection or a 5xx until it is acknowledged."""
    session = requests.Session()
    turn = number
    write = 0
    while not stop.is_set():
        outcome = f"writer {number} write {write}"
        collaboration = collaborations[(number + write) % len(collaborations)]
        for _ in range(ATTEMPTS):
            turn += 1
            base = hosts[turn % len(hosts)].service.base_url
            try:
                response = session.post(
                    f"{base}/api/v1/collaborations/{collaboration}/reviews",
                    json={"outcome": outcome, "effective_on": "2013-03-01", "reason": "annual review"},
                    headers={**headers, "Idempotency-Key": f"fault-{number}-{write}"},
                    timeout=30,
                )
            except requests.RequestException:
                with tally.lock:
                    tally.connection_errors += 1
                session = requests.Session()
                time.sleep(0.1)
                continue
            with tally.lock:
                tally.statuses[response.status_code] += 1
            if response.status_code == 201:
                with tally.lock:
                    tally.acknowledged.append(outcome)
                break
            if response.status_code < 500 and not concurrent_update(response):
                with tally.lock:  # failed in the test's own thread, where pytest sees it
                    tally.refused.append(f"{outcome}: {response.status_code} {response.text}")
                break
            time.sleep(0.1)  # a 5xx, or a 409 "nothing was recorded, try again": the same write again
        else:
            with tally.lock:
                tally.given_up.append(outcome)
        write += 1


def concurrent_update(response: requests.Response) -> bool:
    """A 409 saying another write kept winning the race and nothing was recorded: a client is
    told to try again, as after a 5xx."""
    if response.status_code != 409:
        return False
    try:
        return str(response.json().get("type", "")).endswith("/concurrent-update")
    except ValueError:
        return False


def campaign_connection_names(hosts: list[Host]) -> list[str]:
    """The application_name of the connections of the campaign's own processes: each host's
    gunicorn master and its workers (the master's children, read from /proc at once) and its
    follower. Any other process on the same server (a test running beside this one) is not the
    campaign's."""
    masters = {running.service.master for running in hosts if not running.lost}
    pids = set(masters)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent in masters:
            pids.add(int(stat.parent.name))
    pids.update(running.follower.pid for running in hosts if running.follower is not None)
    return [f"{APPLICATION_NAME} {pid}" for pid in sorted(pids)]


def service_connections(base_url: str, hosts: list[Host]) -> dict[str, int]:
    """How many connections each of the campaign's processes holds."""
    import psycopg

    with psycopg.connect(base_url, autocommit=True, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT application_name, count(*) FROM pg_stat_activity WHERE application_name = ANY(%s) GROUP BY 1",
            (campaign_connection_names(hosts),),
        ).fetchall()
    return dict(rows)


def terminate_service_backends(base_url: str, hosts: list[Host]) -> int:
    """Ends every backend of the campaign's own processes; the backends of any other process on
    the same server are left alone."""
    import psycopg

    with psycopg.connect(base_url, autocommit=True, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ANY(%s)",
            (campaign_connection_names(hosts),),
        ).fetchall()
    return len(rows)


def projection_answers(base: str, headers: dict[str, str], collaborations: list[str]) -> dict[str, Any]:
    """What the four projections answer: the register, the decision log (whole, as CSV), and each
    collaboration's exit-cost history and benefits dashboard."""
    answers: dict[str, Any] = {}

    def get(path: str, **params: Any) -> Any:
        response = requests.get(f"{base}{path}", params=params, headers=headers, timeout=60)
        assert response.status_code == 200, (path, response.status_code, response.text[:500])
        return response.text if response.headers["Content-Type"].startswith("text/csv") else response.json()

    answers["register"] = get("/api/v1/collaborations", page_size=100)
    answers["decisions"] = get("/api/v1/decisions", format="csv")
    for collaboration in collaborations:
        answers[f"history {collaboration}"] = get(
            f"/api/v1/collaborations/{collaboration}/exit-cost-history", force=PARTIES[0]
        )
        answers[f"benefits {collaboration}"] = get(f"/api/v1/collaborations/{collaboration}/benefits")
    return answers


def flask_command(env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def run_campaign(tmp_path: Path, database_url: str, *, postgres_base: str | None) -> None:
    backend = "postgresql" if postgres_base else "sqlite"
    with ExitStack() as stack:
        hosts = [stack.enter_context(host(tmp_path, "a", database_url))]
        if postgres_base:  # a second "host" on the same database, which will be lost whole
            hosts.append(stack.enter_context(host(tmp_path, "b", database_url)))
        primary = hosts[0]
        token = primary.service.create_token("--role", "admin", "--name", "fault campaign")
        headers = {"Authorization": f"Bearer {token}"}
        collaborations = [establish(primary.service.base_url, headers, n) for n in range(COLLABORATIONS)]

        tally = Tally()
        stop = threading.Event()
        faults: list[str] = []
        peak: Counter[str] = Counter()
        chooser = random.Random(13)

        def sample_connections() -> None:
            while not stop.wait(0.2):
                try:
                    for name, count in service_connections(postgres_base, hosts).items():  # type: ignore[arg-type]
                        peak[name] = max(peak[name], count)
                except Exception:  # the sampler must not fail the campaign
                    pass

        def inject_faults() -> None:
            schedule: list[tuple[float, str]] = [(2.0, "kill-worker"), (4.0, "kill-follower")]
            if postgres_base:
                schedule += [(5.5, "terminate-backends"), (7.0, "kill-host-b"), (9.0, "terminate-backends")]
            schedule += [(10.5, "kill-worker")]
            started = time.monotonic()
            for at, fault in schedule:
                if stop.wait(max(0.0, started + at - time.monotonic())):
                    return
                if fault == "kill-worker":
                    pid = chooser.choice(worker_pids(primary.service.master))
                    os.kill(pid, signal.SIGKILL)
                    faults.append(f"SIGKILL worker {pid}")
                elif fault == "kill-follower":
                    assert primary.follower is not None
                    primary.follower.kill()
                    primary.follower.wait(timeout=10)
                    faults.append("SIGKILL follower")
                    time.sleep(1.0)
                    primary.start_follower()
                elif fault == "terminate-backends":
                    ended = terminate_service_backends(postgres_base, hosts)  # type: ignore[arg-type]
                    faults.append(f"terminated {ended} backends")
                elif fault == "kill-host-b":
                    kill_host(hosts[1])
                    faults.append("SIGKILL host b (master, workers, follower)")

        threads = [
            threading.Thread(target=writer, args=(n, hosts, collaborations, headers, stop, tally))
            for n in range(WRITERS)
        ]
        helpers = [threading.Thread(target=inject_faults)]
        if postgres_base:
            helpers.append(threading.Thread(target=sample_connections))
        for thread in [*threads, *helpers]:
            thread.start()
        time.sleep(LOAD_SECONDS)
        stop.set()
        for thread in [*threads, *helpers]:
            thread.join(timeout=120)

        base = primary.service.base_url
        recorded: Counter[str] = Counter()
        for collaboration in collaborations:
            try:
                page = requests.get(  # the largest page: a campaign records far fewer events than that
                    f"{base}/api/v1/collaborations/{collaboration}/history?limit=5000", headers=headers, timeout=60
                )
            except requests.ConnectionError:  # host a itself went down: say why
                pytest.fail(f"host a stopped answering:\n{primary.service.log_text()}")
            assert page.status_code == 200, page.text
            events = page.json()
            assert events["next_after"] is None, "the history is longer than one page"
            events = events["items"]
            assert [event["version"] for event in events] == list(range(1, len(events) + 1))
            recorded.update(e["data"]["outcome"] for e in events if e["type"] == "Collaboration.ReviewHeld")

        lost = [outcome for outcome in tally.acknowledged if recorded[outcome] == 0]
        duplicated = [outcome for outcome, count in recorded.items() if count > 1]
        server_errors = {status: count for status, count in tally.statuses.items() if status >= 500}
        print(
            f"\nFAULT CAMPAIGN {backend}: faults {faults}; writes acknowledged {len(tally.acknowledged)},"
            f" lost {len(lost)}, duplicated {len(duplicated)}, given up {len(tally.given_up)};"
            f" 5xx answers {server_errors or 0}, refused connections {tally.connection_errors};"
            f" peak connections per process {dict(peak) or 'n/a'} (sum of the peaks {sum(peak.values()) or 'n/a'})"
        )
        logs = "\n".join(h.service.log_text() for h in hosts)
        assert faults, "no fault was injected"
        assert len(tally.acknowledged) > WRITERS * 10
        assert not lost, lost
        assert not duplicated, duplicated
        assert 500 not in tally.statuses, logs
        assert not tally.given_up, tally.given_up
        assert not tally.refused, tally.refused
        if postgres_base:
            assert peak, "no connection of the service was seen"
            assert max(peak.values()) <= DEFAULT_MAX_CONNECTIONS, peak

        # The projections equal a rebuild from the log.
        primary.stop_follower()
        followed = projection_answers(base, headers, collaborations)
        rebuilt = flask_command(primary.service.env, "projections", "rebuild")
        assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
        assert projection_answers(base, headers, collaborations) == followed

        # The chain and the tree verify.
        verified = flask_command(primary.service.env, "audit", "verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr


def test_fault_campaign_on_sqlite(tmp_path: Path) -> None:
    run_campaign(tmp_path, f"sqlite:///{tmp_path / 'records.sqlite3'}", postgres_base=None)


@pytest.mark.postgres
def test_fault_campaign_on_postgresql_with_two_hosts(tmp_path: Path, postgres_url: str) -> None:
    run_campaign(tmp_path, postgres_url, postgres_base=postgres_url.split("?")[0])
