"""One delivery attempt: a signed POST of one event to one target, as the Standard Webhooks
specification describes it.

The request carries the event as JSON (the item exactly as ``GET /api/v1/events`` shows it) and
the headers ``webhook-id`` (the same for every attempt at one event for one subscription: a
receiver de-duplicates by it), ``webhook-timestamp`` (when this attempt was signed, in seconds)
and ``webhook-signature`` (``v1,`` and the base64 HMAC-SHA256 of ``id.timestamp.body`` under
the subscription's secret, made by the ``standardwebhooks`` package).

Everything about the call is bounded, so one bad receiver costs its own subscription a bounded
time and nothing else: resolving the name and connecting within the connect timeout; the whole
attempt, from connecting to the last byte read, within connect plus read timeout (a watchdog
closes the socket then, whatever the receiver is doing, e.g. sending its answer a byte at a
time); at most ``MAX_ANSWER_BYTES`` of the answer read. Redirects are not followed: a 3xx is a
failed attempt, like any answer other than 2xx. Only the standard library is used (http.client).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from standardwebhooks import Webhook

from service.webhooks.targets import Target, TargetRefused, parse_target, resolve_public

MAX_ANSWER_BYTES = 64 * 1024  # read of a receiver's answer; the rest is never read
MAX_ERROR_TEXT = 300  # characters of an error (or of a refusing answer) kept in the delivery log
USER_AGENT = "collab-records-webhooks/1"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SenderSettings:
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    allow_private_targets: bool = False

    @property
    def attempt_bound(self) -> float:
        """The longest one attempt can take (the watchdog's limit)."""
        return self.connect_timeout + self.read_timeout


@dataclass(frozen=True)
class Answer:
    """What came of one attempt: the HTTP status (None when no answer came: refused, timed out,
    the target refused by the address rule), a short text saying what went wrong (None on a 2xx),
    and how long it took."""

    status: int | None
    error: str | None
    latency_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def webhook_id(subscription_id: str, position: int) -> str:
    """The message id of the event at ``position`` for a subscription: the same on every attempt,
    after a crash and after a replay, so that a receiver can tell a repeat from a new event."""
    return f"msg_{subscription_id.replace('-', '')}_{position}"


def event_body(item: Mapping[str, Any]) -> bytes:
    """The event as sent: compact JSON, keys sorted, UTF-8 (the bytes the signature covers)."""
    return json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signed_headers(secret: str, message_id: str, body: bytes, moment: datetime) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, moment, body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection to one checked address, naming the target's host in ``Host`` and
    in TLS (SNI and the certificate check), never resolving the name again."""

    def __init__(self, target: Target, address: str, timeout: float, context: ssl.SSLContext | None) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = address
        self._context = context

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._context is not None:
            self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)


class WebhookSender:
    """Sends one event to one target (``send``), never raising for what the receiver or the
    network did: every outcome is an ``Answer`` to record."""

    def __init__(self, settings: SenderSettings) -> None:
        self.settings = settings
        self._tls = ssl.create_default_context()

    def send(self, url: str, secret: str, message_id: str, body: bytes) -> Answer:
        began = time.monotonic()
        try:
            status, error = self._post(url, secret, message_id, body)
        except TargetRefused as refused:
            status, error = None, f"refused: {refused}"
        except TimeoutError as timeout:
            status, error = None, str(timeout) or "timed out"
        except ssl.SSLError as failure:
            status, error = None, f"TLS failed: {failure}"
        except ConnectionRefusedError:
            status, error = None, "connection refused"
        except (OSError, http.client.HTTPException) as failure:
            status, error = None, f"{type(failure).__name__}: {failure}".rstrip(": ")
        except Exception as failure:
            logger.exception("a webhook attempt failed unexpectedly")
            status, error = None, f"{type(failure).__name__}: {failure}".rstrip(": ")
        latency_ms = round((time.monotonic() - began) * 1000)
        return Answer(status, _cut(error) if error else None, latency_ms)

    def _post(self, url: str, secret: str, message_id: str, body: bytes) -> tuple[int, str | None]:
        settings = self.settings
        target = parse_target(url)
        addresses = resolve_public(
            target, allow_private=settings.allow_private_targets, timeout=settings.connect_timeout
        )
        headers = signed_headers(secret, message_id, body, datetime.now(UTC))
        last_failure: OSError | None = None
        for address in addresses:
            connection = _PinnedConnection(target, address, settings.connect_timeout, self._tls if target.tls else None)
            try:
                connection.connect()
            except TimeoutError:
                connection.close()
                last_failure = TimeoutError(f"connecting timed out after {settings.connect_timeout:g} s")
                continue
            except OSError as failure:  # this address does not answer: try the next
                connection.close()
                last_failure = failure
                continue
            try:
                return self._exchange(connection, target, headers, body)
            finally:
                connection.close()
        assert last_failure is not None
        raise last_failure

    def _exchange(
        self, connection: _PinnedConnection, target: Target, headers: dict[str, str], body: bytes
    ) -> tuple[int, str | None]:
        """The request and a bounded read of the answer, on a connected socket that a watchdog
        shuts once the attempt's time is up."""
        sock = connection.sock
        sock.settimeout(self.settings.read_timeout)
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

        watchdog = threading.Timer(self.settings.attempt_bound, expire)
        watchdog.daemon = True
        watchdog.start()
        try:
            connection.request("POST", target.path, body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read(MAX_ANSWER_BYTES)
        except (OSError, http.client.HTTPException) as failure:
            if expired.is_set():
                raise TimeoutError(f"no complete answer within {self.settings.attempt_bound:g} s") from None
            if isinstance(failure, TimeoutError):
                raise TimeoutError(f"no answer within {self.settings.read_timeout:g} s") from None
            raise
        finally:
            watchdog.cancel()
        status = response.status
        if 200 <= status < 300:
            return status, None
        if 300 <= status < 400:
            location = response.getheader("location") or "nowhere"
            return status, f"HTTP {status}: a redirect (to {location}), not followed"
        said = _printable(answer.decode("utf-8", errors="replace"))
        return status, f"HTTP {status} {response.reason}".rstrip() + (f": {said}" if said else "")


def _printable(text: str) -> str:
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def _cut(text: str) -> str:
    text = _printable(text)
    return text if len(text) <= MAX_ERROR_TEXT else text[: MAX_ERROR_TEXT - 1] + "…"
