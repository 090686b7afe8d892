"""Benefits: what a collaboration is meant to deliver (7F framework, Green Book stages, three
pillars), their measurements as immutable events, the realisation dashboard of a collaboration,
and the portfolio across collaborations."""

from __future__ import annotations

import functools
import json
from datetime import date, datetime
from typing import Any
from uuid import UUID

import marshmallow as ma
from flask import jsonify
from flask.wrappers import Response
from werkzeug.datastructures import FileStorage

from projections.event_documents import utc_text
from service import exports, web
from service.api import Blueprint, uploads
from service.benefits_workbook import XLSX, read_register, template_workbook
from service.resources import common
from service.resources.benefits import schemas as s
from service.resources.common import NEXT_PAGE_HEADER, WRITE_HEADERS, TemporalQuerySchema

blp = Blueprint(
    "benefits",
    __name__,
    url_prefix="/api/v1",
    description="Benefits realisation: benefits of the 7F framework, their measurements as immutable events, the "
    "realisation dashboard of a collaboration and the portfolio across collaborations.",
)

BENEFITS = "/benefits"
XLSX_RESPONSE_DOC = {
    "description": "OK, as an .xlsx workbook (`?format=xlsx` or its media type in Accept)",
    "schema": {"type": "string", "format": "binary"},
}
WORKBOOK_TYPES = {exports.JSON: "json", exports.CSV: "csv", XLSX: "xlsx"}
REGISTER_UPLOAD_BYTES = 16 * 1024 * 1024  # a register of 50,000 rows is about 3 MiB
ONE = "/benefits/<uuid:benefit_id>"
OF_COLLABORATION = "/collaborations/<uuid:collaboration_id>/benefits"
BENEFIT_ETAG = 'The benefit\'s version, e.g. "3"; send it back in If-Match'
ETAG_HEADER = {"ETag": {"description": BENEFIT_ETAG, "schema": {"type": "string"}}}
BENEFIT_WRITE_HEADERS = {
    **WRITE_HEADERS,
    **ETAG_HEADER,
    "Location": {"description": "The benefit: /api/v1/benefits/{id}", "schema": {"type": "string"}},
}


write_route = functools.partial(common.write_route, blp)
write_answer = functools.partial(common.write_answer, blp, headers=BENEFIT_WRITE_HEADERS)


# ----------------------------------------------------------------- a collaboration's benefits
@write_route(OF_COLLABORATION)
@blp.arguments(s.IdentifyBenefitSchema)
@write_answer(s.CompactBenefitDocument, s.BenefitDocument)
@blp.problems(404, 409, 412)
def identify(body: dict[str, Any], collaboration_id: UUID) -> Response:
    """Identify a benefit of the collaboration

    `category` 1 Savings, 2 Service or 3 Compliance, and a `sub_category` of it (`1a`..`3c`; a
    sub-category of another category is 422). From stage 2 (OBC) on, 7F's minimum standard
    applies: `direction`, `measure`, `unit` and `owner` are required, and so are the `baseline`
    and `target` ({`value`, `on`}, the baseline dated before the target). A `maintain` benefit
    has a `tolerance` (>= 0). A `function_id` is one of the collaboration's functions; an
    `attribution` shares the benefit between parties (summing to exactly 1). Answers with the
    benefit and `Location: /api/v1/benefits/{id}`. A force token identifies benefits only of
    collaborations its force is a current party of (403).
    """
    return web.record(web.records().identify_benefit, str(collaboration_id), creating=True, **body)


