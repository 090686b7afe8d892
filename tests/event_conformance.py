"""Every event the test suite stores conforms to the published event catalogue (issue 16).

A pytest plugin (``tests/conftest.py`` registers it): while the tests run, every
``CollaborationRecords`` application remembers the end of its store's log when it was opened.
When a test's body has run, the events each open application's store gained since it was last
checked are read back as the feed publishes them (``event_document`` of the stored, upcast
event, with its position and hash) and validated against their type's published schema
(``service.event_catalogue``: the envelope, the type and its ``data``) with jsonschema, formats
checked. A non-conforming event, or one of a type the catalogue does not publish, fails the
test that stored it; events stored while a test's fixtures close (an application's ``close``)
are checked then and fail its teardown.

Reading back is the point: the event checked is the stored one (transcoded, upcast), so it
also covers events written by another process on the store (a gunicorn server under test).
A store that cannot be read when checked (a fault injected, a schema already dropped) is
counted, not failed; the count is in the run's summary. A test that stores events outside
the catalogue on purpose says so with ``@pytest.mark.unpublished_events``; a test that tampers
with a store behind the service's back is passed over from then on (``store_tampered``).

It costs about 0.2 ms an event (reading it back and validating it), a few per cent of a test
file's time; ``-p no:event-conformance`` switches it off, e.g. to time the tests without it.
"""

from __future__ import annotations

import functools
import sys
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from projections.event_documents import event_document
from service.application import CollaborationRecords
from service.event_catalogue import catalogue, document_schema
from service.persistence import SideTableAccess

PAGE = 500
MARKER = "unpublished_events"
ERRORS_SHOWN = 5


