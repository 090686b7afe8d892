"""The exit-cost calculator: DOMAIN.md's "Exit-cost method", as a pure function of the record.

``quote_withdrawal`` reads a Collaboration (and nothing else: no clock, no I/O) and returns an
``ExitQuote`` whose every line shows its formula, its inputs (as exact decimal strings) and
the aggregate versions of the events that supplied each input; the service turns those
versions into event ids.

Choices made here, beyond the letter of the method:

- Dates. ``add_months`` clamps to the month's end. ``whole_months(a, b)`` is the largest n with
  ``add_months(a, n) <= b`` (0 when b is before a), so it agrees with ``add_months``: from
  31 Jan to 28 Feb 2019 is one whole month, and to 27 Feb none.
- Lines. The computed heads H1, H4, H5 and H7 are one line each and are always present, even
  when zero (a fully depreciated asset is listed in H7's inputs with NBV 0.00, and the line is
  0.00), so a quote always says what it considered. Claimed heads (H2, H3, H6, H8) are one
  line per claim; mitigations are claims with negative amounts.
- Arithmetic. Each line is worked exactly (sums taken before the single division) at 50
  digits of precision and rounded once, half-up, to pence. The total is the sum of the
  rounded (and capped) lines.
- Caps apply per head after rounding. A head with one line is capped in place (its formula
  and inputs say so); a claimed head whose lines together exceed the cap gets one extra
  "cap adjustment" line for that head bringing its total down to the cap.
- Functions counted are those added on or before E and not decoupled on or before E.
  Contracts of a function left out are left out too (the function has left the joint
  structure, and its contracts with it).
- A function with no apportionment in effect on N (its own or the all-functions one) is an
  error (``NoApportionment``) rather than a silent zero. A party missing from an
  apportionment or an asset's funding shares has share 0.
- An exit date before the notice date is refused (``ExitBeforeNotice``).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import TYPE_CHECKING

from domain.errors import DomainError, NoExitTerms
from domain.values import PENNY, Money, Share

if TYPE_CHECKING:
    from domain.collaboration import Collaboration, ExitTerms, Function

COMPUTED_HEADS = ("H1", "H4", "H5", "H7")
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


class NoApportionment(DomainError):
    """Every function counted in a quote has a ratio in effect on the notice date."""


class ExitBeforeNotice(DomainError):
    """The exit date is on or after the date notice was served (or the quote date)."""


class InvalidClaim(DomainError):
    """A claimed line is on a claimed head (H2, H3, H6, H8) and is money to the penny."""


class DateOutOfRange(DomainError):
    """Dates worked out from a recorded date (a notice's end, an earliest exit) fall within
    the years 1 to 9999."""


# ---------------------------------------------------------------------------------- dates
def add_months(day: date, months: int) -> date:
    """``day`` plus a whole number of calendar months (may be negative), clamped to the end of
    the month: 2020-01-31 + 1 = 2020-02-29, 2019-01-31 + 1 = 2019-02-28."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    if not date.min.year <= year <= date.max.year:
        raise DateOutOfRange(f"{day.isoformat()} plus {months} months is beyond the year {date.max.year}")
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def whole_months(start: date, end: date) -> int:
    """The number of complete calendar months from ``start`` to ``end``: the largest n with
    ``add_months(start, n) <= end``, or 0 if ``end`` is before ``start``."""
    if end < start:
        return 0
    months = (end.year - start.year) * 12 + (end.month - start.month)
    while months > 0 and add_months(start, months) > end:
        months -= 1
    return months


def days_between(earlier: date, later: date) -> int:
    """Actual days from ``earlier`` to ``later`` (negative if ``later`` is earlier)."""
    return (later - earlier).days


def round_pence(value: Decimal) -> Decimal:
    """Half-up to the penny; -0.00 is written 0.00."""
    rounded = value.quantize(PENNY, rounding=ROUND_HALF_UP)
    return rounded.copy_abs() if rounded.is_zero() else rounded


# ---------------------------------------------------------------------------- value objects
@dataclass(frozen=True)
class QuoteLine:
    """One line of a quote: a head, its amount to the penny, how it was worked, from what."""

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

    def stream_of(self, input_name: str) -> str | None:
        """The aggregate whose event supplied an input (None: the collaboration)."""
        return self.input_streams.get(input_name, self.source_id)


@dataclass(frozen=True)
class ExitQuote:
    """What a withdrawing force owes (positive) or is owed (negative) on its exit date."""

    collaboration_id: str
    force: str
    notice_on: date
    exit_on: date
    quoted_on: date
    notice_end: date
    terms_version: int
    lines: tuple[QuoteLine, ...]
    total: Money

    def by_head(self) -> dict[str, Money]:
        """The total of each head that has lines."""
        totals: dict[str, Decimal] = {}
        for line in self.lines:
            totals[line.head] = totals.get(line.head, ZERO) + line.amount.amount
        return {head: Money(amount) for head, amount in totals.items()}


@dataclass(frozen=True)
class Claim:
    """A claimed line from an exit case (H2, H3, H6 or H8); a mitigation is a negative claim."""

    head: str
    amount: object
    description: str
    evidence: str | None = None
    source_versions: Mapping[str, int] = field(default_factory=dict)
    source_id: str | None = None  # the exit case that lodged it


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
) -> ExitQuote:
    """The exit costs of ``force`` withdrawing on ``exit_on``, by DOMAIN.md's method.

    N = ``notice_on`` or, with no notice served, ``quoted_on``; E = ``exit_on``. Ratios and
    budgets are those in effect on N; exit terms are those in effect on N. ``decoupled_on``
    maps function ids to the dates they left the joint structure."""
    collaboration.check_is_party(force, "force")
    notice = notice_on or quoted_on
    if exit_on < notice:
        raise ExitBeforeNotice(f"exit date {exit_on} is before the notice date {notice}", field="exit_on")
    terms = collaboration.exit_terms_in_effect(notice)
    if terms is None:
        raise NoExitTerms(f"no exit terms were in effect on the notice date {notice}", field="notice_on")
    claimed = [_checked_claim(claim, index) for index, claim in enumerate(claims)]
    decoupled = dict(decoupled_on or {})

    functions = [
        function
        for function in sorted(collaboration.functions.values(), key=lambda f: (f.added_on, f.version))
        if function.added_on <= exit_on and not (function.id in decoupled and decoupled[function.id] <= exit_on)
    ]
    counted = {function.id for function in functions}
    ratios = {function.id: _ratio(collaboration, function, force, notice) for function in functions}
    budgets = {function.id: function.budget_in_effect(notice) for function in functions}
    notice_end = add_months(notice, terms.notice_period_months)

    with localcontext() as context:
        context.prec = _PRECISION
        lines = [
            _notice_shortfall(functions, ratios, budgets, force, terms, notice, exit_on, notice_end),
            _stranded_costs(functions, ratios, budgets, force, terms),
            _contract_break(collaboration, counted, ratios, force, exit_on),
            _asset_split(collaboration, force, exit_on),
        ]
        lines.extend(claimed)
        lines = _apply_caps(lines, terms.caps, terms.version)
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
    )


