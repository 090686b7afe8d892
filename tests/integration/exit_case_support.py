"""Helpers for the exit-case HTTP tests: an alliance with a withdrawal notice, the West Mercia /
Warwickshire scenario of DOMAIN.md recorded entirely through the API, and the table of exit-case
writes that tests covering every write use (test_http_write_access.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.integration.http_support import REPRESENTATION, Http

BASE = "/api/v1/collaborations"
CASES = "/api/v1/exit-cases"
WM, WK = "west-mercia", "warwickshire"
SHARES = {WM: "0.69", WK: "0.31"}


def at(day: str, **body: Any) -> dict[str, Any]:
    return {"effective_on": day, "reason": "Recorded for the exit", "approval_ref": "Approved for the exit", **body}


def posted(http: Http, path: str, body: dict[str, Any], token: str | None = "admin", **headers: str) -> dict[str, Any]:
    """POSTs a write that must be recorded, asking for the whole document (the scenarios check it)."""
    response = http.post(path, body, token, **{**REPRESENTATION, **headers})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def case_document(http: Http, case_id: str, query: str = "", token: str | None = "admin") -> dict[str, Any]:
    response = http.get(f"{CASES}/{case_id}{'?' + query if query else ''}", token)
    assert response.status_code == 200, response.get_json()
    assert response.headers["ETag"] == f'"{response.get_json()["version"]}"'
    return response.get_json()


# ------------------------------------------------------------------------------ the alliance
@dataclass
class Alliance:
    """The 2012 West Mercia / Warwickshire alliance, up to West Mercia's notice (and the s23G
    direction moving its exit and the local-policing decoupling, when asked for)."""

    id: str
    one: str
    ict: str
    dogs: str
    local_policing: str


def alliance(http: Http, *, direction: bool = True, decoupling: bool = True) -> Alliance:
    """Agreed 2012-04-01, 69/31, 12 months' notice, stranded costs 0.25 for 6 months; three
    functions. West Mercia (its PCC ending the alliance) serves notice on 2018-10-09; local
    policing separates on 2019-04-01; the Home Secretary's s23G direction of Oct 2019 extends
    West Mercia's exit by six months, to 2020-04-09."""
    collaboration = http.establish(effective_on="2012-04-01")
    one = f"{BASE}/{collaboration['id']}"
    ict = http.add_function(collaboration["id"], name="Alliance ICT Dept", annual_budget="10000000.00")
    dogs = http.add_function(
        collaboration["id"], name="Alliance Dogs Team", kind="operational", annual_budget="2000000.00"
    )
    local = http.add_function(
        collaboration["id"],
        name="Local Policing Support",
        kind="operational",
        host_force=WK,
        annual_budget="6000000.00",
    )
    posted(http, f"{one}/apportionments", at("2012-04-01", function_id=None, basis="fixed_ratio", shares=SHARES))
    posted(
        http,
        f"{one}/exit-terms",
        at("2012-04-01", notice_period_months=12, stranded_cost_rate="0.25", stranded_cost_months=6),
    )
    served = posted(http, f"{one}/withdrawal-notices", at("2018-10-09", force=WM))
    assert served["earliest_exit_on"] == "2019-10-09"
    if decoupling:
        posted(
            http,
            f"{one}/functions/{local}/decoupling",
            at(
                "2019-04-01",
                decided_by="Alliance Governance Group",
                rationale="Local policing separated in April 2019",
                business_case_ref="AGG-2019-03",
            ),
        )
    if direction:
        directed = posted(
            http,
            f"{one}/directions",
            at("2019-10-01", new_exit_on="2020-04-09", summary="s23G: the Home Secretary extends the exit six months"),
        )
        assert directed["notices"][0]["exit_on"] == "2020-04-09"
    return Alliance(collaboration["id"], one, ict, dogs, local)


