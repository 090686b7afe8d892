"""Settlement reconciliation: per head, computed against claimed, assessed and agreed, from one
party's side, with the differences."""

from datetime import date
from decimal import Decimal

import pytest

from domain.errors import InvalidSettlement, PartyNotInCase
from domain.exit_case import ExitCase
from domain.exit_costs import CLAIMED_HEADS, quote_for_force
from domain.reconciliation import PerspectiveRequired, default_perspective, reconcile, withdrawal_computed
from domain.values import Money, Provenance
from tests.unit.test_exit_costs import A, B, worked_example

NOTICE = date(2018, 10, 9)


def on(day: date) -> Provenance:
    return Provenance(day, "treasurer (admin)", "recorded", "doc", "agreed by both")


def money(text: str) -> Money:
    return Money(Decimal(text))


def case_with_claims():
    """The worked example: A serves notice; B claims H2 500,000 and H4 900,000 from A, A claims
    H3 100,000 from B."""
    collaboration, _ = worked_example()
    collaboration.serve_withdrawal_notice(force=A, provenance=on(NOTICE))
    case = ExitCase.open(
        collaboration_id=collaboration.id, trigger="withdrawal", force=A, parties=[A, B], provenance=on(NOTICE)
    )
    lines = [
        {"head": "H2", "amount": "500000.00", "description": "re-establishing"},
        {"head": "H4", "amount": "900000.00", "description": "stranded, as claimed"},
    ]
    case.lodge_claim(claimant=B, respondent=A, lines=lines, provenance=on(date(2019, 1, 1)))
    case.lodge_claim(
        claimant=A,
        respondent=B,
        lines=[{"head": "H3", "amount": "100000.00", "description": "seconded staff"}],
        provenance=on(date(2019, 1, 2)),
    )
    return collaboration, case


def rows_of(reconciliation) -> dict[str, dict[str, str | None]]:
    return {
        row.head: {
            name: None if value is None else str(value) for name, value in {**row.figures, **row.differences}.items()
        }
        for row in (*reconciliation.rows, reconciliation.total)
    }


def test_the_withdrawing_force_s_side_head_by_head():
    collaboration, case = case_with_claims()
    quote = quote_for_force(collaboration, force=A, on=date(2019, 1, 15), claims=case.claimed_lines(CLAIMED_HEADS))
    reconciliation = reconcile(case, A, *withdrawal_computed(quote, A))
    rows = rows_of(reconciliation)
    assert rows["H4"]["computed"] == str(quote.by_head()["H4"]) == "1035000.00"
    assert rows["H4"]["claimed"] == "900000.00" and rows["H4"]["claimed_less_computed"] == "-135000.00"
    assert rows["H2"]["computed"] == rows["H2"]["claimed"] == "500000.00"
    assert rows["H3"]["claimed"] == "-100000.00"  # A's own claim: money it receives
    assert rows["H2"]["assessed"] is None and rows["total"]["assessed"] is None  # nothing assessed yet
    assert rows["total"]["computed"] == str(quote.total)
    assert rows["total"]["claimed"] == "1300000.00"


