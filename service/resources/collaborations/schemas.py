"""Collaboration requests and documents.

Request schemas check the shape of the JSON; the domain checks the rules (a refused rule is
a 422 problem whose type names it). Response schemas document the JSON documents the service
builds (``service/documents.py``); the tests load real responses through them, so the
documentation cannot drift from what is sent.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import marshmallow as ma

from domain.collaboration import (
    APPORTIONMENT_BASES,
    EXIT_COST_HEADS,
    EXIT_TERMS_MONTHS,
    FUNCTION_KINDS,
    REVIEW_CYCLE_MONTHS,
    USEFUL_LIFE_MONTHS,
)
from domain.values import FIRST_FINANCIAL_YEAR, LAST_FINANCIAL_YEAR, NAME_LENGTH, REFERENCE_LENGTH, TEXT_LENGTH
from service.documents import PREVIEW
from service.fields import (
    FORCE_CODE,
    MAX_FORCES,
    BoundedList,
    Code,
    Date,
    KeyedBy,
    MoneyString,
    OptionalText,
    QueryInteger,
    ShareString,
    Text,
    Timestamp,
    WholeNumber,
    known_force,
)
from service.queries import HISTORY_KINDS
from service.resources.common import (
    MAX_PAGE,
    MAX_POSITION,
    ApprovedWriteSchema,
    EventDocument,
    ExitCaseHistoryRowDocument,
    ExportFormatSchema,
    HistoryPageQuerySchema,
    ListPageQuerySchema,
    Schema,
    TemporalQuerySchema,
    WriteSchema,
    next_after,
)

QUOTE_CSV_VIEWS = ("lines", "payees")
SEARCH_LENGTH = 200
SEARCH_TERMS = 20


def financial_year_pattern(first: int = FIRST_FINANCIAL_YEAR, last: int = LAST_FINANCIAL_YEAR) -> str:
    """Exactly the financial years ``domain.values.FinancialYear`` takes, e.g. ``2019/20``: a start
    from ``first`` to ``last`` (whole centuries), and the next year's last two digits."""
    assert first % 100 == 0 and last % 100 == 99, (first, last)
    centuries = "|".join(str(century) for century in range(first // 100, last // 100 + 1))
    years = "|".join(f"{year:02d}/{(year + 1) % 100:02d}" for year in range(100))
    return f"^({centuries})({years})$"


def few_terms(text: str) -> None:
    if len(text.split()) > SEARCH_TERMS:
        raise ma.ValidationError(f"Search for at most {SEARCH_TERMS} words at once.")


def force_shares(description: str) -> KeyedBy:
    return KeyedBy(
        keys=Code(metadata=FORCE_CODE),
        values=ShareString(),
        max_keys=MAX_FORCES,
        required=True,
        metadata={"description": description, "example": {"west-mercia": "0.69", "warwickshire": "0.31"}},
    )


# ------------------------------------------------------------------------------ requests
class EstablishSchema(WriteSchema):
    name = Text(required=True, max_length=NAME_LENGTH)
    purpose = Text(required=True, max_length=TEXT_LENGTH)
    parties = BoundedList(
        Code(metadata=FORCE_CODE),
        max_items=MAX_FORCES,
        required=True,
        metadata={
            "description": f"Two or more force codes (at most {MAX_FORCES}, the number of forces), each once",
            "minItems": 2,
            "uniqueItems": True,
        },
    )
    lead_force = Code(required=True, metadata={**FORCE_CODE, "description": "The lead/host force: one of the parties"})
    governance_body = OptionalText(
        max_length=NAME_LENGTH,
        metadata={"example": "Working Together Board", "description": "Blank is recorded as null"},
    )
    review_cycle_months = WholeNumber(within=REVIEW_CYCLE_MONTHS, allow_none=True, metadata={"example": 12})


class JoinPartySchema(WriteSchema):
    force = Code(required=True, metadata={**FORCE_CODE, "description": "The force joining the agreement"})


class AddFunctionSchema(WriteSchema):
    name = Text(required=True, max_length=NAME_LENGTH, metadata={"example": "Alliance ICT Dept"})
    kind = Code(required=True, metadata={"enum": list(FUNCTION_KINDS)})
    host_force = Code(required=True, metadata={**FORCE_CODE, "description": "A party hosting the function"})
    annual_budget = MoneyString(required=True)


class SetBudgetSchema(WriteSchema):
    financial_year = Code(
        required=True,
        metadata={
            "pattern": financial_year_pattern(),
            "example": "2019/20",
            "description": "1 April to 31 March; from 1900/01 to 2199/00",
        },
    )
    annual_budget = MoneyString(required=True)


class ApportionmentSchema(WriteSchema):
    function_id = Code(
        load_default=None, allow_none=True, metadata={"description": "The function; null for all functions"}
    )
    basis = Code(required=True, metadata={"enum": list(APPORTIONMENT_BASES)})
    shares = force_shares("Each party's share; the shares sum to exactly 1")


class ExitTermsSchema(WriteSchema):
    notice_period_months = WholeNumber(within=EXIT_TERMS_MONTHS, required=True, metadata={"example": 12})
    stranded_cost_rate = ShareString(required=True, metadata={"example": "0.25"})
    stranded_cost_months = WholeNumber(within=EXIT_TERMS_MONTHS, required=True, metadata={"example": 6})
    caps = KeyedBy(
        keys=Code(metadata={"enum": list(EXIT_COST_HEADS)}),
        values=MoneyString(),
        max_keys=len(EXIT_COST_HEADS),
        load_default=None,
        allow_none=True,
        metadata={"description": "Optional cap per exit-cost head", "example": {"H4": "1000000.00"}},
    )


class AssetSchema(WriteSchema):
    name = Text(required=True, max_length=NAME_LENGTH)
    cost = MoneyString(required=True)
    acquired_on = Date(required=True)
    useful_life_months = WholeNumber(within=USEFUL_LIFE_MONTHS, required=True, metadata={"example": 60})
    funded_shares = force_shares("Who funded the asset; the shares sum to exactly 1")
    function_id = Code(
        allow_none=True,
        metadata={
            "description": "The function the asset serves (null or absent: the agreement as a whole). A function's "
            "assets are split when it is decoupled and leave withdrawal quotes with it"
        },
    )


class ContractSchema(WriteSchema):
    supplier = Text(required=True, max_length=NAME_LENGTH)
    function_id = Code(required=True)
    annual_value = MoneyString(required=True)
    ends_on = Date(required=True)
    break_cost = MoneyString(required=True)


class ReviewSchema(WriteSchema):
    outcome = Text(required=True, max_length=TEXT_LENGTH)


class VariationSchema(WriteSchema):
    clause = Text(required=True, max_length=REFERENCE_LENGTH, metadata={"example": "7.2"})
    summary = Text(required=True, max_length=TEXT_LENGTH)


class WithdrawalNoticeSchema(WriteSchema):
    force = Code(
        required=True,
        metadata={
            **FORCE_CODE,
            "description": "The party giving notice; a force token may give notice only for its own force",
        },
    )


class PartyWithdrawalSchema(WriteSchema):
    force = Code(
        required=True,
        metadata={
            **FORCE_CODE,
            "description": "The party leaving, on its live notice; a force token only for its own force",
        },
    )


class DecouplingSchema(ApprovedWriteSchema):
    decided_by = Text(required=True, max_length=NAME_LENGTH, metadata={"example": "Alliance Governance Group"})
    decided_on = Date(
        allow_none=True,
        metadata={
            "description": "The day the deciding body decided, on or before effective_on: ratios, budget and exit "
            "terms for the decoupling's costs are taken on it (optional)"
        },
    )
    rationale = Text(required=True, max_length=TEXT_LENGTH)
    business_case_ref = OptionalText(
        max_length=REFERENCE_LENGTH, metadata={"description": "The business case; blank is recorded as null"}
    )


class DirectionSchema(ApprovedWriteSchema):
    new_exit_on = Date(required=True, metadata={"description": "The exit date the direction sets (YYYY-MM-DD)"})
    summary = Text(required=True, max_length=TEXT_LENGTH)


class ExitCostsQuerySchema(TemporalQuerySchema, ExportFormatSchema):
    force = Code(required=True, validate=known_force, metadata={**FORCE_CODE, "description": "The withdrawing party"})
    exit_on = Date(
        metadata={
            "description": "The exit date E. Defaults to the exit date of the force's live notice (as moved by "
            "the s23G direction in effect); with no notice, to the earliest exit had notice been served on N"
        }
    )
    view = Code(
        validate=ma.validate.OneOf(QUOTE_CSV_VIEWS),
        metadata={
            "enum": list(QUOTE_CSV_VIEWS),
            "description": "The CSV's rows: `lines` (the default: one per line, then the total) or `payees` (one per "
            "line and party it is shared with, then one total per party). Only with CSV: the JSON carries both.",
        },
    )


class DecouplingCostsQuerySchema(TemporalQuerySchema, ExportFormatSchema):
    exit_on = Date(
        metadata={
            "description": "E. Defaults to the day the function's decoupling took effect; for a function not yet "
            "decoupled (a proposal), to the earliest exit had notice been given on the quote date"
        }
    )


class RegisterQuerySchema(TemporalQuerySchema):
    party = Code(validate=known_force, metadata={"description": "Only collaborations with this party"})
    status = Code(metadata={"example": "active"})
    function = Text(
        max_length=NAME_LENGTH,
        blank=True,
        metadata={"description": "Only collaborations running this function (its id, kind or part of its name)"},
    )
    q = Text(
        max_length=SEARCH_LENGTH,
        blank=True,
        validate=few_terms,
        metadata={"description": f"Free text in the name or purpose: at most {SEARCH_TERMS} words"},
    )
    page = QueryInteger(load_default=1, validate=ma.validate.Range(min=1, max=MAX_PAGE))
    page_size = QueryInteger(load_default=20, validate=ma.validate.Range(min=1, max=100))


class CollaborationQuerySchema(TemporalQuerySchema):
    version = QueryInteger(
        validate=ma.validate.Range(min=1, max=MAX_POSITION),
        metadata={"description": "The state as it stood after event N"},
    )


class HistoryQuerySchema(ExportFormatSchema, HistoryPageQuerySchema):
    upto_version = QueryInteger(
        validate=ma.validate.Range(min=1, max=MAX_POSITION),
        metadata={"description": "Only events recorded up to and including version N of the collaboration"},
    )
    kind = Code(
        validate=ma.validate.OneOf(HISTORY_KINDS),
        metadata={
            "enum": list(HISTORY_KINDS),
            "description": "Only the events of one kind: the collaboration's own, its exit cases' or its benefits'",
        },
    )


# ----------------------------------------------------------------------------- documents
class SourcedSchema(Schema):
    source_version = ma.fields.Integer(
        required=True, metadata={"description": "The version of the event that recorded this"}
    )


class PartySchema(Schema):
    force = ma.fields.String(required=True)
    joined_on = ma.fields.Date(required=True)


class ApportionmentDocument(SourcedSchema):
    function_id = ma.fields.String(required=True, allow_none=True)
    basis = ma.fields.String(required=True)
    shares = ma.fields.Dict(keys=ma.fields.String(), values=ShareString(), required=True)
    effective_on = ma.fields.Date(required=True)


class BudgetDocument(SourcedSchema):
    financial_year = ma.fields.String(required=True)
    annual_budget = MoneyString(required=True)


class BudgetInEffectDocument(SourcedSchema):
    annual_budget = MoneyString(required=True)


class FunctionDocument(SourcedSchema):
    id = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    kind = ma.fields.String(required=True, metadata={"enum": list(FUNCTION_KINDS)})
    host_force = ma.fields.String(required=True)
    annual_budget = MoneyString(required=True, metadata={"description": "The initial budget"})
    added_on = ma.fields.Date(required=True)
    budgets = ma.fields.List(ma.fields.Nested(BudgetDocument), required=True)
    budget_in_effect = ma.fields.Nested(BudgetInEffectDocument, required=True)
    apportionments = ma.fields.List(ma.fields.Nested(ApportionmentDocument), required=True)
    shares_in_effect = ma.fields.Nested(ApportionmentDocument, required=True, allow_none=True)
    decoupled_on = ma.fields.Date(
        required=True, allow_none=True, metadata={"description": "When the function returned to a single force"}
    )
    decoupling = ma.fields.Nested("DecouplingDocument", required=True, allow_none=True)


class DecouplingDocument(SourcedSchema):
    decided_by = ma.fields.String(required=True)
    rationale = ma.fields.String(required=True)
    business_case_ref = ma.fields.String(required=True, allow_none=True)
    effective_on = ma.fields.Date(required=True)
    decided_on = ma.fields.Date(
        required=True, allow_none=True, metadata={"description": "When the deciding body decided; null: not recorded"}
    )


class NoticeDocument(SourcedSchema):
    force = ma.fields.String(required=True)
    served_on = ma.fields.Date(required=True)
    earliest_exit_on = ma.fields.Date(
        required=True, metadata={"description": "served_on plus the notice period of the exit terms in effect then"}
    )
    exit_on = ma.fields.Date(required=True, metadata={"description": "The exit date after any s23G directions"})
    status = ma.fields.String(
        required=True,
        metadata={
            "enum": ["live", "withdrawn", "completed"],
            "description": "live; withdrawn (the notice was taken back); completed (the force left on it)",
        },
    )
    withdrawn_on = ma.fields.Date(required=True, allow_none=True)
    completed_on = ma.fields.Date(
        allow_none=True, metadata={"description": "The date the force left the agreement on this notice"}
    )
    exit_on_source_version = ma.fields.Integer(
        required=True, metadata={"description": "The event that set exit_on: the notice or the latest direction"}
    )


class WithdrawalDocument(SourcedSchema):
    force = ma.fields.String(required=True)
    effective_on = ma.fields.Date(required=True, metadata={"description": "The date the force left"})


class DirectionDocument(SourcedSchema):
    new_exit_on = ma.fields.Date(required=True)
    summary = ma.fields.String(required=True)
    effective_on = ma.fields.Date(required=True)


class ExitTermsDocument(SourcedSchema):
    notice_period_months = ma.fields.Integer(required=True)
    stranded_cost_rate = ShareString(required=True)
    stranded_cost_months = ma.fields.Integer(required=True)
    caps = ma.fields.Dict(keys=ma.fields.String(), values=MoneyString(), required=True)
    effective_on = ma.fields.Date(required=True)


class AssetDocument(SourcedSchema):
    id = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    cost = MoneyString(required=True)
    acquired_on = ma.fields.Date(required=True)
    useful_life_months = ma.fields.Integer(required=True)
    funded_shares = ma.fields.Dict(keys=ma.fields.String(), values=ShareString(), required=True)
    function_id = ma.fields.String(
        required=True, allow_none=True, metadata={"description": "The function it serves; null: the whole agreement"}
    )


class ContractDocument(SourcedSchema):
    id = ma.fields.String(required=True)
    supplier = ma.fields.String(required=True)
    function_id = ma.fields.String(required=True)
    annual_value = MoneyString(required=True)
    ends_on = ma.fields.Date(required=True)
    break_cost = MoneyString(required=True)
    effective_on = ma.fields.Date(required=True)


class ReviewDocument(SourcedSchema):
    outcome = ma.fields.String(required=True)
    held_on = ma.fields.Date(required=True)


class VariationDocument(SourcedSchema):
    clause = ma.fields.String(required=True)
    summary = ma.fields.String(required=True)
    effective_on = ma.fields.Date(required=True)


class CollaborationLinksDocument(Schema):
    self = ma.fields.String(required=True, metadata={"description": "This collaboration: GET it for its whole state"})
    history = ma.fields.String(required=True, metadata={"description": "Its events and its children's, paginated"})
    reviews = ma.fields.String(required=True, metadata={"description": "All its reviews, paginated"})
    variations = ma.fields.String(required=True, metadata={"description": "All its variations, paginated"})


class CompactCollaborationDocument(Schema):
    """What a write on a collaboration answers by default: the same size however long its record."""

    id = ma.fields.String(required=True)
    version = ma.fields.Integer(required=True, metadata={"description": "Also sent as the ETag"})
    name = ma.fields.String(required=True)
    purpose = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    lead_force = ma.fields.String(required=True)
    parties = ma.fields.List(ma.fields.Nested(PartySchema), required=True)
    governance_body = ma.fields.String(required=True, allow_none=True)
    review_cycle_months = ma.fields.Integer(required=True, allow_none=True)
    established_on = ma.fields.Date(required=True)
    created_at = ma.fields.String(required=True, metadata={"format": "date-time"})
    modified_at = ma.fields.String(required=True, metadata={"format": "date-time"})
    terminated_on = ma.fields.Date(allow_none=True, metadata={"description": "The date the agreement ended"})
    links = ma.fields.Nested(CollaborationLinksDocument, required=True)


class CollaborationDocument(CompactCollaborationDocument):
    """A collaboration's whole state (a GET, or a write's answer with Prefer: return=representation)."""

    functions = ma.fields.List(ma.fields.Nested(FunctionDocument), required=True)
    apportionments = ma.fields.List(
        ma.fields.Nested(ApportionmentDocument),
        required=True,
        metadata={"description": "Apportionments agreed for all functions"},
    )
    exit_terms = ma.fields.List(ma.fields.Nested(ExitTermsDocument), required=True)
    assets = ma.fields.List(ma.fields.Nested(AssetDocument), required=True)
    contracts = ma.fields.List(ma.fields.Nested(ContractDocument), required=True)
    reviews = ma.fields.List(
        ma.fields.Nested(ReviewDocument),
        required=True,
        metadata={
            "description": f"The {PREVIEW} newest reviews, in the order recorded; all of them are at links.reviews"
        },
    )
    reviews_total = ma.fields.Integer(required=True, metadata={"description": "How many reviews there are in all"})
    variations = ma.fields.List(
        ma.fields.Nested(VariationDocument),
        required=True,
        metadata={
            "description": f"The {PREVIEW} newest variations, in the order recorded; all of them are at "
            "links.variations"
        },
    )
    variations_total = ma.fields.Integer(
        required=True, metadata={"description": "How many variations there are in all"}
    )
    notices = ma.fields.List(ma.fields.Nested(NoticeDocument), required=True)
    directions = ma.fields.List(ma.fields.Nested(DirectionDocument), required=True)
    withdrawals = ma.fields.List(
        ma.fields.Nested(WithdrawalDocument), metadata={"description": "Parties that have left the agreement"}
    )
    as_of = ma.fields.Date(allow_none=True, metadata={"description": "The as_of date of this view, if any"})


# The ids a write makes: answered beside the compact document (the default) or the whole one.
def new_function_id() -> ma.fields.String:
    return ma.fields.String(required=True, metadata={"description": "The new function's id"})


def new_asset_id() -> ma.fields.String:
    return ma.fields.String(required=True, metadata={"description": "The new asset's id"})


def new_contract_id() -> ma.fields.String:
    return ma.fields.String(required=True, metadata={"description": "The new contract's id"})


def new_notice_exit_on() -> ma.fields.Date:
    return ma.fields.Date(required=True, metadata={"description": "The new notice's earliest exit date"})


class CompactFunctionAddedDocument(CompactCollaborationDocument):
    function_id = new_function_id()


class FunctionAddedDocument(CollaborationDocument):
    function_id = new_function_id()


class CompactAssetRegisteredDocument(CompactCollaborationDocument):
    asset_id = new_asset_id()


class AssetRegisteredDocument(CollaborationDocument):
    asset_id = new_asset_id()


class CompactContractCommittedDocument(CompactCollaborationDocument):
    contract_id = new_contract_id()


class ContractCommittedDocument(CollaborationDocument):
    contract_id = new_contract_id()


class CompactNoticeServedDocument(CompactCollaborationDocument):
    earliest_exit_on = new_notice_exit_on()


class NoticeServedDocument(CollaborationDocument):
    earliest_exit_on = new_notice_exit_on()


class SourceEventDocument(Schema):
    event_id = ma.fields.String(
        required=True, metadata={"description": "<collaboration id>:<version>", "example": "…:7"}
    )
    version = ma.fields.Integer(required=True)
    position = ma.fields.Integer(
        required=True, allow_none=True, metadata={"description": "The event's position in the global log"}
    )
    hash = ma.fields.String(
        required=True, allow_none=True, metadata={"description": "The event's hash in the audit chain"}
    )


def derived_inputs(description: str) -> ma.fields.Dict:
    return ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        required=True,
        metadata={"description": description},
    )


def traced_events() -> ma.fields.Dict:
    return ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(SourceEventDocument),
        required=True,
        metadata={"description": "For each input recorded by an event, that event"},
    )


