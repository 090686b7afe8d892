"""Commands per second through the application service, against raw eventsourcing saves.

Each run, on a fresh SQLite file each:

- **service**: N commands through ``CollaborationRecords`` (establish, then two functions, an
  apportionment and exit terms per collaboration). Each command reloads its aggregate, checks
  the rules, builds the JSON result and saves, as an HTTP request would.
- **raw**: the same domain commands on aggregates held in memory, each followed by a plain
  ``Application.save(aggregate)``: the same events, one transaction each, with no reload and
  no result document.

Prints commands/s, raw events/s and their ratio (target >= 0.5), per run and as medians.

    .venv/bin/python -m bench.writes [--commands 2000] [--runs 3]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from time import perf_counter
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder

from bench.common import median, scratch_database
from domain.collaboration import Collaboration
from domain.values import Provenance
from service.application import Caller, CollaborationRecords, DateAsISO, IdempotencyKey
from service.persistence import persistence_environment

COMMANDS_PER_COLLABORATION = 5
PARTIES = ["west-mercia", "warwickshire", "dorset"]
ON = date(2015, 4, 1)
REASON = "agreed by the joint board"
SHARES = {"west-mercia": "0.5", "warwickshire": "0.3", "dorset": "0.2"}


class RawStore(Application[UUID]):
    """A plain eventsourcing application: the baseline. It only knows how to store dates."""

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())


def through_the_service(url: str, collaborations: int, *, idempotent: bool) -> tuple[int, float]:
    records = CollaborationRecords(env=persistence_environment(url))
    caller = Caller("bench (admin)")
    common = {"caller": caller, "effective_on": ON, "reason": REASON}
    commands = 0

    def key(name: str) -> dict[str, IdempotencyKey]:
        return {"idempotency": IdempotencyKey(caller.actor, name, name)} if idempotent else {}

    started = perf_counter()
    for index in range(collaborations):
        written = records.establish_collaboration(
            name=f"Collaboration {index}",
            purpose="Shared services",
            parties=PARTIES,
            lead_force=PARTIES[0],
            **common,
            **key(f"{index}-establish"),
        )
        collaboration_id = written.result["id"]
        records.add_function(
            collaboration_id,
            name="ICT",
            kind="enabling",
            host_force="warwickshire",
            annual_budget="10000000.00",
            **common,
            **key(f"{index}-ict"),
        )
        records.add_function(
            collaboration_id,
            name="Dogs",
            kind="operational",
            host_force="west-mercia",
            annual_budget="2000000.00",
            **common,
            **key(f"{index}-dogs"),
        )
        records.agree_apportionment(
            collaboration_id, function_id=None, basis="fixed_ratio", shares=SHARES, **common, **key(f"{index}-shares")
        )
        records.agree_exit_terms(
            collaboration_id,
            notice_period_months=12,
            stranded_cost_rate="0.25",
            stranded_cost_months=6,
            **common,
            **key(f"{index}-exit"),
        )
        commands += COMMANDS_PER_COLLABORATION
    elapsed = perf_counter() - started
    assert records.log_size() == commands
    records.close()
    return commands, elapsed


def raw_saves(url: str, collaborations: int) -> tuple[int, float]:
    env = persistence_environment(url)
    store = RawStore(env={"PERSISTENCE_MODULE": env["PERSISTENCE_MODULE"], "SQLITE_DBNAME": env["SQLITE_DBNAME"]})
    provenance = Provenance(ON, "bench (admin)", REASON)
    events = 0
    started = perf_counter()
    for index in range(collaborations):
        collaboration = Collaboration.establish(
            name=f"Collaboration {index}",
            purpose="Shared services",
            parties=PARTIES,
            lead_force=PARTIES[0],
            provenance=provenance,
        )
        store.save(collaboration)
        collaboration.add_function(
            name="ICT",
            kind="enabling",
            host_force="warwickshire",
            annual_budget=Decimal("10000000.00"),
            provenance=provenance,
        )
        store.save(collaboration)
        collaboration.add_function(
            name="Dogs",
            kind="operational",
            host_force="west-mercia",
            annual_budget=Decimal("2000000.00"),
            provenance=provenance,
        )
        store.save(collaboration)
        collaboration.agree_apportionment(function_id=None, basis="fixed_ratio", shares=SHARES, provenance=provenance)
        store.save(collaboration)
        collaboration.agree_exit_terms(
            notice_period_months=12, stranded_cost_rate="0.25", stranded_cost_months=6, caps=None, provenance=provenance
        )
        store.save(collaboration)
        events += COMMANDS_PER_COLLABORATION
    elapsed = perf_counter() - started
    assert (store.recorder.max_notification_id() or 0) == events
    store.close()
    return events, elapsed


def timed(run: Callable[[str], tuple[int, float]], directory: str | None) -> float:
    with scratch_database(None, directory) as url:
        count, elapsed = run(url)
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commands", type=int, default=2000, help="commands per run (default 2000)")
    parser.add_argument("--runs", type=int, default=3, help="runs, at least 3 (default 3)")
    parser.add_argument("--idempotent", action="store_true", help="send an Idempotency-Key with every command")
    parser.add_argument("--dir", default=None, help="where to put the scratch SQLite files (default: the temp dir)")
    arguments = parser.parse_args()
    collaborations = max(1, arguments.commands // COMMANDS_PER_COLLABORATION)
    runs = max(3, arguments.runs)

    print(
        f"writes: {collaborations * COMMANDS_PER_COLLABORATION} commands per run on SQLite, {runs} runs"
        f"{', with idempotency keys' if arguments.idempotent else ''}"
    )
    service_rates, raw_rates = [], []
    for run in range(1, runs + 1):
        service_rates.append(
            timed(lambda url: through_the_service(url, collaborations, idempotent=arguments.idempotent), arguments.dir)
        )
        raw_rates.append(timed(lambda url: raw_saves(url, collaborations), arguments.dir))
        print(
            f"  run {run}: service {service_rates[-1]:8.0f} commands/s   raw {raw_rates[-1]:8.0f} events/s"
            f"   ratio {service_rates[-1] / raw_rates[-1]:.2f}"
        )
    service, raw = median(service_rates), median(raw_rates)
    print(f"median: service {service:.0f} commands/s, raw save() {raw:.0f} events/s, ratio {service / raw:.2f}")
    print(f"target: ratio >= 0.50 -> {'met' if service / raw >= 0.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
