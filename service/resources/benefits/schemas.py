"""Benefit requests and documents.

Request schemas check the shape of the JSON; the domain (``domain/benefit.py``) checks the
rules: categories and sub-categories, the 7F minimum standard from stage 2 (OBC) on, forward
status moves, overlapping measurement periods, restatements (a refused rule is a 422 problem
whose type names it). Response schemas document the JSON the service builds
(``service/documents.py: benefit_document`` and the realisation dashboard); the tests load real
responses through them, so the documentation cannot drift from what is sent.
"""

from __future__ import annotations

import marshmallow as ma
from flask_smorest.fields import Upload

from domain.benefit import (
    CATEGORIES,
    CONFIDENCE_LEVELS,
    DIRECTIONS,
    FREQUENCY_MONTHS,
    KINDS,
    PILLARS,
    RAGS,
    STAGES,
    STATUSES,
    SUB_CATEGORIES,
    UNITS,
)
from domain.values import NAME_LENGTH, REFERENCE_LENGTH, TEXT_LENGTH
from service.documents import PREVIEW
from service.fields import (
    FORCE_CODE,
    MAX_FORCES,
    BoundedList,
    Code,
    Date,
    DecimalString,
    Flag,
    KeyedBy,
    OptionalText,
    QueryInteger,
    ShareString,
    Text,
    WholeNumber,
    known_force,
)
from service.resources.common import (
    ListPageQuerySchema,
    Schema,
    TemporalQuerySchema,
    WriteSchema,
    next_after,
)

CATEGORY_CODES = ", ".join(f"{code} {name}" for code, name in CATEGORIES.items())
SUB_CATEGORY_CODES = ", ".join(f"{code} {name}" for code, name in SUB_CATEGORIES.items())
STAGE_NAMES = ", ".join(f"{stage} {name}" for stage, name in STAGES.items())
STAGE_RANGE = range(min(STAGES), max(STAGES) + 1)
VALUE = {
    "example": "8455000.00",
    "description": "An exact decimal string in the benefit's unit, never a JSON number: less than 10^15 either way, "
    "at most 10 decimal places, and at most 2 (to the penny) when the unit is GBP",
}


MAX_PROFILE_PERIODS = 600  # fifty years of months
WORKBOOK_FORMATS = ("json", "csv", "xlsx")


def flag(description: str) -> Flag:
    """A JSON true or false, or null (unset)."""
    return Flag(load_default=None, allow_none=True, metadata={"description": description})


class RegisterFieldsSchema(Schema):
    """The register's fields a definition holds: the senior responsible owner, the class and
    the measurement frequency."""

    senior_responsible_owner = OptionalText(
        max_length=REFERENCE_LENGTH,
        metadata={"description": "Accountable for the benefit (the benefit owner realises it): a distinct role"},
    )
    cash_releasing = flag(
        "Green Book class: cash-releasing (the Home Office's cashable) or not; unset, a 1a Money saving is and "
        "every other benefit is not"
    )
    quantitative = flag("Green Book class: quantitative or qualitative; unset, quantitative unless scored")
    measurement_frequency = Code(
        load_default=None,
        allow_none=True,
        metadata={
            "enum": list(FREQUENCY_MONTHS),
            "description": "How often it is measured; unset, annually. A reading older than one interval and 30 "
            "days is flagged stale",
        },
    )


# ------------------------------------------------------------------------------ requests
class PointSchema(Schema):
    """A value on a date: a baseline or a target."""

    value = DecimalString(required=True, metadata=VALUE)
    on = Date(required=True, metadata={"description": "The date of the value (YYYY-MM-DD)"})


