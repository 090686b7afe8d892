"""Recorded times follow the log's order, and what was known at a time answers the same forever
(issue 12, item 6), on SQLite and PostgreSQL alike.

An event's recorded time is fixed when the command creates it, before it commits. The log's
clock (``log_clock.closed_at``) refuses a write whose events were recorded at or before the time
the log is closed to (``RecordedOutOfOrder``, nothing written), and a ``known_at`` read closes
the log through its time before it reads; the application then runs the refused command again
with fresh events."""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.collaboration import Collaboration
from domain.values import Provenance
from service.application import Caller, CollaborationRecords, IdempotencyKey
from service.errors import NotYetInEffect
from service.persistence import (
    EventTime,
    IdempotentRequest,
    RecordedOutOfOrder,
    persistence_environment,
    recorded_at_text,
)
from service.queries import RecordQueries
from tests.integration.http_support import http_for

ADMIN = Caller("tester (admin)")
ON = {"caller": ADMIN, "effective_on": date(2012, 3, 1), "reason": "agreed by both chief constables and PCCs"}
PARTIES = ["west-mercia", "warwickshire"]


def establish(records: CollaborationRecords, name: str = "Strategic Alliance", **extra: Any) -> str:
    written = records.establish_collaboration(
        name=name, purpose="Shared services", parties=PARTIES, lead_force=PARTIES[0], **ON, **extra
    )
    return written.result["id"]


def closed_at(records: CollaborationRecords) -> str | None:
    rows = records.side_tables.execute("SELECT closed_at FROM {schema}log_clock WHERE id = 1")
    return rows[0]["closed_at"] if rows else None


def counts(records: CollaborationRecords) -> dict[str, int]:
    """How many rows the log and each table a write touches hold."""
    tables = ("event_chain", "event_times", "idempotency_keys", "merkle_nodes")
    found = {
        table: records.side_tables.execute(f"SELECT COUNT(*) AS n FROM {{schema}}{table}")[0]["n"] for table in tables
    }
    events = records.side_tables.execute(f"SELECT COUNT(*) AS n FROM {records.side_tables.events_table_sql}")
    return {**found, "events": events[0]["n"]}  # PostgreSQL's positions have gaps: count the rows


def recorded_times(records: CollaborationRecords, stream: str | UUID) -> list[str]:
    return [recorded_at_text(event.timestamp) for event in records.events.get(UUID(str(stream)))]


def microseconds(text: str, delta: int) -> str:
    return recorded_at_text(datetime.fromisoformat(text) + timedelta(microseconds=delta))


@pytest.fixture
def on_first_insert(records: CollaborationRecords) -> Iterator[Callable[[Callable[[], None]], list[int]]]:
    """Runs ``hook`` once, when the recorder is next asked to insert events, before it opens the
    insert's transaction: the command's events exist by then, with their timestamps, and are not
    yet stored. Returns the list the count of insert calls is appended to."""
    recorder = records.recorder
    original = recorder.insert_events

    def arm(hook: Callable[[], None]) -> list[int]:
        calls: list[int] = []

        def insert_events(stored_events: Any, **kwargs: Any) -> Any:
            calls.append(len(stored_events))
            if len(calls) == 1:
                hook()
            return original(stored_events, **kwargs)

        recorder.insert_events = insert_events  # type: ignore[method-assign]
        return calls

    yield arm
    recorder.insert_events = original  # type: ignore[method-assign]


