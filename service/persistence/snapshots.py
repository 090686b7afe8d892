"""Which snapshots are kept: a bounded set per aggregate, pruned in the transaction that inserts
a new one (or by ``flask snapshots prune`` for a store that kept every snapshot).

The application takes a snapshot of an aggregate every ``interval`` events (500). Each holds the
aggregate's whole state, which grows with its history, so keeping every one made the snapshot
bytes grow with the square of the stream's length (448 MiB of snapshots for 14.5 MiB of events
on one 50,000-event collaboration). Snapshots are only a cache: the events are the record, and a
read that finds no snapshot at or below the version it wants replays from the start and is just
as correct. So of the snapshots of one stream, whose latest is at version ``M``, only these are
kept (``SnapshotRetention.keeps``):

- **the latest two**: every snapshot above ``M - 2·interval`` (``M`` and ``M - interval``). A read
  now replays fewer than ``interval`` events after ``M``; so does a read as it stood in the recent
  past (from ``M - interval`` on), such as a projection resuming near the head or a recent
  ``known_at`` read;
- **the landmarks**: the snapshots at ``interval·2^k`` (500, 1,000, 2,000, 4,000, 8,000, ...),
  never deleted once taken. An older version ``v`` replays from the landmark at or below it,
  which is above ``v/2``: fewer than ``v/2`` events (fewer than ``interval`` below the first).

A stream of ``n`` events keeps at most ``log2(n/interval) + 3`` snapshots (9 at 50,000 events
instead of 100), and their versions sum to less than ``4·M``: the latest two under ``2·M``, the
landmarks, each half the next, under twice the largest, which is at most ``M``. A snapshot's
bytes grow with its version, so their bytes stay within about three to four times the latest
one's, and the snapshot bytes per event stay flat as the stream grows (``bench/snapshots.py``:
629, 647, 658 and 606 bytes per event at 5,000, 10,000, 20,000 and 50,000 events, where keeping
every snapshot grew to 9,378).

Safety. The rule depends only on a snapshot's version and the stream's latest snapshot version,
and it is monotone: a snapshot not kept under ``M`` is not kept under any later ``M' > M``
either (the window moves up, the landmarks stay). So a pruning that saw an older latest version
than there now is (a concurrent insert it could not see yet) deletes nothing the newer one needs,
and a snapshot inserted late (an older version committed after a newer one) never makes the
newer one go: the latest is always kept. Each backend takes the stream's write turn before it
reads the versions (SQLite: the insert holds the database's write lock; PostgreSQL: a
transaction-scoped advisory lock per stream), so the last insert of a stream always sees every
earlier one and leaves exactly the documented set. A reader never reads a half-pruned stream:
it selects the latest snapshot at or below its version in one statement (a consistent
snapshot of the table on both backends), then the events after it, which are never deleted; if
the snapshot it would have used was deleted before its select, it uses an earlier one and
replays more.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SnapshotRetention:
    """The rule: keep the latest two snapshots of a stream and those at ``interval·2^k``."""

    interval: int

    def __post_init__(self) -> None:
        if self.interval < 1:
            raise ValueError(f"the snapshot interval must be at least 1, not {self.interval}")

    def is_landmark(self, version: int) -> bool:
        """Whether ``version`` is ``interval·2^k`` for some k >= 0 (kept for good once taken)."""
        if version < self.interval or version % self.interval:
            return False
        multiple = version // self.interval
        return multiple & (multiple - 1) == 0

    def keeps(self, version: int, latest: int) -> bool:
        """Whether the snapshot at ``version`` is kept while the stream's latest is at ``latest``."""
        return version > latest - 2 * self.interval or self.is_landmark(version)

    def prunable(self, versions: Collection[int]) -> list[int]:
        """Of one stream's snapshot versions, those to delete (ascending)."""
        if not versions:
            return []
        latest = max(versions)
        return sorted(version for version in versions if not self.keeps(version, latest))

    def kept(self, versions: Collection[int]) -> list[int]:
        """Of one stream's snapshot versions, those kept (ascending)."""
        doomed = set(self.prunable(versions))
        return sorted(version for version in versions if version not in doomed)


@dataclass
class PruneReport:
    """What pruning did (or, with ``dry_run``, would do): streams looked at, snapshots and their
    state bytes kept and deleted."""

    streams: int = 0
    kept: int = 0
    kept_bytes: int = 0
    deleted: int = 0
    deleted_bytes: int = 0
    dry_run: bool = False
    deleted_versions: dict[str, list[int]] = field(default_factory=dict)

    def add(self, stream: str, rows: Sequence[tuple[int, int]], doomed: Collection[int]) -> None:
        self.streams += 1
        for version, size in rows:
            if version in doomed:
                self.deleted += 1
                self.deleted_bytes += size
            else:
                self.kept += 1
                self.kept_bytes += size
        if doomed:
            self.deleted_versions[stream] = sorted(doomed)