@blp.route(OF_COLLABORATION, methods=["GET"])
@blp.arguments(s.DashboardQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, s.DashboardDocument)
@blp.alt_response(200, content_type=exports.CSV, **exports.CSV_RESPONSE_DOC)
@blp.alt_response(200, content_type=XLSX, **XLSX_RESPONSE_DOC)
@blp.problems(404, 406)
def dashboard(args: dict[str, Any], collaboration_id: UUID) -> Response:
    """The realisation dashboard: how each benefit of the collaboration is doing

    Per benefit: its latest value, the value realisation is measured by (`realised_value`: for
    savings, category 1, that increase, the sum of the current measurements, each the amount
    saved in its period; otherwise the latest measurement), `realisation_percent` from baseline toward target
    in the stated direction, the `trend`, the `expected_percent` of a straight line from the
    baseline to the target date and the `on_track` flag. Totals per pillar and per category:
    counts, on-track counts, `cash_savings` in GBP (the running totals of 1a Money savings) and
    `cost_avoided` (of 1c Cost avoidance), summed apart; other units, and GBP levels such as a
    running cost, are counted, never summed into money.

    With `as_of` and/or `known_at`, the dashboard as it stood, computed from the benefits'
    events: each benefit as known at `known_at` and in effect on `as_of` (restatements recorded
    later left out). `?format=csv` (or `Accept: text/csv`) answers one row per benefit;
    `?format=xlsx` a workbook: the register sheets (Benefits, Profiles, Measurements, which
    import back recording nothing), the figures as numbers (Dashboard), the totals and the
    provenance of every figure.

    Each row also has the register's fields: `kind` (dis-benefits are totalled apart, never
    offset), the class, roles, links and confidence, `planned_value` from the profile (else the
    straight line), the `variance` and the `rag` status, and `stale` when its next reading was
    overdue on `read_on` (the `as_of` date, else the day of `known_at`, else today).
    """
    answer_as = exports.negotiated_format(args.pop("format", None), WORKBOOK_TYPES)
    one = str(collaboration_id)
    as_of, known_at = args.get("as_of"), args.get("known_at")
    if answer_as == "xlsx":
        workbook = web.queries().benefits_workbook(one, as_of=as_of, known_at=known_at)
        return workbook_response(workbook, f"benefits-{one}.xlsx")
    document = web.queries().dashboard(one, as_of=as_of, known_at=known_at)
    if answer_as == "csv":
        return exports.csv_response(document["benefits"], exports.BENEFIT_COLUMNS, f"benefits-{one}.csv")
    return exports.negotiated(jsonify({**document, **temporal_basis(as_of, known_at)}))


def temporal_basis(as_of: date | None, known_at: datetime | None) -> dict[str, str | None]:
    return {"as_of": as_of.isoformat() if as_of else None, "known_at": utc_text(known_at) if known_at else None}


# ----------------------------------------------------------------------------- the portfolio
@blp.route(BENEFITS, methods=["GET"])
@blp.arguments(s.PortfolioQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, s.PortfolioDocument)
@blp.alt_response(200, content_type=exports.CSV, **exports.CSV_RESPONSE_DOC)
@blp.alt_response(200, content_type=XLSX, **XLSX_RESPONSE_DOC)
@blp.problems(406)
def portfolio(args: dict[str, Any]) -> Response:
    """The portfolio: benefits across collaborations, for a force's resource and performance boards

    Filters: `force` (the benefits attributed to it, or, without an attribution, of
    collaborations it is a party to), `pillar`, `category`, `stage`, `status` and
    `collaboration_id`. Each item is a dashboard row (with its `collaboration_id`). With
    `as_of` and/or `known_at`, each benefit as it stood (stage and status filters applied to
    that state). `?format=csv` answers one row per benefit, `?format=xlsx` a workbook (as
    for a collaboration's dashboard, with a Collaboration ID column).
    """
    answer_as = exports.negotiated_format(args.pop("format", None), WORKBOOK_TYPES)
    as_of, known_at = args.get("as_of"), args.get("known_at")
    if answer_as == "xlsx":
        return workbook_response(web.queries().benefits_workbook(None, **args), "benefits.xlsx")
    items = web.queries().portfolio(**args)
    if answer_as == "csv":
        return exports.csv_response(items, exports.BENEFIT_COLUMNS, "benefits.csv")
    return exports.negotiated(jsonify({"total": len(items), "items": items, **temporal_basis(as_of, known_at)}))


