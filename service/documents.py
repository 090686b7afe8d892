"""JSON-ready documents of the domain's state and events: money and shares as strings,
dates as ISO text. The HTTP layer sends these as they are."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from domain.benefit import CATEGORIES, STAGES, SUB_CATEGORIES, Benefit, Profile
from domain.collaboration import Collaboration
from domain.exit_case import CaseFigures, ExitCase
from projections.event_documents import (  # the event's public shape, shared with the projections
    decimal_text,
    jsonable,
    utc_text,
)

API = "/api/v1"
# How many of the newest entries of a list that grows with every event of its kind (a
# collaboration's reviews and variations, a benefit's measurements) a document shows; the whole
# list is a paginated resource of its own, linked from the document, and ``<list>_total`` counts it.
PREVIEW = 20


def by_version(entries: Iterable[Any]) -> list[Any]:
    """State entries in the order they were recorded. Dicts keyed by ids come back from a
    snapshot in key order, so documents never rely on a dict's order."""
    return sorted(entries, key=lambda entry: entry.version)


# ---------------------------------------------------------------------------- links
def collaboration_links(collaboration_id: str) -> dict[str, str]:
    """Where a collaboration's document, history, reviews and variations are."""
    one = f"{API}/collaborations/{collaboration_id}"
    return {"self": one, "history": f"{one}/history", "reviews": f"{one}/reviews", "variations": f"{one}/variations"}


def exit_case_links(case_id: str, collaboration_id: str) -> dict[str, str]:
    """Where an exit case's document and its history (its figures event by event) are, and its collaboration."""
    one = f"{API}/exit-cases/{case_id}"
    return {"self": one, "history": f"{one}/history", "collaboration": f"{API}/collaborations/{collaboration_id}"}


def benefit_links(benefit_id: str, collaboration_id: str) -> dict[str, str]:
    """Where a benefit's document and measurements are; its events are in its collaboration's history."""
    one = f"{API}/benefits/{benefit_id}"
    collaboration = f"{API}/collaborations/{collaboration_id}"
    return {
        "self": one,
        "history": f"{collaboration}/history?kind=benefit",
        "measurements": f"{one}/measurements",
        "collaboration": collaboration,
    }


def newest(entries: list[Any]) -> list[Any]:
    """The ``PREVIEW`` newest of entries kept in the order they were recorded, still in that order."""
    return entries[-PREVIEW:]


# --------------------------------------------------------------------- collaborations
def review_document(review: Any) -> dict[str, Any]:
    return {"outcome": review.outcome, "held_on": review.held_on.isoformat(), "source_version": review.version}


def variation_document(variation: Any) -> dict[str, Any]:
    return {
        "clause": variation.clause,
        "summary": variation.summary,
        "effective_on": variation.effective_on.isoformat(),
        "source_version": variation.version,
    }


def compact_collaboration_document(collaboration: Collaboration) -> dict[str, Any]:
    """What a write on a collaboration answers by default: its id and version, its fields whose
    size does not grow with its events, and links to the whole document and its history. Built
    from the aggregate's own fields alone: nothing is computed (no shares or budgets in effect)."""
    return {
        "id": str(collaboration.id),
        "version": collaboration.version,
        "name": collaboration.name,
        "purpose": collaboration.purpose,
        "status": collaboration.status,
        "lead_force": collaboration.lead_force,
        "parties": [
            {"force": party, "joined_on": collaboration.joined_on[party].isoformat()} for party in collaboration.parties
        ],
        "governance_body": collaboration.governance_body,
        "review_cycle_months": collaboration.review_cycle_months,
        "established_on": collaboration.established_on.isoformat(),
        "created_at": utc_text(collaboration.created_on),
        "modified_at": utc_text(collaboration.modified_on),
        "terminated_on": jsonable(collaboration.terminated_on),
        "links": collaboration_links(str(collaboration.id)),
    }


