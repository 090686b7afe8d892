"""CSV exports for auditors: the history, the decision log and the feed, streamed as
``text/csv; charset=utf-8`` so that they open in a spreadsheet.

- **Choosing.** ``?format=csv`` (or ``json``, the default) decides; without it, the ``Accept``
  header does (``text/csv`` or ``application/json``; none, or ``*/*``, means JSON). A client that
  accepts neither gets 406. ``format`` wins over ``Accept``.
- **No pages.** An export is every matching row; the JSON paging parameters (``page`` and
  ``page_size`` of the decision log, ``limit`` of the feed) are refused with 422 when the answer
  is CSV, rather than silently ignored.
- **Streaming.** The response is a generator: the source is read a chunk at a time (the
  history through the application's event store, the feed through ``select_notifications``
  pages, the decision log through keyset pages of its view) and written out every
  ``ROWS_PER_CHUNK`` rows, so memory stays bounded however long the export. The first item is
  read before the response starts, so that an unknown id or an unreachable store is still
  answered with a problem; a failure after that can only cut the stream short.
- **Cells.** RFC 4180 (the csv module, CRLF line ends, quotes where needed) with a header row.
  Nested values (``data``, ``forces``) are compact JSON with sorted keys, so money and shares
  inside them stay exact strings. Null is an empty cell.
- **Formula injection.** A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@``
  (and, in some, tab or carriage return) as a formula, so a reason like ``=HYPERLINK(...)``
  could act on the auditor's machine. Text cells starting with one of those (or their
  full-width forms U+FF1D, U+FF0B, U+FF0D, U+FF20) get a single quote in front, which
  spreadsheets show but do not run. The rule applies to text columns only: every column except
  the machine-made ones in ``EXACT_COLUMNS`` (numbers, ids, dates, type names, hashes, JSON),
  which cannot start that way and are written exactly as the JSON answers carry them. Money
  columns would go there too: a neutralised ``-5.00`` would no longer be an amount. (Today's
  exports carry money only inside ``data``, whose JSON text starts with ``{``.) The JSON answers
  carry every text exactly as recorded.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import chain
from typing import Any

from flask import request
from flask.wrappers import Response

from service import web
from service.queries import BENEFIT_ROW_FIELDS

JSON = "application/json"
CSV = "text/csv"
FORMATS = ("json", "csv")
ROWS_PER_CHUNK = 200
HEADS = ("H1", "H2", "H3", "H4", "H5", "H6", "H7", "H8")
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
EXACT_COLUMNS = frozenset(
    {
        "position",
        "stream_id",
        "aggregate_type",
        "version",
        "collaboration_id",
        "type",
        "effective_on",
        "recorded_at",
        "hash",
        "forces",
        "data",
        "as_of",
        "known_at",
        "notice_on",
        "notice_end",
        "exit_on",
        "quoted_on",
        "head",
        "amount",
        "inputs",
        "source_events",
        "seq",
        "event_id",
        "collaboration_version",
        "case_version",
        "exit_case_id",
        "line_amount",
        "payee",
        "party",
        "counterparty",
        "status",
        "computed",
        "claimed_less_computed",
        "assessed_less_claimed",
        "agreed_less_assessed",
        "agreed_less_computed",
        *HEADS,
        *(f"claimed_{head}" for head in HEADS),
        "total_before",
        "total",
        "claimed",
        "assessed",
        "agreed",
        "written_off",
        "paid",
        "outstanding",
        "before",
        "after",
        # the benefits dashboard and portfolio
        "benefit_id",
        "category",
        "sub_category",
        "function_id",
        "stage",
        "tolerance",
        "baseline_value",
        "baseline_on",
        "target_value",
        "target_on",
        "attribution",
        "latest_value",
        "latest_period_end",
        "cumulative_value",
        "realised_value",
        "realisation_percent",
        "expected_percent",
        "measurements_count",
    }
)

# The columns of each export, in order: the fields of the JSON items.
EVENT_COLUMNS = (
    "position",
    "stream_id",
    "version",
    "type",
    "effective_on",
    "recorded_at",
    "actor",
    "reason",
    "evidence",
    "approval_ref",
    "hash",
    "data",
)
HISTORY_COLUMNS = (*EVENT_COLUMNS[:2], "aggregate_type", *EVENT_COLUMNS[2:])  # a collaboration and its children
DECISION_COLUMNS = (
    "position",
    "stream_id",
    "version",
    "collaboration_id",
    "collaboration_name",
    "type",
    "summary",
    "effective_on",
    "recorded_at",
    "actor",
    "reason",
    "evidence",
    "approval_ref",
    "forces",
    "data",
)

QUOTE_COLUMNS = (
    "collaboration_id",
    "version",
    "force",
    "as_of",
    "known_at",
    "notice_on",
    "notice_end",
    "exit_on",
    "quoted_on",
    "head",
    "description",
    "amount",
    "formula",
    "inputs",
    "source_events",
)

QUOTE_PAYEE_COLUMNS = (
    *QUOTE_COLUMNS[:9],
    "head",
    "description",
    "line_amount",
    "payee",
    "amount",
    "formula",
    "inputs",
    "source_events",
)

DECOUPLING_COLUMNS = (
    "collaboration_id",
    "version",
    "function_id",
    "function_name",
    "status",
    "as_of",
    "known_at",
    "notice_on",
    "exit_on",
    "quoted_on",
    "head",
    "description",
    "party",
    "counterparty",
    "amount",
    "line_amount",
    "formula",
    "inputs",
    "source_events",
)

RECONCILIATION_COLUMNS = (
    "exit_case_id",
    "version",
    "force",
    "as_of",
    "known_at",
    "head",
    "computed",
    "claimed",
    "assessed",
    "agreed",
    "claimed_less_computed",
    "assessed_less_claimed",
    "agreed_less_assessed",
    "agreed_less_computed",
)

EXIT_COST_HISTORY_COLUMNS = (
    "seq",
    "position",
    "event_id",
    "type",
    "effective_on",
    "recorded_at",
    "actor",
    "reason",
    "collaboration_version",
    "case_version",
    "exit_case_id",
    "note",
    "notice_on",
    "exit_on",
    *HEADS,
    "total_before",
    "total",
    "claimed",
    "assessed",
    "agreed",
    "written_off",
    "paid",
    "outstanding",
    "before",
    "after",
)
EXIT_CASE_HISTORY_COLUMNS = (
    "seq",
    "position",
    "event_id",
    "type",
    "effective_on",
    "recorded_at",
    "actor",
    "reason",
    "collaboration_version",
    "case_version",
    *(f"claimed_{head}" for head in HEADS),
    "claimed",
    "assessed",
    "agreed",
    "written_off",
    "paid",
    "outstanding",
    "before",
    "after",
)

# The benefits dashboard and portfolio: one row per benefit, the fields of the JSON rows
# (``projections/benefits_realisation.py``). Values are exact decimal text in the benefit's unit;
# only rows with unit GBP are money.
BENEFIT_COLUMNS = (*BENEFIT_ROW_FIELDS, "stale")
CHANGE_COLUMNS = ("kind", "id", "title", "status", "op", "path", "was", "value")

CSV_RESPONSE_DOC = {
    "description": "OK: JSON, or the same as CSV (`?format=csv` or `Accept: text/csv`): a header row, then one row per "
    "item, streamed. Nested values are JSON text; null is an empty cell; text cells starting with = + - @ tab "
    "or CR are prefixed with a single quote (formula injection).",
    "schema": {"type": "string"},
}
FORMAT_NEGOTIATION = (
    "Answers JSON, or CSV with `?format=csv` or `Accept: text/csv` (`format` wins). A client that accepts "
    "neither gets 406."
)


# ------------------------------------------------------------------------------ choosing
def wants_csv(requested_format: str | None) -> bool:
    """Whether to answer with CSV: ``format`` if given, else the Accept header; 406 if the
    client accepts neither JSON nor CSV."""
    return negotiated_format(requested_format, {JSON: "json", CSV: "csv"}) == "csv"


def negotiated_format(requested_format: str | None, offered: Mapping[str, str]) -> str:
    """The name of the format to answer in: ``format`` if given, else the one of ``offered``
    (media type -> its ``format`` name; the first is the default) the Accept header prefers;
    406 if the client accepts none of them."""
    if requested_format is not None:
        return requested_format
    default = next(iter(offered.values()))
    accept = request.accept_mimetypes
    if not accept:
        return default
    best = accept.best_match(list(offered))
    if best is None:
        types, names = list(offered), list(offered.values())
        web.fail(
            406,
            f"this resource is available as {', '.join(types[:-1])} or {types[-1]} "
            f"(also ?format={', '.join(names[:-1])} or {names[-1]}), not as {request.headers.get('Accept')}",
        )
    return offered[best]


def refuse_paging(*names: str) -> None:
    """A CSV export is every matching row, streamed: it has no pages. Asking for one (``page``,
    ``page_size``, ``limit``) is 422 rather than silently answering all of them."""
    if given := [name for name in names if name in request.args]:
        detail = (
            f"a CSV export is every matching row, not a page: leave out {' and '.join(given)} "
            "(or ask for JSON pages with ?format=json)"
        )
        web.fail(422, detail, errors={name: [detail] for name in given})


def refuse_view_for_json(name: str) -> None:
    """A parameter that shapes only the CSV is refused with JSON rather than silently ignored."""
    detail = f"{name} shapes the CSV answer only (the JSON carries everything): ask with ?format=csv, or leave it out"
    web.fail(422, detail, errors={name: [detail]})


def negotiated(response: Response) -> Response:
    response.vary.add("Accept")
    return response


# ------------------------------------------------------------------------------ writing
def csv_response(items: Iterable[Mapping[str, Any]], columns: Sequence[str], filename: str) -> Response:
    """A streamed CSV download of ``items``. Reads the first item now, so that its errors
    (an unknown id, an unreachable store) are still answered with a problem."""
    iterator = iter(items)
    first = next(iterator, None)
    rows = iterator if first is None else chain([first], iterator)
    response = Response(csv_chunks(rows, columns), mimetype=CSV)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return negotiated(response)


def csv_chunks(items: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for count, item in enumerate(items, start=1):
        writer.writerow([cell(column, item.get(column)) for column in columns])
        if count % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def cell(column: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    text = str(value)
    return text if column in EXACT_COLUMNS else neutralised(text)


def neutralised(text: str) -> str:
    """Text a spreadsheet would run as a formula, with a single quote in front."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


