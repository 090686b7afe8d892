"""Exit case requests and documents.

Request schemas check the shape of the JSON; the domain (``domain/exit_case.py``) checks the
rules: heads, signs, sums, who is a party, what a settled or closed case still accepts (a
refused rule is a 422 problem whose type names it). Response schemas document the JSON
document the service builds (``service/documents.py: exit_case_document``); the tests load
real responses through them, so the documentation cannot drift from what is sent.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from domain.exit_case import DISPUTE_FORUMS, EXIT_CASE_TRIGGERS, HEADS
from domain.exit_costs import HEAD_NAMES
from domain.values import NAME_LENGTH, REFERENCE_LENGTH, TEXT_LENGTH
from service.fields import FORCE_CODE, BoundedList, Code, Date, MoneyString, OptionalText, Text, known_force
from service.resources.common import (
    ApprovedWriteSchema,
    ExitCaseHistoryRowDocument,
    ExportFormatSchema,
    HistoryPageQuerySchema,
    Schema,
    TemporalQuerySchema,
    WriteSchema,
    money_figure,
    next_after,
)

HEAD_CODES = ", ".join(f"{head} {HEAD_NAMES[head]}" for head in HEADS)
# A real claim has tens of lines (DOMAIN.md's has five, under four of the eight heads); 200 leaves
# room for a claim itemised post by post or contract by contract, and keeps the worst request
# (every line wrong) to a few milliseconds of validation.
MAX_CASE_LINES = 200
# Monthly instalments for twenty years; real settlements have a handful.
MAX_INSTALMENTS = 240
SIGNED_MONEY = {
    "example": "-150000.00",
    "description": "GBP, at most two decimals; negative for a mitigation of the head",
}


# ------------------------------------------------------------------------------ requests
class OpenExitCaseSchema(WriteSchema):
    collaboration_id = Code(required=True, metadata={"description": "The collaboration (its id) being exited"})
    trigger = Code(
        required=True,
        metadata={
            "enum": list(EXIT_CASE_TRIGGERS),
            "description": "withdrawal (a force that served notice leaves) or decoupling (a function returns "
            "to a single force)",
        },
    )
    force = Code(
        load_default=None,
        allow_none=True,
        metadata={**FORCE_CODE, "description": "The withdrawing force: with trigger withdrawal, and only then"},
    )
    function_id = Code(
        load_default=None,
        allow_none=True,
        metadata={"description": "The decoupled function: with trigger decoupling, and only then"},
    )

    @ma.validates_schema
    def names_one_subject(self, data: dict[str, Any], **kwargs: Any) -> None:
        """Exactly one of ``force`` and ``function_id``, the one the trigger needs."""
        trigger, force, function_id = data.get("trigger"), data.get("force"), data.get("function_id")
        errors: dict[str, list[str]] = {}
        if force is not None and function_id is not None:
            errors["function_id"] = ["Send force (a withdrawal) or function_id (a decoupling), not both."]
        elif trigger == "withdrawal" and force is None:
            errors["force"] = ["A withdrawal case names the withdrawing force."]
        elif trigger == "withdrawal" and function_id is not None:
            errors["function_id"] = ["A withdrawal case names a force, not a function."]
        elif trigger == "decoupling" and function_id is None:
            errors["function_id"] = ["A decoupling case names the decoupled function."]
        elif trigger == "decoupling" and force is not None:
            errors["force"] = ["A decoupling case names a function, not a force."]
        elif force is None and function_id is None:
            errors["force"] = ["Send force (a withdrawal) or function_id (a decoupling)."]
        if errors:
            raise ma.ValidationError(errors)


class CaseLineSchema(Schema):
    head = Code(required=True, metadata={"enum": list(HEADS), "description": f"The exit-cost head: {HEAD_CODES}"})
    amount = MoneyString(required=True, signed=True, metadata=SIGNED_MONEY)
    description = Text(required=True, max_length=TEXT_LENGTH, metadata={"example": "Re-establishing HR and payroll"})
    evidence = OptionalText(
        max_length=REFERENCE_LENGTH, metadata={"description": "A document reference; blank is recorded as null"}
    )


class ClaimSchema(WriteSchema):
    claimant = Code(required=True, metadata={**FORCE_CODE, "description": "The party claiming"})
    respondent = Code(
        required=True, metadata={**FORCE_CODE, "description": "The party claimed from", "example": "warwickshire"}
    )
    lines = BoundedList(
        ma.fields.Nested(CaseLineSchema),
        max_items=MAX_CASE_LINES,
        required=True,
        metadata={
            "description": f"At least one line and at most {MAX_CASE_LINES}; a mitigation is a negative line under "
            "the head it mitigates",
            "minItems": 1,
        },
    )
    supersedes = Code(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "An earlier claim (its id) of the same claimant against the same respondent that this "
            "one replaces; the earlier claim then no longer counts"
        },
    )


class AssessmentSchema(WriteSchema):
    assessor = Text(required=True, max_length=NAME_LENGTH, metadata={"example": "Independent assessor (CIPFA)"})
    recommended_amount = MoneyString(
        required=True, positive=True, metadata={"description": "More than zero, to the penny"}
    )
    lines = BoundedList(
        ma.fields.Nested(CaseLineSchema),
        max_items=MAX_CASE_LINES,
        load_default=None,
        allow_none=True,
        metadata={"description": "An optional breakdown by head; when given it sums to the recommended amount"},
    )


class DisputeSchema(WriteSchema):
    raised_by = Code(required=True, metadata={**FORCE_CODE, "description": "The party raising the dispute"})
    forum = Code(required=True, metadata={"enum": list(DISPUTE_FORUMS)})
    summary = Text(required=True, max_length=TEXT_LENGTH)


class InstalmentSchema(Schema):
    due_on = Date(required=True, metadata={"description": "Not before the instalment before it"})
    amount = MoneyString(required=True, positive=True, metadata={"description": "More than zero"})


class SettlementSchema(ApprovedWriteSchema):
    payer = Code(required=True, metadata={**FORCE_CODE, "example": "warwickshire"})
    payee = Code(required=True, metadata=FORCE_CODE)
    amount = MoneyString(required=True, positive=True, metadata={"description": "The agreed amount: more than zero"})
    write_offs = MoneyString(
        required=True, metadata={"description": "What the payee forgoes on top of the amount; 0.00 for none"}
    )
    instalments = BoundedList(
        ma.fields.Nested(InstalmentSchema),
        max_items=MAX_INSTALMENTS,
        required=True,
        metadata={
            "description": "At least one; due dates not decreasing; the amounts sum to exactly `amount`",
            "minItems": 1,
        },
    )
    lines = BoundedList(
        ma.fields.Nested(CaseLineSchema),
        max_items=MAX_CASE_LINES,
        load_default=None,
        allow_none=True,
        metadata={
            "description": "An optional breakdown of the amount by head; when given it sums to exactly `amount` "
            "(the reconciliation then compares the agreed figure head by head)"
        },
    )


class PaymentSchema(WriteSchema):
    amount = MoneyString(
        required=True,
        positive=True,
        metadata={"description": "More than zero and at most what is outstanding under the settlement"},
    )
    paid_on = Date(required=True)


class MilestoneSchema(WriteSchema):
    """Closing or reopening: the provenance says it all (the reason says why)."""


# ----------------------------------------------------------------------------- documents
class SourcedSchema(Schema):
    source_version = ma.fields.Integer(
        required=True, metadata={"description": "The version of the case's event that recorded this"}
    )


class CaseLineDocument(Schema):
    head = ma.fields.String(required=True, metadata={"enum": list(HEADS)})
    amount = ma.fields.String(required=True, metadata=SIGNED_MONEY)
    description = ma.fields.String(required=True)
    evidence = ma.fields.String(required=True, allow_none=True)


class HeadFiguresDocument(Schema):
    head = ma.fields.String(required=True, metadata={"enum": list(HEADS)})
    claimed = ma.fields.String(required=True, metadata={"description": "The current claims' lines under the head"})
    assessed = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The latest assessment's breakdown under the head; null if it has none"},
    )


class ClaimDocument(SourcedSchema):
    id = ma.fields.String(required=True)
    claimant = ma.fields.String(required=True)
    respondent = ma.fields.String(required=True)
    lines = ma.fields.List(ma.fields.Nested(CaseLineDocument), required=True)
    total = ma.fields.String(required=True)
    supersedes = ma.fields.String(required=True, allow_none=True)
    superseded_by = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The claim that replaced this one; it then no longer counts"},
    )
    effective_on = ma.fields.Date(required=True)


class AssessmentDocument(SourcedSchema):
    id = ma.fields.String(required=True)
    assessor = ma.fields.String(required=True)
    recommended_amount = ma.fields.String(required=True)
    lines = ma.fields.List(ma.fields.Nested(CaseLineDocument), required=True)
    effective_on = ma.fields.Date(required=True)


class DisputeDocument(SourcedSchema):
    id = ma.fields.String(required=True)
    raised_by = ma.fields.String(required=True)
    forum = ma.fields.String(required=True, metadata={"enum": list(DISPUTE_FORUMS)})
    summary = ma.fields.String(required=True)
    effective_on = ma.fields.Date(required=True)


class InstalmentDocument(Schema):
    due_on = ma.fields.Date(required=True)
    amount = ma.fields.String(required=True)
    paid = ma.fields.String(
        required=True,
        metadata={"description": "Paid towards it: payments are allocated in the order recorded, earliest due first"},
    )
    remaining = ma.fields.String(required=True)


class SettlementDocument(SourcedSchema):
    payer = ma.fields.String(required=True)
    payee = ma.fields.String(required=True)
    amount = ma.fields.String(required=True)
    write_offs = ma.fields.String(required=True)
    instalments = ma.fields.List(ma.fields.Nested(InstalmentDocument), required=True)
    lines = ma.fields.List(
        ma.fields.Nested(CaseLineDocument), required=True, metadata={"description": "The breakdown by head, if any"}
    )
    effective_on = ma.fields.Date(required=True)


class PaymentDocument(SourcedSchema):
    id = ma.fields.String(required=True)
    amount = ma.fields.String(required=True)
    paid_on = ma.fields.Date(required=True)
    effective_on = ma.fields.Date(required=True)


class ExitCaseLinksDocument(Schema):
    self = ma.fields.String(required=True, metadata={"description": "This exit case: GET it for all its facts"})
    history = ma.fields.String(required=True, metadata={"description": "Its figures event by event, paginated"})
    collaboration = ma.fields.String(required=True, metadata={"description": "The collaboration it is about"})


class CompactExitCaseDocument(Schema):
    """What a write on an exit case answers by default: the same size however long its record."""

    id = ma.fields.String(required=True)
    version = ma.fields.Integer(required=True, metadata={"description": "Also sent as the ETag"})
    collaboration_id = ma.fields.String(required=True)
    trigger = ma.fields.String(required=True, metadata={"enum": list(EXIT_CASE_TRIGGERS)})
    force = ma.fields.String(required=True, allow_none=True, metadata={"description": "The withdrawing force"})
    function_id = ma.fields.String(required=True, allow_none=True, metadata={"description": "The decoupled function"})
    function_name = ma.fields.String(required=True, allow_none=True)
    parties = ma.fields.List(ma.fields.String(), required=True, metadata={"description": "Who may claim, pay, be paid"})
    status = ma.fields.String(required=True, metadata={"enum": ["open", "settled", "closed"]})
    opened_on = ma.fields.Date(required=True)
    closed_on = ma.fields.Date(required=True, allow_none=True)
    created_at = ma.fields.String(required=True, metadata={"format": "date-time"})
    modified_at = ma.fields.String(required=True, metadata={"format": "date-time"})
    claimed = money_figure("The sum of the current (not superseded) claims' lines")
    assessed = money_figure("The latest assessment's recommended amount; null before any", nullable=True)
    agreed = money_figure("The latest settlement's amount; null before any", nullable=True)
    written_off = money_figure("The latest settlement's write-offs; null before any", nullable=True)
    paid = money_figure("The sum of the payments")
    outstanding = money_figure("agreed - paid; null before a settlement", nullable=True)
    links = ma.fields.Nested(ExitCaseLinksDocument, required=True)


class ExitCaseDocument(CompactExitCaseDocument):
    """An exit case with every fact behind its figures (a GET, or a write's answer with Prefer:
    return=representation)."""

    by_head = ma.fields.List(ma.fields.Nested(HeadFiguresDocument), required=True)
    claims = ma.fields.List(ma.fields.Nested(ClaimDocument), required=True)
    assessments = ma.fields.List(ma.fields.Nested(AssessmentDocument), required=True)
    disputes = ma.fields.List(ma.fields.Nested(DisputeDocument), required=True)
    settlement = ma.fields.Nested(
        SettlementDocument, required=True, allow_none=True, metadata={"description": "The latest settlement"}
    )
    settlements_agreed = ma.fields.Integer(required=True)
    payments = ma.fields.List(ma.fields.Nested(PaymentDocument), required=True)


# The ids a write makes: answered beside the compact document (the default) or the whole one.
def new_id(what: str) -> ma.fields.String:
    return ma.fields.String(required=True, metadata={"description": f"The new {what}'s id"})


class CompactClaimLodgedDocument(CompactExitCaseDocument):
    claim_id = new_id("claim")


class ClaimLodgedDocument(ExitCaseDocument):
    claim_id = new_id("claim")


class CompactAssessmentRecordedDocument(CompactExitCaseDocument):
    assessment_id = new_id("assessment")


class AssessmentRecordedDocument(ExitCaseDocument):
    assessment_id = new_id("assessment")


class CompactDisputeRaisedDocument(CompactExitCaseDocument):
    dispute_id = new_id("dispute")


class DisputeRaisedDocument(ExitCaseDocument):
    dispute_id = new_id("dispute")


class CompactPaymentRecordedDocument(CompactExitCaseDocument):
    payment_id = new_id("payment")


class PaymentRecordedDocument(ExitCaseDocument):
    payment_id = new_id("payment")


class ExitCaseHistoryQuerySchema(ExportFormatSchema, HistoryPageQuerySchema):
    """The case's figures event by event, a page at a time (or as CSV, all of them)."""


