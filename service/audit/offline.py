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
    all_parties: bool = False  # the witnesses of every party the bundle names


# ------------------------------------------------------------------------------ checks
SEAL_CONTEXT = b"collaboration-records/evidence-bundle/v1 seal\n"


def canonical(value: Any) -> bytes:
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
    report = Report()
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        report.fail("bundle", f"not an evidence bundle of format {FORMAT}")
        return report
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
    for where, ref in _citations(figures, "figures"):
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
    return report


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
        parties = bundle.get("parties") if isinstance(bundle.get("parties"), list) else []
        unknown = [party for party in parties if party not in policy.witnesses]
        for party in unknown:
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


def _events(
    bundle: dict[str, Any], checkpoint: notes.CheckpointBody | None, report: Report
) -> dict[int, tuple[dict[str, Any], str]]:
    """position -> (the event's document, its chain hash) for each event whose proof verifies."""
    verified: dict[int, tuple[dict[str, Any], str]] = {}
    entries = bundle.get("events")
    if not isinstance(entries, list):
        report.fail("events", "the bundle holds no list of events")
        return verified
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


def _citations(value: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(value, dict):
        if "event_id" in value and "position" in value and "hash" in value:
            yield where, value
        for key, item in value.items():
            yield from _citations(item, f"{where}.{key}")
    elif isinstance(value, list):
        for number, item in enumerate(value):
            yield from _citations(item, f"{where}[{number}]")


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
    if versions != list(range(1, int(figures.get("version", 0)) + 1)):
        report.fail("figures", f"the exit case is at version {figures.get('version')}, the bundle proves {versions}")


def _history(figures: Any, events: dict[int, tuple[dict[str, Any], str]], report: Report) -> None:
    """Each history row is the event at its position: its stream, version, type and hash."""
    items = figures.get("items") if isinstance(figures, dict) else None
    if not isinstance(items, list):
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


def scalars(data: Any) -> Iterator[str]:
    if isinstance(data, dict):
        for value in data.values():
            yield from scalars(value)
    elif isinstance(data, list):
        for value in data:
            yield from scalars(value)
    elif isinstance(data, bool) or data is None:
        return
    else:
        yield str(data)


def appears(value: str, data: Any) -> bool:
    """Whether an input's value is one of the event's recorded values (numbers by value)."""
    try:
        number = Decimal(value)
    except (InvalidOperation, ValueError):
        number = None
    for candidate in scalars(data):
        if candidate == value:
            return True
        if number is not None and number.is_finite():
            try:
                if Decimal(candidate) == number:
                    return True
            except (InvalidOperation, ValueError):
                continue
    return False


def _functions(inputs: dict[str, str], force: str) -> list[tuple[Decimal, Decimal]]:
    """(B(f), r(W,f)) for each function the line's inputs name."""
    pairs = []
    for key, value in inputs.items():
        if key.startswith("B(") and key.endswith(")"):
            name = key[2:-1]
            pairs.append((money(value), money(inputs[f"r({force}, {name})"])))
    return pairs


class QuoteCheck:
    def __init__(self, quote: Any, events: dict[int, tuple[dict[str, Any], str]], report: Report):
        self.quote = quote if isinstance(quote, dict) else {}
        self.events = events
        self.report = report
        self.force = str(self.quote.get("force"))

    def run(self) -> None:
        lines = self.quote.get("lines")
        if not isinstance(lines, list):
            self.report.fail("figures", "a quote has lines")
            return
        total = Decimal(0)
        payee_totals: dict[str, Decimal] = {}
        for number, line in enumerate(lines):
            where = f"lines[{number}] ({line.get('head')})"
            try:
                self.values_in_events(where, line)
                for part_number, payee in enumerate(line.get("payees", [])):
                    self.values_in_events(f"{where}.payees[{part_number}] ({payee.get('force')})", payee)
                self.arithmetic(where, line)
                total += money(line["amount"])
                for payee in line.get("payees", []):
                    payee_totals[payee["force"]] = payee_totals.get(payee["force"], Decimal(0)) + money(payee["amount"])
            except (KeyError, TypeError, ValueError, InvalidOperation, ArithmeticError) as error:
                self.report.fail(where, f"cannot be checked: {type(error).__name__} {error}")
        try:
            if money(self.quote["total"]) != total:
                self.report.fail("total", f"is {self.quote['total']}, the lines add up to {total}")
            for entry in self.quote.get("payees", []):
                expected = payee_totals.get(entry["force"], Decimal(0))
                if money(entry["amount"]) != expected:
                    self.report.fail(
                        f"payees ({entry['force']})",
                        f"is {entry['amount']}, its parts of the lines add up to {expected}",
                    )
        except (KeyError, TypeError, InvalidOperation) as error:
            self.report.fail("total", f"cannot be checked: {error}")
        self.report.count("totals")

    def values_in_events(self, where: str, item: dict[str, Any]) -> None:
        """Each sourced input's value is among the recorded values of the event it cites (a
        sum over parties, ``Σ ...``, is re-done from the parts instead)."""
        inputs, sources = item.get("inputs", {}), item.get("source_events", {})
        for key, ref in sources.items():
            if key.startswith("\u03a3"):
                continue
            found = self.events.get(ref.get("position"))
            if found is None:
                continue  # reported as an uncovered citation
            if key not in inputs:
                self.report.fail(f"{where}, input {key}", "cites an event for an input the line does not have")
            elif not appears(str(inputs[key]), found[0].get("data")):
                self.report.fail(
                    f"{where}, input {key}",
                    f"{inputs[key]!r} is not in the event it cites (position {ref.get('position')})",
                )
            else:
                self.report.count("input values found in their events")

    def arithmetic(self, where: str, line: dict[str, Any]) -> None:
        with localcontext() as context:
            context.prec = PRECISION
            expected = self.expected(where, line)
        amount = money(line["amount"])
        if expected is not None:
            if expected != amount:
                self.report.fail(where, f"amount {line['amount']} but its formula gives {expected}")
            else:
                self.report.count("lines recomputed")
        payees = line.get("payees") or []
        if payees:
            parts = sum((money(payee["amount"]) for payee in payees), Decimal(0))
            if parts != amount:
                self.report.fail(f"{where}.payees", f"the parts add up to {parts}, not the line's {line['amount']}")
            self.sums_over_parties(where, payees)

    def expected(self, where: str, line: dict[str, Any]) -> Decimal | None:
        formula, inputs = str(line.get("formula")), line.get("inputs", {})
        if formula.startswith("min(") or formula.startswith("-min("):
            uncapped, cap = money(inputs["uncapped"]), money(inputs["cap"])
            return min(uncapped, cap) if formula.startswith("min(") else -min(-uncapped, cap)
        if formula.startswith("cap adjustment"):
            difference = money(inputs["uncapped"]) - money(inputs["cap"])
            return -difference if money(line["amount"]) <= 0 else difference
        if formula.startswith("claimed amount"):
            return money(inputs["amount"])
        if formula.startswith("-claimed amount"):
            return -money(inputs["amount"])
        if "notice_end = N + notice_period_months" in formula:
            notice_end = add_months(date.fromisoformat(inputs["N"]), int(inputs["notice_period_months"]))
            exit_on = date.fromisoformat(inputs["E"])
            days = max(0, (notice_end - exit_on).days)
            if inputs.get("notice_end") != notice_end.isoformat():
                self.report.fail(where, f"notice_end {inputs.get('notice_end')} but N + notice period is {notice_end}")
            if str(days) != inputs.get("days(E, notice_end)"):
                self.report.fail(where, f"days(E, notice_end) {inputs.get('days(E, notice_end)')} but it is {days}")
            if formula.startswith("0:"):
                return Decimal("0.00") if exit_on >= notice_end else None
            weighted = sum((b * r for b, r in _functions(inputs, self.force)), Decimal(0))
            return round_pence(weighted * days / Decimal(365))
        if formula.startswith("\u03a3_f B(f)\u00b7r(W,f)\u00b7stranded_cost_rate"):
            weighted = sum((b * r for b, r in _functions(inputs, self.force)), Decimal(0))
            rate, months = money(inputs["stranded_cost_rate"]), money(inputs["stranded_cost_months"])
            return round_pence(weighted * rate * months / Decimal(12))
        if formula.startswith("-\u03a3_a NBV"):
            return self.assets(where, inputs)
        if formula.startswith("\u03a3_c break_cost"):
            costs = [key for key in inputs if key.startswith("break_cost(")]
            shares = [key for key in inputs if key.startswith(f"r({self.force}, ")]
            if not costs:
                return Decimal("0.00")
            if len(shares) == 1:
                share = money(inputs[shares[0]])
                return round_pence(sum((money(inputs[key]) * share for key in costs), Decimal(0)))
        self.report.not_recomputed.append({"where": where, "formula": formula})
        return None

    def assets(self, where: str, inputs: dict[str, str]) -> Decimal:
        exit_on = date.fromisoformat(inputs["E"])
        total = Decimal(0)
        for key in inputs:
            if not key.startswith("cost("):
                continue
            label = key[5:-1]
            cost, life = money(inputs[key]), int(inputs[f"useful_life_months({label})"])
            used = whole_months(date.fromisoformat(inputs[f"acquired_on({label})"]), exit_on)
            if str(used) != inputs.get(f"whole_months({label})"):
                stated = inputs.get(f"whole_months({label})")
                self.report.fail(where, f"whole_months({label}) {stated} but it is {used}")
            nbv = cost * max(0, life - used) / life
            if round_pence(nbv) != money(inputs[f"NBV({label})"]):
                self.report.fail(where, f"NBV({label}) {inputs[f'NBV({label})']} but it is {round_pence(nbv)}")
            total += nbv * money(inputs[f"funded_share({self.force}, {label})"])
        return round_pence(-total)

    def sums_over_parties(self, where: str, payees: list[dict[str, Any]]) -> None:
        """Each ``Σ r(·, F)`` a part names is the sum of the parties' ``r(p, F)`` on the line."""
        parts: dict[str, Decimal] = {}
        stated: dict[str, str] = {}
        for payee in payees:
            for key, value in payee.get("inputs", {}).items():
                if key.startswith("\u03a3 r(\u00b7, "):
                    stated[key[len("\u03a3 r(\u00b7, ") : -1]] = value
                elif key.startswith(f"r({payee['force']}, "):
                    name = key[len(f"r({payee['force']}, ") : -1]
                    parts[name] = parts.get(name, Decimal(0)) + money(value)
        for name, value in stated.items():
            if name in parts and money(value) != parts[name]:
                self.report.fail(
                    f"{where}.payees", f"\u03a3 r(\u00b7, {name}) is {value}, the parties' r add up to {parts[name]}"
                )


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
                line = raw.split("#", 1)[0].strip()
                if not line:
                    continue
                force, _, vkey = line.partition(" ")
                if not vkey.strip():
                    raise Unreadable(f"{args.witnesses}:{number}: write each line as '<force> <vkey>'")
                witnesses[force] = notes.Verifier.parse(vkey.strip())
    except (OSError, notes.NoteError) as error:
        raise Unreadable(str(error)) from None
    if any(w.signature_type != notes.COSIGNATURE_V1 for w in witnesses.values()):
        raise Unreadable("witness keys are cosignature keys (type 0x04), as `collab-witness keygen` prints them")
    return Policy(log_key, witnesses, args.quorum, args.all_parties)


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
        help="require a cosignature from every party the bundle names (keys from --witnesses)",
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
