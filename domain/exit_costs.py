"""The exit-cost calculator: the exit-cost method (``docs/exit-cost-method.md``) as a pure
function of the record.

``quote_withdrawal`` reads a Collaboration (and nothing else: no clock, no I/O) and returns an
``ExitQuote`` whose every line shows its formula, its inputs (as exact decimal strings), the
aggregate versions of the events that supplied each input (the service turns those versions
into event ids), the inputs worked out from other inputs, and who receives the line's money.

Choices made here, beyond the letter of the method (each is in the method's documentation):

- Dates. ``add_months`` clamps to the month's end. ``whole_months(a, b)`` is the largest n with
  ``add_months(a, n) <= b`` (0 when b is before a), so it agrees with ``add_months``: from
  31 Jan to 28 Feb 2019 is one whole month, and to 27 Feb none.
- Lines. The computed heads H1, H4, H5 and H7 are one line each and are always present, even
  when zero (a fully depreciated asset is listed in H7's inputs with NBV 0.00, and the line is
  0.00), so a quote always says what it considered. Claimed heads (H2, H3, H6, H8) are one
  line per claim; mitigations are claims with negative amounts.
- Claims by party. A claim against W is money W pays the claimant; a claim by W against
  another party is money that party owes W (a credit: the line is the claim negated); a claim
  between two other parties is not part of W's quote.
- Arithmetic. Each line is worked exactly (sums taken before the single division) at 50
  digits of precision and rounded once, half-up, to pence. The total is the sum of the
  rounded (and capped) lines.
- Caps apply per head after rounding. A head with one line is capped in place (its formula
  and inputs say so); a claimed head whose lines together exceed the cap gets one extra
  "cap adjustment" line for that head bringing its total down to the cap. A cap limits what one
  party pays on a head: W on the computed heads and on claims against it, and each respondent
  of W's own claims on what it pays W; one direction never raises the cap on the other.
- Functions counted are those added on or before E and not decoupled on or before E.
  Contracts and assets of a function left out are left out too (the function has left the
  joint structure, and its contracts and assets with it); assets of the agreement as a whole
  always count.
- A function with no apportionment in effect on N (its own or the all-functions one) is an
  error (``NoApportionment``) rather than a silent zero. A party missing from an
  apportionment or an asset's funding shares has share 0.
- An exit date before the notice date is refused (``ExitBeforeNotice``).
- Who is paid. The remaining parties are the others still in the agreement after E. Each line
  is shared among them head by head: H1 and H4 by each function's own ratio on N, H5 by the
  ratio of the contract's function, H7 by the asset's funding shares, each renormalised over
  the remaining parties (where they hold none of it: all to the host force if it remains, else
  equally); a claimed line goes wholly to (or, W's own claim, comes wholly from) the other
  party to the claim; a cap adjustment in proportion to what the head's positive lines pay.
  Each line's parts are rounded to the penny by the largest remainder
  (``domain.allocation``), so they add up to the line exactly, and the payees' totals to the
  quote's total (a line with nobody to receive it is ``unallocated``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING

from domain.allocation import fraction_text, split_pence
from domain.errors import DomainError, NoExitTerms
from domain.months import add_months, days_between, whole_months
from domain.values import PENNY, Money, Share

if TYPE_CHECKING:
    from domain.collaboration import Collaboration, Contract, ExitTerms, Function, JointAsset

CLAIMED_HEADS = ("H2", "H3", "H6", "H8")
HEAD_NAMES = {
    "H1": "notice shortfall",
    "H2": "re-establishing services",
    "H3": "redundancy and pension strain",
    "H4": "stranded costs",
    "H5": "contract break",
    "H6": "ICT separation and transition services",
    "H7": "asset split",
    "H8": "programme, legal and advisory costs",
}
DAYS_IN_YEAR = Decimal(365)
MONTHS_IN_YEAR = Decimal(12)
_PRECISION = 50  # far more digits than any line needs, so only the final rounding rounds
ZERO = Decimal(0)
NO_MONEY = Money(Decimal("0.00"))


class NoApportionment(DomainError):
    """Every function counted in a quote has a ratio in effect on the notice date."""


class ExitBeforeNotice(DomainError):
    """The exit date is on or after the date notice was served (or the quote date)."""


class InvalidClaim(DomainError):
    """A claimed line is on a claimed head (H2, H3, H6, H8) and is money to the penny."""


class AgreementHasEnded(DomainError):
    """Once the agreement has ended, only a party that was leaving it on notice has an exit to quote."""


def round_pence(value: Decimal) -> Decimal:
    """Half-up to the penny; -0.00 is written 0.00."""
    rounded = value.quantize(PENNY, rounding=ROUND_HALF_UP)
    return rounded.copy_abs() if rounded.is_zero() else rounded


# ---------------------------------------------------------------------------- value objects
@dataclass(frozen=True)
class PayeeShare:
    """What the withdrawing force pays one party on one line: negative when that party pays
    the withdrawing force (its equity in an asset, a claim the withdrawing force made on it)."""

    force: str
    amount: Money
    formula: str
    inputs: Mapping[str, str]
    source_versions: Mapping[str, int]
    source_id: str | None = None  # the aggregate whose versions these are; None: the collaboration
    derived: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # inputs worked out from others


@dataclass(frozen=True)
class QuoteLine:
    """One line of a quote: a head, its amount to the penny, how it was worked, from what, and
    to whom it is paid."""

    head: str
    amount: Money
    formula: str
    inputs: Mapping[str, str]
    source_versions: Mapping[str, int]
    description: str = ""
    source_id: str | None = None  # the aggregate whose versions these are; None: the collaboration
    # Inputs sourced from another aggregate than ``source_id`` (e.g. the collaboration's cap on
    # a claimed line): input name -> aggregate id, None meaning the collaboration.
    input_streams: Mapping[str, str | None] = field(default_factory=dict)
    # Inputs worked out from other inputs (not recorded by any one event): name -> the inputs.
    derived: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    payees: tuple[PayeeShare, ...] = ()

    def stream_of(self, input_name: str) -> str | None:
        """The aggregate whose event supplied an input (None: the collaboration)."""
        return self.input_streams.get(input_name, self.source_id)


@dataclass(frozen=True)
class PayeeTotal:
    """What the withdrawing force pays one party in all (negative: is paid by it), by head."""

    force: str
    amount: Money
    by_head: Mapping[str, Money]


@dataclass(frozen=True)
class ExitQuote:
    """What a withdrawing force owes (positive) or is owed (negative) on its exit date, and to
    whom. ``notice_version`` and ``exit_version`` are the collaboration events that fixed N and
    E (None where the date is the quote date or was asked for); ``basis`` says in words where
    each came from."""

    collaboration_id: str
    force: str
    notice_on: date
    exit_on: date
    quoted_on: date
    notice_end: date
    terms_version: int
    lines: tuple[QuoteLine, ...]
    total: Money
    notice_version: int | None = None
    exit_version: int | None = None
    basis: Mapping[str, str] = field(default_factory=dict)
    remaining: tuple[str, ...] = ()
    payees: tuple[PayeeTotal, ...] = ()
    unallocated: Money = NO_MONEY

    def by_head(self) -> dict[str, Money]:
        """The total of each head that has lines."""
        totals: dict[str, Decimal] = {}
        for line in self.lines:
            totals[line.head] = totals.get(line.head, ZERO) + line.amount.amount
        return {head: Money(amount) for head, amount in totals.items()}


@dataclass(frozen=True)
class Claim:
    """A claimed line from an exit case (H2, H3, H6 or H8), by ``claimant`` against
    ``respondent``; a mitigation is a negative line. ``version`` is the event that lodged it."""

    head: str
    amount: object
    description: str
    claimant: str
    respondent: str
    evidence: str | None = None
    version: int | None = None
    source_id: str | None = None  # the exit case that lodged it


@dataclass(frozen=True)
class ExitBasis:
    """N and E of a quote, and where each came from: the event (a collaboration version) or,
    with None, the quote date or the exit date asked for; ``basis`` says it in words."""

    notice_on: date | None
    exit_on: date
    notice_version: int | None = None
    exit_version: int | None = None
    basis: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Allotment:
    """How a line's amount is shared among payees before it is rounded: each payee's weight
    (exact, never negative), and per payee the inputs its weight came from."""

    weights: Mapping[str, Fraction]
    formula: str
    inputs: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    versions: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    source_id: str | None = None
    derived: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)

    @staticmethod
    def to(force: str, formula: str, inputs: Mapping[str, str], versions: Mapping[str, int], source_id: str | None):
        return Allotment({force: Fraction(1)}, formula, {force: inputs}, {force: versions}, source_id)

    def including(self, parties: Iterable[str]) -> Allotment:
        """The same, listing these parties too (with nothing) where they are not listed, so that
        a computed line shows every party's part, 0.00 included."""
        weights = {**dict.fromkeys(parties, Fraction(0)), **self.weights}
        formula = self.formula if self.weights else "nothing to share"
        return replace(self, weights=weights, formula=formula)