def collaboration_document(collaboration: Collaboration) -> dict[str, Any]:
    """A collaboration's whole state. Its reviews and variations, which grow with every one held
    or agreed and change no figure, are previewed: the ``PREVIEW`` newest, with their totals and
    links to the paginated lists."""

    def apportionment(entry: Any) -> dict[str, Any]:
        return {
            "function_id": entry.function_id,
            "basis": entry.basis,
            "shares": jsonable(entry.shares),
            "effective_on": entry.effective_on.isoformat(),
            "source_version": entry.version,
        }

    today = collaboration.viewed_as_of or date.today()  # "in effect" on the view's date
    functions = []
    for function in by_version(collaboration.functions.values()):
        own = [apportionment(a) for a in collaboration.apportionments if a.function_id == function.id]
        in_effect = collaboration.shares_in_effect(function.id, today)
        budget_now, budget_version = function.budget_in_effect(today)
        functions.append(
            {
                "id": function.id,
                "name": function.name,
                "kind": function.kind,
                "host_force": function.host_force,
                "annual_budget": str(function.annual_budget),
                "added_on": function.added_on.isoformat(),
                "budgets": [
                    {"financial_year": year, "annual_budget": str(money), "source_version": version}
                    for year, (money, version) in sorted(function.budgets.items())
                ],
                "budget_in_effect": {"annual_budget": str(budget_now), "source_version": budget_version},
                "apportionments": own,
                "shares_in_effect": apportionment(in_effect) if in_effect else None,
                "decoupled_on": jsonable(function.decoupled_on),
                "decoupling": (
                    {
                        "decided_by": function.decoupling.decided_by,
                        "rationale": function.decoupling.rationale,
                        "business_case_ref": function.decoupling.business_case_ref,
                        "effective_on": function.decoupling.effective_on.isoformat(),
                        "decided_on": jsonable(function.decoupling.decided_on),
                        "source_version": function.decoupling.version,
                    }
                    if function.decoupling
                    else None
                ),
                "source_version": function.version,
            }
        )
    return {
        **compact_collaboration_document(collaboration),
        "functions": functions,
        "apportionments": [apportionment(a) for a in collaboration.apportionments if a.function_id is None],
        "exit_terms": [
            {
                "notice_period_months": terms.notice_period_months,
                "stranded_cost_rate": str(terms.stranded_cost_rate),
                "stranded_cost_months": terms.stranded_cost_months,
                "caps": jsonable(terms.caps),
                "effective_on": terms.effective_on.isoformat(),
                "source_version": terms.version,
            }
            for terms in collaboration.exit_terms
        ],
        "assets": [
            {
                "id": asset.id,
                "name": asset.name,
                "cost": str(asset.cost),
                "acquired_on": asset.acquired_on.isoformat(),
                "useful_life_months": asset.useful_life_months,
                "funded_shares": jsonable(asset.funded_shares),
                "function_id": asset.function_id,
                "source_version": asset.version,
            }
            for asset in by_version(collaboration.assets.values())
        ],
        "contracts": [
            {
                "id": contract.id,
                "supplier": contract.supplier,
                "function_id": contract.function_id,
                "annual_value": str(contract.annual_value),
                "ends_on": contract.ends_on.isoformat(),
                "break_cost": str(contract.break_cost),
                "effective_on": contract.effective_on.isoformat(),
                "source_version": contract.version,
            }
            for contract in by_version(collaboration.contracts.values())
        ],
        "reviews": [review_document(review) for review in newest(collaboration.reviews)],
        "reviews_total": len(collaboration.reviews),
        "variations": [variation_document(variation) for variation in newest(collaboration.variations)],
        "variations_total": len(collaboration.variations),
        "notices": [
            {
                "force": notice.force,
                "served_on": notice.served_on.isoformat(),
                "earliest_exit_on": notice.earliest_exit_on.isoformat(),
                "exit_on": notice.exit_on.isoformat(),
                "status": "live" if notice.live else "withdrawn" if notice.withdrawn_on else "completed",
                "withdrawn_on": jsonable(notice.withdrawn_on),
                "completed_on": jsonable(notice.completed_on),
                "source_version": notice.version,
                "exit_on_source_version": notice.exit_on_version,
            }
            for notice in collaboration.notices
        ],
        "directions": [
            {
                "new_exit_on": d.new_exit_on.isoformat(),
                "summary": d.summary,
                "effective_on": d.effective_on.isoformat(),
                "source_version": d.version,
            }
            for d in collaboration.directions
        ],
        "withdrawals": [
            {"force": force, "effective_on": entry.effective_on.isoformat(), "source_version": entry.version}
            for force, entry in sorted(collaboration.withdrawn.items(), key=lambda item: item[1].version)
        ],
        "as_of": jsonable(collaboration.viewed_as_of),
    }