def open_case(http: Http, collaboration_id: str, token: str | None = "admin", **overrides: Any) -> dict[str, Any]:
    """Opens West Mercia's withdrawal case (or what ``overrides`` say)."""
    body = at("2019-11-01", collaboration_id=collaboration_id, trigger="withdrawal", force=WM, **overrides)
    response = http.post(CASES, body, token, **REPRESENTATION)
    assert response.status_code == 201, response.get_json()
    assert response.headers["Location"] == f"{CASES}/{response.get_json()['id']}"
    return response.get_json()


# --------------------------------------------------------------------- the figures of the case
CLAIM_LINES = [
    {
        "head": "H2",
        "amount": "4100000.00",
        "description": "Re-establishing HR, payroll and finance",
        "evidence": "WK-C1",
    },
    {"head": "H3", "amount": "3200000.00", "description": "Redundancy and pension strain", "evidence": "WK-C2"},
    {
        "head": "H6",
        "amount": "4600000.00",
        "description": "Transition services for IT, forensics and HR/payroll at full cost recovery",
        "evidence": "WK-C3",
    },
    {"head": "H8", "amount": "900000.00", "description": "Programme, legal and advisory costs"},
    {"head": "H6", "amount": "-400000.00", "description": "Mitigation: ICT licences novated to West Mercia"},
]
CLAIMED = "12400000.00"
ASSESSMENT_LINES = [
    {"head": "H2", "amount": "3800000.00", "description": "Re-establishing services, as evidenced"},
    {"head": "H3", "amount": "2900000.00", "description": "Redundancy and pension strain, as evidenced"},
    {"head": "H6", "amount": "3900000.00", "description": "Transition services net of mitigation"},
    {"head": "H8", "amount": "700000.00", "description": "Programme costs, capped at market rates"},
]
ASSESSED = "11300000.00"
AGREED = "10500000.00"
WRITTEN_OFF = "270000.00"
INSTALMENTS = [
    {"due_on": "2020-04-30", "amount": "3500000.00"},
    {"due_on": "2020-12-31", "amount": "3500000.00"},
    {"due_on": "2021-06-30", "amount": "3500000.00"},
]
SETTLEMENT = {"payer": WM, "payee": WK, "amount": AGREED, "write_offs": WRITTEN_OFF, "instalments": INSTALMENTS}
PAYMENTS = [(instalment["due_on"], instalment["amount"]) for instalment in INSTALMENTS]


@dataclass
class Scenario:
    """The scenario's ids and the case document after each step, in order (``steps``)."""

    alliance: Alliance
    case_id: str
    claim_id: str = ""
    assessment_id: str = ""
    dispute_id: str = ""
    payment_ids: list[str] = field(default_factory=list)
    steps: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def one(self) -> str:
        return f"{CASES}/{self.case_id}"

    def after(self, step: str) -> dict[str, Any]:
        return next(document for name, document in self.steps if name == step)


