"""Demo data from the public record: ``flask --app wsgi demo load``.

Records three real cases from public documents (``docs/demo-data.md`` lists them) through the
application service, never by writing to the store directly:

- West Mercia and Warwickshire's Strategic Alliance (2012-2020): 69/31, West Mercia's notice of
  9 October 2018, local policing separated in April 2019, the s23G extension of October 2019,
  and the exit case: Warwickshire's claim, the independent assessment, the dispute before the
  Home Secretary, the settlement of 30 March 2020 (10,500,000.00 plus 270,000.00 written off),
  three instalments over about 15 months and their payments;
- Dorset and Devon & Cornwall's Strategic Alliance (March 2015): its business areas going live
  2015-18, the 7 benefits of the October 2014 benefits strategy, the Prevention (2019) and
  Intelligence (2020) decouplings decided through the Working Together Board, the merger
  declined in 2018 and the board's reviews;
- 7F Procurement (January 2019): seven forces, the procurement savings benefit (1a Money,
  8,455,000.00 over four years, measured quarterly) and the 1,150,000.00 of savings not in the
  business case as a benefit of its own.

Every date, actor, reason and figure follows the documents; ``evidence`` names the document.
Where the public record gives no figure or date, the reason says so and the value is labelled
``Assumption (not public): ...``.

Every step carries its own Idempotency-Key (principal ``demo``, key ``demo:<case>:<step>``), so
loading again replays each step from its stored result and records nothing new; the ids later
steps need (functions, exit cases, benefits) come from those results. A store loaded by an
earlier version of this module whose step has since changed refuses the step (the key's
fingerprint differs) rather than record it twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from domain.errors import DomainError
from service.application import Caller, CollaborationRecords, IdempotencyKey, Written

PRINCIPAL = "demo"
CALLER = Caller("Demo loader (admin)")

WM, WK = "west-mercia", "warwickshire"
DORSET, DC = "dorset", "devon-cornwall"
SEVEN_FORCES = ["essex", "kent", "norfolk", "suffolk", "hertfordshire", "bedfordshire", "cambridgeshire"]

# --------------------------------------------------------------------------- the source documents
# Each names a public document by its title as published (docs/demo-data.md lists them).
WMW_NEWS = (
    "News report 'Too many police collaborations failing due to focus on finance - report' (2020), "
    "on HMICFRS's The Hard Yards and the West Mercia / Warwickshire separation"
)
HARD_YARDS = (
    "HMICFRS, 'Police to Police Collaboration: \"The Hard Yards\"' (PEEL spotlight report, published "
    "21 July 2020; N8 2021 Innovation Forum slides)"
)
BRIEF = "Summary of the public record of the three cases (docs/demo-data.md)"
DORSET_PANEL = (
    "Police and Crime Panel, 30 June 2022: 'The Strategic Alliance' (report of the Dorset OPCC Chief Executive)"
)
DC_RESPONSE = (
    "Devon & Cornwall Police and PCC, response to HMICFRS 'The Hard Yards - Police to police collaboration' (2020)"
)
SEVEN_F_RESPONSE = (
    "'HMICFRS The Hard Yards Review 7F Response', with the letter of Tim Passmore PCC to the Home "
    "Secretary, 15 September 2020"
)
SOURCES = (WMW_NEWS, HARD_YARDS, BRIEF, DORSET_PANEL, DC_RESPONSE, SEVEN_F_RESPONSE)


def assumed(text: str) -> str:
    """The label every figure or date not in the public record carries."""
    return f"Assumption (not public): {text}"


def d(text: str) -> date:
    return date.fromisoformat(text)


# ------------------------------------------------------------------------------------ the loader
@dataclass
class DemoLoad:
    """What a load did: the ids of what it recorded (or found recorded), and how many steps were
    new. ``events`` is how much the log grew."""

    collaborations: dict[str, str] = field(default_factory=dict)  # case -> collaboration id
    exit_cases: dict[str, str] = field(default_factory=dict)  # case -> exit case id
    benefits: dict[str, str] = field(default_factory=dict)  # "<case>:<step>" -> benefit id
    functions: dict[str, dict[str, str]] = field(default_factory=dict)  # case -> name -> function id
    steps: int = 0
    recorded: int = 0
    events_before: int = 0
    events_after: int = 0

    @property
    def replayed(self) -> int:
        return self.steps - self.recorded

    @property
    def events(self) -> int:
        return self.events_after - self.events_before

    def summary(self) -> str:
        cases = (
            f"{len(self.collaborations)} collaborations, {len(self.exit_cases)} exit case"
            f"{'' if len(self.exit_cases) == 1 else 's'}, {len(self.benefits)} benefits"
        )
        if self.recorded == 0:
            return f"Demo data: nothing new; all {self.steps} steps were already recorded ({cases})."
        return (
            f"Demo data: {cases}; {self.recorded} of {self.steps} steps recorded now, {self.events} events "
            f"(log now {self.events_after})."
        )


class DemoStepRefused(Exception):
    """A step the store refused: e.g. a store loaded by an earlier version of the demo whose step
    has changed since (its Idempotency-Key now names a different request). Nothing of that step
    was recorded."""


class _Loader:
    def __init__(self, records: CollaborationRecords) -> None:
        self.records = records
        self.load = DemoLoad(events_before=records.log_size())

    def step(self, case: str, step: str, command: Callable[..., Written], *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Runs one command as the demo caller with the step's Idempotency-Key: a step already
        recorded answers its stored result and records nothing."""
        key = f"demo:{case}:{step}"
        fingerprint = IdempotencyKey.fingerprint_of("DEMO", key, {"command": command.__name__, "args": args, **kwargs})
        try:
            written = command(*args, caller=CALLER, idempotency=IdempotencyKey(PRINCIPAL, key, fingerprint), **kwargs)
        except DomainError as error:
            raise DemoStepRefused(f"demo step {key} was refused: {error}") from error
        self.load.steps += 1
        if not written.replayed:
            self.load.recorded += 1
        return written.result


