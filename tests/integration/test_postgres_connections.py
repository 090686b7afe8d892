"""PostgreSQL connections: few, shared, never stale, and waited for (issue 13, defects 3, 4, 10).

Each process has one pool (the application's), shared by its projections, and uses one
connection per thread; a connection whose backend has gone is replaced before a request can
use it; a write whose commit went unanswered is settled by reading, never run again blindly;
start-up waits for a database that cannot be reached yet."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import OperationalError

from service.app import create_app
from service.persistence import APPLICATION_NAME, RecordsPostgresRecorder
from tests.integration.http_support import WHEN, Http, assert_problem, http_for
from tests.integration.test_projections_cli import write

pytestmark = pytest.mark.postgres
BASE = "/api/v1/collaborations"


@pytest.fixture
def pg(postgres_url: str) -> Iterator[Http]:
    yield from http_for(postgres_url)


def pool_stats(http: Http) -> dict[str, int]:
    return http.app.extensions["records"].factory.datastore.pool.get_stats()


def this_process_backends(base_url: str) -> list[int]:
    with psycopg.connect(base_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (f"{APPLICATION_NAME} {os.getpid()}",)
        ).fetchall()
    return [pid for (pid,) in rows]


def terminate(base_url: str, pids: list[int]) -> None:
    with psycopg.connect(base_url, autocommit=True) as conn:
        for pid in pids:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            alive = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)).fetchone()
            if alive == (0,):
                return
            time.sleep(0.05)
    raise AssertionError(f"backends {pids} did not end")


def busy_request_mix(http: Http) -> list[int]:
    """Writes (each catching the projections up: read-your-writes) and reads of every projection."""
    collaboration = http.establish()
    cid = collaboration["id"]
    function_id = http.add_function(cid)
    statuses = [
        http.post(f"{BASE}/{cid}/reviews", {"outcome": "ok", **WHEN}).status_code,
        http.post(
            f"{BASE}/{cid}/functions/{function_id}/budgets",
            {"financial_year": "2019/20", "annual_budget": "100.00", **WHEN},
        ).status_code,
    ]
    for path in (
        f"{BASE}/{cid}",
        BASE,
        "/api/v1/decisions",
        f"{BASE}/{cid}/history",
        f"{BASE}/{cid}/benefits",
        "/api/v1/events",
    ):
        statuses.append(http.get(path).status_code)
    return statuses


def test_a_web_process_serves_everything_on_one_connection(pg: Http) -> None:
    statuses = busy_request_mix(pg)

    assert all(status < 300 for status in statuses), statuses
    stats = pool_stats(pg)
    # The application, its snapshot store and all four projections share one pool, and a request
    # nests the projections' batches and reads on its thread's one connection.
    assert stats["connections_num"] == 1
    assert stats.get("pool_max", 0) <= 3
    for name in ("register", "decision_log", "exit_cost_history", "benefits_realisation"):
        assert pg.app.extensions[name].view.datastore is pg.app.extensions["records"].factory.datastore


def test_the_service_starts_and_serves_with_a_pool_of_one(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: the schema lock held one pooled connection while creating the tables needed another.
    monkeypatch.setenv("POSTGRES_POOL_SIZE", "1")
    monkeypatch.setenv("POSTGRES_MAX_OVERFLOW", "0")
    monkeypatch.delenv("POSTGRES_MAX_CONNECTIONS", raising=False)
    for http in http_for(postgres_url):
        assert http.app.extensions["records"].factory.datastore.pool.max_size == 1
        assert all(status < 300 for status in busy_request_mix(http))


def test_one_setting_caps_a_process(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTGRES_MAX_CONNECTIONS", "2")
    for http in http_for(postgres_url):
        pool = http.app.extensions["records"].factory.datastore.pool
        assert (pool.min_size, pool.max_size, pool.timeout) == (1, 2, 5)


def test_a_pool_larger_than_the_cap_is_refused_at_once(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTGRES_MAX_CONNECTIONS", "2")
    monkeypatch.setenv("POSTGRES_POOL_SIZE", "3")
    with pytest.raises(ValueError, match=r"POSTGRES_POOL_SIZE \(3\) is more than POSTGRES_MAX_CONNECTIONS \(2\)"):
        create_app({"DATABASE_URL": postgres_url, "TESTING": True})


def test_terminated_backends_at_idle_fail_no_request(pg: Http, postgres_url: str) -> None:
    base = postgres_url.split("?")[0]
    busy_request_mix(pg)
    for _ in range(3):  # as a restart or failover does, three times over
        backends = this_process_backends(base)
        assert backends
        terminate(base, backends)
        statuses = busy_request_mix(pg)
        assert all(status < 300 for status in statuses), statuses


def test_terminated_backends_under_load_fail_no_request(pg: Http, postgres_url: str) -> None:
    base = postgres_url.split("?")[0]
    cid = pg.establish()["id"]
    stop = threading.Event()
    terminated = 0

    def terminator() -> None:
        nonlocal terminated
        while not stop.wait(0.15):
            backends = this_process_backends(base)
            if backends:
                with psycopg.connect(base, autocommit=True) as conn:
                    for pid in backends:
                        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
                terminated += len(backends)

    thread = threading.Thread(target=terminator)
    thread.start()
    statuses: list[int] = []
    try:
        for index in range(40):
            statuses.append(pg.post(f"{BASE}/{cid}/reviews", {"outcome": f"r{index}", **WHEN}).status_code)
            statuses.append(pg.get(f"{BASE}/{cid}").status_code)
    finally:
        stop.set()
        thread.join()

    assert terminated > 0
    # A connection may die between its check and its statement: that request may be refused with
    # 503 and Retry-After (a safe retry), never 500, and never a write stored twice.
    assert set(statuses) <= {200, 201, 503}, statuses
    assert statuses.count(503) <= 4, statuses
    written = sum(1 for status in statuses[0::2] if status == 201)
    assert pg.version(cid) == 1 + written


def test_a_write_whose_commit_answer_was_lost_is_settled_by_reading(pg: Http, monkeypatch: pytest.MonkeyPatch) -> None:
    cid = pg.establish()["id"]
    original = RecordsPostgresRecorder._insert_once
    calls = 0

    def commit_then_lose_the_answer(self: Any, stored_events: Any, outcome: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        original(self, stored_events, outcome, **kwargs)  # committed
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(RecordsPostgresRecorder, "_insert_once", commit_then_lose_the_answer)
    answer = pg.post(f"{BASE}/{cid}/reviews", {"outcome": "ok", **WHEN})
    monkeypatch.undo()

    assert answer.status_code == 201, answer.get_json()
    assert calls == 1  # never run again
    assert [e["version"] for e in pg.history(cid)] == [1, 2]


def test_a_write_lost_before_its_commit_is_tried_again_once(pg: Http, monkeypatch: pytest.MonkeyPatch) -> None:
    cid = pg.establish()["id"]
    original = RecordsPostgresRecorder._insert_once
    calls = 0

    def lose_the_connection_first(self: Any, stored_events: Any, outcome: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            outcome.commit_sent = True  # the answer to the commit is lost; nothing was recorded
            outcome.backend_pid = 2**30  # a backend long gone
            raise OperationalError("server closed the connection unexpectedly")
        return original(self, stored_events, outcome, **kwargs)

    monkeypatch.setattr(RecordsPostgresRecorder, "_insert_once", lose_the_connection_first)
    answer = pg.post(f"{BASE}/{cid}/reviews", {"outcome": "ok", **WHEN}, **{"Idempotency-Key": "lost-1"})
    monkeypatch.undo()

    assert answer.status_code == 201
    assert calls == 2
    assert [e["version"] for e in pg.history(cid)] == [1, 2]
    replay = pg.post(f"{BASE}/{cid}/reviews", {"outcome": "ok", **WHEN}, **{"Idempotency-Key": "lost-1"})
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert [e["version"] for e in pg.history(cid)] == [1, 2]


class RefusingThenForwarding:
    """A TCP proxy on loopback that closes every connection until ``opens_at``, then forwards
    to PostgreSQL: a database that is restarting, then back."""

    def __init__(self, target_port: int, closed_for: float):
        self.opens_at = time.monotonic() + closed_for
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.refused = 0
        self.forwarded: list[socket.socket] = []
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:  # closed
                return
            if time.monotonic() < self.opens_at:
                self.refused += 1
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.forwarded += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def refuse_from_now(self) -> None:
        """The database goes away: open connections are cut, new ones refused."""
        self.opens_at = float("inf")
        for sock in self.forwarded:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._stop.set()
        self.listener.close()


def test_start_up_waits_for_a_database_that_is_not_there_yet(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = RefusingThenForwarding(5432, closed_for=3.0)
    monkeypatch.setenv("POSTGRES_CONNECT_TIMEOUT", "1")
    monkeypatch.setenv("DATABASE_STARTUP_WAIT", "30")
    try:
        url = postgres_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}").replace(
            "localhost:5432", f"127.0.0.1:{proxy.port}"
        )
        assert f":{proxy.port}/" in url
        for http in http_for(url):
            assert http.establish()["version"] == 1
        assert proxy.refused > 0
    finally:
        proxy.close()


def test_start_up_gives_up_after_its_patience(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = RefusingThenForwarding(5432, closed_for=3600)
    monkeypatch.setenv("POSTGRES_CONNECT_TIMEOUT", "1")
    try:
        url = postgres_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        started = time.monotonic()
        with pytest.raises(OperationalError):
            create_app({"DATABASE_URL": url, "TESTING": True, "DATABASE_STARTUP_WAIT": "2"})
        assert time.monotonic() - started < 20
        assert proxy.refused > 1  # it tried again
    finally:
        proxy.close()


def test_a_lost_commit_through_a_connection_pooler_says_it_may_have_been_recorded(
    pg: Http, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind a pooler the connection's process id is not the server's: the old backend cannot be
    ended, so the store's answer cannot be trusted, and the write is neither settled nor re-run."""
    cid = pg.establish()["id"]
    calls = 0

    def commit_unanswered_through_a_pooler(self: Any, stored_events: Any, outcome: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        outcome.commit_sent, outcome.backend_pid = True, None
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(RecordsPostgresRecorder, "_insert_once", commit_unanswered_through_a_pooler)
    answer = pg.post(f"{BASE}/{cid}/reviews", {"outcome": "ok", **WHEN})
    monkeypatch.undo()

    body = assert_problem(answer, 503)
    assert answer.headers["Retry-After"] == "1" and calls == 1
    assert "may or may not have recorded" in body["detail"] and "Idempotency-Key" in body["detail"]


def test_threads_of_one_process_share_its_pool_up_to_the_cap(pg: Http) -> None:
    """Threaded servers and the follower: each thread has its own connection, at most the cap are
    open, and a thread waits its turn rather than failing."""
    cid = pg.establish()["id"]
    statuses: list[int] = []

    def reader() -> None:
        client = pg.app.test_client()
        for _ in range(10):
            response = client.get(f"{BASE}/{cid}", headers=pg.headers())
            statuses.append(response.status_code)

    threads = [threading.Thread(target=reader) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200] * 60
    stats = pool_stats(pg)
    assert stats["pool_size"] <= 3 and stats["connections_num"] <= 3


@pytest.fixture
def pg_capped_at_two(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Http]:
    monkeypatch.setenv("POSTGRES_MAX_CONNECTIONS", "2")
    yield from http_for(postgres_url)


def test_a_follower_within_a_small_cap_rings_its_doorbell_and_keeps_every_projection_current(
    pg_capped_at_two: Http,
) -> None:
    """One connection listens for the whole process; the four projections take turns with the
    other, waiting for it rather than failing."""
    import signal

    http, app = pg_capped_at_two, pg_capped_at_two.app
    names = ("register", "decision_log", "exit_cost_history", "benefits_realisation")
    done = threading.Event()

    def write_then_interrupt() -> None:
        time.sleep(0.5)  # the follower is listening by now
        write(app.extensions["records"], 3)  # through the application: no request catches a projection up
        head = app.extensions["records"].log_size()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(app.extensions[n].position() < head for n in names):
            time.sleep(0.05)
        done.set()
        os.kill(os.getpid(), signal.SIGINT)

    writer = threading.Thread(target=write_then_interrupt)
    writer.start()
    # A poll interval longer than the test: only the doorbell can wake the followers in time.
    result = app.test_cli_runner().invoke(args=["projections", "run", "--poll-interval", "30"])
    writer.join()

    assert done.is_set() and result.exit_code == 0, result.output
    head = app.extensions["records"].log_size()
    assert [app.extensions[n].position() for n in names] == [head] * 4
    assert pool_stats(http)["pool_size"] <= 2


def test_once_the_database_is_gone_requests_fail_fast_with_503(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first request waits the pool's wait (POSTGRES_CONNECT_TIMEOUT) and is answered 503;
    those after it are answered at once for as long as one wait, not each after ten more waits
    (the library's retries), which would pass a worker's timeout."""
    proxy = RefusingThenForwarding(5432, closed_for=0)
    monkeypatch.setenv("POSTGRES_CONNECT_TIMEOUT", "2")
    try:
        url = postgres_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        for http in http_for(url):
            cid = http.establish()["id"]
            proxy.refuse_from_now()
            answers = [http.get(f"{BASE}/{cid}"), http.get(f"{BASE}/{cid}")]
            waits_that_ran_out = pool_stats(http).get("requests_errors", 0)
            for answer in answers:
                assert_problem(answer, 503)
            assert waits_that_ran_out == 1
    finally:
        proxy.close()


def test_a_wrong_database_name_is_said_at_once_not_waited_out(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = postgres_url.split("?")[0]
    monkeypatch.setenv("POSTGRES_CONNECT_TIMEOUT", "1")
    with pytest.raises(OperationalError, match="does not exist"):
        create_app({"DATABASE_URL": base.rsplit("/", 1)[0] + "/no_such_database", "DATABASE_STARTUP_WAIT": "600"})
