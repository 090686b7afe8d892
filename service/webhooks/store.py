"""Where webhook subscriptions, their delivery positions and their delivery log are kept.

Not in the event log: the log is public through the feed, and a subscription holds the secret its
deliveries are signed with. Instead, the service's own storage beside it:

- **SQLite**: a database of its own beside the store (``WEBHOOKS_SQLITE_DBNAME``, e.g.
  ``instance/records.webhooks.sqlite3``; in memory for ``memory://``), as each projection has.
  The delivery worker writes a row per attempt; in a file of its own that never waits for, nor
  holds up, the writers of events.
- **PostgreSQL**: tables ``webhook_subscriptions`` and ``webhook_deliveries`` in the store's
  schema, on the process's one pool (``SharedPostgresDatastore``).

Two tables:

- ``webhook_subscriptions``: one row per subscription: its target, filter and secret; its
  ``status`` (active, paused, disabled, and why); ``position``, the log position it has been
  delivered through; the failures at the event after it (``attempts``, ``failing_since``,
  ``next_attempt_at``); counts; and the lease of the worker delivering it (``lease_owner``,
  ``lease_expires_at``), so that several worker processes (one per host) never deliver one
  subscription at once. ``generation`` changes with every replay, so that an attempt begun
  before a replay cannot move the replayed position.
- ``webhook_deliveries``: the delivery log, one row per attempt.

**The position moves only with the delivery record that moves it.** ``record_attempt`` inserts an
attempt's row and updates the subscription's position, failure count and next attempt in ONE
transaction, and only if the subscription is still at the position (and generation) the attempt
was made from: a compare-and-set, as a projection's tracking record refuses a position that does
not follow. A worker killed at any moment therefore resumes exactly after the last recorded
success: the event in flight is sent again (with the same ``webhook-id``), nothing is lost and
nothing is sent out of order. (The library's tracking table does not fit here: its position may
only increase, and a replay moves it back.)

Times are stored as fixed-width RFC 3339 UTC text (``recorded_at_text``), so text order is time
order on both backends.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from eventsourcing.postgres import PostgresFactory
from eventsourcing.sqlite import SQLiteDatastore, SQLiteFactory

from service.persistence import (
    WEBHOOKS_DATABASE,
    create_tables_despite_a_race,
    immediate_transaction,
    recorded_at_text,
    schema_lock,
    use_wal,
)

ACTIVE, PAUSED, DISABLED = "active", "paused", "disabled"
STATUSES = (ACTIVE, PAUSED, DISABLED)
# What an attempt came to, as the delivery log says it.
DELIVERED = "delivered"  # a 2xx: the subscription's position moved to the event
RETRYING = "retrying"  # it failed; the next attempt is at next_attempt_at
GAVE_UP = "gave_up"  # it failed once too often: the subscription was disabled
SUPERSEDED = "superseded"  # a replay moved the position while it was in flight: it moved nothing
OUTCOMES = (DELIVERED, RETRYING, GAVE_UP, SUPERSEDED)

SUBSCRIPTIONS = "{schema}webhook_subscriptions"
DELIVERIES = "{schema}webhook_deliveries"


def now_text() -> str:
    return recorded_at_text(datetime.now(UTC))


@dataclass(frozen=True)
class Subscription:
    """A subscription as stored. ``secret`` is left out of its repr, so that a log line or a
    traceback that shows a subscription never shows its secret."""

    id: str
    seq: int
    url: str
    description: str | None
    event_types: tuple[str, ...]
    collaboration_id: str | None
    force: str | None
    status: str
    disabled_reason: str | None
    position: int
    generation: int
    attempts: int
    failing_since: str | None
    next_attempt_at: str | None
    delivered: int
    failed_attempts: int
    last_attempt_at: str | None
    last_delivered_at: str | None
    created_at: str
    created_by: str
    updated_at: str
    lease_owner: str | None
    lease_expires_at: str | None
    secret: str = field(repr=False)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Subscription:
        values = dict(row)
        values["event_types"] = tuple(json.loads(values["event_types"]))
        return cls(**values)


@dataclass(frozen=True)
class DeliveryRecord:
    """One attempt to deliver one event to one subscription."""

    id: int
    subscription_id: str
    position: int
    webhook_id: str
    attempt: int
    outcome: str
    status: int | None
    error: str | None
    latency_ms: int
    attempted_at: str
    next_attempt_at: str | None


@dataclass(frozen=True)
class AttemptResult:
    """What one attempt came to, to be recorded: the HTTP status (None when no answer came) or
    the error, how long it took, and what happens next (``next_attempt_at`` for a retry,
    ``disabled_reason`` when the subscription is given up)."""

    position: int
    webhook_id: str
    attempt: int
    status: int | None
    error: str | None
    latency_ms: int
    attempted_at: str
    succeeded: bool
    next_attempt_at: str | None = None
    disabled_reason: str | None = None


_SUBSCRIPTION_COLUMNS = (
    "id, seq, url, description, event_types, collaboration_id, force, status, disabled_reason, position,"
    " generation, attempts, failing_since, next_attempt_at, delivered, failed_attempts, last_attempt_at,"
    " last_delivered_at, created_at, created_by, updated_at, lease_owner, lease_expires_at, secret"
)
_DELIVERY_COLUMNS = (
    "id, subscription_id, position, webhook_id, attempt, outcome, status, error, latency_ms, attempted_at,"
    " next_attempt_at"
)


def create_statements(serial_key: str) -> list[str]:
    """The tables, in SQL for both backends (``serial_key``: each dialect's growing integer key)."""
    return [
        f"CREATE TABLE IF NOT EXISTS {SUBSCRIPTIONS} ("
        " id TEXT NOT NULL UNIQUE,"
        f" seq {serial_key},"
        " url TEXT NOT NULL,"
        " description TEXT,"
        " event_types TEXT NOT NULL,"  # a JSON list, sorted; empty: every type
        " collaboration_id TEXT,"
        " force TEXT,"
        " secret TEXT NOT NULL,"
        " status TEXT NOT NULL,"
        " disabled_reason TEXT,"
        " position BIGINT NOT NULL,"
        " generation BIGINT NOT NULL,"
        " attempts INTEGER NOT NULL,"
        " failing_since TEXT,"
        " next_attempt_at TEXT,"
        " delivered BIGINT NOT NULL,"
        " failed_attempts BIGINT NOT NULL,"
        " last_attempt_at TEXT,"
        " last_delivered_at TEXT,"
        " created_at TEXT NOT NULL,"
        " created_by TEXT NOT NULL,"
        " updated_at TEXT NOT NULL,"
        " lease_owner TEXT,"
        " lease_expires_at TEXT)",
        f"CREATE TABLE IF NOT EXISTS {DELIVERIES} ("
        f" id {serial_key},"
        " subscription_id TEXT NOT NULL,"
        " position BIGINT NOT NULL,"
        " webhook_id TEXT NOT NULL,"
        " attempt INTEGER NOT NULL,"
        " outcome TEXT NOT NULL,"
        " status INTEGER,"
        " error TEXT,"
        " latency_ms INTEGER NOT NULL,"
        " attempted_at TEXT NOT NULL,"
        " next_attempt_at TEXT)",
        f"CREATE INDEX IF NOT EXISTS webhook_deliveries_by_subscription ON {DELIVERIES} (subscription_id, id)",
        f"CREATE INDEX IF NOT EXISTS webhook_deliveries_by_time ON {DELIVERIES} (attempted_at)",
    ]


class WebhookStore:
    """The two tables, on either backend: plain SQL written once with ``?`` placeholders and a
    ``{schema}`` prefix (as the side tables are), each call one short transaction. Nothing here
    holds a transaction open across an HTTP call."""

    def __init__(self, datastore: Any, *, postgres: bool) -> None:
        self.datastore = datastore
        self.postgres = postgres
        self._owns_datastore = not postgres  # PostgreSQL: the application's pool, the application's to close

    @classmethod
    def for_application(cls, env: Mapping[str, str], application: Any) -> WebhookStore:
        """The store of the application's backend: on PostgreSQL the application's pool and schema;
        on SQLite the database ``WEBHOOKS_SQLITE_DBNAME`` names (``sqlite_environment`` sets it)."""
        factory = application.factory
        if isinstance(factory, PostgresFactory):
            store = cls(factory.datastore, postgres=True)
        elif isinstance(factory, SQLiteFactory):
            key = f"{WEBHOOKS_DATABASE.upper()}_SQLITE_DBNAME"
            name = env.get(key)
            if not name:
                raise OSError(f"{key} is not set: the webhooks need a SQLite database of their own beside the store")
            use_wal(name)
            lock_timeout = int(env.get("SQLITE_LOCK_TIMEOUT") or 30)
            # Every subscription's thread of a worker may want a connection at once, each briefly.
            datastore = SQLiteDatastore(name, lock_timeout=lock_timeout, max_overflow=50, pool_timeout=lock_timeout)
            store = cls(datastore, postgres=False)
        else:
            raise TypeError(f"webhooks need SQLite or PostgreSQL, not {type(factory).__module__}")
        try:
            store.create_tables()
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        if self._owns_datastore:
            self._owns_datastore = False
            self.datastore.close()

    # ------------------------------------------------------------------------ plumbing
    def sql(self, statement: str) -> str:
        if self.postgres:
            schema = self.datastore.schema.replace('"', '""')
            return statement.replace("{schema}", f'"{schema}".').replace("?", "%s")
        return statement.replace("{schema}", "")

    def create_tables(self) -> None:
        if self.postgres:
            statements = create_statements("BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
            with schema_lock(self.datastore), self.datastore.transaction(commit=True) as cursor:
                for statement in statements:
                    cursor.execute(self.sql(statement))
            return
        statements = create_statements("INTEGER PRIMARY KEY AUTOINCREMENT")  # never reused: cursors stay true

        def create() -> None:
            with self._write() as cursor:
                for statement in statements:
                    cursor.execute(self.sql(statement))

        create_tables_despite_a_race(create)

    def _write(self) -> AbstractContextManager[Any]:
        """A write transaction. On SQLite it takes the database's write lock first (``BEGIN
        IMMEDIATE``): a deferred transaction that read and then wrote could be refused at once,
        without waiting, when another process wrote in between."""
        if self.postgres:
            return self.datastore.transaction(commit=True)
        return immediate_transaction(self.datastore)

    def _read(self) -> AbstractContextManager[Any]:
        return self.datastore.transaction(commit=False)

    def _rows(self, statement: str, params: Sequence[Any] = (), *, write: bool = False) -> list[dict[str, Any]]:
        with self._write() if write else self._read() as cursor:
            cursor.execute(self.sql(statement), tuple(params))
            return [dict(row) for row in cursor.fetchall()] if self._has_rows(cursor) else []

    def _has_rows(self, cursor: Any) -> bool:
        inner = getattr(cursor, "sqlite_cursor", cursor)
        return inner.description is not None

    # ----------------------------------------------------------------- subscriptions
    def insert(
        self,
        *,
        subscription_id: str,
        url: str,
        description: str | None,
        event_types: Sequence[str],
        collaboration_id: str | None,
        force: str | None,
        secret: str,
        position: int,
        created_by: str,
    ) -> Subscription:
        now = now_text()
        rows = self._rows(
            f"INSERT INTO {SUBSCRIPTIONS} (id, url, description, event_types, collaboration_id, force, secret, status,"
            " position, generation, attempts, delivered, failed_attempts, created_at, created_by, updated_at)"
            f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 0, 0, 0, ?, ?, ?) RETURNING {_SUBSCRIPTION_COLUMNS}",
            (
                subscription_id,
                url,
                description,
                json.dumps(sorted(event_types)),
                collaboration_id,
                force,
                secret,
                ACTIVE,
                position,
                now,
                created_by,
                now,
            ),
            write=True,
        )
        return Subscription.from_row(rows[0])

    def get(self, subscription_id: str) -> Subscription | None:
        rows = self._rows(f"SELECT {_SUBSCRIPTION_COLUMNS} FROM {SUBSCRIPTIONS} WHERE id = ?", (subscription_id,))
        return Subscription.from_row(rows[0]) if rows else None

    def page(self, *, after: int, limit: int) -> list[Subscription]:
        """Subscriptions in the order created, after the one numbered ``after`` (its ``seq``)."""
        rows = self._rows(
            f"SELECT {_SUBSCRIPTION_COLUMNS} FROM {SUBSCRIPTIONS} WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
        )
        return [Subscription.from_row(row) for row in rows]

    def active_ids(self) -> list[str]:
        rows = self._rows(f"SELECT id FROM {SUBSCRIPTIONS} WHERE status = ? ORDER BY seq", (ACTIVE,))
        return [row["id"] for row in rows]

    def _update(self, subscription_id: str, assignments: str, params: Sequence[Any]) -> Subscription | None:
        rows = self._rows(
            f"UPDATE {SUBSCRIPTIONS} SET {assignments}, updated_at = ? WHERE id = ? RETURNING {_SUBSCRIPTION_COLUMNS}",
            (*params, now_text(), subscription_id),
            write=True,
        )
        return Subscription.from_row(rows[0]) if rows else None

    def pause(self, subscription_id: str) -> Subscription | None:
        """Paused: no attempt is begun until it is resumed (an attempt in flight is recorded)."""
        return self._update(subscription_id, "status = CASE WHEN status = ? THEN ? ELSE status END", (ACTIVE, PAUSED))

    def resume(self, subscription_id: str) -> Subscription | None:
        """Active again, from where it stopped, at once: the failures counted so far are forgotten
        (a disabled subscription's too), so the next attempt is the first of a new run."""
        return self._update(
            subscription_id,
            "status = ?, disabled_reason = NULL, attempts = 0, failing_since = NULL, next_attempt_at = NULL",
            (ACTIVE,),
        )

    def replay(self, subscription_id: str, after: int) -> Subscription | None:
        """Deliveries start again after log position ``after`` (back or forward), at once; a new
        generation, so an attempt in flight from the old position moves nothing."""
        return self._update(
            subscription_id,
            "position = ?, generation = generation + 1, attempts = 0, failing_since = NULL, next_attempt_at = NULL",
            (after,),
        )

    def set_secret(self, subscription_id: str, secret: str) -> Subscription | None:
        return self._update(subscription_id, "secret = ?", (secret,))

    def delete(self, subscription_id: str) -> bool:
        """Deletes the subscription, its secret and its delivery log, in one transaction."""
        with self._write() as cursor:
            cursor.execute(self.sql(f"DELETE FROM {DELIVERIES} WHERE subscription_id = ?"), (subscription_id,))
            cursor.execute(self.sql(f"DELETE FROM {SUBSCRIPTIONS} WHERE id = ? RETURNING id"), (subscription_id,))
            return cursor.fetchone() is not None

    # ----------------------------------------------------------------- the delivery log
    def deliveries(self, subscription_id: str, *, before: int | None, limit: int) -> list[DeliveryRecord]:
        """The subscription's attempts, newest first, those numbered below ``before`` (all with None)."""
        bound = " AND id < ?" if before is not None else ""
        params: tuple[Any, ...] = (subscription_id, before, limit) if before is not None else (subscription_id, limit)
        rows = self._rows(
            f"SELECT {_DELIVERY_COLUMNS} FROM {DELIVERIES} WHERE subscription_id = ?{bound} ORDER BY id DESC LIMIT ?",
            params,
        )
        return [DeliveryRecord(**row) for row in rows]

    def prune_deliveries(self, attempted_before: str, batch_size: int = 1000) -> int:
        """Deletes the delivery log's rows older than ``attempted_before``, oldest first, a batch to a
        transaction; answers how many. The subscriptions' positions are not in the log: pruning it
        changes nothing about what is delivered."""
        deleted = 0
        while True:
            rows = self._rows(
                f"DELETE FROM {DELIVERIES} WHERE id IN (SELECT id FROM {DELIVERIES} WHERE attempted_at < ?"
                " ORDER BY attempted_at LIMIT ?) RETURNING id",
                (attempted_before, batch_size),
                write=True,
            )
            deleted += len(rows)
            if len(rows) < batch_size:
                return deleted

    # ----------------------------------------------------------------- the worker's lease
    def claim(self, subscription_id: str, owner: str, *, until: str, now: str, taking_over: str | None = None) -> bool:
        """Whether ``owner`` holds the subscription's lease until ``until`` (taken or renewed): it
        is free, expired, already ``owner``'s, or held by ``taking_over`` (a worker known to be dead)."""
        steal = " OR lease_owner = ?" if taking_over else ""
        params: tuple[Any, ...] = (owner, until, subscription_id, owner, now)
        if taking_over:
            params = (*params, taking_over)
        rows = self._rows(
            f"UPDATE {SUBSCRIPTIONS} SET lease_owner = ?, lease_expires_at = ? WHERE id = ? AND (lease_owner IS NULL"
            f" OR lease_owner = ? OR lease_expires_at < ?{steal}) RETURNING id",
            params,
            write=True,
        )
        return bool(rows)

    def release(self, subscription_id: str, owner: str) -> None:
        self._rows(
            f"UPDATE {SUBSCRIPTIONS} SET lease_owner = NULL, lease_expires_at = NULL"
            " WHERE id = ? AND lease_owner = ? RETURNING id",
            (subscription_id, owner),
            write=True,
        )

    # ----------------------------------------------------------------- moving the position
    def skip(self, subscription_id: str, *, generation: int, position: int, to: int) -> bool:
        """Moves the position over events the subscription does not want (nothing to deliver, so
        nothing to log), if it is still at ``position`` in ``generation``."""
        rows = self._rows(
            f"UPDATE {SUBSCRIPTIONS} SET position = ? WHERE id = ? AND generation = ? AND position = ? RETURNING id",
            (to, subscription_id, generation, position),
            write=True,
        )
        return bool(rows)

    def record_attempt(self, subscription_id: str, *, generation: int, position: int, result: AttemptResult) -> str:
        """Records one attempt and what it changes, in ONE transaction: the delivery log's row, and,
        if the subscription is still at ``position`` in ``generation``, its new position (a success
        moves it to the event's), its failures and next attempt, or its disabling. Answers the
        outcome logged: ``superseded`` when a replay (or a delete) got there first and the attempt
        moved nothing (a deleted subscription logs nothing)."""
        now = result.attempted_at
        with self._write() as cursor:
            if result.succeeded:
                cursor.execute(
                    self.sql(
                        f"UPDATE {SUBSCRIPTIONS} SET position = ?, attempts = 0, failing_since = NULL,"
                        " next_attempt_at = NULL, delivered = delivered + 1, last_attempt_at = ?,"
                        " last_delivered_at = ? WHERE id = ? AND generation = ? AND position = ? RETURNING id"
                    ),
                    (result.position, now, now, subscription_id, generation, position),
                )
                outcome = DELIVERED
            else:
                disabling = result.disabled_reason is not None
                if disabling:
                    change = "status = ?, disabled_reason = ?, updated_at = ?, next_attempt_at = NULL"
                    change_params: tuple[Any, ...] = (DISABLED, result.disabled_reason, now)
                else:
                    change, change_params = "next_attempt_at = ?", (result.next_attempt_at,)
                cursor.execute(
                    self.sql(
                        f"UPDATE {SUBSCRIPTIONS} SET attempts = ?, failing_since = COALESCE(failing_since, ?),"
                        f" failed_attempts = failed_attempts + 1, last_attempt_at = ?, {change}"
                        " WHERE id = ? AND generation = ? AND position = ? RETURNING id"
                    ),
                    (result.attempt, now, now, *change_params, subscription_id, generation, position),
                )
                outcome = GAVE_UP if disabling else RETRYING
            if cursor.fetchone() is None:
                cursor.execute(self.sql(f"SELECT id FROM {SUBSCRIPTIONS} WHERE id = ?"), (subscription_id,))
                if cursor.fetchone() is None:
                    return SUPERSEDED  # deleted meanwhile: its log went with it
                outcome = SUPERSEDED
            cursor.execute(
                self.sql(
                    f"INSERT INTO {DELIVERIES} (subscription_id, position, webhook_id, attempt, outcome, status, error,"
                    " latency_ms, attempted_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                (
                    subscription_id,
                    result.position,
                    result.webhook_id,
                    result.attempt,
                    outcome,
                    result.status,
                    result.error,
                    result.latency_ms,
                    now,
                    result.next_attempt_at if outcome == RETRYING else None,
                ),
            )
        return outcome
