"""A real webhook receiver for the tests: ``http.server.ThreadingHTTPServer`` on loopback, in a
thread, verifying every delivery's signature with ``standardwebhooks`` as a receiver would.

Each subscription is given a path of its own (``receiver.url("a")``) and its secret
(``receiver.secret_for("a", secret)``). What the receiver answers is up to the test: a status,
or a callable deciding per delivery (to fail the first attempts, to hold a request open, to
answer slowly). ``stop()`` closes the port (deliveries then find the connection refused) and
``start()`` opens the same port again."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


@dataclass(frozen=True)
class Delivery:
    path: str
    webhook_id: str
    timestamp: str
    position: int
    item: dict[str, Any]
    verified: bool
    status: int  # what the receiver answered
    received_at: float


class QuietServer(ThreadingHTTPServer):
    """Reuses its port at once after ``stop``, and says nothing of a client that hung up (a
    delivery the service gave up waiting for)."""

    allow_reuse_address = True
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


# A decision: the status to answer (the body is empty), given the path and the delivery.
Decide = Callable[[str, Delivery], int]


class Receiver:
    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}
        self.deliveries: list[Delivery] = []
        self.decide: Decide = lambda path, delivery: 204
        self._lock = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.start()

    # ----------------------------------------------------------------------- control
    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver.handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = QuietServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Closes the port: connections are refused until ``start``."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{name}"

    def secret_for(self, name: str, secret: str) -> None:
        self.secrets[f"/hooks/{name}"] = secret

    # ----------------------------------------------------------------------- receiving
    def handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("content-length") or 0)
        body = request.rfile.read(length)
        headers = {name.lower(): value for name, value in request.headers.items()}
        secret = self.secrets.get(request.path)
        verified = False
        item: dict[str, Any] = {}
        if secret is not None:
            try:
                item = Webhook(secret).verify(body, headers)
                verified = True
            except WebhookVerificationError:
                item = json.loads(body or b"{}")
        delivery = Delivery(
            path=request.path,
            webhook_id=headers.get("webhook-id", ""),
            timestamp=headers.get("webhook-timestamp", ""),
            position=int(item.get("position", 0)),
            item=item,
            verified=verified and headers.get("content-type") == "application/json",
            status=0,
            received_at=time.monotonic(),
        )
        status = self.decide(request.path, delivery) if verified else 400
        delivery = Delivery(**{**delivery.__dict__, "status": status})
        with self._lock:
            self.deliveries.append(delivery)
            self._lock.notify_all()
        request.send_response(status)
        request.send_header("content-length", "0")
        request.end_headers()

    def received(self, name: str, *, succeeded_only: bool = True) -> list[Delivery]:
        with self._lock:
            return [
                d
                for d in self.deliveries
                if d.path == f"/hooks/{name}" and (not succeeded_only or 200 <= d.status < 300)
            ]

    def wait_for(self, condition: Callable[[], bool], timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._lock:
            while not condition():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(min(remaining, 0.1))
        return True

    def positions(self, name: str) -> list[int]:
        return [d.position for d in self.received(name)]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A receiver on loopback for the test, stopped after it (import it into a test module)."""
    receiver = Receiver()
    try:
        yield receiver
    finally:
        receiver.stop()