class PartShareDocument(Schema):
    """One party's part of a line, traced like the line."""

    force = ma.fields.String(required=True)
    amount = ma.fields.String(required=True, metadata={"description": "Money to the penny", "example": "-256680.00"})
    formula = ma.fields.String(required=True, metadata={"description": "How the party's part was worked out"})
    inputs = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), required=True)
    source_events = traced_events()
    derived = derived_inputs("Inputs worked out from others (the party's fraction s): what each came from")


class TracedLineDocument(Schema):
    head = ma.fields.String(required=True, metadata={"enum": list(EXIT_COST_HEADS)})
    description = ma.fields.String(required=True)
    amount = ma.fields.String(
        required=True, metadata={"description": "Money to the penny; negative is a credit", "example": "-828000.00"}
    )
    formula = ma.fields.String(required=True)
    inputs = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), required=True)
    source_events = traced_events()
    derived = derived_inputs("Inputs worked out from other inputs (not recorded by one event): the inputs used")


class QuoteLineDocument(TracedLineDocument):
    payees = ma.fields.List(
        ma.fields.Nested(PartShareDocument),
        required=True,
        metadata={
            "description": "Who receives the line: what the withdrawing force pays each party on it (negative: the "
            "party pays the withdrawing force). The parts add up to the line's amount exactly."
        },
    )


