"""``collab-verify``: checks an evidence bundle offline, with no access to the service.

It needs the bundle file, the log's verifier key and the forces' witness keys, each as the host
and the forces gave them (out of band; never the keys the bundle names). It needs only the
standard library and ``cryptography``, and checks:

1. **the checkpoint**: a C2SP signed note of the log's origin, signed by the log's key, and
   cosigned by the witnesses the policy requires (``--witness`` keys: all, or ``--quorum K``;
   ``--witnesses FILE`` with ``--all-parties``: a cosignature from every party the bundle
   names). It reports which witnesses vouched;
2. **every event**: its document's RFC 9162 inclusion proof leads to the checkpoint's root;
3. **every citation**: each event a figure cites is in the bundle, at that position, with that
   stream and version, and its chain hash is SHA-256 of the document;
4. **the figures** (an exit-cost quote): each input value of each line appears in the data of
   the event it cites, and each line's arithmetic is re-done by its formula (the exit-cost
   method, rounded half-up to the penny), as are the payees' parts and the totals. An exit
   case's bundle must hold its whole stream; a history's, each row's event.

Any failure is reported with where (the line, input or event) and why, and the exit status is 1.
Exit 0: every check passed. Exit 2: the bundle or a key could not be read.
"""

from __future__ import annotations

import argparse
import base64
import calendar
import hashlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from fractions import Fraction
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature

from service.audit import merkle, notes

FORMAT = "collaboration-records/evidence-bundle/v1"
PENNY = Decimal("0.01")
PRECISION = 50
OK, NOT_OK, UNREADABLE = 0, 1, 2


class Unreadable(Exception):
    """The bundle or a key cannot be read at all."""


@dataclass
class Report:
    failures: list[dict[str, str]] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    vouched: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    not_recomputed: list[dict[str, str]] = field(default_factory=list)

    def fail(self, where: str, reason: str) -> None:
        self.failures.append({"where": where, "reason": reason})

    def count(self, what: str) -> None:
        self.checked[what] = self.checked.get(what, 0) + 1

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "failures": self.failures,
            "checked": self.checked,
            "witnesses_vouched": self.vouched,
            "witnesses_missing": self.missing,
            "not_recomputed": self.not_recomputed,
        }


@dataclass(frozen=True)
class Policy:
    log_key: notes.Verifier
    witnesses: dict[str, notes.Verifier]  # force (or the key's name) -> key
    quorum: int | None = None  # None: all of ``witnesses``
    all_parties: bool = False  # the witnesses of every party named (``parties``, and by the bundle)
    parties: tuple[str, ...] = ()  # the collaboration's parties, as the verifier knows them


# ------------------------------------------------------------------------------ checks
SEAL_CONTEXT = b"collaboration-records/evidence-bundle/v1 seal\n"


