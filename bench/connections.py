"""What healing costs: a read through the service's shared PostgreSQL datastore (one connection
per thread, pinged on every outermost checkout) against the same read on the library's own
datastore (a plain pooled checkout, no ping), in the same run, on the same server.

    .venv/bin/python -m bench.connections [--database-url postgresql://postgres@127.0.0.1:5432/test]

Prints the median time of one checkout-and-read for each, and their ratio. A request makes a few
outermost checkouts (token, command or read, catch-up), so the added cost per request is a few
times the difference.
"""

from __future__ import annotations

import argparse
import statistics
from time import perf_counter

from eventsourcing.postgres import PostgresDatastore

from service.persistence import SharedPostgresDatastore

ROUNDS = 7
READS = 2000


def datastore(url: str) -> PostgresDatastore:
    from urllib.parse import urlparse

    parsed = urlparse(url)
    return PostgresDatastore(
        dbname=parsed.path.strip("/"),
        host=parsed.hostname or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password or "",
        pool_size=1,
        max_overflow=2,
        connect_timeout=5,
    )


def per_read(store: PostgresDatastore) -> float:
    started = perf_counter()
    for _ in range(READS):
        with store.transaction(commit=False) as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    return (perf_counter() - started) / READS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    url = parser.parse_args().database_url.split("?")[0]
    plain, shared = datastore(url), SharedPostgresDatastore.share(datastore(url))
    try:
        per_read(plain), per_read(shared)  # warm both pools
        times: dict[str, list[float]] = {"library datastore": [], "shared, pinged": []}
        for _ in range(ROUNDS):  # interleaved, so that the machine's noise falls on both alike
            times["library datastore"].append(per_read(plain))
            times["shared, pinged"].append(per_read(shared))
    finally:
        plain.close()
        shared.close()
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"connections: {READS} checkout-and-read per round, {ROUNDS} rounds, medians")
    for name, value in medians.items():
        print(f"  {name:18} {value * 1e6:8.1f} µs per read")
    ratio = medians["shared, pinged"] / medians["library datastore"]
    extra = (medians["shared, pinged"] - medians["library datastore"]) * 1e6
    print(f"ratio shared / library: {ratio:.2f} ({extra:+.1f} µs per outermost checkout)")


if __name__ == "__main__":
    main()