class BasisDateDocument(Schema):
    on = ma.fields.Date(required=True)
    why = ma.fields.String(required=True, allow_none=True, metadata={"description": "Where the date came from"})
    event = ma.fields.Nested(
        SourceEventDocument,
        required=True,
        allow_none=True,
        metadata={"description": "The event that fixed the date; null for the quote date or an exit date asked for"},
    )


class QuoteBasisDocument(Schema):
    N = ma.fields.Nested(BasisDateDocument, required=True, metadata={"description": "The notice date"})
    E = ma.fields.Nested(BasisDateDocument, required=True, metadata={"description": "The exit date"})


class PayeeTotalDocument(Schema):
    force = ma.fields.String(required=True)
    amount = ma.fields.String(
        required=True, metadata={"description": "What the withdrawing force pays this party in all (negative: is paid)"}
    )
    by_head = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), required=True)


class ExitCostsDocument(Schema):
    collaboration_id = ma.fields.String(required=True)
    version = ma.fields.Integer(required=True, metadata={"description": "The collaboration version quoted"})
    force = ma.fields.String(required=True)
    notice_served = ma.fields.Boolean(required=True, metadata={"description": "Whether the force has a live notice"})
    as_of = ma.fields.Date(allow_none=True, metadata={"description": "The as_of date asked for, if any"})
    known_at = ma.fields.String(
        allow_none=True, metadata={"format": "date-time", "description": "The known_at time asked for, if any"}
    )
    notice_on = ma.fields.Date(
        required=True,
        metadata={"description": "N: the force's notice's date, else the quote date (as_of if given, else today)"},
    )
    notice_end = ma.fields.Date(required=True, metadata={"description": "N plus the notice period"})
    exit_on = ma.fields.Date(required=True)
    quoted_on = ma.fields.Date(required=True)
    basis = ma.fields.Nested(
        QuoteBasisDocument, required=True, metadata={"description": "Where N and E came from, with their events"}
    )
    exit_case_id = ma.fields.String(
        allow_none=True,
        metadata={"description": "The force's withdrawal exit case, whose claims supply the claimed heads"},
    )
    lines = ma.fields.List(ma.fields.Nested(QuoteLineDocument), required=True)
    total = ma.fields.String(
        required=True,
        metadata={"description": "The sum of the rounded lines: positive the force pays, negative it is owed"},
    )
    remaining_parties = ma.fields.List(
        ma.fields.String(),
        required=True,
        metadata={"description": "The other parties still in the agreement after the exit date"},
    )
    payees = ma.fields.List(
        ma.fields.Nested(PayeeTotalDocument),
        required=True,
        metadata={"description": "What the force pays each party in all, by head; they add up to total - unallocated"},
    )
    unallocated = ma.fields.String(
        required=True,
        metadata={"description": "Money of lines with nobody to receive it (no remaining party): normally 0.00"},
    )


