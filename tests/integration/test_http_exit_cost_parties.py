"""Exit figures party by party over HTTP: claims by who they are between, who is paid what (JSON
and CSV), N and E traced to their events, and quotes on an agreement that has ended."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from demo import load_demo
from service.resources.collaborations.schemas import ExitCostsDocument
from tests.integration import http_support
from tests.integration.exit_case_support import BASE, CASES, WK, WM, alliance, at, posted
from tests.integration.http_support import Http, assert_problem

http = http_support.http

ESSEX, KENT, SUSSEX = "essex", "kent", "sussex"


def quote(http: Http, path: str, query: str) -> dict[str, Any]:
    response = http.get(f"{path}/exit-costs?{query}")
    assert response.status_code == 200, response.get_json()
    assert ExitCostsDocument().validate(response.get_json()) == {}
    return response.get_json()


def three_forces(http: Http) -> str:
    collaboration = http.establish(
        name="Eastern ICT", parties=[ESSEX, KENT, SUSSEX], lead_force=ESSEX, effective_on="2015-04-01"
    )
    one = f"{BASE}/{collaboration['id']}"
    http.add_function(
        collaboration["id"], name="ICT", host_force=KENT, annual_budget="1000000.00", effective_on="2015-04-01"
    )
    shares = {ESSEX: "0.5", KENT: "0.3", SUSSEX: "0.2"}
    posted(http, f"{one}/apportionments", at("2015-04-01", function_id=None, basis="fixed_ratio", shares=shares))
    posted(
        http,
        f"{one}/exit-terms",
        at("2015-04-01", notice_period_months=12, stranded_cost_rate="0.25", stranded_cost_months=6),
    )
    return collaboration["id"]


def test_a_claim_enters_the_withdrawing_force_s_quote_by_who_it_is_between(http: Http) -> None:
    collaboration_id = three_forces(http)
    one = f"{BASE}/{collaboration_id}"
    posted(http, f"{one}/withdrawal-notices", at("2019-01-10", force=ESSEX))
    opening = at("2019-02-01", collaboration_id=collaboration_id, trigger="withdrawal", force=ESSEX)
    case = posted(http, CASES, opening)
    for claimant, respondent, head, amount in (
        (KENT, ESSEX, "H2", "10000.00"),
        (KENT, SUSSEX, "H6", "4000.00"),
        (ESSEX, SUSSEX, "H3", "7000.00"),
    ):
        line = {"head": head, "amount": amount, "description": f"{claimant} claims from {respondent}"}
        posted(
            http,
            f"{CASES}/{case['id']}/claims",
            at("2019-03-01", claimant=claimant, respondent=respondent, lines=[line]),
        )

    document = quote(http, one, f"force={ESSEX}")
    claimed = [line for line in document["lines"] if line["head"] in ("H2", "H3", "H6", "H8")]
    assert [(line["head"], line["amount"]) for line in claimed] == [("H2", "10000.00"), ("H3", "-7000.00")]
    assert [(p["force"], p["amount"]) for p in claimed[0]["payees"]] == [(KENT, "10000.00")]
    assert [(p["force"], p["amount"]) for p in claimed[1]["payees"]] == [(SUSSEX, "-7000.00")]
    assert claimed[1]["source_events"]["claimant"]["event_id"].startswith(case["id"])
    by_payee = {payee["force"]: payee for payee in document["payees"]}
    assert set(by_payee) == {KENT, SUSSEX} == set(document["remaining_parties"])
    assert sum(Decimal(p["amount"]) for p in document["payees"]) == Decimal(document["total"])
    for line in document["lines"]:
        assert sum(Decimal(p["amount"]) for p in line["payees"]) == Decimal(line["amount"])
    # H4 = 1,000,000·0.5·0.25·6/12 = 62,500.00, shared 0.3:0.2
    h4 = next(line for line in document["lines"] if line["head"] == "H4")
    assert [(p["force"], p["amount"]) for p in h4["payees"]] == [(KENT, "37500.00"), (SUSSEX, "25000.00")]
    assert h4["payees"][0]["source_events"]["r(kent, ICT)"]["event_id"] == f"{collaboration_id}:3"

    # kent's quote has none of essex's claims but the one between kent and sussex... as kent's own
    kent = quote(http, one, f"force={KENT}")
    assert [line["head"] for line in kent["lines"]] == ["H1", "H4", "H5", "H7"]  # kent has no withdrawal case


def test_n_and_e_are_traced_to_the_notice_and_the_direction(http: Http) -> None:
    wmw = alliance(http)
    document = quote(http, wmw.one, f"force={WM}")
    history = {item["version"]: item for item in http.history(wmw.id)}
    notice = next(v for v, item in history.items() if item["type"] == "Collaboration.WithdrawalNoticeServed")
    direction = next(v for v, item in history.items() if item["type"] == "Collaboration.DirectionGiven")
    h1 = document["lines"][0]
    assert h1["source_events"]["N"]["event_id"] == f"{wmw.id}:{notice}"
    assert h1["source_events"]["E"]["event_id"] == f"{wmw.id}:{direction}"
    assert h1["source_events"]["E"]["hash"] == history[direction]["hash"]
    assert h1["derived"]["days(E, notice_end)"] == ["E", "notice_end"]
    assert document["basis"]["N"]["event"]["version"] == notice
    assert document["basis"]["E"]["event"]["version"] == direction
    assert "direction" in document["basis"]["E"]["why"]
    asked = quote(http, wmw.one, f"force={WM}&exit_on=2019-12-31")
    assert asked["basis"]["E"]["event"] is None and "E" not in asked["lines"][0]["source_events"]


def test_the_payees_view_of_the_quote_as_csv(http: Http) -> None:
    wmw = alliance(http)
    response = http.get(f"{wmw.one}/exit-costs?force={WM}&format=csv&view=payees")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    document = quote(http, wmw.one, f"force={WM}")
    parts = [row for row in rows if row["head"] != "total"]
    assert [(row["head"], row["payee"], row["amount"], row["line_amount"]) for row in parts] == [
        (line["head"], p["force"], p["amount"], line["amount"]) for line in document["lines"] for p in line["payees"]
    ]
    totals = [row for row in rows if row["head"] == "total"]
    assert [(row["payee"], row["amount"]) for row in totals] == [(WK, document["total"])]
    assert 'filename="exit-costs-' in response.headers["Content-Disposition"]

    refused = http.get(f"{wmw.one}/exit-costs?force={WM}&view=payees")
    assert_problem(refused, 422)


def test_an_ended_agreement_quotes_only_the_force_that_was_leaving(http: Http) -> None:
    """The demo's alliance ended on 2020-03-31 with West Mercia leaving: Warwickshire, which never
    served notice, has no exit to quote; West Mercia is quoted on its notice and the day it left."""
    load = load_demo(http.app.extensions["records"])
    one = f"{BASE}/{load.collaborations['wmw']}"
    for query in ("", "&as_of=2021-01-01", "&as_of=2020-03-31"):
        body = assert_problem(http.get(f"{one}/exit-costs?force={WK}{query}"), 422, "agreement-has-ended")
        assert "2020-03-31" in body["detail"]
    before_end = quote(http, one, f"force={WK}&as_of=2019-01-01")
    assert before_end["notice_on"] == "2019-01-01"
    west_mercia = quote(http, one, f"force={WM}&as_of=2021-01-01")
    assert (west_mercia["notice_on"], west_mercia["exit_on"]) == ("2018-10-09", "2020-03-31")
    left = west_mercia["basis"]["E"]["event"]["version"]
    history = {item["version"]: item["type"] for item in http.history(load.collaborations["wmw"])}
    assert history[left] == "Collaboration.PartyWithdrew"
    assert [payee["force"] for payee in west_mercia["payees"]] == [WK]


def untraced(part: dict[str, Any]) -> set[str]:
    """The inputs of a line (or a party's part) neither recorded by a named event nor derived."""
    return set(part["inputs"]) - set(part["source_events"]) - set(part["derived"])


def test_every_input_of_every_line_and_part_is_traced(http: Http) -> None:
    """Each input names the event that recorded it, or is derived from named inputs."""
    load = load_demo(http.app.extensions["records"])
    quote_path = f"{BASE}/{load.collaborations['wmw']}"
    document = quote(http, quote_path, f"force={WM}")
    for line in document["lines"]:
        assert untraced(line) == set(), line["head"]
        for payee in line["payees"]:
            assert untraced(payee) == set(), (line["head"], payee["force"])
        for parts in line["derived"].values():
            assert set(parts) <= set(line["inputs"]) | {f"the lines on {line['head']} that W pays"}
    functions = http.get(quote_path).get_json()["functions"]
    decoupled = next(function for function in functions if function["decoupling"])  # local policing, 2019
    statement = http.get(f"{quote_path}/functions/{decoupled['id']}/decoupling-costs").get_json()
    assert statement["status"] == "decoupled" and statement["lines"]
    for line in statement["lines"]:
        assert untraced(line) == set(), line["head"]
        for share in line["shares"]:
            assert untraced(share) == set(), (line["head"], share["force"])
