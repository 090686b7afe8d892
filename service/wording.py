"""How the record is worded for a reader (the web view, the board pack, event sentences): forces
by name, shares as percentages, money in one format (``£1,234.50``, a minus sign before the
pound), times to the second with their zone, codes (statuses, stages, bases, forums) as words.
Text people recorded (reasons, outcomes, summaries) is never reworded. The API and the CSV keep
the codes."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.benefit import STAGES
from domain.forces import FORCES
from service.event_catalogue import words_of

MONEY_TEXT = re.compile(r"-?[0-9]+\.[0-9]{2}")

# Codes a reader meets, in words; any other code is read with its underscores as spaces.
WORDS = {
    "active": "in force",
    "notice_served": "notice served",
    "terminated": "ended",
    "handed_to_bau": "handed over to business as usual",
    "home_secretary": "the Home Secretary",
    "court": "the courts",
    "arbitration": "arbitration",
    "fixed_ratio": "fixed ratio",
    "force_size": "by force size",
    "net_revenue_budget": "by net revenue budget",
    "usage": "by usage",
    "dis_benefit": "dis-benefit",
    "exit_case": "exit case",
    "written_off": "written off",
    "not_assessed": "not assessed",
}
STAGE_NAMES = {
    "SOC": "Strategic Outline Case",
    "OBC": "Outline Business Case",
    "FBC": "Full Business Case",
}
# Fields of the API's documents whose values are money, and those that are shares or rates (a
# key inside a ``shares``/``funded_shares``/``attribution`` map is a share too).
MONEY_FIELDS = frozenset(
    {
        "amount",
        "annual_budget",
        "annual_value",
        "assessed",
        "agreed",
        "break_cost",
        "cash_releasing",
        "cash_savings",
        "claimed",
        "cost",
        "cost_avoided",
        "outstanding",
        "paid",
        "recommended_amount",
        "remaining",
        "total",
        "write_offs",
        "written_off",
    }
)
SHARE_FIELDS = frozenset({"stranded_cost_rate", "share", "rate"})
SHARE_MAPS = frozenset({"shares", "funded_shares", "attribution"})


def pounds(value: Any) -> str:
    """Money, one format everywhere: "£1,234.50"; a negative amount with a minus sign (U+2212)
    before the pound. Exact: never through float."""
    if value is None or value == "":
        return "—"
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if not amount.is_finite():
        return str(value)
    sign = "\u2212" if amount < 0 else ""
    return f"{sign}£{abs(amount):,}"


def amount_in(value: Any, unit: Any) -> str:
    """A benefit's figure in its unit: money as ``pounds``, other units after the number."""
    if value is None:
        return "—"
    if unit == "GBP":
        return pounds(value)
    return f"{money(value)} {unit}" if unit else money(value)


def plain(value: Any) -> str:
    """A code in words: "notice_served" is "notice served", "home_secretary" "the Home Secretary"."""
    if value is None or value == "":
        return "—"
    text = str(value)
    return WORDS.get(text, text.replace("_", " "))


def stage_name(value: Any) -> str:
    """A benefit's Green Book stage by number and name: "2: Outline Business Case"."""
    try:
        short = STAGES[int(value)]
    except (KeyError, TypeError, ValueError, OverflowError):
        return plain(value)
    return f"{int(value)}: {STAGE_NAMES.get(short, short)}"


def event_words(value: Any) -> str:
    """An event type in words: "Collaboration.WithdrawalNoticeServed" is "Withdrawal notice served"."""
    name = str(value).rpartition(".")[2]
    words = words_of(name)
    return words[:1].upper() + words[1:] if words else str(value)


def money(value: Any) -> str:
    """An exact decimal string with thousands separators: never through float."""
    if value is None:
        return "—"
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    return f"{amount:,}"


def force_name(code: Any) -> str:
    """A force by its name ("West Mercia Police"), not its code; an unknown code as it is."""
    force = FORCES.get(str(code)) if code is not None else None
    return force.name if force is not None else ("—" if code is None else str(code))


def percent(value: Any) -> str:
    """A share or rate as a percentage: "0.25" is "25%" (exact: 1/3 is 33.3333333333%)."""
    try:
        return f"{(Decimal(str(value)) * 100).normalize():f}%"
    except (InvalidOperation, TypeError):
        return "—" if value is None else str(value)


def shares(value: Any) -> str:
    """Shares as percentages, largest first, each force by name: "West Mercia Police 69%,
    Warwickshire Police 31%" (exact: 1/3 is 33.3333333333%)."""
    if not isinstance(value, dict) or not value:
        return "—"
    parts = []
    for code, share in sorted(value.items(), key=lambda item: (-Decimal(str(item[1])), item[0])):
        percent = (Decimal(str(share)) * 100).normalize()
        parts.append(f"{force_name(code)} {percent:f}%")
    return ", ".join(parts)


def when(value: Any) -> str:
    """A recorded time to the second, with its zone: "2026-12-07 17:05:53 UTC"."""
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(str(value)).astimezone(UTC)
    except ValueError:
        return str(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