class IdentifyBenefitSchema(WriteSchema, RegisterFieldsSchema):
    kind = Code(
        load_default="benefit",
        metadata={
            "enum": list(KINDS),
            "description": "A benefit, or a dis-benefit: an outcome a party sees as negative, tracked alike and "
            "totalled apart",
        },
    )
    reference = OptionalText(
        max_length=REFERENCE_LENGTH, metadata={"description": "The register's own reference", "example": "B-014"}
    )
    objective = OptionalText(
        max_length=NAME_LENGTH,
        metadata={"description": "The objective the benefit serves (the benefit map)", "example": "A sustainable rota"},
    )
    title = Text(required=True, max_length=NAME_LENGTH, metadata={"example": "Procurement cash savings"})
    category = Code(required=True, metadata={"enum": list(CATEGORIES), "description": CATEGORY_CODES})
    sub_category = Code(
        required=True,
        metadata={"enum": list(SUB_CATEGORIES), "description": f"{SUB_CATEGORY_CODES}; it belongs to the category"},
    )
    pillar = Code(required=True, metadata={"enum": list(PILLARS), "description": "People, cost or service"})
    direction = Code(
        load_default=None,
        allow_none=True,
        metadata={"enum": list(DIRECTIONS), "description": "Required from stage 2 (OBC) on"},
    )
    measure = OptionalText(
        max_length=NAME_LENGTH,
        metadata={"description": "What is measured; required from stage 2 (OBC) on", "example": "Cash savings"},
    )
    unit = Code(
        load_default=None,
        allow_none=True,
        metadata={"enum": list(UNITS), "description": "GBP is money, the only unit summed into cash savings"},
    )
    tolerance = DecimalString(
        signed=False,
        load_default=None,
        allow_none=True,
        metadata={"description": "A maintain benefit's tolerance either side of its baseline (>= 0); maintain only"},
    )
    baseline = ma.fields.Nested(
        PointSchema, load_default=None, allow_none=True, metadata={"description": "Required from stage 2 (OBC) on"}
    )
    target = ma.fields.Nested(
        PointSchema,
        load_default=None,
        allow_none=True,
        metadata={"description": "Required from stage 2 (OBC) on; dated after the baseline"},
    )
    owner = OptionalText(
        max_length=NAME_LENGTH,
        metadata={"description": "Who answers for the benefit; required from stage 2 (OBC) on"},
    )
    function_id = Code(
        load_default=None, allow_none=True, metadata={"description": "A function of the collaboration, if any"}
    )
    attribution = KeyedBy(
        keys=Code(metadata=FORCE_CODE),
        values=ShareString(),
        max_keys=MAX_FORCES,
        load_default=None,
        allow_none=True,
        metadata={
            "description": "Who gets the benefit: parties' shares summing to exactly 1; left out, the parties share it",
            "example": {"essex": "0.5", "kent": "0.5"},
        },
    )
    stage = WholeNumber(within=STAGE_RANGE, load_default=0, metadata={"description": STAGE_NAMES})
    status = Code(
        load_default=None,
        allow_none=True,
        metadata={"enum": list(STATUSES), "description": "Defaults to identified"},
    )


class MeasurementSchema(WriteSchema):
    period_start = Date(required=True, metadata={"example": "2019-04-01"})
    period_end = Date(required=True, metadata={"example": "2019-06-30", "description": "Not before period_start"})
    value = DecimalString(
        required=True,
        metadata={
            **VALUE,
            "example": "528437.50",
            "description": "For a savings benefit (category 1) the amount saved in the period; otherwise the level "
            "measured",
        },
    )
    source = Text(required=True, max_length=REFERENCE_LENGTH, metadata={"example": "7F finance ledger"})
    measurer = OptionalText(
        max_length=REFERENCE_LENGTH,
        metadata={"description": "Who measured it; left out, the caller (the token's holder)"},
    )
    restates = Code(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "A current measurement (its id) this one replaces; it then no longer counts. A period "
            "overlapping a current measurement is refused unless it restates it"
        },
    )


class StageSchema(WriteSchema):
    stage = WholeNumber(within=STAGE_RANGE, required=True, metadata={"description": STAGE_NAMES})
    status = Code(
        load_default=None,
        allow_none=True,
        metadata={"enum": list(STATUSES), "description": "A forward move only; left out, unchanged"},
    )


class TargetSchema(WriteSchema):
    value = DecimalString(required=True, metadata=VALUE)
    on = Date(required=True, metadata={"description": "The new target date: after the baseline's"})


class BaselineSchema(WriteSchema):
    value = DecimalString(required=True, metadata=VALUE)
    on = Date(required=True, metadata={"description": "The new baseline date: before the target's"})


