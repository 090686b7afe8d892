"""A projection's aggregate cache holds recently seen streams up to a number of events in all."""

from dataclasses import dataclass
from uuid import UUID, uuid4

from projections.tracked import AggregateCache


@dataclass
class Stream:
    id: UUID
    version: int


def test_it_holds_as_many_streams_as_fit_in_its_events():
    cache = AggregateCache(events=1000)
    streams = [Stream(uuid4(), 100) for _ in range(12)]
    cache.give(streams)
    assert len(cache) == 10  # 10 x 100 events fit; the two given first went
    assert cache.take(streams[0].id) is None and cache.take(streams[1].id) is None
    assert cache.take(streams[11].id) is streams[11]
    assert len(cache) == 9


def test_one_stream_larger_than_the_budget_is_still_kept():
    cache = AggregateCache(events=1000)
    small, large = Stream(uuid4(), 10), Stream(uuid4(), 50_000)
    cache.give([small, large])
    assert len(cache) == 1
    assert cache.take(large.id) is large


def test_the_newer_version_wins_and_is_counted_once():
    cache = AggregateCache(events=300)
    stream_id = uuid4()
    cache.give([Stream(stream_id, 100)])
    cache.give([Stream(stream_id, 50)])  # older: ignored
    cache.give([Stream(stream_id, 200)])
    other = Stream(uuid4(), 100)
    cache.give([other])  # 200 + 100 fit
    assert len(cache) == 2
    assert cache.take(stream_id).version == 200
    cache.give([Stream(uuid4(), 250)])  # 100 + 250 do not: the least recently given goes
    assert cache.take(other.id) is None
