"""Snapshots and recorded times, on SQLite and PostgreSQL: an aggregate loaded from a snapshot
is the aggregate replayed from its events, and ``event_times`` finds the version known at a
time without reading the stream."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from uuid import UUID

import pytest
from eventsourcing.application import project_aggregate

from domain.collaboration import Collaboration
from domain.exit_case import ExitCase
from service.application import Caller, CollaborationRecords, recorded_at_text
from service.documents import collaboration_document
from service.errors import NotYetInEffect
from service.persistence import persistence_environment
from service.queries import RecordQueries
from tests.integration.test_application import ADMIN, establish

SNAPSHOT_INTERVAL = 20


class OftenSnapshotted(CollaborationRecords):
    """The service's application with snapshots every 20 events instead of 500, so that a test
    history of a few dozen events goes through several (the interval is configuration; what is
    tested is that a snapshot loads the aggregate its events make)."""

    snapshotting_intervals = {Collaboration: SNAPSHOT_INTERVAL, ExitCase: SNAPSHOT_INTERVAL}


@pytest.fixture
def snapshotting(database_url):
    application = OftenSnapshotted(env=persistence_environment(database_url))
    yield application
    application.close()


ON = {"effective_on": date(2013, 4, 1), "reason": "agreed"}


def busy_collaboration(records: CollaborationRecords, events: int) -> str:
    """A collaboration with every kind of state entry and at least ``events`` events."""
    collaboration_id = establish(records)
    common = {"caller": ADMIN, **ON}
    ict = records.add_function(
        collaboration_id, name="ICT", kind="enabling", host_force="west-mercia", annual_budget="10000000.00", **common
    ).result["function_id"]
    for number in range(6):  # several entries in each id-keyed dict, so their order is tested
        records.add_function(
            collaboration_id,
            name=f"Function {number}",
            kind="operational",
            host_force="warwickshire",
            annual_budget="1000.00",
            **common,
        )
        records.register_asset(
            collaboration_id,
            name=f"Asset {number}",
            cost="1000.00",
            acquired_on=date(2016, 4, 1),
            useful_life_months=60,
            funded_shares={"west-mercia": "0.5", "warwickshire": "0.5"},
            **common,
        )
    records.agree_apportionment(
        collaboration_id,
        function_id=None,
        basis="fixed_ratio",
        shares={"west-mercia": "0.69", "warwickshire": "0.31"},
        **common,
    )
    records.agree_exit_terms(
        collaboration_id,
        notice_period_months=12,
        stranded_cost_rate="0.25",
        stranded_cost_months=6,
        caps={"H5": "500000.00"},
        **common,
    )
    records.register_asset(
        collaboration_id,
        name="HQ",
        cost="3000000.00",
        acquired_on=date(2016, 4, 1),
        useful_life_months=60,
        funded_shares={"west-mercia": "0.69", "warwickshire": "0.31"},
        **common,
    )
    records.commit_contract(
        collaboration_id,
        supplier="Big ICT plc",
        function_id=ict,
        annual_value="1000000.00",
        ends_on=date(2021, 3, 31),
        break_cost="400000.00",
        **common,
    )
    records.agree_variation(collaboration_id, clause="7.2", summary="notice by letter", **common)
    version = records.collaboration(collaboration_id).version
    year = 2013
    while version < events:
        records.set_function_budget(
            collaboration_id,
            function_id=ict,
            financial_year=f"{year}/{str(year + 1)[2:]}",
            annual_budget=f"{10000000 + version}.00",
            **common,
        )
        records.hold_review(collaboration_id, outcome=f"review {version}", **common)
        version += 2
        year += 1
    records.serve_withdrawal_notice(
        collaboration_id, force="west-mercia", caller=Caller(ADMIN.actor), effective_on=date(2018, 10, 9), reason="r"
    )
    return collaboration_id


def replayed(records: CollaborationRecords, collaboration_id: str):
    """The aggregate from its events alone, ignoring snapshots."""
    events = records.events.get(UUID(collaboration_id))
    return project_aggregate(None, events)


def test_a_snapshot_is_taken_and_loads_the_same_aggregate_as_replaying_its_events(snapshotting):
    records = snapshotting
    collaboration_id = busy_collaboration(records, 3 * SNAPSHOT_INTERVAL + 7)
    snapshots = list(records.snapshots.get(UUID(collaboration_id)))
    assert [snapshot.originator_version for snapshot in snapshots] == [
        SNAPSHOT_INTERVAL,
        2 * SNAPSHOT_INTERVAL,
        3 * SNAPSHOT_INTERVAL,
    ]
    loaded = records.collaboration(collaboration_id)
    fresh = replayed(records, collaboration_id)
    assert loaded.version == fresh.version > 3 * SNAPSHOT_INTERVAL
    # The same document, in the same order (dicts keyed by ids come back from a snapshot sorted).
    assert json.dumps(collaboration_document(loaded)) == json.dumps(collaboration_document(fresh))
    assert loaded.__dict__ == fresh.__dict__
    cold = records.collaboration(collaboration_id, version=loaded.version)  # no cache: snapshot + tail
    assert json.dumps(collaboration_document(cold)) == json.dumps(collaboration_document(fresh))
    quote = RecordQueries(records).exit_quote(collaboration_id, force="west-mercia", today=date(2018, 11, 1))
    assert quote["total"] != "0.00"


def test_event_times_give_the_version_known_at_a_time(records):
    collaboration_id = establish(records)
    common = {"caller": ADMIN, **ON}
    before_any = recorded_at_text(records.events.get(UUID(collaboration_id)).__next__().timestamp)
    records.hold_review(collaboration_id, outcome="first", **common)
    events = list(records.events.get(UUID(collaboration_id)))
    first, second = (recorded_at_text(event.timestamp) for event in events)
    records.hold_review(collaboration_id, outcome="second", **common)
    side_tables = records.side_tables
    assert side_tables.version_known_at(UUID(collaboration_id), "2000-01-01T00:00:00.000000Z") is None
    assert side_tables.version_known_at(UUID(collaboration_id), before_any) == 1
    assert side_tables.version_known_at(UUID(collaboration_id), first) == 1
    assert side_tables.version_known_at(UUID(collaboration_id), second) == 2
    assert side_tables.version_known_at(UUID(collaboration_id), "9999-01-01T00:00:00.000000Z") == 3
    rows = side_tables.execute(
        "SELECT originator_version, effective_on FROM {schema}event_times WHERE originator_id = ?"
        " ORDER BY originator_version",
        (collaboration_id,),
    )
    assert [(row["originator_version"], row["effective_on"]) for row in rows] == [
        (1, "2012-03-01"),
        (2, "2013-04-01"),
        (3, "2013-04-01"),
    ]


def test_recorded_times_are_fixed_width_text_whose_order_is_time_order():
    moments = [
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))),  # before year 1 in UTC
        datetime(1, 1, 1, 1, tzinfo=UTC),
        datetime(999, 12, 31, tzinfo=UTC),
        datetime(2019, 4, 1, 9, 30, tzinfo=timezone(timedelta(hours=1))),
        datetime(2019, 4, 1, 9, 30, 0, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-1))),  # after 9999 in UTC
    ]
    texts = [recorded_at_text(moment) for moment in moments]
    assert texts == sorted(texts)
    assert {len(text) for text in texts} == {27}
    assert texts[2] == "0999-12-31T00:00:00.000000Z"
    assert texts[3] == "2019-04-01T08:30:00.000000Z"


def test_known_at_before_year_1000_is_before_everything(records):
    collaboration_id = establish(records)
    with pytest.raises(NotYetInEffect):
        records.collaboration(collaboration_id, known_at=datetime(999, 1, 1, tzinfo=UTC))
    with pytest.raises(NotYetInEffect):
        records.collaboration(collaboration_id, known_at=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))))
    late = datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-1)))
    assert records.collaboration(collaboration_id, known_at=late).version == 1


def test_known_at_reads_the_times_of_events_stored_before_event_times_existed(records):
    collaboration_id = establish(records)
    common = {"caller": ADMIN, **ON}
    records.hold_review(collaboration_id, outcome="first", **common)
    # As if versions 1 and 2 were stored by a release without event_times.
    records.side_tables.execute(
        "DELETE FROM {schema}event_times WHERE originator_id = ?", (collaboration_id,), commit=True
    )
    records.hold_review(collaboration_id, outcome="second", **common)
    first, second, third = (event.timestamp for event in records.events.get(UUID(collaboration_id)))
    assert records.collaboration(collaboration_id, known_at=first).version == 1
    assert records.collaboration(collaboration_id, known_at=second).version == 2
    assert records.collaboration(collaboration_id, known_at=third).version == 3
    with pytest.raises(NotYetInEffect):
        records.collaboration(collaboration_id, known_at=first - timedelta(microseconds=1))