class DefinitionSchema(WriteSchema, RegisterFieldsSchema):
    """What is left out is kept."""

    direction = Code(load_default=None, allow_none=True, metadata={"enum": list(DIRECTIONS)})
    measure = OptionalText(max_length=NAME_LENGTH)
    unit = Code(
        load_default=None,
        allow_none=True,
        metadata={"enum": list(UNITS), "description": "Fixed once the benefit has measurements"},
    )
    tolerance = DecimalString(
        signed=False,
        load_default=None,
        allow_none=True,
        metadata={"description": "maintain only: >= 0 either side of the baseline"},
    )
    owner = OptionalText(max_length=NAME_LENGTH)


class LinkSchema(WriteSchema):
    """Both as given: a null function is the whole collaboration, a null objective none named."""

    function_id = Code(
        load_default=None, allow_none=True, metadata={"description": "The enabling function; null: the collaboration"}
    )
    objective = OptionalText(max_length=NAME_LENGTH, metadata={"description": "The objective the benefit serves"})


class ConfidenceSchema(WriteSchema):
    confidence = Code(
        required=True,
        metadata={
            "enum": list(CONFIDENCE_LEVELS),
            "description": "That the benefit will be realised; the reason says why",
        },
    )


class ProfilePeriodSchema(Schema):
    period_start = Date(required=True, metadata={"example": "2019-04-01"})
    period_end = Date(required=True, metadata={"example": "2020-03-31"})
    value = DecimalString(
        required=True,
        metadata={**VALUE, "description": "Planned for the period: an amount (savings) or a level, like a measurement"},
    )


class ProfileSchema(WriteSchema):
    periods = BoundedList(
        ma.fields.Nested(ProfilePeriodSchema),
        max_items=MAX_PROFILE_PERIODS,
        required=True,
        metadata={"description": "One or more periods, none overlapping"},
    )


class RagOverrideSchema(WriteSchema):
    rag = Code(
        required=True,
        allow_none=True,
        metadata={"enum": [*RAGS, None], "description": "Set by hand over the derived status; null clears it"},
    )


class ReopeningSchema(WriteSchema):
    status = Code(
        required=True,
        metadata={"enum": list(STATUSES), "description": "The earlier status the benefit goes back to (not final)"},
    )
    stage = WholeNumber(
        within=STAGE_RANGE,
        load_default=None,
        allow_none=True,
        metadata={"description": "An earlier stage to go back to; left out, the stage stays"},
    )


class WorkbookFormatSchema(Schema):
    format = Code(
        validate=ma.validate.OneOf(WORKBOOK_FORMATS),
        metadata={
            "enum": list(WORKBOOK_FORMATS),
            "description": "json (the default), csv, or xlsx (the register, the figures and their provenance, "
            "which imports back recording nothing); when given, it wins over the Accept header",
        },
    )


class DashboardQuerySchema(TemporalQuerySchema, WorkbookFormatSchema):
    """The dashboard as it stood (``as_of``, ``known_at``), as JSON, CSV or a workbook."""


class PortfolioQuerySchema(TemporalQuerySchema, WorkbookFormatSchema):
    force = Code(validate=known_force, metadata={**FORCE_CODE, "description": "Benefits attributed to this force"})
    pillar = Code(validate=ma.validate.OneOf(PILLARS), metadata={"enum": list(PILLARS)})
    category = Code(
        validate=ma.validate.OneOf([*CATEGORIES, *SUB_CATEGORIES]),
        metadata={
            "enum": [*CATEGORIES, *SUB_CATEGORIES],
            "description": f"A category ({CATEGORY_CODES}) or a sub-category ({SUB_CATEGORY_CODES})",
        },
    )
    stage = QueryInteger(
        validate=ma.validate.Range(min=STAGE_RANGE.start, max=STAGE_RANGE[-1]), metadata={"description": STAGE_NAMES}
    )
    status = Code(validate=ma.validate.OneOf(STATUSES), metadata={"enum": list(STATUSES)})
    collaboration_id = Code(metadata={"description": "Benefits of this collaboration (its id) only"})