NOBODY_REMAINS = "nobody remains"
NOBODY = Allotment({}, "no remaining party")


# ------------------------------------------------------------------------------ calculator
def quote_withdrawal(
    collaboration: Collaboration,
    *,
    force: str,
    exit_on: date,
    quoted_on: date,
    notice_on: date | None = None,
    decoupled_on: Mapping[str, date] | None = None,
    claims: Sequence[Claim] = (),
    notice_version: int | None = None,
    exit_version: int | None = None,
    basis: Mapping[str, str] | None = None,
) -> ExitQuote:
    """The exit costs of ``force`` withdrawing on ``exit_on``, by the exit-cost method, and who
    receives them.

    N = ``notice_on`` or, with no notice served, ``quoted_on``; E = ``exit_on``. Ratios and
    budgets are those in effect on N; exit terms are those in effect on N. ``decoupled_on``
    maps function ids to the dates they left the joint structure. ``notice_version`` and
    ``exit_version`` are the events that fixed N and E, if any. Claims enter by who they are
    between: a claim against ``force`` is money it pays the claimant; a claim by ``force`` is
    money the respondent pays it (a credit); a claim between two other parties is left out."""
    collaboration.check_is_party(force, "force")
    notice = notice_on or quoted_on
    if exit_on < notice:
        raise ExitBeforeNotice(f"exit date {exit_on} is before the notice date {notice}", field="exit_on")
    terms = collaboration.exit_terms_in_effect(notice)
    if terms is None:
        raise NoExitTerms(f"no exit terms were in effect on the notice date {notice}", field="notice_on")
    claimed = [pair for index, claim in enumerate(claims) if (pair := _claimed_line(claim, index, force)) is not None]
    decoupled = dict(decoupled_on or {})

    functions = [
        function
        for function in collaboration.functions_in_order()
        if function.added_on <= exit_on and not (function.id in decoupled and decoupled[function.id] <= exit_on)
    ]
    counted = {function.id for function in functions}
    remaining = collaboration.remaining_parties(force, exit_on)
    ratios = {function.id: _ratio(collaboration, function, force, notice) for function in functions}
    splits = {function.id: _function_split(collaboration, function, remaining, notice) for function in functions}
    budgets = {function.id: function.budget_in_effect(notice) for function in functions}
    notice_end = add_months(notice, terms.notice_period_months)
    dates = ExitDates(notice, exit_on, notice_end, notice_version, exit_version)

    with localcontext() as context:
        context.prec = _PRECISION
        weights = _function_weights(functions, ratios, budgets, splits, force)
        worked = [
            (line, allotment.including(remaining))
            for line, allotment in (
                _notice_shortfall(weights, terms, dates),
                _stranded_costs(weights, terms),
                _contract_break(collaboration, counted, ratios, splits, force, dates),
                _asset_split(collaboration, counted, remaining, force, dates),
            )
        ]
        worked.extend(claimed)
        worked = apply_caps(worked, terms.caps, terms.version, force)
        lines = [with_payees(line, allotment, collaboration.parties) for line, allotment in worked]
        total = sum((line.amount.amount for line in lines), ZERO)
    return ExitQuote(
        collaboration_id=str(collaboration.id),
        force=force,
        notice_on=notice,
        exit_on=exit_on,
        quoted_on=quoted_on,
        notice_end=notice_end,
        terms_version=terms.version,
        lines=tuple(lines),
        total=Money(round_pence(total)),
        notice_version=notice_version,
        exit_version=exit_version,
        basis=dict(basis or {}),
        remaining=tuple(remaining),
        payees=_payee_totals(lines, collaboration.parties),
        unallocated=Money(round_pence(sum((line.amount.amount for line in lines if not line.payees), ZERO))),
    )


