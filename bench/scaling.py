"""Whether a projection's cost per event stays flat as the record grows (issue 15).

Three shapes of log, each against its raw baseline measured in the same run:

- ``--shape long``: one collaboration of ``--events`` events (default 50,000; the mix of
  ``bench.quote``: 12 functions, budgets year by year, apportionments, exit terms, 120 assets
  and contracts, reviews and variations for the rest), notice served at the end.
- ``--shape interleaved``: ``--collaborations`` (default 200) written at the same time, each
  ``--events-each`` events (default 100), one step of every collaboration per save.
- ``--shape sizes``: the log grown to each of ``--sizes`` (default 10,000 and 100,000; add
  1,000,000 for the national scale: about 20 minutes), 5,000 collaborations x 20 events per
  100,000, and every projection rebuilt at each size.

The baselines are those of ``bench.rebuild`` (``BASELINES``): the same reading and working as
the rebuild, in memory, writing nothing. Each rebuild reports its events per second through the
log in tenths (the curve: flat means the cost of an event does not depend on how many came
before it; the last tenth against the median tenth sums it up), its overall rate, the ratio
against the baseline (target >= 0.5) and the process's peak RSS after the first rebuild, before
any baseline has run (target under 300 MB at 1,000,000 events; the exit-cost history's baseline
keeps every aggregate in memory, so the peak with it is printed apart). For a clean peak at one
size, give that size alone (``--sizes 1000000``): the peak of a process only grows.

    .venv/bin/python -m bench.scaling --shape long [--events 50000]
    .venv/bin/python -m bench.scaling --shape interleaved [--collaborations 200 --events-each 100]
    .venv/bin/python -m bench.scaling --shape sizes [--sizes 10000,100000,1000000]
    add --database-url postgresql://postgres@127.0.0.1:5432/test for PostgreSQL
"""

from __future__ import annotations

import argparse
import resource
from datetime import date
from decimal import Decimal
from time import perf_counter

from bench.common import history_step, median, scratch_database, store_history
from bench.quote import build as build_long
from bench.rebuild import BASELINES, PROJECTIONS
from domain.collaboration import Collaboration
from domain.values import Provenance
from service.application import CollaborationRecords
from service.persistence import persistence_environment

TENTHS = 10


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def store_interleaved(records: CollaborationRecords, collaborations: int, events_each: int) -> int:
    """``collaborations`` written at once: each save holds one step of every one of them. After
    the 20 steps of ``bench.common`` each goes on with budgets, apportionments, reviews and
    variations (the events a long-lived agreement mostly has)."""
    provenance = Provenance(date(2015, 4, 1), "bench (admin)", "agreed by the joint board")
    parties = ["west-mercia", "warwickshire", "dorset"]
    members = [
        Collaboration.establish(
            name=f"Collaboration {index:05d}",
            purpose="Shared services",
            parties=parties,
            lead_force=parties[0],
            provenance=provenance,
        )
        for index in range(collaborations)
    ]
    records.save(*members)
    for step in range(1, events_each):
        for collaboration in members:
            if step < 20:
                history_step(collaboration, step, provenance)
            else:
                later_step(collaboration, step)
        records.save(*members)
    return records.recorder.max_notification_id() or 0


def later_step(collaboration: Collaboration, step: int) -> None:
    year = 2015 + step % 8
    on = Provenance(date(year, 4, 1), "bench (admin)", "agreed by the joint board")
    functions = list(collaboration.functions)
    first, second = collaboration.parties[:2]
    kind = step % 4
    if kind == 0:
        collaboration.set_function_budget(
            function_id=functions[step % len(functions)],
            financial_year=f"{year}/{(year + 1) % 100:02d}",
            annual_budget=f"{1000000 + step}.00",
            provenance=on,
        )
    elif kind == 1:
        share = f"0.{60 + step % 30}"
        collaboration.agree_apportionment(
            function_id=functions[step % len(functions)],
            basis="fixed_ratio",
            shares={first: share, second: str(Decimal(1) - Decimal(share))},
            provenance=on,
        )
    elif kind == 2:
        collaboration.hold_review(outcome=f"review {step}", provenance=on)
    else:
        collaboration.agree_variation(clause=f"{step % 40}.1", summary="clarified", provenance=on)