def west_mercia_warwickshire(
    http: Http, *, settle: bool = True, payments: list[tuple[str, str]] | None = None
) -> Scenario:
    """DOMAIN.md's West Mercia / Warwickshire acceptance scenario, recorded through the API.

    The alliance (see ``alliance``); West Mercia's withdrawal case opened on 2019-11-01;
    Warwickshire claims its costs of separation from the withdrawing force, 12,400,000.00 across
    H2/H3/H6/H8 with a mitigation (2019-12-02); the independent assessment recommends
    11,300,000.00 (2020-01-31); West Mercia contests the bill before the Home Secretary
    (2020-02-14); on 2020-03-30 they settle at 10,500,000.00 from West Mercia to Warwickshire
    with 270,000.00 written off, in three instalments of 3,500,000.00 over about 15 months; then
    the payments (by default one per instalment, on its due date). Steps: "opened",
    "claim", "assessment", "dispute", "settlement", "payment 1", "payment 2", ...
    Every step is sent with the admin token: an assessment and a settlement are an
    administrator's to record, whatever a party's force token may write.
    """
    alliance_ = alliance(http)
    opened = open_case(http, alliance_.id)
    scenario = Scenario(alliance_, opened["id"], steps=[("opened", opened)])
    claim = posted(http, f"{scenario.one}/claims", at("2019-12-02", claimant=WK, respondent=WM, lines=CLAIM_LINES))
    scenario.claim_id = claim["claim_id"]
    scenario.steps.append(("claim", claim))
    assessment = posted(
        http,
        f"{scenario.one}/assessments",
        at("2020-01-31", assessor="Independent assessor", recommended_amount=ASSESSED, lines=ASSESSMENT_LINES),
    )
    scenario.assessment_id = assessment["assessment_id"]
    scenario.steps.append(("assessment", assessment))
    dispute = posted(
        http,
        f"{scenario.one}/disputes",
        at(
            "2020-02-14",
            raised_by=WM,
            forum="home_secretary",
            summary="West Mercia disputes the H6 transition charges before the Home Secretary",
        ),
    )
    scenario.dispute_id = dispute["dispute_id"]
    scenario.steps.append(("dispute", dispute))
    if not settle:
        return scenario
    settlement = posted(http, f"{scenario.one}/settlement", at("2020-03-30", **SETTLEMENT, approval_ref="PCC-2020-11"))
    scenario.steps.append(("settlement", settlement))
    for number, (paid_on, amount) in enumerate(PAYMENTS if payments is None else payments, start=1):
        payment = posted(http, f"{scenario.one}/payments", at(paid_on, amount=amount, paid_on=paid_on))
        scenario.payment_ids.append(payment["payment_id"])
        scenario.steps.append((f"payment {number}", payment))
    return scenario


# ----------------------------------------------------------------------- every exit-case write
# Each exit-case write endpoint with a valid body (without the provenance of ``at``), given the
# collaboration of ``alliance`` and its withdrawal case. The create opens the decoupling case of
# the local-policing function, which does not exist yet.
def case_write_requests(alliance_: Alliance, case_id: str) -> dict[str, tuple[str, dict[str, Any]]]:
    one = f"{CASES}/{case_id}"
    return {
        "exit-cases": (
            CASES,
            {"collaboration_id": alliance_.id, "trigger": "decoupling", "function_id": alliance_.local_policing},
        ),
        "claims": (
            f"{one}/claims",
            {"claimant": WK, "respondent": WM, "lines": [{"head": "H2", "amount": "1.00", "description": "HR"}]},
        ),
        "assessments": (f"{one}/assessments", {"assessor": "Independent assessor", "recommended_amount": "1.00"}),
        "disputes": (f"{one}/disputes", {"raised_by": WM, "forum": "arbitration", "summary": "Disputed"}),
        "settlement": (f"{one}/settlement", {**SETTLEMENT}),
        "payments": (f"{one}/payments", {"amount": "100.00", "paid_on": "2020-04-30"}),
        "closure": (f"{one}/closure", {}),
        "reopening": (f"{one}/reopening", {}),
    }


# The exit-case writes that need earlier writes to succeed, in the order to send them.
CASE_PREREQUISITES: dict[str, tuple[str, ...]] = {"payments": ("settlement",), "reopening": ("settlement",)}
CASE_WRITES = tuple(case_write_requests(Alliance("id", "one", "ict", "dogs", "local"), "case"))


def prepare_case(http: Http, alliance_: Alliance, case_id: str, endpoint: str) -> int:
    """Sends the prerequisites of ``endpoint`` (with the admin token: a settlement is an
    administrator's to record); answers the case's version after them."""
    requests = case_write_requests(alliance_, case_id)
    for name in CASE_PREREQUISITES.get(endpoint, ()):
        path, body = requests[name]
        posted(http, path, at("2020-03-30", **body))
    return case_document(http, case_id)["version"]
