"""The delivery loop: follows the global log and delivers each subscription's matching events to
its target, in log order, at least once.

It runs in the Procfile's ``worker`` process, beside the projections' followers: ``flask
projections run`` follows every entry of ``app.extensions["log_followers"]`` as well, and this
is one (``WebhookDelivery``, named ``webhooks``). Run ``flask projections run webhooks`` for it
alone.

**Threads.** A supervisor thread reads which subscriptions are active (every second, so a
subscription created, resumed or replayed over the API is picked up within one) and keeps one
``Courier`` thread per active subscription. Each courier delivers its subscription alone: one slow
or failing receiver holds up only its own subscription. A courier wakes on new events at once
where the store rings (PostgreSQL's LISTEN/NOTIFY: the ``LogDoorbell`` the followers share), else
it polls (SQLite, every ``--poll-interval``).

**Order and at-least-once.** A courier sends the first event after its subscription's position
that the subscription's filter matches (``service/event_filters.py``, the live stream's rule),
and only after that attempt is recorded does it look further: event N+1 is never sent before N
has been answered 2xx. The attempt's record and the position it moves commit together
(``WebhookStore.record_attempt``), so a worker killed mid-attempt resumes with that same event,
sent again with the same ``webhook-id``: nothing lost, nothing reordered, at most the event in
flight twice. Events the filter does not match move the position without a record.

**Retries.** An attempt that fails (no 2xx, a timeout, no connection) is tried again after a wait
that starts at ``WEBHOOKS_RETRY_BASE_SECONDS`` and doubles each time up to
``WEBHOOKS_RETRY_MAX_SECONDS``, with jitter (a random half of it), so that receivers coming back
up are not met by every subscription at the same instant. After
``WEBHOOKS_DISABLE_AFTER_ATTEMPTS`` failed attempts at one event, or once it has failed for
``WEBHOOKS_DISABLE_AFTER_SECONDS``, the subscription is disabled with the reason, until an
administrator resumes it. A 410 Gone disables it at once (the receiver asks for nothing more).

**Several workers.** Each worker process (one per host may run) claims a subscription's lease
before each attempt (``WEBHOOKS_LEASE_SECONDS``, at least twice the longest attempt) and renews it
while it holds it; another worker delivers it only once the lease is released (a worker that
stops releases its leases) or has expired. A lease held by a worker on this host whose process
has gone (killed) is taken over at once.

**Stopping.** On SIGTERM (``stop`` set) each courier finishes the attempt under way (bounded by
the timeouts), records it, releases its lease and stops.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from time import monotonic
from typing import TYPE_CHECKING, Any

from service.event_filters import EventFilter
from service.persistence import recorded_at_text
from service.webhooks.sender import Answer, WebhookSender, event_body, webhook_id
from service.webhooks.settings import WebhookSettings
from service.webhooks.store import ACTIVE, AttemptResult, Subscription, WebhookStore

if TYPE_CHECKING:
    from projections.tracked import LogDoorbell
    from service.webhooks.subscriptions import WebhookSubscriptions

logger = logging.getLogger(__name__)

FEED_BATCH = 200  # events read at once by a courier looking for its next one
SUPERVISOR_INTERVAL = 1.0  # the longest between readings of which subscriptions are active
PRUNE_INTERVAL = 3600.0  # seconds between prunings of the delivery log
MAX_RETRY_INTERVAL = 30.0  # the longest a courier waits after the store failed
IDLE_WAIT = 1.0  # the longest a courier waits before looking at its subscription again
GONE = 410

# What a courier's step came to.
STOP, GO_ON, IDLE = "stop", "go on", "idle"

# Owners of live leases in this process: a lease naming this process but none of these was
# left by an earlier worker in a process whose id this one now has.
_LIVE_OWNERS: set[str] = set()


@dataclass(frozen=True)
class RetryPolicy:
    """When to try a failed event again, and when to give up on a subscription."""

    base_seconds: float
    max_seconds: float
    disable_after_attempts: int
    disable_after_seconds: float

    @classmethod
    def of(cls, settings: WebhookSettings) -> RetryPolicy:
        return cls(
            settings.retry_base_seconds,
            settings.retry_max_seconds,
            settings.disable_after_attempts,
            settings.disable_after_seconds,
        )

    def wait_after(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1, 2, ...): base·2^(attempt-1),
        at most the maximum, of which a random half (so between half of it and all of it)."""
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** min(attempt - 1, 64))
        return ceiling / 2 + secrets.SystemRandom().uniform(0, ceiling / 2)

    def gives_up(
        self, attempt: int, failing_since: str | None, now: datetime, answer: Answer, position: int
    ) -> str | None:
        """Why the subscription is disabled after failed attempt ``attempt`` (None: try again)."""
        said = answer.error or f"HTTP {answer.status}"
        if answer.status == GONE:
            return f"the receiver answered 410 Gone to the event at position {position}: it asks for no more"
        since = datetime.fromisoformat(failing_since.replace("Z", "+00:00")) if failing_since else now
        failing = (now - since).total_seconds()
        if attempt >= self.disable_after_attempts:
            return f"{attempt} attempts to deliver the event at position {position} failed; the last: {said}"
        if failing >= self.disable_after_seconds:
            return (
                f"the event at position {position} has failed for {timedelta(seconds=round(failing))} "
                f"({attempt} attempts); the last: {said}"
            )
        return None


