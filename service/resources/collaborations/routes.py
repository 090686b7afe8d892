"""Collaborations: the s22A agreements, their changes, their history, and the register."""

from __future__ import annotations

import functools
from datetime import date
from typing import Any
from uuid import UUID

import marshmallow as ma
from flask import jsonify
from flask.wrappers import Response

from service import exports, web
from service.api import Blueprint
from service.board_pack import board_pack as assemble_board_pack
from service.change_report import Window
from service.pdf import PdfUnavailable
from service.resources import common
from service.resources.collaborations import schemas as s
from service.resources.common import ETAG_HEADER, NEXT_PAGE_HEADER, WRITE_HEADERS, ApprovedWriteSchema
from service.webview.pack_document import pack_filename, pack_html, pack_pdf

blp = Blueprint(
    "collaborations",
    __name__,
    url_prefix="/api/v1/collaborations",
    description="Collaboration agreements: every change an immutable event; the central register.",
)

ONE = "/<uuid:collaboration_id>"


write_route = functools.partial(common.write_route, blp)
write_answer = functools.partial(common.write_answer, blp, headers=WRITE_HEADERS)


# --------------------------------------------------------------------- the register
@blp.route("", methods=["GET"])
@blp.arguments(s.RegisterQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, s.RegisterPageSchema)
def search_register(args: dict[str, Any]) -> Response:
    """The central register of collaborations

    Filter by `party`, `status`, `function` and free text `q`; paginated by `page` and
    `page_size` (at most 100). With `as_of` and/or `known_at`, the register as it stood: each
    collaboration as known at `known_at` and in effect on `as_of` (those not yet recorded or
    not yet in effect are left out), filtered and ordered the same way.
    """
    return jsonify(web.queries().register(**args))


@write_route("")
@blp.arguments(s.EstablishSchema)
@write_answer(s.CompactCollaborationDocument, s.CollaborationDocument)
@blp.problems(412)
def establish(body: dict[str, Any]) -> Response:
    """Establish a collaboration

    A force token may only create collaborations its force is party to.
    """
    return web.record(web.records().establish_collaboration, creating=True, **body)


# ------------------------------------------------------------------ one collaboration
@blp.route(ONE, methods=["GET"])
@blp.arguments(s.CollaborationQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, s.CollaborationDocument, headers=ETAG_HEADER)
@blp.problems(404)
def show(args: dict[str, Any], collaboration_id: UUID) -> Response:
    """A collaboration's current state, or its state after event `version`, or as it stood

    `known_at` answers with what had been recorded by that time (the last version recorded by
    then; with `version` too, the earlier of the two); `as_of` keeps only what was in effect on
    that date: parties joined, functions added and not yet decoupled, budgets, shares, terms,
    assets, contracts, notices and directions effective by then. Combined, they reproduce what a
    board saw on the day it decided. Either one before the collaboration existed is 404.

    Reviews and variations, which change no figure and grow with every one recorded, are
    previewed: the newest 20 of each, in the order recorded, with `reviews_total` and
    `variations_total`; all of them are at `links.reviews` and `links.variations`, a page at a
    time. `links.history` is its history.
    """
    return web.about_collaboration(web.queries().collaboration(str(collaboration_id), **args))


@blp.route(f"{ONE}/changes", methods=["GET"])
@blp.arguments(s.ChangesQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, s.ChangesDocument)
@blp.alt_response(200, content_type=exports.CSV, **exports.CSV_RESPONSE_DOC)
@blp.problems(404, 406)
def changes(args: dict[str, Any], collaboration_id: UUID) -> Response:
    """What changed between two points: the collaboration, its exit cases and its benefits

    One window: two recorded times (`known_from`, `known_to`: as known then against as known
    later; the events recorded between), or two effective dates (`effective_from`,
    `effective_to`: as it stood on each, as known now; the events effective between). The end
    defaults to now (today).

    Per entity that was added or changed, an RFC 6902 JSON Patch from its document at the start
    to its document at the end, each operation with the value it replaced or removed (`was`).
    The events of the window read as sentences; a **back-dated correction** (recorded in a
    recorded window but effective before it began, or effective in an effective window but
    recorded after it ended) is flagged `back_dated`.

    `?format=csv` answers one row per patch operation (`kind`, `id`, `title`, `status`, `op`,
    `path`, `was`, `value`; objects and lists in the last two as JSON).
    """
    answer_as = exports.negotiated_format(args.pop("format", None), {exports.JSON: "json", exports.CSV: "csv"})
    document = web.queries().changes(str(collaboration_id), Window.of(args))
    if answer_as == "csv":
        rows = [
            {**{key: entity[key] for key in ("kind", "id", "title", "status")}, **operation}
            for entity in document["entities"]
            for operation in entity["patch"]
        ]
        return exports.csv_response(rows, exports.CHANGE_COLUMNS, f"collaboration-{collaboration_id}-changes.csv")
    return exports.negotiated(jsonify(document))