class DecouplingClaimDocument(Schema):
    head = ma.fields.String(required=True, metadata={"enum": list(EXIT_COST_HEADS)})
    description = ma.fields.String(required=True)
    amount = ma.fields.String(required=True, metadata={"description": "What the payer pays the payee (negative: less)"})
    payer = ma.fields.String(required=True, metadata={"description": "The respondent of the claim"})
    payee = ma.fields.String(required=True, metadata={"description": "The claimant"})
    formula = ma.fields.String(required=True)
    inputs = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), required=True)
    source_events = traced_events()


class PartyPositionDocument(Schema):
    force = ma.fields.String(required=True)
    by_head = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        required=True,
        metadata={"description": "The party's share of each computed head"},
    )
    claims_paid = ma.fields.String(required=True, metadata={"description": "What it pays under claims"})
    claims_received = ma.fields.String(required=True, metadata={"description": "What it receives under claims"})
    net = ma.fields.String(
        required=True, metadata={"description": "Σ by_head + claims_paid - claims_received: what it bears"}
    )


class DecouplingLineDocument(TracedLineDocument):
    shares = ma.fields.List(
        ma.fields.Nested(PartShareDocument),
        required=True,
        metadata={"description": "Each party's share of the line; they add up to its amount exactly"},
    )


class DecouplingCostsDocument(Schema):
    collaboration_id = ma.fields.String(required=True)
    version = ma.fields.Integer(required=True, metadata={"description": "The collaboration version quoted"})
    function_id = ma.fields.String(required=True)
    function_name = ma.fields.String(required=True)
    status = ma.fields.String(
        required=True,
        metadata={"enum": ["decoupled", "proposed"], "description": "A recorded decoupling, or a proposed one"},
    )
    as_of = ma.fields.Date(allow_none=True)
    known_at = ma.fields.String(allow_none=True, metadata={"format": "date-time"})
    exit_case_id = ma.fields.String(
        allow_none=True, metadata={"description": "The decoupling's exit case, whose claims are the claims here"}
    )
    notice_on = ma.fields.Date(
        required=True, metadata={"description": "N: the decision date (else E), or the quote date for a proposal"}
    )
    notice_end = ma.fields.Date(required=True, metadata={"description": "N plus the notice period"})
    exit_on = ma.fields.Date(
        required=True, metadata={"description": "E: the day the function leaves the joint structure"}
    )
    quoted_on = ma.fields.Date(required=True)
    basis = ma.fields.Nested(QuoteBasisDocument, required=True)
    parties = ma.fields.List(ma.fields.String(), required=True, metadata={"description": "The parties on E"})
    lines = ma.fields.List(ma.fields.Nested(DecouplingLineDocument), required=True)
    claims = ma.fields.List(ma.fields.Nested(DecouplingClaimDocument), required=True)
    positions = ma.fields.List(ma.fields.Nested(PartyPositionDocument), required=True)
    total = ma.fields.String(
        required=True, metadata={"description": "The sum of the computed lines; the net positions add up to it"}
    )


