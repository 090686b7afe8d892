"""Indexes of an aggregate's append-only entries in effective order, so that "the entry in
effect on a date" is a binary search rather than a scan of the whole history.

An index mirrors one container of the aggregate's state (a list or a dict of entries that are
only ever added): it keeps a reference to that container and how many entries it has taken
in, and takes in the new ones (a few, usually one) the next time it is asked. It is derived,
never state: the aggregate keeps its indexes outside ``vars()`` (a slot), so snapshots, copies
and ``as_of`` views never carry one; a copy or a view, whose containers are new objects, builds
its own on first use.
"""

from __future__ import annotations

import sys
from bisect import bisect_right
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from datetime import date
from itertools import islice
from typing import Any, Generic, TypeVar

Entry = TypeVar("Entry")
Order = tuple[date, int]  # (effective date, version): later-dated wins, then later-recorded

_LAST = sys.maxsize  # a version later than any: (day, _LAST) sorts after every entry dated ``day``
_ONE_BY_ONE = 16  # up to this many new entries are inserted in place; more are merged and sorted


class EffectiveIndex(Generic[Entry]):
    """Entries of one append-only container grouped by a scope and, in each, sorted by an order
    key ``(date, version)``: what was in effect on a day is the last entry ordered on or before
    ``(day, any version)``."""

    def __init__(self, order: Callable[[Entry], Order], scope: Callable[[Entry], Hashable] = lambda _: None):
        self.order = order
        self.scope = scope
        self.source: Sequence[Entry] | Mapping[Any, Entry] | None = None
        self.taken = 0
        self.keys: dict[Hashable, list[Order]] = {}
        self.entries: dict[Hashable, list[Entry]] = {}

    def following(self, source: Sequence[Entry] | Mapping[Any, Entry]) -> EffectiveIndex[Entry]:
        """This index brought up to ``source``: rebuilt if it is another container (or shrank),
        else extended with the entries added since it last looked."""
        if source is not self.source or len(source) < self.taken:
            self.source, self.taken = source, 0
            self.keys, self.entries = {}, {}
        added = len(source) - self.taken
        if added > 0:
            values = source.values() if isinstance(source, Mapping) else source
            new = islice(values, self.taken, None)
            if added <= _ONE_BY_ONE:
                for entry in new:
                    self._insert(entry)
            else:
                self._merge(new)
            self.taken = len(source)
        return self

    def copy_for(self, source: Sequence[Entry] | Mapping[Any, Entry]) -> EffectiveIndex[Entry]:
        """This index, for a copy of its container holding the same entries (an aggregate copied
        whole): cheaper than building one from the entries again."""
        index = EffectiveIndex(self.order, self.scope)
        index.source, index.taken = source, self.taken
        index.keys = {scope: list(keys) for scope, keys in self.keys.items()}
        index.entries = {scope: list(entries) for scope, entries in self.entries.items()}
        return index

    def _insert(self, entry: Entry) -> None:
        scope, key = self.scope(entry), self.order(entry)
        keys = self.keys.setdefault(scope, [])
        at = bisect_right(keys, key)
        keys.insert(at, key)
        self.entries.setdefault(scope, []).insert(at, entry)

    def _merge(self, new: Iterable[Entry]) -> None:
        """Many entries at once (an index built from scratch): appended, then each scope sorted
        (stable, so equal keys keep the order recorded; keys are unique per aggregate anyway)."""
        touched: set[Hashable] = set()
        for entry in new:
            scope = self.scope(entry)
            self.keys.setdefault(scope, []).append(self.order(entry))
            self.entries.setdefault(scope, []).append(entry)
            touched.add(scope)
        for scope in touched:
            pairs = sorted(zip(self.keys[scope], self.entries[scope], strict=True), key=lambda pair: pair[0])
            self.keys[scope] = [key for key, _ in pairs]
            self.entries[scope] = [entry for _, entry in pairs]

    def in_effect(self, on: date, scope: Hashable = None) -> Entry | None:
        """The latest entry of ``scope`` dated on or before ``on`` (on a tie, the later-recorded)."""
        keys = self.keys.get(scope)
        if not keys:
            return None
        at = bisect_right(keys, (on, _LAST))
        return self.entries[scope][at - 1] if at else None

    def in_order(self, scope: Hashable = None) -> list[Entry]:
        """The entries of ``scope`` in their order (a list the caller must not change)."""
        return self.entries.get(scope, [])

    def up_to(self, on: date, scope: Hashable = None) -> list[Entry]:
        """The entries of ``scope`` dated on or before ``on``, in their order."""
        keys = self.keys.get(scope, [])
        return self.entries.get(scope, [])[: bisect_right(keys, (on, _LAST))]
