"""A board pack: what a board reads before a meeting, cut from the record so that it can be
checked against the record later.

For a collaboration and a meeting date (``meeting_on``), as known at the moment the pack is cut
(``known_at``, default now, and never later than now: given again, the same pack comes back):

- **the state** of the agreement in effect on the meeting date: its status, each party with how
  it joined and (if it did) how it left, each function's budget and shares;
- **each party's exit-cost position**: a party still in has its quote (what it would cost it to
  leave, notice served on the meeting date or its live notice), line by line; a party that has
  left, or every party of an ended agreement, has how it left and its exit case's figures
  instead, never a quote of a leaving that cannot happen;
- **the exit cases** and their figures;
- **the benefits**: the dashboard's totals, RAG counts and each benefit's realised and planned
  value, variance and RAG, stale readings flagged;
- **the decisions** taken since the previous pack (effective after ``previous_on``, up to the
  meeting), from the decision log;
- **the change report** over the same dates (``service/change_report.py``).

Every figure carries ``refs``: the ids (``stream:version``) of the events it comes from. The
pack's ``references`` list each of those events once with its log ``position`` and chain
``hash``, so a reader checks each figure against the record, or against an inclusion proof
(``/audit/proofs/inclusion?position=P``), without trusting the host.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from domain.errors import DomainError
from projections.decision_log import MAX_PAGE_SIZE, DecisionFilters
from service.benefits_export import provenance_of
from service.change_report import Window
from service.event_sentences import sentence_of

if TYPE_CHECKING:
    from service.queries import RecordQueries

CASE_FIGURES = ("claimed", "assessed", "agreed", "written_off", "paid", "outstanding")
BENEFIT_FIGURES = {"Realised value": "realised_value", "Planned value": "planned_value", "RAG": "rag"}


def figure_changes(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[int]]:
    """For each of an exit case's figures, the versions of the events that changed it, in order
    (from the case's exit-cost history rows): what "paid" is the sum of, say."""
    changes: dict[str, list[int]] = {}
    for row in rows:
        before, after = row["before"] or {}, row["after"] or {}
        for key in CASE_FIGURES:
            if key in after and after.get(key) != before.get(key) and not _starts_at_zero(before.get(key), after[key]):
                changes.setdefault(key, []).append(row["version"])
    return changes


def _starts_at_zero(before: Any, after: Any) -> bool:
    """A figure that first appears as nothing (a case opened with nothing paid) has no source."""
    return before is None and after is not None and Decimal(str(after)) == 0


def figure_sources(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """For each of an exit case's figures, the version of the last event that changed it."""
    return {key: versions[-1] for key, versions in figure_changes(rows).items()}


def board_pack(
    queries: RecordQueries,
    collaboration_id: str,
    *,
    meeting_on: date,
    previous_on: date | None = None,
    known_at: datetime | None = None,
) -> dict[str, Any]:
    """The board pack of ``collaboration_id`` for the meeting on ``meeting_on`` (see the module).
    Raises what the reads raise: CollaborationNotFound, NotYetInEffect (no agreement in effect on
    the meeting date, as known then)."""
    now = datetime.now(UTC)
    known_at = min(known_at, now) if known_at is not None else now  # a later time is not known yet
    read = {"as_of": meeting_on, "known_at": known_at}
    document = queries.collaboration(collaboration_id, **read)
    cases = queries.exit_cases_of(collaboration_id, **read)

    _, history = queries.history(collaboration_id)
    events = {
        f"{event['stream_id']}:{event['version']}": event
        for event in history
        if datetime.fromisoformat(event["recorded_at"]) <= known_at
    }
    own = f"{collaboration_id}:{{}}".format

    withdrawals = {entry["force"]: entry for entry in document.get("withdrawals", [])}
    case_of_force = {case["force"]: case for case in cases if case["trigger"] == "withdrawal" and case["force"]}
    ended = document["status"] == "terminated"
    parties = []
    for party in document["parties"]:
        force = party["force"]
        left = withdrawals.get(force)
        parties.append(
            {
                "force": force,
                "joined_on": party["joined_on"],
                "left_on": left["effective_on"] if left else None,
                "refs": [own(left["source_version"])] if left else [],
                "position": _position(queries, collaboration_id, force, left, ended, case_of_force.get(force), read),
            }
        )

    functions = [
        {
            "id": function["id"],
            "name": function["name"],
            "host_force": function.get("host_force"),
            "annual_budget": (function.get("budget_in_effect") or {}).get(
                "annual_budget", function.get("annual_budget")
            ),
            "budget_refs": _version_refs(own, function.get("budget_in_effect")),
            "shares": (function.get("shares_in_effect") or {}).get("shares"),
            "basis": (function.get("shares_in_effect") or {}).get("basis"),
            "shares_refs": _version_refs(own, function.get("shares_in_effect")),
            "decoupled_on": function.get("decoupled_on"),
        }
        for function in document["functions"]
    ]

    exit_cases = []
    for case in cases:
        changed_by = figure_changes(queries.case_exit_cost_history(case["id"], **read))
        exit_cases.append(
            {
                **{key: case[key] for key in ("id", "trigger", "force", "function_name", "status", "opened_on")},
                "closed_on": case.get("closed_on"),
                "figures": {
                    key: {
                        "amount": case[key],
                        "refs": [f"{case['id']}:{version}" for version in changed_by.get(key, [])],
                    }
                    for key in CASE_FIGURES
                },
            }
        )

    dashboard = queries.dashboard(collaboration_id, **read)
    benefits = _benefits(queries, dashboard["benefits"], read)

    since = previous_on or date.fromisoformat(document["established_on"]) - timedelta(days=1)
    names = {function["id"]: function["name"] for function in document["functions"]}
    decisions = _decisions(queries, collaboration_id, since, meeting_on, known_at, names)
    changes = queries.changes(collaboration_id, Window("effective", since, meeting_on), known_at=known_at)

    pack = {
        "collaboration_id": collaboration_id,
        "name": document["name"],
        "meeting_on": meeting_on.isoformat(),
        "previous_on": previous_on.isoformat() if previous_on else None,
        "known_at": known_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "state": {
            "status": document["status"],
            "lead_force": document["lead_force"],
            "governance_body": document.get("governance_body"),
            "established_on": document["established_on"],
            "terminated_on": document.get("terminated_on"),
            "refs": _status_refs(document, events, own),
            "parties": parties,
            "functions": functions,
        },
        "exit_cases": exit_cases,
        "benefits": {"read_on": dashboard["read_on"], "totals": dashboard["totals"]["all"], "items": benefits},
        "decisions": decisions,
        "changes": changes,
    }
    pack["references"] = _references(pack, events, names)
    return pack


def _position(
    queries: RecordQueries,
    collaboration_id: str,
    force: str,
    left: Mapping[str, Any] | None,
    ended: bool,
    case: Mapping[str, Any] | None,
    read: Mapping[str, Any],
) -> dict[str, Any]:
    """A party's exit-cost position: ``left`` (how it left, and its exit case), ``ended`` (the
    agreement ended with the party in it), or ``in`` with its quote."""
    exit_case = {"id": case["id"], "status": case["status"]} if case else None
    if left is not None:
        return {"kind": "left", "left_on": left["effective_on"], "exit_case": exit_case}
    if ended:
        return {"kind": "ended", "exit_case": exit_case}
    try:
        quote = queries.exit_quote(collaboration_id, force=force, **read)
    except DomainError as error:
        return {"kind": "in", "quote": None, "why_no_quote": str(error)}
    return {
        "kind": "in",
        "quote": {
            "notice_served": quote["notice_served"],
            "notice_on": quote["notice_on"],
            "exit_on": quote["exit_on"],
            "total": quote["total"],
            "lines": [
                {
                    "head": line["head"],
                    "description": line["description"],
                    "amount": line["amount"],
                    "refs": sorted({source["event_id"] for source in line["source_events"].values()}, key=_ref_order),
                }
                for line in quote["lines"]
            ],
            "payees": [{"force": payee["force"], "amount": payee["amount"]} for payee in quote["payees"]],
        },
    }


def _benefits(queries: RecordQueries, rows: list[dict[str, Any]], read: Mapping[str, Any]) -> list[dict[str, Any]]:
    benefits = {
        str(benefit.id): benefit for benefit in queries.benefits_at([row["benefit_id"] for row in rows], **read)
    }
    items = []
    for row in rows:
        refs: dict[str, list[str]] = {key: [] for key in BENEFIT_FIGURES.values()}
        benefit = benefits.get(row["benefit_id"])
        for figure, event_type, version, _, _ in provenance_of(benefit, row) if benefit else []:
            ref = f"{row['benefit_id']}:{version}"
            if (
                figure in BENEFIT_FIGURES
                and not event_type.startswith("(")
                and ref not in refs[BENEFIT_FIGURES[figure]]
            ):
                refs[BENEFIT_FIGURES[figure]].append(ref)
        items.append(
            {
                **{
                    key: row.get(key)
                    for key in (
                        "benefit_id",
                        "reference",
                        "title",
                        "kind",
                        "pillar",
                        "stage",
                        "unit",
                        "realised_value",
                        "planned_value",
                        "variance",
                        "rag",
                        "rag_derived",
                        "rag_overridden",
                        "confidence",
                        "latest_period_end",
                        "stale",
                        "measurement_due_by",
                    )
                },
                "refs": refs,
            }
        )
    return items


def _decisions(
    queries: RecordQueries,
    collaboration_id: str,
    since: date,
    meeting_on: date,
    known_at: datetime,
    function_names: Mapping[str, str],
) -> list[dict[str, Any]]:
    """The decisions effective after ``since`` up to the meeting, recorded by ``known_at``."""
    filters = DecisionFilters(
        collaboration=collaboration_id, effective_from=since + timedelta(days=1), effective_to=meeting_on
    )
    decisions, after = [], None
    while True:
        page = queries.decisions(filters, after=after, page_size=MAX_PAGE_SIZE)
        decisions += [
            {
                "event_id": f"{item['stream_id']}:{item['version']}",
                "type": item["type"],
                "summary": item["summary"],
                "sentence": sentence_of(item["type"], item.get("data"), function_names),
                "effective_on": item["effective_on"],
                "recorded_at": item["recorded_at"],
                "actor": item.get("actor"),
                "reason": item.get("reason"),
                "approval_ref": item.get("approval_ref"),
            }
            for item in page["items"]
            if datetime.fromisoformat(item["recorded_at"]) <= known_at
        ]
        after = page.get("next_after")
        if after is None:
            return decisions


def _status_refs(document: Mapping[str, Any], events: Mapping[str, Mapping[str, Any]], own: Any) -> list[str]:
    """The events behind the agreement's status: its termination, or the notices served and live."""
    if document["status"] == "terminated":
        stream = str(document["id"])
        return [
            event_id
            for event_id, event in events.items()
            if event["stream_id"] == stream and event["type"] == "Collaboration.AgreementTerminated"
        ][-1:]
    return [own(notice["source_version"]) for notice in document.get("notices", []) if notice["status"] == "live"]


def _version_refs(own: Any, entry: Mapping[str, Any] | None) -> list[str]:
    return [own(entry["source_version"])] if entry and entry.get("source_version") else []


def _ref_order(event_id: str) -> tuple[str, int]:
    stream, _, version = event_id.rpartition(":")
    return stream, int(version)


def _references(
    pack: Mapping[str, Any], events: Mapping[str, Mapping[str, Any]], function_names: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Every event the pack cites, once, in log order: its id, position, hash, type, dates and
    sentence."""
    cited: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                if key in ("refs", "budget_refs", "shares_refs") and isinstance(inner, list):
                    cited.update(inner)
                elif key == "refs" and isinstance(inner, dict):
                    for refs in inner.values():
                        cited.update(refs)
                elif key == "event_id" and isinstance(inner, str):
                    cited.add(inner)
                else:
                    walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk({key: value for key, value in pack.items() if key != "changes"})
    references = []
    for event_id in cited:
        event = events.get(event_id)
        if event is None:  # not recorded by the pack's known_at: never cited, but never hidden either
            continue
        references.append(
            {
                "event_id": event_id,
                "position": event["position"],
                "hash": event["hash"],
                "type": event["type"],
                "effective_on": event.get("effective_on"),
                "recorded_at": event["recorded_at"],
                "sentence": sentence_of(event["type"], event.get("data"), function_names),
            }
        )
    return sorted(references, key=lambda reference: reference["position"])