class RegisterFunctionSchema(Schema):
    id = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    kind = ma.fields.String(required=True)
    host_force = ma.fields.String(required=True)


class RegisterEntrySchema(Schema):
    id = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    purpose = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    lead_force = ma.fields.String(required=True)
    parties = ma.fields.List(ma.fields.String(), required=True)
    functions = ma.fields.List(ma.fields.Nested(RegisterFunctionSchema), required=True)
    governance_body = ma.fields.String(required=True, allow_none=True)
    review_cycle_months = ma.fields.Integer(required=True, allow_none=True)
    established_on = ma.fields.Date(required=True)
    version = ma.fields.Integer(required=True)
    updated_at = ma.fields.String(required=True, metadata={"format": "date-time"})


class RegisterPageSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(RegisterEntrySchema), required=True)
    total = ma.fields.Integer(required=True)
    page = ma.fields.Integer(required=True)
    page_size = ma.fields.Integer(required=True)


class HistoryEventDocument(EventDocument):
    stream_id = ma.fields.String(
        required=True, metadata={"description": "The collaboration's, exit case's or benefit's id"}
    )
    aggregate_type = ma.fields.String(
        required=True, metadata={"enum": sorted(HISTORY_KINDS.values()), "description": "What the stream is"}
    )
    version = ma.fields.Integer(required=True, metadata={"description": "The event's version in its stream"})


