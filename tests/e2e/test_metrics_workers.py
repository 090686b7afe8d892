"""GET /metrics under gunicorn with three workers: whichever worker answers the scrape, the
counts are every worker's summed (prometheus_client's multiprocess mode, set up by
gunicorn.conf.py), a worker's counts outlive it, and the store's gauges appear once."""

from __future__ import annotations

import os
import signal
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import running_gunicorn

pytestmark = pytest.mark.e2e

READYZ = {"method": "GET", "route": "/readyz", "status": "200"}
ROUNDS, PER_ROUND, CLIENTS = 10, 24, 8


def readyz_count(samples: list) -> float:
    return sum(
        sample.value for sample in samples if sample.name == "records_http_requests_total" and sample.labels == READYZ
    )


def scraped(base_url: str) -> tuple[str, float]:
    response = requests.get(f"{base_url}/metrics", timeout=30)
    assert response.status_code == 200, response.text
    families = text_string_to_metric_families(response.text)
    return response.text, readyz_count([sample for family in families for sample in family.samples])


def per_worker(metrics_dir: Path) -> dict[int, float]:
    """Each worker's own count of /readyz, read from its own file."""
    counts = {}
    for path in metrics_dir.glob("counter_*.db"):
        merged = MultiProcessCollector.merge([str(path)])
        counts[int(path.stem.split("_")[1])] = readyz_count([s for metric in merged for s in metric.samples])
    return counts


def metrics_dir_of(workers: list[int]) -> Path:
    """The PROMETHEUS_MULTIPROC_DIR gunicorn.conf.py made for this server: the one in the temporary
    directory holding files of its workers."""
    found = {
        path.parent
        for pid in workers
        for path in Path(tempfile.gettempdir()).glob(f"collaboration-records-metrics-*/*_{pid}.db")
    }
    assert len(found) == 1, found
    return found.pop()


def test_a_scrape_sums_the_counts_of_every_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)  # gunicorn.conf.py makes one
    with running_gunicorn(tmp_path, f"sqlite:///{tmp_path / 'records.sqlite3'}", workers=3) as service:
        assert len(service.workers) == 3

        def ready(_: int) -> int:
            return requests.get(f"{service.base_url}/readyz", timeout=30).status_code

        sent = 0
        assert ready(0) == 200
        sent += 1
        metrics_dir = metrics_dir_of(service.workers)
        with ThreadPoolExecutor(CLIENTS) as pool:
            for _ in range(ROUNDS):  # until at least two workers have answered some
                assert set(pool.map(ready, range(PER_ROUND))) == {200}
                sent += PER_ROUND
                if sum(1 for count in per_worker(metrics_dir).values() if count) >= 2:
                    break
        workers = per_worker(metrics_dir)
        assert sum(1 for count in workers.values() if count) >= 2, (workers, service.log_text())

        text, total = scraped(service.base_url)
        assert total == sent == sum(workers.values()), (total, sent, workers)
        # Read from the store once per scrape, not once per worker.
        assert sum(line.startswith("records_log_head_position ") for line in text.splitlines()) == 1
        assert "records_projection_lag_events{" in text

        # A worker that exits takes nothing away: its counts stay in the sum.
        busiest = max(workers, key=lambda pid: workers[pid])
        os.kill(busiest, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while Path(f"/proc/{busiest}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert requests.get(f"{service.base_url}/healthz", timeout=30).status_code == 200
        assert scraped(service.base_url)[1] == sent
    assert not metrics_dir.exists()  # made for this server, removed with it
