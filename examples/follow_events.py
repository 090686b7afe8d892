"""Follows the collaboration record's live event stream, checks every event, and keeps them.

A consumer of the service's events, in the standard library only. It reads
``GET /api/v1/events/stream?documents=true`` (server-sent events), and for each event:

1. checks that its ``hash`` is the SHA-256 of its ``document`` (the canonical text the service
   chains), that the document names the same position, stream and version as the event, and
   that the document's ``previous`` is the hash of the event before it: the chain is unbroken
   from the first event, so nothing was left out, altered or re-ordered, whoever served it;
2. appends it, as one JSON line, to the output file.

The output file is also where it resumes from: after a restart (or a dropped connection, or the
server ending a stream) it reads the last line kept, and reconnects with ``Last-Event-ID`` set to
that event's position, so no event is missed or kept twice. A last line cut short by a crash is
dropped and that event read again.

    python examples/follow_events.py --url http://127.0.0.1:8000 --token TOKEN --out events.jsonl

Exit status 0 when stopped (Ctrl-C, or ``--stop-after`` events, or ``--idle-exit`` seconds with
nothing new); 1 if an event fails its check (nothing after it is kept); 2 on bad arguments or
a token the service refuses.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path

GENESIS = "0" * 64  # the "previous" of the first event in the chain


class Broken(Exception):
    """An event failed its check: the stream cannot be trusted from here."""


class Refused(Exception):
    """The service refused the request (a bad token, a bad parameter): retrying will not help."""


def messages(lines: Iterable[bytes]) -> Iterator[tuple[str | None, str | None]]:
    """The (id, data) of each server-sent message in ``lines``: a message with an id and no data
    moves the place without an event, and one of comments only (a heartbeat) is (None, None)."""
    event_id: str | None = None
    data: list[str] = []
    for raw in lines:
        line = raw.decode("utf-8").rstrip("\r\n")
        if line == "":
            yield event_id, "\n".join(data) if data else None
            event_id, data = None, []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "id":
                event_id = value
            elif name == "data":
                data.append(value)


def check(event: dict, previous_hash: str) -> None:
    """Raises ``Broken`` unless ``event`` is bound into the chain right after ``previous_hash``."""
    document = event.get("document")
    if not isinstance(document, str):
        raise Broken(f"event {event.get('position')} came without its document (ask with documents=true)")
    if hashlib.sha256(document.encode("utf-8")).hexdigest() != event.get("hash"):
        raise Broken(f"event {event.get('position')}: its hash is not the SHA-256 of its document")
    chained = json.loads(document)
    for name in ("position", "stream_id", "version"):
        if chained.get(name) != event.get(name):
            raise Broken(f"event {event.get('position')}: the document's {name} is {chained.get(name)!r}")
    if chained.get("previous") != previous_hash:
        raise Broken(
            f"event {event['position']} follows {chained.get('previous')!r} in the chain, "
            f"not the last event kept ({previous_hash!r}): an event is missing or out of order"
        )


class Kept:
    """The output file: the events kept so far, one JSON line each, and where they end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.position, self.hash = 0, GENESIS
        if path.exists():
            self._recover()

    def _recover(self) -> None:
        lines = self.path.read_bytes().split(b"\n")
        complete = lines[:-1]  # after the last newline: nothing, or a line cut short by a crash
        for line in reversed(complete):
            if line.strip():
                last = json.loads(line)
                self.position, self.hash = last["position"], last["hash"]
                break
        kept = b"".join(line + b"\n" for line in complete)
        if kept != self.path.read_bytes():
            self.path.write_bytes(kept)

    def add(self, event: dict) -> None:
        check(event, self.hash)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(event, sort_keys=True, ensure_ascii=False) + "\n")
            out.flush()
            os.fsync(out.fileno())
        self.position, self.hash = event["position"], event["hash"]


def follow(
    url: str,
    token: str,
    kept: Kept,
    *,
    stop_after: int | None = None,
    idle_exit: float | None = None,
    log=print,
) -> int:
    """Follows the stream into ``kept`` until stopped; answers how many events were kept."""
    added = 0
    backoff = 0.5
    last_news = time.monotonic()
    while True:
        request = urllib.request.Request(  # noqa: S310 - main() lets only http and https through
            f"{url.rstrip('/')}/api/v1/events/stream?documents=true",
            headers={"Authorization": f"Bearer {token}", "Last-Event-ID": str(kept.position)},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - http(s) only
                backoff = 0.5
                for _event_id, data in messages(response):
                    if data is not None:
                        event = json.loads(data)
                        if event["position"] <= kept.position:
                            continue  # already kept (a server that resent it)
                        kept.add(event)
                        added += 1
                        last_news = time.monotonic()
                        log(f"{event['position']:>8} {event['type']} {event['stream_id']}")
                        if stop_after is not None and added >= stop_after:
                            return added
                    if idle_exit is not None and time.monotonic() - last_news > idle_exit:
                        return added
        except urllib.error.HTTPError as error:
            if error.code in (400, 401, 403, 404, 422):
                detail = error.read()[:500].decode(errors="replace")
                raise Refused(f"the service answered {error.code}: {detail}") from None
            log(f"the service answered {error.code}; trying again in {backoff:.1f} s")
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            log(f"connection lost ({error}); trying again in {backoff:.1f} s")
        if idle_exit is not None and time.monotonic() - last_news > idle_exit:
            return added
        time.sleep(backoff)
        backoff = min(backoff * 2, 30.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the service, e.g. http://127.0.0.1:8000")
    parser.add_argument("--token", default=os.environ.get("RECORDS_TOKEN"), help="a bearer token (or RECORDS_TOKEN)")
    parser.add_argument("--out", type=Path, required=True, help="the JSON-lines file of events kept (and resumed)")
    parser.add_argument("--stop-after", type=int, help="stop after keeping this many new events")
    parser.add_argument("--idle-exit", type=float, help="stop after this many seconds with no new event")
    arguments = parser.parse_args(argv)
    if not arguments.token:
        parser.error("give a token: --token or RECORDS_TOKEN")
    if not arguments.url.startswith(("http://", "https://")):
        parser.error("--url must be an http:// or https:// address")
    kept = Kept(arguments.out)
    print(f"following {arguments.url} after position {kept.position}", file=sys.stderr)
    try:
        added = follow(
            arguments.url, arguments.token, kept, stop_after=arguments.stop_after, idle_exit=arguments.idle_exit
        )
    except Broken as broken:
        print(f"NOT TRUSTED: {broken}", file=sys.stderr)
        return 1
    except Refused as refused:
        print(str(refused), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        added = 0
    print(f"kept {added} new events; the last at position {kept.position}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