class SnapshotPruning:
    """What the backends' snapshot recorders share: the rule applied to one stream inside the
    caller's transaction, and the whole store pruned stream by stream. A backend provides the SQL
    (``_sql``: ``?`` placeholders, ``{table}`` for its snapshot table), how a stream's id is
    stored, and a transaction that holds the stream's write turn."""

    retention: SnapshotRetention

    def _sql(self, statement: str) -> str:
        raise NotImplementedError

    def _stored_id(self, originator_id: Any) -> Any:
        """A stream's id as the snapshot table stores it."""
        return originator_id

    def _stream_name(self, stored_id: Any) -> str:
        """A stored stream id as the canonical UUID text (for reports)."""
        return str(stored_id)

    def _pruning_turn(self, stored_id: Any) -> AbstractContextManager[Any]:
        """A write transaction holding the stream's turn (as an insert of a snapshot takes it)."""
        raise NotImplementedError

    def _read_transaction(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _snapshot_rows(self, cursor: Any, stored_id: Any) -> list[tuple[int, int]]:
        """(version, bytes of state) of every snapshot of one stream, by version."""
        cursor.execute(
            self._sql(
                "SELECT originator_version, LENGTH(state) AS size FROM {table}"
                " WHERE originator_id = ? ORDER BY originator_version"
            ),
            (stored_id,),
        )
        return [(row["originator_version"], row["size"] or 0) for row in cursor.fetchall()]

    def _prune_stream(
        self, cursor: Any, stored_id: Any, report: PruneReport | None = None, *, dry_run: bool = False
    ) -> list[int]:
        """Inside the caller's transaction, which holds the stream's turn: deletes the stream's
        snapshots the rule does not keep; answers their versions."""
        rows = self._snapshot_rows(cursor, stored_id)
        doomed = self.retention.prunable([version for version, _ in rows])
        if doomed and not dry_run:
            cursor.executemany(
                self._sql("DELETE FROM {table} WHERE originator_id = ? AND originator_version = ?"),
                [(stored_id, version) for version in doomed],
            )
        if report is not None:
            report.add(self._stream_name(stored_id), rows, set(doomed))
        return doomed

    def _stream_ids(self, page_size: int = 500) -> Iterator[Any]:
        """Every stream with a snapshot, in pages (each page its own read)."""
        after: Any = None
        while True:
            where, params = ("", ()) if after is None else (" WHERE originator_id > ?", (after,))
            with self._read_transaction() as cursor:
                cursor.execute(
                    self._sql(f"SELECT DISTINCT originator_id FROM {{table}}{where} ORDER BY originator_id LIMIT ?"),
                    (*params, page_size),
                )
                page = [row["originator_id"] for row in cursor.fetchall()]
            yield from page
            if len(page) < page_size:
                return
            after = page[-1]

    def prune_snapshots(self, *, dry_run: bool = False) -> PruneReport:
        """Applies the rule to every stream in the store, one short transaction per stream (each
        holding that stream's turn, so a snapshot being taken meanwhile waits for it, or it for
        the snapshot): what a store that kept every snapshot needs once. With ``dry_run``,
        deletes nothing and reports what it would delete."""
        report = PruneReport(dry_run=dry_run)
        for stored_id in self._stream_ids():
            with self._pruning_turn(stored_id) as cursor:
                self._prune_stream(cursor, stored_id, report, dry_run=dry_run)
        return report

    def snapshot_usage(self, originator_id: Any | None = None) -> tuple[int, int]:
        """How many snapshots are stored and the bytes of their state (of one stream, or all)."""
        statement = "SELECT COUNT(*) AS count, SUM(LENGTH(state)) AS size FROM {table}"
        params: tuple[Any, ...] = ()
        if originator_id is not None:
            statement, params = statement + " WHERE originator_id = ?", (self._stored_id(originator_id),)
        with self._read_transaction() as cursor:
            cursor.execute(self._sql(statement), params)
            row = cursor.fetchone()
        return int(row["count"] or 0), int(row["size"] or 0)

    def snapshot_versions(self, originator_id: Any) -> list[int]:
        """The versions of one stream's stored snapshots, ascending."""
        with self._read_transaction() as cursor:
            return [version for version, _ in self._snapshot_rows(cursor, self._stored_id(originator_id))]