# ------------------------------------------------------------------------------ one benefit
@blp.route(ONE, methods=["GET"])
@blp.arguments(TemporalQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, s.BenefitDocument, headers=ETAG_HEADER)
@blp.problems(404)
def show(args: dict[str, Any], benefit_id: UUID) -> Response:
    """A benefit: what it is, its measurements (restated ones marked), its history of targets,
    baselines and stages, and its realisation

    `as_of` (a date) answers with only the facts effective on or before it, realisation computed
    on that date; `known_at` (an RFC 3339 time) with only the events recorded at or before it.
    Asking about a time before the benefit was identified (or recorded) is 404.

    Its measurements, one a period for as long as it is measured, are previewed: the newest 20
    recorded, with `measurements_total`; all of them are at `links.measurements`, a page at a
    time. Realisation counts every one.
    """
    return web.about_collaboration(web.queries().benefit(str(benefit_id), **args))


@blp.route(f"{ONE}/measurements", methods=["GET"])
@blp.arguments(s.MeasurementsQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, s.MeasurementsPageDocument, headers={**ETAG_HEADER, **NEXT_PAGE_HEADER})
@blp.problems(404)
def measurements(args: dict[str, Any], benefit_id: UUID) -> Response:
    """Every measurement of the benefit, a page at a time (an extension of the v1 contract)

    In the order recorded: the measurements recorded after version `after` (0, the default:
    from the first), `limit` of them (100 by default, at most 1000); `next_after` (also `Link:
    <...>; rel="next"`) is the last one's `source_version`, null on the last page; `total` counts
    them all. The benefit's document shows only the newest 20. `as_of` and `known_at` answer as
    it stood, as for the benefit.
    """
    document = web.queries().measurements(str(benefit_id), **args)
    return web.with_next_page(web.about_collaboration(document), document["next_after"])


@write_route(f"{ONE}/measurements")
@blp.arguments(s.MeasurementSchema)
@write_answer(s.CompactMeasurementRecordedDocument, s.MeasurementRecordedDocument)
@blp.problems(404, 409, 412)
def record_measurement(body: dict[str, Any], benefit_id: UUID) -> Response:
    """Record a measurement for a period; answers with its `measurement_id`

    `value` is the benefit's figure for the period (`period_start` to `period_end`, inclusive):
    for savings (category 1) the amount saved in it, otherwise the level measured. `source` says
    where it came from; the `measurer` is the caller unless named. A period overlapping a current
    measurement is refused (422) unless the new one `restates` it: the restated measurement is
    never edited, it no longer counts. A restatement may itself be restated.
    """
    return web.record(web.records().record_measurement, str(benefit_id), **body)


@write_route(f"{ONE}/stage")
@blp.arguments(s.StageSchema)
@write_answer(s.CompactBenefitDocument, s.BenefitDocument)
@blp.problems(404, 409, 412)
def change_stage(body: dict[str, Any], benefit_id: UUID) -> Response:
    """Move the benefit to a business-case stage (0-5), and optionally to a later status

    Statuses move forward only (identified → planned → validated → realising → handed_to_bau →
    realised or lapsed; realised and lapsed are final): a backward move is 422 (use
    `.../reopening`). Moving to stage 2 (OBC) or later needs 7F's minimum standard (422).
    """
    return web.record(web.records().change_benefit_stage, str(benefit_id), **body)


@write_route(f"{ONE}/target")
@blp.arguments(s.TargetSchema)
@write_answer(s.CompactBenefitDocument, s.BenefitDocument)
@blp.problems(404, 409, 412)
def revise_target(body: dict[str, Any], benefit_id: UUID) -> Response:
    """Revise the target: a new value and date, its own event with its reason

    An extension of the v1 contract. The target date stays after the baseline's (422).
    """
    return web.record(web.records().revise_benefit_target, str(benefit_id), **body)


