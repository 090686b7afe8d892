"""The hash chain over the global event log.

Every stored event gets a SHA-256 hash over one canonical JSON document that binds its
position in the global log, its stream id and version, its type (the event's topic), its
data (the stored state, which includes the recorded time ``timestamp``) and the hash of the
event before it in the global order::

    {"data":<stored state>,"position":17,"previous":"<64 hex>","stream_id":"<uuid>","type":"<topic>","version":3}

Keys are sorted and there is no whitespace. The stored state is itself canonical JSON: the
application's transcoder sorts keys, writes no whitespace, and writes decimals, dates and
timestamps as strings. So the document is built by joining bytes, without re-encoding, and an
outside verifier can rebuild it from the database alone.

``seq`` numbers the chain 1, 2, 3...: the log size at an event. Positions may have gaps
(PostgreSQL's sequence skips numbers on rolled-back inserts), so the chain links each event to
the event before it, wherever that is, and a checkpoint of size N names the event with seq N.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from uuid import UUID

GENESIS = "0" * 64


def stream_text(originator_id: UUID | str) -> str:
    """Stream ids as canonical UUID text, whatever the backend stores (hex or uuid)."""
    return str(originator_id if isinstance(originator_id, UUID) else UUID(str(originator_id)))


def canonical_bytes(*, position: int, stream_id: str, version: int, topic: str, state: bytes, previous: str) -> bytes:
    return b"".join(
        (
            b'{"data":',
            state,
            b',"position":',
            str(position).encode(),
            b',"previous":"',
            previous.encode(),
            b'","stream_id":',
            json.dumps(stream_id).encode(),
            b',"type":',
            json.dumps(topic, ensure_ascii=False).encode(),
            b',"version":',
            str(version).encode(),
            b"}",
        )
    )


def event_hash(*, position: int, stream_id: str, version: int, topic: str, state: bytes, previous: str) -> str:
    return hashlib.sha256(
        canonical_bytes(
            position=position, stream_id=stream_id, version=version, topic=topic, state=state, previous=previous
        )
    ).hexdigest()


@dataclass(frozen=True)
class StoredLink:
    """One row of the log as the verifier reads it: the event, and the chain entry stored
    for it (None where the event has no chain entry)."""

    position: int
    stream_id: str
    version: int
    topic: str
    state: bytes
    seq: int | None
    hash: str | None


@dataclass
class Verification:
    ok: bool = True
    events_checked: int = 0
    first_bad_position: int | None = None
    problem: str | None = None
    head_hash: str = GENESIS
    size: int = 0
    checkpoint: dict[str, object] | None = field(default=None)

    def fail(self, position: int | None, problem: str) -> Verification:
        self.ok = False
        self.first_bad_position = position
        self.problem = problem
        return self

    def as_report(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "events_checked": self.events_checked,
            "first_bad_position": self.first_bad_position,
            "problem": self.problem,
            "size": self.size,
            "head_hash": self.head_hash,
        }


def verify_links(
    links: Iterable[StoredLink],
    *,
    expected_head: tuple[int, str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Verification:
    """Walks the log in position order, recomputing every hash from the event and the hash
    before it. Stops at the first link that does not hold. With ``expected_head`` (a
    checkpoint's size and head hash) it also proves the log only grew since: the event with
    seq = size must still carry that hash, and the log must reach that size."""
    result = Verification()
    previous = GENESIS
    last_position: int | None = None
    for link in links:
        if last_position is not None and link.position <= last_position:
            return result.fail(link.position, "positions are out of order")
        if link.hash is None or link.seq is None:
            return result.fail(link.position, "the event has no chain entry (inserted outside the service?)")
        if link.seq != result.size + 1:
            return result.fail(
                link.position,
                f"chain entry numbered {link.seq} where {result.size + 1} was expected "
                "(an event was deleted or inserted)",
            )
        recomputed = event_hash(
            position=link.position,
            stream_id=link.stream_id,
            version=link.version,
            topic=link.topic,
            state=link.state,
            previous=previous,
        )
        if recomputed != link.hash:
            return result.fail(
                link.position,
                "the event does not match its hash: its data, type, stream, version or position changed, "
                "or the event before it was removed, replaced or moved",
            )
        if expected_head is not None and link.seq == expected_head[0] and link.hash != expected_head[1]:
            return result.fail(
                link.position,
                f"the log at size {expected_head[0]} no longer ends in the checkpoint's head hash: "
                "history was rewritten after the checkpoint",
            )
        previous = link.hash
        last_position = link.position
        result.size = link.seq
        result.head_hash = link.hash
        result.events_checked += 1
        if progress is not None and result.events_checked % 1000 == 0:
            progress(result.events_checked)
    if expected_head is not None and result.size < expected_head[0]:
        return result.fail(
            None,
            f"the log has {result.size} events but the checkpoint proves it once had {expected_head[0]}: "
            "events were removed from its end",
        )
    return result
