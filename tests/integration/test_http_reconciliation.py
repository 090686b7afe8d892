"""Settlement reconciliation over HTTP: JSON, CSV, whose side, a decoupling case, the page."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from demo import load_demo
from service.resources.exit_cases.schemas import ReconciliationDocument
from tests.integration import http_support
from tests.integration.exit_case_support import CASES, SETTLEMENT, WK, WM, alliance, at, open_case, posted
from tests.integration.http_support import Http, assert_problem

http = http_support.http


def reconciliation(http: Http, case_id: str, query: str = "") -> dict:
    response = http.get(f"{CASES}/{case_id}/reconciliation{query}")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert ReconciliationDocument().validate(body) == {}
    assert response.headers["ETag"] == f'"{body["version"]}"'
    return body


def test_the_demo_settlement_against_the_formula(http: Http) -> None:
    load = load_demo(http.app.extensions["records"])
    case_id = load.exit_cases["wmw"]
    body = reconciliation(http, case_id)
    assert (body["force"], body["trigger"]) == (WM, "withdrawal")
    assert body["computed_on"] == {"notice_on": "2018-10-09", "exit_on": "2020-03-31"}
    quote = http.get(f"/api/v1/collaborations/{load.collaborations['wmw']}/exit-costs?force={WM}").get_json()
    heads = {row["head"]: row for row in body["heads"]}
    for line_head, amount in ((line["head"], line["amount"]) for line in quote["lines"]):
        assert Decimal(heads[line_head]["computed"]) == sum(
            Decimal(line["amount"]) for line in quote["lines"] if line["head"] == line_head
        ), amount
    total = body["total"]
    assert (total["claimed"], total["assessed"], total["agreed"]) == ("12400000.00", "11300000.00", "10500000.00")
    assert total["computed"] == quote["total"]
    assert Decimal(total["agreed_less_computed"]) == Decimal("10500000.00") - Decimal(quote["total"])
    assert heads["H2"]["assessed"] == "3800000.00" and heads["H2"]["agreed"] is None  # no agreed breakdown
    assert body["written_off"] == "270000.00"

    warwickshire = reconciliation(http, case_id, f"?force={WK}")
    assert warwickshire["total"]["agreed"] == "-10500000.00" and warwickshire["total"]["claimed"] == "-12400000.00"

    response = http.get(f"{CASES}/{case_id}/reconciliation?format=csv")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["head"] for row in rows] == [*heads, "total"]
    assert rows[-1]["agreed_less_computed"] == total["agreed_less_computed"]

    before = reconciliation(http, case_id, "?as_of=2020-01-01")
    assert before["total"]["agreed"] is None and before["total"]["assessed"] is None

    page = http.client.get(f"/exit-cases/{case_id}")  # not signed in: the page is behind sign-in
    assert page.status_code in (302, 303)
    assert_problem(http.get(f"{CASES}/{case_id}/reconciliation?force=dorset"), 422, "party-not-in-case")


def test_a_decoupling_case_is_reconciled_from_a_named_side_or_the_settlement_payer(http: Http) -> None:
    wmw = alliance(http)  # local policing decoupled on 2019-04-01
    case = posted(
        http, CASES, at("2019-04-02", collaboration_id=wmw.id, trigger="decoupling", function_id=wmw.local_policing)
    )
    assert_problem(http.get(f"{CASES}/{case['id']}/reconciliation"), 422, "perspective-required")
    body = reconciliation(http, case["id"], f"?force={WK}")
    statement = http.get(f"{wmw.one}/functions/{wmw.local_policing}/decoupling-costs").get_json()
    shares = {line["head"]: {s["force"]: s["amount"] for s in line["shares"]} for line in statement["lines"]}
    assert {row["head"]: row["computed"] for row in body["heads"]} == {head: s[WK] for head, s in shares.items()}
    posted(http, f"{CASES}/{case['id']}/settlement", at("2019-05-01", **{**SETTLEMENT, "payer": WK, "payee": WM}))
    settled = reconciliation(http, case["id"])
    assert settled["force"] == WK and settled["total"]["agreed"] == SETTLEMENT["amount"]


def test_a_case_with_nothing_computable_says_why(http: Http) -> None:
    collaboration = http.establish()
    one = f"/api/v1/collaborations/{collaboration['id']}"
    posted(
        http,
        f"{one}/exit-terms",
        at("2012-04-01", notice_period_months=12, stranded_cost_rate="0.25", stranded_cost_months=6),
    )
    http.add_function(collaboration["id"])  # no apportionment: nothing can be computed
    posted(http, f"{one}/withdrawal-notices", at("2018-10-09", force=WM))
    case = open_case(http, collaboration["id"])
    body = reconciliation(http, case["id"])
    assert body["computed_on"] is None and "apportionment" in body["note"]
    assert body["total"]["computed"] is None
