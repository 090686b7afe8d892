"""How soon other tools hear of a write, and what telling them costs the writers (issue 16).

Starts the service under gunicorn (``gunicorn.conf.py``, 3 workers) and the Procfile's worker
(``flask projections run``: the projections and the webhooks' delivery loop) on a scratch store,
a webhook receiver on loopback (``http.server``), ``--subscribers`` webhook subscriptions
(default 10) to it and ``--streams`` live streams (default 3) following
``GET /api/v1/events/stream``. Then:

1. **Delay**: one client posts ``--writes`` reviews (default 200), one after another, 20 ms
   apart; for each, the time from its acknowledgement (the 201 read by the client) to its
   arrival on each stream and at the receiver for each subscription. Prints the median and p99
   per channel (an event may arrive before its own acknowledgement: the delay is then negative).
2. **Throughput**: ``bench.http_writes``' load (8 clients, 100 reviews each, to their own
   collaborations) with the subscriptions active and with them paused, alternately, ``--runs``
   times (default 3), each run starting once every subscription has caught up. Prints the
   medians and their ratio (with / without).

    .venv/bin/python -m bench.delivery [--subscribers 10] [--streams 3] [--writes 200]
    .venv/bin/python -m bench.delivery --database-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import json
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from time import perf_counter

from bench.common import median, scratch_database
from bench.http_writes import BIN, ROOT, admin_token, establish, over_http, start_gunicorn

REVIEW = {"outcome": "continue", "effective_on": "2019-04-01", "reason": "annual review"}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class Arrivals:
    """When each (channel, stream, version) arrived, by the bench's clock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.at: dict[tuple[str, str, int], float] = {}

    def arrived(self, channel: str, event: dict) -> None:
        now = perf_counter()
        with self.lock:
            self.at.setdefault((channel, event["stream_id"], event["version"]), now)