class HistorySchema(Schema):
    collaboration_id = ma.fields.String(required=True)
    items = ma.fields.List(ma.fields.Nested(HistoryEventDocument), required=True)
    next_after = next_after("position")


class ExitCostHistoryQuerySchema(ExportFormatSchema, HistoryPageQuerySchema):
    force = Code(required=True, validate=known_force, metadata={**FORCE_CODE, "description": "The party whose figures"})


class ExitCostHistoryDocument(Schema):
    collaboration_id = ma.fields.String(required=True)
    force = ma.fields.String(required=True)
    items = ma.fields.List(ma.fields.Nested(ExitCaseHistoryRowDocument), required=True)
    next_after = next_after("position")


class ListQuerySchema(TemporalQuerySchema, ListPageQuerySchema):
    """A page of a collaboration's reviews or variations, now or as it stood."""


class ListPageDocument(Schema):
    collaboration_id = ma.fields.String(required=True)
    version = ma.fields.Integer(required=True, metadata={"description": "The collaboration's version; the ETag"})
    total = ma.fields.Integer(required=True, metadata={"description": "How many there are in all"})
    next_after = next_after("source_version")


class ReviewsPageDocument(ListPageDocument):
    items = ma.fields.List(ma.fields.Nested(ReviewDocument), required=True)


