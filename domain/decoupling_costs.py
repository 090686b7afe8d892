"""What a mutual decoupling costs each party: the exit-cost method for one function that the
parties together return to single-force structures (``docs/exit-cost-method.md``).

Nobody withdraws, so nobody pays the others for leaving: each head is worked out for the
function as a whole and shared among the parties by the function's ratio, and each party's
net position is its share of every head plus the claims it pays, less the claims it receives.

- Dates. E is the day the function leaves the joint structure (the decoupling's effective date,
  or for a proposed decoupling the exit date asked for, else the earliest exit had notice been
  given on the quote date). N is the day it was decided (``decided_on``, if recorded), or the
  quote date for a proposal; ratios, budgets and exit terms are those in effect on N (on E
  where no decision date was recorded).
- Heads. H1: B(f)·days(E, notice_end)/365 when the function leaves before a notice period from
  the decision has run (0 where no decision date was recorded: no shortfall can be worked
  out). H4: B(f)·stranded_cost_rate·stranded_cost_months/12. H5: the break costs of the
  function's contracts committed on E. H7: minus the net book value on E of the function's
  assets (``JointAsset.function_id``): each party is owed its equity in them.
- Shares. H1, H4 and H5 are shared by the function's ratio on N, H7 by each asset's funding
  shares, among the parties still in the agreement on E (where they hold no share, to the host
  if it is among them, else equally); each head's parts are rounded to the penny by the largest
  remainder, so they add up to the head exactly.
- Caps. A cap on a computed head limits the head's amount (after rounding); a cap on a claimed
  head limits what each party pays on that head under claims, by an adjustment shared among
  its claimants in proportion to their claims.
- Claims of the decoupling's exit case (H2, H3, H6, H8; negative lines are mitigations) are
  money the respondent pays the claimant: they move money between the parties and add nothing
  to the total, which is the sum of the computed heads; the net positions add up to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import TYPE_CHECKING

from domain.allocation import split_pence
from domain.errors import NoExitTerms
from domain.exit_costs import (
    DAYS_IN_YEAR,
    HEAD_NAMES,
    MONTHS_IN_YEAR,
    ZERO,
    AgreementHasEnded,
    Allotment,
    Claim,
    ExitBeforeNotice,
    ExitDates,
    NoApportionment,
    QuoteLine,
    Split,
    Weighing,
    apply_caps,
    asset_inputs,
    assets_held,
    checked_claim_amount,
    claim_inputs,
    committed_contracts,
    in_party_order,
    labels_of,
    net_book_value,
    round_pence,
    split_among,
    with_payees,
)
from domain.months import add_months, days_between
from domain.values import Money

if TYPE_CHECKING:
    from domain.collaboration import Collaboration, ExitTerms, Function

SHARED_BY = "the parties"
SHARE_FORMULA = "head·w(p)/Σ_q w(q), w(p) = {weight}; to the penny by largest remainder"


@dataclass(frozen=True)
class Transfer:
    """Money one party pays another under a claim (negative: a mitigation or cap adjustment)."""

    head: str
    amount: Money
    payer: str
    payee: str
    description: str
    formula: str
    inputs: Mapping[str, str]
    source_versions: Mapping[str, int]
    source_id: str | None = None
    input_streams: Mapping[str, str | None] = field(default_factory=dict)

    def stream_of(self, input_name: str) -> str | None:
        return self.input_streams.get(input_name, self.source_id)


@dataclass(frozen=True)
class PartyPosition:
    """One party's part of a decoupling: its share of each computed head, the claims it pays
    and receives, and its net position (positive: it bears that much)."""

    force: str
    by_head: Mapping[str, Money]
    claims_paid: Money
    claims_received: Money
    net: Money


@dataclass(frozen=True)
class DecouplingStatement:
    """The costs of decoupling one function, head by head, shared among the parties."""

    collaboration_id: str
    function_id: str
    function_name: str
    decoupled: bool  # False: a proposed decoupling
    notice_on: date  # N: the decision date, or the quote date for a proposal
    exit_on: date  # E
    quoted_on: date
    notice_end: date
    terms_version: int
    decided: bool  # whether N is a recorded decision date (else no H1)
    notice_version: int | None
    exit_version: int | None
    basis: Mapping[str, str]
    parties: tuple[str, ...]
    lines: tuple[QuoteLine, ...]  # each line's ``payees`` are the parties' shares of it
    transfers: tuple[Transfer, ...]
    positions: tuple[PartyPosition, ...]
    total: Money


@dataclass(frozen=True)
class _Basis:
    notice_on: date
    exit_on: date
    decided: bool
    notice_version: int | None
    exit_version: int | None
    basis: dict[str, str]


def decoupling_costs(
    collaboration: Collaboration,
    *,
    function_id: str,
    on: date,
    exit_on: date | None = None,
    claims: Sequence[Claim] = (),
) -> DecouplingStatement:
    """The costs of decoupling ``function_id``, quoted on the date ``on``: for a decoupled
    function, on its decoupling; otherwise a proposal leaving on ``exit_on`` (by default the
    earliest exit had notice been given on ``on``). ``claims`` are the decoupling case's."""
    collaboration.check_function_exists(function_id)
    function = collaboration.functions[function_id]
    basis = _decoupling_basis(collaboration, function, on, exit_on)
    notice, leaves = basis.notice_on, basis.exit_on
    terms = collaboration.exit_terms_in_effect(notice)
    if terms is None:
        raise NoExitTerms(f"no exit terms were in effect on {notice}", field="notice_on")
    apportionment = collaboration.shares_in_effect(function.id, notice)
    if apportionment is None:
        raise NoApportionment(
            f"function {function.name!r} had no apportionment in effect on {notice}", field="notice_on"
        )
    parties = collaboration.parties_on(leaves)
    split = split_among(parties, apportionment.shares, apportionment.version, function.host_force, SHARED_BY)
    budget, budget_version = function.budget_in_effect(notice)
    notice_end = add_months(notice, terms.notice_period_months)
    dates = ExitDates(notice, leaves, notice_end, basis.notice_version, basis.exit_version)

    with localcontext() as context:
        context.prec = 50
        facts = ({f"B({function.name})": str(budget)}, {f"B({function.name})": budget_version})
        worked = [
            (line, allotment.including(parties))
            for line, allotment in (
                _notice_shortfall(function, budget.amount, facts, split, terms, dates, basis.decided),
                _stranded_costs(function, budget.amount, facts, split, terms),
                _contract_break(collaboration, function, split, dates),
                _asset_split(collaboration, function, parties, dates),
            )
        ]
        worked = apply_caps(worked, terms.caps, terms.version)
        lines = [with_payees(line, allotment, collaboration.parties) for line, allotment in worked]
        total = sum((line.amount.amount for line in lines), ZERO)
    transfers = _transfers(claims, terms, collaboration.parties)
    return DecouplingStatement(
        collaboration_id=str(collaboration.id),
        function_id=function.id,
        function_name=function.name,
        decoupled=function.decoupling is not None,
        notice_on=notice,
        exit_on=leaves,
        quoted_on=on,
        notice_end=notice_end,
        terms_version=terms.version,
        decided=basis.decided,
        notice_version=basis.notice_version,
        exit_version=basis.exit_version,
        basis=basis.basis,
        parties=tuple(parties),
        lines=tuple(lines),
        transfers=tuple(transfers),
        positions=_positions(lines, transfers, parties, collaboration.parties),
        total=Money(round_pence(total)),
    )