def exit_basis(collaboration: Collaboration, force: str, on: date, exit_on: date | None = None) -> ExitBasis:
    """N and E of ``force``'s standing exit figure on the date ``on``, and the events behind them.

    - With a live notice, N is its date and E is ``exit_on`` or else the notice's exit date (as
      moved by the s23G direction in effect on ``on``), or, once the agreement has ended, the date
      it ended.
    - A force that has left is quoted on the notice it left on, and E is the date it left.
    - Once the agreement has ended, a force that was not leaving on notice has no exit to quote
      (``AgreementHasEnded``): nothing is jointly run any more, so no fresh notice is supposed.
    - Otherwise N is ``on`` (no notice: the quote date) and E is ``exit_on`` or else the earliest
      exit date had notice been served that day (N + notice_period_months, so H1 is 0)."""
    collaboration.check_is_party(force, "force")
    notice = collaboration.live_notice(force)
    spent = collaboration.spent_notice(force)
    asked = "the exit date asked for"
    if spent is not None:
        left = collaboration.withdrawn[force]
        served = f"the notice {force} served on {spent.served_on}, spent when it left"
        if exit_on is not None:
            return ExitBasis(spent.served_on, exit_on, spent.version, None, {"N": served, "E": asked})
        left_on = f"the date {force} left the agreement"
        return ExitBasis(spent.served_on, left.effective_on, spent.version, left.version, {"N": served, "E": left_on})
    if notice is not None:
        served = f"the notice {force} served on {notice.served_on}"
        if exit_on is not None:
            return ExitBasis(notice.served_on, exit_on, notice.version, None, {"N": served, "E": asked})
        ended = collaboration.terminated_on
        if ended is not None:
            ended_text = f"the date the agreement ended, with {force}'s notice still running"
            return ExitBasis(
                notice.served_on,
                ended,
                notice.version,
                collaboration.terminated_version,
                {
                    "N": served,
                    "E": ended_text,
                },
            )
        direction = notice.direction_in_effect(on)
        if direction is not None:
            moved = f"the exit date set by the s23G direction in effect on {on} (effective {direction.effective_on})"
            why = {"N": served, "E": moved}
            return ExitBasis(notice.served_on, direction.new_exit_on, notice.version, direction.version, why)
        earliest = {"N": served, "E": "the notice's earliest exit date (its date plus the notice period)"}
        return ExitBasis(notice.served_on, notice.earliest_exit_on, notice.version, notice.version, earliest)
    if collaboration.terminated_on is not None:
        raise AgreementHasEnded(
            f"the agreement ended on {collaboration.terminated_on} and {force} was not leaving it on notice: "
            "there is no exit of its own to quote",
            field="force",
        )
    quote_date = "the quote date: no notice has been served"
    if exit_on is not None:
        return ExitBasis(None, exit_on, None, None, {"N": quote_date, "E": asked})
    terms = collaboration.exit_terms_in_effect(on)
    if terms is None:
        raise NoExitTerms(f"no exit terms were in effect on {on}, so there is no notice period", field="on")
    earliest = "the earliest exit had notice been served on N (N plus the notice period)"
    return ExitBasis(
        None,
        add_months(on, terms.notice_period_months),
        None,
        terms.version,
        {
            "N": quote_date,
            "E": earliest,
        },
    )


