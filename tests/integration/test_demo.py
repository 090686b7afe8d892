"""The demo data from the public record (``demo/``, ``flask demo load``): the three cases of
DOMAIN.md with their figures, recorded through the application service; loading twice records
nothing new; the first start of ``bin/serve`` loads it only into an empty store; a case file the
loader refuses records nothing."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from demo import (
    CALLER,
    PRINCIPAL,
    DemoDataError,
    DemoLoad,
    DemoStepRefused,
    load_demo,
    load_demo_if_empty,
    read_sources,
    read_steps,
)
from demo.cli import AUDITOR_TOKEN_LABEL, DEMO_AUDITOR, demo_cli
from demo.loader import CASE_FILES
from projections.benefits_realisation import dashboard_of
from service.application import Caller, CollaborationRecords, IdempotencyKey
from service.persistence import persistence_environment
from service.queries import RecordQueries
from tests.integration.http_support import Http, http_for

ROOT = Path(__file__).resolve().parents[2]
ASSUMPTION = "Assumption (not public): "
SOURCES = tuple(read_sources().values())
# The public record's figures (the 7F response to The Hard Yards).
SEVEN_FORCES = ["essex", "kent", "norfolk", "suffolk", "hertfordshire", "bedfordshire", "cambridgeshire"]
SAVINGS_TARGET = "8455000.00"
UNPLANNED = "1150000.00"
# The quarters measured (their split is an assumption): (period_start, period_end, value).
SEVEN_F_QUARTERS = [
    (str(step.kwargs["period_start"]), str(step.kwargs["period_end"]), step.kwargs["value"])
    for step in read_steps()
    if step.key.startswith("demo:7f:measurement:savings:")
]


@pytest.fixture
def memory_records(memory_url: str) -> Iterator[CollaborationRecords]:
    application = CollaborationRecords(env=persistence_environment(memory_url))
    yield application
    application.close()


@pytest.fixture
def loaded(records: CollaborationRecords) -> DemoLoad:
    return load_demo(records)


def events_of(records: CollaborationRecords) -> list[dict[str, Any]]:
    return RecordQueries(records).feed(after=0, limit=10_000)


def functions_by_name(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {function["name"]: function for function in document["functions"]}


def test_loading_records_the_three_collaborations(records: CollaborationRecords, loaded: DemoLoad) -> None:
    assert set(loaded.collaborations) == {"wmw", "ddc", "7f"}
    assert loaded.recorded == loaded.steps > 0
    assert loaded.events_before == 0
    assert loaded.events == loaded.events_after == records.log_size()

    wmw = RecordQueries(records).collaboration(loaded.collaborations["wmw"])
    assert ([party["force"] for party in wmw["parties"]], wmw["lead_force"], wmw["established_on"]) == (
        ["west-mercia", "warwickshire"],
        "west-mercia",
        "2012-04-01",
    )
    ddc = RecordQueries(records).collaboration(loaded.collaborations["ddc"])
    assert {party["force"] for party in ddc["parties"]} == {"dorset", "devon-cornwall"}
    assert ddc["governance_body"] == "Working Together Board"
    assert ddc["established_on"].startswith("2015-03")
    seven = RecordQueries(records).collaboration(loaded.collaborations["7f"])
    assert [party["force"] for party in seven["parties"]] == SEVEN_FORCES and len(SEVEN_FORCES) == 7
    assert seven["established_on"].startswith("2019-01")


def test_every_event_is_the_demo_callers_and_names_its_source(records: CollaborationRecords, loaded: DemoLoad) -> None:
    events = events_of(records)
    assert len(events) == loaded.events
    for event in events:
        assert event["actor"] == CALLER.actor
        assert event["reason"].strip()
        assert any(source in event["evidence"] for source in SOURCES), event["evidence"]
        assert event["effective_on"] < "2023-01-01"  # all from the public record, none on the day of loading


def test_west_mercia_warwickshire_figures(records: CollaborationRecords, loaded: DemoLoad) -> None:
    alliance = RecordQueries(records).collaboration(loaded.collaborations["wmw"])
    [apportionment] = alliance["apportionments"]
    assert apportionment["shares"] == {"west-mercia": "0.69", "warwickshire": "0.31"}
    assert alliance["exit_terms"][0]["notice_period_months"] == 12
    [notice] = alliance["notices"]
    assert (notice["force"], notice["served_on"]) == ("west-mercia", "2018-10-09")
    [direction] = alliance["directions"]
    assert direction["effective_on"].startswith("2019-10")
    local = functions_by_name(alliance)["Local Policing Support"]
    assert local["decoupled_on"] == "2019-04-01"
    assert alliance["status"] == "terminated" and alliance["terminated_on"] == "2020-03-31"

    case = RecordQueries(records).exit_case(loaded.exit_cases["wmw"])
    assert (case["trigger"], case["force"]) == ("withdrawal", "west-mercia")
    claimed, assessed, agreed = (Decimal(case[figure]) for figure in ("claimed", "assessed", "agreed"))
    assert claimed > assessed > agreed == Decimal("10500000.00")
    assert case["written_off"] == "270000.00"
    settlement = case["settlement"]
    assert (settlement["payer"], settlement["payee"], settlement["effective_on"]) == (
        "west-mercia",
        "warwickshire",
        "2020-03-30",
    )
    instalments = settlement["instalments"]
    assert len(instalments) == 3
    months = (date.fromisoformat(instalments[-1]["due_on"]) - date(2020, 3, 30)).days / 30.4
    assert 13 <= months <= 16  # about 15 months
    assert (case["paid"], case["outstanding"], case["status"]) == ("10500000.00", "0.00", "closed")
    [dispute] = case["disputes"]
    assert dispute["forum"] == "home_secretary"

    lines = [line for claim in case["claims"] for line in claim["lines"]]
    transition = " ".join(line["description"] for line in lines if line["head"] == "H6")
    for service in ("IT", "forensics", "HR/payroll"):
        assert service in transition

    # Figures not in the public record are labelled as assumptions in the reason.
    reasons = {event["type"]: event["reason"] for event in events_of(records)}
    assert ASSUMPTION in reasons["ExitCase.ClaimLodged"]
    assert ASSUMPTION in reasons["ExitCase.Assessed"]
    assert ASSUMPTION in reasons["ExitCase.SettlementAgreed"]  # the instalments' split
    assert ASSUMPTION not in reasons["Collaboration.WithdrawalNoticeServed"]  # 9 October 2018 is public

    # West Mercia's claimed heads enter its quote.
    quote = RecordQueries(records).exit_quote(loaded.collaborations["wmw"], force="west-mercia")
    assert quote["exit_case_id"] == loaded.exit_cases["wmw"]
    assert quote["exit_on"] == "2020-03-31"
    assert {line["head"] for line in quote["lines"]} >= {"H2", "H3", "H6", "H8"}


def test_dorset_devon_cornwall_functions_decouplings_reviews_and_benefits(
    records: CollaborationRecords, loaded: DemoLoad
) -> None:
    alliance = RecordQueries(records).collaboration(loaded.collaborations["ddc"])
    functions = functions_by_name(alliance)
    assert len(functions) > 20
    go_live = sorted(function["added_on"] for function in functions.values())
    assert go_live[0] >= "2015-01-01" and go_live[-1] <= "2018-12-31"  # all went live 2015-18
    decoupled = {
        name: (function["decoupled_on"], function["decoupling"]["decided_by"])
        for name, function in functions.items()
        if function["decoupled_on"]
    }
    assert set(decoupled) == {"Alliance Prevention Dept", "Alliance Intelligence Dept"}
    assert decoupled["Alliance Prevention Dept"][0].startswith("2019")
    assert decoupled["Alliance Intelligence Dept"][0].startswith("2020")
    assert {decided_by for _, decided_by in decoupled.values()} == {"Working Together Board"}
    outcomes = " ".join(review["outcome"] for review in alliance["reviews"])
    assert "merger" in outcomes and "declined" in outcomes
    assert any(review["held_on"].startswith("2018") for review in alliance["reviews"])

    benefits = [records.benefit(benefit_id) for key, benefit_id in loaded.benefits.items() if key.startswith("ddc:")]
    assert len(benefits) == 7
    assert sorted(benefit.sub_category for benefit in benefits) == ["1a", "1b", "2a", "2a", "2b", "2b", "2b"]
    dashboard = dashboard_of(benefits, read_on=date(2026, 1, 1), collaboration_id=loaded.collaborations["ddc"])
    assert dashboard["totals"]["all"]["benefits"] == 7


def test_seven_forces_procurement_savings(records: CollaborationRecords, loaded: DemoLoad) -> None:
    savings = RecordQueries(records).benefit(loaded.benefits["7f:savings"])
    assert (savings["category"], savings["sub_category"], savings["unit"]) == ("1", "1a", "GBP")
    assert savings["target"]["value"] == SAVINGS_TARGET
    assert len(savings["measurements"]) == len(SEVEN_F_QUARTERS) >= 4
    for measurement in savings["measurements"]:
        start, end = date.fromisoformat(measurement["period_start"]), date.fromisoformat(measurement["period_end"])
        assert 89 <= (end - start).days <= 91  # quarterly
    quarters = sum(Decimal(value) for _, _, value in SEVEN_F_QUARTERS)

    unplanned = RecordQueries(records).benefit(loaded.benefits["7f:unplanned"])
    assert unplanned["realisation"]["cumulative_value"] == UNPLANNED
    assert unplanned["status"] == "realised"

    benefits = [records.benefit(loaded.benefits[key]) for key in ("7f:savings", "7f:unplanned", "7f:dis-benefit")]
    dashboard = dashboard_of(benefits, read_on=date(2026, 1, 1), collaboration_id=loaded.collaborations["7f"])
    totals = dashboard["totals"]["all"]
    assert Decimal(totals["cash_savings"]) == quarters + Decimal(UNPLANNED)  # the dis-benefit is not offset
    assert (totals["benefits"], totals["dis_benefits"], totals["dis_benefits_money"]) == (3, 1, "180000.00")
    assert Decimal(totals["net_money"]) == quarters + Decimal(UNPLANNED) - Decimal("180000.00")


def test_seven_forces_register_profile_dis_benefit_and_rag_history(
    records: CollaborationRecords, loaded: DemoLoad
) -> None:
    """The 7F savings follow a quarterly profile (an assumption; only the four-year total is
    public): five quarters measured are ahead of it, so the derived RAG is green; a RAG override
    held it at amber from April to September 2020. The dis-benefit's one-off costs run ahead of
    its straight line: red."""
    queries = RecordQueries(records)
    savings = queries.benefit(loaded.benefits["7f:savings"])
    assert len(savings["profile"]) == 16 and sum(Decimal(p["value"]) for p in savings["profile"]) == Decimal(
        "8455000.00"
    )
    assert savings["realisation"]["expected_basis"] == "profile"
    assert savings["realisation"]["planned_value"] == "2100000.00"  # 4 x 400,000 + 500,000
    assert savings["realisation"]["rag"] == "green" and savings["rag_override"] is None
    assert [(entry["on"], entry["source"], entry["rag"]) for entry in savings["rag_history"]] == [
        ("2019-06-30", "derived", "green"),
        ("2019-09-30", "derived", "green"),
        ("2019-12-31", "derived", "green"),
        ("2020-03-31", "derived", "green"),
        ("2020-04-10", "override", "amber"),
        ("2020-06-30", "derived", "green"),
        ("2020-09-15", "override_cleared", None),
    ]
    assert all("Assumption (not public)" in entry["reason"] for entry in savings["rag_history"][4:5])
    assert savings["confidence"]["confidence"] == "high"
    assert (savings["measurement_frequency"], savings["cash_releasing"]) == ("quarterly", True)
    assert savings["senior_responsible_owner"] != savings["owner"]
    assert savings["objective"] == "Procurement savings for the seven forces' revenue budgets"
    as_of_summer = queries.benefit(loaded.benefits["7f:savings"], as_of=date(2020, 7, 1))
    assert (as_of_summer["realisation"]["rag"], as_of_summer["realisation"]["rag_derived"]) == ("amber", "green")
    dis = queries.benefit(loaded.benefits["7f:dis-benefit"])
    assert (dis["kind"], dis["reference"]) == ("dis_benefit", "7F-DB-1")
    assert (dis["realisation"]["planned_value"], dis["realisation"]["variance"]) == ("125000.00", "-55000.00")
    assert dis["realisation"]["rag"] == "red" and dis["realisation"]["on_track"] is False


def test_loading_twice_records_nothing_new(records: CollaborationRecords, loaded: DemoLoad) -> None:
    size = records.log_size()
    again = load_demo(records)
    assert records.log_size() == size
    assert (again.recorded, again.events, again.steps) == (0, 0, loaded.steps)
    assert again.collaborations == loaded.collaborations
    assert again.exit_cases == loaded.exit_cases
    assert again.benefits == loaded.benefits
    assert again.summary().startswith("Demo data: nothing new")


def test_the_first_start_loads_only_into_an_empty_store(records: CollaborationRecords) -> None:
    first = load_demo_if_empty(records)
    assert first is not None and first.recorded == first.steps
    size = records.log_size()
    assert load_demo_if_empty(records) is None
    assert records.log_size() == size


def test_the_first_start_leaves_a_store_with_other_records_alone(records: CollaborationRecords) -> None:
    records.establish_collaboration(
        caller=Caller("someone (admin)"),
        name="Existing",
        purpose="p",
        parties=["dorset", "suffolk"],
        lead_force="dorset",
        effective_on=date(2020, 1, 1),
        reason="agreed",
    )
    assert load_demo_if_empty(records) is None
    assert records.log_size() == 1


def test_a_step_whose_key_was_used_for_another_request_is_refused_not_recorded_twice(
    records: CollaborationRecords,
) -> None:
    """E.g. a store loaded by an earlier version of the demo whose first step has changed since."""
    records.establish_collaboration(
        caller=CALLER,
        name="Strategic Alliance (an earlier demo)",
        purpose="p",
        parties=["west-mercia", "warwickshire"],
        lead_force="west-mercia",
        effective_on=date(2012, 4, 1),
        reason="agreed",
        idempotency=IdempotencyKey(PRINCIPAL, "demo:wmw:establish", "another request"),
    )
    with pytest.raises(DemoStepRefused, match="demo:wmw:establish"):
        load_demo(records)
    assert records.log_size() == 1


def test_the_cli_loads_the_demo_and_a_second_run_records_nothing(database_url: str) -> None:
    for http in http_for(database_url):
        check_cli(http)


def check_cli(http: Http) -> None:
    http.app.cli.add_command(demo_cli)  # as wsgi.py adds it
    runner = http.app.test_cli_runner()
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    assert re.search(r"\d+ of \d+ steps recorded now", result.output), result.output
    size = http.log_size()

    register = http.get("/api/v1/collaborations").get_json()
    names = {item["name"] for item in register["items"]}
    assert names == {
        "Strategic Alliance (West Mercia and Warwickshire)",
        "Strategic Alliance (Dorset and Devon & Cornwall)",
        "7F Procurement",
    }
    [seven] = [item for item in register["items"] if item["name"] == "7F Procurement"]
    dashboard = http.get(f"/api/v1/collaborations/{seven['id']}/benefits").get_json()
    expected = sum(Decimal(value) for _, _, value in SEVEN_F_QUARTERS) + Decimal(UNPLANNED)
    assert Decimal(dashboard["totals"]["all"]["cash_savings"]) == expected

    again = runner.invoke(args=["demo", "load"])
    assert again.exit_code == 0, again.output
    assert "nothing new" in again.output
    assert http.log_size() == size

    if_empty = runner.invoke(args=["demo", "load", "--if-empty"])
    assert if_empty.exit_code == 0, if_empty.output
    assert "not loaded" in if_empty.output
    assert http.log_size() == size


def test_a_first_load_can_make_an_auditor_token_for_the_web_view(database_url: str) -> None:
    for http in http_for(database_url):
        http.app.cli.add_command(demo_cli)
        runner = http.app.test_cli_runner()
        result = runner.invoke(args=["demo", "load", "--if-empty", "--auditor-token"])
        assert result.exit_code == 0, result.output
        [line] = [line for line in result.output.splitlines() if line.startswith(AUDITOR_TOKEN_LABEL)]
        principal = http.tokens.authenticate(line.removeprefix(AUDITOR_TOKEN_LABEL))
        assert principal is not None and principal.role == "auditor" and principal.name == DEMO_AUDITOR
        assert result.output.splitlines()[-1].startswith("Demo data: ")  # the summary stays last
        tokens = len(http.tokens.list())
        # a store that already holds events: nothing loaded, no token made
        again = runner.invoke(args=["demo", "load", "--if-empty", "--auditor-token"])
        assert again.exit_code == 0 and AUDITOR_TOKEN_LABEL not in again.output
        assert len(http.tokens.list()) == tokens


def test_wsgi_gives_flask_the_demo_command(tmp_path: Path) -> None:
    """``flask --app wsgi demo load`` (bin/serve's first start): the app factory knows nothing of
    the demo; wsgi.py adds its command."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'records.sqlite3'}"}
    flask = [str(Path(sys.executable).parent / "flask"), "--app", "wsgi", "demo", "load", "--help"]
    result = subprocess.run(flask, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "--if-empty" in result.stdout and "--auditor-token" in result.stdout


def test_every_step_is_read_from_the_data_files() -> None:
    steps = read_steps()
    assert [step.case for step in steps[:1]] == ["wmw"] and steps[-1].key == "demo:7f:review:2020"
    assert len({step.key for step in steps}) == len(steps) == 89
    for step in steps:
        assert step.kwargs["evidence"] and step.kwargs["reason"].strip(), step.key


def faulty_case_files(tmp_path: Path, fault: str) -> list[Path]:
    """Copies of the three case files, the last (7F) with ``fault`` in a late step."""
    copies = []
    for original in CASE_FILES:
        document = json.loads(original.read_text(encoding="utf-8"))
        if document["case"] == "7f":
            step = document["steps"][-2]  # benefit:unplanned:realised
            if fault == "unknown command":
                step["command"] = "drop_the_record"
            elif fault == "not a command":
                step["command"] = "log_size"
            elif fault == "unresolved reference":
                step["args"] = [{"result_of": "benefit:unplaned", "field": "id"}]
            elif fault == "reference to a later step":
                document["steps"][1]["args"] = [{"result_of": "review:2020", "field": "id"}]
            elif fault == "unknown source":
                step["evidence"] = ["7f-response", "a rumour"]
            elif fault == "not a date":
                step["kwargs"]["effective_on"] = "15/09/2020"
            elif fault == "unknown argument":
                document["steps"][0]["kwargs"]["colour"] = "blue"
            elif fault == "unknown key":
                step["comment"] = "a typo of notes"
            elif fault == "step named twice":
                step["step"] = "benefit:savings"
        copy = tmp_path / original.name
        copy.write_text(json.dumps(document), encoding="utf-8")
        copies.append(copy)
    return copies


@pytest.mark.parametrize(
    ("fault", "refusal"),
    [
        ("unknown command", r"seven_forces.json, step 21 \('benefit:unplanned:realised'\): 'drop_the_record' is not a"),
        ("not a command", r"'log_size' is not a command of the application"),
        ("unresolved reference", r"step 21 .*refers to 'benefit:unplaned', which is not an earlier step of the case"),
        ("reference to a later step", r"step 2 \('function'\): refers to 'review:2020', which is not an earlier step"),
        ("unknown source", r"'evidence' \['7f-response', 'a rumour'\]: not keys of demo/sources.json"),
        ("not a date", r"effective_on '15/09/2020' is not a YYYY-MM-DD date"),
        ("unknown argument", r"step 1 \('establish'\): establish_collaboration does not take these arguments"),
        ("unknown key", r"step 21: unknown keys \['comment'\]"),
        ("step named twice", r"step 21: 'step' must name a new step"),
    ],
)
def test_a_faulty_case_file_is_refused_before_anything_is_recorded(
    memory_records: CollaborationRecords, tmp_path: Path, fault: str, refusal: str
) -> None:
    """The fault is in the last case's file: the two cases before it are not recorded either.
    (Reading the files is the same on every backend: these run on the in-memory one.)"""
    records = memory_records
    case_files = faulty_case_files(tmp_path, fault)
    with pytest.raises(DemoDataError, match=refusal):
        load_demo(records, case_files)
    assert records.log_size() == 0
    assert load_demo(records, faulty_case_files(tmp_path, "none")).recorded == 89  # the copies, unbroken, load
