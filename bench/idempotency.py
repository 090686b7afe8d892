"""Bytes per Idempotency-Key row as one collaboration grows (issue 13), against the answer each
row replays, which is what a row held before issue 13.

One collaboration on a fresh store, written only by keyed commands through
``CollaborationRecords`` (as HTTP requests with an ``Idempotency-Key`` would issue them): a
rotation of reviews, variations, functions, assets and apportionments, each with a key of its
own, up to ``--events`` events. At each checkpoint (10, 100, 1,000, 2,000, 5,000 events):

- **row**: the bytes of the latest key's row (principal, key, fingerprint, record, created_at),
  as the store holds them;
- **baseline**: the bytes of the answer that row replays, as ``json.dumps`` writes it: what the
  row held before issue 13 (its ``result`` column alone); and their ratio;
- the replay (the same command, the same key) is checked to equal the first answer, and timed
  against the write.

At the end every checkpoint's key is replayed again (the collaboration has moved on: each is
rebuilt from a snapshot and the events after it), checked and timed; and the table's total
against the sum of every answer (what the table would have held before). Prints the row's size
at the last checkpoint over its size at 10 events: 1.00 means constant.

    .venv/bin/python -m bench.idempotency [--events 5000]
    .venv/bin/python -m bench.idempotency --database-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import Callable
from datetime import date
from time import perf_counter
from typing import Any

from bench.common import median, scratch_database
from service.application import Caller, CollaborationRecords, IdempotencyKey, Written
from service.persistence import persistence_environment

CHECKPOINTS = (10, 100, 1000, 2000, 5000)
PARTIES = ["west-mercia", "warwickshire", "dorset"]
SHARES = {"west-mercia": "0.5", "warwickshire": "0.3", "dorset": "0.2"}
CALLER = Caller("bench (admin, token tok_bench)")
PRINCIPAL = "3f1c2a9e-6b7d-4e5f-8a9b-0c1d2e3f4a5b"  # a token id, as the HTTP layer keys by
COMMON: dict[str, Any] = {"effective_on": date(2015, 4, 1), "reason": "agreed by the joint board"}
ROW_BYTES = (
    "SELECT LENGTH(principal) + LENGTH(idempotency_key) + LENGTH(fingerprint) + LENGTH(result)"
    " + LENGTH(created_at) AS bytes FROM {schema}idempotency_keys WHERE principal = ? AND idempotency_key = ?"
)
TABLE_BYTES = (
    "SELECT COUNT(*) AS n, SUM(LENGTH(principal) + LENGTH(idempotency_key) + LENGTH(fingerprint)"
    " + LENGTH(result) + LENGTH(created_at)) AS bytes FROM {schema}idempotency_keys"
)


def command(records: CollaborationRecords, collaboration_id: str, step: int) -> tuple[str, dict[str, Any]]:
    """The ``step``-th keyed command of the rotation: its name and arguments."""
    kind = step % 5
    if kind == 0:
        return "hold_review", {"outcome": f"review {step}"}
    if kind == 1:
        return "agree_variation", {"clause": f"{step}.1", "summary": f"variation {step}"}
    if kind == 2:
        return "add_function", {
            "name": f"Function {step}",
            "kind": "enabling",
            "host_force": PARTIES[step % 3],
            "annual_budget": "1000000.00",
        }
    if kind == 3:
        return "register_asset", {
            "name": f"Asset {step}",
            "cost": "30000.00",
            "acquired_on": date(2016, 4, 1),
            "useful_life_months": 60,
            "funded_shares": SHARES,
        }
    return "agree_apportionment", {"function_id": None, "basis": "fixed_ratio", "shares": SHARES}


def keyed(records: CollaborationRecords, collaboration_id: str, name: str, arguments: dict[str, Any], key: str) -> Any:
    """Runs a command with an Idempotency-Key whose fingerprint is the request's, as HTTP makes it."""
    fingerprint = IdempotencyKey.fingerprint_of("POST", f"/bench/{collaboration_id}/{name}", arguments)
    run: Callable[..., Written] = getattr(records, name)
    return run(
        collaboration_id, caller=CALLER, idempotency=IdempotencyKey(PRINCIPAL, key, fingerprint), **arguments, **COMMON
    )