PACK_TYPES = {exports.JSON: "json", "text/html": "html", "application/pdf": "pdf"}


@blp.route(f"{ONE}/board-pack", methods=["GET"])
@blp.arguments(s.BoardPackQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, s.BoardPackDocument)
@blp.alt_response(200, content_type="text/html", description="OK, as one printable HTML page (`?format=html`)")
@blp.alt_response(
    200,
    content_type="application/pdf",
    description="OK, as A4 PDF (`?format=pdf`)",
    schema={"type": "string", "format": "binary"},
)
@blp.problems(404, 406, 503)
def board_pack(args: dict[str, Any], collaboration_id: UUID) -> Response:
    """A board pack: the collaboration for a meeting, and what changed since the previous one

    For the meeting on `meeting_on` (default today), as recorded at `known_at` (default now;
    the pack states it, and asking again with it gives the same pack): the agreement as it stood
    (status, parties with how each left, functions, budgets and shares); each party's exit-cost
    position (a party still in: its quote line by line; a party that has left, or the parties of
    an ended agreement: how it left and its exit case, never a quote); the exit cases' figures;
    the benefits with RAG and stale readings; the decisions effective after `previous_on` up to
    the meeting; and the change report over those dates.

    Every figure has `refs`: the ids of the events it comes from. `references` lists each once
    with its log `position` and chain `hash`, to check against `/events`, the history or an
    inclusion proof. `?format=html` is the pack as one printable page, `?format=pdf` as A4 PDF
    (503 where the server lacks the PDF libraries). 404 when no agreement was in effect on the
    meeting date as recorded then.
    """
    answer_as = exports.negotiated_format(args.pop("format", None), PACK_TYPES)
    pack = assemble_board_pack(
        web.queries(),
        str(collaboration_id),
        meeting_on=args.get("meeting_on") or date.today(),
        **{key: args[key] for key in ("previous_on", "known_at") if key in args},
    )
    if answer_as == "json":
        return exports.negotiated(jsonify(pack))
    if answer_as == "html":
        return exports.negotiated(Response(pack_html(pack), mimetype="text/html"))
    try:
        pdf = pack_pdf(pack)
    except PdfUnavailable as error:
        web.fail(503, str(error))
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{pack_filename(pack, "pdf")}"'
    return exports.negotiated(response)


