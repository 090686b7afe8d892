"""The audit trail: verifies the stored log against its hash chain, and makes and keeps
signed checkpoints of it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from service.audit.chain import GENESIS, StoredLink, Verification, verify_links
from service.audit.checkpoints import Checkpoint, check_signature, sign
from service.persistence import SideTableAccess

PAGE_SIZE = 2000


class AuditTrail:
    def __init__(self, store: SideTableAccess):
        self.store = store

    def links(self, page_size: int = PAGE_SIZE) -> Iterator[StoredLink]:
        """The whole log with its chain, streamed page by page (bounded memory)."""
        after = 0
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
        the trusted key, else the key it names), then proves the log still holds its head."""
        expected_head = None
        if against is not None:
            check_signature(against, trusted_public_key)
            expected_head = (against.size, against.head_hash)
        result = verify_links(self.links(), expected_head=expected_head, progress=progress)
        if against is not None:
            result.checkpoint = against.as_dict()
        return result

    def head(self) -> tuple[int, str, int]:
        """(size, head hash, head position) of the chain as stored."""
        rows = self.store.execute("SELECT seq, position, hash FROM {schema}event_chain ORDER BY seq DESC LIMIT 1")
        if not rows:
            return 0, GENESIS, 0
        return rows[0]["seq"], rows[0]["hash"], rows[0]["position"]

    def make_checkpoint(self, key: object) -> Checkpoint:
        """Signs the current head and keeps the checkpoint. The chain is verified first: a
        checkpoint must never vouch for a log that does not verify."""
        self.store.chain_unchained()
        verification = self.verify()
        if not verification.ok:
            raise ValueError(
                f"the log does not verify at position {verification.first_bad_position}: "
                f"{verification.problem}; no checkpoint was made"
            )
        size, head_hash, head_position = verification.size, verification.head_hash, self._position_of(verification)
        created_at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        checkpoint = sign(key, size=size, head_hash=head_hash, head_position=head_position, created_at=created_at)  # type: ignore[arg-type]
        existing = self.store.execute("SELECT checkpoint FROM {schema}audit_checkpoints WHERE size = ?", (size,))
        if existing:
            return Checkpoint.from_dict(json.loads(existing[0]["checkpoint"]))
        self.store.execute(
            "INSERT INTO {schema}audit_checkpoints (size, checkpoint) VALUES (?, ?)",
            (size, json.dumps(checkpoint.as_dict(), sort_keys=True)),
            commit=True,
        )
        return checkpoint

    def _position_of(self, verification: Verification) -> int:
        if verification.size == 0:
            return 0
        rows = self.store.execute("SELECT position FROM {schema}event_chain WHERE seq = ?", (verification.size,))
        return rows[0]["position"]

    def latest_checkpoint(self) -> Checkpoint | None:
        rows = self.store.execute("SELECT checkpoint FROM {schema}audit_checkpoints ORDER BY size DESC LIMIT 1")
        return Checkpoint.from_dict(json.loads(rows[0]["checkpoint"])) if rows else None

    def checkpoints(self) -> list[Checkpoint]:
        rows = self.store.execute("SELECT checkpoint FROM {schema}audit_checkpoints ORDER BY size")
        return [Checkpoint.from_dict(json.loads(row["checkpoint"])) for row in rows]