@write_route(f"{ONE}/baseline")
@blp.arguments(s.BaselineSchema)
@write_answer(s.CompactBenefitDocument, s.BenefitDocument)
@blp.problems(404, 409, 412)
def rebaseline(body: dict[str, Any], benefit_id: UUID) -> Response:
    """Re-baseline: a new baseline value and date, its own event with its reason

    An extension of the v1 contract. The baseline date stays before the target's (422).
    """
    return web.record(web.records().rebaseline_benefit, str(benefit_id), **body)


@write_route(f"{ONE}/definition")
@blp.arguments(s.DefinitionSchema)
@write_answer(s.CompactBenefitDocument, s.BenefitDocument)
@blp.problems(404, 409, 412)
def define(body: dict[str, Any], benefit_id: UUID) -> Response:
    """Complete or change how the benefit is measured and who owns it

    An extension of the v1 contract: `direction`, `measure`, `unit`, `tolerance` and `owner`;
    what is left out is kept. A benefit identified early (stage 0 or 1) without them gets them
    here before moving to stage 2 (OBC). The unit is fixed once there are measurements (422).
    """
    return web.record(web.records().define_benefit, str(benefit_id), **body)


@write_route(f"{ONE}/reopening")
@blp.arguments(s.ReopeningSchema)
@write_answer(s.CompactBenefitDocument, s.BenefitDocument)
@blp.problems(404, 409, 412)
def reopen(body: dict[str, Any], benefit_id: UUID) -> Response:
    """Reopen: move the benefit back to an earlier status (and stage), recorded with its reason

    An extension of the v1 contract: the only way a status or stage moves backward. The status
    named is not final and is earlier than the current one, or the stage is earlier (422
    otherwise); a realised or lapsed benefit may be reopened to any status that is not final.
    """
    return web.record(web.records().reopen_benefit, str(benefit_id), **body)


@write_route(f"{ONE}/link")
@blp.arguments(s.LinkSchema)
@write_answer(s.CompactBenefitDocument, s.BenefitDocument)
@blp.problems(404, 409, 412)
def link(body: dict[str, Any], benefit_id: UUID) -> Response:
    """Link the benefit to what enables it and the objective it serves (the benefit map)

    An extension of the v1 contract: `function_id`, one of the collaboration's functions in
    effect on `effective_on` (null: the whole collaboration), and `objective`, both recorded as
    given, with the history of earlier links kept.
    """
    return web.record(web.records().link_benefit, str(benefit_id), **body)


@write_route(f"{ONE}/confidence")
@blp.arguments(s.ConfidenceSchema)
@write_answer(s.CompactBenefitDocument, s.BenefitDocument)
@blp.problems(404, 409, 412)
def assess_confidence(body: dict[str, Any], benefit_id: UUID) -> Response:
    """Assess confidence that the benefit will be realised: high, medium or low, with the reason

    An extension of the v1 contract. Each assessment is kept, with its reason.
    """
    return web.record(web.records().assess_benefit_confidence, str(benefit_id), **body)


@write_route(f"{ONE}/profile")
@blp.arguments(s.ProfileSchema)
@write_answer(s.CompactBenefitDocument, s.BenefitDocument)
@blp.problems(404, 409, 412)
def set_profile(body: dict[str, Any], benefit_id: UUID) -> Response:
    """Set the benefit profile: the value planned per period; again, a recorded rebaselining

    An extension of the v1 contract. Periods are per-period amounts like measurements (the
    amount to save in the period, or the level to reach), one or more, none overlapping, in
    the benefit's unit; the benefit has a direction and a unit first (422). Where a profile
    exists, `expected_percent`, `planned_value`, `on_track` and the derived RAG are read from
    it rather than from a straight line from baseline to target. Earlier profiles stay on record.
    """
    return web.record(web.records().set_benefit_profile, str(benefit_id), **body)


