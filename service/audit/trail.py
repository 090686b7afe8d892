"""The audit trail: verifies the stored log against its hash chain, and makes and keeps
signed checkpoints of it.

Verification streams: it reads the log in pages of ``PAGE_SIZE`` events, each in its own short
read transaction, and keeps only the running head, so memory stays bounded however long the
log is, and writers are never held up. It does read every event, so its cost grows with the
log (see bench/README.md for the rate).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from service.audit import merkle
from service.audit.chain import GENESIS, LinkRow, StoredLink, Verification, verify_pages
from service.audit.checkpoints import Checkpoint, CheckpointInvalid, check_signature, sign
from service.audit.tree import LogTree, TreeWalk
from service.persistence import SideTableAccess

PAGE_SIZE = 2000  # events per page: a few MB at most, and few round trips


class LogDoesNotVerify(ValueError):
    """The log does not verify, so no checkpoint may vouch for it."""

    def __init__(self, verification: Verification):
        super().__init__(
            f"the log does not verify at position {verification.first_bad_position}: "
            f"{verification.problem}; no checkpoint was made"
        )
        self.verification = verification


class AuditTrail:
    def __init__(self, store: SideTableAccess):
        self.store = store

    # ------------------------------------------------------------------ verification
    def pages(self, page_size: int = PAGE_SIZE, after: int | None = None) -> Iterator[list[LinkRow]]:
        """The whole log with its chain (or what follows position ``after``), page by page as
        plain rows. The first page of the whole log has no lower bound, so even an event
        planted at position 0 or below is walked."""
        while True:
            page = self.store.select_link_rows(after, page_size)
            if page:
                yield page
            if len(page) < page_size:
                return
            after = page[-1][0]

    def links(self, page_size: int = PAGE_SIZE) -> Iterator[StoredLink]:
        """The whole log with its chain, one object per event, streamed page by page."""
        after = None
        while True:
            page = self.store.select_links(after, page_size)
            yield from page
            if len(page) < page_size:
                return
            after = page[-1].position

    def verify(
        self,
        *,
        against: Checkpoint | None = None,
        trusted_public_key: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> Verification:
        """Walks the whole log. With ``against``, first checks the checkpoint's signature (with
        the trusted key, else the key it names) and raises CheckpointInvalid, before reading
        anything, when it does not verify; then proves the log still holds its head.

        After the walk, a chain entry beyond the walked log whose event is gone proves that
        events were removed from the log's end, even without a checkpoint (with one, too, it
        names where: the first missing event's position)."""
        expected_head = None
        if against is not None:
            check_signature(against, trusted_public_key)
            expected_head = (against.size, against.head_hash, against.head_position)
        tree = TreeWalk(self.store, mark=against.size if against is not None else None)
        result = verify_pages(self.pages(), expected_head=expected_head, progress=progress, tree=tree)
        self._check_tree(result, tree, against)
        if result.ok or result.first_bad_position is None:
            orphan = self.store.first_orphan_link(result.size)
            if orphan is not None:
                seq, position = orphan
                result.fail(
                    position,
                    f"the chain records event {seq} at position {position} but the log has no event there: "
                    "events were removed from its end",
                )
        if against is not None:
            result.checkpoint = against.as_dict()
        return result

    def verify_since(
        self,
        checkpoint: Checkpoint,
        *,
        trusted_public_key: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> Verification:
        """Verifies only what is new since a checkpoint: its signature (CheckpointInvalid), the
        RFC 9162 consistency proof from its signed root to the stored tree now (so every proof
        the store serves for the first ``size`` events leads to the root the checkpoint signed),
        that the log still holds exactly ``size`` events up to its head, then the events after
        its head: their chain from its head hash, and the tree's nodes over them rebuilt from
        them. Its cost grows with what is new, not with the whole log (the count is one indexed
        query). An older event's row edited in place, the tree left alone, is not read here: a
        full ``verify`` finds it, as does that event's inclusion proof (its leaf no longer
        matches)."""
        check_signature(checkpoint, trusted_public_key)
        if checkpoint.root_hash is None:
            raise CheckpointInvalid(
                f"the checkpoint of size {checkpoint.size} predates the Merkle tree: verify against it in full"
            )
        result = Verification()
        log_tree = LogTree(self.store)
        size = log_tree.size()
        if size < checkpoint.size:
            return result.fail(None, f"the tree has {size} leaves but the checkpoint signed {checkpoint.size}")
        try:
            if checkpoint.size:
                proof = log_tree.consistency(checkpoint.size, size)
                merkle.verify_consistency(
                    checkpoint.size, size, bytes.fromhex(checkpoint.root_hash), proof.new_root, proof.path
                )
            tree = TreeWalk(self.store, start=checkpoint.size)
        except (ValueError, LookupError) as error:
            return result.fail(
                None,
                f"the stored tree does not extend the checkpoint's tree of {checkpoint.size} events: {error}; "
                "history before it was rewritten",
            )
        signed = self.store.execute(
            f"SELECT COUNT(*) AS n FROM {self.store.events_table_sql} WHERE {self.store.position_column} <= ?",
            (checkpoint.head_position,),
        )[0]["n"]
        if checkpoint.size and signed != checkpoint.size:
            return result.fail(
                None,
                f"the log holds {signed} events up to the checkpoint's head, which signed {checkpoint.size}: "
                "events were added or removed before it (run a full verify to find where)",
            )
        start = (checkpoint.size, checkpoint.head_hash, checkpoint.head_position)
        result = verify_pages(
            self.pages(after=checkpoint.head_position if checkpoint.size else None),
            start=start,
            progress=progress,
            tree=tree,
        )
        self._check_tree(result, tree, None)
        if result.ok:
            orphan = self.store.first_orphan_link(result.size)
            if orphan is not None:
                result.fail(orphan[1], "the chain records an event the log no longer has: events were removed")
        result.checkpoint = checkpoint.as_dict()
        return result

    def _check_tree(self, result: Verification, tree: TreeWalk, against: Checkpoint | None) -> None:
        """After a walk that verified: the tree rebuilt from the events has the stored root, and
        the root the checkpoint signs at its size."""
        if not result.ok:
            return
        signed_root = against.root_hash if against is not None else None
        if signed_root is not None and tree.marked_root is not None and tree.marked_root.hex() != signed_root:
            result.fail(
                None,
                f"the Merkle tree rebuilt from the log's first {tree.mark} events has another root than "
                "the checkpoint signs: history was rewritten after the checkpoint",
            )
            return
        if tree.complete and tree.size and tree.size <= tree.stored_size:
            stored = LogTree(self.store).root(tree.size)
            if stored != tree.root():
                result.fail(None, "the stored Merkle tree's root is not the root of the log's events")

    def log_count(self) -> int:
        """How many events the log holds (for progress; positions may have gaps)."""
        return self.store.execute(f"SELECT count(*) AS n FROM {self.store.events_table_sql}")[0]["n"]

    def head(self) -> tuple[int, str, int]:
        """(size, head hash, head position) of the chain as stored."""
        rows = self.store.execute("SELECT seq, position, hash FROM {schema}event_chain ORDER BY seq DESC LIMIT 1")
        if not rows:
            return 0, GENESIS, 0
        return rows[0]["seq"], rows[0]["hash"], rows[0]["position"]

    # ------------------------------------------------------------------- checkpoints
    def make_checkpoint(self, key: Ed25519PrivateKey, origin: str | None = None) -> Checkpoint:
        """Signs the current head and keeps the checkpoint. The whole log is verified first: a
        checkpoint never vouches for a log that does not verify (LogDoesNotVerify), so an event
        without a chain entry blocks it. If a checkpoint of this size is already kept, that one
        is the answer (one checkpoint per size).

        The checkpoint also signs the Merkle tree's root at its size (brought up to the chain
        first), as ``root_hash`` and as a C2SP signed note named ``origin`` (default: after the
        key), which the parties' witnesses cosign."""
        verification = self.verify()
        if not verification.ok:
            raise LogDoesNotVerify(verification)
        self.store.catch_up_tree()
        checkpoint = sign(
            key,
            size=verification.size,
            head_hash=verification.head_hash,
            head_position=verification.head_position or 0,
            created_at=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            root=LogTree(self.store).root(verification.size),
            origin=origin,
        )
        self.store.execute(
            "INSERT INTO {schema}audit_checkpoints (size, checkpoint) VALUES (?, ?) ON CONFLICT (size) DO NOTHING",
            (checkpoint.size, json.dumps(checkpoint.as_dict(), sort_keys=True)),
            commit=True,
        )
        kept = self.checkpoint(checkpoint.size)
        assert kept is not None
        return kept

    def checkpoint(self, size: int) -> Checkpoint | None:
        """The kept checkpoint of this log size, if any."""
        rows = self.store.execute("SELECT checkpoint FROM {schema}audit_checkpoints WHERE size = ?", (size,))
        return _parse(rows[0]["checkpoint"]) if rows else None

    def latest_checkpoint(self) -> Checkpoint | None:
        rows = self.store.execute("SELECT checkpoint FROM {schema}audit_checkpoints ORDER BY size DESC LIMIT 1")
        return _parse(rows[0]["checkpoint"]) if rows else None

    def checkpoints(self) -> list[Checkpoint]:
        rows = self.store.execute("SELECT checkpoint FROM {schema}audit_checkpoints ORDER BY size")
        return [_parse(row["checkpoint"]) for row in rows]


def _parse(text: str) -> Checkpoint:
    """A kept checkpoint. Its signature is not checked here: whoever relies on it checks it
    with the public key they trust (``check_signature``)."""
    try:
        data = json.loads(text)
    except (TypeError, ValueError) as error:
        raise CheckpointInvalid(f"a kept checkpoint is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise CheckpointInvalid("a kept checkpoint is not a JSON object")
    return Checkpoint.from_dict(data)
