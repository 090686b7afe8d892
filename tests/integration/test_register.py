"""The central register projection, on SQLite and PostgreSQL alike.

The register is checked against an oracle that does not share its code: the aggregates the
application rebuilds from their events, and the raw notification log.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import TopicError

from domain.collaboration import Collaboration
from projections.event_documents import utc_text
from projections.register import HANDLERS, Register, RegisterChanges, RegisterView, handler_for
from service.application import Caller, CollaborationRecords
from tests.integration.faults import InjectedFailure, fail_on_call

ADMIN = Caller("tester (admin)")
ON = {"effective_on": date(2015, 3, 1), "reason": "agreed by the chief constables and PCCs"}
FORCES = ["west-mercia", "warwickshire", "dorset", "devon-cornwall", "suffolk", "norfolk", "kent", "essex"]


class WithdrawalNoticeServed(Collaboration.Event):
    """An event type the register does not know yet (a later release will add it)."""

    force: str


class Memo(Aggregate):
    """Another aggregate sharing the log, as exit cases and benefits will."""

    def __init__(self, text: str):
        self.text = text


@pytest.fixture
def open_register(open_projection: Callable[..., Register]) -> Callable[..., Register]:
    return lambda **options: open_projection(Register, **options)


# ----------------------------------------------------------------------------- helpers
def establish(records: CollaborationRecords, name: str, parties: list[str], **overrides: Any) -> str:
    arguments = {
        "caller": ADMIN,
        "name": name,
        "purpose": "Shared services",
        "parties": parties,
        "lead_force": parties[0],
        **ON,
    } | overrides
    return records.establish_collaboration(**arguments).result["id"]


def add_function(records: CollaborationRecords, collaboration_id: str, name: str, kind: str, host: str) -> str:
    written = records.add_function(
        collaboration_id, name=name, kind=kind, host_force=host, annual_budget="1000000.00", caller=ADMIN, **ON
    )
    return written.result["function_id"]


def write_history(records: CollaborationRecords, *, collaborations: int, changes: int, seed: int) -> list[str]:
    """A varied, interleaved history: every command the application offers, at random."""
    rng = random.Random(seed)
    ids = []
    for index in range(collaborations):
        parties = rng.sample(FORCES[:5], 2)
        ids.append(
            establish(
                records,
                f"Collaboration {index:02d}",
                parties,
                governance_body=rng.choice([None, "Joint Board"]),
                review_cycle_months=rng.choice([None, 12]),
            )
        )
    for step in range(changes):
        collaboration_id = rng.choice(ids)
        collaboration = records.collaboration(collaboration_id)
        common = {"caller": ADMIN, **ON}
        match rng.choice(["join", "function", "budget", "apportionment", "exit", "review", "variation"]):
            case "join" if len(collaboration.parties) < len(FORCES):
                force = rng.choice([force for force in FORCES if force not in collaboration.parties])
                records.join_party(collaboration_id, force=force, **common)
            case "function":
                kind = rng.choice(["operational", "enabling"])
                add_function(records, collaboration_id, f"Function {step}", kind, rng.choice(collaboration.parties))
            case "budget" if collaboration.functions:
                records.set_function_budget(
                    collaboration_id,
                    function_id=rng.choice(sorted(collaboration.functions)),
                    financial_year="2019/20",
                    annual_budget="1200000.00",
                    **common,
                )
            case "apportionment":
                first, second = collaboration.parties[:2]
                records.agree_apportionment(
                    collaboration_id,
                    function_id=None,
                    basis="fixed_ratio",
                    shares={first: "0.69", second: "0.31"},
                    **common,
                )
            case "exit":
                records.agree_exit_terms(
                    collaboration_id,
                    notice_period_months=12,
                    stranded_cost_rate="0.25",
                    stranded_cost_months=6,
                    **common,
                )
            case "variation":
                records.agree_variation(collaboration_id, clause="4.2", summary="notice period", **common)
            case _:
                records.hold_review(collaboration_id, outcome="continue", **common)
    return ids


def expected_entry(records: CollaborationRecords, collaboration_id: str) -> dict[str, Any]:
    """What the register should say, from the aggregate the application rebuilds."""
    collaboration = records.collaboration(collaboration_id)
    return {
        "id": collaboration_id,
        "name": collaboration.name,
        "purpose": collaboration.purpose,
        "status": collaboration.status,
        "lead_force": collaboration.lead_force,
        "parties": list(collaboration.parties),
        "functions": [
            {"id": f.id, "name": f.name, "kind": f.kind, "host_force": f.host_force}
            for f in collaboration.functions.values()
        ],
        "governance_body": collaboration.governance_body,
        "review_cycle_months": collaboration.review_cycle_months,
        "established_on": collaboration.established_on.isoformat(),
        "version": collaboration.version,
        "updated_at": utc_text(collaboration.modified_on),
    }


def all_entries(register: Register) -> dict[str, dict[str, Any]]:
    entries: dict[str, dict[str, Any]] = {}
    page = 1
    while True:
        result = register.search(page=page, page_size=50)
        entries.update((item["id"], item) for item in result["items"])
        if page * 50 >= result["total"]:
            return entries
        page += 1


def log_size(records: CollaborationRecords) -> int:
    return records.recorder.max_notification_id() or 0


def names(result: dict[str, Any]) -> list[str]:
    return [item["name"] for item in result["items"]]


# ------------------------------------------------------------------------------- tests
def test_incremental_catch_ups_equal_a_full_rebuild_and_the_aggregates(records, open_register):
    register = open_register(batch_size=7)
    ids: list[str] = []
    for round_ in range(4):  # writes and catch-ups interleaved, batches cutting across aggregates
        ids += write_history(records, collaborations=3, changes=25, seed=round_)
        register.catch_up()
    assert register.position() == log_size(records)

    incremental = all_entries(register)
    assert incremental == {collaboration_id: expected_entry(records, collaboration_id) for collaboration_id in ids}

    progress: list[tuple[int, int]] = []
    processed = register.rebuild(progress=lambda position, last: progress.append((position, last)))
    assert processed == log_size(records)
    assert progress[0] == (0, log_size(records))
    assert progress[-1] == (log_size(records), log_size(records))
    assert [position for position, _ in progress] == sorted(position for position, _ in progress)
    assert all_entries(register) == incremental
    assert register.position() == log_size(records)


@pytest.fixture
def catalogue(records: CollaborationRecords, open_register) -> dict[str, Any]:
    alliance = establish(
        records,
        "Strategic Alliance",
        ["west-mercia", "warwickshire"],
        purpose="Pooled services across two forces",
        governance_body="Alliance Governance Group",
    )
    ict = add_function(records, alliance, "Alliance ICT Dept", "enabling", "warwickshire")
    add_function(records, alliance, "Alliance Dogs Team", "operational", "west-mercia")
    procurement = establish(
        records,
        "7F Procurement",
        ["suffolk", "norfolk", "essex", "kent"],
        purpose="Joint procurement of goods and services",
    )
    add_function(records, procurement, "Procurement", "enabling", "essex")
    south_west = establish(
        records,
        "Dorset Devon Cornwall Alliance",
        ["dorset", "devon-cornwall"],
        purpose="Strategic alliance of two forces",
        governance_body="Working Together Board",
    )
    prevention = add_function(records, south_west, "Prevention", "operational", "dorset")
    add_function(records, south_west, "Intelligence", "operational", "devon-cornwall")
    lower_case = establish(records, "eastern region specialist operations", ["essex", "kent"], purpose="Serious crime")
    regional = [
        establish(records, f"Regional Collaboration {index:02d}", ["suffolk", "norfolk"], purpose="Back office")
        for index in range(23)
    ]
    register = open_register()
    register.catch_up()
    return {
        "register": register,
        "alliance": alliance,
        "ict": ict,
        "procurement": procurement,
        "south_west": south_west,
        "prevention": prevention,
        "lower_case": lower_case,
        "regional": regional,
    }


def test_filters_run_on_party_status_function_and_text(catalogue):
    register: Register = catalogue["register"]
    assert names(register.search(party="warwickshire")) == ["Strategic Alliance"]
    assert names(register.search(party="kent")) == ["7F Procurement", "eastern region specialist operations"]
    assert register.search(party="norfolk")["total"] == 24
    assert register.search(party="lancashire")["total"] == 0

    assert register.search(status="active")["total"] == 27
    assert register.search(status="withdrawn")["total"] == 0

    assert names(register.search(function="dogs")) == ["Strategic Alliance"]
    assert names(register.search(function="ICT DEPT")) == ["Strategic Alliance"]
    assert names(register.search(function=catalogue["prevention"])) == ["Dorset Devon Cornwall Alliance"]
    assert names(register.search(function="operational")) == ["Dorset Devon Cornwall Alliance", "Strategic Alliance"]
    assert names(register.search(function="enabling")) == ["7F Procurement", "Strategic Alliance"]
    assert register.search(function="firearms")["total"] == 0

    assert names(register.search(q="working together")) == ["Dorset Devon Cornwall Alliance"]  # governance body
    assert names(register.search(q="PROCUREMENT joint")) == ["7F Procurement"]  # terms in any order
    assert names(register.search(q="alliance")) == ["Dorset Devon Cornwall Alliance", "Strategic Alliance"]
    assert names(register.search(q="two forces pooled")) == ["Strategic Alliance"]
    assert register.search(q="alliance procurement")["total"] == 0
    assert register.search(q="%")["total"] == 0  # LIKE wildcards are matched literally
    assert register.search(q="_")["total"] == 0

    combined = register.search(party="dorset", function="intelligence", q="alliance", status="active")
    assert names(combined) == ["Dorset Devon Cornwall Alliance"]
    assert register.search(party="dorset", function="dogs")["total"] == 0
    assert register.search(party="", status=" ", function=None, q="  ")["total"] == 27  # blank means no filter


def test_pages_are_stable_and_ordered_by_case_folded_name_then_id(catalogue):
    register: Register = catalogue["register"]
    first = register.search(page=1, page_size=10)
    assert (first["total"], first["page"], first["page_size"], len(first["items"])) == (27, 1, 10, 10)
    assert names(first)[:4] == [
        "7F Procurement",
        "Dorset Devon Cornwall Alliance",
        "eastern region specialist operations",
        "Regional Collaboration 00",
    ]
    pages = [register.search(page=page, page_size=10) for page in (1, 2, 3)]
    assert [len(page["items"]) for page in pages] == [10, 10, 7]
    ids = [item["id"] for page in pages for item in page["items"]]
    assert len(set(ids)) == 27
    assert names(pages[2])[-1] == "Strategic Alliance"
    assert register.search(page=4, page_size=10) == {"items": [], "total": 27, "page": 4, "page_size": 10}
    for bad in ({"page": 0}, {"page_size": 0}, {"page_size": 501}, {"page": "2"}):
        with pytest.raises(ValueError):
            register.search(**bad)


def test_an_entry_is_json_ready_and_unknown_ids_are_none(catalogue, records):
    register: Register = catalogue["register"]
    entry = register.entry(catalogue["alliance"])
    assert entry == expected_entry(records, catalogue["alliance"])
    assert entry["functions"][0] == {
        "id": catalogue["ict"],
        "name": "Alliance ICT Dept",
        "kind": "enabling",
        "host_force": "warwickshire",
    }
    assert entry["updated_at"].endswith("Z")
    assert register.entry(str(uuid4())) is None
    assert register.entry("not-a-uuid") is None


def test_concurrent_catch_ups_apply_each_event_exactly_once(records, open_register, monkeypatch):
    ids = write_history(records, collaborations=8, changes=120, seed=7)
    applied: list[int] = []
    original_apply = RegisterChanges.apply

    def counting_apply(self: RegisterChanges, event: Any) -> None:
        applied.append(event.originator_version)
        original_apply(self, event)

    monkeypatch.setattr(RegisterChanges, "apply", counting_apply)
    registers = [open_register(batch_size=5), open_register(batch_size=5)]  # as two worker processes would
    start = threading.Barrier(4)

    def catch_up(register: Register) -> int:
        start.wait()
        return register.catch_up()

    with ThreadPoolExecutor(max_workers=4) as pool:
        positions = list(pool.map(catch_up, registers * 2))  # errors would be re-raised here

    assert len(applied) == log_size(records)  # each event applied once, none applied and rolled back
    assert max(positions) == log_size(records)
    for register in registers:
        assert register.position() == log_size(records)
    rows = {row.id: row for row in registers[0].view.all_rows()}
    for collaboration_id in ids:
        assert rows[collaboration_id].events_applied == records.collaboration(collaboration_id).version
    assert all_entries(registers[1]) == {cid: expected_entry(records, cid) for cid in ids}


def test_rows_kept_from_a_previous_batch_are_not_reused_after_another_worker_wrote(records, open_register):
    collaboration_id = establish(records, "Strategic Alliance", ["west-mercia", "warwickshire"])
    for _ in range(29):
        records.hold_review(collaboration_id, outcome="continue", caller=ADMIN, **ON)
    first, second = open_register(batch_size=10), open_register(batch_size=10)

    assert first.wait_for(10) and first.position() == 10  # first keeps the rows of its batch
    assert second.wait_for(20) and second.position() == 20  # another worker moves the same row on
    assert first.catch_up() == 30  # first must reload the row, not reuse what it kept

    (row,) = first.view.all_rows()
    assert (row.version, row.events_applied) == (30, 30)


def test_events_recorded_while_no_register_ran_are_processed_by_a_new_one(records, open_register):
    first = open_register()
    ids = write_history(records, collaborations=3, changes=10, seed=1)
    first.catch_up()
    projected = first.position()
    ids += write_history(records, collaborations=2, changes=30, seed=2)  # the register "crashed" meanwhile
    first.close()

    second = open_register()
    assert second.position() == projected
    assert second.catch_up() == log_size(records)
    assert all_entries(second) == {cid: expected_entry(records, cid) for cid in ids}


def tally(records: CollaborationRecords, upto: int) -> dict[str, tuple[int, int]]:
    """Per collaboration, (events, last version) among the first ``upto`` notifications."""
    notifications = records.recorder.select_notifications(start=0, limit=upto, inclusive_of_start=False)
    counts = Counter(str(n.originator_id) for n in notifications)
    versions = {str(n.originator_id): n.originator_version for n in notifications}
    return {collaboration_id: (counts[collaboration_id], versions[collaboration_id]) for collaboration_id in counts}


def projected_tally(register: Register) -> dict[str, tuple[int, int]]:
    return {row.id: (row.events_applied, row.version) for row in register.view.all_rows()}


@pytest.mark.parametrize("failing_step", ["apply", "record_position"])
def test_a_failure_in_a_batch_rolls_back_its_rows_and_its_position_together(
    records, open_register, monkeypatch, failing_step
):
    ids = write_history(records, collaborations=4, changes=40, seed=3)
    register = open_register(batch_size=10)
    target = RegisterChanges if failing_step == "apply" else RegisterView
    fail_on_call(
        monkeypatch, target, failing_step, {"apply": 15, "record_position": 2}[failing_step]
    )  # both in the second batch
    with pytest.raises(InjectedFailure):
        register.catch_up()
    assert register.position() == 10
    assert projected_tally(register) == tally(records, 10)  # the second batch's rows were rolled back too

    monkeypatch.undo()
    assert register.catch_up() == log_size(records)
    assert projected_tally(register) == tally(records, log_size(records))
    assert all_entries(register) == {cid: expected_entry(records, cid) for cid in ids}


def test_follow_picks_up_new_events_until_stopped(records, open_register):
    register = open_register()
    stop = threading.Event()
    advanced: list[int] = []
    errors: list[BaseException] = []

    def follow() -> None:
        try:
            register.follow(stop, poll_interval=0.05, on_advance=advanced.append)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    follower = threading.Thread(target=follow)
    follower.start()
    try:
        first = establish(records, "Strategic Alliance", ["west-mercia", "warwickshire"])
        # The library's wait only polls the tracking record: it does not catch up itself.
        register.view.wait(records.name, log_size(records), timeout=10)
        assert register.entry(first) == expected_entry(records, first)

        add_function(records, first, "Alliance ICT Dept", "enabling", "warwickshire")
        second = establish(records, "7F Procurement", ["suffolk", "norfolk"])
        register.view.wait(records.name, log_size(records), timeout=10)
        assert all_entries(register) == {cid: expected_entry(records, cid) for cid in (first, second)}
    finally:
        stop.set()
        follower.join(timeout=10)
    assert not follower.is_alive()
    assert errors == []
    assert advanced[-1] == log_size(records)


@pytest.mark.unpublished_events("stores a foreign aggregate's event and an event class of no aggregate")
def test_events_of_unknown_types_are_skipped_but_tracked(records, open_register):
    collaboration_id = establish(records, "Strategic Alliance", ["west-mercia", "warwickshire"])
    memo = Memo(text="an exit case, say")
    records.save(memo)
    collaboration = records.collaboration(collaboration_id)
    collaboration.trigger_event(
        WithdrawalNoticeServed,
        force="west-mercia",
        effective_on=date(2018, 10, 9),
        actor="tester",
        reason="notice served",
        evidence=None,
        approval_ref=None,
    )
    records.save(collaboration)
    register = open_register()

    assert register.catch_up() == log_size(records) == 3
    assert register.search()["total"] == 1
    assert register.entry(str(memo.id)) is None
    entry = register.entry(collaboration_id)
    assert entry == expected_entry(records, collaboration_id)
    assert entry["version"] == 2  # the unknown event still moved the version (the ETag) on
    assert entry["parties"] == ["west-mercia", "warwickshire"]


@pytest.fixture
def withdrawals_change_status(monkeypatch):
    """A handler as a later release will add one: the event changes what the register shows."""

    def withdrawn(changes: RegisterChanges, event: WithdrawalNoticeServed) -> None:
        row = changes.touch(event)
        if row is not None:
            row.status = "withdrawn"
            row.details_changed = True

    monkeypatch.setitem(HANDLERS, WithdrawalNoticeServed, withdrawn)
    handler_for.cache_clear()
    yield
    monkeypatch.undo()
    handler_for.cache_clear()


def serve_notice(records: CollaborationRecords, collaboration_id: str) -> None:
    collaboration = records.collaboration(collaboration_id)
    collaboration.trigger_event(
        WithdrawalNoticeServed,
        force=collaboration.parties[0],
        effective_on=date(2018, 10, 9),
        actor="tester",
        reason="notice served",
        evidence=None,
        approval_ref=None,
    )
    records.save(collaboration)


@pytest.mark.unpublished_events("stores an event class the test defines, of no aggregate")
def test_an_event_that_changes_what_the_register_shows_rewrites_the_row(
    records, open_register, withdrawals_change_status
):
    alliance = establish(records, "Strategic Alliance", ["west-mercia", "warwickshire"])
    add_function(records, alliance, "Alliance ICT Dept", "enabling", "warwickshire")
    other = establish(records, "7F Procurement", ["suffolk", "norfolk"])
    register = open_register()
    register.catch_up()  # the rows are stored before the notice arrives

    serve_notice(records, alliance)
    add_function(records, alliance, "Transition services", "enabling", "west-mercia")
    register.catch_up()

    assert names(register.search(status="withdrawn")) == ["Strategic Alliance"]
    assert names(register.search(status="active")) == ["7F Procurement"]
    entry = register.entry(alliance)
    assert entry == expected_entry(records, alliance) | {"status": "withdrawn"}
    assert [function["name"] for function in entry["functions"]] == ["Alliance ICT Dept", "Transition services"]
    assert register.entry(other) == expected_entry(records, other)
    register.rebuild()
    assert register.entry(alliance) == entry


@pytest.mark.unpublished_events("stores an event whose topic no code defines")
def test_a_notification_whose_topic_no_code_defines_stops_the_register(records, open_register):
    establish(records, "Strategic Alliance", ["west-mercia", "warwickshire"])
    ghost = StoredEvent(originator_id=uuid4(), originator_version=1, topic="nowhere.ghosts:Ghost.Created", state=b"{}")
    records.recorder.insert_events([ghost])
    register = open_register()
    with pytest.raises(TopicError):
        register.catch_up()
    assert register.position() == 0  # nothing half-done; it resumes once the code is deployed


def test_wait_for_catches_up_itself_and_gives_up_after_the_timeout(records, open_register):
    register = open_register()
    assert register.wait_for(None) is True
    written = records.establish_collaboration(
        caller=ADMIN, name="Strategic Alliance", purpose="p", parties=["dorset", "suffolk"], lead_force="dorset", **ON
    )
    assert register.entry(written.result["id"]) is None
    assert register.wait_for(written.position) is True
    assert register.entry(written.result["id"])["version"] == 1
    assert register.wait_for(written.position + 100, timeout=0.3) is False
    assert register.position() == written.position
