"""JSON-ready documents of exit-cost answers (a withdrawal quote, a decoupling statement, a
settlement reconciliation), with every input traced to the event that supplied it.

The domain names a source as (aggregate, version); ``EventSources`` turns each into what an
auditor follows: ``event_id`` (``<stream id>:<version>``), ``version``, and its ``position``
and ``hash`` in the global log's audit chain. Sources are collected first and looked up once
per stream, because a long quote cites a few hundred events many times over.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol
from uuid import UUID

from domain.decoupling_costs import DecouplingStatement
from domain.exit_costs import ExitQuote, PayeeShare, QuoteLine
from domain.reconciliation import Reconciliation, ReconciliationRow
from domain.values import Money


class ChainLookup(Protocol):
    def stream_chain(self, originator_id: UUID, versions: Any = None) -> dict[int, tuple[int, str]]: ...


class EventSources:
    """The events cited by an answer, looked up once per stream. ``default_stream`` is the
    aggregate meant where a source names none (the collaboration)."""

    def __init__(self, chain: ChainLookup, default_stream: str):
        self.chain = chain
        self.default_stream = default_stream
        self.wanted: dict[str, set[int]] = {}
        self.found: dict[tuple[str, int], dict[str, Any]] = {}

    def stream(self, stream: str | None) -> str:
        return stream or self.default_stream

    def want(self, stream: str | None, versions: Iterable[int]) -> None:
        self.wanted.setdefault(self.stream(stream), set()).update(versions)

    def want_line(self, line: QuoteLine) -> None:
        if line.input_streams:
            for name, version in line.source_versions.items():
                self.want(line.stream_of(name), [version])
        else:  # every input from the line's own aggregate: one set update, not one per input
            self.want(line.source_id, line.source_versions.values())
        for payee in line.payees:
            self.want(payee.source_id, payee.source_versions.values())

    def resolve(self) -> None:
        for stream, versions in self.wanted.items():
            missing = {version for version in versions if (stream, version) not in self.found}
            if not missing:
                continue
            chain = self.chain.stream_chain(UUID(stream), versions=missing)
            for version in missing:
                position, digest = chain.get(version, (None, None))
                self.found[stream, version] = {
                    "event_id": f"{stream}:{version}",
                    "version": version,
                    "position": position,
                    "hash": digest,
                }
        self.wanted.clear()

    def event(self, stream: str | None, version: int) -> dict[str, Any]:
        return self.found[self.stream(stream), version]

    def events(self, versions: Mapping[str, int], stream: str | None) -> dict[str, dict[str, Any]]:
        """The event behind each input, all of them from ``stream``'s events."""
        stream = self.stream(stream)
        found = self.found
        return {name: found[stream, version] for name, version in versions.items()}


def line_document(line: QuoteLine, sources: EventSources, shares_key: str = "payees") -> dict[str, Any]:
    """A line: its head, amount, formula, inputs, the event behind each input (``source_events``),
    the inputs worked out from others (``derived``), and its parts by party (``shares_key``)."""
    return {
        "head": line.head,
        "description": line.description,
        "amount": str(line.amount),
        "formula": line.formula,
        "inputs": dict(line.inputs),
        "source_events": (
            {name: sources.event(line.stream_of(name), v) for name, v in line.source_versions.items()}
            if line.input_streams
            else sources.events(line.source_versions, line.source_id)
        ),
        "derived": {name: list(parts) for name, parts in line.derived.items()},
        shares_key: [payee_document(payee, sources) for payee in line.payees],
    }


def payee_document(payee: PayeeShare, sources: EventSources) -> dict[str, Any]:
    return {
        "force": payee.force,
        "amount": str(payee.amount),
        "formula": payee.formula,
        "inputs": dict(payee.inputs),
        "source_events": sources.events(payee.source_versions, payee.source_id),
        "derived": {name: list(parts) for name, parts in payee.derived.items()},
    }


