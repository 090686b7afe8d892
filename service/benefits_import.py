"""Importing a benefits register read from a spreadsheet (``service/benefits_workbook.py``) into
a collaboration: every row is turned into the domain's commands and checked before anything is
recorded, so an import records all of its rows or none.

``plan_import`` works on aggregates in memory: for each row of the Benefits sheet it identifies
a new benefit (a reference the collaboration does not have) or, for an existing one, issues only
the commands that change something (``define``, ``rebaseline``, ``revise_target``, ``link``,
``change_stage``, ``assess_confidence``, ``override_rag``); then it sets each benefit's profile
where the Profiles sheet differs from the one in effect, and records each measurement of the
Measurements sheet not already recorded (the same period and value), restating the one a row's
``Measurement ID`` names where its value changed. A refused command is a ``CellError`` of its
row and column; the import carries on checking every other row, and raises ``RegisterRefused``
with all of them. A blank cell keeps what is recorded (an import never clears a field).

Importing the same file again finds nothing to change, so it records nothing; so does importing
a file the service exported (``register_workbook``). Each event's evidence names the file, the
sheet and the row it came from.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from domain.benefit import BENEFIT, Benefit, parse_value
from domain.collaboration import Collaboration
from domain.errors import DomainError, NothingChanged
from domain.values import REFERENCE_LENGTH, Provenance
from service.benefits_workbook import (
    BENEFITS_SHEET,
    MEASUREMENTS_SHEET,
    PROFILES_SHEET,
    CellError,
    Register,
    RegisterRefused,
    RegisterRow,
)
from service.problems import kebab

FIXED_AT_IDENTIFICATION = ("kind", "title", "category", "sub_category", "pillar")
DEFINITION_FIELDS = (
    "direction",
    "measure",
    "unit",
    "tolerance",
    "owner",
    "senior_responsible_owner",
    "cash_releasing",
    "quantitative",
    "measurement_frequency",
)


@dataclass
class ImportPlan:
    """What an import would record: the aggregates with their new events, and per benefit what
    happened to it."""

    aggregates: list[Benefit] = field(default_factory=list)
    identified: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def events(self) -> int:
        """How many events it records (counted when planned: saving takes them from the aggregates)."""
        return sum(entry["events"] for entry in [*self.identified, *self.changed])


def plan_import(
    collaboration: Collaboration,
    existing: Sequence[Benefit],
    register: Register,
    *,
    actor: str,
    effective_on: date,
    reason: str,
) -> ImportPlan:
    """The aggregates the register changes, each with its new events; raises RegisterRefused
    with every fault (see the module)."""
    return _Planner(collaboration, existing, register, actor, effective_on, reason).plan()


class _Planner:
    def __init__(
        self,
        collaboration: Collaboration,
        existing: Sequence[Benefit],
        register: Register,
        actor: str,
        effective_on: date,
        reason: str,
    ):
        self.collaboration = collaboration
        self.register = register
        self.actor = actor
        self.effective_on = effective_on
        self.reason = reason
        self.errors: list[CellError] = list(register.faults)
        # rows whose cells did not fit are not planned; the rows naming their benefit neither
        self.faulty = {row.values["reference"] or row.values["benefit_id"] for row in register.benefits if row.faulty}
        self.by_reference: dict[str, Benefit] = {}
        self.by_id = {str(benefit.id): benefit for benefit in existing}
        self.ambiguous: set[str] = set()
        for benefit in existing:
            if benefit.reference is None:
                continue
            if benefit.reference in self.by_reference:
                self.ambiguous.add(benefit.reference)
            self.by_reference[benefit.reference] = benefit
        self.touched: dict[Any, tuple[str, Benefit]] = {}  # by id: (reference or id, benefit), in order
        self.new: dict[str, Benefit] = {}  # identified by this import, by reference
        self.row_dates: dict[str, date] = {}  # the date of each Benefits row's facts, by its key
        self.planned_rows: dict[str, int] = {}  # measurements this import records: their rows
        self.functions = _function_names(collaboration)

    # --------------------------------------------------------------------------- helpers
    def fail(self, row: RegisterRow, field_name: str | None, message: str, kind: str = "invalid-cell") -> None:
        column = row.column_of(field_name)
        self.errors.append(CellError(row.sheet, row.row, column, message, kind))

    def provenance(self, row: RegisterRow, *, rows: str | None = None) -> Provenance:
        where = f"{self.register.file_name}, sheet {row.sheet}, {rows or f'row {row.row}'}"
        if len(where) > REFERENCE_LENGTH:
            where = where[: REFERENCE_LENGTH - 1] + "…"
        reason = self.reason
        return Provenance(row.values.get("effective_on") or self.effective_on, self.actor, reason, where, None)

    def refused(self, row: RegisterRow, error: DomainError, field_name: str | None = None) -> None:
        """A command the domain refused: the row's fault, in the column of the field it names
        (or ``field_name``), typed as the API types the rule's problem."""
        self.fail(row, field_name or error.field, error.detail, kebab(type(error).__name__))

    def attempt(self, row: RegisterRow, command: Callable[..., Any], **arguments: Any) -> bool:
        """Runs a domain command; a refusal is the row's fault. Answers whether it ran."""
        try:
            command(**arguments)
        except NothingChanged:
            return False
        except DomainError as error:
            self.refused(row, error)
            return False
        return True

    def in_order(self, row: RegisterRow, entries: Sequence[Any], what: str, provenance: Provenance) -> bool:
        """Whether a change dated ``provenance.effective_on`` would take effect: a fact dated
        before the one in effect never would, and importing the row again would record it again,
        so it is the row's fault (its Effective on, or the import's date, is too early)."""
        if not entries:
            return True
        latest = max(entry.effective_on for entry in entries)
        if provenance.effective_on >= latest:
            return True
        self.fail(
            row,
            "effective_on" if row.values.get("effective_on") is not None else None,
            f"{what} in effect dates from {latest}; a change dated {provenance.effective_on} would not take effect: "
            f"give an Effective on of {latest} or later",
            "change-before-the-fact-in-effect",
        )
        return False

    def benefit_of(self, row: RegisterRow) -> Benefit | None:
        """The benefit a Profiles or Measurements row names: by its reference, or its id."""
        reference = row.values["reference"]
        benefit = self.new.get(reference) or self.by_reference.get(reference) or self.by_id.get(reference)
        if benefit is None:
            self.fail(
                row,
                "reference",
                f"no benefit {reference!r} on the Benefits sheet or in the collaboration",
                "unknown-reference",
            )
        return benefit

    def touch(self, label: str, benefit: Benefit) -> None:
        self.touched.setdefault(benefit.id, (label, benefit))

    # ----------------------------------------------------------------------------- plan
    def plan(self) -> ImportPlan:
        seen: dict[str, int] = {}
        for row in self.register.benefits:
            reference = row.values["reference"] or row.values["benefit_id"]
            if row.faulty:
                continue
            if reference is None:
                self.fail(row, "reference", "a row names its benefit by Reference (or Benefit ID)", "missing-value")
                continue
            if reference in seen:
                self.fail(
                    row, "reference", f"reference {reference!r} is on row {seen[reference]} too", "duplicate-reference"
                )
                continue
            seen[reference] = row.row
            if reference in self.ambiguous:
                self.fail(
                    row, "reference", f"the collaboration has several benefits {reference!r}", "duplicate-reference"
                )
                continue
            faults = len(self.errors)
            if row.values["benefit_id"] is not None and row.values["benefit_id"] in self.by_id:
                self.update(row, self.by_id[row.values["benefit_id"]], reference)
            elif reference in self.by_reference:
                self.update(row, self.by_reference[reference], reference)
            elif reference in self.by_id:  # a benefit without a reference, named by its id
                self.update(row, self.by_id[reference], reference)
            elif row.values["reference"] is None:
                self.fail(row, "reference", "a new benefit has a Reference", "missing-value")
            else:
                self.identify(row)
            if len(self.errors) > faults:
                self.faulty.add(reference)  # its profile and measurements are not checked against it
        self.profiles()
        self.measurements()
        if self.errors:
            order = {BENEFITS_SHEET: 0, PROFILES_SHEET: 1, MEASUREMENTS_SHEET: 2}
            raise RegisterRefused(sorted(self.errors, key=lambda e: (order.get(e.sheet, 3), e.row)))
        plan = ImportPlan()
        for reference, benefit in self.touched.values():
            if not benefit.pending_events:
                continue
            plan.aggregates.append(benefit)
            entry = {"reference": reference, "benefit_id": str(benefit.id), "events": len(benefit.pending_events)}
            (plan.identified if reference in self.new else plan.changed).append(entry)
        return plan

    # ------------------------------------------------------------------------ benefits
    def function_id(self, row: RegisterRow) -> tuple[bool, str | None]:
        name = row.values["function"]
        if name is None:
            return True, None
        if name in self.collaboration.functions:
            return True, name  # given by its id
        ids = self.functions.get(name.casefold(), [])
        if len(ids) != 1:
            problem = "no function" if not ids else "several functions"
            self.fail(row, "function", f"the collaboration has {problem} named {name!r}", "unknown-function")
            return False, None
        return True, ids[0]

    def identify(self, row: RegisterRow) -> None:
        values = row.values
        if values["benefit_id"] is not None:
            self.fail(
                row,
                "benefit_id",
                f"the collaboration has no benefit {values['reference']!r} with this id",
                "unknown-reference",
            )
            return
        found, function_id = self.function_id(row)
        if not found:
            return
        provenance = self.provenance(row)
        level = _level(values, "baseline", row, self), _level(values, "target", row, self)
        if level[0] is False or level[1] is False:
            return
        try:
            self.collaboration.check_benefit_identification(
                day=provenance.effective_on, function_id=function_id, attribution=None
            )
            benefit = Benefit.identify(
                collaboration_id=str(self.collaboration.id),
                title=values["title"],
                category=values["category"],
                sub_category=values["sub_category"],
                pillar=values["pillar"],
                direction=values["direction"],
                measure=values["measure"],
                unit=values["unit"],
                tolerance=values["tolerance"],
                baseline=level[0],
                target=level[1],
                owner=values["owner"],
                function_id=function_id,
                stage=values["stage"] if values["stage"] is not None else 0,
                **({"status": values["status"]} if values["status"] is not None else {}),
                kind=values["kind"] or BENEFIT,
                reference=values["reference"],
                objective=values["objective"],
                senior_responsible_owner=values["senior_responsible_owner"],
                cash_releasing=values["cash_releasing"],
                quantitative=values["quantitative"],
                measurement_frequency=values["measurement_frequency"],
                parties=list(self.collaboration.current_parties()),
                provenance=provenance,
            )
        except DomainError as error:
            self.refused(row, error)
            return
        self.new[values["reference"]] = benefit
        self.row_dates[values["reference"]] = provenance.effective_on
        self.touch(values["reference"], benefit)
        self.assessments(row, benefit, provenance)

    def update(self, row: RegisterRow, benefit: Benefit, key: str) -> None:
        values = row.values
        if values["reference"] is not None and values["reference"] not in (benefit.reference, str(benefit.id)):
            self.fail(
                row,
                "reference",
                f"the benefit's reference is fixed when it is identified: it is {benefit.reference!r}",
                "fixed-at-identification",
            )
            return
        if values["benefit_id"] is not None and values["benefit_id"] != str(benefit.id):
            self.fail(
                row,
                "benefit_id",
                f"benefit {values['reference']!r} has the id {benefit.id}, not this one",
                "unknown-reference",
            )
            return
        fixed = {name: values[name] for name in FIXED_AT_IDENTIFICATION}  # blank: as recorded
        for name, value in fixed.items():
            if value is not None and value != getattr(benefit, name):
                self.fail(
                    row,
                    name,
                    f"{name.replace('_', '-')} is fixed when a benefit is identified: it is {getattr(benefit, name)!r}",
                    "fixed-at-identification",
                )
        if any(e.sheet == row.sheet and e.row == row.row for e in self.errors):
            return
        provenance = self.provenance(row)
        self.row_dates[key] = provenance.effective_on
        self.touch(key, benefit)
        definition = {
            name: values[name]
            for name in DEFINITION_FIELDS
            if values[name] is not None
            and _differs(values[name], getattr(benefit, name), benefit.unit if name == "tolerance" else None)
        }
        if definition and self.in_order(row, benefit.definitions, "the definition", provenance):
            self.attempt(row, lambda: benefit.define(**definition, provenance=provenance))
        for kind, command in (("baseline", benefit.rebaseline), ("target", benefit.revise_target)):
            level = _level(values, kind, row, self)
            if level is False or level is None:
                continue
            current = benefit.baseline if kind == "baseline" else benefit.target
            value = _quantized(level["value"], benefit.unit)
            entries = benefit.baselines if kind == "baseline" else benefit.targets
            if (current is None or (value, level["on"]) != current) and self.in_order(
                row, entries, f"the {kind}", provenance
            ):
                self.attempt(row, lambda c=command, lv=level: c(value=lv["value"], on=lv["on"], provenance=provenance))
        found, function_id = self.function_id(row)
        if found:
            link = (
                function_id if values["function"] is not None else benefit.function_id,
                values["objective"] if values["objective"] is not None else benefit.objective,
            )
            if link != (benefit.function_id, benefit.objective) and self.in_order(
                row, benefit.links, "the link", provenance
            ):

                def relink() -> None:
                    if link[0] is not None:
                        self.collaboration.check_function_exists(link[0], on=provenance.effective_on)
                    benefit.link(function_id=link[0], objective=link[1], provenance=provenance)

                self.attempt(row, relink)
        stage, status = values["stage"], values["status"]
        if (stage is not None and stage != benefit.stage) or (status is not None and status != benefit.status):
            self.attempt(
                row,
                lambda: benefit.change_stage(
                    stage=benefit.stage if stage is None else stage, status=status, provenance=provenance
                ),
            )
        self.assessments(row, benefit, provenance)

    def assessments(self, row: RegisterRow, benefit: Benefit, provenance: Provenance) -> None:
        values = row.values
        confidence, why = values["confidence"], values["confidence_reason"]
        if confidence is not None:
            current = benefit.confidence
            changed = current is None or current.confidence != confidence or (why is not None and why != current.reason)
            if changed and self.in_order(row, benefit.confidences, "the confidence", provenance):
                assessed = Provenance(
                    provenance.effective_on, provenance.actor, why or provenance.reason, provenance.evidence, None
                )
                self.attempt(row, lambda: benefit.assess_confidence(confidence=confidence, provenance=assessed))
        elif why is not None:
            self.fail(row, "confidence", "a confidence reason needs a confidence", "missing-value")
        rag, why = values["rag_override"], values["rag_override_reason"]
        if rag is not None:
            if rag != benefit.rag_override_in_effect and self.in_order(
                row, benefit.rag_overrides, "the RAG override", provenance
            ):
                overridden = Provenance(
                    provenance.effective_on, provenance.actor, why or provenance.reason, provenance.evidence, None
                )
                self.attempt(row, lambda: benefit.override_rag(rag=rag, provenance=overridden))
        elif why is not None:
            self.fail(row, "rag_override", "a RAG override reason needs an override", "missing-value")

    # ------------------------------------------------------------------------ profiles
    def overlapping(self, rows: list[RegisterRow]) -> bool:
        """Whether periods of one benefit's profile overlap (each later row of a pair is at fault)."""
        ordered = sorted(rows, key=lambda r: (r.values["period_start"], r.row))
        found = False
        for earlier, later in itertools.pairwise(ordered):
            if later.values["period_start"] <= earlier.values["period_end"]:
                self.fail(
                    later,
                    "period_start",
                    f"the period overlaps row {earlier.row}'s, "
                    f"{earlier.values['period_start']} to {earlier.values['period_end']}",
                    "invalid-profile",
                )
                found = True
        return found

    def profiles(self) -> None:
        by_reference: dict[str, list[RegisterRow]] = defaultdict(list)
        for row in self.register.profiles:
            if row.values["reference"] is not None:
                by_reference[row.values["reference"]].append(row)
        for reference, rows in by_reference.items():
            if any(row.faulty for row in rows):
                continue
            if self.overlapping(rows) or reference in self.faulty:
                continue
            benefit = self.benefit_of(rows[0])
            if benefit is None:
                for row in rows[1:]:
                    self.fail(
                        row,
                        "reference",
                        f"no benefit {reference!r} on the Benefits sheet or in the collaboration",
                        "unknown-reference",
                    )
                continue
            periods = [{name: row.values[name] for name in ("period_start", "period_end", "value")} for row in rows]
            current = (
                None
                if benefit.profile is None
                else [(p.period_start, p.period_end, p.value) for p in benefit.profile.periods]
            )
            try:
                wanted = [
                    (p["period_start"], p["period_end"], parse_value(p["value"], "value", benefit.unit))
                    for p in periods
                ]
            except DomainError:
                wanted = None  # set_profile says which row
            if wanted is not None and current == sorted(wanted):
                continue
            first, last = min(row.row for row in rows), max(row.row for row in rows)
            provenance = self.provenance(rows[0], rows=f"rows {first}-{last}" if first != last else None)
            # dated as its benefit's row on the Benefits sheet, if it has one, else as the import
            day = self.row_dates.get(reference, self.effective_on)
            provenance = Provenance(day, provenance.actor, provenance.reason, provenance.evidence, None)
            if not self.in_order(rows[0], benefit.profiles, "the profile", provenance):
                continue
            self.touch(reference, benefit)
            try:
                benefit.set_profile(periods=periods, provenance=provenance)
            except NothingChanged:
                continue
            except DomainError as error:
                index = _period_index(error.field)
                row = rows[index] if index is not None and index < len(rows) else rows[0]
                if error.field and error.field.endswith(".value"):
                    field_name: str | None = "value"
                elif index is not None:
                    field_name = "period_start"
                else:
                    field_name = None  # the whole row: the benefit's state (final, no unit...) or its date
                self.fail(row, field_name, error.detail, kebab(type(error).__name__))  # None: the whole row

    # -------------------------------------------------------------------- measurements
    def measurements(self) -> None:
        for row in self.register.measurements:
            values = row.values
            if row.faulty or values["reference"] in self.faulty:
                continue
            benefit = self.benefit_of(row)
            if benefit is None:
                continue
            try:
                value = parse_value(values["value"], "value", benefit.unit)
            except DomainError as error:
                self.refused(row, error, "value")
                continue
            period = (values["period_start"], values["period_end"])
            current = {m.measurement_id: m for m in benefit.current_measurements()}
            same = [m for m in current.values() if (m.period_start, m.period_end, m.value) == (*period, value)]
            if same:
                continue  # recorded already
            restates = values["measurement_id"]
            if restates is not None:
                if benefit.measurement(restates) is None:
                    self.fail(
                        row,
                        "measurement_id",
                        f"benefit {values['reference']!r} has no measurement {restates!r}",
                        "unknown-measurement",
                    )
                    continue
            else:
                overlapping = [m for m in current.values() if m.period_start <= period[1] and period[0] <= m.period_end]
                if overlapping:
                    other = overlapping[0]
                    if other.measurement_id in self.planned_rows:
                        message = f"the period overlaps row {self.planned_rows[other.measurement_id]}'s"
                    else:
                        message = (
                            f"the period overlaps measurement {other.measurement_id} ({other.period_start} to "
                            f"{other.period_end}, value {other.value}); give its Measurement ID to restate it"
                        )
                    self.fail(row, "period_start", message, "overlapping-measurement")
                    continue
            provenance = self.provenance(row)
            self.touch(values["reference"], benefit)
            try:
                measurement_id = benefit.record_measurement(
                    period_start=period[0],
                    period_end=period[1],
                    value=value,
                    source=values["source"],
                    measurer=values["measurer"] or self.actor,
                    restates=restates,
                    provenance=provenance,
                )
            except DomainError as error:
                self.refused(row, error)
                continue
            self.planned_rows[measurement_id] = row.row


