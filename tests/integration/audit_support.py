"""For the audit tests: a good store written through the application service, and direct SQL
on the database under it, as someone with access to the database (and none to the service)
could tamper with it."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from flask import Flask

from service.application import Caller, CollaborationRecords
from service.audit.chain import canonical_bytes, event_hash, stream_text
from service.audit.checkpoints import KEY_FILE_VARIABLE, KEY_VARIABLE
from service.audit.cli import audit_cli
from service.audit.merkle import MemoryTree, leaf_hash
from service.persistence import persistence_environment
from tests.event_conformance import store_tampered

ADMIN = Caller("Audit tester (admin)")
ON = {"effective_on": date(2015, 3, 1), "reason": "agreed by the joint board"}
GOOD_STORE_SIZE = 30


@pytest.fixture(autouse=True)
def no_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Autouse in the modules that import it: no signing key leaks in from the environment;
    each test configures the key it means."""
    monkeypatch.delenv(KEY_FILE_VARIABLE, raising=False)
    monkeypatch.delenv(KEY_VARIABLE, raising=False)


@pytest.fixture
def audit_app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """A bare Flask app with the store and the ``audit`` commands, as ``flask --app wsgi`` has them."""
    records = CollaborationRecords(env=persistence_environment(database_url))
    flask_app = Flask(__name__, instance_path=str(tmp_path / "instance"))
    flask_app.extensions["records"] = records
    flask_app.cli.add_command(audit_cli)
    yield flask_app
    records.close()


def write_good_store(records: CollaborationRecords, collaborations: int = 3, rounds: int = 9) -> list[str]:
    """3 collaborations x (1 + 9) events = 30, interleaved in the log as concurrent users write."""
    ids = [
        records.establish_collaboration(
            caller=ADMIN,
            name=f"Alliance {number}",
            purpose="Shared services",
            parties=["west-mercia", "warwickshire"],
            lead_force="west-mercia",
            **ON,
        ).result["id"]
        for number in range(collaborations)
    ]
    for round_number in range(rounds):
        for number, collaboration_id in enumerate(ids):
            if round_number % 3 == 0:
                records.agree_variation(
                    collaboration_id, clause=f"{round_number}.{number}", summary="longer notice", caller=ADMIN, **ON
                )
            else:
                records.hold_review(collaboration_id, outcome=f"review {round_number}", caller=ADMIN, **ON)
    return ids