@write_route(f"{ONE}/rag")
@blp.arguments(s.RagOverrideSchema)
@write_answer(s.CompactBenefitDocument, s.BenefitDocument)
@blp.problems(404, 409, 412)
def override_rag(body: dict[str, Any], benefit_id: UUID) -> Response:
    """Override the derived RAG status, with the reason; `rag: null` clears the override

    An extension of the v1 contract. The derived status (`rag_derived`) is still shown beside
    it. Derivation: a shortfall against plan of at most 5% of the planned value is green, at
    most 15% amber, more red; a maintain benefit is green within its tolerance, amber within
    twice it, else red.
    """
    return web.record(web.records().override_benefit_rag, str(benefit_id), **body)


# -------------------------------------------------------------------- the register spreadsheet
def workbook_response(workbook: bytes, filename: str) -> Response:
    response = Response(workbook, mimetype=XLSX)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return exports.negotiated(response)


@blp.route(f"{BENEFITS}/register-template", methods=["GET"])
@blp.response(200, content_type=XLSX, **XLSX_RESPONSE_DOC)
def register_template() -> Response:
    """The benefits register template: an .xlsx workbook to fill in and import

    Its Guide sheet describes every column of the Benefits, Profiles and Measurements sheets
    (the Green Book register's fields); docs/benefits-register.md describes the rules.
    """
    return workbook_response(template_workbook(), "benefits-register-template.xlsx")


@blp.route(f"{OF_COLLABORATION}/register", methods=["POST"])
@blp.arguments(s.RegisterImportFormSchema, location="files")
@blp.response(201, s.RegisterImportDocument, description="Recorded")
@blp.alt_response(200, schema=s.RegisterImportDocument, description="Nothing new to record, or a dry run")
@blp.problems(404, 413, 415)
@uploads(REGISTER_UPLOAD_BYTES)
def import_register(form: dict[str, Any], collaboration_id: UUID) -> Response:
    """Import a benefits register spreadsheet into the collaboration: all of it or nothing

    `multipart/form-data` with the `.xlsx` `file` (at most 16 MiB) in the template's shape
    (`/api/v1/benefits/register-template`), `effective_on` and optionally `reason` and
    `dry_run`. Every row is checked before anything is recorded: a register with faults is
    refused (422, `register-refused`) with every fault by `sheet`, `row` and `column` in
    `faults`, and nothing is recorded. Rows are matched to the collaboration's benefits by
    Reference (or Benefit ID); only what differs is recorded, so importing the same file again,
    or a file this service exported, records nothing (200). Each event's `evidence` names the
    file, sheet and row. An admin, or a force token of a current party, may import.
    """
    upload = form["file"]
    if not isinstance(upload, FileStorage):
        web.fail(422, "file must be the register's .xlsx file, sent as a file part", errors={"file": ["Not a file."]})
    name = "".join(ch for ch in (upload.filename or "").replace("\\", "/").rsplit("/", 1)[-1] if ch.isprintable())
    name = name.strip()[:200] or "register.xlsx"
    records, caller = web.records(), web.current_principal().caller
    records.check_may_import_benefits(str(collaboration_id), caller)  # before the file costs anything to read
    register = read_register(upload.read(), name)
    plan = records.import_benefits_register(
        str(collaboration_id),
        register,
        benefit_ids=web.queries().benefit_ids(str(collaboration_id)),
        caller=caller,
        effective_on=form["effective_on"],
        reason=form.get("reason"),
        dry_run=form["dry_run"] == "true",
    )
    recorded = form["dry_run"] != "true" and plan.events > 0
    document = {
        "file": name,
        "dry_run": form["dry_run"] == "true",
        "recorded": recorded,
        "rows": register.rows,
        "events": plan.events,
        "identified": plan.identified,
        "changed": plan.changed,
    }
    return Response(json.dumps(document), status=201 if recorded else 200, mimetype="application/json")