# ------------------------------------------------------------------------- exit cases
def compact_exit_case_document(case: ExitCase, figures: CaseFigures | None = None) -> dict[str, Any]:
    """What a write on an exit case answers by default: its id and version, what it is about,
    its status and money totals, and links. The totals are sums over the case's facts; nothing
    else is worked out (no figures by head, no instalment schedule)."""
    figures = figures or case.figures()
    return {
        "id": str(case.id),
        "version": case.version,
        "collaboration_id": case.collaboration_id,
        "trigger": case.trigger,
        "force": case.force,
        "function_id": case.function_id,
        "function_name": case.function_name,
        "parties": list(case.parties),
        "status": figures.status,
        "opened_on": case.opened_on.isoformat(),
        "closed_on": jsonable(case.closed_on),
        "created_at": utc_text(case.created_on),
        "modified_at": utc_text(case.modified_on),
        "claimed": str(figures.claimed),
        "assessed": jsonable(figures.assessed),
        "agreed": jsonable(figures.agreed),
        "written_off": jsonable(figures.written_off),
        "paid": str(figures.paid),
        "outstanding": jsonable(figures.outstanding),
        "links": exit_case_links(str(case.id), case.collaboration_id),
    }


def exit_case_document(case: ExitCase) -> dict[str, Any]:
    """An exit case: its figures at the top (claimed, assessed, agreed, paid, outstanding, and
    by head), then every fact behind them with the version of the event that recorded it."""
    figures = case.figures()

    def line(entry: Any) -> dict[str, Any]:
        return {
            "head": entry.head,
            "amount": str(entry.amount),
            "description": entry.description,
            "evidence": entry.evidence,
        }

    settlement = case.settlement
    return {
        **compact_exit_case_document(case, figures),
        "by_head": [
            {"head": head, **{name: jsonable(amount) for name, amount in amounts.items()}}
            for head, amounts in sorted(figures.by_head.items())
        ],
        "claims": [
            {
                "id": claim.claim_id,
                "claimant": claim.claimant,
                "respondent": claim.respondent,
                "lines": [line(entry) for entry in claim.lines],
                "total": str(claim.total),
                "supersedes": claim.supersedes,
                "superseded_by": claim.superseded_by,
                "effective_on": claim.effective_on.isoformat(),
                "source_version": claim.version,
            }
            for claim in by_version(case.claims.values())
        ],
        "assessments": [
            {
                "id": assessment.assessment_id,
                "assessor": assessment.assessor,
                "recommended_amount": str(assessment.recommended_amount),
                "lines": [line(entry) for entry in assessment.lines],
                "effective_on": assessment.effective_on.isoformat(),
                "source_version": assessment.version,
            }
            for assessment in case.assessments
        ],
        "disputes": [
            {
                "id": dispute.dispute_id,
                "raised_by": dispute.raised_by,
                "forum": dispute.forum,
                "summary": dispute.summary,
                "effective_on": dispute.effective_on.isoformat(),
                "source_version": dispute.version,
            }
            for dispute in case.disputes
        ],
        "settlement": (
            {
                "payer": settlement.payer,
                "payee": settlement.payee,
                "amount": str(settlement.amount),
                "write_offs": str(settlement.write_offs),
                "lines": [line(entry) for entry in settlement.lines],
                "instalments": [
                    {
                        "due_on": instalment.due_on.isoformat(),
                        "amount": str(instalment.amount),
                        "paid": str(instalment.paid),
                        "remaining": str(instalment.remaining),
                    }
                    for instalment in case.instalment_schedule()
                ],
                "effective_on": settlement.effective_on.isoformat(),
                "source_version": settlement.version,
            }
            if settlement
            else None
        ),
        "settlements_agreed": len(case.settlements),
        "payments": [
            {
                "id": payment.payment_id,
                "amount": str(payment.amount),
                "paid_on": payment.paid_on.isoformat(),
                "effective_on": payment.effective_on.isoformat(),
                "source_version": payment.version,
            }
            for payment in case.payments
        ],
    }


# --------------------------------------------------------------------------- benefits
def level_document(value: Decimal | None, day: date | None) -> dict[str, str] | None:
    """A baseline or a target: a value on a date."""
    return None if value is None or day is None else {"value": decimal_text(value), "on": day.isoformat()}


