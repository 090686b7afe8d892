"""The snapshot retention rule (``service/persistence/snapshots.py``) as arithmetic: which versions
it keeps, that it never drops what a later latest keeps (so prunings that saw different latest
versions agree), and the bounds it is chosen for: O(log n) snapshots whose versions sum to at most
four times the latest (flat bytes per event when a snapshot's size grows with its version), and a
read at any version replaying at most max(interval - 1, version / 2) events."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.persistence import SnapshotRetention

RULE = SnapshotRetention(500)


def taken(latest: int, interval: int = 500) -> list[int]:
    return list(range(interval, latest + 1, interval))


def test_the_latest_two_and_the_landmarks_are_kept():
    assert RULE.kept(taken(1_000)) == [500, 1_000]
    assert RULE.kept(taken(1_500)) == [500, 1_000, 1_500]
    assert RULE.kept(taken(2_500)) == [500, 1_000, 2_000, 2_500]
    assert RULE.kept(taken(5_000)) == [500, 1_000, 2_000, 4_000, 4_500, 5_000]
    assert RULE.kept(taken(50_000)) == [500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 49_500, 50_000]
    assert RULE.prunable(taken(3_000)) == [1_500]
    assert RULE.prunable([]) == [] and RULE.kept([]) == []


def test_landmarks_are_the_interval_times_a_power_of_two():
    assert [v for v in range(1, 70_000) if RULE.is_landmark(v)] == [500 * 2**k for k in range(8)]
    with pytest.raises(ValueError):
        SnapshotRetention(0)


def test_snapshots_at_other_versions_are_kept_only_near_the_latest():
    # A snapshot taken by hand, or under another interval, is not a landmark.
    assert RULE.kept([700, 1_300, 2_100, 2_200, 3_100]) == [2_200, 3_100]  # above 3,100 - 2·500


@given(st.integers(1, 200), st.integers(1, 2_000), st.integers(0, 2_000), st.integers(1, 3_000))
def test_what_is_dropped_under_one_latest_is_dropped_under_every_later_one(interval, latest, later, version):
    rule = SnapshotRetention(interval)
    version = min(version, latest)
    if rule.keeps(version, latest + later):
        assert rule.keeps(version, latest)
    assert rule.keeps(latest, latest)


@given(st.integers(1, 100), st.integers(1, 5_000))
def test_few_snapshots_whose_versions_sum_to_at_most_four_latest(interval, multiples):
    rule = SnapshotRetention(interval)
    latest = interval * multiples
    kept = rule.kept(taken(latest, interval))
    assert len(kept) <= multiples.bit_length() + 2  # log2(latest / interval) + 3
    assert sum(kept) <= 4 * latest


@given(st.integers(1, 100), st.integers(1, 2_000), st.data())
def test_a_read_at_any_version_replays_at_most_the_interval_or_half_the_version(interval, multiples, data):
    rule = SnapshotRetention(interval)
    latest = interval * multiples
    kept = rule.kept(taken(latest, interval))
    version = data.draw(st.integers(1, latest + interval - 1))  # up to the next snapshot
    base = max((v for v in kept if v <= version), default=0)
    replayed = version - base
    assert replayed <= max(interval - 1, version // 2)
    if version >= latest - interval:  # the recent past and now
        assert replayed < interval
