"""The hash chain under concurrent writes from three gunicorn workers, on one SQLite file and on
one PostgreSQL schema: clients write to collaborations of their own (no conflicts, so commits
race for the store's write lock) and to one they share (conflicts, retries, 409s), while an
auditor verifies and checkpoints the log over and over. Every verification during the writes
sees a log that verifies; afterwards the whole log verifies, every event is chained exactly
once, and every checkpoint taken along the way still holds."""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from service.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from tests.e2e.conftest import Service

pytestmark = pytest.mark.e2e

CLIENTS = 6
WRITES_PER_CLIENT = 12
WHEN = {"effective_on": "2013-03-01", "reason": "annual review"}


def establish(base: str, headers: dict[str, str], name: str) -> str:
    response = requests.post(
        f"{base}/api/v1/collaborations",
        json={
            "name": name,
            "purpose": "Shared services",
            "parties": ["west-mercia", "warwickshire"],
            "lead_force": "west-mercia",
            **WHEN,
        },
        headers=headers,
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


@pytest.mark.parametrize(
    "backend", ["gunicorn_service", pytest.param("gunicorn_postgres_service", marks=pytest.mark.postgres)]
)
def test_the_chain_verifies_under_concurrent_writes_from_three_workers(request: pytest.FixtureRequest, backend: str):
    service: Service = request.getfixturevalue(backend)
    assert len(service.workers) == 3
    headers = {"Authorization": f"Bearer {service.create_token('--role', 'admin', '--name', 'e2e')}"}
    base = service.base_url
    shared = establish(base, headers, "Shared")
    own = [establish(base, headers, f"Own {number}") for number in range(CLIENTS)]

    def client(number: int) -> Counter:
        session, statuses = requests.Session(), Counter()
        for write in range(WRITES_PER_CLIENT):
            target = shared if write % 3 == 0 else own[number]
            try:
                response = session.post(
                    f"{base}/api/v1/collaborations/{target}/reviews",
                    json={"outcome": f"client {number} write {write}", **WHEN},
                    headers=headers,
                    timeout=60,
                )
                statuses[response.status_code] += 1
            except requests.ConnectionError as error:
                statuses[f"connection error: {error}"] += 1
        return statuses

    reports, checkpoints, writing = [], [], threading.Event()

    def auditor() -> None:
        session = requests.Session()
        while writing.is_set():
            reports.append(session.get(f"{base}/api/v1/audit/verify", headers=headers, timeout=60).json())
            made = session.post(f"{base}/api/v1/audit/checkpoints", json={}, headers=headers, timeout=60)
            checkpoints.append((made.status_code, made.json()))

    writing.set()
    watcher = threading.Thread(target=auditor)
    watcher.start()
    try:
        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            statuses = sum(pool.map(client, range(CLIENTS)), Counter())
    finally:
        writing.clear()
        watcher.join()

    assert set(statuses) <= {201, 409}, f"{statuses}\n{service.log_text()}"
    assert statuses[201] >= CLIENTS * WRITES_PER_CLIENT * 0.9
    assert reports and all(report["ok"] for report in reports), [r for r in reports if not r["ok"]]
    assert {status for status, _ in checkpoints} <= {200, 201}, checkpoints
    checkpoints = [checkpoint for _, checkpoint in checkpoints]

    report = requests.get(f"{base}/api/v1/audit/verify", headers=headers, timeout=60).json()
    size = service.log_size(headers)
    assert size == 1 + CLIENTS + statuses[201]  # every acknowledged write, and nothing else
    assert report["ok"] is True and report["events_checked"] == report["size"] == size, report

    for checkpoint in checkpoints:  # each checkpoint taken during the writes still holds
        against = requests.get(
            f"{base}/api/v1/audit/verify",
            params={"against_size": checkpoint["size"], "public_key": checkpoint["public_key"]},
            headers=headers,
            timeout=60,
        ).json()
        assert against["ok"] is True, against
    kept = requests.get(f"{base}/api/v1/audit/checkpoints", headers=headers, timeout=30).json()["items"]
    assert {item["size"] for item in kept} == {checkpoint["size"] for checkpoint in checkpoints}

    feed_hashes, positions = [], []
    after = 0
    while page := requests.get(
        f"{base}/api/v1/events", params={"after": after, "limit": 1000}, headers=headers, timeout=30
    ).json()["items"]:
        feed_hashes += [item["hash"] for item in page]
        positions += [item["position"] for item in page]
        after = page[-1]["position"]
    assert None not in feed_hashes and len(set(feed_hashes)) == size
    assert feed_hashes[-1] == report["head_hash"]

    # The Merkle tree, extended by three workers racing, covers every event, each leaf the
    # document its chain entry hashes, and only grew past every checkpoint.
    head = requests.get(f"{base}/api/v1/audit/tree", headers=headers, timeout=30).json()
    assert head["size"] == size
    for number in range(0, size, 7):
        proof = requests.get(
            f"{base}/api/v1/audit/proofs/inclusion", params={"position": positions[number]}, headers=headers, timeout=30
        ).json()
        assert proof["leaf_index"] == number and proof["root_hash"] == head["root_hash"]
        assert hashlib.sha256(proof["leaf"].encode()).hexdigest() == feed_hashes[number]
        leaf = leaf_hash(proof["leaf"].encode())
        verify_inclusion(
            number, size, leaf, [bytes.fromhex(n) for n in proof["audit_path"]], bytes.fromhex(head["root_hash"])
        )
    for checkpoint in checkpoints:
        grew = requests.get(
            f"{base}/api/v1/audit/proofs/consistency",
            params={"old_size": checkpoint["size"]},
            headers=headers,
            timeout=30,
        ).json()
        verify_consistency(
            checkpoint["size"],
            size,
            bytes.fromhex(grew["old_root"]),
            bytes.fromhex(head["root_hash"]),
            [bytes.fromhex(n) for n in grew["proof"]],
        )