def quote_for_force(
    collaboration: Collaboration,
    *,
    force: str,
    on: date,
    exit_on: date | None = None,
    claims: Sequence[Claim] = (),
) -> ExitQuote:
    """The standing exit figure of ``force`` on the date ``on`` (N and E by ``exit_basis``): the
    basis every reader uses (the quote endpoint, the exit-cost history), so their figures agree.
    Functions decoupled on or before E are left out."""
    basis = exit_basis(collaboration, force, on, exit_on)
    return quote_withdrawal(
        collaboration,
        force=force,
        exit_on=basis.exit_on,
        quoted_on=on,
        notice_on=basis.notice_on,
        decoupled_on=collaboration.decoupled_on(),
        claims=claims,
        notice_version=basis.notice_version,
        exit_version=basis.exit_version,
        basis=basis.basis,
    )


# ------------------------------------------------------------------------------ the heads
@dataclass(frozen=True)
class ExitDates:
    notice: date
    exit_on: date
    notice_end: date
    notice_version: int | None
    exit_version: int | None

    def record(self, inputs: dict[str, str], versions: dict[str, int], *names: str) -> None:
        """Puts N and/or E in a line's inputs, with the events that fixed them."""
        for name in names:
            day, version = (self.notice, self.notice_version) if name == "N" else (self.exit_on, self.exit_version)
            inputs[name] = day.isoformat()
            if version is not None:
                versions[name] = version


@dataclass(frozen=True)
class Split:
    """How one function's (or asset's) money is shared among the remaining parties: each one's
    fraction, the recorded shares it came from, and the rule used."""

    fractions: Mapping[str, Fraction]
    shares: Mapping[str, tuple[str, int | None]]  # party -> (its share as text, the event)
    rule: str
    total: str | None = None  # the sum of the parties' shares, where the fractions are in proportion to them

    @cached_property
    def texts(self) -> dict[str, str]:
        """Each fraction written exactly."""
        return {party: fraction_text(fraction) for party, fraction in self.fractions.items()}


def split_among(
    parties: Sequence[str],
    held: Mapping[str, Share],
    version: int | None,
    host: str | None = None,
    who: str = "the remaining parties",
) -> Split:
    """The parties' fractions of something they hold in ``held`` shares: in proportion to those
    shares; where they hold none of it, all to the host if it is among them, else equally."""
    return _split_among(tuple(parties), tuple(held.items()), version, host, who)


@lru_cache(maxsize=4096)
def _split_among(
    parties: tuple[str, ...], held_items: tuple[tuple[str, Share], ...], version: int | None, host: str | None, who: str
) -> Split:
    """``split_among`` of hashable arguments, remembered: a quote splits many items held in the
    same shares (every asset funded 69/31, every function at the all-functions ratio)."""
    held = dict(held_items)
    shares = {party: held.get(party, Share(ZERO)) for party in parties}
    recorded = {party: (str(share), version) for party, share in shares.items()}
    total = sum((Fraction(share.value) for share in shares.values()), Fraction(0))
    if total > 0:
        fractions = {party: Fraction(share.value) / total for party, share in shares.items() if share.value}
        return Split(fractions, recorded, f"in proportion to the shares of {who}", fraction_text(total))
    if host is not None and host in parties:
        return Split({host: Fraction(1)}, recorded, f"to the host force: {who} hold no share")
    if parties:
        return Split({party: Fraction(1, len(parties)) for party in parties}, recorded, f"equally: {who} hold no share")
    return Split({}, recorded, NOBODY_REMAINS)


def _function_split(collaboration: Collaboration, function: Function, remaining: Sequence[str], on: date) -> Split:
    apportionment = collaboration.shares_in_effect(function.id, on)
    held = apportionment.shares if apportionment is not None else {}
    return split_among(remaining, held, apportionment.version if apportionment else None, function.host_force)


def _ratio(collaboration: Collaboration, function: Function, force: str, on: date) -> tuple[Share, int]:
    apportionment = collaboration.shares_in_effect(function.id, on)
    if apportionment is None:
        raise NoApportionment(f"function {function.name!r} had no apportionment in effect on {on}", field="notice_on")
    return apportionment.shares.get(force, Share(ZERO)), apportionment.version


