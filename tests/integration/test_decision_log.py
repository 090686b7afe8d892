"""The decision log projection, on SQLite and PostgreSQL alike.

The log is checked against an oracle that does not share its code: the raw notification log,
decoded by the application, and the aggregates the application rebuilds at each version.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.domain import Aggregate

from domain.collaboration import Collaboration
from projections.decision_log import (
    SUMMARISERS,
    DecisionFilters,
    DecisionLog,
    DecisionLogChanges,
    DecisionLogView,
    Summariser,
    UnknownDecision,
    concerns_decision_log,
    originator,
    summariser_for,
)
from projections.event_documents import event_type, utc_text
from service.application import Caller, CollaborationRecords
from service.resources.decisions.schemas import DecisionPageSchema
from tests.integration import http_support
from tests.integration.faults import InjectedFailure, fail_on_call
from tests.integration.http_support import WHEN, Http, assert_problem

ADMIN = Caller("tester (admin)")
FORCES = ["west-mercia", "warwickshire", "dorset", "devon-cornwall", "suffolk", "norfolk", "kent", "essex"]
START = date(2012, 4, 1)


class WithdrawalNoticeServed(Collaboration.Event):
    """A Collaboration event type the decision log has no summariser for (a later release's)."""

    force: str
    notice_months: int


class Memo(Aggregate):
    """Another aggregate sharing the log, as exit cases and benefits will."""

    def __init__(self, text: str):
        self.text = text


@pytest.fixture
def open_log(open_projection: Callable[..., DecisionLog]) -> Callable[..., DecisionLog]:
    return lambda **options: open_projection(DecisionLog, **options)


# ----------------------------------------------------------------------------- helpers
def when(day: date, reason: str = "agreed by the joint board", **extra: Any) -> dict[str, Any]:
    return {"caller": ADMIN, "effective_on": day, "reason": reason, "approval_ref": "JB-1", **extra}


def establish(records: CollaborationRecords, name: str, parties: list[str], day: date = START, **extra: Any) -> str:
    written = records.establish_collaboration(
        name=name, purpose="Shared services", parties=parties, lead_force=parties[0], **when(day), **extra
    )
    return written.result["id"]


def write_history(records: CollaborationRecords, *, collaborations: int, changes: int, seed: int) -> list[str]:
    """A varied, interleaved history with effective dates out of recording order: every
    command the application offers, at random."""
    rng = random.Random(seed)
    ids = [
        establish(
            records, f"Collaboration {seed}-{index}", rng.sample(FORCES[:5], 2), START + timedelta(rng.randint(0, 900))
        )
        for index in range(collaborations)
    ]
    for step in range(changes):
        collaboration_id = rng.choice(ids)
        collaboration = records.collaboration(collaboration_id)
        first, second = collaboration.parties[:2]  # the founders: parties from the first day
        functions = sorted(collaboration.functions)
        function = rng.choice(functions) if functions else None
        day = max(START + timedelta(days=rng.randint(0, 3000)), collaboration.established_on)
        if function is not None:  # nothing about a function takes effect before it was added
            day = max(day, collaboration.functions[function].added_on)
        common = when(day, f"step {step}", evidence=rng.choice([None, "doc"]))
        match rng.choice(
            ["join", "function", "budget", "apportionment", "exit", "asset", "contract", "review", "variation"]
        ):
            case "join" if len(collaboration.parties) < len(FORCES):
                force = rng.choice([force for force in FORCES if force not in collaboration.parties])
                records.join_party(collaboration_id, force=force, **common)
            case "function":
                records.add_function(
                    collaboration_id,
                    name=f"Function {step}",
                    kind=rng.choice(["operational", "enabling"]),
                    host_force=rng.choice([first, second]),
                    annual_budget="1000000.00",
                    **common,
                )
            case "budget" if function:
                records.set_function_budget(
                    collaboration_id,
                    function_id=function,
                    financial_year="2019/20",
                    annual_budget="1200000.50",
                    **common,
                )
            case "apportionment":
                records.agree_apportionment(
                    collaboration_id,
                    function_id=rng.choice([None, function]),
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
            case "asset":
                records.register_asset(
                    collaboration_id,
                    name=f"Asset {step}",
                    cost="3000000.00",
                    acquired_on=date(2016, 4, 1),
                    useful_life_months=60,
                    funded_shares={first: "0.69", second: "0.31"},
                    **common,
                )
            case "contract" if function:
                records.commit_contract(
                    collaboration_id,
                    supplier=f"Supplier {step}",
                    function_id=function,
                    annual_value="250000.00",
                    ends_on=date(2021, 3, 31),
                    break_cost="400000.00",
                    **common,
                )
            case "variation":
                records.agree_variation(collaboration_id, clause="4.2", summary="notice period", **common)
            case _:
                records.hold_review(collaboration_id, outcome="continue", **common)
    return ids


def log_size(records: CollaborationRecords) -> int:
    return records.recorder.max_notification_id() or 0


def oracle(records: CollaborationRecords) -> list[dict[str, Any]]:
    """What the log should hold, from the raw notifications and the aggregates at each version:
    every Collaboration event, ordered by effective date and then position."""
    notifications = records.recorder.select_notifications(start=0, limit=1_000_000, inclusive_of_start=False)
    expected = []
    for notification in notifications:
        event = records.mapper.to_domain_event(notification)
        if not isinstance(event, Collaboration.Event | Collaboration.Established):
            continue
        state = records.collaboration(str(event.originator_id), version=event.originator_version)
        expected.append(
            {
                "position": notification.id,
                "stream_id": str(event.originator_id),
                "version": event.originator_version,
                "collaboration_id": str(event.originator_id),
                "collaboration_name": state.name,
                "type": event_type(event),
                "effective_on": event.effective_on.isoformat(),
                "recorded_at": utc_text(event.timestamp),
                "actor": event.actor,
                "reason": event.reason,
                "evidence": event.evidence,
                "approval_ref": event.approval_ref,
                "forces": list(state.parties),  # parties only ever grow today
            }
        )
    return sorted(expected, key=lambda row: (row["effective_on"], row["position"]))


def without_summary_and_data(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{key: value for key, value in item.items() if key not in ("summary", "data")} for item in items]


def everything(log: DecisionLog, filters: DecisionFilters | None = None) -> list[dict[str, Any]]:
    """Every matching decision, read page by page with the keyset."""
    items: list[dict[str, Any]] = []
    after = None
    while True:
        page = log.search(filters, after=after, page_size=7)
        items += page["items"]
        if page["next_after"] is None:
            return items
        after = page["next_after"]


# ------------------------------------------------------------------------------- tests
def test_incremental_catch_ups_equal_a_rebuild_and_the_oracle(records, open_log):
    log = open_log(batch_size=7)
    for round_ in range(4):  # writes and catch-ups interleaved, batches cutting across aggregates
        write_history(records, collaborations=3, changes=30, seed=round_)
        log.catch_up()
    assert log.position() == log_size(records)

    incremental = log.view.all_items()
    assert len(incremental) == log_size(records)  # every event today is a decision
    assert without_summary_and_data(incremental) == oracle(records)
    assert everything(log) == incremental

    progress: list[tuple[int, int]] = []
    assert log.rebuild(progress=lambda position, last: progress.append((position, last))) == log_size(records)
    assert progress[0] == (0, log_size(records)) and progress[-1] == (log_size(records), log_size(records))
    assert log.view.all_items() == incremental
    assert log.position() == log_size(records)


def test_each_decision_type_has_its_own_one_line_summary_and_data(records, open_log):
    alliance = establish(
        records,
        "Strategic  Alliance",
        ["west-mercia", "warwickshire"],
        governance_body="Alliance Board",
        review_cycle_months=12,
    )
    ict = records.add_function(
        alliance,
        name="Alliance ICT Dept",
        kind="enabling",
        host_force="warwickshire",
        annual_budget="10000000.00",
        **when(START),
    ).result["function_id"]
    records.set_function_budget(
        alliance, function_id=ict, financial_year="2019/20", annual_budget="10500000.5", **when(START)
    )
    records.agree_apportionment(
        alliance,
        function_id=None,
        basis="fixed_ratio",
        shares={"west-mercia": "0.69", "warwickshire": "0.31"},
        **when(START),
    )
    records.agree_apportionment(
        alliance, function_id=ict, basis="usage", shares={"west-mercia": "0.5", "warwickshire": "0.5"}, **when(START)
    )
    records.agree_exit_terms(
        alliance,
        notice_period_months=12,
        stranded_cost_rate="0.25",
        stranded_cost_months=6,
        caps={"H4": "1000000"},
        **when(START),
    )
    records.register_asset(
        alliance,
        name="Alliance HQ",
        cost="3000000.00",
        acquired_on=date(2016, 4, 1),
        useful_life_months=60,
        funded_shares={"west-mercia": "0.69", "warwickshire": "0.31"},
        **when(START),
    )
    records.commit_contract(
        alliance,
        supplier="Acme ICT",
        function_id=ict,
        annual_value="250000.00",
        ends_on=date(2021, 3, 31),
        break_cost="400000.00",
        **when(START),
    )
    records.hold_review(alliance, outcome="Continue as agreed.\nRevisit\tICT next year", **when(START))
    records.agree_variation(alliance, clause="7.2", summary="Notice is 12 months", **when(START))
    records.join_party(alliance, force="dorset", **when(START))
    log = open_log()
    log.catch_up()

    items = log.view.all_items()
    assert [(item["type"], item["summary"]) for item in items] == [
        (
            "Collaboration.Established",
            "Collaboration \u201cStrategic Alliance\u201d established between west-mercia, warwickshire; lead force "
            "west-mercia; governed by Alliance Board; reviewed every 12 months",
        ),
        (
            "Collaboration.FunctionAdded",
            "Function \u201cAlliance ICT Dept\u201d added (enabling), hosted by warwickshire, "
            "annual budget £10,000,000.00",
        ),
        (
            "Collaboration.FunctionBudgetSet",
            "Budget of function \u201cAlliance ICT Dept\u201d for 2019/20 set at £10,500,000.50",
        ),
        (
            "Collaboration.ApportionmentAgreed",
            "Apportionment of all functions agreed on the fixed_ratio basis: west-mercia 0.69, warwickshire 0.31",
        ),
        (
            "Collaboration.ApportionmentAgreed",
            "Apportionment of function \u201cAlliance ICT Dept\u201d agreed on the usage basis: west-mercia 0.5, "
            "warwickshire 0.5",
        ),
        (
            "Collaboration.ExitTermsAgreed",
            "Exit terms agreed: 12 months' notice; stranded costs at rate 0.25 for 6 months; caps H4 £1,000,000.00",
        ),
        (
            "Collaboration.JointAssetRegistered",
            "Joint asset \u201cAlliance HQ\u201d registered: cost £3,000,000.00, acquired 2016-04-01, useful life 60 "
            "months; funded west-mercia 0.69, warwickshire 0.31",
        ),
        (
            "Collaboration.ContractCommitted",
            "Contract with \u201cAcme ICT\u201d committed for function \u201cAlliance ICT Dept\u201d: "
            "£250,000.00 a year until 2021-03-31, break cost £400,000.00",
        ),
        ("Collaboration.ReviewHeld", "Review held: Continue as agreed. Revisit ICT next year"),
        ("Collaboration.VariationAgreed", "Variation of clause 7.2 agreed: Notice is 12 months"),
        ("Collaboration.PartyJoined", "dorset joined as a party"),
    ]
    # Money and shares stay exact strings in the data; the joiner is among the forces concerned.
    assert items[2]["data"] == {"function_id": ict, "financial_year": "2019/20", "annual_budget": "10500000.50"}
    assert items[3]["data"]["shares"] == {"west-mercia": "0.69", "warwickshire": "0.31"}
    assert items[-1]["forces"] == ["west-mercia", "warwickshire", "dorset"]
    assert items[-2]["forces"] == ["west-mercia", "warwickshire"]
    assert items[0]["collaboration_name"] == "Strategic  Alliance"  # the name as recorded; the summary is one line


@pytest.fixture
def decisions(records: CollaborationRecords, open_log) -> dict[str, Any]:
    """Three collaborations whose decisions interleave in time and across forces."""
    alliance = establish(records, "Strategic Alliance", ["west-mercia", "warwickshire"], date(2012, 4, 1))
    records.hold_review(alliance, outcome="continue", **when(date(2013, 4, 1)))
    records.agree_variation(alliance, clause="7.2", summary="longer notice", **when(date(2014, 6, 1)))
    south_west = establish(records, "Dorset Devon Cornwall Alliance", ["dorset", "devon-cornwall"], date(2015, 3, 1))
    records.join_party(alliance, force="dorset", **when(date(2016, 1, 1)))  # dorset concerned from here on
    records.hold_review(alliance, outcome="continue", **when(date(2016, 4, 1)))
    procurement = establish(records, "7F Procurement", ["suffolk", "norfolk", "essex"], date(2019, 1, 15))
    records.hold_review(south_west, outcome="declined merger", **when(date(2018, 7, 1)))
    records.agree_variation(
        south_west, clause="3", summary="Working Together Board", **when(date(2015, 12, 1))
    )  # back-dated
    log = open_log()
    log.catch_up()
    return {"log": log, "alliance": alliance, "south_west": south_west, "procurement": procurement}


def listed(log: DecisionLog, **filters: Any) -> list[tuple[str, str, str]]:
    return [
        (item["collaboration_name"], item["type"].rsplit(".", 1)[-1], item["effective_on"])
        for item in everything(log, DecisionFilters(**filters))
    ]


def test_the_log_is_chronological_by_effective_date_then_recording_order(decisions):
    assert listed(decisions["log"]) == [
        ("Strategic Alliance", "Established", "2012-04-01"),
        ("Strategic Alliance", "ReviewHeld", "2013-04-01"),
        ("Strategic Alliance", "VariationAgreed", "2014-06-01"),
        ("Dorset Devon Cornwall Alliance", "Established", "2015-03-01"),
        ("Dorset Devon Cornwall Alliance", "VariationAgreed", "2015-12-01"),  # recorded last, effective earlier
        ("Strategic Alliance", "PartyJoined", "2016-01-01"),
        ("Strategic Alliance", "ReviewHeld", "2016-04-01"),
        ("Dorset Devon Cornwall Alliance", "ReviewHeld", "2018-07-01"),
        ("7F Procurement", "Established", "2019-01-15"),
    ]


def test_same_day_decisions_keep_the_order_they_were_recorded_in(records, open_log):
    day = date(2019, 4, 1)
    alliance = establish(records, "Strategic Alliance", ["west-mercia", "warwickshire"], day)
    for clause in ("3", "1", "2"):
        records.agree_variation(alliance, clause=clause, summary="s", **when(day))
    log = open_log()
    log.catch_up()
    items = log.search()["items"]
    assert [item["version"] for item in items] == [1, 2, 3, 4]
    assert [item["position"] for item in items] == sorted(item["position"] for item in items)


def test_filters_by_force_collaboration_type_and_dates(decisions):
    log: DecisionLog = decisions["log"]
    assert listed(log, force="dorset") == [
        ("Dorset Devon Cornwall Alliance", "Established", "2015-03-01"),
        ("Dorset Devon Cornwall Alliance", "VariationAgreed", "2015-12-01"),
        ("Strategic Alliance", "PartyJoined", "2016-01-01"),  # the joiner is concerned by its joining
        ("Strategic Alliance", "ReviewHeld", "2016-04-01"),
        ("Dorset Devon Cornwall Alliance", "ReviewHeld", "2018-07-01"),
    ]
    assert [row[2] for row in listed(log, force="warwickshire")] == [
        "2012-04-01",
        "2013-04-01",
        "2014-06-01",
        "2016-01-01",
        "2016-04-01",
    ]
    assert listed(log, force="lancashire") == []

    assert listed(log, collaboration=decisions["procurement"]) == [("7F Procurement", "Established", "2019-01-15")]
    assert len(listed(log, collaboration=decisions["alliance"])) == 5
    assert listed(log, collaboration=str(uuid4())) == []

    reviews = [("Strategic Alliance", "ReviewHeld", "2013-04-01"), ("Strategic Alliance", "ReviewHeld", "2016-04-01")]
    reviews.append(("Dorset Devon Cornwall Alliance", "ReviewHeld", "2018-07-01"))
    assert listed(log, types=["ReviewHeld"]) == reviews
    assert listed(log, types=["Collaboration.ReviewHeld"]) == reviews
    assert len(listed(log, types=["ReviewHeld", "VariationAgreed"])) == 5
    assert listed(log, types=["Review"]) == []  # a type, not a prefix
    assert listed(log, types=["%Held"]) == []  # LIKE wildcards are matched literally

    assert [row[2] for row in listed(log, effective_from=date(2014, 6, 1), effective_to=date(2016, 4, 1))] == [
        "2014-06-01",
        "2015-03-01",
        "2015-12-01",
        "2016-01-01",
        "2016-04-01",
    ]  # both ends inclusive
    assert listed(log, effective_from=date(2019, 1, 16)) == []
    assert len(listed(log, effective_to=date(2012, 4, 1))) == 1

    combined = listed(
        log, force="dorset", types=["ReviewHeld"], effective_from=date(2016, 1, 1), collaboration=decisions["alliance"]
    )
    assert combined == [("Strategic Alliance", "ReviewHeld", "2016-04-01")]
    assert len(listed(log, force=" ", types=["", " "])) == 9  # blank means no filter


def test_recorded_dates_filter_on_the_utc_day_of_recording(decisions):
    log: DecisionLog = decisions["log"]
    today = datetime.now(UTC).date()
    recorded_days = {item["recorded_at"][:10] for item in log.view.all_items()}
    assert recorded_days <= {today.isoformat(), (today - timedelta(days=1)).isoformat()}  # (around midnight)
    day = max(recorded_days)
    assert len(listed(log, recorded_from=date.fromisoformat(day), recorded_to=date.fromisoformat(day))) >= 1
    assert listed(log, recorded_to=today - timedelta(days=2)) == []
    assert listed(log, recorded_from=today + timedelta(days=1)) == []
    assert len(listed(log, recorded_from=today - timedelta(days=1), recorded_to=today)) == 9


def test_pages_and_keyset_pages_agree(decisions):
    log: DecisionLog = decisions["log"]
    whole = log.search(page_size=100)
    assert (whole["total"], whole["next_after"], len(whole["items"])) == (9, None, 9)
    pages = [log.search(page=page, page_size=4) for page in (1, 2, 3)]
    assert [len(page["items"]) for page in pages] == [4, 4, 1]
    assert [item for page in pages for item in page["items"]] == whole["items"]
    assert pages[0]["next_after"] == whole["items"][3]["position"]
    assert pages[2]["next_after"] is None
    after = log.search(after=pages[0]["next_after"], page_size=4)
    assert after["items"] == pages[1]["items"]
    assert after["total"] == 9  # total counts every match, wherever the page starts
    assert log.search(page=4, page_size=4)["items"] == []
    with pytest.raises(UnknownDecision):
        log.search(after=10_000)
    for bad in ({"page": 0}, {"page_size": 0}, {"page_size": 501}, {"page": "2"}):
        with pytest.raises(ValueError):
            log.search(**bad)


def test_an_export_reads_in_chunks_the_log_as_it_stood_when_it_began(decisions, records):
    log: DecisionLog = decisions["log"]
    before = log.search(page_size=100)["items"]
    exported = log.export(chunk=2)
    first = next(exported)
    # Recorded while the export runs, and effective early enough to land among the rows still to come.
    records.agree_variation(
        decisions["alliance"], clause="9", summary="after the export began", **when(date(2012, 5, 1))
    )
    log.catch_up()
    assert log.search()["total"] == 10
    assert [first, *exported] == before
    assert list(log.export(DecisionFilters(force="dorset"), chunk=2)) == everything(
        log, DecisionFilters(force="dorset")
    )
    after = everything(log)[3]["position"]
    assert list(log.export(after=after, chunk=3)) == everything(log)[4:]
    with pytest.raises(UnknownDecision):
        next(log.export(after=10_000))


@pytest.mark.unpublished_events("stores a foreign aggregate's event and an event class of no aggregate")
def test_an_unknown_collaboration_event_type_is_logged_generically_and_other_aggregates_are_skipped(records, open_log):
    alliance = establish(records, "Strategic Alliance", ["west-mercia", "warwickshire"])
    memo = Memo(text="an exit case, say")
    records.save(memo)
    collaboration = records.collaboration(alliance)
    collaboration.trigger_event(
        WithdrawalNoticeServed,
        force="west-mercia",
        notice_months=12,
        effective_on=date(2018, 10, 9),
        actor="tester",
        reason="notice served",
        evidence="letter of 9 October 2018",
        approval_ref="PCC decision 2018/41",
    )
    records.save(collaboration)
    log = open_log()

    assert log.catch_up() == log_size(records) == 3  # the memo is tracked, though not a decision
    established, notice = log.view.all_items()
    assert established["type"] == "Collaboration.Established"
    assert notice == {
        "position": 3,
        "stream_id": alliance,
        "version": 2,
        "collaboration_id": alliance,
        "collaboration_name": "Strategic Alliance",
        "type": "WithdrawalNoticeServed",
        "summary": "Withdrawal notice served (force west-mercia; notice_months 12)",
        "effective_on": "2018-10-09",
        "recorded_at": notice["recorded_at"],
        "actor": "tester",
        "reason": "notice served",
        "evidence": "letter of 9 October 2018",
        "approval_ref": "PCC decision 2018/41",
        "forces": ["west-mercia", "warwickshire"],
        "data": {"force": "west-mercia", "notice_months": 12},
    }
    (memo_notification,) = records.recorder.select_notifications(start=2, limit=1)
    assert memo_notification.originator_id == memo.id
    assert concerns_decision_log(memo_notification.topic) is False


@pytest.mark.unpublished_events("stores an event class the test defines, of no aggregate")
def test_a_summariser_registered_later_rewrites_the_rows_on_rebuild(records, open_log, monkeypatch):
    alliance = establish(records, "Strategic Alliance", ["west-mercia", "warwickshire"])
    collaboration = records.collaboration(alliance)
    collaboration.trigger_event(
        WithdrawalNoticeServed,
        force="warwickshire",
        notice_months=12,
        effective_on=date(2018, 10, 9),
        actor="tester",
        reason="notice served",
        evidence=None,
        approval_ref=None,
    )
    records.save(collaboration)
    log = open_log()
    log.catch_up()
    assert log.view.all_items()[-1]["summary"].startswith("Withdrawal notice served (")

    def notice(event: WithdrawalNoticeServed, context: Any) -> str:
        return f"{event.force} served {event.notice_months} months' notice to leave {context.name}"

    monkeypatch.setitem(SUMMARISERS, WithdrawalNoticeServed, Summariser(notice, originator))
    summariser_for.cache_clear()
    try:
        log.rebuild()
        assert (
            log.view.all_items()[-1]["summary"] == "warwickshire served 12 months' notice to leave Strategic Alliance"
        )
    finally:
        monkeypatch.undo()
        summariser_for.cache_clear()


@pytest.mark.parametrize("failing_step", ["apply", "record_position"])
def test_a_failure_in_a_batch_rolls_back_its_rows_and_its_position_together(
    records, open_log, monkeypatch, failing_step
):
    write_history(records, collaborations=3, changes=30, seed=5)
    log = open_log(batch_size=10)
    target = DecisionLogChanges if failing_step == "apply" else DecisionLogView
    fail_on_call(
        monkeypatch, target, failing_step, {"apply": 15, "record_position": 2}[failing_step]
    )  # both in the second batch
    with pytest.raises(InjectedFailure):
        log.catch_up()
    assert log.position() == 10
    assert sorted(item["position"] for item in log.view.all_items()) == list(range(1, 11))

    monkeypatch.undo()
    assert log.catch_up() == log_size(records)
    assert without_summary_and_data(log.view.all_items()) == oracle(records)


def test_concurrent_catch_ups_log_each_decision_exactly_once(records, open_log, monkeypatch):
    write_history(records, collaborations=6, changes=100, seed=9)
    applied: list[int] = []
    original_apply = DecisionLogChanges.apply

    def counting_apply(self: DecisionLogChanges, position: int, event: Any) -> None:
        applied.append(position)
        original_apply(self, position, event)

    monkeypatch.setattr(DecisionLogChanges, "apply", counting_apply)
    logs = [open_log(batch_size=5), open_log(batch_size=5)]  # as two worker processes would
    start = threading.Barrier(4)

    def catch_up(log: DecisionLog) -> int:
        start.wait()
        return log.catch_up()

    with ThreadPoolExecutor(max_workers=4) as pool:
        positions = list(pool.map(catch_up, logs * 2))

    assert sorted(applied) == list(range(1, log_size(records) + 1))  # each once, none rolled back
    assert max(positions) == log_size(records)
    assert without_summary_and_data(logs[1].view.all_items()) == oracle(records)


def test_a_new_log_resumes_where_the_last_one_committed(records, open_log):
    first = open_log()
    write_history(records, collaborations=2, changes=10, seed=1)
    first.catch_up()
    projected = first.position()
    write_history(records, collaborations=2, changes=20, seed=2)  # nobody followed meanwhile
    first.close()

    second = open_log()
    assert second.position() == projected
    assert second.catch_up() == log_size(records)
    assert without_summary_and_data(second.view.all_items()) == oracle(records)


def test_wait_for_catches_up_itself(records, open_log):
    log = open_log()
    written = records.establish_collaboration(
        name="Strategic Alliance", purpose="p", parties=["dorset", "suffolk"], lead_force="dorset", **when(START)
    )
    assert log.search()["total"] == 0
    assert log.wait_for(written.position) is True
    assert log.search()["total"] == 1
    assert log.wait_for(written.position + 50, timeout=0.2) is False


# ------------------------------------------------------------------------------- over HTTP
http_any = http_support.http_any
http = http_support.http


def decision_page(http: Http, query: str = "", token: str | None = "admin") -> dict[str, Any]:
    response = http.get(f"/api/v1/decisions{query}", token)
    assert response.status_code == 200, response.get_json()
    return DecisionPageSchema().load(response.get_json())  # the documented shape, or ValidationError


def test_decisions_over_http_read_the_writes_and_filter_in_sql(http_any: Http):
    alliance = http_any.establish()
    ict = http_any.add_function(alliance["id"])
    south_west = http_any.establish(
        name="Dorset Devon Cornwall Alliance",
        parties=["dorset", "devon-cornwall"],
        lead_force="dorset",
        effective_on="2015-03-01",
    )
    one = f"/api/v1/collaborations/{alliance['id']}"
    review = {**WHEN, "outcome": "continue", "effective_on": "2013-04-01", "evidence": "minutes 2013/4"}
    assert http_any.post(f"{one}/reviews", review).status_code == 201
    variation = {**WHEN, "clause": "7.2", "summary": "12 months' notice", "effective_on": "2019-10-01"}
    assert http_any.post(f"{one}/variations", variation).status_code == 201

    page = decision_page(http_any)  # read-your-writes: the log caught up before answering
    assert [(item["type"], item["effective_on"].isoformat()) for item in page["items"]] == [
        ("Collaboration.Established", "2012-04-01"),
        ("Collaboration.FunctionAdded", "2012-04-01"),
        ("Collaboration.ReviewHeld", "2013-04-01"),
        ("Collaboration.Established", "2015-03-01"),
        ("Collaboration.VariationAgreed", "2019-10-01"),
    ]
    assert (page["total"], page["page"], page["page_size"], page["next_after"]) == (5, 1, 20, None)
    review_item = page["items"][2]
    assert review_item["evidence"] == "minutes 2013/4" and review_item["approval_ref"] == "AB-2012-04"
    assert review_item["actor"].startswith("Test admin (admin")
    assert review_item["forces"] == ["west-mercia", "warwickshire"]
    assert page["items"][1]["data"]["function_id"] == ict
    assert page["items"][1]["data"]["annual_budget"] == "10000000.00"

    def types(query: str) -> list[str]:
        return [item["type"].rsplit(".", 1)[-1] for item in decision_page(http_any, query)["items"]]

    assert types("?force=dorset") == ["Established"]
    assert types("?force=warwickshire&type=Established") == ["Established"]
    assert types(f"?collaboration={south_west['id']}") == ["Established"]
    assert types(f"?collaboration={alliance['id'].upper()}") == [
        "Established",
        "FunctionAdded",
        "ReviewHeld",
        "VariationAgreed",
    ]
    assert types("?type=ReviewHeld&type=Collaboration.VariationAgreed") == ["ReviewHeld", "VariationAgreed"]
    assert types("?from=2013-04-01&to=2015-03-01") == ["ReviewHeld", "Established"]
    assert types("?from=2019-10-02") == []
    today = datetime.now(UTC).date()
    assert len(types(f"?recorded_from={today - timedelta(days=1)}&recorded_to={today}")) == 5
    assert types(f"?recorded_to={today - timedelta(days=2)}") == []

    first = decision_page(http_any, "?page_size=2")
    assert first["next_after"] == first["items"][-1]["position"]
    second = decision_page(http_any, f"?page_size=2&after={first['next_after']}")
    assert second["items"] == decision_page(http_any, "?page_size=2&page=2")["items"]
    assert decision_page(http_any, "?page_size=2&page=3")["next_after"] is None


def test_the_type_filter_is_exact_and_case_sensitive_on_every_backend(http_any: Http):
    alliance = http_any.establish()
    http_any.add_function(alliance["id"])

    def types(query: str) -> list[str]:
        return [item["type"] for item in decision_page(http_any, query)["items"]]

    assert types("?type=FunctionAdded") == ["Collaboration.FunctionAdded"]
    assert types("?type=Collaboration.FunctionAdded") == ["Collaboration.FunctionAdded"]
    for near_miss in ("functionadded", "FUNCTIONADDED", "Functionadded", "Added", "unctionAdded", "FunctionAdde"):
        assert types(f"?type={near_miss}") == [], near_miss
    for near_miss in ("collaboration.FunctionAdded", "Collaboration.functionadded", "ion.FunctionAdded"):
        assert types(f"?type={near_miss}") == [], near_miss
    assert types("?type=%25FunctionAdded") == [] and types("?type=_unctionAdded") == []  # no wildcards
    assert types("?type=functionadded&type=Established") == ["Collaboration.Established"]


@pytest.mark.parametrize(
    "query",
    [
        "recorded_to=9999-12-31",
        "recorded_from=0001-01-01",
        "recorded_from=0001-01-01&recorded_to=9999-12-31",
        "to=9999-12-31",
        "from=0001-01-01",
        "from=0001-01-01&to=9999-12-31",
    ],
)
def test_the_first_and_last_representable_dates_are_ordinary_bounds(http_any: Http, query: str):
    http_any.establish()
    assert decision_page(http_any, f"?{query}")["total"] == 1
    response = http_any.get(f"/api/v1/decisions?{query}&format=csv")
    assert response.status_code == 200 and len(response.get_data(as_text=True).splitlines()) == 2


@pytest.mark.parametrize(
    ("query", "total"),
    [
        ("recorded_to=0001-01-01", 0),
        ("recorded_from=9999-12-31", 0),
        ("to=0001-01-01", 0),
        ("from=9999-12-31", 0),
        ("recorded_from=9999-12-31&recorded_to=9999-12-31", 0),
    ],
)
def test_nothing_is_recorded_or_effective_on_the_extreme_dates(http_any: Http, query: str, total: int):
    http_any.establish()
    assert decision_page(http_any, f"?{query}")["total"] == total


def test_decisions_need_a_valid_token_of_any_role(http: Http):
    http.establish()
    assert_problem(http.get("/api/v1/decisions", token=None), 401, "unauthenticated")
    assert_problem(http.get("/api/v1/decisions", token="not-a-token"), 401, "unauthenticated")
    assert_problem(http.get("/api/v1/decisions?format=csv", token=None), 401, "unauthenticated")
    assert decision_page(http, token=http.token("auditor"))["total"] == 1
    assert decision_page(http, token=http.token("force", force="dorset"))["total"] == 1


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2019-13-01", "from"),
        ("from=20190101", "from"),
        ("to=2019-02-30", "to"),
        ("to=2019-02-01T00:00:00Z", "to"),
        ("from=2019-02-02&to=2019-02-01", "to"),
        ("recorded_from=2019-1-1", "recorded_from"),
        ("recorded_from=2019-02-02&recorded_to=2019-02-01", "recorded_to"),
        ("page_size=101", "page_size"),
        ("page=0", "page"),
        ("after=0", "after"),
        ("after=1e3", "after"),
        ("after=999", "after"),  # a position that holds no decision
        ("force=atlantis", "force"),
        ("collaboration=not-a-uuid", "collaboration"),
        ("format=xml", "format"),
        ("colour=blue", "colour"),
    ],
)
def test_bad_decision_queries_are_422(http: Http, query: str, field: str):
    body = assert_problem(http.get(f"/api/v1/decisions?{query}"), 422, "validation-failed")
    assert field in body["errors"], body