@blp.route(f"{ONE}/history", methods=["GET"])
@blp.arguments(s.HistoryQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, s.HistorySchema, headers={**ETAG_HEADER, **NEXT_PAGE_HEADER})
@blp.alt_response(200, content_type=exports.CSV, **exports.CSV_RESPONSE_DOC)
@blp.problems(404, 406)
def history(args: dict[str, Any], collaboration_id: UUID) -> Response:
    """Every event of the collaboration and its children, in log order

    The collaboration's own events, its exit cases' and its benefits' (the events quote lines
    cite as sources), ordered by their `position` in the global log; each names its `stream_id`
    and `aggregate_type` (`Collaboration`, `ExitCase` or `Benefit`), and its `version` is in that
    stream. `kind` keeps one kind only (`collaboration`, `exit_case` or `benefit`); `upto_version`
    keeps the events recorded up to that version of the collaboration (and reads no further). The
    ETag is the collaboration's version.

    JSON comes in pages of `limit` events (1000 by default, at most 5000) after the log position
    `after` (0, the default: from the start). `next_after` is the last event's position, to pass
    as `after` for the next page, also linked as `Link: <...>; rel="next"`; it is null on the
    last page. Positions only grow, so walking the pages gives every event once, in order.

    Answers JSON, or CSV with `?format=csv` or `Accept: text/csv` (`format` wins): a streamed
    download of every event after `after` (no pages: `limit` with it is 422) with the columns
    `position`, `stream_id`, `aggregate_type`, `version`, `type`, `effective_on`, `recorded_at`,
    `actor`, `reason`, `evidence`, `approval_ref`, `hash` and `data` (JSON). A client that accepts
    neither gets 406.
    """
    as_csv = exports.wants_csv(args.pop("format", None))
    one = str(collaboration_id)
    if as_csv:
        exports.refuse_paging("limit")
        args.pop("limit")
        version, items = web.queries().history(one, **args)
        response = exports.csv_response(items, exports.HISTORY_COLUMNS, f"collaboration-{collaboration_id}-history.csv")
    else:
        version, page = web.queries().history_page(one, **args)
        document = {"collaboration_id": one, "items": page.items, "next_after": page.next_after}
        response = web.with_next_page(exports.negotiated(jsonify(document)), page.next_after)
    response.set_etag(str(version))
    return response


@blp.route(f"{ONE}/reviews", methods=["GET"])
@blp.arguments(s.ListQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, s.ReviewsPageDocument, headers={**ETAG_HEADER, **NEXT_PAGE_HEADER})
@blp.problems(404)
def reviews(args: dict[str, Any], collaboration_id: UUID) -> Response:
    """Every review of the collaboration, a page at a time (an extension of the v1 contract)

    In the order recorded: the reviews recorded after version `after` (0, the default: from the
    first), `limit` of them (100 by default, at most 1000); `next_after` (also `Link: <...>;
    rel="next"`) is the last one's `source_version`, null on the last page; `total` counts them
    all. The collaboration's document shows only the newest 20. `as_of` and `known_at` answer as
    it stood, as for the collaboration.
    """
    return page_about_collaboration(web.queries().reviews(str(collaboration_id), **args))


@blp.route(f"{ONE}/variations", methods=["GET"])
@blp.arguments(s.ListQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, s.VariationsPageDocument, headers={**ETAG_HEADER, **NEXT_PAGE_HEADER})
@blp.problems(404)
def variations(args: dict[str, Any], collaboration_id: UUID) -> Response:
    """Every variation of the collaboration, a page at a time (an extension of the v1 contract)

    In the order recorded: the variations recorded after version `after` (0, the default: from
    the first), `limit` of them (100 by default, at most 1000); `next_after` (also `Link: <...>;
    rel="next"`) is the last one's `source_version`, null on the last page; `total` counts them
    all. The collaboration's document shows only the newest 20. `as_of` and `known_at` answer as
    it stood, as for the collaboration.
    """
    return page_about_collaboration(web.queries().variations(str(collaboration_id), **args))


def page_about_collaboration(document: dict[str, Any]) -> Response:
    return web.with_next_page(web.about_collaboration(document), document["next_after"])


@write_route(f"{ONE}/parties")
@blp.arguments(s.JoinPartySchema)
@write_answer(s.CompactCollaborationDocument, s.CollaborationDocument)
@blp.problems(404, 409, 412)
def join_party(body: dict[str, Any], collaboration_id: UUID) -> Response:
    """A force joins the collaboration

    Recorded by an administrator or by a force already party to it.
    """
    return web.record(web.records().join_party, str(collaboration_id), **body)


@write_route(f"{ONE}/functions")
@blp.arguments(s.AddFunctionSchema)
@write_answer(s.CompactFunctionAddedDocument, s.FunctionAddedDocument)
@blp.problems(404, 409, 412)
def add_function(body: dict[str, Any], collaboration_id: UUID) -> Response:
    """Add a function (business area) run jointly; answers with its `function_id`

    A function is hosted by one of the parties and may carry its first annual budget. Its costs
    are shared by the apportionment in effect for it (or for all functions).
    """
    return web.record(web.records().add_function, str(collaboration_id), **body)