def test_assessed_and_agreed_by_head_where_a_breakdown_was_recorded():
    collaboration, case = case_with_claims()
    case.record_assessment(
        assessor="CIPFA",
        recommended_amount="1200000.00",
        lines=[
            {"head": "H2", "amount": "450000.00", "description": "as evidenced"},
            {"head": "H4", "amount": "850000.00", "description": "as evidenced"},
            {"head": "H3", "amount": "-100000.00", "description": "A's claim"},
        ],
        provenance=on(date(2019, 2, 1)),
    )
    quote = quote_for_force(collaboration, force=A, on=date(2019, 3, 1), claims=case.claimed_lines(CLAIMED_HEADS))
    before_settlement = rows_of(reconcile(case, A, *withdrawal_computed(quote, A)))
    assert before_settlement["H2"]["assessed"] == "450000.00" and before_settlement["H2"]["agreed"] is None
    assert before_settlement["total"]["assessed"] == "1200000.00"

    case.agree_settlement(
        payer=A,
        payee=B,
        amount="1000000.00",
        write_offs="50000.00",
        instalments=[{"due_on": date(2019, 6, 1), "amount": "1000000.00"}],
        lines=[
            {"head": "H2", "amount": "400000.00", "description": "agreed"},
            {"head": "H4", "amount": "600000.00", "description": "agreed"},
        ],
        provenance=on(date(2019, 3, 1)),
    )
    reconciliation = reconcile(case, A, *withdrawal_computed(quote, A))
    rows = rows_of(reconciliation)
    assert rows["H4"]["agreed"] == "600000.00"
    assert rows["H4"]["agreed_less_computed"] == "-435000.00"  # 600,000 - 1,035,000
    assert rows["H4"]["agreed_less_assessed"] == "-250000.00"
    assert rows["H3"]["agreed"] == "0.00"  # a breakdown without H3: nothing agreed on it
    assert rows["total"]["agreed"] == "1000000.00" and str(reconciliation.written_off) == "50000.00"

    # from the payee's side every figure is negated: the quote pays B what A pays
    payee = rows_of(reconcile(case, B, *withdrawal_computed(quote, B)))
    assert payee["H4"]["computed"] == "-1035000.00" and payee["H4"]["agreed"] == "-600000.00"
    assert payee["H3"]["claimed"] == "100000.00"
    assert payee["total"]["computed"] == str(-quote.total.amount)


def test_a_settlement_breakdown_sums_to_its_amount():
    _, case = case_with_claims()
    with pytest.raises(InvalidSettlement) as raised:
        case.agree_settlement(
            payer=A,
            payee=B,
            amount="1000000.00",
            write_offs="0.00",
            instalments=[{"due_on": date(2019, 6, 1), "amount": "1000000.00"}],
            lines=[{"head": "H2", "amount": "999999.99", "description": "agreed"}],
            provenance=on(date(2019, 3, 1)),
        )
    assert raised.value.field == "lines"


def test_whose_side_by_default_and_only_a_party_s():
    collaboration, case = case_with_claims()
    assert default_perspective(case) == A
    with pytest.raises(PartyNotInCase):
        reconcile(case, "dorset", None, None)
    decoupling = ExitCase.open(
        collaboration_id=collaboration.id, trigger="decoupling", function_id="f", parties=[A, B], provenance=on(NOTICE)
    )
    with pytest.raises(PerspectiveRequired):
        default_perspective(decoupling)
    no_computation = rows_of(reconcile(case, A, None, None))
    assert no_computation["H2"]["computed"] is None and no_computation["H2"]["claimed_less_computed"] is None
    assert no_computation["H2"]["claimed"] == "500000.00"


def test_from_a_remaining_party_s_side_only_its_claims_with_the_withdrawing_force_count():
    from tests.unit.test_exit_cost_parties import ESSEX, KENT, SUSSEX, three_forces

    collaboration, _ = three_forces()
    collaboration.serve_withdrawal_notice(force=ESSEX, provenance=on(date(2019, 1, 10)))
    case = ExitCase.open(
        collaboration_id=collaboration.id,
        trigger="withdrawal",
        force=ESSEX,
        parties=[ESSEX, KENT, SUSSEX],
        provenance=on(date(2019, 1, 10)),
    )
    for claimant, respondent, head, amount in ((KENT, ESSEX, "H2", "10000.00"), (KENT, SUSSEX, "H6", "4000.00")):
        line = {"head": head, "amount": amount, "description": "claimed"}
        case.lodge_claim(claimant=claimant, respondent=respondent, lines=[line], provenance=on(date(2019, 2, 1)))
    quote = quote_for_force(collaboration, force=ESSEX, on=date(2019, 3, 1), claims=case.claimed_lines(CLAIMED_HEADS))
    kent = rows_of(reconcile(case, KENT, *withdrawal_computed(quote, KENT)))
    assert kent["H2"]["claimed"] == kent["H2"]["computed"] == "-10000.00"
    assert "H6" not in kent  # kent's claim on sussex is not essex's money: nothing to compare it with
    assert kent["total"]["claimed"] == "-10000.00"