def _decoupling_basis(collaboration: Collaboration, function: Function, on: date, exit_on: date | None) -> _Basis:
    decoupling = function.decoupling
    if decoupling is not None:
        leaves = exit_on or decoupling.effective_on
        exit_version = None if exit_on is not None else decoupling.version
        why_e = "the exit date asked for" if exit_on is not None else "the day the decoupling took effect"
        if decoupling.decided_on is not None:
            why_n = f"the day the decoupling was decided by {decoupling.decided_by}"
            notice_on, decided, notice_version = decoupling.decided_on, True, decoupling.version
        else:
            why_n = "no decision date was recorded: ratios, budget and terms are those in effect on E"
            notice_on, decided, notice_version = decoupling.effective_on, False, decoupling.version
        if leaves < notice_on:
            raise ExitBeforeNotice(f"exit date {leaves} is before the decision of {notice_on}", field="exit_on")
        return _Basis(notice_on, leaves, decided, notice_version, exit_version, {"N": why_n, "E": why_e})
    if collaboration.terminated_on is not None:
        raise AgreementHasEnded(
            f"the agreement ended on {collaboration.terminated_on}: no decoupling of {function.name!r} can be proposed",
            field="function_id",
        )
    if exit_on is not None:
        if exit_on < on:
            raise ExitBeforeNotice(f"exit date {exit_on} is before the quote date {on}", field="exit_on")
        return _Basis(on, exit_on, True, None, None, {"N": PROPOSED_N, "E": "the exit date asked for"})
    terms = collaboration.exit_terms_in_effect(on)
    if terms is None:
        raise NoExitTerms(f"no exit terms were in effect on {on}, so there is no notice period", field="on")
    earliest = "the earliest exit had notice been given on N (N plus the notice period)"
    return _Basis(
        on,
        add_months(on, terms.notice_period_months),
        True,
        None,
        terms.version,
        {
            "N": PROPOSED_N,
            "E": earliest,
        },
    )