@write_route(f"{ONE}/functions/<uuid:function_id>/budgets")
@blp.arguments(s.SetBudgetSchema)
@write_answer(s.CompactCollaborationDocument, s.CollaborationDocument)
@blp.problems(404, 409, 412)
def set_function_budget(body: dict[str, Any], collaboration_id: UUID, function_id: UUID) -> Response:
    """Set a function's annual budget for a financial year

    Every budget stays in the history with its effective date; the exit-cost method reads the
    budget in effect.
    """
    return web.record(web.records().set_function_budget, str(collaboration_id), function_id=str(function_id), **body)


@write_route(f"{ONE}/apportionments")
@blp.arguments(s.ApportionmentSchema)
@write_answer(s.CompactCollaborationDocument, s.CollaborationDocument)
@blp.problems(404, 409, 412)
def agree_apportionment(body: dict[str, Any], collaboration_id: UUID) -> Response:
    """Agree how costs are shared, for one function or (`function_id` null) all of them

    The shares are decimal strings of the parties, summing to exactly 1; they take effect on
    `effective_on` and replace the earlier apportionment from then on.
    """
    return web.record(web.records().agree_apportionment, str(collaboration_id), **body)


@write_route(f"{ONE}/exit-terms")
@blp.arguments(s.ExitTermsSchema)
@write_answer(s.CompactCollaborationDocument, s.CollaborationDocument)
@blp.problems(404, 409, 412)
def agree_exit_terms(body: dict[str, Any], collaboration_id: UUID) -> Response:
    """Agree the exit terms: notice period, stranded costs, caps per head

    An exit-cost quote applies the terms in effect on the notice date.
    """
    return web.record(web.records().agree_exit_terms, str(collaboration_id), **body)


@write_route(f"{ONE}/assets")
@blp.arguments(s.AssetSchema)
@write_answer(s.CompactAssetRegisteredDocument, s.AssetRegisteredDocument)
@blp.problems(404, 409, 412)
def register_asset(body: dict[str, Any], collaboration_id: UUID) -> Response:
    """Register a jointly funded asset; answers with its `asset_id`

    Who funded it (`funded_shares`) settles what each party is owed of it on exit.
    """
    return web.record(web.records().register_asset, str(collaboration_id), **body)


@write_route(f"{ONE}/contracts")
@blp.arguments(s.ContractSchema)
@write_answer(s.CompactContractCommittedDocument, s.ContractCommittedDocument)
@blp.problems(404, 409, 412)
def commit_contract(body: dict[str, Any], collaboration_id: UUID) -> Response:
    """Record a contract committed for a function; answers with its `contract_id`

    Its `break_cost` and `ends_on` give the contract-break head of an exit-cost quote.
    """
    return web.record(web.records().commit_contract, str(collaboration_id), **body)


@write_route(f"{ONE}/reviews")
@blp.arguments(s.ReviewSchema)
@write_answer(s.CompactCollaborationDocument, s.CollaborationDocument)
@blp.problems(404, 409, 412)
def hold_review(body: dict[str, Any], collaboration_id: UUID) -> Response:
    """Record a periodic review and its outcome

    A review changes no figure; it is a decision in the record and the decision log.
    """
    return web.record(web.records().hold_review, str(collaboration_id), **body)


@write_route(f"{ONE}/variations")
@blp.arguments(s.VariationSchema)
@write_answer(s.CompactCollaborationDocument, s.CollaborationDocument)
@blp.problems(404, 409, 412)
def agree_variation(body: dict[str, Any], collaboration_id: UUID) -> Response:
    """Record an agreed variation of a clause

    The clause and a summary of the change are kept as a decision in the record and the decision log.
    """
    return web.record(web.records().agree_variation, str(collaboration_id), **body)


# ------------------------------------------------------------- withdrawal and exit costs
@write_route(f"{ONE}/withdrawal-notices")
@blp.arguments(s.WithdrawalNoticeSchema)
@write_answer(s.CompactNoticeServedDocument, s.NoticeServedDocument)
@blp.problems(404, 409, 412)
def serve_withdrawal_notice(body: dict[str, Any], collaboration_id: UUID) -> Response:
    """Serve notice to withdraw

    `effective_on` is the notice date. The earliest exit date is the notice date plus the notice
    period of the exit terms in effect on it (month ends clamp, e.g. 31 Jan + 1 = 28/29 Feb); the
    status becomes `notice_served`. Refused (422) when `force` is not a party, already has a live
    notice, or no exit terms were in effect. A force token may serve notice only for its own force
    (403 otherwise).
    """
    return web.record(web.records().serve_withdrawal_notice, str(collaboration_id), **body)