def load_demo(records: CollaborationRecords) -> DemoLoad:
    """Records the three cases (or replays them, recording nothing, if they are recorded)."""
    loader = _Loader(records)
    _west_mercia_warwickshire(loader)
    _dorset_devon_cornwall(loader)
    _seven_forces(loader)
    loader.load.events_after = records.log_size()
    return loader.load


def load_demo_if_empty(records: CollaborationRecords) -> DemoLoad | None:
    """Loads the demo into a fresh store (one with no events yet); leaves any other store as it
    is and answers None."""
    if records.log_size() > 0:
        return None
    return load_demo(records)


# ------------------------------------------------------------- West Mercia and Warwickshire (WMW)
WMW_START = d("2012-04-01")
WMW_SHARES = {WM: "0.69", WK: "0.31"}
# Function, kind, host, annual budget: the functions are named in the public record's account (transition
# services for IT, forensics, HR/payroll; local policing separated); their budgets are not public.
WMW_FUNCTIONS = [
    ("Alliance ICT", "enabling", WM, "10000000.00"),
    ("Alliance Forensics", "operational", WM, "4000000.00"),
    ("Alliance HR and Payroll", "enabling", WM, "3000000.00"),
    ("Local Policing Support", "operational", WK, "6000000.00"),
]
WMW_CLAIM_LINES = [
    {
        "head": "H2",
        "amount": "4100000.00",
        "description": "Re-establishing single-force services (HR, payroll, finance) for Warwickshire",
        "evidence": assumed("the claim's heads and amounts"),
    },
    {
        "head": "H3",
        "amount": "3200000.00",
        "description": "Redundancy and pension strain",
        "evidence": assumed("the claim's heads and amounts"),
    },
    {
        "head": "H6",
        "amount": "2600000.00",
        "description": "Transition services: IT (ICT separation), at full cost recovery",
        "evidence": assumed("the amount; transition services for IT are in the domain brief"),
    },
    {
        "head": "H6",
        "amount": "1200000.00",
        "description": "Transition services: forensics, at full cost recovery",
        "evidence": assumed("the amount; transition services for forensics are in the domain brief"),
    },
    {
        "head": "H6",
        "amount": "800000.00",
        "description": "Transition services: HR/payroll, at full cost recovery",
        "evidence": assumed("the amount; transition services for HR/payroll are in the domain brief"),
    },
    {
        "head": "H8",
        "amount": "900000.00",
        "description": "Programme, legal and advisory costs",
        "evidence": assumed("the claim's heads and amounts"),
    },
    {
        "head": "H6",
        "amount": "-400000.00",
        "description": "Mitigation: ICT licences novated to West Mercia",
        "evidence": assumed("the mitigation"),
    },
]
WMW_CLAIMED = "12400000.00"
WMW_ASSESSMENT_LINES = [
    {"head": "H2", "amount": "3800000.00", "description": "Re-establishing services, as evidenced"},
    {"head": "H3", "amount": "2900000.00", "description": "Redundancy and pension strain, as evidenced"},
    {
        "head": "H6",
        "amount": "3900000.00",
        "description": "Transition services (IT, forensics, HR/payroll) net of mitigation",
    },
    {"head": "H8", "amount": "700000.00", "description": "Programme costs, at market rates"},
]
WMW_ASSESSED = "11300000.00"
WMW_AGREED = "10500000.00"
WMW_WRITTEN_OFF = "270000.00"
WMW_INSTALMENTS = [
    {"due_on": d("2020-04-30"), "amount": "3500000.00"},
    {"due_on": d("2020-12-31"), "amount": "3500000.00"},
    {"due_on": d("2021-06-30"), "amount": "3500000.00"},
]


