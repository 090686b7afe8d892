"""The exit-cost histories over HTTP, on DOMAIN.md's West Mercia / Warwickshire scenario recorded
through the API: a row for each event that changed a figure, and each row the figure the API
itself quotes as known at the time the event was recorded."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from itertools import pairwise
from typing import Any

from service.resources.collaborations.schemas import ExitCostHistoryDocument
from tests.integration import http_support
from tests.integration.exit_case_support import WK, WM, Scenario, west_mercia_warwickshire
from tests.integration.http_support import Http, assert_problem

http = http_support.http
http_any = http_support.http_any

BASE = "/api/v1/collaborations"


def force_history(http: Http, scenario: Scenario, force: str = WM, query: str = "") -> dict[str, Any]:
    response = http.get(f"{BASE}/{scenario.alliance.id}/exit-cost-history?force={force}{query}")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert ExitCostHistoryDocument().validate(body) == {}
    return body


def heads_of(quote: dict[str, Any]) -> dict[str, str]:
    """A quote's total per head, as the history writes them."""
    totals: dict[str, Decimal] = {}
    for line in quote["lines"]:
        totals[line["head"]] = totals.get(line["head"], Decimal(0)) + Decimal(line["amount"])
    return {head: f"{amount:.2f}" for head, amount in sorted(totals.items())}


def test_the_withdrawing_forces_history_has_a_row_per_changing_event_each_equal_to_the_quote_then(
    http_any: Http,
) -> None:
    http = http_any
    scenario = west_mercia_warwickshire(http)
    rows = force_history(http, scenario)["items"]

    types = [row["type"] for row in rows]
    # Terms and shares make the first figure; notice, decoupling, direction move it; the claim adds
    # its heads; the assessment, settlement and each payment change the case's totals.
    assert types[-9:] == [
        "Collaboration.WithdrawalNoticeServed",
        "Collaboration.FunctionDecoupled",
        "Collaboration.DirectionGiven",
        "ExitCase.ClaimLodged",
        "ExitCase.Assessed",
        "ExitCase.SettlementAgreed",
        "ExitCase.PaymentMade",
        "ExitCase.PaymentMade",
        "ExitCase.PaymentMade",
    ]
    assert "ExitCase.DisputeRaised" not in types  # a dispute changes no figure
    assert [row["seq"] for row in rows] == list(range(1, len(rows) + 1))
    for previous, row in pairwise(rows):
        assert row["before"] == previous["after"]

    notice, decoupling, direction, claim, assessment, settlement, *payments = rows[-9:]
    assert (notice["after"]["notice_on"], notice["after"]["exit_on"]) == ("2018-10-09", "2019-10-09")
    assert direction["after"]["exit_on"] == "2020-04-09"
    assert decoupling["after"]["total"] != decoupling["before"]["total"]  # local policing left the count
    assert set(claim["after"]["heads"]) - set(claim["before"]["heads"]) == {"H2", "H3", "H6", "H8"}
    assert claim["claimed"] == "12400000.00" and claim["assessed"] is None
    assert (assessment["assessed"], assessment["agreed"]) == ("11300000.00", None)
    assert (settlement["agreed"], settlement["written_off"], settlement["outstanding"]) == (
        "10500000.00",
        "270000.00",
        "10500000.00",
    )
    assert [(p["paid"], p["outstanding"]) for p in payments] == [
        ("3500000.00", "7000000.00"),
        ("7000000.00", "3500000.00"),
        ("10500000.00", "0.00"),
    ]
    assert {row["exit_case_id"] for row in (claim, assessment, settlement)} == {scenario.case_id}

    # Every row after the notice is what the quote endpoint answers as known when it was recorded.
    for row in rows[-9:]:
        response = http.get(f"{BASE}/{scenario.alliance.id}/exit-costs?force={WM}&known_at={row['recorded_at']}")
        quote = response.get_json()
        assert (quote["notice_on"], quote["exit_on"]) == (row["after"]["notice_on"], row["after"]["exit_on"])
        assert heads_of(quote) == row["after"]["heads"], row["type"]
        assert quote["total"] == row["after"]["total"], row["type"]


