"""The Benefit aggregate: one benefit of a collaboration, tracked from identification to
realisation (the 7F framework, the Green Book stages, the three pillars).

A benefit is identified with its category and sub-category (1a-3c, checked against each other),
pillar, direction, measure and unit, baseline and target, owner, optional function and per-force
attribution, business-case stage (0-5) and status. Measurements are events: each is for a
period, with its value, source and measurer; a correction is a new measurement that restates an
earlier one, never an edit.

As in ``domain.exit_case``, each command checks every rule first and only then triggers an
event, so a refused command records nothing. Events carry plain values (str, Decimal, date, int,
list and dict of them); the state keeps lists of facts, each remembering its ``effective_on`` and
the ``version`` of the event that recorded it, and derives the current definition, baseline,
target, stage and status from them, so ``as_of`` only filters lists and derives again.

Rules:

- The sub-category belongs to the category: 1a-1c to 1, 2a-2b to 2, 3a-3c to 3.
- From stage 2 (OBC) on, at identification or on moving to stage 2 or later, the 7F minimum
  standard holds: direction, measure, unit, category and owner, and a baseline and a target
  (a benefit needs them to be measured).
- A "maintain" benefit has a tolerance of zero or more; other directions have none. An
  "increase" benefit's target is at or above its baseline, a "decrease" benefit's at or below
  (equal is the zero-distance case). The baseline's date is before the target's.
- Status only moves forward: identified < planned < validated < realising < handed_to_bau <
  realised; lapsed may follow any status that is not final; realised and lapsed are final. The
  stage never moves back either. Moving back is a recorded ``reopen`` (with its reason), which
  may take the status, the stage or both back. A final benefit refuses stage changes, target
  revisions, rebaselining and redefinition until reopened; it still takes measurements (late
  figures and corrections for periods before it was closed).
- A measurement's period starts on or before it ends, and may not overlap the period of a
  current (not restated) measurement unless it restates that measurement. ``restates`` names a
  current measurement, which the new one replaces; a restatement may itself be restated (a
  chain), but a measurement already restated may not be restated again.
- Values (baseline, target, measurements) are exact decimals below 10^15 either way with at most
  10 decimal places; GBP values have at most 2 and are kept to the penny.
- The unit does not change once there are measurements.

Beyond the design's letter, ``define`` completes or changes the direction, measure, unit,
tolerance and owner after identification (otherwise a benefit identified at stage 0 without them
could never reach stage 2), and ``reopen`` takes an optional earlier ``stage``.

The register's fields (each a recorded fact with its history, read ``as_of`` like the rest):

- ``kind``: a benefit, or a dis-benefit (an outcome a party sees as negative), tracked alike and
  totalled apart; ``reference``: the register's own reference. Both are fixed at identification.
- the definition also holds the class (``cash_releasing``, ``quantitative``; unset, a 1a Money
  saving is cash-releasing and a benefit measured in a unit other than a score is quantitative),
  the ``senior_responsible_owner`` (accountable) beside the benefit ``owner`` (who realises it),
  and the ``measurement_frequency``;
- ``link``: the function that enables it (None: the whole collaboration) and the objective it
  serves; ``assess_confidence``: high, medium or low, with its reason;
- ``set_profile``: the planned value per period (per-period amounts, like measurements), set at
  the benefit's stage then; a later profile is a recorded rebaselining of the trajectory;
- ``override_rag``: a RAG status set by hand over the derived one, with its reason (None clears it).

Realisation (``realisation(on)``, a pure computation over current measurements whose period ends
on or before ``on``):

- Measurements are **per-period amounts** (what was saved in that quarter, the hours in that
  month, the score at that survey). ``cumulative_value`` is their sum.
- **Cumulative vs latest.** A savings benefit (category 1: 1a money, 1b time, 1c cost avoidance)
  whose direction is "increase" is *cumulative*: each measurement is what was saved in its
  period and the target is a total to the target date (7F Procurement: £8.455m over 4 years),
  so realisation compares the CUMULATIVE value with the target. Every other benefit (service and
  compliance measures, and savings that "decrease" or "maintain", which measure a level such as
  a running cost) compares the LATEST value with the target.
  ``Benefit.is_cumulative`` says which; ``Realisation.compared_value`` is the value compared.
- increase: (compared - baseline) / (target - baseline) * 100; decrease: (baseline - compared) /
  (baseline - target) * 100; with zero distance (baseline = target): 100 if the compared value
  meets the target in the stated direction (>= for increase, <= for decrease), else 0.
  maintain: 100 while |compared - baseline| <= tolerance, else 0 (``within_tolerance`` says
  which). Not capped: it may exceed 100 or be negative.
- expected_percent: a straight line from the baseline date (0%) to the target date (100%),
  read at the latest measurement's period end and clamped to 0..100 (None for maintain);
  on_track: realisation_percent >= expected_percent (maintain: within tolerance).
- trend compares the last two current measurements' own (per-period) values in the stated
  direction: "improving", "worsening" or "flat" (maintain: nearer the baseline is improving).
- planned_value: with a profile, what it plans for the latest period end (cumulative: the sum
  of the periods ended by then and a straight-line share of the period under way; otherwise the
  level of the period under way, else of the last one ended, else the baseline), and
  expected_percent is that plan's progress from baseline to target; without one, the straight
  line's value. ``expected_basis`` says which ("profile", "straight_line", "baseline" for maintain).
- variance: compared - planned, signed so that favourable is positive (more than planned for an
  increase, less for a decrease, the other way round for a dis-benefit); variance_percent is it
  as a percentage of the planned value. RAG: a shortfall of at most 5% (``RAG_AMBER_BEYOND``) of
  the planned value is green, at most 15% (``RAG_RED_BEYOND``) amber, more red (nothing planned:
  green unless short); maintain: green within tolerance, amber within twice it, else red. An
  override in effect shows instead (``rag``), the derived status kept (``rag_derived``). A
  dis-benefit is on track when its realisation percent is at or below the expected one.
- Percentages are rounded half-up to 2 decimal places; on_track and RAG judge the rounded
  figures, so they agree with what is shown. Without measurements every figure is None (count 0); without
  a direction, baseline or target the percentages and on_track are None.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Any, TypedDict
from uuid import UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import (
    BenefitFinal,
    FactBeforeBenefit,
    InvalidBaselineOrTarget,
    InvalidBenefitCategory,
    InvalidBenefitClass,
    InvalidBenefitDirection,
    InvalidBenefitKind,
    InvalidBenefitStatus,
    InvalidBenefitValue,
    InvalidConfidence,
    InvalidMeasurementFrequency,
    InvalidMeasurementPeriod,
    InvalidPillar,
    InvalidProfile,
    InvalidRag,
    InvalidReopening,
    InvalidStage,
    InvalidTolerance,
    InvalidUnit,
    MeasurementAlreadyRestated,
    MeasurementBeforePeriodEnd,
    MinimumStandardNotMet,
    NothingChanged,
    OverlappingMeasurement,
    PartyNotInCollaboration,
    StageMoveOutOfOrder,
    StatusMovedBackwards,
    SubCategoryMismatch,
    UnitFixedByMeasurements,
    UnknownMeasurement,
)
from domain.forces import check_force_code
from domain.values import (
    MAX_AMOUNT,
    NAME_LENGTH,
    PENNY,
    REFERENCE_LENGTH,
    SHARE_PLACES,
    Immutable,
    Provenance,
    copy_sharing_entries,
    optional_text,
    required_text,
    shares_summing_to_one,
)

CATEGORIES = {"1": "Savings", "2": "Service", "3": "Compliance"}
SUB_CATEGORIES = {
    "1a": "Money",
    "1b": "Time",
    "1c": "Cost avoidance",
    "2a": "Internal",
    "2b": "External",
    "3a": "Legal",
    "3b": "HMICFRS/APP recommendations",
    "3c": "Local policy",
}
PILLARS = ("people", "cost", "service")
DIRECTIONS = ("increase", "decrease", "maintain")
UNITS = ("GBP", "hours", "percent", "count", "score")
MONEY_UNIT = "GBP"  # the only unit summed as £
SAVINGS = "1"  # the category whose increases are counted cumulatively
# The 7F framework: 1a is measured in £ of revenue budget, 1b in operational hours, 1c in £ avoided.
SAVINGS_UNITS = {"1a": MONEY_UNIT, "1b": "hours", "1c": MONEY_UNIT}
# The money totals a realised value adds to (``money_total_of``): cash saved (1a Money
# savings) and cost avoided (1c), each summed apart. Other benefits are counted, never summed
# into money.
CASH_SAVINGS, COST_AVOIDED = "cash_savings", "cost_avoided"
MONEY_TOTALS = {"1a": CASH_SAVINGS, "1c": COST_AVOIDED}
STAGES = {0: "Strategic Assessment", 1: "SOC", 2: "OBC", 3: "FBC", 4: "Implementation", 5: "Evaluation"}
STATUSES = ("identified", "planned", "validated", "realising", "handed_to_bau", "realised", "lapsed")
FINAL_STATUSES = ("realised", "lapsed")
MINIMUM_STANDARD_STAGE = 2  # OBC
# The register's entries: a benefit, or a dis-benefit (an outcome one party sees as negative,
# tracked like a benefit and totalled apart, never offset against the benefits silently).
BENEFIT, DIS_BENEFIT = "benefit", "dis_benefit"
KINDS = (BENEFIT, DIS_BENEFIT)
# How often a benefit is measured, in months; unset, a benefit is expected to be measured at
# least annually. A reading is stale once the next one is overdue: its period ended more than one
# interval plus REPORTING_GRACE_DAYS before the day read.
FREQUENCY_MONTHS = {"monthly": 1, "quarterly": 3, "six_monthly": 6, "annually": 12}
DEFAULT_FREQUENCY = "annually"
REPORTING_GRACE_DAYS = 30
CONFIDENCE_LEVELS = ("high", "medium", "low")
RAGS = ("red", "amber", "green")
# The register's fields a definition holds beside how the benefit is measured (None until set).
REGISTER_DEFINITION_FIELDS = ("senior_responsible_owner", "cash_releasing", "quantitative", "measurement_frequency")
# RAG from the variance against plan: a shortfall (the unfavourable variance) of at most
# RAG_AMBER_BEYOND percent of the planned value is green, at most RAG_RED_BEYOND percent amber,
# more red. A "maintain" benefit is green within its tolerance, amber within twice it, else red.
RAG_AMBER_BEYOND = Decimal(5)
RAG_RED_BEYOND = Decimal(15)

# Forward order of statuses; "lapsed" may follow any status that is not final.
_RANK = {status: rank for rank, status in enumerate(STATUSES[:-1])}
HUNDRED = Decimal(100)
PERCENT_PLACES = Decimal("0.01")
ZERO = Decimal(0)


# A benefit with a register reference has the id this namespace makes of its collaboration and
# reference, so a reference names one benefit of a collaboration: a second benefit with it would
# be the same aggregate, which the store refuses (service.errors.BenefitReferenceTaken).
BENEFIT_REFERENCE_NAMESPACE = UUID("8b2f5a04-9d4c-4c53-a1b7-6f0c3e2d9a17")


def benefit_id_for(collaboration_id: str | UUID, reference: str | None) -> UUID:
    """The id of a new benefit: made from its collaboration and reference when it has one, else new."""
    if reference is None:
        return uuid4()
    return uuid5(BENEFIT_REFERENCE_NAMESPACE, f"{collaboration_id}/{reference}")


def sub_category_belongs(category: str, sub_category: str) -> bool:
    """Whether ``sub_category`` (e.g. "1a") is one of ``category``'s (e.g. "1")."""
    return sub_category in SUB_CATEGORIES and sub_category[:-1] == category