# ------------------------------------------------------------------------------ the recorder
def test_a_write_recorded_at_or_before_the_clock_is_refused_and_writes_nothing(records: CollaborationRecords):
    first = establish(records)
    closed = closed_at(records)
    assert closed == recorded_times(records, first)[-1]  # the log is closed to the latest event
    collaboration = Collaboration.establish(
        name="Late",
        purpose="Shared services",
        parties=PARTIES,
        lead_force=PARTIES[0],
        provenance=Provenance(date(2012, 3, 1), "tester", "agreed"),
    )
    stored = [records.mapper.to_stored_event(event) for event in collaboration.collect_events()]
    stream = str(collaboration.id)
    before = counts(records)
    for recorded_at in (closed, microseconds(closed, -1), "2001-01-01T00:00:00.000000Z"):
        with pytest.raises(RecordedOutOfOrder, match=f"recorded at {recorded_at}"):
            records.recorder.insert_events(
                stored,
                event_times=[EventTime(stream, 1, recorded_at, "2012-03-01")],
                idempotency=IdempotentRequest("tester", f"key-{recorded_at}", "print", {"id": stream}),
            )
        assert counts(records) == before  # no event, chain entry, tree node, time or idempotency row
        assert closed_at(records) == closed
        assert records.recorder.select_events(collaboration.id) == []
    # a moment later is in order: stored, and the log is closed to it
    later = microseconds(closed, 1)
    records.recorder.insert_events(
        stored,
        event_times=[EventTime(stream, 1, later, "2012-03-01")],
        idempotency=IdempotentRequest("tester", "key-later", "print", {"id": stream}),
    )
    after = counts(records)
    for table in ("events", "event_chain", "event_times", "idempotency_keys"):
        assert after[table] == before[table] + 1, table
    assert closed_at(records) == later


def test_a_write_is_closed_to_its_latest_event_and_checked_by_its_earliest(records: CollaborationRecords):
    collaboration_id = establish(records)
    collaboration = records.collaboration(collaboration_id)
    provenance = Provenance(date(2012, 3, 1), "tester", "agreed")
    collaboration.agree_variation(clause="1", summary="one", provenance=provenance)
    collaboration.agree_variation(clause="2", summary="two", provenance=provenance)
    stored = [records.mapper.to_stored_event(event) for event in collaboration.collect_events()]
    closed = closed_at(records)
    times = [microseconds(closed, 10), microseconds(closed, 20)]
    with pytest.raises(RecordedOutOfOrder):  # its earliest is not after the clock, its latest is
        too_early = [EventTime(collaboration_id, 2, closed, None), EventTime(collaboration_id, 3, times[1], None)]
        records.recorder.insert_events(stored, event_times=too_early)
    assert closed_at(records) == closed
    in_order = [EventTime(collaboration_id, 2, times[0], None), EventTime(collaboration_id, 3, times[1], None)]
    records.recorder.insert_events(stored, event_times=in_order)
    assert closed_at(records) == times[1]


def test_a_write_without_times_is_not_checked(records: CollaborationRecords):
    establish(records)
    closed = closed_at(records)
    late = Collaboration.establish(
        name="Untimed",
        purpose="Shared services",
        parties=PARTIES,
        lead_force=PARTIES[0],
        provenance=Provenance(date(2012, 3, 1), "tester", "agreed"),
    )
    records.recorder.insert_events([records.mapper.to_stored_event(e) for e in late.collect_events()])
    assert closed_at(records) == closed
    assert counts(records)["events"] == 2


# ------------------------------------------------------------------------------ the barrier
def test_a_known_at_read_closes_the_log_through_its_time_and_only_when_it_must(records: CollaborationRecords):
    collaboration_id = establish(records)
    written = closed_at(records)
    asked = datetime.now(UTC)
    records.collaboration(collaboration_id, known_at=asked)
    closed = closed_at(records)
    assert closed is not None and closed >= recorded_at_text(asked) > written
    # a time the log is closed past already changes nothing
    records.collaboration(collaboration_id, known_at=datetime.fromisoformat(written))
    assert closed_at(records) == closed
    # a time still to come closes the log to now, no further
    future = datetime.now(UTC) + timedelta(days=1)
    records.collaboration(collaboration_id, known_at=future)
    assert closed < closed_at(records) < recorded_at_text(future)
    # a write after it is stored after it
    records.agree_variation(collaboration_id, clause="1", summary="later", **ON)
    assert recorded_times(records, collaboration_id)[-1] == closed_at(records)