# ----------------------------------------------------------------------------- documents
def decimal_figure(description: str, *, nullable: bool = True, example: str = "8455000.00") -> ma.fields.String:
    return ma.fields.String(
        required=True,
        allow_none=nullable,
        metadata={"format": "decimal", "description": description, "example": example},
    )


class SourcedSchema(Schema):
    effective_on = ma.fields.Date(required=True)
    source_version = ma.fields.Integer(
        required=True, metadata={"description": "The version of the benefit's event that recorded this"}
    )


class LevelDocument(Schema):
    value = decimal_figure("In the benefit's unit", nullable=False)
    on = ma.fields.Date(required=True)


class LevelEntryDocument(LevelDocument, SourcedSchema):
    """A baseline or target as set at identification or by a later event."""


class StageEntryDocument(SourcedSchema):
    stage = ma.fields.Integer(required=True)
    stage_name = ma.fields.String(required=True, metadata={"enum": list(STAGES.values())})
    status = ma.fields.String(required=True, metadata={"enum": list(STATUSES)})
    reopened = ma.fields.Boolean(required=True, metadata={"description": "A recorded backward move"})


class DefinitionDocument(SourcedSchema):
    direction = ma.fields.String(required=True, allow_none=True, metadata={"enum": list(DIRECTIONS)})
    measure = ma.fields.String(required=True, allow_none=True)
    unit = ma.fields.String(required=True, allow_none=True, metadata={"enum": list(UNITS)})
    tolerance = decimal_figure("A maintain benefit's tolerance", example="2")
    owner = ma.fields.String(required=True, allow_none=True)
    senior_responsible_owner = ma.fields.String(required=True, allow_none=True)
    cash_releasing = ma.fields.Boolean(required=True, allow_none=True, metadata={"description": "As recorded"})
    quantitative = ma.fields.Boolean(required=True, allow_none=True, metadata={"description": "As recorded"})
    measurement_frequency = ma.fields.String(
        required=True, allow_none=True, metadata={"enum": list(FREQUENCY_MONTHS), "description": "As recorded"}
    )


class LinkEntryDocument(SourcedSchema):
    function_id = ma.fields.String(required=True, allow_none=True, metadata={"description": "null: the collaboration"})
    objective = ma.fields.String(required=True, allow_none=True)


class ConfidenceEntryDocument(SourcedSchema):
    confidence = ma.fields.String(required=True, metadata={"enum": list(CONFIDENCE_LEVELS)})
    reason = ma.fields.String(required=True)


class ProfilePeriodDocument(Schema):
    period_start = ma.fields.Date(required=True)
    period_end = ma.fields.Date(required=True)
    value = decimal_figure("Planned for the period", nullable=False)


class ProfileEntryDocument(SourcedSchema):
    periods = ma.fields.List(ma.fields.Nested(ProfilePeriodDocument), required=True)
    stage = ma.fields.Integer(required=True, metadata={"description": "The benefit's stage when it was set"})
    stage_name = ma.fields.String(required=True)
    rebaselining = ma.fields.Boolean(required=True, metadata={"description": "A revision of an earlier profile"})
    reason = ma.fields.String(required=True)


class RagEntryDocument(Schema):
    on = ma.fields.Date(required=True)
    source = ma.fields.String(required=True, metadata={"enum": ["derived", "override", "override_cleared"]})
    rag = ma.fields.String(required=True, allow_none=True, metadata={"enum": [*RAGS, None]})
    variance_percent = decimal_figure("Derived entries: the variance against plan", example="-3.20")
    reason = ma.fields.String(required=True, allow_none=True)
    source_version = ma.fields.Integer(required=True, allow_none=True)


class ConfidenceDocument(Schema):
    confidence = ma.fields.String(required=True, metadata={"enum": list(CONFIDENCE_LEVELS)})
    reason = ma.fields.String(required=True)
    effective_on = ma.fields.Date(required=True)


class RagOverrideDocument(Schema):
    rag = ma.fields.String(required=True, metadata={"enum": list(RAGS)})
    reason = ma.fields.String(required=True)
    effective_on = ma.fields.Date(required=True)


