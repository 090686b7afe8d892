"""The central register as it stood: ``GET /collaborations?as_of=&known_at=``.

The register projection holds the register as it is now. A past register is built from the
collaborations themselves: each one loaded at the version known at ``known_at`` (one indexed
read of ``event_times`` and a snapshot, not a replay) and viewed ``as_of`` the date, then
filtered, ordered and paged exactly as the projection does (by case-folded name, then id).
It reads every collaboration the register knows, so it costs a load per collaboration: fine
for a register of hundreds of agreements, which is what England and Wales have.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from service.application import CollaborationRecords
from service.documents import register_entry
from service.errors import CollaborationNotFound, NotYetInEffect


def register_page_at(
    records: CollaborationRecords,
    collaboration_ids: Iterable[str],
    *,
    as_of: date | None,
    known_at: datetime | None,
    party: str | None = None,
    status: str | None = None,
    function: str | None = None,
    q: str | None = None,
    page: int = 1,
    page_size: int = 20,
) -> dict[str, Any]:
    entries = []
    for collaboration_id in collaboration_ids:
        try:
            collaboration = records.collaboration(collaboration_id, as_of=as_of, known_at=known_at)
        except (CollaborationNotFound, NotYetInEffect):
            continue  # not recorded yet at known_at, or not yet in effect on as_of
        entry = register_entry(collaboration)
        if matches(entry, party=party, status=status, function=function, q=q):
            entries.append(entry)
    entries.sort(key=lambda entry: (entry["name"].casefold(), entry["id"]))
    start = (page - 1) * page_size
    return {"items": entries[start : start + page_size], "total": len(entries), "page": page, "page_size": page_size}


def matches(
    entry: dict[str, Any], *, party: str | None, status: str | None, function: str | None, q: str | None
) -> bool:
    """The register projection's filters (``projections/register.py``, ``RegisterView.search``)."""
    if (party := (party or "").strip()) and party not in entry["parties"]:
        return False
    if (status := (status or "").strip()) and entry["status"] != status:
        return False
    if function := (function or "").strip():
        folded = function.casefold()
        if not any(
            f["id"] == function or f["kind"] == folded or folded in f["name"].casefold() for f in entry["functions"]
        ):
            return False
    text = "\n".join(t.casefold() for t in (entry["name"], entry["purpose"], entry["governance_body"] or ""))
    return all(term in text for term in (q or "").casefold().split())
