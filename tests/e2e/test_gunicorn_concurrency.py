"""Three gunicorn workers on one SQLite file, several clients writing at once: every
acknowledged write is in the store exactly once, nothing is answered with a 500, and the hash
chain over the log verifies."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

pytestmark = pytest.mark.e2e

CLIENTS = 6
WRITES_PER_CLIENT = 15


def test_concurrent_writes_through_three_workers_are_each_stored_once(gunicorn_service):
    assert len(gunicorn_service.workers) == 3  # WEB_CONCURRENCY, through gunicorn.conf.py
    token = gunicorn_service.create_token("--role", "admin", "--name", "e2e")
    headers = {"Authorization": f"Bearer {token}"}
    base = gunicorn_service.base_url
    try:
        created = requests.post(
            f"{base}/api/v1/collaborations",
            json={
                "name": "Strategic Alliance",
                "purpose": "Shared services",
                "parties": ["west-mercia", "warwickshire"],
                "lead_force": "west-mercia",
                "effective_on": "2012-03-01",
                "reason": "signed by both forces",
            },
            headers=headers,
            timeout=30,
        )
    except requests.ConnectionError as error:
        pytest.fail(f"{error}\n{gunicorn_service.log_text()}")
    assert created.status_code == 201, created.text
    collaboration_id = created.json()["id"]

    def client(number: int) -> list[tuple[int, str]]:
        session = requests.Session()
        outcomes = []
        for write in range(WRITES_PER_CLIENT):
            outcome = f"client {number} write {write}"
            try:
                response = session.post(
                    f"{base}/api/v1/collaborations/{collaboration_id}/reviews",
                    json={"outcome": outcome, "effective_on": "2013-03-01", "reason": "annual review"},
                    headers={**headers, "Idempotency-Key": f"{number}-{write}"} if write % 2 else headers,
                    timeout=60,
                )
            except requests.ConnectionError as error:
                outcomes.append((f"connection error: {error}", outcome))
                continue
            outcomes.append((response.status_code, outcome))
        return outcomes

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        results = [item for batch in pool.map(client, range(CLIENTS)) for item in batch]

    statuses = Counter(status for status, _ in results)
    assert set(statuses) <= {201, 409}, (
        f"{statuses}\n{gunicorn_service.log_text()}"
    )  # a conflict may be answered 409, never a 500
    acknowledged = [outcome for status, outcome in results if status == 201]
    assert len(acknowledged) >= len(results) * 0.9, statuses

    history = requests.get(f"{base}/api/v1/collaborations/{collaboration_id}/history", headers=headers, timeout=30)
    assert history.status_code == 200
    events = history.json()
    events = events["items"] if isinstance(events, dict) else events
    recorded = Counter(event["data"]["outcome"] for event in events if event["type"] == "Collaboration.ReviewHeld")
    for outcome in acknowledged:
        assert recorded[outcome] == 1, outcome
    assert sum(recorded.values()) == len(acknowledged)
    assert [event["version"] for event in events] == list(range(1, len(events) + 1))

    register = requests.get(f"{base}/api/v1/collaborations", headers=headers, timeout=30).json()
    [entry] = register["items"]
    assert entry["version"] == len(events)

    # Three workers extended the hash chain in commit order: the whole log verifies.
    report = requests.get(f"{base}/api/v1/audit/verify", headers=headers, timeout=60).json()
    assert report["ok"] is True, report
    assert report["events_checked"] == len(events) == gunicorn_service.log_size(headers)