def measurement_documents(benefit: Benefit, measurements: Iterable[Any]) -> list[dict[str, Any]]:
    """Some of a benefit's measurements, each saying whether it counts (is not restated)."""
    restated = benefit.restated_by
    return [
        {
            "id": measurement.measurement_id,
            "period_start": measurement.period_start.isoformat(),
            "period_end": measurement.period_end.isoformat(),
            "value": decimal_text(measurement.value),
            "source": measurement.source,
            "measurer": measurement.measurer,
            "restates": measurement.restates,
            "restated_by": restated.get(measurement.measurement_id),
            "current": measurement.measurement_id not in restated,
            "effective_on": measurement.effective_on.isoformat(),
            "source_version": measurement.version,
        }
        for measurement in measurements
    ]


def compact_benefit_document(benefit: Benefit) -> dict[str, Any]:
    """What a write on a benefit answers by default: its id and version, what it is and where it
    stands (definition, baseline, target, stage, status), and links. Its realisation, worked out
    from every measurement, and its lists are in the whole document."""
    return {
        "id": str(benefit.id),
        "version": benefit.version,
        "collaboration_id": benefit.collaboration_id,
        "title": benefit.title,
        "category": benefit.category,
        "category_name": CATEGORIES[benefit.category],
        "sub_category": benefit.sub_category,
        "sub_category_name": SUB_CATEGORIES[benefit.sub_category],
        "pillar": benefit.pillar,
        "direction": benefit.direction,
        "measure": benefit.measure,
        "unit": benefit.unit,
        "tolerance": jsonable(benefit.tolerance),
        "baseline": level_document(benefit.baseline_value, benefit.baseline_on),
        "target": level_document(benefit.target_value, benefit.target_on),
        "owner": benefit.owner,
        "senior_responsible_owner": benefit.senior_responsible_owner,
        "function_id": benefit.function_id,
        "objective": benefit.objective,
        "kind": benefit.kind,
        "reference": benefit.reference,
        "cash_releasing": benefit.is_cash_releasing,
        "quantitative": benefit.is_quantitative,
        "measurement_frequency": benefit.frequency,
        "confidence": None
        if benefit.confidence is None
        else {
            "confidence": benefit.confidence.confidence,
            "reason": benefit.confidence.reason,
            "effective_on": benefit.confidence.effective_on.isoformat(),
        },
        "rag_override": None
        if benefit.rag_override_in_effect is None
        else {
            "rag": benefit.rag_override.rag,
            "reason": benefit.rag_override.reason,
            "effective_on": benefit.rag_override.effective_on.isoformat(),
        },
        "attribution": {force: decimal_text(share) for force, share in sorted(benefit.attribution.items())},
        "parties": list(benefit.parties),
        "stage": benefit.stage,
        "stage_name": STAGES[benefit.stage],
        "status": benefit.status,
        "identified_on": benefit.identified_on.isoformat(),
        "created_at": utc_text(benefit.created_on),
        "modified_at": utc_text(benefit.modified_on),
        "links": benefit_links(str(benefit.id), benefit.collaboration_id),
    }