def quote_for_force(
    collaboration: Collaboration,
    *,
    force: str,
    on: date,
    exit_on: date | None = None,
    claims: Sequence[Claim] = (),
) -> ExitQuote:
    """The standing exit figure of ``force`` on the date ``on``: the basis every reader uses
    (the quote endpoint, the exit-cost history), so their figures agree.

    With a live notice, N is its date and E is ``exit_on`` or else the notice's exit date (as
    moved by any s23G direction). A force that has withdrawn is quoted on the notice it left
    on, and E is the date it left. With neither, N is ``on`` and E is ``exit_on`` or else the
    earliest exit date had notice been served that day (N + notice_period_months, so H1 is 0).
    Functions decoupled on or before E are left out."""
    collaboration.check_is_party(force, "force")
    notice = collaboration.live_notice(force)
    spent = collaboration.spent_notice(force)
    if notice is not None:
        notice_on = notice.served_on
        exit_on = exit_on or notice.exit_on
    elif spent is not None:
        notice_on = spent.served_on
        exit_on = exit_on or collaboration.withdrawn[force].effective_on
    else:
        notice_on = None
        if exit_on is None:
            terms = collaboration.exit_terms_in_effect(on)
            if terms is None:
                raise NoExitTerms(f"no exit terms were in effect on {on}, so there is no notice period", field="on")
            exit_on = add_months(on, terms.notice_period_months)
    return quote_withdrawal(
        collaboration,
        force=force,
        exit_on=exit_on,
        quoted_on=on,
        notice_on=notice_on,
        decoupled_on=collaboration.decoupled_on(),
        claims=claims,
    )