# ------------------------------------------------------------------------------ the scenario
def test_a_read_between_an_events_creation_and_its_commit_stays_the_same(
    records: CollaborationRecords, on_first_insert: Callable[[Callable[[], None]], list[int]]
):
    """The command builds its event (timestamp T0); a known_at=T1 read (T1 > T0) happens before
    the event commits; the write is refused, run again and recorded after T1; the read asked
    again answers exactly as the first time."""
    collaboration_id = establish(records)
    seen: dict[str, Any] = {}

    def read_at_t1() -> None:
        seen["t1"] = datetime.now(UTC)
        seen["first"] = RecordQueries(records).collaboration(collaboration_id, known_at=seen["t1"])

    calls = on_first_insert(read_at_t1)
    key = IdempotencyKey("tester", "variation-1", "print-1")
    written = records.agree_variation(collaboration_id, clause="7", summary="late", idempotency=key, **ON)

    assert seen["first"]["version"] == 1
    assert RecordQueries(records).collaboration(collaboration_id, known_at=seen["t1"]) == seen["first"]
    assert RecordQueries(records).collaboration(collaboration_id, known_at=datetime.now(UTC))["version"] == 2
    assert written.result["version"] == 2
    times = recorded_times(records, collaboration_id)
    assert len(times) == 2 and times[1] > recorded_at_text(seen["t1"])  # recorded after the read's time
    assert len(calls) == 2  # refused once, recorded on the second attempt
    # the refused attempt left nothing behind: the key replays the recorded result, once
    again = records.agree_variation(collaboration_id, clause="7", summary="late", idempotency=key, **ON)
    assert again.replayed and again.result == written.result
    assert len(records.side_tables.execute("SELECT * FROM {schema}idempotency_keys")) == 1
    assert counts(records)["events"] == 2


def test_a_creation_overtaken_by_a_read_is_run_again_and_recorded_after_it(
    records: CollaborationRecords, on_first_insert: Callable[[Callable[[], None]], list[int]]
):
    first = establish(records, "First")
    seen: dict[str, Any] = {}

    def read_at_t1() -> None:
        seen["t1"] = datetime.now(UTC)
        seen["first"] = RecordQueries(records).collaboration(first, known_at=seen["t1"])

    calls = on_first_insert(read_at_t1)
    key = IdempotencyKey("tester", "second", "print-2")
    second = records.establish_collaboration(
        name="Second", purpose="Shared services", parties=PARTIES, lead_force=PARTIES[0], idempotency=key, **ON
    )
    with pytest.raises(NotYetInEffect):  # not known at T1, then or now
        records.collaboration(second.result["id"], known_at=seen["t1"])
    assert RecordQueries(records).collaboration(first, known_at=seen["t1"]) == seen["first"]
    [recorded] = recorded_times(records, second.result["id"])
    assert recorded > recorded_at_text(seen["t1"])
    assert len(calls) == 2
    replay = records.establish_collaboration(
        name="Second", purpose="Shared services", parties=PARTIES, lead_force=PARTIES[0], idempotency=key, **ON
    )
    assert replay.replayed and replay.result == second.result
    assert counts(records)["events"] == 2  # the refused attempt's collaboration was never stored


def test_an_exit_case_and_a_benefit_overtaken_by_a_read_are_recorded_after_it(
    records: CollaborationRecords, on_first_insert: Callable[[Callable[[], None]], list[int]]
):
    collaboration_id = establish(records)
    records.agree_exit_terms(
        collaboration_id, notice_period_months=12, stranded_cost_rate="0.25", stranded_cost_months=6, **ON
    )
    records.serve_withdrawal_notice(
        collaboration_id, force="warwickshire", **(ON | {"effective_on": date(2018, 10, 9)})
    )
    asked: list[datetime] = []

    def read_now() -> None:
        asked.append(datetime.now(UTC))
        records.collaboration(collaboration_id, known_at=asked[-1])

    calls = on_first_insert(read_now)
    case = records.open_exit_case(
        collaboration_id=collaboration_id,
        trigger="withdrawal",
        force="warwickshire",
        **(ON | {"effective_on": date(2019, 1, 10)}),
    )
    assert len(calls) == 2
    assert recorded_times(records, case.result["id"])[0] > recorded_at_text(asked[-1])

    calls = on_first_insert(read_now)
    benefit = records.identify_benefit(
        collaboration_id, title="Shared ICT savings", category="1", sub_category="1a", pillar="cost", **ON
    )
    assert len(calls) == 2
    assert recorded_times(records, benefit.result["id"])[0] > recorded_at_text(asked[-1])