def benefit_document(benefit: Benefit, as_of: date | None = None) -> dict[str, Any]:
    """A benefit: what it is, how it is doing, then every fact behind it with the version of
    the event that recorded it. Values and percentages are decimal strings. Realisation counts
    every current measurement (it is read on the latest period end, as the realisation
    projection reads it); a benefit viewed ``as_of`` a date has only the facts effective by then.
    Its measurements, one a period for as long as it is measured, are previewed: the ``PREVIEW``
    newest recorded, with their total and a link to the paginated list."""
    current = benefit.current_measurements()
    on = max((measurement.period_end for measurement in current), default=benefit.identified_on)
    measurements = by_version(benefit.measurements)
    return {
        **compact_benefit_document(benefit),
        "realisation": {
            "on": on.isoformat(),
            "cumulative": benefit.is_cumulative,
            **benefit.realisation(on).as_dict(),
        },
        "measurements": measurement_documents(benefit, newest(measurements)),
        "measurements_total": len(measurements),
        "baselines": [
            {
                **level_document(entry.value, entry.on),
                "effective_on": entry.effective_on.isoformat(),
                "source_version": entry.version,
            }
            for entry in benefit.baselines
        ],
        "targets": [
            {
                **level_document(entry.value, entry.on),
                "effective_on": entry.effective_on.isoformat(),
                "source_version": entry.version,
            }
            for entry in benefit.targets
        ],
        "stages": [
            {
                "stage": entry.stage,
                "stage_name": STAGES[entry.stage],
                "status": entry.status,
                "reopened": entry.reopened,
                "effective_on": entry.effective_on.isoformat(),
                "source_version": entry.version,
            }
            for entry in benefit.stages
        ],
        "definitions": [
            {
                "direction": entry.direction,
                "measure": entry.measure,
                "unit": entry.unit,
                "tolerance": jsonable(entry.tolerance),
                "owner": entry.owner,
                "senior_responsible_owner": entry.senior_responsible_owner,
                "cash_releasing": entry.cash_releasing,
                "quantitative": entry.quantitative,
                "measurement_frequency": entry.measurement_frequency,
                "effective_on": entry.effective_on.isoformat(),
                "source_version": entry.version,
            }
            for entry in benefit.definitions
        ],
        "link_history": [
            {
                "function_id": entry.function_id,
                "objective": entry.objective,
                "effective_on": entry.effective_on.isoformat(),
                "source_version": entry.version,
            }
            for entry in benefit.links
        ],
        "confidences": [
            {
                "confidence": entry.confidence,
                "reason": entry.reason,
                "effective_on": entry.effective_on.isoformat(),
                "source_version": entry.version,
            }
            for entry in benefit.confidences
        ],
        "profile": None if benefit.profile is None else profile_periods(benefit.profile),
        "profiles": [
            {
                "periods": profile_periods(entry),
                "stage": entry.stage,
                "stage_name": STAGES[entry.stage],
                "rebaselining": index > 0,
                "reason": entry.reason,
                "effective_on": entry.effective_on.isoformat(),
                "source_version": entry.version,
            }
            for index, entry in enumerate(benefit.profiles)
        ],
        "rag_history": rag_history(benefit),
        "as_of": jsonable(as_of),
    }


def profile_periods(profile: Profile) -> list[dict[str, str]]:
    return [
        {
            "period_start": period.period_start.isoformat(),
            "period_end": period.period_end.isoformat(),
            "value": decimal_text(period.value),
        }
        for period in profile.periods
    ]


def rag_history(benefit: Benefit) -> list[dict[str, Any]]:
    """How the benefit's RAG status came to be, in date order: the status derived at the end of
    each current measurement's period (from the facts recorded now), and each override set or
    cleared with its reason. The newest ``PREVIEW`` readings are kept."""
    ends = sorted({m.period_end for m in benefit.current_measurements()})[-PREVIEW:]
    entries: list[dict[str, Any]] = []
    for end in ends:
        figures = benefit.realisation(end)
        entries.append(
            {
                "on": end.isoformat(),
                "source": "derived",
                "rag": figures.rag_derived,
                "variance_percent": jsonable(figures.variance_percent),
                "reason": None,
                "source_version": None,
            }
        )
    for override in benefit.rag_overrides:
        entries.append(
            {
                "on": override.effective_on.isoformat(),
                "source": "override" if override.rag is not None else "override_cleared",
                "rag": override.rag,
                "variance_percent": None,
                "reason": override.reason,
                "source_version": override.version,
            }
        )
    return sorted(entries, key=lambda entry: (entry["on"], entry["source"] != "derived"))


def register_entry(collaboration: Collaboration) -> dict[str, Any]:
    """A collaboration as the central register lists it (``projections/register.py``), built
    from the aggregate: what the register answers for ``as_of``/``known_at`` reads."""
    return {
        "id": str(collaboration.id),
        "name": collaboration.name,
        "purpose": collaboration.purpose,
        "status": collaboration.status,
        "lead_force": collaboration.lead_force,
        "parties": list(collaboration.parties),
        "functions": [
            {"id": function.id, "name": function.name, "kind": function.kind, "host_force": function.host_force}
            for function in sorted(collaboration.functions.values(), key=lambda f: f.version)
        ],
        "governance_body": collaboration.governance_body,
        "review_cycle_months": collaboration.review_cycle_months,
        "established_on": collaboration.established_on.isoformat(),
        "version": collaboration.version,
        "updated_at": utc_text(collaboration.modified_on),
    }