@functools.cache
def validator_for(event_type: str) -> Draft202012Validator | None:
    """The validator of one whole feed item of ``event_type``; None for a type not published."""
    entry = catalogue().get(event_type)
    if entry is None:
        return None
    schema = document_schema(entry, catalogue().envelope_schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def problems_of(document: dict[str, Any]) -> list[str]:
    """Why ``document`` (a feed item) does not conform to its type's published schema; [] if it does."""
    event_type = document.get("type")
    validator = validator_for(event_type) if isinstance(event_type, str) else None
    if validator is None:
        return [f"{event_type!r} is not a type the event catalogue publishes"]
    if validator.is_valid(document):
        return []
    errors = sorted(validator.iter_errors(document), key=lambda error: list(error.absolute_path))
    return [f"{error.json_path}: {error.message}" for error in errors]


def stored_items(records: CollaborationRecords, after: int) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """Each event of ``records``' store after log position ``after``: its position and the feed's
    item of it, or why it cannot be read as an event at all (no class has its topic, its state
    does not decode). Errors of the store itself are raised."""
    while True:
        notifications = records.recorder.select_notifications(start=after, limit=PAGE, inclusive_of_start=False)
        if not notifications:
            return
        positions = [notification.id for notification in notifications]
        hashes = records.recorder.chain_hashes(positions) if isinstance(records.recorder, SideTableAccess) else {}
        for notification in notifications:
            try:
                document = event_document(records.mapper.to_domain_event(notification))
            except Exception as error:
                yield notification.id, f"{notification.topic!r} cannot be read as an event: {error!r}"
            else:
                yield notification.id, {**document, "position": notification.id, "hash": hashes.get(notification.id)}
        after = notifications[-1].id


def store_tampered() -> None:
    """Says that the running test is about to change a store behind the application's back (the
    audit tests' ``RawDatabase``): what the stores hold so far is checked now, and nothing they
    hold after it is, in this test. A tampered event is meant not to conform."""
    if _plugin is not None:
        _plugin.failures += _plugin.check_open()
        _plugin.exempt = True


_plugin: EventConformance | None = None


@dataclass
class Watched:
    checked_through: int  # the last log position checked


@dataclass(eq=False)  # a plugin is hashed by identity
class EventConformance:
    """The plugin: watches the applications the tests open and checks what their stores gain."""

    watched: weakref.WeakKeyDictionary[CollaborationRecords, Watched] = field(default_factory=weakref.WeakKeyDictionary)
    opened_by_test: list[CollaborationRecords] = field(default_factory=list)  # kept alive until its teardown
    failures: list[str] = field(default_factory=list)  # found while closing, reported at teardown
    exempt: bool = False
    checked: int = 0
    unreadable: int = 0
    seconds: float = 0.0
    _originals: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ the applications
    def install(self) -> None:
        original_init, original_close = CollaborationRecords.__init__, CollaborationRecords.close
        self._originals = {"__init__": original_init, "close": original_close}
        plugin = self

        @functools.wraps(original_init)
        def __init__(records: CollaborationRecords, *args: Any, **kwargs: Any) -> None:
            original_init(records, *args, **kwargs)
            plugin.watch(records)

        @functools.wraps(original_close)
        def close(records: CollaborationRecords) -> None:
            plugin.check_before_closing(records)
            original_close(records)

        CollaborationRecords.__init__ = __init__  # type: ignore[method-assign]
        CollaborationRecords.close = close  # type: ignore[method-assign]

    def uninstall(self) -> None:
        for name, original in self._originals.items():
            setattr(CollaborationRecords, name, original)

    def watch(self, records: CollaborationRecords) -> None:
        began = time.perf_counter()
        try:
            start = records.log_size()
        except Exception:  # a store that cannot be read yet: every event it will hold is new
            start = 0
        self.watched[records] = Watched(start)
        self.opened_by_test.append(records)
        self.seconds += time.perf_counter() - began

    def check_before_closing(self, records: CollaborationRecords) -> None:
        watched = self.watched.pop(records, None)
        if watched is None or sys.is_finalizing():
            return
        self.failures += self.check(records, watched)

    # ----------------------------------------------------------------------- checking
    def check(self, records: CollaborationRecords, watched: Watched) -> list[str]:
        """What is wrong with the events ``records``' store gained since last checked (in a test
        marked ``unpublished_events``: nothing, and they are passed over)."""
        if records.closing.is_set():
            return []
        began = time.perf_counter()
        failures: list[str] = []
        try:
            if self.exempt:
                watched.checked_through = records.log_size()
                return []
            for position, item in stored_items(records, watched.checked_through):
                self.checked += 1
                if isinstance(item, str):
                    failures.append(f"event at position {position}: {item}")
                elif problems := problems_of(item):
                    shown = "; ".join(problems[:ERRORS_SHOWN])
                    failures.append(f"event at position {position} ({item['type']}): {shown}")
                watched.checked_through = position
        except Exception:  # the store cannot be read now: a fault injected, a schema dropped
            self.unreadable += 1
            if records not in self.opened_by_test:  # left open by an earlier test, its store since removed
                self.watched.pop(records, None)
        finally:
            self.seconds += time.perf_counter() - began
        return failures

    def check_open(self) -> list[str]:
        failures: list[str] = []
        for records, watched in list(self.watched.items()):
            failures += self.check(records, watched)
        return failures

    @staticmethod
    def report(failures: list[str]) -> None:
        if failures:
            shown = "\n  ".join(failures[:ERRORS_SHOWN])
            more = f"\n  ... and {len(failures) - ERRORS_SHOWN} more" if len(failures) > ERRORS_SHOWN else ""
            pytest.fail(
                f"{len(failures)} stored event(s) do not conform to the published event catalogue "
                f"(GET /api/v1/event-types; docs/event-catalogue.md):\n  {shown}{more}",
                pytrace=False,
            )

    # -------------------------------------------------------------------------- hooks
    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line(
            "markers",
            f"{MARKER}(reason): the test stores events outside the published event catalogue on purpose; "
            "they are not checked against it",
        )
        global _plugin
        _plugin = self
        self.install()

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        global _plugin
        _plugin = None
        self.uninstall()

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(session.config, "workeroutput"):  # an xdist worker: tell the controller
            session.config.workeroutput["event_conformance"] = (self.checked, self.unreadable, self.seconds)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Iterator[None]:
        self.exempt = item.get_closest_marker(MARKER) is not None
        self.failures.clear()
        return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Iterator[None]:
        result = yield  # the test's body passed: now what it stored
        self.report(self.check_open())
        return result

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Iterator[None]:
        result = yield
        failures = list(self.failures)
        self.failures.clear()
        self.opened_by_test.clear()
        self.exempt = False
        self.report(failures)
        return result

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        checked, unreadable, seconds = getattr(node, "workeroutput", {}).get("event_conformance", (0, 0, 0.0))
        self.checked += checked
        self.unreadable += unreadable
        self.seconds += seconds

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
        if self.checked or self.unreadable:
            terminalreporter.write_line(
                f"event catalogue: {self.checked} stored events checked in {self.seconds:.2f} s; "
                f"{self.unreadable} check(s) of a store that could not be read"
            )
