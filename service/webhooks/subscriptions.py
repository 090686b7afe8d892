"""What an administrator may do with webhook subscriptions: the one entry point the API's routes
and the CLI call, and the shape of what they answer.

A subscription's secret is made here (Standard Webhooks' form: ``whsec_`` and the base64 of 32
random bytes) and answered twice only: by ``create`` and by ``rotate_secret``. No other answer,
no log line and no delivery record holds it.

Who may call these (administrators only) is the web layer's to check, as it checks every route's
token; each method checks what it is given and raises a named error (``service/errors.py``) with
nothing changed.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.forces import check_force_code
from service.errors import (
    CollaborationNotFound,
    PositionBeyondTheLog,
    UnknownEventType,
    WebhookSubscriptionNotFound,
    WebhookTargetRefused,
)
from service.event_catalogue import catalogue
from service.persistence import recorded_at_text
from service.webhooks.settings import WebhookSettings
from service.webhooks.store import DeliveryRecord, Subscription, WebhookStore
from service.webhooks.targets import TargetRefused, check_written_target, parse_target

SECRET_PREFIX = "whsec_"  # noqa: S105  (Standard Webhooks' marker of a secret, not a secret)
SECRET_BYTES = 32
BASE = "/api/v1/webhooks/subscriptions"


def published_event_types() -> frozenset[str]:
    """The event types the feed publishes, as the event catalogue lists them
    (``service/event_catalogue.py``, ``GET /api/v1/event-types``)."""
    return frozenset(entry.type for entry in catalogue().items)


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: int | None


class WebhookSubscriptions:
    """Subscriptions: create, read, pause, resume, replay, rotate the secret, delete; and each
    one's delivery log. ``records`` is the application (the log's head, whether a collaboration
    exists)."""

    def __init__(self, store: WebhookStore, records: Any, settings: WebhookSettings) -> None:
        self.store = store
        self.records = records
        self.settings = settings

    # ------------------------------------------------------------------------- commands
    def create(
        self,
        *,
        url: str,
        created_by: str,
        event_types: Iterable[str] | None = None,
        collaboration_id: str | None = None,
        force: str | None = None,
        description: str | None = None,
        start_after: int | None = None,
    ) -> tuple[dict[str, Any], str]:
        """A new active subscription, delivering the matching events after ``start_after`` (by
        default the end of the log now: only what is recorded from now on). Answers its document
        and its secret, which is not shown again."""
        self.check_target(url)
        types = sorted(set(event_types or ()))
        if unknown := [name for name in types if name not in published_event_types()]:
            raise UnknownEventType(
                f"{', '.join(unknown[:5])}: not a type of event the feed publishes; they are "
                f"{', '.join(sorted(published_event_types())[:3])}, ... (GET /api/v1/event-types lists them)",
                field="event_types",
            )
        if collaboration_id is not None:
            collaboration_id = self._existing_collaboration(collaboration_id)
        if force is not None:
            check_force_code(force, field="force")
        head = self.records.log_size()
        if start_after is None:
            start_after = head
        elif start_after > head:
            raise PositionBeyondTheLog(
                f"start_after {start_after} is beyond the end of the log ({head}): events recorded later would "
                "be skipped",
                field="start_after",
            )
        secret = new_secret()
        subscription = self.store.insert(
            subscription_id=str(uuid.uuid4()),
            url=url,
            description=description,
            event_types=types,
            collaboration_id=collaboration_id,
            force=force,
            secret=secret,
            position=start_after,
            created_by=created_by,
        )
        return self.document_of(subscription), secret

    def pause(self, subscription_id: str) -> dict[str, Any]:
        """No attempt is begun while paused; an attempt under way is finished and recorded."""
        return self.document_of(self._found(self.store.pause(str(subscription_id)), subscription_id))

    def resume(self, subscription_id: str) -> dict[str, Any]:
        """Active again, from its position, at once: a disabled one too, with its failures forgotten."""
        return self.document_of(self._found(self.store.resume(str(subscription_id)), subscription_id))

    def replay(self, subscription_id: str, *, after: int) -> dict[str, Any]:
        """Deliveries start again with the first matching event after position ``after``."""
        head = self.records.log_size()
        if after > head:
            raise PositionBeyondTheLog(
                f"after {after} is beyond the end of the log ({head}): events recorded later would be skipped",
                field="after",
            )
        return self.document_of(self._found(self.store.replay(str(subscription_id), after), subscription_id))

    def rotate_secret(self, subscription_id: str) -> tuple[dict[str, Any], str]:
        """A new secret, answered this once; every attempt from now on is signed with it."""
        secret = new_secret()
        subscription = self._found(self.store.set_secret(str(subscription_id), secret), subscription_id)
        return self.document_of(subscription), secret

    def delete(self, subscription_id: str) -> None:
        """The subscription, its secret and its delivery log are deleted; an attempt under way is
        finished and recorded nowhere."""
        if not self.store.delete(str(subscription_id)):
            raise self._not_found(subscription_id)

    # ------------------------------------------------------------------------ questions
    def subscription(self, subscription_id: str) -> dict[str, Any]:
        return self.document_of(self._found(self.store.get(str(subscription_id)), subscription_id))

    def page(self, *, after: int, limit: int) -> Page:
        """Subscriptions in the order created, after the one numbered ``after``."""
        rows = self.store.page(after=after, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return Page([self.document_of(row) for row in rows], rows[-1].seq if more else None)

    def deliveries(self, subscription_id: str, *, before: int | None, limit: int) -> Page:
        """The subscription's delivery log, newest first, the attempts numbered below ``before``."""
        self._found(self.store.get(str(subscription_id)), subscription_id)
        rows = self.store.deliveries(str(subscription_id), before=before, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return Page([delivery_document(row) for row in rows], rows[-1].id if more else None)

    def check_target(self, url: str) -> None:
        """``WebhookTargetRefused`` unless the service may send to ``url``."""
        try:
            check_written_target(parse_target(url), allow_private=self.settings.allow_private_targets)
        except TargetRefused as refused:
            raise WebhookTargetRefused(str(refused), field="url") from None

    def prune_deliveries(self, now: datetime | None = None) -> int:
        """Deletes the delivery log's rows older than ``WEBHOOKS_DELIVERY_LOG_DAYS``."""
        cutoff = (now or datetime.now(UTC)) - timedelta(days=self.settings.delivery_log_days)
        return self.store.prune_deliveries(recorded_at_text(cutoff))

    # ------------------------------------------------------------------------ documents
    @staticmethod
    def document_of(subscription: Subscription) -> dict[str, Any]:
        """A subscription as answered: never its secret, nor which worker holds it."""
        one = f"{BASE}/{subscription.id}"
        return {
            "id": subscription.id,
            "number": subscription.seq,
            "url": subscription.url,
            "description": subscription.description,
            "filter": {
                "event_types": list(subscription.event_types),
                "collaboration_id": subscription.collaboration_id,
                "force": subscription.force,
            },
            "status": subscription.status,
            "disabled_reason": subscription.disabled_reason,
            "position": subscription.position,
            "delivered": subscription.delivered,
            "failed_attempts": subscription.failed_attempts,
            "failing": {
                "attempts": subscription.attempts,
                "since": subscription.failing_since,
                "next_attempt_at": subscription.next_attempt_at,
            },
            "last_attempt_at": subscription.last_attempt_at,
            "last_delivered_at": subscription.last_delivered_at,
            "created_at": subscription.created_at,
            "created_by": subscription.created_by,
            "updated_at": subscription.updated_at,
            "links": {"self": one, "deliveries": f"{one}/deliveries"},
        }

    # ------------------------------------------------------------------------ helpers
    def _existing_collaboration(self, collaboration_id: str) -> str:
        """The collaboration's id, if one has it (not an exit case's or a benefit's)."""
        try:
            return str(self.records.collaboration(str(collaboration_id)).id)
        except CollaborationNotFound:
            raise CollaborationNotFound(f"no collaboration {collaboration_id}", field="collaboration_id") from None

    @staticmethod
    def _not_found(subscription_id: str) -> WebhookSubscriptionNotFound:
        return WebhookSubscriptionNotFound(f"no webhook subscription {subscription_id}", field="subscription_id")

    def _found(self, subscription: Subscription | None, subscription_id: str) -> Subscription:
        if subscription is None:
            raise self._not_found(subscription_id)
        return subscription


def delivery_document(record: DeliveryRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "position": record.position,
        "webhook_id": record.webhook_id,
        "attempt": record.attempt,
        "outcome": record.outcome,
        "status": record.status,
        "error": record.error,
        "latency_ms": record.latency_ms,
        "attempted_at": record.attempted_at,
        "next_attempt_at": record.next_attempt_at,
    }