def test_a_writer_whose_clock_is_behind_the_logs_waits_for_it(records: CollaborationRecords):
    """Another host, its clock 0.3 s ahead, closed the log to its time: this one's command waits
    until its own clock has passed it, rather than failing after its attempts."""
    collaboration_id = establish(records)
    ahead = recorded_at_text(datetime.now(UTC) + timedelta(seconds=0.3))
    records.side_tables.execute("UPDATE {schema}log_clock SET closed_at = ? WHERE id = 1", (ahead,), commit=True)
    records.agree_variation(collaboration_id, clause="1", summary="later", **ON)
    assert recorded_times(records, collaboration_id)[-1] > ahead
    benefit = records.identify_benefit(
        collaboration_id, title="Shared ICT savings", category="1", sub_category="1a", pillar="cost", **ON
    )
    assert recorded_times(records, benefit.result["id"])[0] > ahead


# ------------------------------------------------------------------------------ under load
def test_recorded_times_follow_the_log_and_known_at_reads_repeat_under_concurrent_writes(
    records: CollaborationRecords,
):
    """Writers on several threads (to their own collaborations and to a shared one) and a reader
    asking what was known at now, again and again. Afterwards: the log's recorded times never go
    back, and every answer the reader got is the answer it gets again."""
    shared = establish(records, "Shared")
    own = [establish(records, f"Own {n}") for n in range(4)]
    stop = threading.Event()
    answers: list[tuple[datetime, str, int]] = []

    def write(index: int) -> int:
        rng = random.Random(index)
        for step in range(12):
            target = shared if rng.random() < 0.4 else own[index % len(own)]
            records.agree_variation(target, clause=f"{index}.{step}", summary="varied", **ON)
        return index

    def read() -> None:
        while not stop.is_set():
            moment = datetime.now(UTC)
            for stream in (shared, *own):
                answers.append((moment, stream, records.collaboration(stream, known_at=moment).version))
            stop.wait(0.002)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            assert sorted(pool.map(write, range(6))) == list(range(6))
    finally:
        stop.set()
        reader.join()

    notifications = records.recorder.select_notifications(None, 10_000)
    assert len(notifications) == 5 + 6 * 12
    times = [recorded_at_text(records.mapper.to_domain_event(n).timestamp) for n in notifications]
    assert all(earlier <= later for earlier, later in itertools.pairwise(times)), "a recorded time went back"
    stored_times = {
        (row["originator_id"], row["originator_version"]): row["recorded_at"]
        for row in records.side_tables.execute("SELECT * FROM {schema}event_times")
    }
    assert [stored_times[(str(n.originator_id), n.originator_version)] for n in notifications] == times
    assert closed_at(records) >= times[-1]
    assert answers, "the reader read nothing"
    for moment, stream, version in answers:
        assert records.collaboration(stream, known_at=moment).version == version, (moment, stream)


def test_this_processs_writers_take_their_turns_in_recorded_order(sqlite_url: str):
    """Threads holding new events queue for SQLite's writer by their recorded times, so none is
    refused for a later one that got in first (unordered, most were, and some commands failed)."""
    records = CollaborationRecords(env=persistence_environment(sqlite_url))
    try:
        own = [establish(records, f"Own {n}") for n in range(8)]
        inserts: list[int] = []
        original = records.recorder.insert_events

        def insert_events(stored_events: Any, **kwargs: Any) -> Any:
            inserts.append(len(stored_events))
            return original(stored_events, **kwargs)

        records.recorder.insert_events = insert_events  # type: ignore[method-assign]

        def write(collaboration_id: str) -> None:
            for step in range(20):
                records.agree_variation(collaboration_id, clause=str(step), summary="varied", **ON)

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(write, own))
        assert len(inserts) == 8 * 20  # each command saved once: none refused, none run again
    finally:
        records.close()


# ------------------------------------------------------------------------------ the web view
def test_a_web_page_asked_for_known_at_closes_the_log_before_it_reads(database_url: str):
    """The register as it stood reads no collaboration here (there is none), so only the page's
    own call closes the log."""
    from tests.integration.test_webview import page, sign_in

    for http in http_for(database_url):
        records = http.app.extensions["records"]
        assert closed_at(records) is None
        sign_in(http)
        asked = recorded_at_text(datetime.now(UTC))
        page(http, f"/register?known_at={asked}")
        assert closed_at(records) is not None and closed_at(records) >= asked