@write_route(f"{ONE}/withdrawal-notices/withdrawals")
@blp.arguments(s.WithdrawalNoticeSchema)
@write_answer(s.CompactCollaborationDocument, s.CollaborationDocument)
@blp.problems(404, 409, 412)
def withdraw_notice(body: dict[str, Any], collaboration_id: UUID) -> Response:
    """Withdraw a live withdrawal notice

    The force stays a party; with no live notice left, the status is `active` again. A force token
    may withdraw only its own force's notice.
    """
    return web.record(web.records().withdraw_notice, str(collaboration_id), **body)


@write_route(f"{ONE}/party-withdrawals")
@blp.arguments(s.PartyWithdrawalSchema)
@write_answer(s.CompactCollaborationDocument, s.CollaborationDocument)
@blp.problems(404, 409, 412)
def record_withdrawal(body: dict[str, Any], collaboration_id: UUID) -> Response:
    """Record that a party left the agreement (an extension of the v1 contract)

    `effective_on` is the date it left: on or after its notice date (422 otherwise). It needs
    the force's live notice (422 without), which is then `completed`. The force is no longer a
    current party: new shares, assets, notices naming it are refused; it stays quotable on the
    notice it left on, with the date it left as the exit date. A force token records only its
    own force's withdrawal. Afterwards the force's tokens may no longer write to the agreement
    (403), though they still act on its exit case.
    """
    return web.record(web.records().record_withdrawal, str(collaboration_id), **body)


@write_route(f"{ONE}/termination")
@blp.arguments(ApprovedWriteSchema)
@write_answer(s.CompactCollaborationDocument, s.CollaborationDocument)
@blp.problems(404, 409, 412)
def terminate(body: dict[str, Any], collaboration_id: UUID) -> Response:
    """Record that the agreement ended (an extension of the v1 contract)

    By an administrator only (403 for a force token), with `approval_ref` (the parties' agreement
    or the decision ending it): the end is every party's act, never one side's alone.
    `effective_on` is the date it ended. The status becomes `terminated` and every later change
    to the agreement is refused (422). Its exit cases carry on: they are records of their own.
    """
    return web.record(web.records().terminate_agreement, str(collaboration_id), **body)


@write_route(f"{ONE}/functions/<uuid:function_id>/decoupling")
@blp.arguments(s.DecouplingSchema)
@write_answer(s.CompactCollaborationDocument, s.CollaborationDocument)
@blp.problems(404, 409, 412)
def decouple_function(body: dict[str, Any], collaboration_id: UUID, function_id: UUID) -> Response:
    """Decouple a function: it returns to a single force

    A mutual decision: recorded by an administrator only (403 for a force token), with
    `approval_ref` (the deciding body's minute). `effective_on` is the date the function leaves
    the joint structure; exit-cost quotes with an exit date on or after it leave the function
    (and its contracts and assets) out. A function is decoupled once (422 after that).
    """
    return web.record(web.records().decouple_function, str(collaboration_id), function_id=str(function_id), **body)


@write_route(f"{ONE}/directions")
@blp.arguments(s.DirectionSchema)
@write_answer(s.CompactCollaborationDocument, s.CollaborationDocument)
@blp.problems(404, 409, 412)
def give_direction(body: dict[str, Any], collaboration_id: UUID) -> Response:
    """Record an s23G direction: moves the exit date of the live notice(s)

    The Home Secretary's act, not a party's: recorded by an administrator only (403 for a force
    token), with `approval_ref` (the direction's reference). The direction in effect on a date is
    the one with the latest effective date (of those, the latest recorded), as for apportionments,
    so a direction back-dated before another does not override it from the other's date on.
    Refused (422) when no notice is live or the new exit date is before a live notice's date.
    """
    return web.record(web.records().give_direction, str(collaboration_id), **body)