def owner_id() -> str:
    """Who holds a lease: host, process and a nonce (a process may run more than one worker)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def owner_is_gone(owner: str | None) -> bool:
    """Whether a lease's owner is a worker on this host whose process no longer runs (killed), so
    its lease may be taken at once rather than when it expires."""
    if not owner or owner in _LIVE_OWNERS:
        return False
    host, pid_text, _ = [*owner.rsplit(":", 2), "", ""][:3]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True  # this process, but not one of its live workers: an earlier process with this id
    return not _process_runs(pid)


def _process_runs(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    try:
        state = stat.read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")  # a zombie has stopped running (its parent has yet to reap it)
    except FileNotFoundError:
        return False
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _now() -> datetime:
    return datetime.now(UTC)


def _waited_for_a_connection(error: BaseException) -> bool:
    try:
        from psycopg_pool import PoolTimeout
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    return isinstance(error.__cause__ or error, PoolTimeout)


class WebhookDelivery:
    """The delivery loop, as a follower of ``flask projections run``: ``follow`` delivers until
    ``stop`` is set. ``feed(after, limit)`` answers the global feed's items (``RecordQueries.feed``),
    so what is sent is exactly what ``GET /api/v1/events`` shows."""

    name = "webhooks"
    label = "webhook delivery"

    def __init__(
        self,
        subscriptions: WebhookSubscriptions,
        feed: Callable[..., list[dict[str, Any]]],
        *,
        sender: WebhookSender | None = None,
    ) -> None:
        self.subscriptions = subscriptions
        self.store: WebhookStore = subscriptions.store
        self.application = subscriptions.records
        self.settings = subscriptions.settings
        self.feed = feed
        self.sender = sender or WebhookSender(self.settings.sender)
        self.policy = RetryPolicy.of(self.settings)
        self.owner = owner_id()

    def follow(
        self,
        stop: threading.Event,
        poll_interval: float = 0.2,
        *,
        doorbell: LogDoorbell | None = None,
    ) -> None:
        """Deliver until ``stop`` is set, then let each courier finish its attempt and stop."""
        _LIVE_OWNERS.add(self.owner)
        couriers: dict[str, threading.Thread] = {}
        retry_interval = poll_interval
        pruned_at = -PRUNE_INTERVAL
        try:
            while not stop.is_set():
                try:
                    for subscription_id in self.store.active_ids():
                        thread = couriers.get(subscription_id)
                        if thread is None or not thread.is_alive():
                            courier = Courier(self, subscription_id, stop, poll_interval, doorbell)
                            couriers[subscription_id] = thread = threading.Thread(
                                target=courier.run, name=f"webhook-{subscription_id[:8]}", daemon=True
                            )
                            thread.start()
                    for gone in [key for key, thread in couriers.items() if not thread.is_alive()]:
                        del couriers[gone]
                    if monotonic() - pruned_at >= PRUNE_INTERVAL:
                        pruned_at = monotonic()
                        if pruned := self.subscriptions.prune_deliveries():
                            logger.info("webhooks: pruned %s delivery records", pruned)
                except Exception as error:
                    if not _waited_for_a_connection(error):
                        logger.exception("webhooks: reading the subscriptions failed; retrying")
                        stop.wait(retry_interval)
                        retry_interval = min(retry_interval * 2, MAX_RETRY_INTERVAL)
                    continue
                retry_interval = poll_interval
                stop.wait(min(SUPERVISOR_INTERVAL, 5 * poll_interval))
        finally:
            for thread in couriers.values():
                thread.join()
            _LIVE_OWNERS.discard(self.owner)


class Courier:
    """Delivers one subscription, one event at a time, in a thread of its own (``run``)."""

    def __init__(
        self,
        delivery: WebhookDelivery,
        subscription_id: str,
        stop: threading.Event,
        poll_interval: float,
        doorbell: LogDoorbell | None,
    ) -> None:
        self.delivery = delivery
        self.subscription_id = subscription_id
        self.stop = stop
        self.poll_interval = poll_interval
        self.doorbell = doorbell
        self._filter: tuple[tuple[Any, ...], EventFilter] | None = None
        self._window: tuple[int, int, list[dict[str, Any]]] = (-1, -1, [])  # generation, after, items
        self._lease_until: datetime | None = None
        self._rung = 0
        self._looked_at_the_head = False

    # ----------------------------------------------------------------------- the loop
    def run(self) -> None:
        retry_interval = self.poll_interval
        logger.info("webhooks: delivering subscription %s", self.subscription_id)
        try:
            while not self.stop.is_set():
                try:
                    step = self.step()
                except Exception as error:
                    if _waited_for_a_connection(error):  # the process's other threads had them all
                        continue
                    logger.exception("webhooks: subscription %s failed; retrying", self.subscription_id)
                    self._lease_until = None
                    self.stop.wait(retry_interval)
                    retry_interval = min(retry_interval * 2, MAX_RETRY_INTERVAL)
                    continue
                retry_interval = self.poll_interval
                if step == STOP:
                    return
                if step == IDLE:
                    self._wait_for_events()
                elif isinstance(step, float):
                    self.stop.wait(step)
        finally:
            self._release()
            logger.info("webhooks: stopped delivering subscription %s", self.subscription_id)

    def step(self) -> str | float:
        """One look at the subscription: STOP (not active, or gone), GO_ON (something was done:
        look again at once), IDLE (nothing new to deliver) or the seconds to wait (a retry not yet
        due, or another worker holds it)."""
        subscription = self.delivery.store.get(self.subscription_id)
        if subscription is None or subscription.status != ACTIVE:
            return STOP
        now = _now()
        if not self._hold_lease(subscription, now):
            return IDLE_WAIT
        if subscription.next_attempt_at and (due := _parse(subscription.next_attempt_at)) > now:
            return min((due - now).total_seconds(), IDLE_WAIT)
        position = subscription.position
        skipped_to, item = self._next_event(subscription)
        if skipped_to > position:  # events it does not want: move past them, nothing to record
            if not self.delivery.store.skip(
                subscription.id, generation=subscription.generation, position=position, to=skipped_to
            ):
                return GO_ON  # replayed meanwhile: look again
            position = skipped_to
        if item is None:
            if skipped_to > subscription.position:
                return GO_ON
            self._warn_if_beyond_the_log(position)
            return IDLE
        self._attempt(subscription, position, item)
        return GO_ON

    def _warn_if_beyond_the_log(self, position: int) -> None:
        """Once per courier: a position beyond the log's end (a store restored from a backup older
        than the subscription's progress) would skip the events recorded at positions up to it."""
        if self._looked_at_the_head:
            return
        self._looked_at_the_head = True
        head = self.delivery.application.log_size()
        if position > head:
            logger.warning(
                "webhooks: subscription %s is at position %s, beyond the log's end %s (a restored store?): "
                "events recorded up to %s will not be delivered; replay it from the position its receiver has",
                self.subscription_id,
                position,
                head,
                position,
            )

    # ----------------------------------------------------------------------- an attempt
    def _attempt(self, subscription: Subscription, position: int, item: dict[str, Any]) -> None:
        delivery = self.delivery
        event_position = item["position"]
        message_id = webhook_id(subscription.id, event_position)
        attempt = subscription.attempts + 1
        answer = delivery.sender.send(subscription.url, subscription.secret, message_id, event_body(item))
        now = _now()
        next_attempt_at = reason = None
        if not answer.succeeded:
            reason = delivery.policy.gives_up(attempt, subscription.failing_since, now, answer, event_position)
            if reason is None:
                next_attempt_at = recorded_at_text(now + timedelta(seconds=delivery.policy.wait_after(attempt)))
        outcome = delivery.store.record_attempt(
            subscription.id,
            generation=subscription.generation,
            position=position,
            result=AttemptResult(
                position=event_position,
                webhook_id=message_id,
                attempt=attempt,
                status=answer.status,
                error=answer.error,
                latency_ms=answer.latency_ms,
                attempted_at=recorded_at_text(now),
                succeeded=answer.succeeded,
                next_attempt_at=next_attempt_at,
                disabled_reason=reason,
            ),
        )
        if answer.succeeded:
            logger.debug("webhooks: %s delivered position %s (%s)", subscription.id, event_position, outcome)
        elif reason is not None:
            logger.warning("webhooks: subscription %s disabled: %s", subscription.id, reason)
        else:
            logger.info(
                "webhooks: %s position %s attempt %s failed (%s); next at %s",
                subscription.id,
                event_position,
                attempt,
                answer.error or answer.status,
                next_attempt_at,
            )

    # ----------------------------------------------------------------------- the next event
    def _next_event(self, subscription: Subscription) -> tuple[int, dict[str, Any] | None]:
        """The first event after the subscription's position its filter matches, and the position
        of the last event before it that it does not (the position itself if none): (skipped_to,
        item); item None when no event after the position matches yet."""
        event_filter = self._filter_of(subscription)
        records = self.delivery.application
        skipped_to = subscription.position
        for item in self._items_after(subscription):
            if event_filter.matches(item, records):
                return skipped_to, item
            skipped_to = item["position"]
        return skipped_to, None

    def _items_after(self, subscription: Subscription) -> list[dict[str, Any]]:
        """The feed after the subscription's position: from the batch read last time while that
        still covers it (the log only grows, so a batch read after P holds every event from P to
        its last), else a new batch."""
        position = subscription.position
        generation, after, items = self._window
        if generation == subscription.generation and after <= position and items and items[-1]["position"] > position:
            return [item for item in items if item["position"] > position]
        items = self.delivery.feed(after=position, limit=FEED_BATCH)
        self._window = (subscription.generation, position, items)
        return items

    def _filter_of(self, subscription: Subscription) -> EventFilter:
        """The subscription's filter, new for each generation: a filter keeps state read along the
        log (the parties of a force's collaborations), which a replay from elsewhere would make
        wrong."""
        key = (subscription.event_types, subscription.collaboration_id, subscription.force, subscription.generation)
        if self._filter is None or self._filter[0] != key:
            self._filter = (key, EventFilter.of(*key[:3]))
        return self._filter[1]

    # ----------------------------------------------------------------------- the lease
    def _hold_lease(self, subscription: Subscription, now: datetime) -> bool:
        """Whether this worker holds the subscription's lease, renewing it once half has passed."""
        lease = self.delivery.settings.lease_seconds
        if (
            self._lease_until is not None
            and subscription.lease_owner == self.delivery.owner
            and now < self._lease_until - timedelta(seconds=lease / 2)
        ):
            return True
        until = now + timedelta(seconds=lease)
        gone = subscription.lease_owner if owner_is_gone(subscription.lease_owner) else None
        held = self.delivery.store.claim(
            subscription.id,
            self.delivery.owner,
            until=recorded_at_text(until),
            now=recorded_at_text(now),
            taking_over=gone,
        )
        if held and gone:
            logger.info("webhooks: took subscription %s over from %s, which has stopped", subscription.id, gone)
        self._lease_until = until if held else None
        return held

    def _release(self) -> None:
        self._lease_until = None
        try:
            self.delivery.store.release(self.subscription_id, self.delivery.owner)
        except Exception:
            logger.warning("webhooks: could not release subscription %s; its lease expires", self.subscription_id)

    # ----------------------------------------------------------------------- waiting
    def _wait_for_events(self) -> None:
        if self.doorbell is None:
            self.stop.wait(self.poll_interval)
        else:
            self._rung = self.doorbell.wait(self._rung, timeout=IDLE_WAIT)


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