def _ratio(collaboration: Collaboration, function: Function, force: str, on: date) -> tuple[Share, int]:
    apportionment = collaboration.shares_in_effect(function.id, on)
    if apportionment is None:
        raise NoApportionment(f"function {function.name!r} had no apportionment in effect on {on}", field="notice_on")
    return apportionment.shares.get(force, Share(ZERO)), apportionment.version


def _function_inputs(
    functions: Iterable[Function],
    ratios: Mapping[str, tuple[Share, int]],
    budgets: Mapping[str, tuple[Money, int]],
    force: str,
    inputs: dict[str, str],
    versions: dict[str, int],
) -> Decimal:
    """Records B(f) and r(W,f) for each function and returns Σ_f B(f)·r(W,f), exactly."""
    weighted = ZERO
    for function in functions:
        budget, budget_version = budgets[function.id]
        share, share_version = ratios[function.id]
        b_key, r_key = f"B({function.name})", f"r({force}, {function.name})"
        inputs[b_key], versions[b_key] = str(budget), budget_version
        inputs[r_key], versions[r_key] = str(share), share_version
        weighted += budget.amount * share.value
    return weighted


def _notice_shortfall(
    functions: Sequence[Function],
    ratios: Mapping[str, tuple[Share, int]],
    budgets: Mapping[str, tuple[Money, int]],
    force: str,
    terms: ExitTerms,
    notice: date,
    exit_on: date,
    notice_end: date,
) -> QuoteLine:
    inputs: dict[str, str] = {"N": notice.isoformat(), "E": exit_on.isoformat()}
    versions: dict[str, int] = {}
    inputs["notice_period_months"] = str(terms.notice_period_months)
    versions["notice_period_months"] = terms.version
    inputs["notice_end"] = notice_end.isoformat()
    weighted = _function_inputs(functions, ratios, budgets, force, inputs, versions)
    days = max(0, days_between(exit_on, notice_end))
    inputs["days(E, notice_end)"] = str(days)
    if exit_on < notice_end:
        formula = "Σ_f B(f)·r(W,f)·days(E, notice_end)/365, notice_end = N + notice_period_months"
        amount = weighted * days / DAYS_IN_YEAR
    else:
        formula = "0: E is on or after notice_end = N + notice_period_months"
        amount = ZERO
    return QuoteLine("H1", Money(round_pence(amount)), formula, inputs, versions, HEAD_NAMES["H1"])


def _stranded_costs(
    functions: Sequence[Function],
    ratios: Mapping[str, tuple[Share, int]],
    budgets: Mapping[str, tuple[Money, int]],
    force: str,
    terms: ExitTerms,
) -> QuoteLine:
    inputs: dict[str, str] = {}
    versions: dict[str, int] = {}
    weighted = _function_inputs(functions, ratios, budgets, force, inputs, versions)
    rate, months = terms.stranded_cost_rate, terms.stranded_cost_months
    inputs["stranded_cost_rate"], versions["stranded_cost_rate"] = str(rate), terms.version
    inputs["stranded_cost_months"], versions["stranded_cost_months"] = str(months), terms.version
    amount = weighted * rate.value * months / MONTHS_IN_YEAR
    formula = "Σ_f B(f)·r(W,f)·stranded_cost_rate·stranded_cost_months/12"
    return QuoteLine("H4", Money(round_pence(amount)), formula, inputs, versions, HEAD_NAMES["H4"])


