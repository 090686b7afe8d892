"""What a spreadsheet export writes of each benefit (``service/benefits_workbook.py``): its
register entry as recorded (so the file imports back recording nothing), its profile and
current measurements, its dashboard row, and the events behind each of its figures."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from domain.benefit import Benefit
from domain.collaboration import Collaboration
from projections.event_documents import decimal_text
from service.benefits_workbook import ExportedBenefit


def function_labels(collaboration: Collaboration) -> dict[str, str]:
    """How the export names each function: by its name, or by its id where two share a name."""
    names = Counter(function.name.casefold() for function in collaboration.functions.values())
    return {
        function_id: function.name if names[function.name.casefold()] == 1 else function_id
        for function_id, function in collaboration.functions.items()
    }


def exported_benefit(benefit: Benefit, row: Mapping[str, Any], functions: Mapping[str, str]) -> ExportedBenefit:
    override = benefit.rag_override if benefit.rag_override_in_effect is not None else None
    entry = {
        "reference": benefit.reference,
        "benefit_id": str(benefit.id),
        "kind": benefit.kind,
        "title": benefit.title,
        "category": benefit.category,
        "sub_category": benefit.sub_category,
        "pillar": benefit.pillar,
        "direction": benefit.direction,
        "measure": benefit.measure,
        "unit": benefit.unit,
        "tolerance": benefit.tolerance,
        "baseline_value": benefit.baseline_value,
        "baseline_on": benefit.baseline_on,
        "target_value": benefit.target_value,
        "target_on": benefit.target_on,
        "owner": benefit.owner,
        "senior_responsible_owner": benefit.senior_responsible_owner,
        "cash_releasing": benefit.cash_releasing,
        "quantitative": benefit.quantitative,
        "measurement_frequency": benefit.measurement_frequency,
        "function": None if benefit.function_id is None else functions.get(benefit.function_id, benefit.function_id),
        "objective": benefit.objective,
        "stage": benefit.stage,
        "status": benefit.status,
        "confidence": None if benefit.confidence is None else benefit.confidence.confidence,
        "confidence_reason": None if benefit.confidence is None else benefit.confidence.reason,
        "rag_override": None if override is None else override.rag,
        "rag_override_reason": None if override is None else override.reason,
        "effective_on": None,
    }
    profile = [
        {"period_start": period.period_start, "period_end": period.period_end, "value": period.value}
        for period in (benefit.profile.periods if benefit.profile is not None else [])
    ]
    current = benefit.current_measurements()
    measurements = [
        {
            "measurement_id": m.measurement_id,
            "period_start": m.period_start,
            "period_end": m.period_end,
            "value": m.value,
            "source": m.source,
            "measurer": m.measurer,
            "effective_on": m.effective_on,
        }
        for m in current
    ]
    return ExportedBenefit(entry, profile, measurements, row, provenance_of(benefit, row))


def provenance_of(benefit: Benefit, row: Mapping[str, Any]) -> list[tuple[str, str, int, str, str]]:
    """(figure, event type, version, effective on, detail) of every event behind the row's
    figures: the measurements behind the realised value, the profile (or the baseline and target
    of the straight line) behind the planned value, the override behind a RAG set by hand, the
    assessment behind the confidence."""
    rows: list[tuple[str, str, int, str, str]] = []
    by_end = sorted(benefit.current_measurements(), key=lambda m: (m.period_end, m.period_start))
    counted = by_end if row.get("cumulative") else by_end[-1:]
    for m in counted:
        detail = f"{m.period_start} to {m.period_end}: {decimal_text(m.value)} ({m.source})"
        if m.restates:
            detail += f"; restates {m.restates}"
        rows.append(("Realised value", "Benefit.MeasurementRecorded", m.version, m.effective_on.isoformat(), detail))
    if row.get("expected_basis") == "profile" and benefit.profile is not None:
        profile = benefit.profile
        event = "Benefit.ProfileSet"
        rows.append(("Planned value", event, profile.version, profile.effective_on.isoformat(), profile.reason))
    elif row.get("planned_value") is not None:
        levels = [("baseline", benefit.baselines)]
        if row.get("expected_basis") == "straight_line":
            levels.append(("target", benefit.targets))
        for label, entries in levels:
            if not entries:
                continue
            entry = max(entries, key=lambda e: (e.effective_on, e.version))
            event = "Benefit.Identified" if entry.version == 1 else _LEVEL_EVENTS[label]
            detail = f"{label} {decimal_text(entry.value)} on {entry.on}"
            rows.append(("Planned value", event, entry.version, entry.effective_on.isoformat(), detail))
    if row.get("rag_overridden") and benefit.rag_override is not None:
        override = benefit.rag_override
        rows.append(
            ("RAG", "Benefit.RagOverridden", override.version, override.effective_on.isoformat(), override.reason)
        )
    elif row.get("rag") is not None:
        rows.append(("RAG", "(derived)", benefit.version, "", "From the realised value against the planned value"))
    if benefit.confidence is not None:
        confidence = benefit.confidence
        detail = f"{confidence.confidence}: {confidence.reason}"
        rows.append(
            (
                "Confidence",
                "Benefit.ConfidenceAssessed",
                confidence.version,
                confidence.effective_on.isoformat(),
                detail,
            )
        )
    return rows


_LEVEL_EVENTS = {"baseline": "Benefit.Rebaselined", "target": "Benefit.TargetRevised"}
