"""One plain sentence per event type: what the event recorded, as a board member would say it
("West Mercia Police served notice to withdraw; the earliest it can leave is 2019-10-09"),
forces by name, money in pounds, shares as percentages. Used by the change report, the board
pack's references and the web view's timeline; the API keeps the event's type and data as
recorded beside it.

A type without a sentence here (one added later) reads as its type in words ("Something
happened"), so a new event never breaks a page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from service.wording import amount_in, event_words, force_name, percent, plain, pounds, shares, stage_name

Data = Mapping[str, Any]
Names = Mapping[str, str]  # function id -> its name


def _function(data: Data, names: Names, key: str = "function_id") -> str:
    function_id = data.get(key)
    if not function_id:
        return "every function"
    name = names.get(str(function_id))
    return f"“{name}”" if name else "a function"


def _forces(codes: Any) -> str:
    names = [force_name(code) for code in codes or ()]
    return ", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + names[-1] if names else "no force"


def _lines_total(lines: Any) -> str:
    return pounds(sum((Decimal(str(line["amount"])) for line in lines or ()), Decimal("0.00")))


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


SENTENCES: dict[str, Callable[[Data, Names], str]] = {
    # the agreement
    "Collaboration.Established": lambda d, n: (
        f"The agreement “{d.get('name')}” was made between {_forces(d.get('parties'))}, "
        f"led by {force_name(d.get('lead_force'))}"
    ),
    "Collaboration.PartyJoined": lambda d, n: f"{force_name(d.get('force'))} joined the agreement",
    "Collaboration.FunctionAdded": lambda d, n: (
        f"The {d.get('kind') or ''} function “{d.get('name')}” was added, hosted by "
        f"{force_name(d.get('host_force'))}, with an annual budget of {pounds(d.get('annual_budget'))}"
    ),
    "Collaboration.FunctionBudgetSet": lambda d, n: (
        f"The budget of {_function(d, n)} for {d.get('financial_year')} was set at {pounds(d.get('annual_budget'))}"
    ),
    "Collaboration.ApportionmentAgreed": lambda d, n: (
        f"Shares of {_function(d, n)} were agreed ({plain(d.get('basis'))}): {shares(d.get('shares'))}"
    ),
    "Collaboration.ExitTermsAgreed": lambda d, n: (
        f"Exit terms were agreed: {d.get('notice_period_months')} months' notice; stranded costs at "
        f"{percent(d.get('stranded_cost_rate'))} for {d.get('stranded_cost_months')} months"
        + (f"; caps on {', '.join(sorted(d['caps']))}" if d.get("caps") else "; no caps")
    ),
    "Collaboration.JointAssetRegistered": lambda d, n: (
        f"The joint asset “{d.get('name')}” ({pounds(d.get('cost'))}, acquired {d.get('acquired_on')}) was registered"
    ),
    "Collaboration.ContractCommitted": lambda d, n: (
        f"A contract with {d.get('supplier')} for {_function(d, n)} ({pounds(d.get('annual_value'))} a year, "
        f"ending {d.get('ends_on')}, break cost {pounds(d.get('break_cost'))}) was committed"
    ),
    "Collaboration.ReviewHeld": lambda d, n: f"A review was held: {d.get('outcome')}",
    "Collaboration.VariationAgreed": lambda d, n: (
        f"A variation to clause {d.get('clause')} was agreed: {d.get('summary')}"
    ),
    "Collaboration.WithdrawalNoticeServed": lambda d, n: (
        f"{force_name(d.get('force'))} served notice to withdraw; "
        f"the earliest it can leave is {d.get('earliest_exit_on')}"
    ),
    "Collaboration.NoticeWithdrawn": lambda d, n: f"{force_name(d.get('force'))} withdrew its notice and stays in",
    "Collaboration.FunctionDecoupled": lambda d, n: (
        f"{_capital(_function(d, n))} was decoupled, returned to a single force (decided by {d.get('decided_by')})"
    ),
    "Collaboration.DirectionGiven": lambda d, n: (
        f"A direction under s23G moved the exit date to {d.get('new_exit_on')}: {d.get('summary')}"
    ),
    "Collaboration.PartyWithdrew": lambda d, n: (
        f"{force_name(d.get('force'))} left the agreement"
        + ("; the agreement continues with the other parties" if d.get("status") != "terminated" else "")
    ),
    "Collaboration.AgreementTerminated": lambda d, n: "The agreement ended",
    # exit cases
    "ExitCase.Opened": lambda d, n: (
        f"An exit case was opened for the {plain(d.get('trigger'))} of "
        + (force_name(d.get("force")) if d.get("force") else f"“{d.get('function_name')}”")
    ),
    "ExitCase.ClaimLodged": lambda d, n: (
        f"{force_name(d.get('claimant'))} claimed {_lines_total(d.get('lines'))} from {force_name(d.get('respondent'))}"
        + (" (replacing an earlier claim)" if d.get("supersedes") else "")
    ),
    "ExitCase.Assessed": lambda d, n: f"{d.get('assessor')} assessed the case at {pounds(d.get('recommended_amount'))}",
    "ExitCase.DisputeRaised": lambda d, n: (
        f"{force_name(d.get('raised_by'))} took the case to {plain(d.get('forum'))}: {d.get('summary')}"
    ),
    "ExitCase.SettlementAgreed": lambda d, n: (
        f"Settlement agreed: {force_name(d.get('payer'))} pays {force_name(d.get('payee'))} {pounds(d.get('amount'))}"
        + (f", {pounds(d.get('write_offs'))} written off" if d.get("write_offs") not in (None, "0", "0.00") else "")
    ),
    "ExitCase.PaymentMade": lambda d, n: f"{pounds(d.get('amount'))} was paid on {d.get('paid_on')}",
    "ExitCase.Closed": lambda d, n: "The exit case was closed",
    "ExitCase.Reopened": lambda d, n: "The exit case was reopened",
    # benefits
    "Benefit.Identified": lambda d, n: (
        f"The {'dis-benefit' if d.get('kind') == 'dis_benefit' else 'benefit'} “{d.get('title')}” was identified"
        + (f", from {amount_in(d.get('baseline_value'), d.get('unit'))}" if d.get("baseline_value") else "")
        + (f" toward {amount_in(d.get('target_value'), d.get('unit'))}" if d.get("target_value") else "")
    ),
    "Benefit.Defined": lambda d, n: "The benefit's definition was changed",
    "Benefit.Linked": lambda d, n: (
        f"The benefit was linked to {_function(d, n)}"
        + (f" and the objective “{d['objective']}”" if d.get("objective") else "")
    ),
    "Benefit.ConfidenceAssessed": lambda d, n: f"Confidence in the benefit was assessed as {d.get('confidence')}",
    "Benefit.ProfileSet": lambda d, n: f"The benefit's profile was set over {len(d.get('periods') or ())} periods",
    "Benefit.RagOverridden": lambda d, n: (
        f"Its RAG status was set by hand to {d['rag']}" if d.get("rag") else "Its RAG set by hand was cleared"
    ),
    "Benefit.MeasurementRecorded": lambda d, n: (
        f"{amount_in(d.get('value'), None)} was measured for {d.get('period_start')} to {d.get('period_end')}"
        + (" (a correction)" if d.get("restates") else "")
    ),
    "Benefit.Rebaselined": lambda d, n: (
        f"The baseline was restated as {d.get('baseline_value')} on {d.get('baseline_on')}"
    ),
    "Benefit.TargetRevised": lambda d, n: f"The target was revised to {d.get('target_value')} by {d.get('target_on')}",
    "Benefit.StageChanged": lambda d, n: (
        f"The benefit moved to stage {stage_name(d.get('stage'))}, {plain(d.get('status'))}"
    ),
    "Benefit.Reopened": lambda d, n: f"The benefit was reopened at stage {stage_name(d.get('stage'))}",
}


def sentence_of(event_type: str, data: Data | None, function_names: Names | None = None) -> str:
    """The sentence for an event of ``event_type`` with ``data`` (its type in words when there
    is no sentence for it, or its data is not what the sentence expects)."""
    write = SENTENCES.get(event_type)
    if write is None:
        return event_words(event_type)
    try:
        return write(data or {}, function_names or {})
    except (AttributeError, KeyError, TypeError, ValueError, ArithmeticError):  # data of another shape
        return event_words(event_type)