def row_bytes(records: CollaborationRecords, key: str) -> int:
    return records.side_tables.execute(ROW_BYTES, (PRINCIPAL, key))[0]["bytes"]


def answer_bytes(written: Written) -> int:
    return len(json.dumps(written.result, sort_keys=True).encode())


def timed_ms(function: Callable[[], Any]) -> tuple[float, Any]:
    started = perf_counter()
    value = function()
    return (perf_counter() - started) * 1000, value


def run(url: str, events: int) -> None:
    records = CollaborationRecords(env=persistence_environment(url))
    try:
        key = f"{uuid.uuid4()}"
        fingerprint = IdempotencyKey.fingerprint_of("POST", "/bench", {"name": "Bench"})
        written = records.establish_collaboration(
            caller=CALLER,
            name="Bench collaboration",
            purpose="Shared services",
            parties=PARTIES,
            lead_force=PARTIES[0],
            idempotency=IdempotencyKey(PRINCIPAL, key, fingerprint),
            **COMMON,
        )
        collaboration_id = written.result["id"]
        version, step = 1, 0
        old_total = answer_bytes(written)
        checkpoints: dict[int, tuple[str, str, dict[str, Any], Written]] = {}
        write_ms: list[float] = []
        print(f"{'events':>7}  {'row':>7}  {'baseline':>10}  {'ratio':>8}  {'write ms':>8}  {'replay ms':>9}")
        for checkpoint in (c for c in CHECKPOINTS if c <= events):
            while version < checkpoint:
                step += 1
                name, arguments = command(records, collaboration_id, step)
                key = f"{uuid.uuid4()}"
                elapsed, written = timed_ms(lambda: keyed(records, collaboration_id, name, arguments, key))  # noqa: B023
                write_ms.append(elapsed)
                old_total += answer_bytes(written)
                version = written.result["version"]
            replay_ms, replay = timed_ms(lambda: keyed(records, collaboration_id, name, arguments, key))  # noqa: B023
            assert replay.replayed and replay.result == written.result, "the replay is not the first answer"
            checkpoints[version] = (name, key, arguments, written)
            row, baseline = row_bytes(records, key), answer_bytes(written)
            print(
                f"{version:>7}  {row:>7,}  {baseline:>10,}  {row / baseline:>8.4f}"
                f"  {median(write_ms[-50:]):>8.2f}  {replay_ms:>9.2f}"
            )
        first, last = min(checkpoints), max(checkpoints)
        first_row, last_row = row_bytes(records, checkpoints[first][1]), row_bytes(records, checkpoints[last][1])
        print(f"row bytes at {last:,} events / at {first:,} events: {last_row / first_row:.2f} (1.00: constant)")

        print(f"replayed after the collaboration reached {version:,} events (rebuilt at their version):")
        for at_version, (name, key, arguments, written) in checkpoints.items():
            replay_ms, replay = timed_ms(lambda: keyed(records, collaboration_id, name, arguments, key))  # noqa: B023
            assert replay.replayed and replay.result == written.result, f"the replay at {at_version} differs"
            print(f"  key of version {at_version:>5,}: equal to the first answer, {replay_ms:7.2f} ms")

        table = records.side_tables.execute(TABLE_BYTES)[0]
        print(
            f"table: {table['n']:,} keys, {table['bytes']:,} bytes"
            f" (before issue 13 their result column alone: {old_total:,} bytes; ratio {table['bytes'] / old_total:.5f})"
        )
    finally:
        records.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=5000, help="events the collaboration grows to (default 5000)")
    parser.add_argument("--database-url", default=None, help="a PostgreSQL URL (default: a scratch SQLite file)")
    parser.add_argument("--dir", default=None, help="where to put the scratch SQLite file (default: the temp dir)")
    arguments = parser.parse_args()
    backend = "PostgreSQL" if arguments.database_url else "SQLite"
    print(f"idempotency: one collaboration grown to {arguments.events:,} events by keyed commands, on {backend}")
    with scratch_database(arguments.database_url, arguments.dir) as url:
        run(url, max(10, arguments.events))


if __name__ == "__main__":
    main()