def test_the_remaining_partys_history_and_the_case_history(http: Http) -> None:
    scenario = west_mercia_warwickshire(http)
    warwickshire = force_history(http, scenario, WK)["items"]
    assert warwickshire and all(row["force"] == WK for row in warwickshire)
    assert not any(row["type"].startswith("ExitCase.") for row in warwickshire)  # not its withdrawal

    case = http.get(f"/api/v1/exit-cases/{scenario.case_id}/history").get_json()["items"]
    assert [row["type"] for row in case] == [
        "ExitCase.Opened",
        "ExitCase.ClaimLodged",
        "ExitCase.Assessed",
        "ExitCase.SettlementAgreed",
        "ExitCase.PaymentMade",
        "ExitCase.PaymentMade",
        "ExitCase.PaymentMade",
    ]
    assert case[-1]["after"]["outstanding"] == "0.00" and case[-1]["before"]["outstanding"] == "3500000.00"


def test_histories_as_csv(http: Http) -> None:
    scenario = west_mercia_warwickshire(http)
    json_rows = force_history(http, scenario)["items"]
    response = http.get(f"{BASE}/{scenario.alliance.id}/exit-cost-history?force={WM}&format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == len(json_rows)
    last = rows[-1]
    assert last["type"] == "ExitCase.PaymentMade"
    assert (last["H2"], last["total"], last["outstanding"]) == (
        json_rows[-1]["after"]["heads"]["H2"],
        json_rows[-1]["after"]["total"],
        "0.00",
    )
    mitigated = next(row for row in rows if row["type"] == "Collaboration.DirectionGiven")
    assert mitigated["exit_on"] == "2020-04-09" and mitigated["H7"].startswith(("-", "0"))  # money, never quoted

    case_csv = http.get(f"/api/v1/exit-cases/{scenario.case_id}/history", Accept="text/csv")
    assert case_csv.mimetype == "text/csv"
    case_rows = list(csv.DictReader(io.StringIO(case_csv.get_data(as_text=True))))
    assert case_rows[1]["claimed_H6"] == "4200000.00"  # 4,600,000.00 less the 400,000.00 mitigation

    quote_csv = http.get(f"{BASE}/{scenario.alliance.id}/exit-costs?force={WM}&format=csv")
    quote_rows = list(csv.DictReader(io.StringIO(quote_csv.get_data(as_text=True))))
    assert quote_rows[-1]["head"] == "total"
    assert quote_rows[-1]["amount"] == json_rows[-1]["after"]["total"]
    assert {row["force"] for row in quote_rows} == {WM}


def test_history_queries_that_cannot_be_answered(http: Http) -> None:
    scenario = west_mercia_warwickshire(http, settle=False)
    one = f"{BASE}/{scenario.alliance.id}"
    assert_problem(http.get(f"{one}/exit-cost-history"), 422, "validation-failed")
    assert_problem(http.get(f"{one}/exit-cost-history?force=dorset"), 422, "party-not-in-collaboration")
    assert_problem(http.get(f"{BASE}/{'0' * 8}-0000-0000-0000-{'0' * 12}/exit-cost-history?force={WM}"), 404)
    assert_problem(http.get(f"/api/v1/exit-cases/{'0' * 8}-0000-0000-0000-{'0' * 12}/history"), 404)
    assert_problem(http.get(f"{one}/exit-cost-history?force={WM}", token=None), 401)


def test_a_cap_on_a_claimed_head_names_the_collaborations_terms_as_its_source(http: Http) -> None:
    scenario = west_mercia_warwickshire(http, settle=False)
    one = f"{BASE}/{scenario.alliance.id}"
    terms = http.post(
        f"{one}/exit-terms",
        {
            "effective_on": "2012-04-01",
            "reason": "Caps agreed",
            "notice_period_months": 12,
            "stranded_cost_rate": "0.25",
            "stranded_cost_months": 6,
            "caps": {"H8": "100.00"},
        },
    )
    assert terms.status_code == 201, terms.get_json()
    quote = http.get(f"{one}/exit-costs?force={WM}").get_json()
    [h8] = [line for line in quote["lines"] if line["head"] == "H8"]
    assert h8["amount"] == "100.00"
    assert h8["source_events"]["cap"]["event_id"] == f"{scenario.alliance.id}:{terms.get_json()['version']}"
    assert h8["source_events"]["amount"]["event_id"].startswith(scenario.case_id)
    assert h8["source_events"]["cap"]["position"] is not None
