"""What changed in a collaboration between two points: the question a board asks of its papers
("what did we know then, what do we know now?").

Two kinds of window:

- **recorded** (``known_from`` to ``known_to``, RFC 3339 times): each entity as it was known at
  the start against as it was known at the end; the events are those *recorded* in the window.
  An event recorded in the window but effective before it began is a **back-dated correction**
  (``back_dated``): it changed the past after the board had read it.
- **effective** (``effective_from`` to ``effective_to``, dates): each entity as it stood on the
  first date against the second, both as known now; the events are those *effective* in the
  window. One effective in it but recorded after it ended is flagged ``back_dated`` too: it was
  not known by the window's end.

Each entity (the collaboration, each of its exit cases and benefits) is compared through its
state document (the API's own documents) as an RFC 6902 JSON Patch (``jsonpatch``), each
operation with the value it replaced or removed (``was``); an entity that did not exist at the
start is ``added`` (its patch builds it from nothing). Each event also reads as a sentence.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import jsonpatch
import jsonpointer

from service.errors import BenefitNotFound, CollaborationNotFound, ExitCaseNotFound, NotYetInEffect
from service.event_sentences import sentence_of

MISSING = (CollaborationNotFound, ExitCaseNotFound, BenefitNotFound, NotYetInEffect)


@dataclass(frozen=True)
class Window:
    """A recorded window (times) or an effective one (dates); ``start``/``end`` are inclusive
    ends of the comparison."""

    kind: str  # "recorded" or "effective"
    start: datetime | date
    end: datetime | date

    @classmethod
    def of(cls, args: Mapping[str, Any]) -> Window:
        """The window a checked query names (``ChangesQuerySchema``): recorded if it has
        ``known_from``, else effective; the end defaults to now (today)."""
        if "known_from" in args:
            return cls("recorded", args["known_from"], args.get("known_to") or datetime.now(UTC))
        return cls("effective", args["effective_from"], args.get("effective_to") or date.today())

    def read_at(self, point: datetime | date) -> dict[str, Any]:
        """The arguments that read an entity at one end of the window."""
        return {"known_at": point} if self.kind == "recorded" else {"as_of": point}

    def holds(self, event: Mapping[str, Any]) -> bool:
        if self.kind == "recorded":
            recorded = datetime.fromisoformat(event["recorded_at"])
            return self.start < recorded <= self.end  # type: ignore[operator]
        effective = event.get("effective_on")
        return effective is not None and self.start < date.fromisoformat(effective) <= self.end  # type: ignore[operator]

    def back_dated(self, event: Mapping[str, Any]) -> bool:
        effective = event.get("effective_on")
        if effective is None:
            return False
        if self.kind == "recorded":
            return date.fromisoformat(effective) < self.start.astimezone(UTC).date()  # type: ignore[union-attr]
        window_end = datetime.combine(self.end, time.max, tzinfo=UTC)  # type: ignore[arg-type]
        return datetime.fromisoformat(event["recorded_at"]) > window_end

    def as_dict(self) -> dict[str, str]:
        def text(point: datetime | date) -> str:
            if isinstance(point, datetime):
                return point.astimezone(UTC).isoformat().replace("+00:00", "Z")
            return point.isoformat()

        return {"kind": self.kind, "from": text(self.start), "to": text(self.end)}


def entity_change(
    kind: str, entity_id: str, read: Callable[..., dict[str, Any]], window: Window
) -> dict[str, Any] | None:
    """How one entity changed across the window (None: it existed at neither end)."""
    before = _read_or_none(read, window.read_at(window.start))
    after = _read_or_none(read, window.read_at(window.end))
    if before is None and after is None:
        return None
    patch = jsonpatch.make_patch(before or {}, after or {}).patch
    status = "added" if before is None else "unchanged" if not patch else "changed"
    shown = after or before or {}
    return {
        "kind": kind,
        "id": entity_id,
        "title": shown.get("name") or shown.get("title") or _case_title(shown),
        "status": status,
        "version_before": None if before is None else before.get("version"),
        "version_after": None if after is None else after.get("version"),
        "patch": _with_was(patch, before or {}),
    }


READ_BASIS = ("as_of", "known_at")  # how a document was read, not what it says


def _read_or_none(read: Callable[..., dict[str, Any]], at: dict[str, Any]) -> dict[str, Any] | None:
    try:
        document = read(**at)
    except MISSING:
        return None
    return {key: value for key, value in document.items() if key not in READ_BASIS}


def _case_title(document: Mapping[str, Any]) -> str:
    trigger = document.get("trigger")
    subject = document.get("force") or document.get("function_name") or ""
    return f"exit case: {trigger} {subject}".strip() if trigger else ""


def _with_was(patch: list[dict[str, Any]], before: dict[str, Any]) -> list[dict[str, Any]]:
    """Each operation with ``was``: the value a replace or remove took away (None for an add),
    read from the document as the operations before it left it (a patch's paths are read in
    turn, so after a removal from a list the later indexes are of the shorter list)."""
    current = copy.deepcopy(before)
    operations = []
    for operation in patch:
        was = None
        if operation["op"] in ("replace", "remove"):
            try:
                was = copy.deepcopy(jsonpointer.resolve_pointer(current, operation["path"]))
            except jsonpointer.JsonPointerException:
                was = None
        current = jsonpatch.apply_patch(current, [operation], in_place=True)
        operations.append({**operation, "was": was})
    return operations


def event_sentence(event: Mapping[str, Any], function_names: Mapping[str, str] | None = None) -> str:
    """One event as a sentence (``service/event_sentences.py``): what happened, when it took
    effect, who recorded it and why."""
    what = sentence_of(str(event["type"]), event.get("data"), function_names)
    effective = f", effective {event['effective_on']}" if event.get("effective_on") else ""
    reason = f": {event['reason']}" if event.get("reason") else ""
    return f"{what}{effective} (recorded by {event.get('actor') or 'unknown'}){reason}"


def changed_events(
    events: Iterable[Mapping[str, Any]], window: Window, function_names: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """The events in the window, in log order, each with its sentence (functions named by
    ``function_names``) and ``back_dated`` flag."""
    return [
        {
            "stream_id": event["stream_id"],
            "aggregate_type": event.get("aggregate_type"),
            "version": event["version"],
            "type": event["type"],
            "effective_on": event.get("effective_on"),
            "recorded_at": event["recorded_at"],
            "actor": event.get("actor"),
            "reason": event.get("reason"),
            "position": event.get("position"),
            "sentence": event_sentence(event, function_names),
            "back_dated": window.back_dated(event),
        }
        for event in events
        if window.holds(event)
    ]