def _labels(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """A readable label per (id, name): the name, or "name [id]" where names repeat."""
    pairs = list(items)
    counts: dict[str, int] = {}
    for _, name in pairs:
        counts[name] = counts.get(name, 0) + 1
    return {ident: name if counts[name] == 1 else f"{name} [{ident}]" for ident, name in pairs}


def _contract_break(
    collaboration: Collaboration,
    counted: set[str],
    ratios: Mapping[str, tuple[Share, int]],
    force: str,
    exit_on: date,
) -> QuoteLine:
    inputs: dict[str, str] = {"E": exit_on.isoformat()}
    versions: dict[str, int] = {}
    contracts = sorted(
        (
            contract
            for contract in collaboration.contracts.values()
            if contract.function_id in counted and contract.effective_on <= exit_on < contract.ends_on
        ),
        key=lambda c: (c.effective_on, c.version),
    )
    labels = _labels((c.id, c.supplier) for c in contracts)
    amount = ZERO
    for contract in contracts:
        label = labels[contract.id]
        function = collaboration.functions[contract.function_id]
        share, share_version = ratios[contract.function_id]
        keys = (f"break_cost({label})", f"ends_on({label})", f"r({force}, {function.name})")
        inputs[keys[0]], versions[keys[0]] = str(contract.break_cost), contract.version
        inputs[keys[1]], versions[keys[1]] = contract.ends_on.isoformat(), contract.version
        inputs[keys[2]], versions[keys[2]] = str(share), share_version
        amount += contract.break_cost.amount * share.value
    formula = "Σ_c break_cost(c)·r(W, function of c), contracts committed on E (effective_on <= E < ends_on)"
    return QuoteLine("H5", Money(round_pence(amount)), formula, inputs, versions, HEAD_NAMES["H5"])


def _asset_split(collaboration: Collaboration, force: str, exit_on: date) -> QuoteLine:
    inputs: dict[str, str] = {"E": exit_on.isoformat()}
    versions: dict[str, int] = {}
    assets = sorted(
        (asset for asset in collaboration.assets.values() if asset.acquired_on <= exit_on),
        key=lambda a: (a.acquired_on, a.version),
    )
    labels = _labels((a.id, a.name) for a in assets)
    amount = ZERO
    for asset in assets:
        label = labels[asset.id]
        used = whole_months(asset.acquired_on, exit_on)
        remaining = max(0, asset.useful_life_months - used)
        nbv = asset.cost.amount * remaining / asset.useful_life_months
        share = asset.funded_shares.get(force, Share(ZERO))
        for key, value in (
            (f"cost({label})", str(asset.cost)),
            (f"acquired_on({label})", asset.acquired_on.isoformat()),
            (f"useful_life_months({label})", str(asset.useful_life_months)),
            (f"funded_share({force}, {label})", str(share)),
        ):
            inputs[key], versions[key] = value, asset.version
        inputs[f"whole_months({label})"] = str(used)
        inputs[f"NBV({label})"] = str(round_pence(nbv))
        amount -= nbv * share.value
    formula = "-Σ_a NBV_a(E)·funded_share(W), NBV(E) = cost·max(0, 1 - whole_months(acquired_on, E)/useful_life)"
    return QuoteLine("H7", Money(round_pence(amount)), formula, inputs, versions, HEAD_NAMES["H7"])


def _checked_claim(claim: Claim, index: int) -> QuoteLine:
    where = f"claims.{index}"
    if claim.head not in CLAIMED_HEADS:
        raise InvalidClaim(f"{where}: a claimed line is on {', '.join(CLAIMED_HEADS)}, not {claim.head!r}", field=where)
    amount = Money.of(claim.amount, f"{where}.amount")
    inputs = {"amount": str(amount), "description": claim.description}
    if claim.evidence:
        inputs["evidence"] = claim.evidence
    formula = "claimed amount (a mitigation, negative)" if amount.amount < 0 else "claimed amount"
    return QuoteLine(
        claim.head, amount, formula, inputs, dict(claim.source_versions), claim.description, claim.source_id
    )


def _apply_caps(lines: list[QuoteLine], caps: Mapping[str, Money], terms_version: int) -> list[QuoteLine]:
    """Caps per head, after rounding: a single line is capped in place; a head of several
    lines gets one adjustment line bringing its total down to the cap."""
    result: list[QuoteLine] = []
    for line in lines:
        cap = caps.get(line.head)
        on_head = [other for other in lines if other.head == line.head]
        if cap is not None and len(on_head) == 1 and line.amount > cap:
            inputs = {**line.inputs, "uncapped": str(line.amount), "cap": str(cap)}
            versions = {**line.source_versions, "cap": terms_version}
            formula = f"min({line.formula}; cap on {line.head})"
            streams = {**line.input_streams, "cap": None} if line.source_id is not None else dict(line.input_streams)
            line = QuoteLine(
                line.head, cap, formula, inputs, versions, f"{line.description} (capped)", line.source_id, streams
            )
        result.append(line)
    for head, cap in caps.items():
        on_head = [line for line in result if line.head == head]
        if len(on_head) < 2:
            continue
        head_total = sum((line.amount.amount for line in on_head), ZERO)
        if head_total > cap.amount:
            result.append(
                QuoteLine(
                    head,
                    Money(cap.amount - head_total),
                    f"cap adjustment: cap on {head} - Σ lines on {head}",
                    {"uncapped": str(Money(head_total)), "cap": str(cap)},
                    {"cap": terms_version},
                    f"{HEAD_NAMES[head]} (cap adjustment)",
                )
            )
    order = {head: position for position, head in enumerate(sorted(HEAD_NAMES))}
    return sorted(result, key=lambda line: order[line.head])  # stable: claims keep their order