# ------------------------------------------------------------------------------ sources
def quote_rows(quote: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """An exit-cost quote as rows: one per line, then a ``total`` row; each repeats the quote's
    basis (force, notice and exit dates), so any row read alone says what it is."""
    basis = {column: quote.get(column) for column in QUOTE_COLUMNS[:9]}
    for line in quote["lines"]:
        yield {**basis, **line}
    yield {**basis, "head": "total", "description": "sum of the rounded lines", "amount": quote["total"]}


def part_rows(
    basis: Mapping[str, Any], lines: Iterable[Mapping[str, Any]], parts: str, party_column: str
) -> Iterator[dict[str, Any]]:
    """One row per line and party share of it (``amount`` the party's part, ``line_amount`` the
    whole line's), the party in ``party_column``."""
    for line in lines:
        for part in line[parts]:
            yield {
                **basis,
                "head": line["head"],
                "description": line["description"],
                "line_amount": line["amount"],
                party_column: part["force"],
                **{key: part[key] for key in ("amount", "formula", "inputs", "source_events")},
            }


def quote_payee_rows(quote: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Who is paid what under a quote: one row per line and party it is shared with, then a
    ``total`` row per party."""
    basis = {column: quote.get(column) for column in QUOTE_COLUMNS[:9]}
    yield from part_rows(basis, quote["lines"], "payees", "payee")
    for payee in quote["payees"]:
        yield {
            **basis,
            "head": "total",
            "description": "what the force pays this party in all (negative: is paid by it)",
            "payee": payee["force"],
            "amount": payee["amount"],
            "inputs": payee["by_head"],
        }


def decoupling_rows(statement: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """A decoupling statement as rows: one per line and party, one per claim (``party`` pays
    ``counterparty``), then a ``net`` row per party (``inputs`` its share by head)."""
    basis = {column: statement.get(column) for column in DECOUPLING_COLUMNS[:10]}
    yield from part_rows(basis, statement["lines"], "shares", "party")
    for claim in statement["claims"]:
        yield {**basis, **claim, "party": claim["payer"], "counterparty": claim["payee"]}
    for position in statement["positions"]:
        yield {
            **basis,
            "head": "net",
            "description": "the party's share of every head, plus the claims it pays, less those it receives",
            "party": position["force"],
            "amount": position["net"],
            "inputs": {
                **position["by_head"],
                "claims_paid": position["claims_paid"],
                "claims_received": position["claims_received"],
            },
        }


def reconciliation_rows(reconciliation: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """A reconciliation as rows: one per head, then the total."""
    basis = {column: reconciliation.get(column) for column in RECONCILIATION_COLUMNS[:5]}
    for row in [*reconciliation["heads"], reconciliation["total"]]:
        yield {**basis, **row}


def exit_cost_history_rows(items: Iterable[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """A force's exit-cost history as flat rows: the figures after each event per head, the
    total before and after, the case totals, and the full before/after as JSON."""
    for item in items:
        after = item.get("after") or {}
        before = item.get("before") or {}
        yield {
            **item,
            "notice_on": after.get("notice_on"),
            "exit_on": after.get("exit_on"),
            **{head: (after.get("heads") or {}).get(head) for head in HEADS},
            "total_before": before.get("total"),
            "total": after.get("total"),
        }


def exit_case_history_rows(items: Iterable[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """An exit case's history as flat rows: the claimed figure per head after each event."""
    for item in items:
        by_head = (item.get("after") or {}).get("by_head") or {}
        yield {**item, **{f"claimed_{head}": (by_head.get(head) or {}).get("claimed") for head in HEADS}}
