"""Exit cases: the money side of a withdrawal or a decoupling. Claims, independent assessments,
disputes, the agreed settlement and its payments, each an immutable event of the case."""

from __future__ import annotations

import functools
from typing import Any
from uuid import UUID

import marshmallow as ma
from flask import jsonify
from flask.wrappers import Response

from service import exports, web
from service.api import Blueprint
from service.resources import common
from service.resources.common import NEXT_PAGE_HEADER, WRITE_HEADERS, TemporalQuerySchema
from service.resources.exit_cases import schemas as s

blp = Blueprint(
    "exit-cases",
    __name__,
    url_prefix="/api/v1/exit-cases",
    description="Exit cases: the claims, assessments, disputes, settlement and payments of a withdrawal or a "
    "decoupling, each an immutable event.",
)

ONE = "/<uuid:exit_case_id>"
CASE_ETAG = 'The exit case\'s version, e.g. "7"; send it back in If-Match'
ETAG_HEADER = {"ETag": {"description": CASE_ETAG, "schema": {"type": "string"}}}
CASE_WRITE_HEADERS = {
    **WRITE_HEADERS,
    **ETAG_HEADER,
    "Location": {"description": "The exit case: /api/v1/exit-cases/{id}", "schema": {"type": "string"}},
}


write_route = functools.partial(common.write_route, blp)
write_answer = functools.partial(common.write_answer, blp, headers=CASE_WRITE_HEADERS)


# --------------------------------------------------------------------------- opening
@write_route("")
@blp.arguments(s.OpenExitCaseSchema)
@write_answer(s.CompactExitCaseDocument, s.ExitCaseDocument)
@blp.problems(409, 412)
def open_case(body: dict[str, Any]) -> Response:
    """Open the exit case of a withdrawal or a decoupling

    With `trigger` `withdrawal`, name the withdrawing `force`: it must have served a withdrawal
    notice that stands. With `decoupling`, name the decoupled `function_id`: it must have been
    decoupled. Exactly one of `force` and `function_id` (422 otherwise). The case's parties are
    the collaboration's parties. There is one case per withdrawal and per decoupling: a second
    opening is 409. An unknown `collaboration_id` is 422 (`collaboration-not-found`). A force
    token may open cases only on collaborations its force is party to.
    """
    return web.record(web.records().open_exit_case, creating=True, **body)


# ----------------------------------------------------------------------- one exit case
@blp.route(ONE, methods=["GET"])
@blp.arguments(TemporalQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, s.ExitCaseDocument, headers=ETAG_HEADER)
@blp.problems(404)
def show(args: dict[str, Any], exit_case_id: UUID) -> Response:
    """An exit case: its figures (claimed, assessed, agreed, paid, outstanding, by head) and the facts behind them

    `claimed` is the sum of the current (not superseded) claims' lines; `assessed` the latest
    assessment's recommended amount; `agreed` and `written_off` the latest settlement's;
    `outstanding` is agreed less paid. Each fact carries the `source_version` of the case event
    that recorded it; the settlement's instalments show what has been paid towards each
    (payments are allocated in the order recorded, earliest due first).

    `as_of` (a date) answers with only the facts effective on or before it; `known_at` (an RFC
    3339 time) with only the events recorded at or before it; together, what was known then about
    that date. Asking about a time before the case was opened (or recorded) is 404. `links` name
    its history (its figures event by event) and its collaboration.
    """
    return web.about_collaboration(web.queries().exit_case(str(exit_case_id), **args))