def receiver(arrivals: Arrivals) -> http.server.ThreadingHTTPServer:
    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            arrivals.arrived(f"webhook {self.path}", json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def follow_stream(port: int, token: str, name: str, arrivals: Arrivals, stop: threading.Event) -> None:
    """Follows the stream from the end of the log, reconnecting from the last id, until ``stop``."""
    last = None
    while not stop.is_set():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Bearer {token}"}
        if last is not None:
            headers["Last-Event-ID"] = last
        path = "/api/v1/events/stream" + ("" if last is not None else f"?after={log_end(port, token)}")
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        if response.status != 200:
            time.sleep(1)
            continue
        data = None
        while not stop.is_set():
            line = response.readline()
            if not line:
                break
            text = line.decode().rstrip("\n")
            if text.startswith("id: "):
                last = text[4:]
            elif text.startswith("data: "):
                data = text[6:]
            elif text == "" and data is not None:
                arrivals.arrived(name, json.loads(data))
                data = None
        connection.close()


def log_end(port: int, token: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    position = 0
    while True:
        connection.request("GET", f"/api/v1/events?after={position}&limit=1000", headers=auth(token))
        page = json.loads(connection.getresponse().read())
        if not page["items"]:
            return position
        position = page["next_after"]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def call(port: int, token: str, method: str, path: str, body: object = None) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request(method, path, json.dumps(body) if body is not None else None, auth(token))
    response = connection.getresponse()
    answer = response.read()
    if response.status >= 300:
        raise SystemExit(f"{method} {path}: {response.status} {answer[:500]!r}")
    return json.loads(answer) if answer else {}


def caught_up(port: int, token: str, subscriptions: list[str], deadline: float = 120) -> None:
    """Waits until every subscription has delivered through the end of the log."""
    end = log_end(port, token)
    started = time.monotonic()
    while time.monotonic() - started < deadline:
        positions = [call(port, token, "GET", f"/api/v1/webhooks/subscriptions/{s}")["position"] for s in subscriptions]
        if min(positions) >= end:
            return
        time.sleep(0.2)
    raise SystemExit(f"the subscriptions did not catch up with position {end} in {deadline} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=10)
    parser.add_argument("--streams", type=int, default=3)
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL to use a scratch schema there")
    parser.add_argument(
        "--worker-connections",
        type=int,
        default=16,
        help="POSTGRES_MAX_CONNECTIONS of the worker process (docs/webhooks.md: one per subscription and more)",
    )
    arguments = parser.parse_args()

    arrivals = Arrivals()
    server = receiver(arrivals)
    with scratch_database(arguments.database_url) as url, tempfile.TemporaryDirectory() as scratch:
        os.environ["WEBHOOKS_ALLOW_PRIVATE_TARGETS"] = "1"  # the receiver is on loopback
        process, port, env = start_gunicorn(url, 3, Path(scratch) / "gunicorn.log")
        worker = subprocess.Popen(
            [str(BIN / "flask"), "--app", "wsgi", "projections", "run"],
            cwd=ROOT,
            env={**env, "POSTGRES_MAX_CONNECTIONS": str(arguments.worker_connections)},
            stdout=(Path(scratch) / "worker.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        stop = threading.Event()
        try:
            token = admin_token(env)
            backend = "postgres" if url.startswith("postgresql") else "sqlite"
            receiver_url = f"http://127.0.0.1:{server.server_address[1]}"
            subscriptions = [
                call(port, token, "POST", "/api/v1/webhooks/subscriptions", {"url": f"{receiver_url}/s{n}"})["id"]
                for n in range(arguments.subscribers)
            ]
            followers = [
                threading.Thread(target=follow_stream, args=(port, token, f"stream {n}", arrivals, stop), daemon=True)
                for n in range(arguments.streams)
            ]
            for follower in followers:
                follower.start()
            (collaboration,) = establish(port, token, 1)
            time.sleep(1.0)  # the streams are open
            print(
                f"delivery: {backend}, gunicorn with 3 workers, {arguments.subscribers} webhook subscriptions, "
                f"{arguments.streams} streams"
            )

            acknowledged: dict[tuple[str, int], float] = {}
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            for _ in range(arguments.writes):
                connection.request(
                    "POST", f"/api/v1/collaborations/{collaboration}/reviews", json.dumps(REVIEW), auth(token)
                )
                response = connection.getresponse()
                answer = json.loads(response.read())
                acknowledged[(collaboration, answer["version"])] = perf_counter()
                time.sleep(0.02)
            channels = [f"stream {n}" for n in range(arguments.streams)]
            channels += [f"webhook /s{n}" for n in range(arguments.subscribers)]
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                with arrivals.lock:
                    missing = [
                        (channel, key)
                        for channel in channels
                        for key in acknowledged
                        if (channel, *key) not in arrivals.at
                    ]
                if not missing:
                    break
                time.sleep(0.2)
            if missing:
                raise SystemExit(f"{len(missing)} arrivals missing, e.g. {missing[:3]}")
            for kind in ("stream", "webhook"):
                delays = [
                    (arrivals.at[(channel, *key)] - acked) * 1000
                    for channel in channels
                    if channel.startswith(kind)
                    for key, acked in acknowledged.items()
                ]
                print(
                    f"  {kind:8} delay from acknowledgement: median {median(delays):7.1f} ms, "
                    f"p99 {percentile(delays, 0.99):7.1f} ms ({len(delays)} arrivals)"
                )

            stop.set()  # the streams close at their next message; the 'without' runs have none
            collaborations = establish(port, token, 8)
            with_rates, without_rates = [], []
            for run in range(1, arguments.runs + 1):
                caught_up(port, token, subscriptions)
                with_rates.append(over_http(port, token, collaborations, 100))
                caught_up(port, token, subscriptions)
                for subscription in subscriptions:
                    call(port, token, "POST", f"/api/v1/webhooks/subscriptions/{subscription}/pause", {})
                without_rates.append(over_http(port, token, collaborations, 100))
                for subscription in subscriptions:
                    call(port, token, "POST", f"/api/v1/webhooks/subscriptions/{subscription}/resume", {})
                print(
                    f"  run {run}: writes with subscribers {with_rates[-1]:6.0f}/s, "
                    f"without {without_rates[-1]:6.0f}/s, ratio {with_rates[-1] / without_rates[-1]:.2f}"
                )
            with_rate, without_rate = median(with_rates), median(without_rates)
            print(
                f"median: writes with {arguments.subscribers} subscribers {with_rate:.0f}/s,"
                f" without {without_rate:.0f}/s, ratio {with_rate / without_rate:.2f}"
            )
        finally:
            stop.set()
            worker.terminate()
            worker.wait(timeout=30)
            process.terminate()
            process.wait(timeout=30)
            server.shutdown()


if __name__ == "__main__":
    main()