PROPOSED_N = "the quote date: the decoupling is proposed, not yet recorded"


# ------------------------------------------------------------------------------ the heads
def _by_ratio(split: Split, function: Function) -> Allotment:
    """A function-wide head shared by the function's ratio."""
    weighing = Weighing()
    weighing.add(Decimal(1), split, function.name, "r")
    return weighing.allotment(SHARE_FORMULA.format(weight="r(p,f)/Σ_(parties q) r(q,f)"))


def _notice_shortfall(
    function: Function,
    budget: Decimal,
    facts: tuple[dict[str, str], dict[str, int]],
    split: Split,
    terms: ExitTerms,
    dates: ExitDates,
    decided: bool,
) -> tuple[QuoteLine, Allotment]:
    inputs, versions = dict(facts[0]), dict(facts[1])
    dates.record(inputs, versions, "N", "E")
    inputs["notice_period_months"], versions["notice_period_months"] = str(terms.notice_period_months), terms.version
    inputs["notice_end"] = dates.notice_end.isoformat()
    days = max(0, days_between(dates.exit_on, dates.notice_end))
    inputs["days(E, notice_end)"] = str(days)
    derived = {"notice_end": ("N", "notice_period_months"), "days(E, notice_end)": ("E", "notice_end")}
    if not decided:
        formula, amount = "0: no decision date was recorded, so no notice shortfall can be worked out", ZERO
    elif dates.exit_on < dates.notice_end:
        formula = "B(f)·days(E, notice_end)/365, notice_end = N + notice_period_months (N: the decision)"
        amount = budget * days / DAYS_IN_YEAR
    else:
        formula, amount = "0: E is on or after notice_end = N + notice_period_months", ZERO
    line = QuoteLine("H1", Money(round_pence(amount)), formula, inputs, versions, HEAD_NAMES["H1"], derived=derived)
    return line, _by_ratio(split, function)


def _stranded_costs(
    function: Function,
    budget: Decimal,
    facts: tuple[dict[str, str], dict[str, int]],
    split: Split,
    terms: ExitTerms,
) -> tuple[QuoteLine, Allotment]:
    inputs, versions = dict(facts[0]), dict(facts[1])
    rate, months = terms.stranded_cost_rate, terms.stranded_cost_months
    inputs["stranded_cost_rate"], versions["stranded_cost_rate"] = str(rate), terms.version
    inputs["stranded_cost_months"], versions["stranded_cost_months"] = str(months), terms.version
    amount = budget * rate.value * months / MONTHS_IN_YEAR
    formula = "B(f)·stranded_cost_rate·stranded_cost_months/12"
    line = QuoteLine("H4", Money(round_pence(amount)), formula, inputs, versions, HEAD_NAMES["H4"])
    return line, _by_ratio(split, function)


def _contract_break(
    collaboration: Collaboration, function: Function, split: Split, dates: ExitDates
) -> tuple[QuoteLine, Allotment]:
    inputs: dict[str, str] = {}
    versions: dict[str, int] = {}
    dates.record(inputs, versions, "E")
    contracts = committed_contracts(collaboration, {function.id}, dates.exit_on)
    labels = labels_of((c.id, c.supplier) for c in contracts)
    amount = ZERO
    for contract in contracts:
        label = labels[contract.id]
        keys = (f"break_cost({label})", f"ends_on({label})")
        inputs[keys[0]], versions[keys[0]] = str(contract.break_cost), contract.version
        inputs[keys[1]], versions[keys[1]] = contract.ends_on.isoformat(), contract.version
        amount += contract.break_cost.amount
    formula = "Σ_c break_cost(c), the function's contracts committed on E (effective_on <= E < ends_on)"
    line = QuoteLine("H5", Money(round_pence(amount)), formula, inputs, versions, HEAD_NAMES["H5"])
    return line, _by_ratio(split, function)