class Weighing:
    """Builds an ``Allotment``: adds each item's money (exact) to the payees' weights by a
    split, and records the shares each weight came from."""

    def __init__(self) -> None:
        self.weights: dict[str, Fraction] = {}
        self.whole: dict[str, Decimal] = {}  # money going wholly to one party: exact as it is, summed apart
        self.inputs: dict[str, dict[str, str]] = {}
        self.versions: dict[str, dict[str, int]] = {}
        self.derived: dict[str, dict[str, tuple[str, ...]]] = {}
        self.rules: set[str] = set()

    def add(self, money: Decimal, split: Split, label: str, share_name: str) -> None:
        exact = Fraction(money) if len(split.fractions) > 1 else None
        total_key = f"Σ {share_name}(·, {label})"
        for party, fraction in split.fractions.items():
            if exact is None:  # one party: the fraction is 1
                self.whole[party] = self.whole.get(party, ZERO) + money
            else:
                self.weights[party] = self.weights.get(party, Fraction(0)) + exact * fraction
            inputs, versions = self.inputs.setdefault(party, {}), self.versions.setdefault(party, {})
            share, version = split.shares.get(party, ("0", None))
            key, fraction_key = f"{share_name}({party}, {label})", f"s({party}, {label})"
            inputs[key] = share
            if version is not None:
                versions[key] = version
            inputs[fraction_key] = split.texts[party]
            if split.total is not None:  # s = the party's share over the sum of the parties' shares
                inputs[total_key] = split.total
                if version is not None:
                    versions[total_key] = version
                self.derived.setdefault(party, {})[fraction_key] = (key, total_key)
            else:
                self.derived.setdefault(party, {})[fraction_key] = (split.rule,)
        self.rules.add(split.rule)

    def allotment(self, formula: str) -> Allotment:
        weights = dict(self.weights)
        for party, money in self.whole.items():
            weights[party] = weights.get(party, Fraction(0)) + Fraction(money)
        if not weights and not self.rules - {NOBODY_REMAINS}:
            return NOBODY
        rules = "; ".join(sorted(self.rules))
        return Allotment(weights, f"{formula} ({rules})", self.inputs, self.versions, None, self.derived)


@dataclass(frozen=True)
class FunctionWeights:
    """Σ_f B(f)·r(W,f), exactly, with B(f) and r(W,f) of each function as inputs, and how it is
    shared among the remaining parties (by each function's own ratio): what the notice shortfall
    and the stranded costs both rest on, worked once per quote."""

    inputs: Mapping[str, str]
    versions: Mapping[str, int]
    weighted: Decimal
    allotment: Allotment


def _function_weights(
    functions: Iterable[Function],
    ratios: Mapping[str, tuple[Share, int]],
    budgets: Mapping[str, tuple[Money, int]],
    splits: Mapping[str, Split],
    force: str,
) -> FunctionWeights:
    inputs: dict[str, str] = {}
    versions: dict[str, int] = {}
    weighted = ZERO
    weighing = Weighing()
    for function in functions:
        budget, budget_version = budgets[function.id]
        share, share_version = ratios[function.id]
        b_key, r_key = f"B({function.name})", f"r({force}, {function.name})"
        inputs[b_key], versions[b_key] = str(budget), budget_version
        inputs[r_key], versions[r_key] = str(share), share_version
        part = budget.amount * share.value
        weighted += part
        weighing.add(part, splits[function.id], function.name, "r")
    return FunctionWeights(inputs, versions, weighted, weighing.allotment(FUNCTION_PAYEE_FORMULA))


FUNCTION_PAYEE_FORMULA = (
    "line·w(p)/Σ_q w(q), w(p) = Σ_f B(f)·r(W,f)·s(p,f), s(p,f) = r(p,f)/Σ_(remaining q) r(q,f); "
    "to the penny by largest remainder"
)


def _notice_shortfall(weights: FunctionWeights, terms: ExitTerms, dates: ExitDates) -> tuple[QuoteLine, Allotment]:
    inputs: dict[str, str] = {}
    versions: dict[str, int] = {}
    dates.record(inputs, versions, "N", "E")
    inputs["notice_period_months"] = str(terms.notice_period_months)
    versions["notice_period_months"] = terms.version
    inputs["notice_end"] = dates.notice_end.isoformat()
    inputs.update(weights.inputs)
    versions.update(weights.versions)
    weighted = weights.weighted
    days = max(0, days_between(dates.exit_on, dates.notice_end))
    inputs["days(E, notice_end)"] = str(days)
    derived = {"notice_end": ("N", "notice_period_months"), "days(E, notice_end)": ("E", "notice_end")}
    if dates.exit_on < dates.notice_end:
        formula = "Σ_f B(f)·r(W,f)·days(E, notice_end)/365, notice_end = N + notice_period_months"
        amount = weighted * days / DAYS_IN_YEAR
    else:
        formula = "0: E is on or after notice_end = N + notice_period_months"
        amount = ZERO
    line = QuoteLine("H1", Money(round_pence(amount)), formula, inputs, versions, HEAD_NAMES["H1"], derived=derived)
    return line, weights.allotment