@blp.route(f"{ONE}/reconciliation", methods=["GET"])
@blp.arguments(s.ReconciliationQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, s.ReconciliationDocument, headers=ETAG_HEADER)
@blp.alt_response(200, content_type=exports.CSV, **exports.CSV_RESPONSE_DOC)
@blp.problems(404, 406)
def reconciliation(args: dict[str, Any], exit_case_id: UUID) -> Response:
    """Where the settlement departed from the formula (an extension of the v1 contract)

    Per head and in total, read from one party's side (`force`; positive is money it pays): the
    figure the exit-cost method computes on the case's dates (`computed`: for a withdrawal case the
    withdrawing force's quote, from a remaining party's side minus what that quote pays it; for a
    decoupling case the party's share of each head and the claims it pays less those it
    receives), what was `claimed` (claims against the party count positive, by it negative,
    between others not at all), what the latest assessment recommended (`assessed`) and what the
    latest settlement agreed (`agreed`, with `written_off`), and the differences
    `claimed_less_computed`, `assessed_less_claimed`, `agreed_less_assessed` and
    `agreed_less_computed`. The assessment and the settlement count positive for the settlement's
    payer and negative for its payee (null for another party); before a settlement, the assessment
    counts positive for a party the claims are against. Head by head they are known only where a
    breakdown was recorded (the assessment's or the settlement's `lines`); otherwise null, and
    the `total` row has them. A case the method cannot compute (no exit terms, say) has null
    `computed` figures and a `note`. `as_of` and `known_at` answer as it stood.

    `force` defaults to the withdrawing force, or in a decoupling case to the settlement's payer
    (422 `perspective-required` without one). `?format=csv` answers one row per head, then the
    total.
    """
    as_csv = exports.wants_csv(args.pop("format", None))
    document = web.queries().reconciliation(str(exit_case_id), **args)
    if as_csv:
        rows = exports.reconciliation_rows(document)
        filename = f"reconciliation-{exit_case_id}-{document['force']}.csv"
        response = exports.csv_response(rows, exports.RECONCILIATION_COLUMNS, filename)
    else:
        response = exports.negotiated(jsonify(document))
    response.set_etag(str(document["version"]))
    return response


@blp.route(f"{ONE}/history", methods=["GET"])
@blp.arguments(s.ExitCaseHistoryQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, s.ExitCaseHistoryDocument, headers=NEXT_PAGE_HEADER)
@blp.alt_response(200, content_type=exports.CSV, **exports.CSV_RESPONSE_DOC)
@blp.problems(404, 406)
def history(args: dict[str, Any], exit_case_id: UUID) -> Response:
    """The exit-cost history of the case: one row per event that changed its figures

    In the order recorded: the opening (all figures zero), then each claim, assessment,
    settlement and payment (a dispute, closing or reopening only if a figure changed). Each row
    names its event (`event_id` `<case id>:<version>`, `position` in the global log, `type`,
    `recorded_at`, `effective_on`, `actor`, `reason`), the case and collaboration versions the
    figures were computed from, the figures per head `before` and `after`, and the totals
    claimed, assessed, agreed, written off, paid and outstanding after it. Any row can be
    re-derived by replaying the case's events up to it.

    JSON comes in pages of `limit` rows (1000 by default, at most 5000) after the log position
    `after`; `next_after` (also `Link: <...>; rel="next"`) is the last row's `position`, null on
    the last page.

    `?format=csv` (or `Accept: text/csv`) answers every row after `after`, one per event with
    the claimed figure per head as columns (no pages: `limit` with it is 422).
    """
    as_csv = exports.wants_csv(args.pop("format", None))
    case_id = str(exit_case_id)
    if as_csv:
        exports.refuse_paging("limit")
        rows = exports.exit_case_history_rows(web.queries().case_exit_cost_history(case_id, after=args["after"]))
        return exports.csv_response(rows, exports.EXIT_CASE_HISTORY_COLUMNS, f"exit-case-{case_id}-history.csv")
    page = web.queries().case_exit_cost_history_page(case_id, **args)
    document = {"exit_case_id": case_id, "items": page.items, "next_after": page.next_after}
    return web.with_next_page(exports.negotiated(jsonify(document)), page.next_after)


@write_route(f"{ONE}/claims")
@blp.arguments(s.ClaimSchema)
@write_answer(s.CompactClaimLodgedDocument, s.ClaimLodgedDocument)
@blp.problems(404, 409, 412)
def lodge_claim(body: dict[str, Any], exit_case_id: UUID) -> Response:
    """Lodge a claim: line items by cost head, with evidence; answers with its `claim_id`

    Heads are `H1`…`H8`; a mitigation is a negative line under the head it mitigates. The
    `claimant` and `respondent` are different parties of the case; a force token claims only as
    its own force (403). With `supersedes`, the claim replaces an earlier claim of the same
    claimant against the same respondent, which then no longer counts. Refused (422,
    `case-settled`) while the case is settled: reopen it first.
    """
    return web.record(web.records().lodge_claim, str(exit_case_id), **body)


