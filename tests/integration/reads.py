"""Reading through the query side in tests."""

from __future__ import annotations

from typing import Any

from service.queries import RecordQueries


def history_of(queries: RecordQueries, collaboration_id: str, **options: Any) -> list[dict[str, Any]]:
    """A collaboration's whole history (``RecordQueries.history``) as a list."""
    _, items = queries.history(collaboration_id, **options)
    return list(items)