class VariationsPageDocument(ListPageDocument):
    items = ma.fields.List(ma.fields.Nested(VariationDocument), required=True)


# ------------------------------------------------------------------------ what changed
class ChangesQuerySchema(ExportFormatSchema):
    """One window: two recorded times, or two effective dates."""

    known_from = Timestamp(metadata={"description": "A recorded window: as known at this RFC 3339 time ..."})
    known_to = Timestamp(metadata={"description": "... against as known at this one (default: now)"})
    effective_from = Date(metadata={"description": "An effective window: as it stood on this date ..."})
    effective_to = Date(metadata={"description": "... against as it stood on this one (default: today), as known now"})

    @ma.validates_schema
    def one_window(self, data: dict[str, Any], **_: Any) -> None:
        recorded = "known_from" in data or "known_to" in data
        effective = "effective_from" in data or "effective_to" in data
        if recorded == effective:
            raise ma.ValidationError(
                "give one window: known_from (and known_to), or effective_from (and effective_to)",
                "known_from" if recorded else "effective_from",
            )
        start, end = ("known_from", "known_to") if recorded else ("effective_from", "effective_to")
        if start not in data:
            raise ma.ValidationError(f"{start} is required with {end}", start)
        if end in data and not data[start] < data[end]:
            raise ma.ValidationError(f"{end} is after {start}", end)


class PatchOperationDocument(Schema):
    op = ma.fields.String(required=True, metadata={"enum": ["add", "remove", "replace", "move", "copy"]})
    path = ma.fields.String(required=True, metadata={"description": "A JSON Pointer into the entity's document"})
    value = ma.fields.Raw(allow_none=True, metadata={"description": "The new value (add, replace)"})
    was = ma.fields.Raw(required=True, allow_none=True, metadata={"description": "The value replaced or removed"})
    from_ = ma.fields.String(data_key="from", metadata={"description": "move, copy"})


class EntityChangeDocument(Schema):
    kind = ma.fields.String(required=True, metadata={"enum": ["collaboration", "exit_case", "benefit"]})
    id = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={"enum": ["added", "changed"]})
    version_before = ma.fields.Integer(required=True, allow_none=True)
    version_after = ma.fields.Integer(required=True, allow_none=True)
    patch = ma.fields.List(
        ma.fields.Nested(PatchOperationDocument),
        required=True,
        metadata={"description": "RFC 6902 JSON Patch from the document at the start to the one at the end"},
    )


class ChangedEventDocument(Schema):
    stream_id = ma.fields.String(required=True)
    aggregate_type = ma.fields.String(required=True, allow_none=True)
    version = ma.fields.Integer(required=True)
    type = ma.fields.String(required=True)
    effective_on = ma.fields.Date(required=True, allow_none=True)
    recorded_at = ma.fields.String(required=True, metadata={"format": "date-time"})
    actor = ma.fields.String(required=True, allow_none=True)
    reason = ma.fields.String(required=True, allow_none=True)
    position = ma.fields.Integer(required=True, allow_none=True)
    sentence = ma.fields.String(required=True)
    back_dated = ma.fields.Boolean(
        required=True,
        metadata={
            "description": "Recorded in the window but effective before it (a recorded window), or effective in "
            "it but recorded after it (an effective window): a correction of the past"
        },
    )