@blp.route(f"{ONE}/exit-costs", methods=["GET"])
@blp.arguments(s.ExitCostsQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, s.ExitCostsDocument, headers=ETAG_HEADER)
@blp.alt_response(200, content_type=exports.CSV, **exports.CSV_RESPONSE_DOC)
@blp.problems(404, 406)
def exit_costs(args: dict[str, Any], collaboration_id: UUID) -> Response:
    """What a force owes (or is owed) on withdrawing, by the exit-cost method (docs/exit-cost-method.md)

    N (the notice date) is the force's live notice's date, else the quote date (`as_of` if given,
    else today). `exit_on` defaults to the live notice's exit date after any s23G directions, else
    to the earliest exit had notice been served on N (N plus the notice period, so H1 is 0).
    Functions decoupled on or before the exit date are left out. The claimed heads (H2, H3, H6,
    H8 and their mitigations) are the current claims of the force's withdrawal exit case. Each line
    gives its `formula`, its `inputs` (exact decimal strings) and, per input, the event that
    supplied it in `source_events`: `event_id` (`<collaboration id>:<version>`), its `version`, and
    its `position` and `hash` in the global log's audit chain. Money is a string to the penny,
    rounded half-up per line; the `total` is the sum of the lines. A force that is not a party is
    422. With `as_of` the quote is made on that date from what was in effect then; with
    `known_at`, from what had been recorded by then.

    **Who is paid.** Each line's `payees` share it among the parties: what the force pays each
    (negative: what that party pays the force), traced like the line. The remaining parties are
    the others still in the agreement after E; H1 and H4 are shared by each function's ratio on N,
    H5 by the ratio of the contract's function, H7 by the asset's funding shares (each among the
    remaining parties only; where they hold none, to the host force if it remains, else equally),
    a claimed line goes to (or, the force's own claim, comes from) the other party to the claim.
    Parts are rounded to the penny by the largest remainder, so they add up to the line exactly;
    `payees` gives each party's total by head. Claims enter by who they are between: a claim
    against the force is money it pays, a claim by it is a credit, a claim between two other
    parties is not in its quote. `basis` says where N and E came from, with their events.

    Once the agreement has ended, a force is quoted on the notice it was leaving on and the date it
    left (or the agreement ended); a force that was not leaving on notice gets 422
    `agreement-has-ended`: nothing is jointly run any more, so no fresh notice is supposed.

    A shareable quote: `?format=csv` (or `Accept: text/csv`) answers the lines as CSV, one row
    per line and a last `total` row, each carrying the quote's force, dates and basis;
    `&view=payees` answers one row per line and party, then one total row per party.
    """
    as_csv = exports.wants_csv(args.pop("format", None))
    view = args.pop("view", None)
    if view is not None and not as_csv:
        exports.refuse_view_for_json("view")
    document = web.queries().exit_quote(str(collaboration_id), **args)
    if as_csv:
        name = f"exit-costs-{collaboration_id}-{document['force']}-{document['exit_on']}"
        if view == "payees":
            rows, columns, name = exports.quote_payee_rows(document), exports.QUOTE_PAYEE_COLUMNS, f"{name}-payees"
        else:
            rows, columns = exports.quote_rows(document), exports.QUOTE_COLUMNS
        response = exports.csv_response(rows, columns, f"{name}.csv")
    else:
        response = exports.negotiated(jsonify(document))
    response.set_etag(str(document["version"]))
    return response


