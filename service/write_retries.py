"""The count of saves the application refused and ran again, for ``GET /metrics``
(``service/metrics.py`` serves it; this module knows nothing of the web, so the application
counts without depending on it)."""

from __future__ import annotations

from prometheus_client import Counter

RETRIES = Counter(
    "records_write_retries",
    "Saves refused and run again on fresh state, by reason: version-taken (another writer saved the "
    "aggregate's next version first) or out-of-order (the log's clock had passed the events).",
    ["reason"],
)

VERSION_TAKEN, OUT_OF_ORDER = "version-taken", "out-of-order"


def write_retried(reason: str) -> None:
    """Counts a save refused and run again (called by ``CollaborationRecords``)."""
    RETRIES.labels(reason=reason).inc()
