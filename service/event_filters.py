"""Which events of the log a subscriber asked for: by type, by collaboration and by force.

One rule for every way the log is delivered to other tools (the live stream, webhooks):

- **types**: the event's ``type`` (as the feed publishes it, e.g. ``Collaboration.ReviewHeld``)
  is one of those named; none named, every type;
- **collaboration**: the event belongs to that collaboration: one of its own events, or an
  event of one of its exit cases or benefits (which carry its id);
- **force**: the event belongs to a collaboration the force was party to when the event was
  recorded: from the collaboration's establishment if it was a founding party, from its joining
  if it joined later, and ever after (a force that has left still follows its exit case and the
  agreement's end). An exit case's or a benefit's event goes to the parties of its collaboration
  as they stood at the collaboration's latest event before it.

The rule answers the same whether the log is followed live, caught up with or replayed: a
collaboration's parties are read once per ``EventFilter``, as they stood at the first of its
events the filter meets (the collaboration at that version, from the application), and then
kept up to date from the collaboration's own events in log order (a ``PartyJoined`` adds its
force).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

COLLABORATION_EVENT_PREFIX = "Collaboration."
PARTY_JOINED = "Collaboration.PartyJoined"


class PartiesSource(Protocol):
    def collaboration(
        self, collaboration_id: str, *, version: int | None = None, known_at: datetime | None = None
    ) -> Any: ...


def collaboration_of(item: Mapping[str, Any]) -> str | None:
    """The collaboration an event (a feed item) belongs to: its own stream for a collaboration's
    events, the ``collaboration_id`` its data carries for an exit case's or a benefit's."""
    if str(item.get("type", "")).startswith(COLLABORATION_EVENT_PREFIX):
        return str(item["stream_id"])
    data = item.get("data")
    if isinstance(data, Mapping) and data.get("collaboration_id"):
        return str(data["collaboration_id"])
    return None


@dataclass
class EventFilter:
    types: frozenset[str] = frozenset()
    collaboration_id: str | None = None
    force: str | None = None
    _parties: dict[str, frozenset[str]] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(
        cls, types: Iterable[str] | None = None, collaboration_id: str | None = None, force: str | None = None
    ) -> EventFilter:
        return cls(frozenset(types or ()), str(collaboration_id) if collaboration_id else None, force or None)

    @property
    def is_everything(self) -> bool:
        return not self.types and self.collaboration_id is None and self.force is None

    def as_params(self) -> dict[str, Any]:
        """The filter as stored or echoed: types sorted, absent criteria as None."""
        return {"types": sorted(self.types), "collaboration_id": self.collaboration_id, "force": self.force}

    def matches(self, item: Mapping[str, Any], records: PartiesSource) -> bool:
        """Whether ``item`` is asked for. Call it on every event in log order: a ``force``
        filter keeps its parties up to date from events it does not send (a ``PartyJoined``
        left out by ``types``)."""
        collaboration_id = collaboration_of(item)
        if self.collaboration_id is not None and collaboration_id != self.collaboration_id:
            return False
        if self.force is not None and (
            collaboration_id is None or self.force not in self._parties_of(collaboration_id, item, records)
        ):
            return False
        return not self.types or item.get("type") in self.types

    def _parties_of(self, collaboration_id: str, item: Mapping[str, Any], records: PartiesSource) -> frozenset[str]:
        """The collaboration's parties as they stood at ``item`` (met in log order)."""
        own_event = str(item.get("type", "")).startswith(COLLABORATION_EVENT_PREFIX)
        known = self._parties.get(collaboration_id)
        if known is None:
            if own_event:
                collaboration = records.collaboration(collaboration_id, version=item.get("version"))
            else:  # as it was known when the case's or benefit's event was recorded: log order is recorded order
                recorded_at = datetime.fromisoformat(str(item["recorded_at"]).replace("Z", "+00:00"))
                collaboration = records.collaboration(collaboration_id, known_at=recorded_at)
            known = frozenset(collaboration.parties)
        elif own_event and item.get("type") == PARTY_JOINED:
            data = item.get("data")
            joined = data.get("force") if isinstance(data, Mapping) else None
            if isinstance(joined, str):
                known = known | {joined}
        self._parties[collaboration_id] = known
        return known
