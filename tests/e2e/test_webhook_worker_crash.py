"""The Procfile's worker (``flask projections run``) delivers webhooks, and a worker killed at any
moment (SIGKILL, no clean-up) loses nothing and reorders nothing: restarted, it sends again only
the event that was in flight, with the same ``webhook-id``, and goes on in log order. On SQLite and
PostgreSQL, against a real receiver on loopback that verifies every signature."""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import BIN, ROOT
from tests.integration import webhook_receiver
from tests.integration.http_support import WHEN, Http, http_for
from tests.integration.webhook_receiver import Delivery, Receiver

pytestmark = pytest.mark.e2e

BASE = "/api/v1/webhooks/subscriptions"
SETTINGS = {
    "WEBHOOKS_ALLOW_PRIVATE_TARGETS": "1",
    "WEBHOOKS_RETRY_BASE_SECONDS": "0.05",
    "WEBHOOKS_RETRY_MAX_SECONDS": "0.2",
}

receiver = webhook_receiver.receiver  # the loopback receiver fixture


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'records.sqlite3'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def http(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Http]:
    """The app in this process, on the store the worker follows: it records events and subscriptions."""
    for name, value in SETTINGS.items():
        monkeypatch.setenv(name, value)
    yield from http_for(store_url)


class Worker:
    """``flask --app wsgi projections run``, the Procfile's worker line, as a process of its own."""

    def __init__(self, store_url: str, log: Path) -> None:
        self.env = {**os.environ, **SETTINGS, "DATABASE_URL": store_url}
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("a") as out:
            self.process = subprocess.Popen(
                [str(BIN / "flask"), "--app", "wsgi", "projections", "run", "--poll-interval", "0.05"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)

    def text(self) -> str:
        return self.log.read_text()[-6000:]


def subscribe(http: Http, receiver: Receiver, name: str) -> dict[str, Any]:
    response = http.post(BASE, {"url": receiver.url(name)})
    assert response.status_code == 201, response.get_json()
    receiver.secret_for(name, response.get_json()["secret"])
    return response.get_json()


def record_events(http: Http, count: int) -> list[int]:
    """``count`` events (a collaboration and its reviews); their positions."""
    before = http.log_size()
    collaboration = http.establish()
    for number in range(count - 1):
        response = http.post(
            f"/api/v1/collaborations/{collaboration['id']}/reviews", {**WHEN, "outcome": f"Review {number}"}
        )
        assert response.status_code == 201, response.get_json()
    items = http.get(f"/api/v1/events?after={before}&limit=1000").get_json()["items"]
    assert len(items) == count
    return [item["position"] for item in items]


def subscription(http: Http, subscription_id: str) -> dict[str, Any]:
    return http.get(f"{BASE}/{subscription_id}").get_json()


def collapsed(deliveries: list[Delivery]) -> list[int]:
    """The positions received, each run of repeats of one event counted once."""
    positions: list[int] = []
    for delivery in deliveries:
        if not positions or positions[-1] != delivery.position:
            positions.append(delivery.position)
    return positions


def test_a_worker_killed_mid_delivery_sends_again_only_the_event_in_flight(
    http: Http, receiver: Receiver, store_url: str, tmp_path: Path
) -> None:
    made = subscribe(http, receiver, "a")
    positions = record_events(http, 6)
    in_flight = positions[2]
    arrived, release = threading.Event(), threading.Event()

    def decide(path: str, delivery: Delivery) -> int:
        if delivery.position == in_flight and not arrived.is_set():
            arrived.set()
            release.wait(60)  # held open until the worker that sent it is dead
        return 204

    receiver.decide = decide
    worker = Worker(store_url, tmp_path / "worker.log")
    worker.start()
    try:
        assert arrived.wait(60), worker.text()
        worker.kill()
        release.set()
        assert subscription(http, made["id"])["position"] == positions[1]  # the third was never recorded
        worker.start()
        assert receiver.wait_for(lambda: len(receiver.received("a")) == len(positions) + 1, timeout=60), worker.text()
        time.sleep(0.3)
        document = subscription(http, made["id"])
    finally:
        exit_code = worker.terminate()
    assert exit_code == 0, worker.text()
    got = receiver.received("a")
    assert [d.position for d in got] == positions[:3] + positions[2:]
    assert all(d.verified for d in got)
    assert got[2].webhook_id == got[3].webhook_id
    assert len({d.webhook_id for d in got}) == len(positions)
    assert (document["position"], document["delivered"], document["status"]) == (positions[-1], 6, "active")
    log = http.get(f"{BASE}/{made['id']}/deliveries").get_json()["items"]
    assert sorted(row["position"] for row in log) == positions  # each recorded once: the killed attempt never was
    store = http.app.extensions["webhooks"].store
    assert store.get(made["id"]).lease_owner is None  # the worker stopped by SIGTERM let its lease go


def test_a_worker_killed_again_and_again_loses_and_reorders_nothing(
    http: Http, receiver: Receiver, store_url: str, tmp_path: Path
) -> None:
    first = subscribe(http, receiver, "first")
    second = subscribe(http, receiver, "second")
    positions = record_events(http, 40)

    def decide(path: str, delivery: Delivery) -> int:
        time.sleep(0.03)  # long enough to be caught in flight now and then
        return 503 if random.random() < 0.1 else 204

    receiver.decide = decide
    worker = Worker(store_url, tmp_path / "worker.log")
    kills = 0
    try:
        for _ in range(4):
            worker.start()
            got_before = len(receiver.received("first", succeeded_only=False))
            assert receiver.wait_for(
                lambda n=got_before: len(receiver.received("first", succeeded_only=False)) > n + 2, timeout=60
            ), worker.text()
            time.sleep(random.uniform(0, 0.2))
            worker.kill()
            kills += 1
        worker.start()
        for name in ("first", "second"):
            assert receiver.wait_for(lambda n=name: collapsed(receiver.received(n)) == positions, timeout=90), (
                name,
                collapsed(receiver.received(name)),
                worker.text(),
            )
    finally:
        assert worker.terminate() == 0, worker.text()
    for name, made in (("first", first), ("second", second)):
        got = receiver.received(name)
        assert collapsed(got) == positions  # every event, in log order
        assert all(d.verified for d in receiver.received(name, succeeded_only=False))
        repeats = [d for previous, d in itertools.pairwise(got) if d.position == previous.position]
        assert len(repeats) <= kills, repeats  # at most the event in flight, once per kill
        ids = {d.position: d.webhook_id for d in got}
        assert all(d.webhook_id == ids[d.position] for d in got)
        assert subscription(http, made["id"])["position"] == positions[-1]