def _west_mercia_warwickshire(loader: _Loader) -> None:
    r, step, case = loader.records, loader.step, "wmw"
    alliance = step(
        case,
        "establish",
        r.establish_collaboration,
        name="Strategic Alliance (West Mercia and Warwickshire)",
        purpose=(
            "West Mercia Police and Warwickshire Police pool about 90% of their services in one alliance, "
            "with costs split 69/31, while remaining two forces."
        ),
        parties=[WM, WK],
        lead_force=WM,
        governance_body="Alliance Governance Group",
        review_cycle_months=12,
        effective_on=WMW_START,
        reason=(
            "The strategic alliance agreement between West Mercia and Warwickshire started in 2012 "
            "(news report; HMICFRS found its generic template 'not precise enough' about exit costs). "
            + assumed(
                "the day it took effect (recorded as 1 April 2012, the start of 2012/13), the lead force "
                "(West Mercia, the larger), the governance body's name and an annual review cycle."
            )
        ),
        evidence=f"{WMW_NEWS}; {BRIEF}",
    )
    cid = loader.load.collaborations[case] = alliance["id"]
    functions = loader.load.functions.setdefault(case, {})
    for name, kind, host, budget in WMW_FUNCTIONS:
        added = step(
            case,
            f"function:{name}",
            r.add_function,
            cid,
            name=name,
            kind=kind,
            host_force=host,
            annual_budget=budget,
            effective_on=WMW_START,
            reason=(
                f"{name} is one of the alliance's pooled services (about 90% of services were pooled). "
                + assumed(f"the annual budget of £{budget} and the host force are illustrative.")
            ),
            evidence=f"{BRIEF}; {WMW_NEWS}",
        )
        functions[name] = added["function_id"]
    step(
        case,
        "apportionment",
        r.agree_apportionment,
        cid,
        function_id=None,
        basis="fixed_ratio",
        shares=WMW_SHARES,
        effective_on=WMW_START,
        reason="The alliance's costs are split 69/31 between West Mercia and Warwickshire.",
        evidence=f"{BRIEF}; {HARD_YARDS}",
    )
    step(
        case,
        "exit-terms",
        r.agree_exit_terms,
        cid,
        notice_period_months=12,
        stranded_cost_rate="0.25",
        stranded_cost_months=6,
        effective_on=WMW_START,
        reason=(
            "Twelve months' notice to withdraw. The agreement referred only to 'reasonable costs the "
            "withdrawing force is meeting' (HMICFRS: 'not precise enough'). "
            + assumed("stranded costs at 25% of the withdrawing force's share for 6 months stand in for that wording.")
        ),
        evidence=f"{WMW_NEWS}; {BRIEF}",
    )
    step(
        case,
        "notice",
        r.serve_withdrawal_notice,
        cid,
        force=WM,
        effective_on=d("2018-10-09"),
        reason=(
            "West Mercia's Police and Crime Commissioner John Campion ended the alliance, saying his force "
            "was effectively subsidising the smaller Warwickshire; notice was served on 9 October 2018."
        ),
        evidence=f"{WMW_NEWS}; {BRIEF}",
    )
    step(
        case,
        "decoupling:local-policing",
        r.decouple_function,
        cid,
        function_id=functions["Local Policing Support"],
        decided_by="West Mercia and Warwickshire chief officers and PCCs",
        rationale="Local policing was separated in April 2019, ahead of the alliance's end.",
        effective_on=d("2019-04-01"),
        reason=(
            "Local policing separated in April 2019. "
            + assumed("the day (1 April 2019), the deciding body and that no business case reference is public.")
        ),
        approval_ref="West Mercia and Warwickshire chief officers and PCCs: local policing separated (2019)",
        evidence=BRIEF,
    )
    step(
        case,
        "direction",
        r.give_direction,
        cid,
        new_exit_on=d("2020-03-31"),
        summary=(
            "s23G: the Home Secretary extends the alliance by six months beyond West Mercia's notice, to the "
            "end of March 2020, because the forces had not agreed the terms of the break-up."
        ),
        effective_on=d("2019-10-01"),
        reason=(
            "The lack of a mutual agreement on the terms of the break-up led to a Home Office ordered delay: "
            "a six-month extension directed in October 2019; the alliance ended on 31 March 2020. "
            + assumed(
                "the day of the direction (1 October 2019); the new exit date is recorded as 31 March 2020, "
                "the day the alliance ended."
            )
        ),
        approval_ref="The Home Secretary's s23G direction of October 2019",
        evidence=f"{WMW_NEWS}; {BRIEF}",
    )
    exit_case = step(
        case,
        "exit-case",
        r.open_exit_case,
        collaboration_id=cid,
        trigger="withdrawal",
        force=WM,
        effective_on=d("2019-01-15"),
        reason=(
            "The money side of West Mercia's withdrawal: what it owes Warwickshire for leaving. "
            + assumed("the day the case was opened.")
        ),
        evidence=WMW_NEWS,
    )
    case_id = loader.load.exit_cases[case] = exit_case["id"]
    step(
        case,
        "claim",
        r.lodge_claim,
        case_id,
        claimant=WK,
        respondent=WM,
        lines=WMW_CLAIM_LINES,
        effective_on=d("2019-06-28"),
        reason=(
            "Warwickshire claims its costs of separation, including transition services for IT, forensics "
            "and HR/payroll at full cost recovery. "
            + assumed("the claim's amount (12,400,000.00), its lines and its date: only the settlement is public.")
        ),
        evidence=f"{BRIEF}; {WMW_NEWS}",
    )
    step(
        case,
        "dispute",
        r.raise_dispute,
        case_id,
        raised_by=WK,
        forum="home_secretary",
        summary=(
            "No mutual agreement on the terms of the break-up: the matter goes to the Home Secretary, who "
            "orders a delay (s23G) and later confirms that West Mercia had been subsidising Warwickshire."
        ),
        effective_on=d("2019-09-02"),
        reason=(
            "The divorce took two years and Home Office intervention to settle. "
            + assumed("which party referred it and the day (2 September 2019).")
        ),
        evidence=WMW_NEWS,
    )
    step(
        case,
        "assessment",
        r.record_assessment,
        case_id,
        assessor="Independent assessor",
        recommended_amount=WMW_ASSESSED,
        lines=WMW_ASSESSMENT_LINES,
        effective_on=d("2020-01-31"),
        reason=(
            "An independent assessment of Warwickshire's claim, below the claim and above the settlement. "
            + assumed("the assessor, the amount (11,300,000.00), its lines and its date.")
        ),
        evidence=f"{WMW_NEWS}; {BRIEF}",
    )
    step(
        case,
        "settlement",
        r.agree_settlement,
        case_id,
        payer=WM,
        payee=WK,
        amount=WMW_AGREED,
        write_offs=WMW_WRITTEN_OFF,
        instalments=WMW_INSTALMENTS,
        effective_on=d("2020-03-30"),
        reason=(
            "West Mercia agreed to pay Warwickshire £10.5 million, with £270k written off, in three instalments "
            "over about 15 months. " + assumed("the instalments' split (three of 3,500,000.00) and due dates.")
        ),
        approval_ref="Settlement agreed by both Police and Crime Commissioners, 30 March 2020",
        evidence=f"{WMW_NEWS}; {BRIEF}",
    )
    step(
        case,
        "withdrawal",
        r.record_withdrawal,
        cid,
        force=WM,
        effective_on=d("2020-03-31"),
        reason="West Mercia left the alliance when it ended on 31 March 2020.",
        evidence=f"{WMW_NEWS}; {BRIEF}",
    )
    step(
        case,
        "termination",
        r.terminate_agreement,
        cid,
        effective_on=d("2020-03-31"),
        reason="The strategic alliance was finally ended in March 2020 (31 March 2020).",
        approval_ref="The end of the Strategic Alliance agreed by both forces, 31 March 2020",
        evidence=f"{WMW_NEWS}; {BRIEF}",
    )
    for number, instalment in enumerate(WMW_INSTALMENTS, start=1):
        step(
            case,
            f"payment:{number}",
            r.record_payment,
            case_id,
            amount=instalment["amount"],
            paid_on=instalment["due_on"],
            effective_on=instalment["due_on"],
            reason=(
                f"Instalment {number} of 3 under the settlement. "
                + assumed("each instalment paid in full on its due date.")
            ),
            evidence=BRIEF,
        )
    step(
        case,
        "closing",
        r.close_exit_case,
        case_id,
        effective_on=d("2021-06-30"),
        reason="The settlement is paid in full; nothing is outstanding. " + assumed("the day of closing."),
        evidence=BRIEF,
    )