@write_route(f"{ONE}/assessments")
@blp.arguments(s.AssessmentSchema)
@write_answer(s.CompactAssessmentRecordedDocument, s.AssessmentRecordedDocument)
@blp.problems(404, 409, 412)
def record_assessment(body: dict[str, Any], exit_case_id: UUID) -> Response:
    """Record an independent assessment; answers with its `assessment_id`

    The latest assessment counts. Its optional breakdown by head sums to `recommended_amount`,
    which is more than zero. A claim, an assessment and a settlement are separate facts: none is
    derived from another. Recorded by an administrator only: neither side records the
    independent assessment (403 for a force token).
    """
    return web.record(web.records().record_assessment, str(exit_case_id), **body)


@write_route(f"{ONE}/disputes")
@blp.arguments(s.DisputeSchema)
@write_answer(s.CompactDisputeRaisedDocument, s.DisputeRaisedDocument)
@blp.problems(404, 409, 412)
def raise_dispute(body: dict[str, Any], exit_case_id: UUID) -> Response:
    """Raise a dispute before the Home Secretary, a court or arbitration; answers with its `dispute_id`

    `raised_by` is a party of the case; a force token raises disputes only as its own force (403).
    """
    return web.record(web.records().raise_dispute, str(exit_case_id), **body)


@write_route(f"{ONE}/settlement")
@blp.arguments(s.SettlementSchema)
@write_answer(s.CompactExitCaseDocument, s.ExitCaseDocument)
@blp.problems(404, 409, 412)
def agree_settlement(body: dict[str, Any], exit_case_id: UUID) -> Response:
    """Record the agreed settlement: payer, payee, amount, write-offs and instalment plan

    The instalments' amounts sum to exactly `amount` and their due dates do not decrease (422
    otherwise). The case is then `settled`: further claims and settlements are refused until it
    is reopened. A revised settlement after reopening is at least what has been paid. Recorded
    by an administrator only, on the evidence of both sides' approvals (`approval_ref`, required):
    one side never records it alone (403 for a force token).
    """
    return web.record(web.records().agree_settlement, str(exit_case_id), **body)


@write_route(f"{ONE}/payments")
@blp.arguments(s.PaymentSchema)
@write_answer(s.CompactPaymentRecordedDocument, s.PaymentRecordedDocument)
@blp.problems(404, 409, 412)
def record_payment(body: dict[str, Any], exit_case_id: UUID) -> Response:
    """Record a payment under the settlement, from its payer to its payee; answers with its `payment_id`

    A payment needs a settlement (422 `no-settlement`), may not exceed what is outstanding
    (422 `overpayment`) and is not dated before the settlement (422
    `payment-before-settlement`); a refused payment records nothing. Recorded by the payee, who
    confirms receiving it, or by an administrator; the payer's token gets 403. Payments are
    allocated to the earliest instalment first.
    """
    return web.record(web.records().record_payment, str(exit_case_id), **body)


@write_route(f"{ONE}/closure")
@blp.arguments(s.MilestoneSchema)
@write_answer(s.CompactExitCaseDocument, s.ExitCaseDocument)
@blp.problems(404, 409, 412)
def close_case(body: dict[str, Any], exit_case_id: UUID) -> Response:
    """Close the exit case

    An extension of the v1 contract. A settled case closes once nothing is outstanding (422
    `outstanding-balance` otherwise); a case without a settlement may be closed as abandoned. A
    closed case refuses everything but reopening. It is not dated before the settlement or the
    last payment (422 `closed-before-settled`). Administrators only (403 for a force token).
    `reason` says why, as for every write.
    """
    return web.record(web.records().close_exit_case, str(exit_case_id), **body)


@write_route(f"{ONE}/reopening")
@blp.arguments(s.MilestoneSchema)
@write_answer(s.CompactExitCaseDocument, s.ExitCaseDocument)
@blp.problems(404, 409, 412)
def reopen_case(body: dict[str, Any], exit_case_id: UUID) -> Response:
    """Reopen a settled or closed exit case

    An extension of the v1 contract. Claims and a revised settlement are accepted again; the
    settlement and payments so far still stand. Only a settled or closed case can be reopened
    (422 `case-not-settled`), and not with a date before the closing it undoes (422
    `reopened-before-closed`). Administrators only (403 for a force token). `reason` says why,
    as for every write.
    """
    return web.record(web.records().reopen_exit_case, str(exit_case_id), **body)