class MeasurementDocument(SourcedSchema):
    id = ma.fields.String(required=True)
    period_start = ma.fields.Date(required=True)
    period_end = ma.fields.Date(required=True)
    value = decimal_figure("The value for the period", nullable=False, example="528437.50")
    source = ma.fields.String(required=True)
    measurer = ma.fields.String(required=True)
    restates = ma.fields.String(required=True, allow_none=True, metadata={"description": "The measurement replaced"})
    restated_by = ma.fields.String(
        required=True, allow_none=True, metadata={"description": "The measurement that replaced this one"}
    )
    current = ma.fields.Boolean(required=True, metadata={"description": "Not restated: it counts"})


class RegisterEntryDocument(Schema):
    """The register's fields of a benefit as it stands (the class and frequency in effect, as
    classified or else by rule): shared by a benefit's document and the dashboard's rows."""

    senior_responsible_owner = ma.fields.String(required=True, allow_none=True)
    objective = ma.fields.String(required=True, allow_none=True)
    kind = ma.fields.String(required=True, metadata={"enum": list(KINDS)})
    reference = ma.fields.String(required=True, allow_none=True)
    cash_releasing = ma.fields.Boolean(required=True, metadata={"description": "As classified, else by sub-category"})
    quantitative = ma.fields.Boolean(required=True, metadata={"description": "As classified, else by unit"})
    measurement_frequency = ma.fields.String(required=True, metadata={"enum": list(FREQUENCY_MONTHS)})


class PlanFiguresDocument(Schema):
    """The figures of a benefit against its plan (``Realisation``): shared by the benefit's
    realisation and the dashboard's rows."""

    planned_value = decimal_figure(
        "What the plan (the profile, else the straight line) expects at the latest period end"
    )
    expected_basis = ma.fields.String(
        required=True, allow_none=True, metadata={"enum": ["profile", "straight_line", "baseline", None]}
    )
    variance = decimal_figure(
        "Against plan, favourable positive (for a dis-benefit, less than planned)", example="-400.00"
    )
    variance_percent = decimal_figure("The variance as a percentage of the planned value", example="-3.20")
    rag_derived = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={
            "enum": [*RAGS, None],
            "description": "From the variance: short by at most 5% green, 15% amber, else red",
        },
    )
    rag = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={"enum": [*RAGS, None], "description": "The override if any, else derived"},
    )
    rag_overridden = ma.fields.Boolean(required=True)


class RealisationDocument(PlanFiguresDocument):
    on = ma.fields.Date(required=True, metadata={"description": "Measurements for periods ending by then count"})
    cumulative = ma.fields.Boolean(
        required=True,
        metadata={"description": "Whether realisation compares the sum of the measurements (savings) or the latest"},
    )
    latest_value = decimal_figure("The current measurement with the latest period end")
    latest_period_end = ma.fields.Date(required=True, allow_none=True)
    realisation_percent = decimal_figure(
        "Progress from baseline toward target in the stated direction, 2 decimals; not capped", example="100.00"
    )
    expected_percent = decimal_figure(
        "A straight line from baseline date (0) to target date (100) at the latest period end", example="100.00"
    )
    on_track = ma.fields.Boolean(required=True, allow_none=True)
    within_tolerance = ma.fields.Boolean(required=True, allow_none=True, metadata={"description": "maintain only"})
    trend = ma.fields.String(required=True, allow_none=True, metadata={"enum": ["improving", "worsening", "flat"]})
    cumulative_value = decimal_figure("The sum of the current measurements")
    measurements_count = ma.fields.Integer(required=True)
    compared_value = decimal_figure("The value realisation compares with the target")


class BenefitLinksDocument(Schema):
    self = ma.fields.String(required=True, metadata={"description": "This benefit: GET it for its realisation"})
    history = ma.fields.String(
        required=True, metadata={"description": "Its events, in its collaboration's history (kind=benefit)"}
    )
    measurements = ma.fields.String(required=True, metadata={"description": "All its measurements, paginated"})
    collaboration = ma.fields.String(required=True, metadata={"description": "Its collaboration"})


