"""The live event stream: the global log as server-sent events (``text/event-stream``).

A stream reads the log after a position, a page at a time through the same code as the feed
(``RecordQueries.feed``), sends each event its filter matches, and waits for news when it has
caught up: on PostgreSQL the store's NOTIFY wakes it (``LogDoorbell``, one listener per
process) where the worker's pool has a connection to spare for it (``POSTGRES_MAX_CONNECTIONS``
of 4 or more), else, and on SQLite, it looks again every ``poll_seconds``.

- **Ids**: each message's ``id:`` is the event's log position. A client that reconnects with
  ``Last-Event-ID`` (browsers' ``EventSource`` do so by themselves) resumes exactly after it.
- **Filtered streams skip without losing their place**: when events were read that the filter
  does not match, the stream sends a message with an ``id:`` and no data (a browser takes the id
  and dispatches nothing), at the next heartbeat and when the stream ends, so a reconnect does
  not read them again.
- **Heartbeats**: a comment line every ``heartbeat_seconds`` keeps proxies from closing an idle
  stream and lets the server notice a client that has gone.
- **Bounded**: a stream ends after ``max_seconds`` (the client reconnects, after the ``retry:``
  delay it was given, from its last id), and each worker process serves at most ``limit``
  streams at once (``OpenStreams``); one more is answered 503 with ``Retry-After``. gunicorn's
  threaded workers (``gunicorn.conf.py``) serve a stream on one thread of a worker, so the
  worker's other threads go on answering requests.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from service.event_filters import EventFilter

PAGE = 200  # events read from the log at a time
MIN_POOL_FOR_DOORBELL = 4  # PostgreSQL connections a worker's pool needs before a stream listener holds one
DEFAULT_STREAMS_PER_WORKER = 6  # below gunicorn's threads per worker (8): two are left for requests


@dataclass(frozen=True)
class StreamSettings:
    heartbeat_seconds: float = 15.0
    max_seconds: float = 300.0
    poll_seconds: float = 0.25
    retry_ms: int = 2000


class StreamsBusy(Exception):
    """This worker serves as many streams as it may; try again shortly."""


class OpenStreams:
    """How many streams this process serves, and a ceiling on them."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open = 0
        self._lock = threading.Lock()

    @property
    def open(self) -> int:
        return self._open

    def admit(self) -> Callable[[], None]:
        """Counts one more stream, or raises ``StreamsBusy``; answers its release (which may be
        called more than once: the stream's end and the response's close both call it)."""
        with self._lock:
            if self._open >= self.limit:
                raise StreamsBusy(f"this worker already serves {self.limit} event streams")
            self._open += 1
        released = threading.Event()

        def release() -> None:
            with self._lock:
                if not released.is_set():
                    released.set()
                    self._open -= 1

        return release


def message(item_id: int | None = None, data: str | None = None, comment: str | None = None) -> bytes:
    """One server-sent message: a comment, an id, data (one ``data:`` line per line of it)."""
    lines = []
    if comment is not None:
        lines.append(f": {comment}")
    if item_id is not None:
        lines.append(f"id: {item_id}")
    if data is not None:
        lines.extend(f"data: {line}" for line in data.split("\n"))
    return ("\n".join(lines) + "\n\n").encode()


def plain_json(item: Mapping[str, Any]) -> str:
    return json.dumps(item, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def event_stream(
    *,
    read_page: Callable[[int, int], list[dict[str, Any]]],
    matches: Callable[[Mapping[str, Any]], bool],
    render: Callable[[Mapping[str, Any]], str],
    after: int,
    settings: StreamSettings,
    wait_for_news: Callable[[float], None],
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[bytes]:
    """The messages of one stream, from the event after ``after`` until ``max_seconds`` pass.
    ``read_page(after, limit)`` gives feed items; ``render(item)`` an event's data text."""
    started = clock()
    ends = started + settings.max_seconds
    next_beat = started + settings.heartbeat_seconds
    read_through = sent_through = after
    yield f"retry: {settings.retry_ms}\n".encode() + message(comment=f"events after position {after}")
    while True:
        page = read_page(read_through, PAGE)
        for item in page:
            read_through = item["position"]
            if matches(item):
                yield message(read_through, render(item))
                sent_through = read_through
        now = clock()
        if now >= ends:
            break
        if len(page) == PAGE and now < next_beat:
            continue  # more to read now (reading through a backlog still beats: a filter may send nothing)
        if now >= next_beat:
            skipped = read_through if read_through > sent_through else None
            yield message(skipped, comment="keep-alive")
            sent_through = read_through
            next_beat = now + settings.heartbeat_seconds
        if len(page) == PAGE:
            continue
        wait_for_news(min(settings.poll_seconds, max(0.0, ends - now), max(0.0, next_beat - now)))
    yield message(read_through if read_through > sent_through else None, comment="stream ends; reconnect to go on")


class EventStreams:
    """This process's streams: their settings, how many are open, and (on PostgreSQL) the one
    listener that wakes them all when events are recorded."""

    def __init__(self, records: Any, settings: StreamSettings, limit: int) -> None:
        self.records = records
        self.settings = settings
        self.open_streams = OpenStreams(limit)
        self._doorbell: Any = None
        self._doorbell_made = False
        self._lock = threading.Lock()

    def news_waiter(self) -> Callable[[float], None]:
        """A ``wait_for_news(timeout)`` for one stream: returns when the store rang (PostgreSQL)
        or when ``timeout`` has passed, whichever is first. Rings since the stream began are
        not missed: the count is taken now, before the stream's first read."""
        doorbell = self._shared_doorbell()
        if doorbell is None:
            return time.sleep
        rung = [doorbell.wait(-1, 0)]

        def wait(timeout: float) -> None:
            rung[0] = doorbell.wait(rung[0], timeout)

        return wait

    def _shared_doorbell(self) -> Any:
        """The worker's one listener, where the store can ring and the pool can spare a connection
        for it for good: with fewer than ``MIN_POOL_FOR_DOORBELL`` connections (the default cap
        is 3) the worker's requests keep them all, and streams poll."""
        with self._lock:
            if not self._doorbell_made:
                from projections.tracked import LogDoorbell

                datastore = getattr(self.records.recorder, "datastore", None)
                pool = getattr(datastore, "pool", None)
                if pool is not None and getattr(pool, "max_size", 0) >= MIN_POOL_FOR_DOORBELL:
                    self._doorbell = LogDoorbell.for_application(self.records)
                self._doorbell_made = True
            return self._doorbell

    def close(self) -> None:
        with self._lock:
            if self._doorbell is not None:
                self._doorbell.close()
            self._doorbell, self._doorbell_made = None, False


def filtered(event_filter: EventFilter, records: Any) -> Callable[[Mapping[str, Any]], bool]:
    if event_filter.is_everything:
        return lambda item: True
    return lambda item: event_filter.matches(item, records)