# ------------------------------------------------------------------ Dorset and Devon & Cornwall
DDC_START = d("2015-03-01")
# The panel report's business areas, in the order they went live, all between 2015 and 2018.
DDC_OPERATIONAL = [
    "Alliance Operations Dept",
    "Alliance Automatic Number Plate Recognition Team",
    "Alliance Dogs Team",
    "Alliance Roads Policing Team",
    "Alliance Operations Planning Team",
    "Alliance Armed Response Vehicles Team",
    "Alliance Tactical Firearms Team",
    "Alliance Force Support Group",
    "Alliance Drone Team",
]
DDC_ENABLING = [
    "Alliance Admin Services Dept",
    "Alliance Audit, Insurance & Strategic Risk Team",
    "Alliance Finance Dept",
    "Alliance Integrated Offender Mgmt. Team",
    "Alliance Information Assurance Team",
    "Alliance Fleet Services Dept",
    "Alliance ICT Dept",
    "Alliance People Dept",
    "Alliance Information Compliance Team",
    "Alliance Firearms & Explosives Licensing Team",
    "Alliance Professional Standards Dept",
    "Alliance Corporate Communications Dept",
    "Alliance Evidential Property Team",
]
# The two departments later returned to single-force structures (not in the 2022 list).
DDC_DECOUPLED = [("Alliance Prevention Dept", d("2016-04-01")), ("Alliance Intelligence Dept", d("2016-10-01"))]
DDC_BUDGET = "1000000.00"
DDC_SHARES = {DC: "0.7", DORSET: "0.3"}
WTB = "Working Together Board"