def test_exit_case_decisions_are_logged_under_their_collaboration_and_its_figures_are_not(records, open_log):
    """A dispute, a settlement, a closing and a reopening are decisions of the collaboration's
    parties; a claim, an assessment and a payment are not."""
    alliance = establish(records, "Strategic Alliance", ["west-mercia", "warwickshire"])
    records.agree_exit_terms(
        alliance, notice_period_months=12, stranded_cost_rate="0.25", stranded_cost_months=6, **when(START)
    )
    records.serve_withdrawal_notice(alliance, force="warwickshire", **when(date(2018, 10, 9)))
    case = records.open_exit_case(
        collaboration_id=alliance, trigger="withdrawal", force="warwickshire", **when(date(2019, 1, 10))
    ).result["id"]
    line = {"head": "H6", "amount": "1000.00", "description": "ICT separation"}
    records.lodge_claim(case, claimant="west-mercia", respondent="warwickshire", lines=[line], **when(date(2019, 2, 1)))
    records.record_assessment(
        case, assessor="Independent assessor", recommended_amount="900.00", **when(date(2019, 3, 1))
    )
    records.raise_dispute(
        case, raised_by="warwickshire", forum="home_secretary", summary="Disputed", **when(date(2019, 4, 1))
    )
    instalments = [{"due_on": date(2020, 4, 30), "amount": "800.00"}]
    records.agree_settlement(
        case,
        payer="warwickshire",
        payee="west-mercia",
        amount="800.00",
        write_offs="27.00",
        instalments=instalments,
        **when(date(2020, 3, 30)),
    )
    records.record_payment(case, amount="800.00", paid_on=date(2020, 4, 30), **when(date(2020, 4, 30)))
    records.close_exit_case(case, **when(date(2020, 5, 1)))
    records.reopen_exit_case(case, **when(date(2020, 6, 1), "a late invoice"))
    log = open_log()
    log.catch_up()

    rows = [item for item in log.view.all_items() if item["stream_id"] == case]
    assert [(row["type"], row["summary"]) for row in rows] == [
        ("ExitCase.DisputeRaised", "warwickshire took the exit case to the home secretary: Disputed"),
        (
            "ExitCase.SettlementAgreed",
            "Exit settlement agreed: warwickshire pays west-mercia £800.00 in 1 instalment, £27.00 written off",
        ),
        ("ExitCase.Closed", "Exit case closed"),
        ("ExitCase.Reopened", "Exit case reopened: a late invoice"),
    ]
    assert {row["collaboration_id"] for row in rows} == {alliance}
    assert {row["collaboration_name"] for row in rows} == {"Strategic Alliance"}
    assert rows[1]["forces"] == ["west-mercia", "warwickshire"]