# State held by the aggregate: frozen entries remembering when they took effect and the version of
# the event that recorded them.
@dataclass(frozen=True)
class Measurement(Immutable):
    """One measurement for a period. Whether it is current (not restated) is derived from the
    set of restated ids (``Benefit.restated_by``), never held here."""

    measurement_id: str
    period_start: date
    period_end: date
    value: Decimal
    source: str
    measurer: str
    restates: str | None
    effective_on: date
    version: int


@dataclass(frozen=True)
class Level(Immutable):
    """A baseline or a target: a value on a date."""

    value: Decimal
    on: date
    effective_on: date
    version: int


@dataclass(frozen=True)
class StageEntry(Immutable):
    """The stage and status set by identification, a stage change or a reopening."""

    stage: int
    status: str
    reopened: bool
    effective_on: date
    version: int


@dataclass(frozen=True)
class Definition(Immutable):
    """How the benefit is measured, its class and who answers for it, as set at identification
    or by ``define``: the benefit ``owner`` (who realises it) and the senior responsible owner
    (accountable for it) are distinct roles. ``cash_releasing`` and ``quantitative`` are None
    until classified (``Benefit.is_cash_releasing`` then follows the sub-category)."""

    direction: str | None
    measure: str | None
    unit: str | None
    tolerance: Decimal | None
    owner: str | None
    effective_on: date
    version: int
    senior_responsible_owner: str | None = None
    cash_releasing: bool | None = None
    quantitative: bool | None = None
    measurement_frequency: str | None = None


@dataclass(frozen=True)
class Link(Immutable):
    """What enables the benefit (a function of the collaboration; None: the whole collaboration)
    and the objective it serves."""

    function_id: str | None
    objective: str | None
    effective_on: date
    version: int


@dataclass(frozen=True)
class ConfidenceEntry(Immutable):
    """How confident the owner is that the benefit will be realised, and why."""

    confidence: str
    reason: str
    effective_on: date
    version: int


@dataclass(frozen=True)
class ProfilePeriod(Immutable):
    """The value planned for one period: per period like a measurement (the amount to save in
    it, or the level to reach)."""

    period_start: date
    period_end: date
    value: Decimal


@dataclass(frozen=True)
class Profile(Immutable):
    """A benefit profile: the planned value per period, set at a business-case stage; a later
    profile is a recorded rebaselining of the trajectory."""

    periods: list[ProfilePeriod]
    stage: int
    reason: str
    effective_on: date
    version: int


@dataclass(frozen=True)
class RagOverride(Immutable):
    """A RAG status set by hand over the derived one (None: the override is cleared), with its reason."""

    rag: str | None
    reason: str
    effective_on: date
    version: int


class ProfilePeriodFields(TypedDict):
    """A profile period as events carry it."""

    period_start: date
    period_end: date
    value: Decimal


@dataclass(frozen=True)
class Realisation(Immutable):
    """How a benefit is doing on a day (see the module's docstring). Decimal or None throughout;
    percentages to 2 decimal places."""

    latest_value: Decimal | None
    latest_period_end: date | None
    realisation_percent: Decimal | None
    expected_percent: Decimal | None
    on_track: bool | None
    within_tolerance: bool | None
    trend: str | None
    cumulative_value: Decimal | None
    measurements_count: int
    compared_value: Decimal | None = None
    planned_value: Decimal | None = None
    expected_basis: str | None = None
    variance: Decimal | None = None
    variance_percent: Decimal | None = None
    rag_derived: str | None = None
    rag: str | None = None
    rag_overridden: bool = False

    def as_dict(self) -> dict[str, object]:
        """Decimals and dates as strings, booleans and the count as they are, None as None."""

        def text(value: object) -> str | None:
            if value is None:
                return None
            if isinstance(value, Decimal):
                return format(value, "f")
            return str(value)

        return {
            "latest_value": text(self.latest_value),
            "latest_period_end": text(self.latest_period_end),
            "realisation_percent": text(self.realisation_percent),
            "expected_percent": text(self.expected_percent),
            "on_track": self.on_track,
            "within_tolerance": self.within_tolerance,
            "trend": self.trend,
            "cumulative_value": text(self.cumulative_value),
            "measurements_count": self.measurements_count,
            "compared_value": text(self.compared_value),
            "planned_value": text(self.planned_value),
            "expected_basis": self.expected_basis,
            "variance": text(self.variance),
            "variance_percent": text(self.variance_percent),
            "rag_derived": self.rag_derived,
            "rag": self.rag,
            "rag_overridden": self.rag_overridden,
        }


NO_REALISATION = Realisation(None, None, None, None, None, None, None, None, 0, None)


