"""Properties of the exit-cost quote through the application service (hypothesis): a withdrawal
quote depends on its own collaboration and its own exit case only; whatever is recorded on other
collaborations and their exit cases leaves its lines exactly as they were."""

from __future__ import annotations

import functools
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from domain.errors import DomainError
from service.application import Caller, CollaborationRecords
from service.persistence import persistence_environment
from service.queries import RecordQueries

ADMIN = Caller("tester (admin)")
FORCES = ["west-mercia", "warwickshire", "dorset", "devon-cornwall", "suffolk"]
START = date(2012, 4, 1)


def when(day: date) -> dict[str, Any]:
    return {"caller": ADMIN, "effective_on": day, "reason": "agreed"}


def alliance(records: CollaborationRecords, parties: list[str]) -> tuple[str, str]:
    collaboration_id = records.establish_collaboration(
        name="Alliance", purpose="Shared services", parties=parties, lead_force=parties[0], **when(START)
    ).result["id"]
    function_id = records.add_function(
        collaboration_id, name="ICT", kind="enabling", host_force=parties[0], annual_budget="10000000.00", **when(START)
    ).result["function_id"]
    shares = {parties[0]: "0.69", parties[1]: "0.31"}
    records.agree_apportionment(collaboration_id, function_id=None, basis="fixed_ratio", shares=shares, **when(START))
    records.agree_exit_terms(
        collaboration_id, notice_period_months=12, stranded_cost_rate="0.25", stranded_cost_months=6, **when(START)
    )
    return collaboration_id, function_id


# One change to another collaboration (or its exit case); each chosen with its parameters.
CHANGES = st.lists(
    st.tuples(
        st.sampled_from(["budget", "apportionment", "asset", "contract", "notice", "claim", "direction", "decouple"]),
        st.integers(min_value=0, max_value=2500),
        st.integers(min_value=1, max_value=99),
    ),
    min_size=1,
    max_size=12,
)


def apply_change(records: CollaborationRecords, other: str, function_id: str, change: tuple[str, int, int]) -> None:
    """Records one change on ``other``; a change its rules refuse records nothing, which is fine."""
    kind, offset, number = change
    day = START + timedelta(days=offset)
    collaboration = records.collaboration(other)
    first, second = collaboration.parties[:2]
    try:
        match kind:
            case "budget":
                year = day.year
                records.set_function_budget(
                    other,
                    function_id=function_id,
                    financial_year=f"{year}/{(year + 1) % 100:02d}",
                    annual_budget=f"{number * 100000}.00",
                    **when(day),
                )
            case "apportionment":
                share = f"0.{number:02d}"
                shares = {first: share, second: str(1 - Decimal(share))}
                records.agree_apportionment(other, function_id=None, basis="usage", shares=shares, **when(day))
            case "asset":
                records.register_asset(
                    other,
                    name=f"Asset {number}",
                    cost=f"{number * 10000}.00",
                    acquired_on=day,
                    useful_life_months=60,
                    funded_shares={first: "0.5", second: "0.5"},
                    **when(day),
                )
            case "contract":
                records.commit_contract(
                    other,
                    supplier=f"Supplier {number}",
                    function_id=function_id,
                    annual_value="1000.00",
                    ends_on=day + timedelta(days=900),
                    break_cost=f"{number * 1000}.00",
                    **when(day),
                )
            case "notice":
                records.serve_withdrawal_notice(other, force=first, **when(day))
            case "direction":
                records.give_direction(other, new_exit_on=day + timedelta(days=400), summary="s23G", **when(day))
            case "decouple":
                records.decouple_function(
                    other, function_id=function_id, decided_by="Board", rationale="local", **when(day)
                )
            case "claim":
                case = records.open_exit_case(collaboration_id=other, trigger="withdrawal", force=first, **when(day))
                records.lodge_claim(
                    case.result["id"],
                    claimant=second,
                    respondent=first,
                    lines=[{"head": "H6", "amount": f"{number * 1000}.00", "description": "ICT separation"}],
                    **when(day),
                )
    except DomainError:
        pass  # refused by a rule: nothing recorded, nothing to compare


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=CHANGES)
# The other collaboration's withdrawal by the same force, with a claim, notice and new shares.
@example(changes=[("notice", 2300, 5), ("claim", 2400, 7), ("apportionment", 10, 40), ("direction", 2450, 3)])
def test_a_quote_is_independent_of_unrelated_collaborations_and_their_exit_cases(tmp_path_factory, changes) -> None:
    url = f"sqlite:///{tmp_path_factory.mktemp('quote') / 'records.sqlite3'}"
    records = CollaborationRecords(env=persistence_environment(url))
    try:
        mine, _ = alliance(records, ["west-mercia", "warwickshire"])
        records.serve_withdrawal_notice(mine, force="west-mercia", **when(date(2018, 10, 9)))
        queries = RecordQueries(records)
        quote = functools.partial(
            queries.exit_quote, mine, force="west-mercia", exit_on=date(2019, 4, 1), today=date(2019, 1, 1)
        )
        before = quote()
        # Another collaboration of the same forces, and one of other forces.
        for parties in (["west-mercia", "warwickshire"], ["dorset", "devon-cornwall"]):
            other, function_id = alliance(records, parties)
            for change in changes:
                apply_change(records, other, function_id, change)
        after = quote()
        assert after == before
    finally:
        records.close()
