"""What the benchmarks share: a scratch database per run, and medians."""

from __future__ import annotations

import statistics
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from time import perf_counter
from urllib.parse import urlparse

from domain.collaboration import Collaboration
from domain.values import Provenance
from service.application import CollaborationRecords


@contextmanager
def scratch_database(base_url: str | None, directory: str | None = None) -> Iterator[str]:
    """A DATABASE_URL for an empty store: a new SQLite file in a temporary directory, or, given a
    PostgreSQL URL, a new schema in that database, dropped afterwards."""
    if base_url is None or urlparse(base_url).scheme == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bench-", dir=directory) as scratch:
            yield f"sqlite:///{Path(scratch) / 'records.sqlite3'}"
        return
    import psycopg

    base = base_url.split("?")[0]
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{base}?schema={schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def timed(function: Callable[[], object], runs: int) -> list[float]:
    """Milliseconds each of ``runs`` calls of ``function`` took."""
    samples = []
    for _ in range(runs):
        started = perf_counter()
        function()
        samples.append((perf_counter() - started) * 1000)
    return samples


def median(values: list[float]) -> float:
    return statistics.median(values)


LEAD, PARTNER = "west-mercia", "warwickshire"


def long_lived_alliance() -> tuple[Collaboration, list[str]]:
    """The start of the benchmarks' long-lived alliance (not yet saved): two forces, 12
    functions, an all-functions ratio of 0.69/0.31 and exit terms, all on 1 April 2012."""
    provenance = Provenance(date(2012, 4, 1), "bench (admin)", "agreed by the joint board")
    collaboration = Collaboration.establish(
        name="Strategic Alliance",
        purpose="Shared services",
        parties=[LEAD, PARTNER],
        lead_force=LEAD,
        provenance=provenance,
    )
    functions = [
        collaboration.add_function(
            name=f"Function {n}",
            kind="enabling",
            host_force=LEAD,
            annual_budget=Decimal("1000000.00") * (n + 1),
            provenance=provenance,
        )
        for n in range(12)
    ]
    collaboration.agree_apportionment(
        function_id=None, basis="fixed_ratio", shares={LEAD: "0.69", PARTNER: "0.31"}, provenance=provenance
    )
    collaboration.agree_exit_terms(
        notice_period_months=12, stranded_cost_rate="0.25", stranded_cost_months=6, caps=None, provenance=provenance
    )
    return collaboration, functions


def rebudget(collaboration: Collaboration, functions: list[str], step: int, year: int, on: Provenance) -> None:
    """The long-lived alliance's budget change at ``step``: one function's budget for ``year``."""
    collaboration.set_function_budget(
        function_id=functions[step % 12],
        financial_year=f"{year}/{(year + 1) % 100:02d}",
        annual_budget=Decimal("1000000.00") + step,
        provenance=on,
    )


def reapportion(collaboration: Collaboration, functions: list[str], step: int, on: Provenance) -> None:
    """The long-lived alliance's apportionment at ``step``: one function's ratio, 0.60 to 0.79."""
    share = Decimal("0.60") + Decimal(step % 20) / 100
    collaboration.agree_apportionment(
        function_id=functions[step % 12],
        basis="fixed_ratio",
        shares={LEAD: str(share), PARTNER: str(1 - share)},
        provenance=on,
    )


EVENTS_PER_COLLABORATION = 20
FORCES = ["west-mercia", "warwickshire", "dorset", "devon-cornwall", "suffolk", "norfolk", "essex", "kent"]


def history_step(collaboration: Collaboration, step: int, provenance: Provenance) -> None:
    """The ``step``-th of the 20 changes every benchmark collaboration goes through."""
    functions = list(collaboration.functions)
    first, second = collaboration.parties[:2]
    if step == 1:
        collaboration.join(next(f for f in FORCES if f not in collaboration.parties), provenance)
    elif 2 <= step <= 6:
        collaboration.add_function(
            name=f"Function {step}",
            kind="operational" if step % 2 else "enabling",
            host_force=collaboration.parties[step % 3],
            annual_budget=Decimal("1000000.00") * step,
            provenance=provenance,
        )
    elif 7 <= step <= 9:
        collaboration.set_function_budget(
            function_id=functions[step - 7],
            financial_year=f"{2012 + step}/{(13 + step) % 100:02d}",
            annual_budget=Decimal("1100000.00"),
            provenance=provenance,
        )
    elif 10 <= step <= 12:
        collaboration.agree_apportionment(
            function_id=None if step == 10 else functions[step - 10],
            basis="fixed_ratio",
            shares={first: "0.69", second: "0.31"},
            provenance=provenance,
        )
    elif step == 13:
        collaboration.agree_exit_terms(
            notice_period_months=12, stranded_cost_rate="0.25", stranded_cost_months=6, caps=None, provenance=provenance
        )
    elif step in (14, 15):
        collaboration.register_asset(
            name=f"Asset {step}",
            cost=Decimal("3000000.00"),
            acquired_on=date(2016, 4, 1),
            useful_life_months=60,
            funded_shares={first: "0.69", second: "0.31"},
            provenance=provenance,
        )
    elif step in (16, 17):
        collaboration.commit_contract(
            supplier=f"Supplier {step}",
            function_id=functions[0],
            annual_value=Decimal("500000.00"),
            ends_on=date(2022, 3, 31),
            break_cost=Decimal("400000.00"),
            provenance=provenance,
        )
    elif step == 18:
        collaboration.hold_review(outcome="continue", provenance=provenance)
    else:
        collaboration.agree_variation(clause="4.2", summary="longer notice", provenance=provenance)


def store_history(records: CollaborationRecords, collaborations: int, group: int) -> int:
    """Writes the history group by group: each save holds one step of every collaboration in
    the group, so the log interleaves the group's collaborations."""
    provenance = Provenance(date(2015, 4, 1), "bench (admin)", "agreed by the joint board")
    for start in range(0, collaborations, group):
        members = [
            Collaboration.establish(
                name=f"Collaboration {index:05d}",
                purpose="Shared services across forces",
                parties=[FORCES[index % 8], FORCES[(index + 1) % 8], FORCES[(index + 2) % 8]],
                lead_force=FORCES[index % 8],
                governance_body="Joint Board",
                review_cycle_months=12,
                provenance=provenance,
            )
            for index in range(start, min(start + group, collaborations))
        ]
        records.save(*members)
        for step in range(1, EVENTS_PER_COLLABORATION):
            for collaboration in members:
                history_step(collaboration, step, provenance)
            records.save(*members)
    return records.recorder.max_notification_id() or 0