def _percent(value: Decimal) -> Decimal:
    return value.quantize(PERCENT_PLACES, rounding=ROUND_HALF_UP)


def parse_value(value: object, field_name: str, unit: str | None) -> Decimal:
    """A baseline, target, tolerance or measured value: an exact finite decimal below 10^15 either
    way, with at most 10 decimal places, or 2 for GBP (kept to the penny)."""
    if isinstance(value, float):
        raise InvalidBenefitValue(
            f"{field_name} must be given as an exact decimal string, not a float", field=field_name
        )
    if isinstance(value, bool) or value is None:
        raise InvalidBenefitValue(f"{field_name} must be a decimal, not {value!r}", field=field_name)
    try:
        result = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise InvalidBenefitValue(
            f"{field_name} is not a decimal number: {str(value)[:40]!r}", field=field_name
        ) from None
    if not result.is_finite():
        raise InvalidBenefitValue(f"{field_name} must be a finite decimal: {value!r}", field=field_name)
    places = 2 if unit == MONEY_UNIT else SHARE_PLACES
    if result.as_tuple().exponent < -places:  # type: ignore[operator]
        raise InvalidBenefitValue(
            f"{field_name} has more than {places} decimal places: {str(value)[:40]}", field=field_name
        )
    if result.copy_abs() >= MAX_AMOUNT:
        raise InvalidBenefitValue(f"{field_name} must be less than 10^15 either way", field=field_name)
    if unit == MONEY_UNIT:
        result = result.quantize(PENNY)
    elif result.as_tuple().exponent > 0:  # type: ignore[operator]
        result = result.quantize(Decimal(1))  # "1E+3" is written 1000
    return result.copy_abs() if result.is_zero() else result  # "-0" is plain zero


def _parse_stage(stage: object) -> int:
    if isinstance(stage, bool) or not isinstance(stage, int) or stage not in STAGES:
        raise InvalidStage(
            "stage must be a whole number from 0 (Strategic Assessment) to 5 (Evaluation)", field="stage"
        )
    return stage


def _parse_status(status: object, field_name: str = "status") -> str:
    if status not in STATUSES:
        raise InvalidBenefitStatus(f"status must be one of {', '.join(STATUSES)}", field=field_name)
    return status  # type: ignore[return-value]


def _parse_level(level: object, field_name: str, unit: str | None) -> tuple[Decimal, date] | None:
    if level is None:
        return None
    if not isinstance(level, dict) or "value" not in level or "on" not in level:
        raise InvalidBaselineOrTarget(f"{field_name} has a value and a date ('on')", field=field_name)
    on = level["on"]
    if not isinstance(on, date):
        raise InvalidBaselineOrTarget(f"{field_name}.on must be a date", field=f"{field_name}.on")
    return parse_value(level["value"], f"{field_name}.value", unit), on


def _check_levels(
    direction: str | None,
    baseline: tuple[Decimal, date] | None,
    target: tuple[Decimal, date] | None,
    field_name: str,
) -> None:
    if baseline is None or target is None:
        return
    if not baseline[1] < target[1]:
        raise InvalidBaselineOrTarget(
            f"the baseline's date ({baseline[1]}) is before the target's ({target[1]})", field=field_name
        )
    if direction == "increase" and target[0] < baseline[0]:
        raise InvalidBaselineOrTarget("an increase benefit's target is at or above its baseline", field=field_name)
    if direction == "decrease" and target[0] > baseline[0]:
        raise InvalidBaselineOrTarget("a decrease benefit's target is at or below its baseline", field=field_name)


def _check_tolerance(direction: str | None, tolerance: Decimal | None) -> None:
    if direction == "maintain":
        if tolerance is None:
            raise InvalidTolerance("a maintain benefit has a tolerance", field="tolerance")
        if tolerance < 0:
            raise InvalidTolerance("a tolerance is zero or more", field="tolerance")
    elif tolerance is not None:
        raise InvalidTolerance("only a maintain benefit has a tolerance", field="tolerance")


def _check_minimum_standard(
    stage: int,
    *,
    direction: str | None,
    measure: str | None,
    unit: str | None,
    category: str | None,
    owner: str | None,
    baseline: object,
    target: object,
) -> None:
    """The 7F minimum standard, from stage 2 (OBC) on."""
    if stage < MINIMUM_STANDARD_STAGE:
        return
    required = {
        "direction": direction,
        "measure": measure,
        "unit": unit,
        "category": category,
        "owner": owner,
        "baseline": baseline,
        "target": target,
    }
    missing = [name for name, value in required.items() if value is None]
    if missing:
        raise MinimumStandardNotMet(
            f"from stage 2 (OBC) on a benefit has a {', '.join(missing)} (the 7F minimum standard)",
            field=missing[0],
        )


def _check_class(cash_releasing: object, quantitative: object) -> None:
    for name, flag in (("cash_releasing", cash_releasing), ("quantitative", quantitative)):
        if flag is not None and not isinstance(flag, bool):
            raise InvalidBenefitClass(f"{name} is true, false or unset, not {flag!r}", field=name)