class Curve:
    """Events per second through each tenth of the log, from a rebuild's progress calls."""

    def __init__(self, last: int):
        self.marks = [last * n // TENTHS for n in range(1, TENTHS + 1)]
        self.started = perf_counter()
        self.previous = (0, self.started)
        self.rates: list[float] = []

    def __call__(self, position: int, last: int) -> None:
        while self.marks and position >= self.marks[0]:
            self.marks.pop(0)
            now = perf_counter()
            events = position - self.previous[0]
            self.rates.append(events / max(now - self.previous[1], 1e-9))
            self.previous = (position, now)


def measure(records: CollaborationRecords, env: dict[str, str], name: str, events: int, runs: int) -> None:
    projection = PROJECTIONS[name](env, records)
    baseline_rates, rebuild_rates, curves = [], [], []
    rebuild_rss = 0.0
    for _ in range(runs):
        curve = Curve(events)
        started = perf_counter()
        projection.rebuild(progress=curve)
        rebuild_rates.append(events / (perf_counter() - started))
        curves.append(curve.rates)
        # Before any baseline has run (the exit-cost history's keeps every aggregate in memory).
        rebuild_rss = rebuild_rss or peak_rss_mb()
        started = perf_counter()
        assert BASELINES[name](records) == events
        baseline_rates.append(events / (perf_counter() - started))
    projection.close()
    baseline, rebuild = median(baseline_rates), median(rebuild_rates)
    tenths = [median([curve[n] for curve in curves if len(curve) > n]) for n in range(min(map(len, curves)))]
    flatness = tenths[-1] / median(tenths) if tenths else float("nan")
    ratio = rebuild / baseline
    print(f"  {name}: rebuild {rebuild:8.0f} events/s, baseline {baseline:8.0f} events/s, ratio {ratio:.2f}")
    print(f"    by tenth of the log (events/s): {' '.join(f'{rate:.0f}' for rate in tenths)}")
    print(
        f"    last tenth / median tenth: {flatness:.2f} (flat: about 1)   peak RSS {rebuild_rss:.0f} MB"
        f" after the first rebuild, {peak_rss_mb():.0f} MB with the baseline"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=["long", "interleaved", "sizes"], default="long")
    parser.add_argument("--events", type=int, default=50_000, help="long: the collaboration's events")
    parser.add_argument("--collaborations", type=int, default=200, help="interleaved: how many")
    parser.add_argument("--events-each", type=int, default=100, help="interleaved: events of each")
    parser.add_argument("--sizes", default="10000,100000", help="sizes: log sizes, comma-separated")
    parser.add_argument("--projections", default=",".join(PROJECTIONS), help="which, comma-separated")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL to use a scratch schema there")
    parser.add_argument("--dir", default=None, help="where to put the scratch SQLite files")
    arguments = parser.parse_args()
    names = arguments.projections.split(",")

    with scratch_database(arguments.database_url, arguments.dir) as url:
        env = persistence_environment(url)
        records = CollaborationRecords(env=env)
        backend = env["PERSISTENCE_MODULE"].rsplit(".", 1)[-1]
        started = perf_counter()
        if arguments.shape == "sizes":
            stored = 0
            for size in sorted(int(text) for text in arguments.sizes.split(",")):
                collaborations = (size - stored) // 20
                stored = store_history(records, collaborations, 100) if collaborations else stored
                print(f"{stored} events on {backend} (stored in {perf_counter() - started:.0f} s so far)")
                for name in names:
                    measure(records, env, name, stored, arguments.runs)
        else:
            if arguments.shape == "long":
                build_long(records, arguments.events)
                what = f"one collaboration of {arguments.events} events"
            else:
                store_interleaved(records, arguments.collaborations, arguments.events_each)
                what = f"{arguments.collaborations} collaborations x {arguments.events_each} events, interleaved"
            events = records.recorder.max_notification_id() or 0
            print(f"{what}: {events} events on {backend}, stored in {perf_counter() - started:.0f} s")
            for name in names:
                measure(records, env, name, events, arguments.runs)
        records.close()


if __name__ == "__main__":
    main()