class WindowDocument(Schema):
    kind = ma.fields.String(required=True, metadata={"enum": ["recorded", "effective"]})
    from_ = ma.fields.String(required=True, data_key="from")
    to = ma.fields.String(required=True)


class ChangesDocument(Schema):
    collaboration_id = ma.fields.String(required=True)
    window = ma.fields.Nested(WindowDocument, required=True)
    entities = ma.fields.List(ma.fields.Nested(EntityChangeDocument), required=True)
    unchanged = ma.fields.Integer(required=True, metadata={"description": "Entities the same at both ends"})
    events = ma.fields.List(ma.fields.Nested(ChangedEventDocument), required=True)
    back_dated = ma.fields.Integer(required=True, metadata={"description": "How many events are back-dated"})


# ----------------------------------------------------------------------------- board pack
PACK_FORMATS = ("json", "html", "pdf")


class BoardPackQuerySchema(Schema):
    """A meeting, the previous pack and the moment the record is read at."""

    meeting_on = Date(metadata={"description": "The meeting's date: the agreement as it stood then (default: today)"})
    previous_on = Date(
        metadata={"description": "The previous pack's date: decisions and changes after it (default: since the start)"}
    )
    known_at = Timestamp(
        metadata={
            "description": "Read the record as known at this RFC 3339 time (default: now; a later time is read as "
            "now; stated in the pack)"
        }
    )
    format = Code(
        validate=ma.validate.OneOf(PACK_FORMATS),
        metadata={
            "enum": list(PACK_FORMATS),
            "description": "json (the default), html (one printable page, its styles inline) or pdf (A4); when "
            "given, it wins over the Accept header",
        },
    )

    @ma.validates_schema
    def previous_before_meeting(self, data: dict[str, Any], **_: Any) -> None:
        meeting_on = data.get("meeting_on") or date.today()
        if "previous_on" in data and not data["previous_on"] < meeting_on:
            raise ma.ValidationError("previous_on must be before the meeting", "previous_on")


class PackReferenceDocument(Schema):
    event_id = ma.fields.String(required=True, metadata={"description": "stream:version"})
    position = ma.fields.Integer(required=True, metadata={"description": "The event's position in the log"})
    hash = ma.fields.String(required=True, metadata={"description": "Its SHA-256 chain hash (hex)"})
    type = ma.fields.String(required=True)
    effective_on = ma.fields.Date(required=True, allow_none=True)
    recorded_at = ma.fields.String(required=True, metadata={"format": "date-time"})
    sentence = ma.fields.String(required=True)


class PackDecisionDocument(Schema):
    event_id = ma.fields.String(required=True)
    type = ma.fields.String(required=True)
    summary = ma.fields.String(required=True, metadata={"description": "The decision log's summary"})
    sentence = ma.fields.String(required=True, metadata={"description": "The event in plain words, forces by name"})
    effective_on = ma.fields.Date(required=True, allow_none=True)
    recorded_at = ma.fields.String(required=True, metadata={"format": "date-time"})
    actor = ma.fields.String(required=True, allow_none=True)
    reason = ma.fields.String(required=True, allow_none=True)
    approval_ref = ma.fields.String(required=True, allow_none=True)


class BoardPackDocument(Schema):
    collaboration_id = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    meeting_on = ma.fields.Date(required=True)
    previous_on = ma.fields.Date(required=True, allow_none=True)
    known_at = ma.fields.String(
        required=True, metadata={"format": "date-time", "description": "The record as known then: ask again with it"}
    )
    state = ma.fields.Dict(
        required=True,
        metadata={
            "description": "status (with refs), lead_force, governance_body, established_on, terminated_on; "
            "parties (joined_on, left_on, refs, and position: kind in | left | ended, a party still in with its "
            "quote: notice_on, exit_on, total, lines with refs, payees); functions (annual_budget and shares "
            "with budget_refs and shares_refs)"
        },
    )
    exit_cases = ma.fields.List(
        ma.fields.Dict(), required=True, metadata={"description": "Each case with figures: {amount, refs}"}
    )
    benefits = ma.fields.Dict(
        required=True,
        metadata={"description": "read_on, totals, items: each benefit's figures and RAG with refs per figure"},
    )
    decisions = ma.fields.List(ma.fields.Nested(PackDecisionDocument), required=True)
    changes = ma.fields.Nested(ChangesDocument, required=True)
    references = ma.fields.List(
        ma.fields.Nested(PackReferenceDocument),
        required=True,
        metadata={"description": "Every event a figure cites (refs), once, in log order"},
    )
