"""Collaboration requests and documents.

Request schemas check the shape of the JSON; the domain checks the rules (a refused rule is
a 422 problem whose type names it). Response schemas document the JSON documents the service
builds (``service/documents.py``); the tests load real responses through them, so the
documentation cannot drift from what is sent.
"""

from __future__ import annotations

import marshmallow as ma

from domain.collaboration import APPORTIONMENT_BASES, EXIT_COST_HEADS, FUNCTION_KINDS
from domain.forces import FORCES
from service.fields import KeyedBy, MoneyString, ShareString, Text, WholeNumber
from service.resources.common import Schema, TemporalQuerySchema, WriteSchema

FORCE_CODE = {"description": "A force code, e.g. west-mercia (GET /api/v1/forces)", "example": "west-mercia"}


def known_force(code: str) -> None:
    if code not in FORCES:
        raise ma.ValidationError(f"unknown force code {code!r}; GET /api/v1/forces lists them")


def force_shares(description: str) -> KeyedBy:
    return KeyedBy(
        keys=ma.fields.String(metadata=FORCE_CODE),
        values=ShareString(),
        required=True,
        metadata={"description": description, "example": {"west-mercia": "0.69", "warwickshire": "0.31"}},
    )


# ------------------------------------------------------------------------------ requests
class EstablishSchema(WriteSchema):
    name = Text(required=True)
    purpose = Text(required=True)
    parties = ma.fields.List(
        ma.fields.String(metadata=FORCE_CODE), required=True, metadata={"description": "Two or more force codes"}
    )
    lead_force = ma.fields.String(required=True, metadata={"description": "The lead/host force: one of the parties"})
    governance_body = ma.fields.String(allow_none=True, metadata={"example": "Working Together Board"})
    review_cycle_months = WholeNumber(allow_none=True, metadata={"example": 12})


class JoinPartySchema(WriteSchema):
    force = ma.fields.String(required=True, metadata={"description": "The force joining the agreement"})


class AddFunctionSchema(WriteSchema):
    name = Text(required=True, metadata={"example": "Alliance ICT Dept"})
    kind = ma.fields.String(required=True, metadata={"enum": list(FUNCTION_KINDS)})
    host_force = ma.fields.String(required=True, metadata={"description": "A party hosting the function"})
    annual_budget = MoneyString(required=True)


class SetBudgetSchema(WriteSchema):
    financial_year = ma.fields.String(
        required=True,
        metadata={"pattern": r"^\d{4}/\d{2}$", "example": "2019/20", "description": "1 April to 31 March"},
    )
    annual_budget = MoneyString(required=True)


class ApportionmentSchema(WriteSchema):
    function_id = ma.fields.String(
        load_default=None, allow_none=True, metadata={"description": "The function; null for all functions"}
    )
    basis = ma.fields.String(required=True, metadata={"enum": list(APPORTIONMENT_BASES)})
    shares = force_shares("Each party's share; the shares sum to exactly 1")


class ExitTermsSchema(WriteSchema):
    notice_period_months = WholeNumber(required=True, metadata={"example": 12})
    stranded_cost_rate = ShareString(required=True, metadata={"example": "0.25"})
    stranded_cost_months = WholeNumber(required=True, metadata={"example": 6})
    caps = KeyedBy(
        keys=ma.fields.String(metadata={"enum": list(EXIT_COST_HEADS)}),
        values=MoneyString(),
        load_default=None,
        allow_none=True,
        metadata={"description": "Optional cap per exit-cost head", "example": {"H4": "1000000.00"}},
    )


class AssetSchema(WriteSchema):
    name = Text(required=True)
    cost = MoneyString(required=True)
    acquired_on = ma.fields.Date(required=True)
    useful_life_months = WholeNumber(required=True, metadata={"example": 60})
    funded_shares = force_shares("Who funded the asset; the shares sum to exactly 1")


class ContractSchema(WriteSchema):
    supplier = Text(required=True)
    function_id = ma.fields.String(required=True)
    annual_value = MoneyString(required=True)
    ends_on = ma.fields.Date(required=True)
    break_cost = MoneyString(required=True)


class ReviewSchema(WriteSchema):
    outcome = Text(required=True)


class VariationSchema(WriteSchema):
    clause = Text(required=True, metadata={"example": "7.2"})
    summary = Text(required=True)


class RegisterQuerySchema(TemporalQuerySchema):
    party = ma.fields.String(validate=known_force, metadata={"description": "Only collaborations with this party"})
    status = ma.fields.String(metadata={"example": "active"})
    function = ma.fields.String(metadata={"description": "Only collaborations running this function"})
    q = ma.fields.String(metadata={"description": "Free text in the name or purpose"})
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1))
    page_size = ma.fields.Integer(load_default=20, validate=ma.validate.Range(min=1, max=100))


class CollaborationQuerySchema(TemporalQuerySchema):
    version = ma.fields.Integer(
        validate=ma.validate.Range(min=1), metadata={"description": "The state as it stood after event N"}
    )


class HistoryQuerySchema(Schema):
    upto_version = ma.fields.Integer(
        validate=ma.validate.Range(min=1), metadata={"description": "Only events up to and including version N"}
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


class CollaborationDocument(Schema):
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
    functions = ma.fields.List(ma.fields.Nested(FunctionDocument), required=True)
    apportionments = ma.fields.List(
        ma.fields.Nested(ApportionmentDocument),
        required=True,
        metadata={"description": "Apportionments agreed for all functions"},
    )
    exit_terms = ma.fields.List(ma.fields.Nested(ExitTermsDocument), required=True)
    assets = ma.fields.List(ma.fields.Nested(AssetDocument), required=True)
    contracts = ma.fields.List(ma.fields.Nested(ContractDocument), required=True)
    reviews = ma.fields.List(ma.fields.Nested(ReviewDocument), required=True)
    variations = ma.fields.List(ma.fields.Nested(VariationDocument), required=True)
    notices = ma.fields.List(ma.fields.Dict(), required=True)


class FunctionAddedDocument(CollaborationDocument):
    function_id = ma.fields.String(required=True, metadata={"description": "The new function's id"})


class AssetRegisteredDocument(CollaborationDocument):
    asset_id = ma.fields.String(required=True, metadata={"description": "The new asset's id"})


class ContractCommittedDocument(CollaborationDocument):
    contract_id = ma.fields.String(required=True, metadata={"description": "The new contract's id"})


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


class EventDocument(Schema):
    stream_id = ma.fields.String(required=True, metadata={"description": "The collaboration's id"})
    version = ma.fields.Integer(required=True)
    type = ma.fields.String(required=True, metadata={"example": "Collaboration.ApportionmentAgreed"})
    effective_on = ma.fields.Date(required=True, allow_none=True)
    recorded_at = ma.fields.String(required=True, metadata={"format": "date-time"})
    actor = ma.fields.String(required=True, allow_none=True)
    reason = ma.fields.String(required=True, allow_none=True)
    evidence = ma.fields.String(required=True, allow_none=True)
    approval_ref = ma.fields.String(required=True, allow_none=True)
    data = ma.fields.Dict(required=True, metadata={"description": "The event's own fields; money as strings"})


class HistorySchema(Schema):
    collaboration_id = ma.fields.String(required=True)
    items = ma.fields.List(ma.fields.Nested(EventDocument), required=True)