def _function_names(collaboration: Collaboration) -> dict[str, list[str]]:
    names: dict[str, list[str]] = defaultdict(list)
    for function_id, function in collaboration.functions.items():
        names[function.name.casefold()].append(function_id)
    return names


def _level(values: dict[str, Any], kind: str, row: RegisterRow, planner: _Planner) -> dict[str, Any] | bool | None:
    """{"value", "on"} of a baseline or target; None where both cells are blank; False (the
    row's fault recorded) where only one is filled in."""
    value, on = values[f"{kind}_value"], values[f"{kind}_on"]
    if value is None and on is None:
        return None
    if value is None or on is None:
        missing = f"{kind}_value" if value is None else f"{kind}_on"
        planner.fail(row, missing, f"a {kind} has a value and a date", "missing-value")
        return False
    return {"value": value, "on": on}


def _quantized(value: Decimal, unit: str | None) -> Decimal:
    try:
        return parse_value(value, "value", unit)
    except DomainError:
        return value


def _differs(given: Any, current: Any, unit: str | None) -> bool:
    if isinstance(given, Decimal):
        return current is None or _quantized(given, unit) != current
    return given != current


def _period_index(field_name: str | None) -> int | None:
    if field_name and field_name.startswith("periods."):
        part = field_name.split(".")[1]
        return int(part) if part.isdigit() else None
    return None
