"""Who may do what: every access rule of the commands, in one place.

A caller is an administrator (no force) or acts for one force (a force token). The rules are
few and the same across the record:

- some acts are every party's, or nobody's alone (the end of the agreement, a decoupling, an
  s23G direction, an independent assessment, a settlement, closing or reopening an exit case):
  an administrator records them, on the evidence of their approval;
- a force acts only for itself (serving or withdrawing its notice, leaving, claiming, raising a
  dispute) and only on what it is a party to (a current party, for a collaboration's benefits);
- a payment is recorded by its payee, who confirms receiving it, never by the payer alone.

Each check raises ``NotPermitted`` (403) with a sentence saying what was refused; none reads
the store, so the application calls them with what it has already loaded.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from service.errors import NotPermitted


@dataclass(frozen=True)
class Caller:
    """Who is writing: the actor recorded on each event, and the force a force token is
    bound to (None for administrators)."""

    actor: str
    force: str | None = None


def check_administrator(caller: Caller, what: str) -> None:
    """Only an administrator may do ``what``."""
    if caller.force is not None:
        raise NotPermitted(f"only an administrator may {what}; a {caller.force} token may not")


def check_acts_for(caller: Caller, force: str, what: str) -> None:
    """A force token does ``what`` only for its own force."""
    if caller.force is not None and caller.force != force:
        raise NotPermitted(f"a {caller.force} token may {what} only for {caller.force}, not {force}")


def check_party_to(caller: Caller, parties: Collection[str], what: str) -> None:
    """A force token writes only to a ``what`` its force is a party to."""
    if caller.force is not None and caller.force not in parties:
        raise NotPermitted(f"{caller.force} is not a party to this {what}")


def check_current_party_to(caller: Caller, current_parties: Collection[str]) -> None:
    """A force token identifies benefits only of collaborations its force has not left."""
    if caller.force is not None and caller.force not in current_parties:
        raise NotPermitted(f"{caller.force} is not a current party to this collaboration")


def check_creates_as_party(caller: Caller, parties: Collection[str]) -> None:
    """A force token creates only collaborations its force is party to."""
    if caller.force is not None and caller.force not in parties:
        raise NotPermitted(f"a {caller.force} token may only create collaborations {caller.force} is party to")


def check_records_payment(caller: Caller, settlement: Any) -> None:
    """A payment is recorded by the settlement's payee or an administrator, never by the payer."""
    if caller.force is not None and (settlement is None or caller.force != settlement.payee):
        raise NotPermitted("a payment is recorded by the payee (or an administrator), not by the payer")
