"""JSON-ready documents of the domain's state and events: money and shares as strings,
dates as ISO text. The HTTP layer sends these as they are."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.collaboration import Collaboration
from domain.values import Money, Share

PROVENANCE_FIELDS = ("effective_on", "actor", "reason", "evidence", "approval_ref")
EVENT_ENVELOPE_FIELDS = ("originator_id", "originator_version", "timestamp", "originator_topic")


def jsonable(value: Any) -> Any:
    if isinstance(value, Money):
        return str(value)
    if isinstance(value, Share):
        return str(value)
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    return value


def decimal_text(value: Decimal) -> str:
    """A decimal as JSON carries it: positional digits, never an exponent (``1E-10``)."""
    return format(value, "f")


def event_type(event: Any) -> str:
    return type(event).__qualname__


def event_document(event: Any) -> dict[str, Any]:
    """One recorded event as auditors read it: provenance beside the event's own data."""
    fields = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    data = {name: value for name, value in fields.items() if name not in PROVENANCE_FIELDS + EVENT_ENVELOPE_FIELDS}
    return {
        "stream_id": str(event.originator_id),
        "version": event.originator_version,
        "type": event_type(event),
        "effective_on": jsonable(fields.get("effective_on")),
        "recorded_at": utc_text(event.timestamp),
        "actor": fields.get("actor"),
        "reason": fields.get("reason"),
        "evidence": fields.get("evidence"),
        "approval_ref": fields.get("approval_ref"),
        "data": jsonable(data),
    }


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def collaboration_document(collaboration: Collaboration) -> dict[str, Any]:
    def apportionment(entry: Any) -> dict[str, Any]:
        return {
            "function_id": entry.function_id,
            "basis": entry.basis,
            "shares": jsonable(entry.shares),
            "effective_on": entry.effective_on.isoformat(),
            "source_version": entry.version,
        }

    today = date.today()
    functions = []
    for function in collaboration.functions.values():
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
                        "source_version": function.decoupling.version,
                    }
                    if function.decoupling
                    else None
                ),
                "source_version": function.version,
            }
        )
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
                "source_version": asset.version,
            }
            for asset in collaboration.assets.values()
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
            for contract in collaboration.contracts.values()
        ],
        "reviews": [
            {"outcome": r.outcome, "held_on": r.held_on.isoformat(), "source_version": r.version}
            for r in collaboration.reviews
        ],
        "variations": [
            {
                "clause": v.clause,
                "summary": v.summary,
                "effective_on": v.effective_on.isoformat(),
                "source_version": v.version,
            }
            for v in collaboration.variations
        ],
        "notices": [
            {
                "force": notice.force,
                "served_on": notice.served_on.isoformat(),
                "earliest_exit_on": notice.earliest_exit_on.isoformat(),
                "exit_on": notice.exit_on.isoformat(),
                "status": "live" if notice.live else "withdrawn",
                "withdrawn_on": jsonable(notice.withdrawn_on),
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
    }