@dataclass
class RawDatabase:
    """Plain SQL on the service's tables, bypassing the service. Statements are written with
    ``{events}``, ``{chain}``, ``{checkpoints}``, ``{tree}``, ``{pos}`` (the events' position
    column) and ``?`` placeholders."""

    url: str

    @property
    def postgres(self) -> bool:
        return urlparse(self.url).scheme.startswith("postgres")

    def sql(self, statement: str) -> str:
        if self.postgres:
            schema = parse_qs(urlparse(self.url).query)["schema"][0]
            names = {
                "events": f'"{schema}".collaborationrecords_events',
                "chain": f'"{schema}".event_chain',
                "checkpoints": f'"{schema}".audit_checkpoints',
                "tree": f'"{schema}".merkle_nodes',
                "edge": f'"{schema}".merkle_edge',
                "pos": "notification_id",
            }
            return statement.format(**names).replace("?", "%s")
        return statement.format(
            events="stored_events",
            chain="event_chain",
            checkpoints="audit_checkpoints",
            tree="merkle_nodes",
            edge="merkle_edge",
            pos="rowid",
        )

    def run(self, *statements: tuple[str, Sequence[Any]] | str) -> list[tuple[Any, ...]]:
        """Runs the statements in one transaction; answers the last one's rows."""
        texts = [item if isinstance(item, str) else item[0] for item in statements]
        if not all(text.lstrip().upper().startswith("SELECT") for text in texts):
            store_tampered()  # a tampered event is not meant to conform to the event catalogue
        rows: list[tuple[Any, ...]] = []
        if self.postgres:
            import psycopg

            with psycopg.connect(self.url.split("?")[0]) as connection:
                for item in statements:
                    statement, params = (item, ()) if isinstance(item, str) else item
                    cursor = connection.execute(self.sql(statement), tuple(params))
                    rows = cursor.fetchall() if cursor.description else []
            return rows
        connection = sqlite3.connect(persistence_environment(self.url)["SQLITE_DBNAME"])
        try:
            with connection:
                for item in statements:
                    statement, params = (item, ()) if isinstance(item, str) else item
                    rows = connection.execute(self.sql(statement), tuple(params)).fetchall()
        finally:
            connection.close()
        return rows

    # ------------------------------------------------------------------------ reading
    def positions(self) -> list[int]:
        return [row[0] for row in self.run("SELECT {pos} FROM {events} ORDER BY {pos}")]

    def event(self, position: int) -> tuple[Any, int, str, bytes]:
        """(stream id as stored, version, topic, state)"""
        [row] = self.run(
            ("SELECT originator_id, originator_version, topic, state FROM {events} WHERE {pos} = ?", [position])
        )
        return row[0], row[1], row[2], bytes(row[3])

    def chain_hash(self, position: int) -> str:
        [(digest,)] = self.run(("SELECT hash FROM {chain} WHERE position = ?", [position]))
        return digest

    # ---------------------------------------------------------------------- tampering
    def set_state(self, position: int, state: bytes) -> None:
        self.run(("UPDATE {events} SET state = ? WHERE {pos} = ?", [state, position]))

    def flip_bit(self, position: int, byte: int, bit: int = 0) -> None:
        state = bytearray(self.event(position)[3])
        state[byte] ^= 1 << bit
        self.set_state(position, bytes(state))

    def set_topic(self, position: int, topic: str) -> None:
        self.run(("UPDATE {events} SET topic = ? WHERE {pos} = ?", [topic, position]))

    def edit_state(self, position: int, **changes: Any) -> None:
        """Changes fields of the stored event JSON and writes it back canonically."""
        state = json.loads(self.event(position)[3])
        state.update(changes)
        self.set_state(position, json.dumps(state, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())

    def delete_event(self, position: int, *, with_chain_entry: bool = False) -> None:
        statements: list[tuple[str, Sequence[Any]]] = [("DELETE FROM {events} WHERE {pos} = ?", [position])]
        if with_chain_entry:
            statements.append(("DELETE FROM {chain} WHERE position = ?", [position]))
        self.run(*statements)

    def truncate(self, after_position: int, *, with_chain_entries: bool) -> None:
        statements: list[tuple[str, Sequence[Any]]] = [("DELETE FROM {events} WHERE {pos} > ?", [after_position])]
        if with_chain_entries:
            statements.append(("DELETE FROM {chain} WHERE position > ?", [after_position]))
        self.run(*statements)

    def swap_positions(self, first: int, second: int, *, with_chain_entries: bool = False) -> None:
        """The two events trade places in the log (and, if asked, so do their chain entries)."""
        tables = [("{events}", "{pos}")] + ([("{chain}", "position")] if with_chain_entries else [])
        statements: list[tuple[str, Sequence[Any]]] = []
        for table, column in tables:
            statements += [
                (f"UPDATE {table} SET {column} = ? WHERE {column} = ?", [-1, first]),
                (f"UPDATE {table} SET {column} = ? WHERE {column} = ?", [first, second]),
                (f"UPDATE {table} SET {column} = ? WHERE {column} = ?", [second, -1]),
            ]
        self.run(*statements)

    def make_room_after(self, position: int, *, with_chain_entries: bool) -> None:
        """Moves every event after ``position`` one place on (and their chain entries, if
        asked), so that ``position + 1`` is free for an intruder."""
        tables = [("{events}", "{pos}")] + ([("{chain}", "position")] if with_chain_entries else [])
        statements: list[tuple[str, Sequence[Any]]] = []
        for table, column in tables:  # through negative numbers, so no two rows ever share one
            statements += [
                (f"UPDATE {table} SET {column} = -{column} WHERE {column} > ?", [position]),
                (f"UPDATE {table} SET {column} = 1 - {column} WHERE {column} < 0", []),
            ]
        self.run(*statements)

    def insert_event(self, position: int | None, copy_of: int, *, version: int = 1000) -> int:
        """Inserts a copy of the event at ``copy_of`` as a new version of its stream, at
        ``position`` (None: where the store puts the next event), with no chain entry."""
        stream, _, topic, state = self.event(copy_of)
        if position is None:
            self.run(
                (
                    "INSERT INTO {events} (originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)",
                    [stream, version, topic, state],
                )
            )
            [(position,)] = self.run(("SELECT {pos} FROM {events} WHERE originator_version = ?", [version]))
            return position
        self.run(
            (
                "INSERT INTO {events} (originator_id, originator_version, topic, state, {pos}) VALUES (?, ?, ?, ?, ?)",
                [stream, version, topic, state, position],
            )
        )
        return position

    def rehash_from(self, position: int) -> None:
        """Recomputes the chain entries of every event from ``position`` on, so the rewritten
        tail is self-consistent, as someone who knows the chain's format would."""
        previous_rows = self.run(("SELECT hash FROM {chain} WHERE position < ? ORDER BY seq DESC LIMIT 1", [position]))
        previous = previous_rows[0][0] if previous_rows else "0" * 64
        rows = self.run(
            (
                "SELECT {pos}, originator_id, originator_version, topic, state FROM {events}"
                " WHERE {pos} >= ? ORDER BY {pos}",
                [position],
            )
        )
        statements: list[tuple[str, Sequence[Any]]] = []
        for event_position, stream, version, topic, state in rows:
            previous = event_hash(
                position=event_position,
                stream_id=stream_text(stream),
                version=version,
                topic=topic,
                state=bytes(state),
                previous=previous,
            )
            statements.append(("UPDATE {chain} SET hash = ? WHERE position = ?", [previous, event_position]))
        self.run(*statements)

    def rebuild_tree(self) -> None:
        """Recomputes every Merkle tree node (and its right edge) from the events and their chain
        entries as stored, as someone who knows the tree's format would after rewriting events."""
        rows = self.run(
            "SELECT e.{pos}, e.originator_id, e.originator_version, e.topic, e.state, c.seq FROM {events} e"
            " JOIN {chain} c ON c.position = e.{pos} ORDER BY c.seq"
        )
        tree, previous = MemoryTree(), "0" * 64
        for position, stream, version, topic, state, _ in rows:
            document = canonical_bytes(
                position=position,
                stream_id=stream_text(stream),
                version=version,
                topic=topic,
                state=bytes(state),
                previous=previous,
            )
            previous = hashlib.sha256(document).hexdigest()
            tree.append(leaf_hash(document))
        inserts = [
            ("INSERT INTO {tree} (level, idx, hash) VALUES (?, ?, ?)", [level, index, digest.hex()])
            for (level, index), digest in sorted(tree.nodes.items())
        ]
        self.run("DELETE FROM {tree}", "DELETE FROM {edge}", *inserts)

    def delete_chain(self) -> None:
        self.run("DELETE FROM {chain}")