def _asset_split(
    collaboration: Collaboration, function: Function, parties: Sequence[str], dates: ExitDates
) -> tuple[QuoteLine, Allotment]:
    inputs: dict[str, str] = {}
    versions: dict[str, int] = {}
    derived: dict[str, tuple[str, ...]] = {}
    dates.record(inputs, versions, "E")
    assets = [asset for asset in assets_held(collaboration, {function.id}, dates.exit_on) if asset.function_id]
    labels = labels_of((a.id, a.name) for a in assets)
    amount = ZERO
    weighing = Weighing()
    for asset in assets:
        label = labels[asset.id]
        used, nbv = net_book_value(asset, dates.exit_on)
        facts, facts_versions = asset_inputs(asset, label, used, nbv)
        inputs.update(facts)
        versions.update(facts_versions)
        derived[f"whole_months({label})"] = (f"acquired_on({label})", "E")
        derived[f"NBV({label})"] = (f"cost({label})", f"whole_months({label})", f"useful_life_months({label})")
        amount -= nbv
        split = split_among(parties, asset.funded_shares, asset.version, who=SHARED_BY)
        weighing.add(nbv, split, label, "funded_share")
    formula = "-Σ_a NBV_a(E), the function's assets held on E: each party is owed its equity"
    line = QuoteLine("H7", Money(round_pence(amount)), formula, inputs, versions, HEAD_NAMES["H7"], derived=derived)
    weight = "Σ_a NBV_a(E)·funded_share(p,a)/Σ_(parties q) funded_share(q,a)"
    return line, weighing.allotment(SHARE_FORMULA.format(weight=weight))


# ------------------------------------------------------------------------------ the claims
def _transfers(claims: Sequence[Claim], terms: ExitTerms, order: Sequence[str]) -> list[Transfer]:
    """Each claimed line as money its respondent pays its claimant; then, where what one party
    pays on a capped head exceeds the cap, an adjustment shared among that party's claimants."""
    transfers = []
    for index, claim in enumerate(claims):
        amount = checked_claim_amount(claim, index)
        inputs, versions = claim_inputs(claim, amount)
        formula = "claimed amount (a mitigation, negative)" if amount.amount < 0 else "claimed amount"
        transfers.append(
            Transfer(
                claim.head,
                amount,
                claim.respondent,
                claim.claimant,
                claim.description,
                formula,
                inputs,
                versions,
                claim.source_id,
            )
        )
    adjustments = []
    for head, cap in terms.caps.items():
        for payer in in_party_order({t.payer for t in transfers if t.head == head}, order):
            owed = [t for t in transfers if t.head == head and t.payer == payer]
            paid = sum((t.amount.amount for t in owed), ZERO)
            if paid <= cap.amount:
                continue
            weights: dict[str, Fraction] = {}
            for transfer in owed:
                if transfer.amount.amount > 0:
                    weights[transfer.payee] = weights.get(transfer.payee, Fraction(0)) + Fraction(
                        transfer.amount.amount
                    )
            weights = {payee: weights[payee] for payee in in_party_order(weights, order)}
            for payee, part in split_pence(cap.amount - paid, weights).items():
                adjustments.append(
                    Transfer(
                        head,
                        Money(part),
                        payer,
                        payee,
                        f"{HEAD_NAMES[head]} (cap adjustment)",
                        f"cap adjustment: (cap on {head} - Σ claims on {head} {payer} pays), shared among its "
                        "claimants in proportion to their claims; to the penny by largest remainder",
                        {"uncapped": str(Money(paid)), "cap": str(cap)},
                        {"cap": terms.version},
                    )
                )
    return transfers + adjustments


def _positions(
    lines: Sequence[QuoteLine], transfers: Sequence[Transfer], parties: Sequence[str], order: Sequence[str]
) -> tuple[PartyPosition, ...]:
    by_head: dict[str, dict[str, Decimal]] = {party: {} for party in parties}
    paid: dict[str, Decimal] = dict.fromkeys(parties, ZERO)
    received: dict[str, Decimal] = dict.fromkeys(parties, ZERO)
    for line in lines:
        for share in line.payees:
            heads = by_head.setdefault(share.force, {})
            heads[line.head] = heads.get(line.head, ZERO) + share.amount.amount
    for transfer in transfers:
        paid[transfer.payer] = paid.get(transfer.payer, ZERO) + transfer.amount.amount
        received[transfer.payee] = received.get(transfer.payee, ZERO) + transfer.amount.amount
    everyone = in_party_order(set(by_head) | set(paid) | set(received), order)
    positions = []
    for party in everyone:
        heads = by_head.get(party, {})
        party_paid, party_received = paid.get(party, ZERO), received.get(party, ZERO)
        net = sum(heads.values(), ZERO) + party_paid - party_received
        positions.append(
            PartyPosition(
                force=party,
                by_head={head: Money(amount) for head, amount in sorted(heads.items())},
                claims_paid=Money(round_pence(party_paid)),
                claims_received=Money(round_pence(party_received)),
                net=Money(round_pence(net)),
            )
        )
    return tuple(positions)