def _check_frequency(frequency: object) -> None:
    if frequency is not None and frequency not in FREQUENCY_MONTHS:
        raise InvalidMeasurementFrequency(
            f"measurement_frequency must be one of {', '.join(FREQUENCY_MONTHS)}", field="measurement_frequency"
        )


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (the month's last day where it is shorter)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    if year > date.max.year:
        return date.max
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    last = (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]
    return date(year, month, min(day.day, last))


def _in_effect(entries: list[Any]) -> Any:
    """The entry latest in effect: the latest effective date, then the last recorded."""
    return max(entries, key=lambda entry: (entry.effective_on, entry.version))


def _overlaps(start: date, end: date, other: Measurement) -> bool:
    return start <= other.period_end and other.period_start <= end


class Benefit(Aggregate):
    """One benefit (or dis-benefit) of a collaboration, its measurements and its progress
    through the stages.

    Version 2 of the state adds the register's fields: the kind, the register's own reference,
    the links (enabling function and objective), confidence, profiles and RAG overrides. A
    version 1 snapshot is upcast with none of them but the link its function made."""

    class_version = 2

    # State containers holding only Immutable entries, shared by copies (see ExitCase).
    SHARED_ENTRIES = (
        "measurements",
        "definitions",
        "baselines",
        "targets",
        "stages",
        "links",
        "confidences",
        "profiles",
        "rag_overrides",
    )

    @staticmethod
    def upcast_v1_v2(state: dict) -> None:
        state["kind"] = BENEFIT
        state["reference"] = None
        state["links"] = [Link(state["function_id"], None, state["identified_on"], 1)]
        state["objective"] = None
        state["confidences"] = []
        state["profiles"] = []
        state["rag_overrides"] = []
        for name in REGISTER_DEFINITION_FIELDS:
            state[name] = None
        state["confidence"] = state["profile"] = state["rag_override"] = None

    def __deepcopy__(self, memo: dict[int, object]) -> Benefit:
        return copy_sharing_entries(self, memo, self.SHARED_ENTRIES)

    class Event(Aggregate.Event):
        """Every event after identification names the benefit's collaboration too."""

        collaboration_id: str
        effective_on: date
        actor: str
        reason: str
        evidence: str | None
        approval_ref: str | None

    def trigger_event(self, event_class: Any, **kwargs: Any) -> None:  # type: ignore[override]
        self.check_dated_after_identification(kwargs["effective_on"])
        super().trigger_event(event_class, collaboration_id=self.collaboration_id, **kwargs)

    def check_dated_after_identification(self, day: date) -> None:
        """Every fact of the benefit takes effect on or after the day it was identified."""
        if day < self.identified_on:
            raise FactBeforeBenefit(
                f"effective_on {day} is before the benefit was identified on {self.identified_on}",
                field="effective_on",
            )

    class Identified(Aggregate.Created):
        """Version 2 adds the register's fields: ``kind``, ``reference``, ``objective``,
        ``senior_responsible_owner``, ``cash_releasing``, ``quantitative`` and
        ``measurement_frequency`` (a version 1 benefit is a benefit without them)."""

        class_version = 2

        collaboration_id: str
        title: str
        category: str
        sub_category: str
        pillar: str
        direction: str | None
        measure: str | None
        unit: str | None
        tolerance: Decimal | None
        baseline_value: Decimal | None
        baseline_on: date | None
        target_value: Decimal | None
        target_on: date | None
        owner: str | None
        function_id: str | None
        attribution: dict[str, Decimal]
        parties: list[str]
        stage: int
        status: str
        effective_on: date
        actor: str
        reason: str
        evidence: str | None
        approval_ref: str | None
        kind: str
        reference: str | None
        objective: str | None
        senior_responsible_owner: str | None
        cash_releasing: bool | None
        quantitative: bool | None
        measurement_frequency: str | None

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state["kind"] = BENEFIT
            for name in ("reference", "objective", *REGISTER_DEFINITION_FIELDS):
                state[name] = None

    def __init__(
        self,
        collaboration_id: str,
        title: str,
        category: str,
        sub_category: str,
        pillar: str,
        direction: str | None,
        measure: str | None,
        unit: str | None,
        tolerance: Decimal | None,
        baseline_value: Decimal | None,
        baseline_on: date | None,
        target_value: Decimal | None,
        target_on: date | None,
        owner: str | None,
        function_id: str | None,
        attribution: dict[str, Decimal],
        parties: list[str],
        stage: int,
        status: str,
        effective_on: date,
        actor: str,
        reason: str,
        evidence: str | None,
        approval_ref: str | None,
        kind: str,
        reference: str | None,
        objective: str | None,
        senior_responsible_owner: str | None,
        cash_releasing: bool | None,
        quantitative: bool | None,
        measurement_frequency: str | None,
    ):
        self.collaboration_id = collaboration_id
        self.title = title
        self.category = category
        self.sub_category = sub_category
        self.pillar = pillar
        self.kind = kind
        self.reference = reference
        self.attribution: dict[str, Decimal] = dict(attribution)
        self.parties: list[str] = list(parties)
        self.identified_on = effective_on
        version = 1
        self.definitions: list[Definition] = [
            Definition(
                direction,
                measure,
                unit,
                tolerance,
                owner,
                effective_on,
                version,
                senior_responsible_owner,
                cash_releasing,
                quantitative,
                measurement_frequency,
            )
        ]
        self.links: list[Link] = [Link(function_id, objective, effective_on, version)]
        self.confidences: list[ConfidenceEntry] = []
        self.profiles: list[Profile] = []
        self.rag_overrides: list[RagOverride] = []
        self.baselines: list[Level] = []
        if baseline_value is not None and baseline_on is not None:
            self.baselines.append(Level(baseline_value, baseline_on, effective_on, version))
        self.targets: list[Level] = []
        if target_value is not None and target_on is not None:
            self.targets.append(Level(target_value, target_on, effective_on, version))
        self.stages: list[StageEntry] = [StageEntry(stage, status, False, effective_on, version)]
        self.measurements: list[Measurement] = []
        self.restated_by: dict[str, str] = {}
        self._derive()

    # ----------------------------------------------------------------- commands
    @classmethod
    def identify(
        cls,
        *,
        collaboration_id: str | UUID,
        title: str,
        category: str,
        sub_category: str,
        pillar: str,
        direction: str | None = None,
        measure: str | None = None,
        unit: str | None = None,
        tolerance: object = None,
        baseline: dict | None = None,
        target: dict | None = None,
        owner: str | None = None,
        function_id: str | UUID | None = None,
        attribution: dict[str, object] | None = None,
        stage: int = 0,
        status: str = "identified",
        kind: str = BENEFIT,
        reference: str | None = None,
        objective: str | None = None,
        senior_responsible_owner: str | None = None,
        cash_releasing: bool | None = None,
        quantitative: bool | None = None,
        measurement_frequency: str | None = None,
        parties: list[str],
        provenance: Provenance,
    ) -> Benefit:
        """Identifies a benefit (or, with ``kind`` "dis_benefit", a dis-benefit) of the
        collaboration whose ``parties`` are given (the caller checks the collaboration and its
        function). ``baseline`` and ``target`` are {"value", "on"}; ``reference`` is the
        register's own reference for it (e.g. "B-014")."""
        if kind not in KINDS:
            raise InvalidBenefitKind(f"kind must be one of {', '.join(KINDS)}", field="kind")
        reference = optional_text(reference, "reference", max_length=REFERENCE_LENGTH)
        objective = optional_text(objective, "objective", max_length=NAME_LENGTH)
        senior_responsible_owner = optional_text(
            senior_responsible_owner, "senior_responsible_owner", max_length=REFERENCE_LENGTH
        )
        _check_class(cash_releasing, quantitative)
        _check_frequency(measurement_frequency)
        collaboration_id = required_text(str(collaboration_id), "collaboration_id", max_length=REFERENCE_LENGTH)
        title = required_text(title, "title", max_length=NAME_LENGTH)
        cls.check_category(category, sub_category)
        if pillar not in PILLARS:
            raise InvalidPillar(f"pillar must be one of {', '.join(PILLARS)}", field="pillar")
        cls.check_direction(direction)
        measure = optional_text(measure, "measure", max_length=NAME_LENGTH)
        cls.check_unit(unit, sub_category)
        parsed_tolerance = None if tolerance is None else parse_value(tolerance, "tolerance", unit)
        _check_tolerance(direction, parsed_tolerance)
        parsed_baseline = _parse_level(baseline, "baseline", unit)
        parsed_target = _parse_level(target, "target", unit)
        _check_levels(direction, parsed_baseline, parsed_target, "target")
        owner = optional_text(owner, "owner", max_length=REFERENCE_LENGTH)
        function_id = optional_text(
            None if function_id is None else str(function_id), "function_id", max_length=REFERENCE_LENGTH
        )
        parties = cls.parsed_parties(parties)
        parsed_attribution = cls.parsed_attribution(attribution, parties)
        stage = _parse_stage(stage)
        status = _parse_status(status)
        _check_minimum_standard(
            stage,
            direction=direction,
            measure=measure,
            unit=unit,
            category=category,
            owner=owner,
            baseline=parsed_baseline,
            target=parsed_target,
        )
        return cls._create(
            cls.Identified,
            id=benefit_id_for(collaboration_id, reference),
            collaboration_id=collaboration_id,
            title=title,
            category=category,
            sub_category=sub_category,
            pillar=pillar,
            direction=direction,
            measure=measure,
            unit=unit,
            tolerance=parsed_tolerance,
            baseline_value=None if parsed_baseline is None else parsed_baseline[0],
            baseline_on=None if parsed_baseline is None else parsed_baseline[1],
            target_value=None if parsed_target is None else parsed_target[0],
            target_on=None if parsed_target is None else parsed_target[1],
            owner=owner,
            function_id=function_id,
            attribution=parsed_attribution,
            parties=parties,
            stage=stage,
            status=status,
            kind=kind,
            reference=reference,
            objective=objective,
            senior_responsible_owner=senior_responsible_owner,
            cash_releasing=cash_releasing,
            quantitative=quantitative,
            measurement_frequency=measurement_frequency,
            **provenance.as_event_fields(),
        )

    class MeasurementRecorded(Event):
        measurement_id: str
        period_start: date
        period_end: date
        value: Decimal
        source: str
        measurer: str
        restates: str | None

        def apply(self, benefit: Benefit) -> None:
            benefit.measurements.append(
                Measurement(
                    measurement_id=self.measurement_id,
                    period_start=self.period_start,
                    period_end=self.period_end,
                    value=self.value,
                    source=self.source,
                    measurer=self.measurer,
                    restates=self.restates,
                    effective_on=self.effective_on,
                    version=self.originator_version,
                )
            )
            if self.restates is not None:
                benefit.restated_by[self.restates] = self.measurement_id

    def record_measurement(
        self,
        *,
        period_start: date,
        period_end: date,
        value: object,
        source: str,
        measurer: str,
        restates: str | None = None,
        provenance: Provenance,
    ) -> str:
        """Records a measurement for the period; answers its id. With ``restates``, it replaces that
        current measurement (a correction: nothing is edited)."""
        if not isinstance(period_start, date) or not isinstance(period_end, date):
            raise InvalidMeasurementPeriod("a measurement's period has a start and an end date", field="period_start")
        if period_start > period_end:
            raise InvalidMeasurementPeriod(
                f"a measurement's period starts ({period_start}) on or before it ends ({period_end})",
                field="period_end",
            )
        if provenance.effective_on < period_end:
            raise MeasurementBeforePeriodEnd(
                f"a measurement of a period ending {period_end} takes effect once it has ended, not on "
                f"{provenance.effective_on}",
                field="effective_on",
            )
        parsed_value = parse_value(value, "value", self.unit)
        source = required_text(source, "source", max_length=REFERENCE_LENGTH)
        measurer = required_text(measurer, "measurer", max_length=REFERENCE_LENGTH)
        if restates is not None:
            self.check_can_restate(restates)
        for other in self.current_measurements():
            if other.measurement_id != restates and _overlaps(period_start, period_end, other):
                raise OverlappingMeasurement(
                    f"the period {period_start} to {period_end} overlaps measurement {other.measurement_id} "
                    f"({other.period_start} to {other.period_end}); restate it instead",
                    field="period_start",
                )
        measurement_id = str(uuid4())
        self.trigger_event(
            self.MeasurementRecorded,
            measurement_id=measurement_id,
            period_start=period_start,
            period_end=period_end,
            value=parsed_value,
            source=source,
            measurer=measurer,
            restates=restates,
            **provenance.as_event_fields(),
        )
        return measurement_id

    class StageChanged(Event):
        stage: int
        status: str

        def apply(self, benefit: Benefit) -> None:
            benefit.stages.append(
                StageEntry(self.stage, self.status, False, self.effective_on, self.originator_version)
            )
            benefit._derive()

    def check_stage_dated_in_order(self, provenance: Provenance) -> None:
        """A stage or status move takes effect on or after the one in effect: forward and back
        moves are checked against the current stage, so one dated earlier would run the
        benefit's timeline backwards. (Baselines and targets may be corrected back-dated.)"""
        current = _in_effect(self.stages)
        if provenance.effective_on < current.effective_on:
            raise StageMoveOutOfOrder(
                f"the benefit's stage and status in effect date from {current.effective_on}; a move takes "
                f"effect on or after it, not on {provenance.effective_on}",
                field="effective_on",
            )

    def change_stage(self, *, stage: int, status: str | None = None, provenance: Provenance) -> None:
        """Moves the benefit forward to ``stage`` and, if given, ``status`` (lapsed may follow any
        status that is not final). Moving back is ``reopen``."""
        self.check_not_final()
        self.check_stage_dated_in_order(provenance)
        stage = _parse_stage(stage)
        status = self.status if status is None else _parse_status(status)
        if stage < self.stage:
            raise StatusMovedBackwards(
                f"the stage moves forward only, not from {self.stage} back to {stage}; reopen the benefit instead",
                field="stage",
            )
        if status != self.status and status != "lapsed" and _RANK[status] < _RANK[self.status]:
            raise StatusMovedBackwards(
                f"the status moves forward only, not from {self.status} back to {status}; reopen the benefit instead",
                field="status",
            )
        if stage == self.stage and status == self.status:
            raise NothingChanged(f"the benefit is already at stage {stage} and {status}", field="stage")
        self.check_minimum_standard(stage)
        self.trigger_event(self.StageChanged, stage=stage, status=status, **provenance.as_event_fields())

    class Reopened(Event):
        status: str
        stage: int

        def apply(self, benefit: Benefit) -> None:
            benefit.stages.append(StageEntry(self.stage, self.status, True, self.effective_on, self.originator_version))
            benefit._derive()

    def reopen(self, *, status: str, stage: int | None = None, provenance: Provenance) -> None:
        """Moves the benefit back to an earlier status that is not final (any such status from
        realised or lapsed), and optionally back to an earlier ``stage``: a recorded backward move."""
        self.check_stage_dated_in_order(provenance)
        status = _parse_status(status)
        stage = self.stage if stage is None else _parse_stage(stage)
        if status in FINAL_STATUSES:
            raise InvalidReopening(f"a benefit is reopened to a status that is not final, not {status}", field="status")
        if stage > self.stage:
            raise InvalidReopening(
                f"a reopening moves the stage back, not forward from {self.stage} to {stage}", field="stage"
            )
        if self.status not in FINAL_STATUSES:
            if _RANK[status] > _RANK[self.status]:
                raise InvalidReopening(
                    f"a reopening moves the status back, not forward from {self.status} to {status}", field="status"
                )
            if status == self.status and stage == self.stage:
                raise InvalidReopening(
                    f"a reopening moves the status or the stage back; the benefit is already {status} at stage {stage}",
                    field="status",
                )
        self.trigger_event(self.Reopened, status=status, stage=stage, **provenance.as_event_fields())

    class TargetRevised(Event):
        target_value: Decimal
        target_on: date

        def apply(self, benefit: Benefit) -> None:
            benefit.targets.append(Level(self.target_value, self.target_on, self.effective_on, self.originator_version))
            benefit._derive()

    def revise_target(self, *, value: object, on: date, provenance: Provenance) -> None:
        """Sets a new target (value and date), with its reason; the earlier one stays on record."""
        self.check_not_final()
        target = _parse_level({"value": value, "on": on}, "target", self.unit)
        assert target is not None
        _check_levels(self.direction, self.baseline, target, "target")
        if (self.target_value, self.target_on) == target:
            raise NothingChanged("the target is already that value on that date", field="target")
        self.trigger_event(
            self.TargetRevised, target_value=target[0], target_on=target[1], **provenance.as_event_fields()
        )

    class Rebaselined(Event):
        baseline_value: Decimal
        baseline_on: date

        def apply(self, benefit: Benefit) -> None:
            benefit.baselines.append(
                Level(self.baseline_value, self.baseline_on, self.effective_on, self.originator_version)
            )
            benefit._derive()

    def rebaseline(self, *, value: object, on: date, provenance: Provenance) -> None:
        """Sets a new baseline (value and date), with its reason; the earlier one stays on record."""
        self.check_not_final()
        baseline = _parse_level({"value": value, "on": on}, "baseline", self.unit)
        assert baseline is not None
        _check_levels(self.direction, baseline, self.target, "baseline")
        if (self.baseline_value, self.baseline_on) == baseline:
            raise NothingChanged("the baseline is already that value on that date", field="baseline")
        self.trigger_event(
            self.Rebaselined, baseline_value=baseline[0], baseline_on=baseline[1], **provenance.as_event_fields()
        )

    class Defined(Event):
        """Version 2 adds the senior responsible owner, the class and the measurement
        frequency (none of which a version 1 definition had)."""

        class_version = 2

        direction: str | None
        measure: str | None
        unit: str | None
        tolerance: Decimal | None
        owner: str | None
        senior_responsible_owner: str | None
        cash_releasing: bool | None
        quantitative: bool | None
        measurement_frequency: str | None

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            for name in REGISTER_DEFINITION_FIELDS:
                state[name] = None

        def apply(self, benefit: Benefit) -> None:
            benefit.definitions.append(
                Definition(
                    self.direction,
                    self.measure,
                    self.unit,
                    self.tolerance,
                    self.owner,
                    self.effective_on,
                    self.originator_version,
                    self.senior_responsible_owner,
                    self.cash_releasing,
                    self.quantitative,
                    self.measurement_frequency,
                )
            )
            benefit._derive()

    def define(
        self,
        *,
        direction: str | None = None,
        measure: str | None = None,
        unit: str | None = None,
        tolerance: object = None,
        owner: str | None = None,
        senior_responsible_owner: str | None = None,
        cash_releasing: bool | None = None,
        quantitative: bool | None = None,
        measurement_frequency: str | None = None,
        provenance: Provenance,
    ) -> None:
        """Completes or changes how the benefit is measured, its class and who answers for it;
        what is not given is kept (a tolerance is dropped when the direction stops being
        maintain). The event records the whole resulting definition."""
        self.check_not_final()
        direction = self.direction if direction is None else direction
        self.check_direction(direction)
        measure = self.measure if measure is None else optional_text(measure, "measure", max_length=NAME_LENGTH)
        unit = self.unit if unit is None else unit
        self.check_unit(unit, self.sub_category)
        if self.unit is not None and unit != self.unit and self.measurements:
            raise UnitFixedByMeasurements(f"the unit stays {self.unit} once the benefit has measurements", field="unit")
        for measurement in self.measurements:  # a first unit must fit what was measured before it
            parse_value(measurement.value, "unit", unit)
        if tolerance is not None:
            parsed_tolerance: Decimal | None = parse_value(tolerance, "tolerance", unit)
        else:
            parsed_tolerance = self.tolerance if direction == "maintain" else None
        _check_tolerance(direction, parsed_tolerance)
        if unit != self.unit:  # the baseline and target must fit the new unit (GBP: to the penny)
            if self.baseline is not None:
                parse_value(self.baseline[0], "baseline.value", unit)
            if self.target is not None:
                parse_value(self.target[0], "target.value", unit)
        _check_levels(direction, self.baseline, self.target, "direction")
        owner = self.owner if owner is None else optional_text(owner, "owner", max_length=REFERENCE_LENGTH)
        senior_responsible_owner = (
            self.senior_responsible_owner
            if senior_responsible_owner is None
            else optional_text(senior_responsible_owner, "senior_responsible_owner", max_length=REFERENCE_LENGTH)
        )
        _check_class(cash_releasing, quantitative)
        cash_releasing = self.cash_releasing if cash_releasing is None else cash_releasing
        quantitative = self.quantitative if quantitative is None else quantitative
        _check_frequency(measurement_frequency)
        measurement_frequency = measurement_frequency or self.measurement_frequency
        definition = (
            direction,
            measure,
            unit,
            parsed_tolerance,
            owner,
            senior_responsible_owner,
            cash_releasing,
            quantitative,
            measurement_frequency,
        )
        current = (
            self.direction,
            self.measure,
            self.unit,
            self.tolerance,
            self.owner,
            self.senior_responsible_owner,
            self.cash_releasing,
            self.quantitative,
            self.measurement_frequency,
        )
        if definition == current:
            raise NothingChanged("the benefit is already defined so", field="direction")
        _check_minimum_standard(
            self.stage,
            direction=direction,
            measure=measure,
            unit=unit,
            category=self.category,
            owner=owner,
            baseline=self.baseline,
            target=self.target,
        )
        self.trigger_event(
            self.Defined,
            direction=direction,
            measure=measure,
            unit=unit,
            tolerance=parsed_tolerance,
            owner=owner,
            senior_responsible_owner=senior_responsible_owner,
            cash_releasing=cash_releasing,
            quantitative=quantitative,
            measurement_frequency=measurement_frequency,
            **provenance.as_event_fields(),
        )

    class Linked(Event):
        """What enables the benefit and the objective it serves, changed."""

        function_id: str | None
        objective: str | None

        def apply(self, benefit: Benefit) -> None:
            benefit.links.append(Link(self.function_id, self.objective, self.effective_on, self.originator_version))
            benefit._derive()

    def link(self, *, function_id: str | UUID | None, objective: str | None, provenance: Provenance) -> None:
        """Sets what enables the benefit (a function; None: the whole collaboration) and the
        objective it serves (None: none named), both as given. The caller checks the function is
        the collaboration's."""
        function_id = optional_text(
            None if function_id is None else str(function_id), "function_id", max_length=REFERENCE_LENGTH
        )
        objective = optional_text(objective, "objective", max_length=NAME_LENGTH)
        if (function_id, objective) == (self.function_id, self.objective):
            raise NothingChanged("the benefit is already linked so", field="function_id")
        self.trigger_event(self.Linked, function_id=function_id, objective=objective, **provenance.as_event_fields())

    class ConfidenceAssessed(Event):
        """How confident the benefit's owner is that it will be realised (high, medium or low);
        the event's reason says why."""

        confidence: str

        def apply(self, benefit: Benefit) -> None:
            benefit.confidences.append(
                ConfidenceEntry(self.confidence, self.reason, self.effective_on, self.originator_version)
            )
            benefit._derive()

    def assess_confidence(self, *, confidence: str, provenance: Provenance) -> None:
        """Records how confident the benefit's owner is that it will be realised (high, medium or
        low); the provenance's reason says why. The same level again with a new reason is a new
        assessment."""
        if confidence not in CONFIDENCE_LEVELS:
            raise InvalidConfidence(f"confidence must be one of {', '.join(CONFIDENCE_LEVELS)}", field="confidence")
        if self.confidence is not None and (confidence, provenance.reason) == (
            self.confidence.confidence,
            self.confidence.reason,
        ):
            raise NothingChanged("the benefit's confidence is already so, for that reason", field="confidence")
        self.trigger_event(self.ConfidenceAssessed, confidence=confidence, **provenance.as_event_fields())

    class ProfileSet(Event):
        """A benefit profile set (the first) or rebaselined (any later one), at the benefit's
        business-case stage then."""

        periods: list[ProfilePeriodFields]
        stage: int

        def apply(self, benefit: Benefit) -> None:
            periods = [ProfilePeriod(p["period_start"], p["period_end"], p["value"]) for p in self.periods]
            benefit.profiles.append(
                Profile(periods, self.stage, self.reason, self.effective_on, self.originator_version)
            )
            benefit._derive()

    def set_profile(self, *, periods: object, provenance: Provenance) -> None:
        """Sets the planned value per period (see ``ProfilePeriod``); a profile set again is a
        recorded rebaselining of the trajectory, the earlier ones stay on record."""
        self.check_not_final()
        parsed = self.parsed_profile(periods)
        if self.profile is not None and [(p.period_start, p.period_end, p.value) for p in self.profile.periods] == [
            (p["period_start"], p["period_end"], p["value"]) for p in parsed
        ]:
            raise NothingChanged("the benefit's profile is already so", field="periods")
        self.trigger_event(self.ProfileSet, periods=parsed, stage=self.stage, **provenance.as_event_fields())

    def parsed_profile(self, periods: object) -> list[ProfilePeriodFields]:
        """The periods in order, checked: at least one, each starting on or before it ends,
        none overlapping, values in the benefit's unit; the benefit has a direction and a unit."""
        if self.direction is None or self.unit is None:
            raise InvalidProfile("a benefit has a direction and a unit before it has a profile", field="periods")
        if not isinstance(periods, list | tuple) or not periods:
            raise InvalidProfile("a profile has one or more periods", field="periods")
        parsed: list[ProfilePeriodFields] = []
        for index, period in enumerate(periods):
            where = f"periods.{index}"
            if not isinstance(period, dict) or not {"period_start", "period_end", "value"} <= set(period):
                raise InvalidProfile(f"{where} has a period_start, a period_end and a value", field=where)
            start, end = period["period_start"], period["period_end"]
            if not isinstance(start, date) or not isinstance(end, date):
                raise InvalidProfile(f"{where}'s period_start and period_end are dates", field=where)
            if start > end:
                raise InvalidProfile(f"{where} starts ({start}) on or before it ends ({end})", field=where)
            value = parse_value(period["value"], f"{where}.value", self.unit)
            parsed.append(ProfilePeriodFields(period_start=start, period_end=end, value=value))
        parsed.sort(key=lambda p: p["period_start"])
        for earlier, later in itertools.pairwise(parsed):
            if later["period_start"] <= earlier["period_end"]:
                raise InvalidProfile(
                    f"the profile's periods {earlier['period_start']} to {earlier['period_end']} and "
                    f"{later['period_start']} to {later['period_end']} overlap",
                    field="periods",
                )
        return parsed

    class RagOverridden(Event):
        """A RAG status set by hand over the derived one, with the reason; null clears it."""

        rag: str | None

        def apply(self, benefit: Benefit) -> None:
            benefit.rag_overrides.append(RagOverride(self.rag, self.reason, self.effective_on, self.originator_version))
            benefit._derive()

    def override_rag(self, *, rag: str | None, provenance: Provenance) -> None:
        """Sets the RAG status by hand over the derived one (the reason says why), or with None
        clears the override so the derived status shows again."""
        if rag is not None and rag not in RAGS:
            raise InvalidRag(f"rag must be one of {', '.join(RAGS)}, or null to clear the override", field="rag")
        current = None if self.rag_override is None else self.rag_override.rag
        if rag == current:
            raise NothingChanged(
                "the RAG status has no override to clear" if rag is None else f"the RAG status is already set to {rag}",
                field="rag",
            )
        self.trigger_event(self.RagOverridden, rag=rag, **provenance.as_event_fields())

    # ------------------------------------------------------------------ checks
    @staticmethod
    def check_category(category: object, sub_category: object) -> None:
        if category not in CATEGORIES:
            raise InvalidBenefitCategory(
                "category must be 1 (Savings), 2 (Service) or 3 (Compliance)", field="category"
            )
        if sub_category not in SUB_CATEGORIES:
            raise InvalidBenefitCategory(
                f"sub_category must be one of {', '.join(SUB_CATEGORIES)}", field="sub_category"
            )
        if not sub_category_belongs(category, sub_category):  # type: ignore[arg-type]
            raise SubCategoryMismatch(
                f"sub-category {sub_category} ({SUB_CATEGORIES[sub_category]}) is not in category "  # type: ignore[index]
                f"{category} ({CATEGORIES[category]})",  # type: ignore[index]
                field="sub_category",
            )

    @staticmethod
    def check_direction(direction: object) -> None:
        if direction is not None and direction not in DIRECTIONS:
            raise InvalidBenefitDirection(f"direction must be one of {', '.join(DIRECTIONS)}", field="direction")

    @staticmethod
    def check_unit(unit: object, sub_category: str | None = None) -> None:
        if unit is not None and unit not in UNITS:
            raise InvalidUnit(f"unit must be one of {', '.join(UNITS)}", field="unit")
        expected = SAVINGS_UNITS.get(sub_category or "")
        if unit is not None and expected is not None and unit != expected:
            raise InvalidUnit(
                f"a {sub_category} {SUB_CATEGORIES[sub_category]} benefit is measured in {expected}, not {unit}",
                field="unit",
            )

    @staticmethod
    def parsed_parties(parties: object) -> list[str]:
        if not isinstance(parties, list | tuple):
            raise PartyNotInCollaboration("parties must be a list of force codes", field="parties")
        for index, party in enumerate(parties):
            check_force_code(party, field=f"parties.{index}")
        return list(dict.fromkeys(parties))

    @staticmethod
    def parsed_attribution(attribution: object, parties: list[str]) -> dict[str, Decimal]:
        """{force: share}: empty, or shares of the collaboration's parties summing to exactly 1."""
        if attribution is None or attribution == {}:
            return {}
        if not isinstance(attribution, dict):
            raise PartyNotInCollaboration("attribution maps force codes to shares", field="attribution")
        for force in attribution:
            check_force_code(force, field=f"attribution.{force}")
            if parties and force not in parties:
                raise PartyNotInCollaboration(
                    f"{force!r} is not a party to the collaboration", field=f"attribution.{force}"
                )
        shares = shares_summing_to_one(attribution, "attribution")
        return {force: share.value for force, share in shares.items()}

    def check_not_final(self) -> None:
        if self.status in FINAL_STATUSES:
            raise BenefitFinal(f"the benefit is {self.status}; reopen it first", field="status")

    def check_minimum_standard(self, stage: int) -> None:
        _check_minimum_standard(
            stage,
            direction=self.direction,
            measure=self.measure,
            unit=self.unit,
            category=self.category,
            owner=self.owner,
            baseline=self.baseline,
            target=self.target,
        )

    def check_can_restate(self, measurement_id: object) -> None:
        if not isinstance(measurement_id, str) or self.measurement(measurement_id) is None:
            raise UnknownMeasurement(
                f"no measurement {str(measurement_id)[:80]!r} of this benefit to restate", field="restates"
            )
        if measurement_id in self.restated_by:
            raise MeasurementAlreadyRestated(
                f"measurement {measurement_id} was restated by {self.restated_by[measurement_id]}; "
                "restate that one instead",
                field="restates",
            )

    # ------------------------------------------------------------------- reads
    @property
    def baseline(self) -> tuple[Decimal, date] | None:
        return None if self.baseline_value is None else (self.baseline_value, self.baseline_on)  # type: ignore[return-value]

    @property
    def target(self) -> tuple[Decimal, date] | None:
        return None if self.target_value is None else (self.target_value, self.target_on)  # type: ignore[return-value]

    @property
    def is_money(self) -> bool:
        return self.unit == MONEY_UNIT

    @property
    def is_dis_benefit(self) -> bool:
        return self.kind == DIS_BENEFIT

    @property
    def is_cash_releasing(self) -> bool:
        """Cash-releasing (the Home Office's "cashable"): as classified, else a 1a Money saving is
        and every other benefit is not."""
        return self.sub_category == "1a" if self.cash_releasing is None else self.cash_releasing

    @property
    def is_quantitative(self) -> bool:
        """Quantitative: as classified, else whether it is measured in a unit other than a score."""
        return (self.unit is not None and self.unit != "score") if self.quantitative is None else self.quantitative

    @property
    def frequency(self) -> str:
        """How often the benefit is to be measured: as defined, else annually."""
        return self.measurement_frequency or DEFAULT_FREQUENCY

    @property
    def rag_override_in_effect(self) -> str | None:
        return None if self.rag_override is None else self.rag_override.rag

    def measurement_due_by(self) -> date | None:
        """The day by which the next measurement is overdue: one measurement interval plus
        ``REPORTING_GRACE_DAYS`` after the latest measured period ended. None without a
        measurement, and once the benefit is realised or lapsed (no more are due)."""
        ends = [measurement.period_end for measurement in self.current_measurements()]
        if not ends or self.status in FINAL_STATUSES:
            return None
        due = add_months(max(ends), FREQUENCY_MONTHS[self.frequency])
        return (
            date.max
            if due >= date.max - timedelta(days=REPORTING_GRACE_DAYS)
            else due + timedelta(days=REPORTING_GRACE_DAYS)
        )

    @property
    def is_cumulative(self) -> bool:
        """Whether realisation compares the cumulative value rather than the latest one with the
        target: a savings benefit (category 1: money, time, cost avoided) that increases."""
        return self.category == SAVINGS and self.direction == "increase"

    @property
    def money_total(self) -> str | None:
        """The money total this benefit's realised value adds to (``money_total_of``)."""
        return money_total_of(self.sub_category, self.unit, self.is_cumulative)

    @property
    def realisation_day(self) -> date:
        """The day its figures are read on: the latest period end among the current
        measurements (so all of them count); without one, the target date, else the baseline
        date, else the identification date (there are no figures then, whatever the day)."""
        ends = [measurement.period_end for measurement in self.current_measurements()]
        if ends:
            return max(ends)
        return self.target_on or self.baseline_on or self.identified_on

    @property
    def forces(self) -> list[str]:
        """The forces the benefit concerns: its attribution's, else the collaboration's parties."""
        return sorted(self.attribution) if self.attribution else list(self.parties)

    def measurement(self, measurement_id: str) -> Measurement | None:
        for entry in self.measurements:
            if entry.measurement_id == measurement_id:
                return entry
        return None

    def current_measurements(self) -> list[Measurement]:
        """The measurements not restated, ordered by period start."""
        restated = self.restated_by
        return sorted((m for m in self.measurements if m.measurement_id not in restated), key=lambda m: m.period_start)

    def realisation(self, on: date) -> Realisation:
        """How the benefit is doing on ``on``, from the current measurements whose period ends on or
        before it, and the current baseline and target (see the module's docstring)."""
        current = [m for m in self.current_measurements() if m.period_end <= on]
        if not current:
            return NO_REALISATION
        by_end = sorted(current, key=lambda m: (m.period_end, m.period_start))
        latest = by_end[-1]
        cumulative = sum((m.value for m in current), ZERO)
        if self.unit == MONEY_UNIT:
            cumulative = cumulative.quantize(PENNY)
        compared = cumulative if self.is_cumulative else latest.value
        direction = self.direction
        baseline, target = self.baseline_value, self.target_value
        percent: Decimal | None = None
        expected: Decimal | None = None
        within: bool | None = None
        on_track: bool | None = None
        planned: Decimal | None = None
        basis: str | None = None
        variance: Decimal | None = None
        variance_percent: Decimal | None = None
        derived_rag: str | None = None
        with localcontext() as context:
            context.prec = 50
            if direction == "maintain":
                if baseline is not None and self.tolerance is not None:
                    within = abs(compared - baseline) <= self.tolerance
                    percent = _percent(HUNDRED if within else ZERO)
                    on_track = within
                    planned, basis = baseline, "baseline"
                    variance = -abs(compared - baseline)
                    if baseline != 0:
                        variance_percent = _percent(variance / abs(baseline) * HUNDRED)
                    derived_rag = (
                        "green" if within else "amber" if abs(compared - baseline) <= 2 * self.tolerance else "red"
                    )
            elif direction is not None:
                if self.profile is not None:
                    planned, basis = self.planned_at(latest.period_end), "profile"
                if baseline is not None and target is not None:
                    distance = target - baseline if direction == "increase" else baseline - target
                    progress = compared - baseline if direction == "increase" else baseline - compared
                    if distance == 0:
                        percent = _percent(HUNDRED if progress >= 0 else ZERO)
                    else:
                        percent = _percent(progress / distance * HUNDRED)
                    if planned is not None:
                        if distance != 0:
                            planned_progress = planned - baseline if direction == "increase" else baseline - planned
                            expected = _percent(planned_progress / distance * HUNDRED)
                    else:
                        span = (self.target_on - self.baseline_on).days if self.baseline_on and self.target_on else 0
                        if span > 0:  # an as_of view may pair a baseline and target never valid together
                            elapsed = min(max((latest.period_end - self.baseline_on).days, 0), span)  # type: ignore[operator]
                            expected = _percent(Decimal(elapsed) / Decimal(span) * HUNDRED)
                            planned, basis = baseline + (target - baseline) * elapsed / span, "straight_line"
                            if self.unit == MONEY_UNIT:
                                planned = planned.quantize(PENNY, rounding=ROUND_HALF_UP)
                    if expected is not None:
                        # a dis-benefit is on track when it is no worse than planned
                        on_track = percent <= expected if self.is_dis_benefit else percent >= expected
                if planned is not None:
                    variance, variance_percent, derived_rag = self._variance(compared, planned)
        override = self.rag_override_in_effect
        return Realisation(
            latest_value=latest.value,
            latest_period_end=latest.period_end,
            realisation_percent=percent,
            expected_percent=expected,
            on_track=on_track,
            within_tolerance=within,
            trend=self._trend(by_end),
            cumulative_value=cumulative,
            measurements_count=len(current),
            compared_value=compared,
            planned_value=planned,
            expected_basis=basis,
            variance=variance,
            variance_percent=variance_percent,
            rag_derived=derived_rag,
            rag=override or derived_rag,
            rag_overridden=override is not None,
        )

    def _variance(self, compared: Decimal, planned: Decimal) -> tuple[Decimal, Decimal | None, str]:
        """The variance against plan, favourable positive: more than planned for a benefit that
        increases, less for one that decreases, the other way round for a dis-benefit; as a
        percentage of the planned value (None when nothing is planned); and the RAG it gives
        (see ``RAG_AMBER_BEYOND``)."""
        variance = compared - planned if self.direction == "increase" else planned - compared
        if self.is_dis_benefit:
            variance = -variance
        if self.unit == MONEY_UNIT:
            variance = variance.quantize(PENNY)
        variance = variance.copy_abs() if variance.is_zero() else variance
        if planned == 0:
            return variance, None, "green" if variance >= 0 else "red"
        percent = _percent(variance / abs(planned) * HUNDRED)
        shortfall = -percent
        rag = "green" if shortfall <= RAG_AMBER_BEYOND else "amber" if shortfall <= RAG_RED_BEYOND else "red"
        return variance, percent, rag

    def planned_at(self, day: date) -> Decimal | None:
        """The value the profile plans for ``day`` (None without a profile). For a cumulative
        benefit, the sum planned for the periods ended by then, and a straight-line share of the
        period under way; for any other, the level planned for the period under way (else for
        the last period ended; the baseline, else nothing, before the first)."""
        if self.profile is None:
            return None
        periods = self.profile.periods
        if self.is_cumulative:
            total = ZERO
            for period in periods:
                if period.period_end <= day:
                    total += period.value
                elif period.period_start <= day:
                    days = (period.period_end - period.period_start).days + 1
                    total += period.value * ((day - period.period_start).days + 1) / days
            return total.quantize(PENNY, rounding=ROUND_HALF_UP) if self.unit == MONEY_UNIT else total
        started = [period for period in periods if period.period_start <= day]
        if not started:
            return self.baseline_value
        return started[-1].value

    def _trend(self, by_end: list[Measurement]) -> str | None:
        if len(by_end) < 2 or self.direction is None:
            return None
        previous, last = by_end[-2].value, by_end[-1].value
        if self.direction == "maintain":
            if self.baseline_value is None:
                return None
            previous, last = -abs(previous - self.baseline_value), -abs(last - self.baseline_value)
        elif self.direction == "decrease":
            previous, last = -previous, -last
        if last > previous:
            return "improving"
        if last < previous:
            return "worsening"
        return "flat"

    def as_of(self, day: date) -> Benefit:
        """A copy holding only the facts effective on or before ``day`` (the identification always
        stays), everything derived again. Same version: "the benefit on ``day``, as recorded now"."""
        benefit = copy.deepcopy(self)
        benefit._pending_events = []
        benefit.definitions = [d for d in benefit.definitions if d.version == 1 or d.effective_on <= day]
        benefit.baselines = [b for b in benefit.baselines if b.version == 1 or b.effective_on <= day]
        benefit.targets = [t for t in benefit.targets if t.version == 1 or t.effective_on <= day]
        benefit.stages = [s for s in benefit.stages if s.version == 1 or s.effective_on <= day]
        benefit.links = [link for link in benefit.links if link.version == 1 or link.effective_on <= day]
        benefit.confidences = [c for c in benefit.confidences if c.effective_on <= day]
        benefit.profiles = [p for p in benefit.profiles if p.effective_on <= day]
        benefit.rag_overrides = [r for r in benefit.rag_overrides if r.effective_on <= day]
        benefit.measurements = [m for m in benefit.measurements if m.effective_on <= day]
        benefit.restated_by = {m.restates: m.measurement_id for m in benefit.measurements if m.restates is not None}
        benefit._derive()
        return benefit

    def _derive(self) -> None:
        """Sets the current definition, baseline, target, stage and status: of each kind, the
        entry latest in effect (latest effective date; of those, the last recorded), so an
        ``as_of`` view shows the world on its date even when facts were recorded out of order."""
        definition = _in_effect(self.definitions)
        self.direction = definition.direction
        self.measure = definition.measure
        self.unit = definition.unit
        self.tolerance = definition.tolerance
        self.owner = definition.owner
        self.senior_responsible_owner = definition.senior_responsible_owner
        self.cash_releasing = definition.cash_releasing
        self.quantitative = definition.quantitative
        self.measurement_frequency = definition.measurement_frequency
        link = _in_effect(self.links)
        self.function_id = link.function_id
        self.objective = link.objective
        self.confidence = _in_effect(self.confidences) if self.confidences else None
        self.profile = _in_effect(self.profiles) if self.profiles else None
        self.rag_override = _in_effect(self.rag_overrides) if self.rag_overrides else None
        baseline = _in_effect(self.baselines) if self.baselines else None
        self.baseline_value = None if baseline is None else baseline.value
        self.baseline_on = None if baseline is None else baseline.on
        target = _in_effect(self.targets) if self.targets else None
        self.target_value = None if target is None else target.value
        self.target_on = None if target is None else target.on
        stage = _in_effect(self.stages)
        self.stage = stage.stage
        self.status = stage.status


def money_total_of(sub_category: str, unit: str | None, cumulative: bool) -> str | None:
    """Which money total a realised value adds to: cash saved for a 1a Money saving, cost
    avoided for 1c, each only in GBP and counted cumulatively (an increasing savings benefit);
    None for every other benefit, whose values are counted, never summed into money (a GBP
    level such as a running cost is not a saving)."""
    if unit != MONEY_UNIT or not cumulative:
        return None
    return MONEY_TOTALS.get(sub_category)
