"""How far each projection is behind the log: read by ``GET /readyz`` (is this host ready?) and
by the metrics collector (``service/metrics.py``, the lag as a gauge per projection)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from service.persistence import PROJECTION_NAMES


@dataclass(frozen=True)
class ProjectionLag:
    """The log's head position, and each projection's tracking position and lag: how many
    positions of the log it has still to read (the head minus its position, never below 0).
    Positions may have gaps (docs/operations.md), so the lag is at most the events unread."""

    head: int
    positions: dict[str, int]

    @property
    def lags(self) -> dict[str, int]:
        return {name: max(0, self.head - position) for name, position in self.positions.items()}

    def as_dict(self) -> dict[str, dict[str, int]]:
        lags = self.lags
        return {name: {"position": position, "lag": lags[name]} for name, position in self.positions.items()}


def projection_lag(application: Any, extensions: Mapping[str, Any]) -> ProjectionLag:
    """The lag of every projection (``PROJECTION_NAMES``) of a Flask app's ``extensions``,
    against the log of ``application``. The head is read first: a write between the reads can
    only put a projection past it, which counts as no lag."""
    head = application.log_size()
    return ProjectionLag(head, {name: extensions[name].position() for name in PROJECTION_NAMES})