class CompactBenefitDocument(RegisterEntryDocument):
    """What a write on a benefit answers by default: the same size however many measurements it has."""

    id = ma.fields.String(required=True)
    version = ma.fields.Integer(required=True, metadata={"description": "Also sent as the ETag"})
    collaboration_id = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    category = ma.fields.String(required=True, metadata={"enum": list(CATEGORIES)})
    category_name = ma.fields.String(required=True)
    sub_category = ma.fields.String(required=True, metadata={"enum": list(SUB_CATEGORIES)})
    sub_category_name = ma.fields.String(required=True)
    pillar = ma.fields.String(required=True, metadata={"enum": list(PILLARS)})
    direction = ma.fields.String(required=True, allow_none=True, metadata={"enum": list(DIRECTIONS)})
    measure = ma.fields.String(required=True, allow_none=True)
    unit = ma.fields.String(required=True, allow_none=True, metadata={"enum": list(UNITS)})
    tolerance = decimal_figure("A maintain benefit's tolerance", example="2")
    baseline = ma.fields.Nested(LevelDocument, required=True, allow_none=True)
    target = ma.fields.Nested(LevelDocument, required=True, allow_none=True)
    owner = ma.fields.String(required=True, allow_none=True)
    function_id = ma.fields.String(required=True, allow_none=True)
    confidence = ma.fields.Nested(ConfidenceDocument, required=True, allow_none=True)
    rag_override = ma.fields.Nested(RagOverrideDocument, required=True, allow_none=True)
    attribution = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.String(), required=True, metadata={"description": "{force: share}"}
    )
    parties = ma.fields.List(
        ma.fields.String(), required=True, metadata={"description": "The collaboration's parties when identified"}
    )
    stage = ma.fields.Integer(required=True, metadata={"description": STAGE_NAMES})
    stage_name = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={"enum": list(STATUSES)})
    identified_on = ma.fields.Date(required=True)
    created_at = ma.fields.String(required=True, metadata={"format": "date-time"})
    modified_at = ma.fields.String(required=True, metadata={"format": "date-time"})
    links = ma.fields.Nested(BenefitLinksDocument, required=True)


class BenefitDocument(CompactBenefitDocument):
    """A benefit, its realisation and the facts behind it (a GET, or a write's answer with Prefer:
    return=representation)."""

    realisation = ma.fields.Nested(RealisationDocument, required=True)
    measurements = ma.fields.List(
        ma.fields.Nested(MeasurementDocument),
        required=True,
        metadata={
            "description": f"The {PREVIEW} newest recorded, in the order recorded; all of them are at "
            "links.measurements (realisation counts every one)"
        },
    )
    measurements_total = ma.fields.Integer(
        required=True, metadata={"description": "How many measurements there are in all"}
    )
    baselines = ma.fields.List(ma.fields.Nested(LevelEntryDocument), required=True)
    targets = ma.fields.List(ma.fields.Nested(LevelEntryDocument), required=True)
    stages = ma.fields.List(ma.fields.Nested(StageEntryDocument), required=True)
    definitions = ma.fields.List(ma.fields.Nested(DefinitionDocument), required=True)
    link_history = ma.fields.List(ma.fields.Nested(LinkEntryDocument), required=True)
    confidences = ma.fields.List(ma.fields.Nested(ConfidenceEntryDocument), required=True)
    profile = ma.fields.List(
        ma.fields.Nested(ProfilePeriodDocument),
        required=True,
        allow_none=True,
        metadata={"description": "The profile in effect; null: none (the plan is then a straight line)"},
    )
    profiles = ma.fields.List(ma.fields.Nested(ProfileEntryDocument), required=True)
    rag_history = ma.fields.List(
        ma.fields.Nested(RagEntryDocument),
        required=True,
        metadata={
            "description": f"In date order: the status derived at each of the {PREVIEW} latest readings, and overrides"
        },
    )
    as_of = ma.fields.Date(required=True, allow_none=True)


def new_measurement_id() -> ma.fields.String:
    return ma.fields.String(required=True, metadata={"description": "The new measurement's id"})


class CompactMeasurementRecordedDocument(CompactBenefitDocument):
    measurement_id = new_measurement_id()