def _go_live(index: int, count: int) -> date:
    """Spreads ``count`` business areas in order over April 2015 to October 2018."""
    months = round(index * 42 / max(count - 1, 1))
    return date(2015 + (3 + months) // 12, (3 + months) % 12 + 1, 1)


# The 7 benefits of the October 2014 Alliance Benefits Management Strategy: one economic (cashable
# savings), one efficiency (non-cashable savings), five effectiveness. Their own titles are not
# public; the effectiveness benefits take the words of the alliance's aims (panel report, 1.3 and 3.1).
DDC_BENEFITS: list[dict[str, Any]] = [
    {
        "step": "economic",
        "title": "Economic: cashable savings, reducing costs to protect frontline policing",
        "category": "1",
        "sub_category": "1a",
        "pillar": "cost",
        "direction": "increase",
        "unit": "GBP",
        "measure": "Cashable savings against both forces' revenue budgets (standardised cost model)",
    },
    {
        "step": "efficiency",
        "title": "Efficiency: non-cashable savings, improving efficiency",
        "category": "1",
        "sub_category": "1b",
        "pillar": "cost",
        "direction": "increase",
        "unit": "hours",
        "measure": "Operational hours released",
    },
    {
        "step": "local-policing",
        "title": "Effectiveness: local policing delivery remains at the heart of everything we do, "
        "to maintain public trust and confidence",
        "category": "2",
        "sub_category": "2b",
        "pillar": "service",
        "direction": "maintain",
        "measure": "Public trust and confidence (survey, % confident), within 2 points",
        "unit": "percent",
        "tolerance": "2",
    },
    {
        "step": "resilience",
        "title": "Effectiveness: improved resilience",
        "category": "2",
        "sub_category": "2b",
        "pillar": "service",
        "direction": "increase",
        "measure": "Resilience of alliance operational and enabling services",
    },
    {
        "step": "new-threats",
        "title": "Effectiveness: investing in tackling new and emerging threats",
        "category": "2",
        "sub_category": "2b",
        "pillar": "service",
        "direction": "increase",
        "measure": "Capability against new and emerging threats",
    },
    {
        "step": "integrated-services",
        "title": "Effectiveness: services integrated and delivered jointly through alliance teams and "
        "streamlined management structures",
        "category": "2",
        "sub_category": "2a",
        "pillar": "people",
        "direction": "increase",
        "measure": "Business areas delivered through alliance teams",
    },
    {
        "step": "continuous-improvement",
        "title": "Effectiveness: continuous improvement, ambition not limited by geography",
        "category": "2",
        "sub_category": "2a",
        "pillar": "service",
        "direction": "increase",
        "measure": "Improvements adopted across both forces",
    },
]


def _dorset_devon_cornwall(loader: _Loader) -> None:
    r, step, case = loader.records, loader.step, "ddc"
    alliance = step(
        case,
        "establish",
        r.establish_collaboration,
        name="Strategic Alliance (Dorset and Devon & Cornwall)",
        purpose=(
            "Two equal partners sharing a common commitment to an effective and proudly local policing "
            "service, whilst reducing costs, improving efficiency and resilience, and investing in tackling "
            "new and emerging threats, remaining separate forces."
        ),
        parties=[DORSET, DC],
        lead_force=DC,
        governance_body=WTB,
        review_cycle_months=12,
        effective_on=DDC_START,
        reason=(
            "Dorset Police and Devon & Cornwall Police formally entered into a strategic alliance in March "
            "2015, governed by the Working Together Board. "
            + assumed("the day (1 March 2015) and the lead force (Devon & Cornwall, the larger).")
        ),
        evidence=DORSET_PANEL,
    )
    cid = loader.load.collaborations[case] = alliance["id"]
    step(
        case,
        "apportionment",
        r.agree_apportionment,
        cid,
        function_id=None,
        basis="net_revenue_budget",
        shares=DDC_SHARES,
        effective_on=DDC_START,
        reason=(
            "The alliance's costs are shared between the two forces. "
            + assumed("the basis and the shares (Devon & Cornwall 0.7, Dorset 0.3).")
        ),
        evidence=DORSET_PANEL,
    )
    functions = loader.load.functions.setdefault(case, {})
    areas = [
        *[(name, "operational", _go_live(i, len(DDC_OPERATIONAL))) for i, name in enumerate(DDC_OPERATIONAL)],
        *[(name, "enabling", _go_live(i, len(DDC_ENABLING))) for i, name in enumerate(DDC_ENABLING)],
        *[(name, "operational", on) for name, on in DDC_DECOUPLED],
    ]
    for name, kind, on in sorted(areas, key=lambda area: area[2]):
        added = step(
            case,
            f"function:{name}",
            r.add_function,
            cid,
            name=name,
            kind=kind,
            host_force=DC,
            annual_budget=DDC_BUDGET,
            effective_on=on,
            reason=(
                f"{name} went live as an alliance business area ({kind.replace('operational', 'operational command')}"
                "; all went live between 2015 and 2018). "
                + assumed(
                    f"the go-live date (the report gives only the order), the host force and the annual "
                    f"budget of £{DDC_BUDGET}, which is illustrative."
                )
            ),
            evidence=DORSET_PANEL,
        )
        functions[name] = added["function_id"]
    for benefit in DDC_BENEFITS:
        identified = step(
            case,
            f"benefit:{benefit['step']}",
            r.identify_benefit,
            cid,
            title=benefit["title"],
            category=benefit["category"],
            sub_category=benefit["sub_category"],
            pillar=benefit["pillar"],
            direction=benefit["direction"],
            measure=benefit["measure"],
            unit=benefit.get("unit"),
            tolerance=benefit.get("tolerance"),
            owner="Alliance Business Change Department",
            stage=1,
            status="planned",
            effective_on=DDC_START,
            reason=(
                "One of the 7 key benefits of the Alliance Benefits Management Strategy approved in October "
                "2014 (one economic, one efficiency, five effectiveness), recorded from the alliance's start. "
                + assumed(
                    "the benefit's own title (the strategy's wording is not public; this one takes the words "
                    "of the alliance's aims), its pillar (the three pillars date from 2022), how it is measured "
                    "(measure, unit, tolerance), its baseline and target."
                )
            ),
            evidence=f"{DC_RESPONSE}; {DORSET_PANEL}",
        )
        loader.load.benefits[f"{case}:{benefit['step']}"] = identified["id"]
    step(
        case,
        "review:merger-declined",
        r.hold_review,
        cid,
        outcome=(
            "The potential merger of Devon and Cornwall Police with Dorset Police is declined: the Devon and "
            "Cornwall PCC withdrew, not convinced it would be in the best interests of the public of Devon and "
            "Cornwall, a decision supported by the Police and Crime Panel. The alliance continues."
        ),
        effective_on=d("2018-10-01"),
        reason=(
            "Alison Hernandez, PCC: 'Hard decisions are also required from leaders, as was demonstrated in "
            "autumn 2018'. " + assumed("the day (1 October 2018).")
        ),
        evidence=DC_RESPONSE,
    )
    step(
        case,
        "review:steady-state",
        r.hold_review,
        cid,
        outcome=(
            "Since late 2018 no further business areas have been aligned: a steady state of 'working together' "
            "under the usual scrutiny of both forces' business, operations and performance boards."
        ),
        effective_on=d("2018-12-31"),
        reason="Working Together Board oversight of the alliance. " + assumed("the day (31 December 2018)."),
        evidence=DORSET_PANEL,
    )
    for benefit in DDC_BENEFITS:
        step(
            case,
            f"benefit:{benefit['step']}:bau",
            r.change_benefit_stage,
            loader.load.benefits[f"{case}:{benefit['step']}"],
            stage=1,
            status="handed_to_bau",
            effective_on=d("2018-12-31"),
            reason=(
                "Benefits reporting ceased once the programme closed: cashable savings within BAU budget "
                "monitoring, non-financial benefits with each alliance business area after Post Implementation "
                "Reviews. " + assumed("the day the programme closed (31 December 2018).")
            ),
            evidence=DC_RESPONSE,
        )
    step(
        case,
        "decoupling:prevention",
        r.decouple_function,
        cid,
        function_id=functions["Alliance Prevention Dept"],
        decided_by=WTB,
        rationale=(
            "Differential levels of investment in the 'citizens in policing' agenda (cadets, special constables, "
            "police staff volunteers) and different approaches to services for young people (including Safer "
            "Schools Teams), linked to each force's priorities and police and crime plans, began to impact on "
            "service delivery through competing priorities. Transition plans ensured continuity of service; a "
            "'lessons learned' report went to the Working Together Board."
        ),
        effective_on=d("2019-04-01"),
        reason=(
            "In 2019 the decision was taken to decouple the single Prevention Department across both forces. "
            + assumed("the day (1 April 2019) and that no business case reference is public.")
        ),
        approval_ref="Working Together Board: decision to decouple the Prevention Department (2019)",
        evidence=DORSET_PANEL,
    )
    step(
        case,
        "decoupling:intelligence",
        r.decouple_function,
        cid,
        function_id=functions["Alliance Intelligence Dept"],
        decided_by=WTB,
        rationale=(
            "An exception reported through the Working Together Board: with differential ICT systems the Alliance "
            "Intelligence Department worked inefficiently in different ways for each force, and a single ICT "
            "platform for crime recording was still years away. After a business case was developed and "
            "scrutinised, the department returned to a single-force structure."
        ),
        business_case_ref="Alliance Intelligence Department business case (2020)",
        effective_on=d("2020-10-01"),
        reason=(
            "In 2020 the decision was taken to return the Intelligence Department to a single force structure. "
            + assumed("the day (1 October 2020); the business case's reference is not public.")
        ),
        approval_ref="Working Together Board: decision to return the Intelligence Department to single-force (2020)",
        evidence=DORSET_PANEL,
    )
    step(
        case,
        "variation:annual-reviews",
        r.agree_variation,
        cid,
        clause="Governance: reviews of business areas",
        summary=(
            "Annual reviews for each business area, focused on service delivery and sequenced to feed each "
            "force's Force Management Statement."
        ),
        effective_on=d("2021-04-01"),
        reason="Agreed by the Working Together Board. " + assumed("the day (1 April 2021)."),
        evidence=DORSET_PANEL,
    )
    step(
        case,
        "review:2022",
        r.hold_review,
        cid,
        outcome=(
            "The Working Together Board determined that the existing benefits realisation model is out of date: "
            "savings targets set in 2015 were achieved on a like-for-like basis, but a new strategic performance "
            "framework of three pillars (people, cost, service) is being developed. The board's business is "
            "restructured into Assurance, Delivery and Benefits Realisation, and Futures Planning."
        ),
        effective_on=d("2022-06-30"),
        reason="Reported to the Police and Crime Panel on 30 June 2022.",
        evidence=DORSET_PANEL,
    )


# ---------------------------------------------------------------------------------------- 7F
SEVEN_F_START = d("2019-01-15")
SEVEN_F_SHARES = {
    "essex": "0.2",
    "kent": "0.2",
    "norfolk": "0.1",
    "suffolk": "0.1",
    "hertfordshire": "0.15",
    "bedfordshire": "0.1",
    "cambridgeshire": "0.15",
}
SAVINGS_TARGET = "8455000.00"
UNPLANNED = "1150000.00"
# The quarters measured before the response of September 2020 ("some of which have already been
# delivered"); their split is not public.
SEVEN_F_QUARTERS = [
    ("2019-04-01", "2019-06-30", "450000.00"),
    ("2019-07-01", "2019-09-30", "550000.00"),
    ("2019-10-01", "2019-12-31", "650000.00"),
    ("2020-01-01", "2020-03-31", "700000.00"),
    ("2020-04-01", "2020-06-30", "750000.00"),
]
SPGB = "Strategic Procurement Governance Board"


def _seven_forces(loader: _Loader) -> None:
    r, step, case = loader.records, loader.step, "7f"
    collaboration = step(
        case,
        "establish",
        r.establish_collaboration,
        name="7F Procurement",
        purpose=(
            "A single procurement function for the Seven Force Strategic Alliance (Bedfordshire, Cambridgeshire, "
            "Essex, Hertfordshire, Kent, Norfolk and Suffolk; 14 corporations sole), accountable for delivering "
            "procurement savings."
        ),
        parties=SEVEN_FORCES,
        lead_force="essex",
        governance_body=SPGB,
        review_cycle_months=12,
        effective_on=SEVEN_F_START,
        reason=(
            "The 7F procurement agreement was signed in January 2019 under section 22A; a monthly Strategic "
            "Procurement Governance Board chaired by a PCC manages it, reporting to the quarterly summit. 7F "
            "business cases follow the Green Book since September 2018. "
            + assumed("the day (15 January 2019) and the lead force (Essex).")
        ),
        evidence=f"{SEVEN_F_RESPONSE}; {BRIEF}",
    )
    cid = loader.load.collaborations[case] = collaboration["id"]
    function = step(
        case,
        "function",
        r.add_function,
        cid,
        name="7F Procurement Function",
        kind="enabling",
        host_force="essex",
        annual_budget="2500000.00",
        effective_on=SEVEN_F_START,
        reason="The collaborated 7F Procurement Function. "
        + assumed("the host force and the annual budget of £2,500,000.00, which is illustrative."),
        evidence=SEVEN_F_RESPONSE,
    )
    function_id = function["function_id"]
    loader.load.functions[case] = {"7F Procurement Function": function_id}
    step(
        case,
        "apportionment",
        r.agree_apportionment,
        cid,
        function_id=None,
        basis="net_revenue_budget",
        shares=SEVEN_F_SHARES,
        effective_on=SEVEN_F_START,
        reason="The seven forces share the function's costs. " + assumed("the basis and the shares."),
        evidence=SEVEN_F_RESPONSE,
    )
    money = {
        "category": "1",
        "sub_category": "1a",
        "pillar": "cost",
        "direction": "increase",
        "measure": "Cashable procurement savings against the seven forces' revenue budgets",
        "unit": "GBP",
        "owner": SPGB,
        "function_id": function_id,
    }
    savings = step(
        case,
        "benefit:savings",
        r.identify_benefit,
        cid,
        title="7F Procurement savings",
        baseline={"value": "0.00", "on": d("2019-04-01")},
        target={"value": SAVINGS_TARGET, "on": d("2023-03-31")},
        attribution=SEVEN_F_SHARES,
        stage=4,
        status="realising",
        effective_on=SEVEN_F_START,
        reason=(
            "7F Procurement, reviewed under the Green Book benefits framework, shows savings of circa £8.455m "
            "over 4 years, some already delivered. "
            + assumed("the four years (2019/20 to 2022/23) and the attribution to forces (the cost shares).")
        ),
        evidence=SEVEN_F_RESPONSE,
        **money,
    )
    savings_id = loader.load.benefits[f"{case}:savings"] = savings["id"]
    for number, (start, end, value) in enumerate(SEVEN_F_QUARTERS, start=1):
        step(
            case,
            f"measurement:savings:{start}",
            r.record_measurement,
            savings_id,
            period_start=d(start),
            period_end=d(end),
            value=value,
            source="Strategic Procurement Governance Board benefits report",
            measurer="7F Procurement",
            effective_on=d(end),
            reason=(
                f"Procurement savings delivered in quarter {number} of the four years. "
                + assumed(f"the quarter's figure (£{value}); only the four-year total is public.")
            ),
            evidence=SEVEN_F_RESPONSE,
        )
    unplanned = step(
        case,
        "benefit:unplanned",
        r.identify_benefit,
        cid,
        title="7F Procurement savings not identified in the business case",
        baseline={"value": "0.00", "on": SEVEN_F_START},
        target={"value": UNPLANNED, "on": d("2020-09-15")},
        stage=4,
        status="realising",
        effective_on=d("2020-09-15"),
        reason=(
            "7F Procurement have already delivered £1.15m of savings that were not identified in the business "
            "case, and continue to identify more (estimated in excess of £5m, to be refined)."
        ),
        evidence=SEVEN_F_RESPONSE,
        **money,
    )
    unplanned_id = loader.load.benefits[f"{case}:unplanned"] = unplanned["id"]
    step(
        case,
        "measurement:unplanned",
        r.record_measurement,
        unplanned_id,
        period_start=SEVEN_F_START,
        period_end=d("2020-08-31"),
        value=UNPLANNED,
        source="7F response to The Hard Yards, paragraph 3.11",
        measurer="7F Procurement",
        effective_on=d("2020-09-15"),
        reason="£1.15m of savings not in the business case already delivered. "
        + assumed("the period (from the agreement to the end of August 2020)."),
        evidence=SEVEN_F_RESPONSE,
    )
    step(
        case,
        "benefit:unplanned:realised",
        r.change_benefit_stage,
        unplanned_id,
        stage=5,
        status="realised",
        effective_on=d("2020-09-15"),
        reason="Delivered in full, as the response reports.",
        evidence=SEVEN_F_RESPONSE,
    )
    step(
        case,
        "review:2020",
        r.hold_review,
        cid,
        outcome=(
            "Response to HMICFRS's The Hard Yards: the section 22 agreement is reviewed annually; a review of "
            "programme governance in the 7F future opportunities review is to conclude after the May 2021 PCC "
            "elections; procurement benefits report to forces through the Strategic Procurement Governance Board."
        ),
        effective_on=d("2020-09-15"),
        reason="The 7F response to The Hard Yards, sent to the Home Secretary on 15 September 2020.",
        evidence=f"{SEVEN_F_RESPONSE}; {HARD_YARDS}",
    )


# --------------------------------------------------------------------------------------- the CLI
demo_cli = AppGroup("demo", help="Demo data from the public record (three real cases).")
DEMO_AUDITOR = "Demo auditor (demo load)"
AUDITOR_TOKEN_LABEL = "Auditor token for the web view (shown once): "  # noqa: S105  (a label, not a secret)


@demo_cli.command("load")
@click.option(
    "--if-empty", is_flag=True, help="Load only into a store that has no events yet (bin/serve's first start)."
)
@click.option(
    "--auditor-token",
    is_flag=True,
    help="Once loaded, create an auditor token to sign in to the web view with, and print it (shown once).",
)
def load_command(if_empty: bool, auditor_token: bool) -> None:
    """Record the three cases through the application service. Loading twice records nothing new."""
    from projections.cli import current_projections

    records: CollaborationRecords = current_app.extensions["records"]
    try:
        loaded = load_demo_if_empty(records) if if_empty else load_demo(records)
    except DemoStepRefused as error:
        raise click.ClickException(str(error)) from None
    if loaded is None:
        click.echo(f"Demo data: not loaded; the store already holds {records.log_size()} events.")
        return
    for projection in current_projections():
        projection.catch_up()
    for case, collaboration_id in loaded.collaborations.items():
        click.echo(f"  {case:4} collaboration {collaboration_id}")
    if auditor_token:
        _, token = current_app.extensions["tokens"].create(name=DEMO_AUDITOR, role="auditor")
        click.echo(f"{AUDITOR_TOKEN_LABEL}{token}")
    click.echo(loaded.summary())