@blp.route(f"{ONE}/functions/<uuid:function_id>/decoupling-costs", methods=["GET"])
@blp.arguments(s.DecouplingCostsQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, s.DecouplingCostsDocument, headers=ETAG_HEADER)
@blp.alt_response(200, content_type=exports.CSV, **exports.CSV_RESPONSE_DOC)
@blp.problems(404, 406)
def decoupling_costs(args: dict[str, Any], collaboration_id: UUID, function_id: UUID) -> Response:
    """What decoupling a function costs each party (an extension of the v1 contract)

    A mutual decoupling: nobody withdraws, so each head is worked out for the function as a whole
    and shared among the parties by the function's ratio. E is the day the function leaves the
    joint structure (the recorded decoupling's date; for a function not yet decoupled, a proposal:
    `exit_on`, else the earliest exit had notice been given on the quote date). N is the recorded
    decision date (`decided_on` of the decoupling), or the quote date for a proposal; ratios,
    budget and exit terms are those in effect on N (on E where no decision date was recorded).

    Lines: H1 `B(f)·days(E, notice_end)/365` when E is before a notice period from N has run (0
    without a decision date), H4 `B(f)·stranded_cost_rate·stranded_cost_months/12`, H5 the break
    costs of the function's contracts committed on E, H7 minus the net book value on E of the
    function's assets. Each line's `shares` are the parties' parts (by the function's ratio; H7 by
    the assets' funding shares), rounded to the penny by the largest remainder so they add up to
    the line exactly. `claims` are the decoupling case's claims (H2, H3, H6, H8): money the
    respondent (`payer`) pays the claimant (`payee`). Each party's `positions` entry is its share
    of each head, the claims it pays and receives, and its `net`; the nets add up to `total`.
    Every input names its event. With `as_of`/`known_at`, as it stood.

    `?format=csv` answers one row per line and party, one per claim, then one `net` row per party.
    """
    as_csv = exports.wants_csv(args.pop("format", None))
    document = web.queries().decoupling_costs(str(collaboration_id), function_id=str(function_id), **args)
    if as_csv:
        filename = f"decoupling-costs-{collaboration_id}-{function_id}-{document['exit_on']}.csv"
        response = exports.csv_response(exports.decoupling_rows(document), exports.DECOUPLING_COLUMNS, filename)
    else:
        response = exports.negotiated(jsonify(document))
    response.set_etag(str(document["version"]))
    return response


@blp.route(f"{ONE}/exit-cost-history", methods=["GET"])
@blp.arguments(s.ExitCostHistoryQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, s.ExitCostHistoryDocument, headers=NEXT_PAGE_HEADER)
@blp.alt_response(200, content_type=exports.CSV, **exports.CSV_RESPONSE_DOC)
@blp.problems(404, 406)
def exit_cost_history(args: dict[str, Any], collaboration_id: UUID) -> Response:
    """The history of a force's exit figures: one row per event that changed them

    For auditors replaying how the figure came to be. Each row is an event (of the agreement,
    or of the force's withdrawal exit case) after which `force`'s standing exit figures changed:
    its `event_id`, `position`, `type`, `recorded_at`, `effective_on`, `actor` and `reason`; the
    figures `before` and `after` (`notice_on`, `exit_on`, amount per head, `total`; the `before`
    is the previous row's `after`); the totals of the force's exit case (`claimed`, `assessed`,
    `agreed`, `written_off`, `paid`, `outstanding`); and the `collaboration_version` and
    `case_version` they were computed from, so any row can be recomputed by replaying the events
    up to it. The figures are those `GET .../exit-costs?known_at=<the event's recorded_at>` gives:
    everything recorded up to the event, with a live notice on its dates, else as if notice were
    served on the event's effective date, leaving at the earliest exit.
    Where none can be computed (no exit terms yet), `after` is null and `note` says why. A force
    that is not a party is 422.

    JSON comes in pages of `limit` rows (1000 by default, at most 5000) after the log position
    `after`; `next_after` (also `Link: <...>; rel="next"`) is the last row's `position`, null on
    the last page.

    `?format=csv` (or `Accept: text/csv`) answers every row after `after`, one per event with a
    column per head (no pages: `limit` with it is 422).
    """
    as_csv = exports.wants_csv(args.pop("format", None))
    one, force = str(collaboration_id), args["force"]
    if as_csv:
        exports.refuse_paging("limit")
        items = web.queries().force_exit_cost_history(one, force, after=args["after"])
        filename = f"exit-cost-history-{collaboration_id}-{force}.csv"
        return exports.csv_response(exports.exit_cost_history_rows(items), exports.EXIT_COST_HISTORY_COLUMNS, filename)
    page = web.queries().force_exit_cost_history_page(one, force, after=args["after"], limit=args["limit"])
    document = {"collaboration_id": one, "force": force, "items": page.items, "next_after": page.next_after}
    return web.with_next_page(exports.negotiated(jsonify(document)), page.next_after)