class MeasurementRecordedDocument(BenefitDocument):
    measurement_id = new_measurement_id()


class MeasurementsQuerySchema(TemporalQuerySchema, ListPageQuerySchema):
    """A page of a benefit's measurements, now or as it stood."""


class MeasurementsPageDocument(Schema):
    benefit_id = ma.fields.String(required=True)
    version = ma.fields.Integer(required=True, metadata={"description": "The benefit's version; the ETag"})
    total = ma.fields.Integer(required=True, metadata={"description": "How many measurements there are in all"})
    items = ma.fields.List(ma.fields.Nested(MeasurementDocument), required=True)
    next_after = next_after("source_version")


def money_total(description: str) -> ma.fields.String:
    return ma.fields.String(
        required=True, metadata={"format": "decimal", "example": "250000.00", "description": description}
    )


class TotalDocument(Schema):
    benefits = ma.fields.Integer(required=True, metadata={"description": "How many benefits"})
    on_track = ma.fields.Integer(required=True, metadata={"description": "How many are on track"})
    measured = ma.fields.Integer(required=True, metadata={"description": "How many have a measurement"})
    cash_savings = ma.fields.String(
        required=True,
        metadata={
            "format": "decimal",
            "example": "9605000.00",
            "description": "GBP: the realised (running) total of the 1a Money savings, summed; cost avoided "
            "and other units never enter it",
        },
    )
    cost_avoided = ma.fields.String(
        required=True,
        metadata={
            "format": "decimal",
            "example": "250000.00",
            "description": "GBP: the realised (running) total of the 1c Cost avoidance benefits, summed apart "
            "from cash savings",
        },
    )
    other_units = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        required=True,
        metadata={"description": "{unit: how many} of the other benefits with a unit: counted, never summed"},
    )
    dis_benefits = ma.fields.Integer(required=True, metadata={"description": "How many of them are dis-benefits"})
    stale = ma.fields.Integer(required=True, metadata={"description": "How many have an overdue measurement"})
    rag = ma.fields.Dict(
        keys=ma.fields.String(metadata={"enum": ["green", "amber", "red", "not_assessed"]}),
        values=ma.fields.Integer(),
        required=True,
        metadata={"description": "How many are green, amber, red, or not assessed (no reading or no plan)"},
    )
    cash_releasing = money_total("Of the benefits' money totals: the cash-releasing (cashable) part")
    non_cash_releasing = money_total("Of the benefits' money totals: the part that releases no cash")
    dis_benefits_money = money_total("The dis-benefits' money (cost), summed apart, never offset silently")
    net_money = money_total("The benefits' money less the dis-benefits': the net, stated as such")


class TotalsDocument(Schema):
    by_pillar = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(TotalDocument), required=True)
    by_category = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(TotalDocument), required=True)
    all = ma.fields.Nested(TotalDocument, required=True)


