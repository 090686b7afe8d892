"""The verifier's fast path (``verify_pages``, over plain row tuples as the stores select them)
builds exactly the canonical document of ``canonical_bytes`` and checks what ``verify_links``
checks."""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.audit import chain
from service.audit.chain import GENESIS, canonical_bytes, event_hash, verify_pages

TOPIC = "domain.collaboration:Collaboration.ReviewHeld"


def rows(size: int = 6, stream: object = None, topic: str = TOPIC, positions: list[int] | None = None) -> list[tuple]:
    """A good log; each event's hash binds the position given (by default 3, 6, 9...)."""
    stream = stream if stream is not None else uuid.UUID(int=7).hex
    positions = positions or [seq * 3 for seq in range(1, size + 1)]
    out, previous = [], GENESIS
    for seq, position in enumerate(positions, start=1):
        state = json.dumps({"n": seq, "timestamp": "2020-01-01T00:00:00+00:00"}).encode()
        digest = event_hash(
            position=position,
            stream_id=chain.stream_text(stream),
            version=seq,
            topic=topic,
            state=state,
            previous=previous,
        )
        out.append((position, stream, seq, topic, state, seq, digest))
        previous = digest
    return out


@given(
    position=st.integers(min_value=-(2**63), max_value=2**63 - 1),
    version=st.integers(min_value=-(2**63), max_value=2**63 - 1),
    topic=st.text(),
    state=st.binary(),
    stream=st.uuids(),
)
def test_the_fast_document_is_the_canonical_one(position, version, topic, state, stream):
    previous = "ab" * 32
    fast = chain._DOCUMENT % (
        state,
        position,
        previous.encode(),
        json.dumps(str(stream)).encode(),
        json.dumps(topic, ensure_ascii=False).encode(),
        version,
    )
    slow = canonical_bytes(
        position=position, stream_id=str(stream), version=version, topic=topic, state=state, previous=previous
    )
    assert fast == slow


@pytest.mark.parametrize("stream", [uuid.UUID(int=7), uuid.UUID(int=7).hex, str(uuid.UUID(int=7))])
def test_stream_ids_verify_as_any_backend_stores_them(stream):
    report = verify_pages([rows(stream=stream)])
    assert report.ok and report.events_checked == 6 and report.head_position == 18


def test_a_topic_that_needs_escaping_verifies():
    assert verify_pages([rows(topic='módule:Q"uoted\\\n')]).ok


@pytest.mark.parametrize("positions", [[3, 6, 5, 9], [3, 6, 6, 9]])
def test_positions_that_do_not_increase_are_found_even_if_the_hashes_hold(positions):
    """The store reads in position order, so this cannot come from it; the verifier does not
    rely on that."""
    report = verify_pages([rows(positions=positions)])
    assert not report.ok and report.first_bad_position == positions[2]
    assert report.problem == "positions are out of order"
    assert report.events_checked == 2


@pytest.mark.parametrize("version", [3.0, 3.5, "3", b"3", None])
def test_a_version_that_is_not_an_integer_is_malformed(version):
    good = rows()
    bad = (*good[2][:2], version, *good[2][3:])
    report = verify_pages([[*good[:2], bad, *good[3:]]])
    assert not report.ok and report.first_bad_position == good[2][0] and "malformed" in report.problem


@pytest.mark.parametrize("index", [0, 3])
@pytest.mark.parametrize(("field", "value"), [(1, "not a uuid"), (4, "text, not bytes"), (4, None), (1, None)])
def test_malformed_fields_are_found_there(index, field, value):
    good = rows()
    bad = tuple(value if i == field else item for i, item in enumerate(good[index]))
    report = verify_pages([[*good[:index], bad, *good[index + 1 :]]])
    assert not report.ok and report.first_bad_position == good[index][0]


def test_memos_are_bounded(monkeypatch):
    monkeypatch.setattr(chain, "_MEMO_LIMIT", 2)
    events = []
    previous = GENESIS
    for seq in range(1, 8):
        stream = uuid.uuid4()
        state = b"{}"
        previous = event_hash(
            position=seq, stream_id=str(stream), version=1, topic=f"t{seq}", state=state, previous=previous
        )
        events.append((seq, stream, 1, f"t{seq}", state, seq, previous))
    assert verify_pages([events[:3], events[3:]]).ok


def test_progress_is_reported_after_each_page():
    good = rows(6)
    seen: list[int] = []
    assert verify_pages([good[:4], good[4:]], progress=seen.append).ok
    assert seen == [4, 6]
