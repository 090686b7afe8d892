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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol
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
    head_position: int | None = None  # the position of the event at the verified head
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


# One stored row as the verifier reads it, as a plain tuple (no per-row object is built):
# (position, stream id as stored (hex, UUID or text), version, topic, state, seq, hash).
LinkRow = tuple[int, object, int, str, bytes, int | None, str | None]
# What a checkpoint says the log held: (size, head hash) or (size, head hash, head position).
ExpectedHead = tuple[int, str] | tuple[int, str, int]

# canonical_bytes() as one bytes formatting operation: the verifier's hot loop. The stream id
# and the type go in already JSON-encoded (memoised per distinct value).
_DOCUMENT = b'{"data":%b,"position":%d,"previous":"%b","stream_id":%b,"type":%b,"version":%d}'
_MEMO_LIMIT = 100_000  # distinct stream ids or topics kept before a memo is cleared (bounded memory)
_BEFORE_ANY_POSITION = -(2**63) - 1  # below every 64-bit position, even a negative one


def verify_links(
    links: Iterable[StoredLink],
    *,
    expected_head: ExpectedHead | None = None,
    progress: Callable[[int], None] | None = None,
) -> Verification:
    """Walks the log in position order, recomputing every hash from the event and the hash
    before it. Stops at the first link that does not hold. With ``expected_head`` (a
    checkpoint's size and head hash, and optionally its head position) it also proves the log
    only grew since: the event with seq = size must still carry that hash (and sit at that
    position), and the log must reach that size."""
    return verify_pages(_as_pages(links), expected_head=expected_head, progress=progress)


def _as_pages(links: Iterable[StoredLink], page_size: int = 1000) -> Iterator[list[LinkRow]]:
    page: list[LinkRow] = []
    for link in links:
        page.append((link.position, link.stream_id, link.version, link.topic, link.state, link.seq, link.hash))
        if len(page) == page_size:
            yield page
            page = []
    if page:
        yield page


class LeafSink(Protocol):
    """Takes the leaf hash of each walked event, page by page (the Merkle tree's check)."""

    def page(self, leaves: list[bytes], positions: list[int]) -> tuple[int, str] | None: ...


def verify_pages(
    pages: Iterable[Sequence[LinkRow]],
    *,
    expected_head: ExpectedHead | None = None,
    progress: Callable[[int], None] | None = None,
    start: tuple[int, str, int] | None = None,
    tree: LeafSink | None = None,
) -> Verification:
    """``verify_links`` over pages of plain row tuples, as the stores select them: the same
    checks, in the same order, without building an object per event. ``progress`` is called
    with the number of events checked after each page.

    ``start`` (size, head hash, head position) begins the walk after a verified head instead of
    at the genesis (the pages then start after that position). ``tree`` is given each page's
    leaf hashes, SHA-256(0x00 || document), and may stop the walk at a position."""
    result = Verification()
    expected_size, expected_hash, expected_position = _unpacked(expected_head)
    streams: dict[object, bytes] = {}
    topics: dict[object, bytes] = {}
    sha256 = hashlib.sha256
    document = _DOCUMENT
    previous, previous_bytes, size, last_position = GENESIS, GENESIS.encode(), 0, _BEFORE_ANY_POSITION
    if start is not None:
        size, previous, last_position = start
        previous_bytes = previous.encode()
    leaves: list[bytes] = []
    positions: list[int] = []
    for page in pages:
        for position, stream, version, topic, state, seq, digest in page:
            if position <= last_position:
                return _failed(result, size, previous, position, "positions are out of order")
            if seq != size + 1:  # also a missing chain entry: the join gives seq None
                if seq is None or digest is None:
                    problem = "the event has no chain entry (inserted outside the service?)"
                else:
                    problem = (
                        f"chain entry numbered {seq} where {size + 1} was expected (an event was deleted or inserted)"
                    )
                return _failed(result, size, previous, position, problem)
            try:
                if type(version) is not int:  # a version stored as 3.0 or "3" is not the event that was hashed
                    raise TypeError(f"version {version!r} is not an integer")
                try:
                    stream_json = streams[stream]
                except KeyError:
                    if len(streams) >= _MEMO_LIMIT:
                        streams.clear()
                    stream_json = streams[stream] = json.dumps(stream_text(stream)).encode()  # type: ignore[arg-type]
                try:
                    topic_json = topics[topic]
                except KeyError:
                    if len(topics) >= _MEMO_LIMIT:
                        topics.clear()
                    topic_json = topics[topic] = json.dumps(topic, ensure_ascii=False).encode()
                canonical = document % (state, position, previous_bytes, stream_json, topic_json, version)
                recomputed = sha256(canonical).hexdigest()
                if tree is not None:
                    leaves.append(sha256(b"\x00" + canonical).digest())
                    positions.append(position)
            except (TypeError, ValueError, AttributeError) as error:
                return _failed(result, size, previous, position, f"the event's stored fields are malformed: {error}")
            if recomputed != digest:
                return _failed(
                    result,
                    size,
                    previous,
                    position,
                    "the event does not match its hash: its data, type, stream, version or position changed, "
                    "or the event before it was removed, replaced or moved",
                )
            if seq == expected_size:
                if digest != expected_hash:
                    return _failed(
                        result,
                        size,
                        previous,
                        position,
                        f"the log at size {expected_size} no longer ends in the checkpoint's head hash: "
                        "history was rewritten after the checkpoint",
                    )
                if expected_position is not None and position != expected_position:
                    return _failed(result, size, previous, position, _position_problem(expected_head, position))
            size = seq
            previous, previous_bytes, last_position = digest, digest.encode(), position
        if tree is not None:
            mismatch = tree.page(leaves, positions)
            leaves, positions = [], []
            if mismatch is not None:
                return _failed(result, size, previous, *mismatch)
        if progress is not None:
            progress(size)
    result.size, result.head_hash, result.events_checked = size, previous, size - (start[0] if start else 0)
    result.head_position = None if size == 0 else last_position
    if expected_head is not None and size < expected_size:
        return result.fail(
            None,
            f"the log has {size} events but the checkpoint proves it once had {expected_size}: "
            "events were removed from its end",
        )
    return result


def _position_problem(expected_head: ExpectedHead | None, position: int) -> str:
    size, _, expected_position = _unpacked(expected_head)
    return (
        f"the checkpoint signs head position {expected_position} but event {size} of the log is at position "
        f"{position}: the checkpoint does not describe this log"
    )


def _unpacked(expected_head: ExpectedHead | None) -> tuple[int, str, int | None]:
    if expected_head is None:
        return -1, "", None
    if len(expected_head) == 2:
        return expected_head[0], expected_head[1], None
    return expected_head  # type: ignore[return-value]


def _failed(result: Verification, size: int, head_hash: str, position: int | None, problem: str) -> Verification:
    """The walk stopped at ``position``: everything before it verified."""
    result.size, result.head_hash, result.events_checked = size, head_hash, size
    return result.fail(position, problem)
