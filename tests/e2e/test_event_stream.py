"""The live event stream under gunicorn's threaded workers: several clients follow it while
writers write, each reconnecting with Last-Event-ID whenever a stream ends, and every client
sees every event exactly once, in log order; ordinary requests are answered meanwhile. And the
consumer example (examples/follow_events.py) follows it, is killed, and resumes with nothing
missed, kept twice or unverified."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from examples.follow_events import messages
from tests.e2e.conftest import ROOT, Service, running_gunicorn

pytestmark = pytest.mark.e2e

STREAM_SETTINGS = {
    "EVENT_STREAM_MAX_SECONDS": "1.5",  # streams end often: every client reconnects several times
    "EVENT_STREAM_HEARTBEAT_SECONDS": "0.5",
    "EVENT_STREAM_POLL_SECONDS": "0.05",
}
FOLLOWERS = 5
WRITERS = 3
WRITES_PER_WRITER = 12


@pytest.fixture(params=["sqlite", "postgres"])
def streaming_service(request, tmp_path: Path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'records.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_url")
    with running_gunicorn(tmp_path, url, workers=3, settings=STREAM_SETTINGS) as service:
        yield service


def establish(service: Service, headers: dict[str, str], name: str) -> str:
    response = requests.post(
        f"{service.base_url}/api/v1/collaborations",
        json={
            "name": name,
            "purpose": "Shared services",
            "parties": ["west-mercia", "warwickshire"],
            "lead_force": "west-mercia",
            "effective_on": "2012-03-01",
            "reason": "signed by both forces",
        },
        headers=headers,
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def follow(service: Service, headers: dict[str, str], until: int, seen: list[int], failures: list[str]) -> None:
    """Follows the stream, reconnecting from the last id, until the event at ``until`` is seen."""
    last = 0
    deadline = time.monotonic() + 90
    while last < until and time.monotonic() < deadline:
        try:
            with requests.get(
                f"{service.base_url}/api/v1/events/stream",
                headers={**headers, "Last-Event-ID": str(last)},
                stream=True,
                timeout=30,
            ) as response:
                if response.status_code != 200:
                    failures.append(f"stream answered {response.status_code}: {response.text[:200]}")
                    time.sleep(0.5)
                    continue
                for event_id, data in messages(response.iter_lines(delimiter=b"\n")):
                    if data is not None:
                        seen.append(json.loads(data)["position"])
                    if event_id is not None:
                        last = int(event_id)
                    if last >= until:
                        return
        except requests.RequestException as error:
            failures.append(f"stream failed: {error}")
    if last < until:
        failures.append(f"reached {last}, not {until}")


def test_concurrent_streams_see_every_event_once_in_order_across_reconnects(streaming_service: Service) -> None:
    service = streaming_service
    token = service.create_token("--role", "admin", "--name", "e2e")
    headers = {"Authorization": f"Bearer {token}"}
    collaborations = [establish(service, headers, f"Alliance {n}") for n in range(WRITERS)]
    expected_total = WRITERS + WRITERS * WRITES_PER_WRITER
    seen: list[list[int]] = [[] for _ in range(FOLLOWERS)]
    failures: list[str] = []
    followers = [
        threading.Thread(target=follow, args=(service, headers, expected_total, seen[n], failures))
        for n in range(FOLLOWERS)
    ]
    for follower in followers:
        follower.start()

    def write(collaboration_id: str) -> list[int]:
        statuses = []
        for n in range(WRITES_PER_WRITER):
            response = requests.post(
                f"{service.base_url}/api/v1/collaborations/{collaboration_id}/reviews",
                json={"outcome": f"review {n}", "effective_on": "2013-03-01", "reason": "annual review"},
                headers=headers,
                timeout=30,
            )
            statuses.append(response.status_code)
            time.sleep(0.05)  # spread over several of the streams' lives
        return statuses

    with ThreadPoolExecutor(WRITERS) as pool:
        statuses = [status for result in pool.map(write, collaborations) for status in result]
    for follower in followers:
        follower.join(timeout=120)

    assert statuses == [201] * (WRITERS * WRITES_PER_WRITER)
    feed = requests.get(f"{service.base_url}/api/v1/events?limit=1000", headers=headers, timeout=30).json()["items"]
    positions = [item["position"] for item in feed]
    assert len(positions) == expected_total
    assert not failures, failures[:5]
    for followed in seen:
        assert followed == positions  # every event, once, in order
    assert "WORKER TIMEOUT" not in service.log_text()


def test_the_consumer_example_resumes_after_being_killed_with_nothing_missed_or_kept_twice(
    gunicorn_service: Service, tmp_path: Path
) -> None:
    service = gunicorn_service
    token = service.create_token("--role", "auditor", "--name", "consumer")
    admin = {"Authorization": f"Bearer {service.create_token('--role', 'admin', '--name', 'writer')}"}
    collaboration_id = establish(service, admin, "Alliance")
    out = tmp_path / "events.jsonl"
    command = [sys.executable, "examples/follow_events.py", "--url", service.base_url, "--token", token]
    command += ["--out", str(out)]

    def review(n: int) -> None:
        response = requests.post(
            f"{service.base_url}/api/v1/collaborations/{collaboration_id}/reviews",
            json={"outcome": f"review {n}", "effective_on": "2013-03-01", "reason": "annual review"},
            headers=admin,
            timeout=30,
        )
        assert response.status_code == 201, response.text

    consumer = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        for n in range(10):
            review(n)
        deadline = time.monotonic() + 30
        while (not out.exists() or len(out.read_text().splitlines()) < 5) and time.monotonic() < deadline:
            time.sleep(0.05)
        consumer.send_signal(signal.SIGKILL)
        consumer.wait(timeout=10)
    finally:
        if consumer.poll() is None:
            consumer.kill()
    kept_before = len(out.read_text().splitlines())
    assert kept_before >= 5
    for n in range(10, 15):
        review(n)

    resumed = subprocess.run([*command, "--idle-exit", "3"], cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert resumed.returncode == 0, resumed.stderr + resumed.stdout
    feed = requests.get(f"{service.base_url}/api/v1/events?limit=1000", headers=admin, timeout=30).json()["items"]
    kept = [json.loads(line) for line in out.read_text().splitlines()]
    assert [event["position"] for event in kept] == [item["position"] for item in feed]  # none missed, none twice
    assert [event["hash"] for event in kept] == [item["hash"] for item in feed]
    assert f"after position {kept[kept_before - 1]['position']}" in resumed.stderr
