"""The domain's effective-dated indexes are never stored: an aggregate whose indexes were built
(by quoting it) snapshots and loads back to the same state and the same answers."""

from datetime import date
from uuid import UUID

from domain.exit_costs import quote_for_force
from service.application import Caller, CollaborationRecords

ADMIN = Caller("tester (admin)")
ON = {"effective_on": date(2015, 4, 1), "reason": "agreed by the board"}


def test_an_indexed_aggregate_snapshots_and_loads_back_the_same(records: CollaborationRecords):
    collaboration_id = records.establish_collaboration(
        name="Alliance",
        purpose="Shared services",
        parties=["west-mercia", "warwickshire"],
        lead_force="west-mercia",
        caller=ADMIN,
        **ON,
    ).result["id"]
    function_id = records.add_function(
        collaboration_id,
        name="ICT",
        kind="enabling",
        host_force="west-mercia",
        annual_budget="1000000",
        caller=ADMIN,
        **ON,
    ).result["function_id"]
    for year in (2016, 2018, 2017, 2018):
        records.set_function_budget(
            collaboration_id,
            function_id=function_id,
            financial_year=f"{year}/{(year + 1) % 100:02d}",
            annual_budget=f"{year}000",
            caller=ADMIN,
            **ON,
        )
    records.agree_apportionment(
        collaboration_id,
        function_id=None,
        basis="fixed_ratio",
        shares={"west-mercia": "0.6", "warwickshire": "0.4"},
        caller=ADMIN,
        **ON,
    )
    records.agree_exit_terms(
        collaboration_id,
        notice_period_months=12,
        stranded_cost_rate="0.25",
        stranded_cost_months=6,
        caps=None,
        caller=ADMIN,
        **ON,
    )
    uuid = UUID(collaboration_id)
    indexed = records.repository.get(uuid)
    quoted = quote_for_force(indexed, force="west-mercia", on=date(2019, 1, 1))  # builds every index
    assert indexed.functions[function_id].budget_in_effect(date(2019, 1, 1))[0].amount == 2018000

    records.take_snapshot(uuid)
    snapshot = records.snapshots.get(uuid, desc=True, limit=1)
    (stored,) = list(snapshot)
    assert "_indexes" not in stored.state and "_budgets_by_year" not in str(stored.state)
    loaded = stored.mutate(None)
    assert vars(loaded) == vars(indexed)
    assert quote_for_force(loaded, force="west-mercia", on=date(2019, 1, 1)) == quoted