class BenefitRowDocument(PlanFiguresDocument, RegisterEntryDocument):
    benefit_id = ma.fields.String(required=True)
    collaboration_id = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    category = ma.fields.String(required=True, metadata={"enum": list(CATEGORIES)})
    sub_category = ma.fields.String(required=True, metadata={"enum": list(SUB_CATEGORIES)})
    pillar = ma.fields.String(required=True, metadata={"enum": list(PILLARS)})
    direction = ma.fields.String(required=True, allow_none=True, metadata={"enum": list(DIRECTIONS)})
    measure = ma.fields.String(required=True, allow_none=True)
    unit = ma.fields.String(required=True, allow_none=True, metadata={"enum": list(UNITS)})
    tolerance = decimal_figure("A maintain benefit's tolerance", example="2")
    owner = ma.fields.String(required=True, allow_none=True)
    function_id = ma.fields.String(required=True, allow_none=True)
    stage = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True, metadata={"enum": list(STATUSES)})
    baseline_value = decimal_figure("The baseline", example="0.00")
    baseline_on = ma.fields.Date(required=True, allow_none=True)
    target_value = decimal_figure("The target")
    target_on = ma.fields.Date(required=True, allow_none=True)
    attribution = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), required=True)
    forces = ma.fields.List(
        ma.fields.String(),
        required=True,
        metadata={"description": "The attribution's forces, else the collaboration's parties when identified"},
    )
    cumulative = ma.fields.Boolean(
        required=True, metadata={"description": "Whether realisation compares the sum of the measurements"}
    )
    latest_value = decimal_figure("The current measurement with the latest period end")
    latest_period_end = ma.fields.Date(required=True, allow_none=True)
    cumulative_value = decimal_figure("The sum of the current measurements")
    realised_value = decimal_figure("The value compared with the target: cumulative, else the latest")
    realisation_percent = decimal_figure("From baseline toward target, 2 decimals; not capped", example="100.00")
    expected_percent = decimal_figure("The straight line's percentage at the latest period end", example="100.00")
    on_track = ma.fields.Boolean(required=True, allow_none=True)
    within_tolerance = ma.fields.Boolean(required=True, allow_none=True)
    trend = ma.fields.String(required=True, allow_none=True, metadata={"enum": ["improving", "worsening", "flat"]})
    measurements_count = ma.fields.Integer(required=True)
    confidence = ma.fields.String(required=True, allow_none=True, metadata={"enum": [*CONFIDENCE_LEVELS, None]})
    measurement_due_by = ma.fields.Date(
        required=True, allow_none=True, metadata={"description": "When the next reading is overdue (null: none due)"}
    )
    stale = ma.fields.Boolean(required=True, metadata={"description": "Whether it was overdue on the day read"})
    version = ma.fields.Integer(required=True, metadata={"description": "The benefit's version the row is from"})


class TemporalBasisDocument(Schema):
    as_of = ma.fields.Date(required=True, allow_none=True)
    known_at = ma.fields.String(required=True, allow_none=True, metadata={"format": "date-time"})


class DashboardDocument(TemporalBasisDocument):
    collaboration_id = ma.fields.String(required=True)
    read_on = ma.fields.Date(required=True, metadata={"description": "The day stale readings are judged on"})
    benefits = ma.fields.List(
        ma.fields.Nested(BenefitRowDocument), required=True, metadata={"description": "By pillar, then title"}
    )
    totals = ma.fields.Nested(TotalsDocument, required=True)


class PortfolioDocument(TemporalBasisDocument):
    total = ma.fields.Integer(required=True)
    items = ma.fields.List(ma.fields.Nested(BenefitRowDocument), required=True)


# ------------------------------------------------------------------ the register spreadsheet
class RegisterImportFormSchema(Schema):
    """The multipart form: the file and the fields that say how to record it."""

    file = Upload(required=True, metadata={"description": "The register, an .xlsx workbook in the template's shape"})
    effective_on = Date(
        required=True,
        metadata={"description": "When the register's facts take effect, where a row gives no date of its own"},
    )
    reason = OptionalText(
        max_length=TEXT_LENGTH,
        metadata={"description": "Why it is recorded; left out, 'Imported from the benefits register <file>'"},
    )
    dry_run = Code(
        load_default="false",
        validate=ma.validate.OneOf(("true", "false")),
        metadata={"enum": ["true", "false"], "description": "true: check the register and answer what it would record"},
    )


class ImportedBenefitDocument(Schema):
    reference = ma.fields.String(required=True, metadata={"description": "The row's Reference (or Benefit ID)"})
    benefit_id = ma.fields.String(required=True)
    events = ma.fields.Integer(required=True, metadata={"description": "How many events the import records for it"})


class RegisterImportDocument(Schema):
    file = ma.fields.String(required=True)
    dry_run = ma.fields.Boolean(required=True)
    recorded = ma.fields.Boolean(required=True, metadata={"description": "Whether anything was recorded"})
    rows = ma.fields.Integer(required=True, metadata={"description": "The rows read, of the three sheets"})
    events = ma.fields.Integer(
        required=True, metadata={"description": "The events recorded (or, dry run, that would be)"}
    )
    identified = ma.fields.List(ma.fields.Nested(ImportedBenefitDocument), required=True)
    changed = ma.fields.List(ma.fields.Nested(ImportedBenefitDocument), required=True)
