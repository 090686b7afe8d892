"""The consumer example's checks (examples/follow_events.py): an event is kept only if its hash
is the SHA-256 of its document and the document follows the last event kept in the chain."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from examples.follow_events import GENESIS, Broken, Kept, check, messages


def chained(position: int, previous: str, stream_id: str = "s-1", version: int = 1) -> dict:
    document = json.dumps(
        {
            "data": {},
            "position": position,
            "previous": previous,
            "stream_id": stream_id,
            "type": "t",
            "version": version,
        }
    )
    return {
        "position": position,
        "stream_id": stream_id,
        "version": version,
        "document": document,
        "hash": hashlib.sha256(document.encode()).hexdigest(),
    }


def test_a_chain_of_events_is_kept_in_order(tmp_path: Path) -> None:
    kept = Kept(tmp_path / "events.jsonl")
    first = chained(1, GENESIS)
    second = chained(2, first["hash"], version=2)

    kept.add(first)
    kept.add(second)

    assert (kept.position, kept.hash) == (2, second["hash"])
    assert [json.loads(line)["position"] for line in (tmp_path / "events.jsonl").read_text().splitlines()] == [1, 2]


def test_an_altered_event_is_refused() -> None:
    event = chained(1, GENESIS)
    event["document"] = event["document"].replace('"type": "t"', '"type": "u"')

    with pytest.raises(Broken, match="not the SHA-256"):
        check(event, GENESIS)


def test_an_event_whose_place_is_not_after_the_last_kept_is_refused() -> None:
    first = chained(1, GENESIS)
    third = chained(3, chained(2, first["hash"])["hash"])  # the second never arrived

    with pytest.raises(Broken, match="missing or out of order"):
        check(third, first["hash"])


def test_an_event_whose_document_names_another_stream_is_refused() -> None:
    event = chained(1, GENESIS, stream_id="s-1")
    event["stream_id"] = "s-2"

    with pytest.raises(Broken, match="stream_id"):
        check(event, GENESIS)


def test_an_event_without_its_document_is_refused() -> None:
    event = chained(1, GENESIS)
    del event["document"]

    with pytest.raises(Broken, match="without its document"):
        check(event, GENESIS)


def test_a_last_line_cut_short_by_a_crash_is_dropped_and_read_again(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    first = chained(1, GENESIS)
    path.write_text(json.dumps(first) + "\n" + '{"position": 2, "hash')

    kept = Kept(path)

    assert (kept.position, kept.hash) == (1, first["hash"])
    assert path.read_text() == json.dumps(first) + "\n"


def test_server_sent_messages_are_read_with_ids_data_and_heartbeats() -> None:
    body = b'retry: 500\n: hello\n\nid: 1\ndata: {"a":\ndata: 1}\n\n: keep-alive\n\nid: 4\n\n'

    assert list(messages(body.splitlines(keepends=True))) == [
        (None, None),
        ("1", '{"a":\n1}'),
        (None, None),
        ("4", None),
    ]