def _stranded_costs(weights: FunctionWeights, terms: ExitTerms) -> tuple[QuoteLine, Allotment]:
    inputs = dict(weights.inputs)
    versions = dict(weights.versions)
    rate, months = terms.stranded_cost_rate, terms.stranded_cost_months
    inputs["stranded_cost_rate"], versions["stranded_cost_rate"] = str(rate), terms.version
    inputs["stranded_cost_months"], versions["stranded_cost_months"] = str(months), terms.version
    amount = weights.weighted * rate.value * months / MONTHS_IN_YEAR
    formula = "Σ_f B(f)·r(W,f)·stranded_cost_rate·stranded_cost_months/12"
    line = QuoteLine("H4", Money(round_pence(amount)), formula, inputs, versions, HEAD_NAMES["H4"])
    return line, weights.allotment


def labels_of(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """A readable label per (id, name): the name, or "name [id]" where names repeat."""
    pairs = list(items)
    counts: dict[str, int] = {}
    for _, name in pairs:
        counts[name] = counts.get(name, 0) + 1
    return {ident: name if counts[name] == 1 else f"{name} [{ident}]" for ident, name in pairs}


def committed_contracts(collaboration: Collaboration, function_ids: Collection[str], on: date) -> list[Contract]:
    """The contracts of these functions still committed on ``on`` (effective_on <= on < ends_on),
    in the order they were committed."""
    return [
        contract
        for contract in collaboration.contracts_in_order()
        if contract.function_id in function_ids and contract.effective_on <= on < contract.ends_on
    ]


def _contract_break(
    collaboration: Collaboration,
    counted: set[str],
    ratios: Mapping[str, tuple[Share, int]],
    splits: Mapping[str, Split],
    force: str,
    dates: ExitDates,
) -> tuple[QuoteLine, Allotment]:
    inputs: dict[str, str] = {}
    versions: dict[str, int] = {}
    dates.record(inputs, versions, "E")
    contracts = committed_contracts(collaboration, counted, dates.exit_on)
    labels = labels_of((c.id, c.supplier) for c in contracts)
    amount = ZERO
    weighing = Weighing()
    for contract in contracts:
        label = labels[contract.id]
        function = collaboration.functions[contract.function_id]
        share, share_version = ratios[contract.function_id]
        keys = (f"break_cost({label})", f"ends_on({label})", f"r({force}, {function.name})")
        inputs[keys[0]], versions[keys[0]] = str(contract.break_cost), contract.version
        inputs[keys[1]], versions[keys[1]] = contract.ends_on.isoformat(), contract.version
        inputs[keys[2]], versions[keys[2]] = str(share), share_version
        # Which function's ratio applies to the contract, traceable: the contract names its
        # function's id, and the function's own event pairs the id with the name.
        function_key, id_key = f"function({label})", f"id({function.name})"
        inputs[function_key], versions[function_key] = contract.function_id, contract.version
        inputs[id_key], versions[id_key] = function.id, function.version
        part = contract.break_cost.amount * share.value
        amount += part
        weighing.add(part, splits[contract.function_id], function.name, "r")
    formula = "Σ_c break_cost(c)·r(W, function of c), contracts committed on E (effective_on <= E < ends_on)"
    line = QuoteLine("H5", Money(round_pence(amount)), formula, inputs, versions, HEAD_NAMES["H5"])
    payee_formula = (
        "line·w(p)/Σ_q w(q), w(p) = Σ_c break_cost(c)·r(W, f_c)·s(p, f_c), s(p,f) = r(p,f)/Σ_(remaining q) r(q,f); "
        "to the penny by largest remainder"
    )
    return line, weighing.allotment(payee_formula)


def assets_held(collaboration: Collaboration, function_ids: Collection[str] | None, on: date) -> list[JointAsset]:
    """The jointly funded assets held on ``on`` (acquired by then), in the order acquired; with
    ``function_ids``, only those of the agreement as a whole or of one of these functions."""
    return [
        asset
        for asset in collaboration.assets_acquired_by(on)
        if function_ids is None or asset.function_id is None or asset.function_id in function_ids
    ]


def net_book_value(asset: JointAsset, on: date) -> tuple[int, Decimal]:
    """Whole months used by ``on`` and the exact NBV: cost·max(0, 1 - used/useful_life)."""
    used = whole_months(asset.acquired_on, on)
    remaining = max(0, asset.useful_life_months - used)
    return used, asset.cost.amount * remaining / asset.useful_life_months


def asset_inputs(asset: JointAsset, label: str, used: int, nbv: Decimal) -> tuple[dict[str, str], dict[str, int]]:
    """An asset's recorded facts (sourced from the event that registered it) and its workings."""
    inputs = {
        f"cost({label})": str(asset.cost),
        f"acquired_on({label})": asset.acquired_on.isoformat(),
        f"useful_life_months({label})": str(asset.useful_life_months),
    }
    versions = dict.fromkeys(inputs, asset.version)
    inputs[f"whole_months({label})"] = str(used)
    inputs[f"NBV({label})"] = str(round_pence(nbv))
    return inputs, versions


def _asset_split(
    collaboration: Collaboration, counted: set[str], remaining: Sequence[str], force: str, dates: ExitDates
) -> tuple[QuoteLine, Allotment]:
    inputs: dict[str, str] = {}
    versions: dict[str, int] = {}
    derived: dict[str, tuple[str, ...]] = {}
    dates.record(inputs, versions, "E")
    assets = assets_held(collaboration, counted, dates.exit_on)
    labels = labels_of((a.id, a.name) for a in assets)
    amount = ZERO
    weighing = Weighing()
    for asset in assets:
        label = labels[asset.id]
        used, nbv = net_book_value(asset, dates.exit_on)
        share = asset.funded_shares.get(force, Share(ZERO))
        asset_facts, asset_versions = asset_inputs(asset, label, used, nbv)
        inputs.update(asset_facts)
        versions.update(asset_versions)
        share_key = f"funded_share({force}, {label})"
        inputs[share_key], versions[share_key] = str(share), asset.version
        derived[f"whole_months({label})"] = (f"acquired_on({label})", "E")
        derived[f"NBV({label})"] = (f"cost({label})", f"whole_months({label})", f"useful_life_months({label})")
        part = nbv * share.value
        amount -= part
        weighing.add(part, split_among(remaining, asset.funded_shares, asset.version), label, "funded_share")
    formula = "-Σ_a NBV_a(E)·funded_share(W), NBV(E) = cost·max(0, 1 - whole_months(acquired_on, E)/useful_life)"
    line = QuoteLine("H7", Money(round_pence(amount)), formula, inputs, versions, HEAD_NAMES["H7"], derived=derived)
    payee_formula = (
        "line·w(p)/Σ_q w(q), w(p) = Σ_a NBV_a(E)·funded_share(W, a)·s(p, a), "
        "s(p,a) = funded_share(p,a)/Σ_(remaining q) funded_share(q,a): the remaining parties keep the asset and "
        "each pays W its part of W's equity; to the penny by largest remainder"
    )
    return line, weighing.allotment(payee_formula)


def checked_claim_amount(claim: Claim, index: int) -> Money:
    where = f"claims.{index}"
    if claim.head not in CLAIMED_HEADS:
        raise InvalidClaim(f"{where}: a claimed line is on {', '.join(CLAIMED_HEADS)}, not {claim.head!r}", field=where)
    return Money.of(claim.amount, f"{where}.amount")


def claim_inputs(claim: Claim, amount: Money) -> tuple[dict[str, str], dict[str, int]]:
    """A claimed line's facts, each from the event that lodged the claim."""
    inputs = {"amount": str(amount), "claimant": claim.claimant, "respondent": claim.respondent}
    inputs["description"] = claim.description
    if claim.evidence:
        inputs["evidence"] = claim.evidence
    versions = dict.fromkeys(inputs, claim.version) if claim.version is not None else {}
    return inputs, versions


def _claimed_line(claim: Claim, index: int, force: str) -> tuple[QuoteLine, Allotment] | None:
    """A claim as a line of ``force``'s quote: against it, money it pays the claimant; by it,
    money the respondent pays it (the line is the claim negated); else None (not its money)."""
    amount = checked_claim_amount(claim, index)
    if force not in (claim.claimant, claim.respondent):
        return None
    inputs, versions = claim_inputs(claim, amount)
    if claim.respondent == force:
        counterparty, line_amount = claim.claimant, amount
        formula = "claimed amount (a mitigation, negative)" if amount.amount < 0 else "claimed amount"
        payee_formula = "all to the claimant"
    else:
        counterparty, line_amount = claim.respondent, Money(-amount.amount)
        formula = "-claimed amount: claimed by W from the respondent, so owed to W (a credit)"
        payee_formula = "all from the respondent, who owes it to W"
    line = QuoteLine(claim.head, line_amount, formula, inputs, versions, claim.description, claim.source_id)
    keys = ("claimant", "respondent")
    allotment = Allotment.to(
        counterparty,
        payee_formula,
        {key: inputs[key] for key in keys},
        {key: versions[key] for key in keys if key in versions},
        claim.source_id,
    )
    return line, allotment


def apply_caps(
    lines: list[tuple[QuoteLine, Allotment]],
    caps: Mapping[str, Money],
    terms_version: int,
    force: str | None = None,
) -> list[tuple[QuoteLine, Allotment]]:
    """Caps per head, after rounding, on what one party pays on the head: the withdrawing force
    ``force`` on the computed heads and on claims against it, and each respondent of the
    force's own claims on what it pays the force (a credit). Where one line makes up what a
    party pays on a head, it is capped in place; where several do, one adjustment line brings
    their total down to the cap, shared among the claimants in proportion to their claims (or,
    on a credit, wholly from the respondent). Paying in one direction never raises the cap on the
    other."""
    groups: dict[tuple[str, str | None], list[int]] = {}
    for index, (line, _) in enumerate(lines):
        groups.setdefault((line.head, _payer(line, force)), []).append(index)
    result = list(lines)
    adjustments: list[tuple[QuoteLine, Allotment]] = []
    for (head, payer), indexes in groups.items():
        cap = caps.get(head)
        if cap is None:
            continue
        sign = 1 if payer == force else -1  # a credit: the line is minus what the payer pays
        paid = sum((sign * lines[index][0].amount.amount for index in indexes), ZERO)
        if paid <= cap.amount:
            continue
        if len(indexes) == 1:
            line, allotment = lines[indexes[0]]
            result[indexes[0]] = (_capped(line, Money(sign * cap.amount), cap, terms_version), allotment)
            continue
        who = "W" if sign == 1 else payer
        adjustment = QuoteLine(
            head,
            Money(sign * (cap.amount - paid)),
            f"cap adjustment: cap on {head} - Σ lines on {head} that {who} pays",
            {"uncapped": str(Money(paid)), "cap": str(cap)},
            {"cap": terms_version},
            f"{HEAD_NAMES[head]} (cap adjustment)",
            derived={"uncapped": (f"the lines on {head} that {who} pays",)},
        )
        on_head = [lines[index] for index in indexes]
        adjustments.append((adjustment, _adjustment_allotment(on_head) if sign == 1 else _from(payer, cap)))
    order = {head: position for position, head in enumerate(sorted(HEAD_NAMES))}
    return sorted(result + adjustments, key=lambda pair: order[pair[0].head])  # stable: claims keep their order


def _payer(line: QuoteLine, force: str | None) -> str | None:
    """Who pays a line's money: a claim's respondent; the withdrawing force for the rest."""
    return line.inputs.get("respondent", force) if line.head in CLAIMED_HEADS else force


def _capped(line: QuoteLine, amount: Money, cap: Money, terms_version: int) -> QuoteLine:
    inputs = {**line.inputs, "uncapped": str(line.amount), "cap": str(cap)}
    versions = {**line.source_versions, "cap": terms_version}
    formula = f"min({line.formula}; cap on {line.head})" if amount.amount >= 0 else f"-min(-({line.formula}); cap)"
    streams = {**line.input_streams, "cap": None} if line.source_id is not None else dict(line.input_streams)
    return replace(
        line,
        amount=amount,
        formula=formula,
        inputs=inputs,
        source_versions=versions,
        description=f"{line.description} (capped)",
        input_streams=streams,
        derived={**line.derived, "uncapped": tuple(line.inputs)},
    )


def _from(payer: str | None, cap: Money) -> Allotment:
    if payer is None:
        return NOBODY
    return Allotment.to(payer, "all from the respondent, whose payment is capped", {"cap": str(cap)}, {}, None)


def _adjustment_allotment(on_head: Sequence[tuple[QuoteLine, Allotment]]) -> Allotment:
    weights: dict[str, Fraction] = {}
    for line, allotment in on_head:
        total = sum(allotment.weights.values(), Fraction(0))
        if line.amount.amount <= 0 or total == 0:
            continue
        for party, weight in allotment.weights.items():
            weights[party] = weights.get(party, Fraction(0)) + Fraction(line.amount.amount) * weight / total
    if not weights:
        return NOBODY
    return Allotment(weights, "in proportion to what the head's positive lines pay each party, before the cap")


def with_payees(line: QuoteLine, allotment: Allotment, order: Sequence[str]) -> QuoteLine:
    """The line with its amount shared among its payees, to the penny, summing exactly."""
    weights = {party: allotment.weights[party] for party in in_party_order(allotment.weights, order)}
    if not any(weights.values()):
        if line.amount.amount:  # money with nobody to share it: unallocated
            return line
        parts = dict.fromkeys(weights, Decimal("0.00"))
    else:
        parts = split_pence(line.amount.amount, weights)
    payees = tuple(
        PayeeShare(
            force=party,
            amount=Money(parts[party]),
            formula=allotment.formula,
            inputs=dict(allotment.inputs.get(party, {})),
            source_versions=dict(allotment.versions.get(party, {})),
            source_id=allotment.source_id,
            derived=dict(allotment.derived.get(party, {})),
        )
        for party in weights
    )
    return replace(line, payees=payees)


def in_party_order(parties: Iterable[str], order: Sequence[str]) -> list[str]:
    """Parties in the agreement's order (the order they became parties), any others after."""
    rank = {party: index for index, party in enumerate(order)}
    return sorted(parties, key=lambda party: (rank.get(party, len(rank)), party))


def _payee_totals(lines: Sequence[QuoteLine], order: Sequence[str]) -> tuple[PayeeTotal, ...]:
    totals: dict[str, dict[str, Decimal]] = {}
    for line in lines:
        for payee in line.payees:
            by_head = totals.setdefault(payee.force, {})
            by_head[line.head] = by_head.get(line.head, ZERO) + payee.amount.amount
    return tuple(
        PayeeTotal(
            force=party,
            amount=Money(round_pence(sum(totals[party].values(), ZERO))),
            by_head={head: Money(amount) for head, amount in sorted(totals[party].items())},
        )
        for party in in_party_order(totals, order)
    )