def basis_document(answer: ExitQuote | DecouplingStatement, sources: EventSources) -> dict[str, Any]:
    """Where N and E came from: each date, why, and the event that fixed it (resolved already)."""

    def date_basis(name: str, day: Any, version: int | None) -> dict[str, Any]:
        event = sources.event(None, version) if version is not None else None
        return {"on": day.isoformat(), "why": answer.basis.get(name), "event": event}

    return {
        "N": date_basis("N", answer.notice_on, answer.notice_version),
        "E": date_basis("E", answer.exit_on, answer.exit_version),
    }


def quote_document(quote: ExitQuote, sources: EventSources) -> dict[str, Any]:
    """The calculated part of a withdrawal quote: its dates and where they came from, its lines,
    its total, and who is paid what (``payees``, summing exactly to the total)."""
    for line in quote.lines:
        sources.want_line(line)
    sources.want(None, [v for v in (quote.notice_version, quote.exit_version) if v is not None])
    sources.resolve()
    return {
        "notice_on": quote.notice_on.isoformat(),
        "notice_end": quote.notice_end.isoformat(),
        "exit_on": quote.exit_on.isoformat(),
        "quoted_on": quote.quoted_on.isoformat(),
        "basis": basis_document(quote, sources),
        "lines": [line_document(line, sources) for line in quote.lines],
        "total": str(quote.total),
        "remaining_parties": list(quote.remaining),
        "payees": [
            {
                "force": payee.force,
                "amount": str(payee.amount),
                "by_head": {head: str(amount) for head, amount in payee.by_head.items()},
            }
            for payee in quote.payees
        ],
        "unallocated": str(quote.unallocated),
    }


def decoupling_document(statement: DecouplingStatement, sources: EventSources) -> dict[str, Any]:
    """The calculated part of a decoupling statement: its dates and where they came from, its
    lines with each party's share (``shares``, summing exactly to the line), the claims between
    the parties, each party's position, and the total (the sum of the computed lines, which the
    net positions add up to)."""
    for line in statement.lines:
        sources.want_line(line)
    for transfer in statement.transfers:
        for name, version in transfer.source_versions.items():
            sources.want(transfer.stream_of(name), [version])
    sources.want(None, [v for v in (statement.notice_version, statement.exit_version) if v is not None])
    sources.resolve()
    return {
        "function_id": statement.function_id,
        "function_name": statement.function_name,
        "status": "decoupled" if statement.decoupled else "proposed",
        "notice_on": statement.notice_on.isoformat(),
        "notice_end": statement.notice_end.isoformat(),
        "exit_on": statement.exit_on.isoformat(),
        "quoted_on": statement.quoted_on.isoformat(),
        "basis": basis_document(statement, sources),
        "parties": list(statement.parties),
        "lines": [line_document(line, sources, "shares") for line in statement.lines],
        "claims": [
            {
                "head": transfer.head,
                "description": transfer.description,
                "amount": str(transfer.amount),
                "payer": transfer.payer,
                "payee": transfer.payee,
                "formula": transfer.formula,
                "inputs": dict(transfer.inputs),
                "source_events": {
                    name: sources.event(transfer.stream_of(name), version)
                    for name, version in transfer.source_versions.items()
                },
            }
            for transfer in statement.transfers
        ],
        "positions": [
            {
                "force": position.force,
                "by_head": {head: str(amount) for head, amount in position.by_head.items()},
                "claims_paid": str(position.claims_paid),
                "claims_received": str(position.claims_received),
                "net": str(position.net),
            }
            for position in statement.positions
        ],
        "total": str(statement.total),
    }


def reconciliation_document(reconciliation: Reconciliation) -> dict[str, Any]:
    """A reconciliation's rows: per head, then the total, each with its four figures and their
    differences (null where not known)."""

    def text(money: Money | None) -> str | None:
        return None if money is None else str(money)

    def row(entry: ReconciliationRow) -> dict[str, Any]:
        return {
            "head": entry.head,
            **{name: text(value) for name, value in entry.figures.items()},
            **{name: text(value) for name, value in entry.differences.items()},
        }

    return {
        "heads": [row(entry) for entry in reconciliation.rows],
        "total": row(reconciliation.total),
        "written_off": text(reconciliation.written_off),
    }