def canonical(value: Any) -> bytes:
    """The one byte form of a bundle: keys sorted, no whitespace, UTF-8. A file in any other
    form is refused, so no byte of it can change without changing what it says."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def verify_file(data: bytes, policy: Policy) -> Report:
    """A bundle file: its one canonical byte form (a trailing newline allowed), then its checks."""
    try:
        bundle = json.loads(data)
    except ValueError as error:
        report = Report()
        report.fail("bundle", f"not JSON: {error}")
        return report
    report = verify_bundle(bundle, policy)
    if data.rstrip(b"\n") != canonical(bundle):
        report.fail("bundle", "not in its canonical form (keys sorted, no whitespace): it was edited or re-indented")
    return report


def verify_bundle(bundle: Any, policy: Policy) -> Report:
    """Every check of a parsed bundle; a bundle of the wrong shape fails, never crashes."""
    report = Report()
    try:
        _verify(bundle, policy, report)
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as error:
        report.fail("bundle", f"malformed: {type(error).__name__} {error}")
    return report


def _verify(bundle: Any, policy: Policy, report: Report) -> None:
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        report.fail("bundle", f"not an evidence bundle of format {FORMAT}")
        return
    unsealed = {name: value for name, value in bundle.items() if name != "seal"}
    try:
        seal = base64.b64decode(str(bundle.get("seal")), validate=True)
        policy.log_key.ed25519().verify(seal, SEAL_CONTEXT + canonical(unsealed))
        report.count("seal")
    except (InvalidSignature, ValueError):
        report.fail("seal", "the service's seal does not verify with the log key: the bundle was altered after sealing")
    checkpoint = _checkpoint(bundle, policy, report)
    events = _events(bundle, checkpoint, report)
    figures = bundle.get("figures")
    for where, ref in citations(figures):
        _citation(where, ref, events, report)
    kind = bundle.get("kind")
    if kind == "exit-cost-quote":
        QuoteCheck(figures, events, report).run()
    elif kind == "exit-case":
        _whole_stream(figures, events, report)
    elif kind == "collaboration-history":
        _history(figures, events, report)
    else:
        report.fail("kind", f"unknown bundle kind {kind!r}")


def _checkpoint(bundle: dict[str, Any], policy: Policy, report: Report) -> notes.CheckpointBody | None:
    try:
        note = notes.parse_note(bundle.get("checkpoint"))  # type: ignore[arg-type]
        body = notes.parse_checkpoint(note.text)
    except notes.NoteError as error:
        report.fail("checkpoint", f"not a signed checkpoint: {error}")
        return None
    if body.origin != policy.log_key.name:
        report.fail("checkpoint", f"origin {body.origin!r} is not the log key's name {policy.log_key.name!r}")
    if policy.all_parties:
        parties = sorted(set(policy.parties) | named_parties(bundle))
        if not parties:
            report.fail("policy", "no party is named: give the collaboration's parties with --party")
        for party in parties:
            if party not in policy.witnesses:
                report.fail("policy", f"no witness key was given for party {party}")
        required = [policy.witnesses[party] for party in parties if party in policy.witnesses]
        quorum = None
    else:
        required, quorum = list(policy.witnesses.values()), policy.quorum
    try:
        result = notes.check_policy(note, policy.log_key, required, quorum)
    except notes.NoteError as error:
        report.fail("checkpoint", f"a signature by a trusted key does not verify: {error}")
        return None
    report.vouched, report.missing = list(result.vouched), list(result.missing)
    if not result.log_signed:
        report.fail("checkpoint", "not signed by the log's key")
    elif not result.ok:
        report.fail(
            "policy",
            f"{len(result.vouched)} of the {result.needed} witness cosignatures required; missing: "
            + ", ".join(result.missing),
        )
    report.count("checkpoint")
    return body


def named_parties(bundle: dict[str, Any]) -> set[str]:
    """Every party the bundle names: its ``parties``, and those its figures name (a quote's force,
    remaining parties and payees; an exit case's parties)."""
    named: set[str] = set()
    figures = bundle.get("figures") if isinstance(bundle.get("figures"), dict) else {}
    for source in (bundle.get("parties"), figures.get("parties"), figures.get("remaining_parties")):
        if isinstance(source, list):
            named.update(str(party if not isinstance(party, dict) else party.get("force")) for party in source)
    if isinstance(figures.get("force"), str):
        named.add(figures["force"])
    for entry in figures.get("payees") or []:
        if isinstance(entry, dict) and isinstance(entry.get("force"), str):
            named.add(entry["force"])
    return named


def _events(
    bundle: dict[str, Any], checkpoint: notes.CheckpointBody | None, report: Report
) -> dict[int, tuple[dict[str, Any], str]]:
    """position -> (the event's document, its chain hash) for each event whose proof verifies."""
    verified: dict[int, tuple[dict[str, Any], str]] = {}
    entries = bundle.get("events")
    if not isinstance(entries, list):
        report.fail("events", "the bundle holds no list of events")
        return verified
    entries_by_position: list[tuple[int, int]] = []
    for number, entry in enumerate(entries):
        where = f"events[{number}]"
        try:
            position, index, text = entry["position"], entry["leaf_index"], entry["document"]
            path = [bytes.fromhex(node) for node in entry["audit_path"]]
            if type(position) is not int or type(index) is not int or not isinstance(text, str):
                raise TypeError("position and leaf_index are integers, document is text")
            document = json.loads(text)
        except (KeyError, TypeError, ValueError) as error:
            report.fail(where, f"not an event entry: {error}")
            continue
        where = f"event at position {position}"
        if not 0 <= index < position:  # a leaf's index is its seq - 1, and seq never passes the position
            report.fail(where, f"leaf {index} cannot hold the event at position {position}")
            continue
        previous = entries_by_position[-1] if entries_by_position else (None, None)
        if previous[0] is not None and (position <= previous[0] or index <= previous[1]):
            report.fail(where, "the bundle's events are not in log order, one leaf each")
            continue
        entries_by_position.append((position, index))
        if not isinstance(document, dict) or document.get("position") != position:
            report.fail(where, "its document is not the event at that position")
            continue
        if checkpoint is None:
            continue
        try:
            merkle.verify_inclusion(index, checkpoint.size, merkle.leaf_hash(text.encode()), path, checkpoint.root)
        except ValueError as error:
            report.fail(where, f"its inclusion proof does not lead to the checkpoint's root: {error}")
            continue
        verified[position] = (document, hashlib.sha256(text.encode()).hexdigest())
        report.count("events proven")
    return verified


def citations(value: Any, where: str = "figures") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every event reference in a figures document, with where it is: an object with an
    ``event_id``, a ``position`` and a ``hash`` (a source event, a basis)."""
    if isinstance(value, dict):
        if "event_id" in value and "position" in value and "hash" in value:
            yield where, value
        for key, item in value.items():
            yield from citations(item, f"{where}.{key}")
    elif isinstance(value, list):
        for number, item in enumerate(value):
            yield from citations(item, f"{where}[{number}]")


def _citation(where: str, ref: dict[str, Any], events: dict[int, tuple[dict[str, Any], str]], report: Report) -> None:
    found = events.get(ref.get("position"))  # type: ignore[arg-type]
    if found is None:
        report.fail(where, f"cites the event at position {ref.get('position')}, which the bundle does not prove")
        return
    document, digest = found
    if ref.get("hash") != digest:
        report.fail(
            where, f"cites hash {ref.get('hash')}, but the event at position {ref['position']} hashes to {digest}"
        )
        return
    stream, _, version = str(ref.get("event_id")).rpartition(":")
    if (document.get("stream_id"), str(document.get("version"))) != (stream, version):
        report.fail(where, f"cites {ref.get('event_id')}, but position {ref['position']} holds another event")
        return
    report.count("citations")


def _whole_stream(figures: Any, events: dict[int, tuple[dict[str, Any], str]], report: Report) -> None:
    """An exit case's bundle holds every event of its stream, versions 1 to its version."""
    if not isinstance(figures, dict):
        report.fail("figures", "not an exit case")
        return
    stream = str(figures.get("id") or figures.get("exit_case_id"))
    versions = sorted(d["version"] for d, _ in events.values() if d.get("stream_id") == stream)
    if type(figures.get("version")) is not int or figures["version"] < 1:
        report.fail("figures", "an exit case has a version, from 1")
    elif versions != list(range(1, figures["version"] + 1)):
        report.fail("figures", f"the exit case is at version {figures.get('version')}, the bundle proves {versions}")


def _history(figures: Any, events: dict[int, tuple[dict[str, Any], str]], report: Report) -> None:
    """Each history row is the event at its position: its stream, version, type and hash."""
    items = figures.get("items") if isinstance(figures, dict) else None
    if not isinstance(items, list) or not items:
        report.fail("figures", "a history has items")
        return
    for number, row in enumerate(items):
        where = f"figures.items[{number}]"
        found = events.get(row.get("position")) if isinstance(row, dict) else None
        if found is None:
            report.fail(where, "its event is not proven by the bundle")
            continue
        document, digest = found
        facts = (document.get("stream_id"), document.get("version"), document.get("type"), digest)
        if (*facts[:2], facts[2].rsplit(".", 1)[-1] if isinstance(facts[2], str) else None, digest) != (
            row.get("stream_id"),
            row.get("version"),
            str(row.get("type")).rsplit(".", 1)[-1],
            row.get("hash"),
        ):
            report.fail(where, f"is not the event at position {row.get('position')} (stream, version, type or hash)")
            continue
        report.count("history rows")


# ----------------------------------------------------------------------- quote figures
def money(text: Any) -> Decimal:
    value = Decimal(str(text))
    if not value.is_finite():
        raise InvalidOperation(text)
    return value


def round_pence(value: Decimal) -> Decimal:
    rounded = value.quantize(PENNY, rounding=ROUND_HALF_UP)
    return rounded.copy_abs() if rounded.is_zero() else rounded


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def whole_months(start: date, end: date) -> int:
    if end < start:
        return 0
    months = (end.year - start.year) * 12 + end.month - start.month
    while months > 0 and add_months(start, months) > end:
        months -= 1
    return months


def leaves(data: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    """Every recorded scalar of an event's data with the keys that lead to it (list indexes and
    the transcoder's ``_data_`` wrappers left out)."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from leaves(value, path if key in ("_data_", "_type_") else (*path, str(key)))
    elif isinstance(data, list):
        for value in data:
            yield from leaves(value, path)
    elif not (isinstance(data, bool) or data is None):
        yield path, str(data)


def same_value(stated: str, recorded: str) -> bool:
    if stated == recorded:
        return True
    try:
        return Decimal(stated) == Decimal(recorded)
    except (InvalidOperation, ValueError):
        return False


def name_and_arguments(key: str) -> tuple[str, list[str]]:
    """``r(kent, ICT)`` -> ("r", ["kent", "ICT"]); ``N`` -> ("N", [])."""
    if "(" not in key or not key.endswith(")"):
        return key, []
    name, _, rest = key.partition("(")
    return name, [part.strip() for part in rest[:-1].split(",", 1)]


# Where in its event each kind of sourced input is recorded: the field names its value may sit
# under (the last key of its path); None: under the force the input names (``shares.<force>``).
FIELDS: dict[str, tuple[str, ...]] = {
    "B": ("annual_budget",),
    "N": ("effective_on", "served_on"),
    "E": ("effective_on", "new_exit_on", "exit_on", "left_on", "terminated_on"),
    "notice_period_months": ("notice_period_months",),
    "stranded_cost_rate": ("stranded_cost_rate",),
    "stranded_cost_months": ("stranded_cost_months",),
    "break_cost": ("break_cost",),
    "ends_on": ("ends_on",),
    "function": ("function_id",),
    "id": ("function_id", "id"),
    "cost": ("cost",),
    "acquired_on": ("acquired_on",),
    "useful_life_months": ("useful_life_months",),
    "amount": ("amount",),
    "description": ("description",),
    "claimant": ("claimant",),
    "respondent": ("respondent",),
    "evidence": ("evidence",),
}
BY_PARTY = {"r": "shares", "funded_share": "funded_shares"}  # recorded under <map>.<party>
CLAIMED_HEADS = ("H2", "H3", "H6", "H8")
FUNCTION_ITEMS = "line\u00b7w(p)/\u03a3_q w(q), w(p) = \u03a3_f B(f)"
CONTRACT_ITEMS = "line\u00b7w(p)/\u03a3_q w(q), w(p) = \u03a3_c break_cost(c)"
ASSET_ITEMS = "line\u00b7w(p)/\u03a3_q w(q), w(p) = \u03a3_a NBV_a(E)"


def split_pence(amount: Decimal, weights: list[tuple[str, Fraction]]) -> dict[str, Decimal]:
    """The largest-remainder split of an amount to the penny among weighted parties, in order:
    each exact part cut down to the penny towards zero, the pennies left over one each to the
    largest remainders (between equal ones, to the party named first)."""
    total = sum((weight for _, weight in weights), Fraction(0))
    pennies = int(amount / PENNY)
    sign, whole = (-1 if pennies < 0 else 1), abs(pennies)
    exact = {party: whole * weight / total for party, weight in weights}
    floors = {party: value.numerator // value.denominator for party, value in exact.items()}
    order = [party for party, _ in weights]
    ranked = sorted(order, key=lambda party: (-(exact[party] - floors[party]), order.index(party)))
    for party in ranked[: whole - sum(floors.values())]:
        floors[party] += 1
    return {party: (Decimal(sign * floors[party]) * PENNY).quantize(PENNY) for party in order}


class QuoteCheck:
    """An exit-cost quote's figures, re-done from the inputs each line states and the events
    they cite. Every input must be accounted for: recorded in the event it cites (under the field
    its name says), worked out from other inputs (and worked out again here), or the quote's
    own N or E as its basis states them."""

    def __init__(self, quote: Any, events: dict[int, tuple[dict[str, Any], str]], report: Report):
        self.quote = quote if isinstance(quote, dict) else {}
        self.events = events
        self.report = report
        self.force = str(self.quote.get("force"))
        self.basis = self.quote.get("basis") if isinstance(self.quote.get("basis"), dict) else {}

    def run(self) -> None:
        lines = self.quote.get("lines")
        if not isinstance(lines, list) or not lines:
            self.report.fail("figures", "a quote has lines")
            return
        total = Decimal(0)
        payee_totals: dict[str, dict[str, Decimal]] = {}
        for number, line in enumerate(lines):
            where = f"lines[{number}] ({line.get('head') if isinstance(line, dict) else '?'})"
            try:
                if not isinstance(line, dict):
                    raise TypeError("a line is an object")
                self.accounted(where, line, line.get("head"))
                for part_number, payee in enumerate(line.get("payees") or []):
                    self.accounted(f"{where}.payees[{part_number}] ({payee.get('force')})", payee, line.get("head"))
                self.arithmetic(where, line, lines)
                total += money(line["amount"])
                for payee in line.get("payees") or []:
                    by_head = payee_totals.setdefault(payee["force"], {})
                    by_head[line["head"]] = by_head.get(line["head"], Decimal(0)) + money(payee["amount"])
            except (KeyError, TypeError, ValueError, AttributeError, InvalidOperation, ArithmeticError) as error:
                self.report.fail(where, f"cannot be checked: {type(error).__name__} {error}")
        try:
            self.totals(total, payee_totals)
        except (KeyError, TypeError, ValueError, AttributeError, InvalidOperation) as error:
            self.report.fail("total", f"cannot be checked: {type(error).__name__} {error}")

    def totals(self, total: Decimal, payee_totals: dict[str, dict[str, Decimal]]) -> None:
        if money(self.quote["total"]) != total:
            self.report.fail("total", f"is {self.quote['total']}, the lines add up to {total}")
        stated = {entry["force"]: entry for entry in self.quote.get("payees") or []}
        for force in set(stated) | set(payee_totals):
            by_head = payee_totals.get(force, {})
            entry = stated.get(force)
            if entry is None:
                self.report.fail(f"payees ({force})", "has parts of lines but no total")
                continue
            parts = sum(by_head.values(), Decimal(0))
            if money(entry["amount"]) != parts:
                self.report.fail(f"payees ({force})", f"is {entry['amount']}, its parts add up to {parts}")
            heads = {head: money(value) for head, value in (entry.get("by_head") or {}).items()}
            if heads != by_head:
                self.report.fail(f"payees ({force}).by_head", "is not its parts of the lines, head by head")
        self.report.count("totals")

    # ------------------------------------------------------------------ inputs
    def accounted(self, where: str, item: dict[str, Any], head: Any) -> None:
        inputs, sources = item.get("inputs") or {}, item.get("source_events") or {}
        derived = item.get("derived") or {}
        for key in sources:
            if key not in inputs:
                self.report.fail(f"{where}, input {key}", "cites an event for an input the line does not have")
        for key, value in inputs.items():
            at = f"{where}, input {key}"
            if key in sources:
                self.recorded(at, key, str(value), sources[key], head)
            elif key in derived:
                continue  # worked out again with the line's arithmetic
            elif key in ("N", "E") and isinstance(self.basis.get(key), dict) and self.basis[key].get("event") is None:
                if self.basis[key].get("on") != value:
                    self.report.fail(at, f"is {value}, the quote's basis says {self.basis[key].get('on')}")
            else:
                self.report.fail(at, "has neither a source event nor a derivation: it cannot be checked")

    def recorded(self, at: str, key: str, value: str, ref: Any, head: Any) -> None:
        """The input's value is recorded in the event it cites, under the field its name says."""
        found = self.events.get(ref.get("position")) if isinstance(ref, dict) else None
        if found is None:
            self.report.fail(at, "cites an event the bundle does not prove")
            return
        name, arguments = name_and_arguments(key)
        if name.startswith("\u03a3"):
            return  # a sum over the parties, re-added from their parts
        data = found[0].get("data")
        if name in BY_PARTY:
            wanted = lambda path: path[-2:] == (BY_PARTY[name], arguments[0])  # noqa: E731
        elif name == "cap":
            wanted = lambda path: path[-2:] == ("caps", str(head))  # noqa: E731
        elif name in FIELDS:
            wanted = lambda path: bool(path) and path[-1] in FIELDS[name]  # noqa: E731
        else:
            self.report.fail(at, f"an input of kind {name!r}, which this verifier does not know")
            return
        if any(wanted(path) and same_value(value, recorded) for path, recorded in leaves(data)):
            self.report.count("input values found in their events")
        else:
            position = ref["position"]
            self.report.fail(at, f"{value!r} is not recorded as {name} in the event it cites (position {position})")

    # -------------------------------------------------------------- arithmetic
    def arithmetic(self, where: str, line: dict[str, Any], lines: list[Any]) -> None:
        formula, head = str(line.get("formula")), line.get("head")
        with localcontext() as context:
            context.prec = PRECISION
            expected = self.amount_of(where, formula, head, line.get("inputs") or {}, line, lines)
        amount = money(line["amount"])
        if expected is None:
            self.report.fail(where, f"its formula {formula!r} is not one this verifier can re-do")
        elif expected != amount:
            self.report.fail(where, f"amount {line['amount']} but its formula gives {expected}")
        else:
            self.report.count("lines recomputed")
        self.parts(where, line, amount)

    def amount_of(
        self, where: str, formula: str, head: Any, inputs: dict[str, str], line: dict[str, Any], lines: list[Any]
    ) -> Decimal | None:
        if formula.startswith("min(") and formula.endswith(f"; cap on {head})"):
            inner = self.amount_of(where, formula[4 : -len(f"; cap on {head})")], head, inputs, line, lines)
            return self.capped(where, inner, inputs, lambda uncapped, cap: min(uncapped, cap))
        if formula.startswith("-min(-(") and formula.endswith("); cap)"):
            inner = self.amount_of(where, formula[7:-7], head, inputs, line, lines)
            return self.capped(where, inner, inputs, lambda uncapped, cap: -min(-uncapped, cap))
        if formula.startswith("cap adjustment"):
            return self.cap_adjustment(where, head, inputs, line, lines)
        if formula.startswith("claimed amount") or formula.startswith("-claimed amount"):
            if head not in CLAIMED_HEADS:
                self.report.fail(where, f"a claimed amount on {head}, which is not a claimed head")
            if (self.force == inputs.get("respondent")) == formula.startswith("-"):
                self.report.fail(where, "its sign does not follow who claims from whom")
            if self.force not in (inputs.get("claimant"), inputs.get("respondent")):
                self.report.fail(where, f"a claim between two other parties in {self.force}'s quote")
            return money(inputs["amount"]) * (-1 if formula.startswith("-") else 1)
        if head == "H1" and "notice_end = N + notice_period_months" in formula:
            return self.notice_shortfall(where, formula, inputs)
        if head == "H4" and formula.startswith("\u03a3_f B(f)\u00b7r(W,f)\u00b7stranded_cost_rate"):
            weighted = sum((b * r for _, b, r in self.functions(inputs)), Decimal(0))
            rate, months = money(inputs["stranded_cost_rate"]), money(inputs["stranded_cost_months"])
            return round_pence(weighted * rate * months / Decimal(12))
        if head == "H5" and formula.startswith("\u03a3_c break_cost"):
            return round_pence(sum(self.contracts(where, inputs).values(), Decimal(0)))
        if head == "H7" and formula.startswith("-\u03a3_a NBV"):
            return round_pence(-sum(self.assets(where, inputs).values(), Decimal(0)))
        return None

    def capped(self, where: str, inner: Decimal | None, inputs: dict[str, str], cap_of: Any) -> Decimal | None:
        if inner is None:
            return None
        uncapped, cap = money(inputs["uncapped"]), money(inputs["cap"])
        if inner != uncapped:
            self.report.fail(where, f"uncapped {inputs['uncapped']} but the formula under the cap gives {inner}")
        return cap_of(uncapped, cap)

    def cap_adjustment(
        self, where: str, head: Any, inputs: dict[str, str], line: dict[str, Any], lines: list[Any]
    ) -> Decimal:
        """cap - what the payer pays on the head: the force (the head's computed and claimed lines
        against it) or, on a credit, the respondent of the force's claims."""
        others = [other for other in lines if other is not line and other.get("head") == head]
        by_force = sum((money(o["amount"]) for o in others if not str(o.get("formula")).startswith("-")), Decimal(0))
        credits = -sum((money(o["amount"]) for o in others if str(o.get("formula")).startswith("-")), Decimal(0))
        uncapped, cap = money(inputs["uncapped"]), money(inputs["cap"])
        if uncapped not in (by_force, credits):
            self.report.fail(where, f"uncapped {inputs['uncapped']} is not what is paid on {head} before the cap")
        return cap - uncapped if uncapped == by_force else uncapped - cap

    def notice_shortfall(self, where: str, formula: str, inputs: dict[str, str]) -> Decimal | None:
        notice_end = add_months(date.fromisoformat(inputs["N"]), int(inputs["notice_period_months"]))
        exit_on = date.fromisoformat(inputs["E"])
        days = max(0, (notice_end - exit_on).days)
        if inputs.get("notice_end") != notice_end.isoformat():
            self.report.fail(where, f"notice_end {inputs.get('notice_end')} but N + notice period is {notice_end}")
        if str(days) != inputs.get("days(E, notice_end)"):
            self.report.fail(where, f"days(E, notice_end) {inputs.get('days(E, notice_end)')} but it is {days}")
        for name in ("N", "E"):
            on = (self.basis.get(name) or {}).get("on")
            if on != inputs[name]:
                self.report.fail(where, f"{name} {inputs[name]} but the quote's basis says {on}")
        if formula.startswith("0:"):
            return Decimal("0.00") if exit_on >= notice_end else None
        weighted = sum((b * r for _, b, r in self.functions(inputs)), Decimal(0))
        return round_pence(weighted * days / Decimal(365))

    def functions(self, inputs: dict[str, str]) -> list[tuple[str, Decimal, Decimal]]:
        """(name, B(f), r(W,f)) of each function the line names."""
        return [
            (key[2:-1], money(value), money(inputs[f"r({self.force}, {key[2:-1]})"]))
            for key, value in inputs.items()
            if key.startswith("B(") and key.endswith(")")
        ]

    def contracts(self, where: str, inputs: dict[str, str]) -> dict[str, Decimal]:
        """Function name -> Σ break_cost(c)·r(W, f) of its contracts, each contract matched to its
        function by the id it records and the id the function's event pairs with the name."""
        names = {value: key[3:-1] for key, value in inputs.items() if key.startswith("id(")}
        parts: dict[str, Decimal] = {}
        for key, value in inputs.items():
            if key.startswith("break_cost("):
                label = key[len("break_cost(") : -1]
                name = names.get(inputs.get(f"function({label})", ""))
                if name is None:
                    raise KeyError(f"the function of contract {label}")
                parts[name] = parts.get(name, Decimal(0)) + money(value) * money(inputs[f"r({self.force}, {name})"])
        return parts

    def assets(self, where: str, inputs: dict[str, str]) -> dict[str, Decimal]:
        """Asset label -> NBV(E)·funded_share(W), exactly; checks the stated workings."""
        exit_on = date.fromisoformat(inputs["E"])
        parts: dict[str, Decimal] = {}
        for key in inputs:
            if not key.startswith("cost("):
                continue
            label = key[5:-1]
            cost, life = money(inputs[key]), int(inputs[f"useful_life_months({label})"])
            used = whole_months(date.fromisoformat(inputs[f"acquired_on({label})"]), exit_on)
            stated = inputs.get(f"whole_months({label})")
            if str(used) != stated:
                self.report.fail(where, f"whole_months({label}) {stated} but it is {used}")
            nbv = cost * max(0, life - used) / life
            if round_pence(nbv) != money(inputs[f"NBV({label})"]):
                self.report.fail(where, f"NBV({label}) {inputs[f'NBV({label})']} but it is {round_pence(nbv)}")
            parts[label] = nbv * money(inputs[f"funded_share({self.force}, {label})"])
        return parts

    # ------------------------------------------------------------------ payees
    def parts(self, where: str, line: dict[str, Any], amount: Decimal) -> None:
        """The line shared among its payees: the parts add up to it, each party's fraction of each
        item is its share over the sum of the parties' shares, and the split to the penny is
        re-done by the largest remainder."""
        payees = line.get("payees") or []
        if not payees:
            return
        parts = sum((money(payee["amount"]) for payee in payees), Decimal(0))
        if parts != amount:
            self.report.fail(f"{where}.payees", f"the parts add up to {parts}, not the line's {line['amount']}")
            return
        formula, inputs = str(payees[0].get("formula")), line.get("inputs") or {}
        if formula.startswith("nothing to share"):
            if any(money(payee["amount"]) for payee in payees):
                self.report.fail(f"{where}.payees", "nothing to share, yet a part is not zero")
            return
        if formula.startswith("all to the claimant") or formula.startswith("all from the respondent"):
            other = inputs.get("claimant") if formula.startswith("all to") else inputs.get("respondent")
            if len(payees) != 1 or payees[0]["force"] != other:
                self.report.fail(f"{where}.payees", f"all of it is {other}'s, not {[p['force'] for p in payees]}")
            return
        with localcontext() as context:
            context.prec = PRECISION
            if formula.startswith(FUNCTION_ITEMS):
                items = {name: b * r for name, b, r in self.functions(inputs)}
            elif formula.startswith(CONTRACT_ITEMS):
                items = self.contracts(where, inputs)
            elif formula.startswith(ASSET_ITEMS):
                items = self.assets(where, inputs)
            else:
                self.report.not_recomputed.append({"where": f"{where}.payees", "formula": formula})
                return
        weights = [(payee["force"], self.weight(where, payee, items)) for payee in payees]
        if sum((weight for _, weight in weights), Fraction(0)) == 0:
            expected = {payee["force"]: Decimal("0.00") for payee in payees}
        else:
            expected = split_pence(amount, weights)
        for payee in payees:
            if money(payee["amount"]) != expected[payee["force"]]:
                self.report.fail(
                    f"{where}.payees ({payee['force']})",
                    f"is {payee['amount']}, the split by the shares gives {expected[payee['force']]}",
                )
        self.report.count("splits re-done")

    def weight(self, where: str, payee: dict[str, Any], items: dict[str, Decimal]) -> Fraction:
        """Σ over the line's items of its money times the party's fraction s(p, item), each
        fraction checked against the shares it is worked out from."""
        inputs, party = payee.get("inputs") or {}, payee["force"]
        weight = Fraction(0)
        for label, item_money in items.items():
            stated = inputs.get(f"s({party}, {label})")
            if stated is None:
                continue  # the party has no part of this item
            fraction = Fraction(stated)
            share_key = next((k for k in inputs if k.endswith(f"({party}, {label})") and not k.startswith("s(")), None)
            total_key = next((k for k in inputs if k.startswith("\u03a3 ") and k.endswith(f"(\u00b7, {label})")), None)
            if share_key is not None and total_key is not None:
                total = Fraction(money(inputs[total_key]))
                if total == 0 or Fraction(money(inputs[share_key])) / total != fraction:
                    self.report.fail(
                        f"{where}.payees ({party})", f"s({party}, {label}) {stated} is not its share over the sum"
                    )
            weight += Fraction(item_money) * fraction
        return weight


# ------------------------------------------------------------------------------ command
def _read_policy(args: argparse.Namespace) -> Policy:
    try:
        log_key = notes.Verifier.parse(args.log_key)
        witnesses: dict[str, notes.Verifier] = {}
        for vkey in args.witness or []:
            verifier = notes.Verifier.parse(vkey)
            witnesses[verifier.name] = verifier
        if args.witnesses:
            for number, raw in enumerate(args.witnesses.read_text().splitlines(), 1):
                fields = raw.split("#", 1)[0].split()
                if not fields:
                    continue
                if len(fields) != 2:
                    raise Unreadable(f"{args.witnesses}:{number}: write each line as '<force> <vkey>'")
                witnesses[fields[0]] = notes.Verifier.parse(fields[1])
    except (OSError, notes.NoteError) as error:
        raise Unreadable(str(error)) from None
    if log_key.signature_type != notes.ED25519:
        raise Unreadable("the log key is a note-signing key (type 0x01), as `flask --app wsgi audit vkey` prints it")
    if any(w.signature_type != notes.COSIGNATURE_V1 for w in witnesses.values()):
        raise Unreadable("witness keys are cosignature keys (type 0x04), as `collab-witness keygen` prints them")
    if not witnesses:
        raise Unreadable("give the forces' witness keys (--witness or --witnesses): the host's signature is not enough")
    if args.quorum is not None and (args.all_parties or not 1 <= args.quorum <= len(witnesses)):
        raise Unreadable(f"--quorum is from 1 to the {len(witnesses)} witness keys given, and not with --all-parties")
    if args.party and not args.all_parties:
        raise Unreadable("--party names the parties --all-parties requires")
    return Policy(log_key, witnesses, args.quorum, args.all_parties, tuple(args.party or ()))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="collab-verify",
        description="Check an evidence bundle offline: the cosigned checkpoint, every inclusion proof, every "
        "cited input value, and the arithmetic of every line.",
    )
    parser.add_argument("bundle", type=Path, help="the evidence bundle (JSON) to check")
    parser.add_argument("--log-key", required=True, help="the log's verifier key, as the host gave it out of band")
    parser.add_argument("--witness", action="append", help="a witness's verifier key to require (repeatable)")
    parser.add_argument("--witnesses", type=Path, help="a file of '<force> <vkey>' lines: the forces' witness keys")
    parser.add_argument("--quorum", type=int, help="how many of the witness keys must have cosigned (default: all)")
    parser.add_argument(
        "--all-parties",
        action="store_true",
        help="require a cosignature from every party: those given with --party and those the bundle names "
        "(keys from --witnesses)",
    )
    parser.add_argument(
        "--party",
        action="append",
        help="with --all-parties: a party of the collaboration, as you know it (repeatable); the bundle's own "
        "list of parties is not relied on alone",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        policy = _read_policy(args)
        try:
            data = args.bundle.read_bytes()
        except OSError as error:
            raise Unreadable(f"cannot read the bundle {args.bundle}: {error}") from None
    except Unreadable as error:
        print(f"error: {error}", file=sys.stderr)
        return UNREADABLE
    report = verify_file(data, policy)
    for failure in report.failures:
        print(f"FAIL {failure['where']}: {failure['reason']}", file=sys.stderr)
    if report.ok:
        vouched = ", ".join(report.vouched) or "no witness"
        print(f"OK: {json.dumps(report.checked, sort_keys=True)}; vouched for by {vouched}.", file=sys.stderr)
    print(json.dumps(report.as_dict(), sort_keys=True))
    return OK if report.ok else NOT_OK




if __name__ == "__main__":
    sys.exit(main())