class ExitCaseHistoryDocument(Schema):
    exit_case_id = ma.fields.String(required=True)
    items = ma.fields.List(ma.fields.Nested(ExitCaseHistoryRowDocument), required=True)
    next_after = next_after("position")


class ReconciliationQuerySchema(TemporalQuerySchema, ExportFormatSchema):
    force = Code(
        validate=known_force,
        metadata={
            **FORCE_CODE,
            "description": "Whose side to read the figures from (positive: it pays). Defaults to the withdrawing "
            "force, or for a decoupling case to the settlement's payer",
        },
    )


class ReconciliationRowDocument(Schema):
    head = ma.fields.String(required=True, metadata={"description": "H1..H8, or total"})
    computed = ma.fields.String(
        required=True, allow_none=True, metadata={"description": "The exit-cost method on the case's dates"}
    )
    claimed = ma.fields.String(required=True, allow_none=True)
    assessed = ma.fields.String(required=True, allow_none=True, metadata={"description": "Null: no breakdown"})
    agreed = ma.fields.String(required=True, allow_none=True, metadata={"description": "Null: no breakdown"})
    claimed_less_computed = ma.fields.String(required=True, allow_none=True)
    assessed_less_claimed = ma.fields.String(required=True, allow_none=True)
    agreed_less_assessed = ma.fields.String(required=True, allow_none=True)
    agreed_less_computed = ma.fields.String(required=True, allow_none=True)


class ComputedOnDocument(Schema):
    notice_on = ma.fields.Date(required=True)
    exit_on = ma.fields.Date(required=True)


class ReconciliationDocument(Schema):
    exit_case_id = ma.fields.String(required=True)
    collaboration_id = ma.fields.String(required=True)
    version = ma.fields.Integer(required=True, metadata={"description": "The case version reconciled"})
    trigger = ma.fields.String(required=True)
    force = ma.fields.String(required=True, metadata={"description": "Whose side the figures are read from"})
    as_of = ma.fields.Date(allow_none=True)
    known_at = ma.fields.String(allow_none=True, metadata={"format": "date-time"})
    computed_on = ma.fields.Nested(
        ComputedOnDocument, required=True, allow_none=True, metadata={"description": "N and E of the computation"}
    )
    note = ma.fields.String(required=True, allow_none=True, metadata={"description": "Why nothing was computed"})
    heads = ma.fields.List(ma.fields.Nested(ReconciliationRowDocument), required=True)
    total = ma.fields.Nested(ReconciliationRowDocument, required=True)
    written_off = ma.fields.String(required=True, allow_none=True)
