"""How aggregate state is written into snapshots: JSON transcodings for the domain's value
objects and state entries.

Events carry plain values (str, Decimal, date, lists and dicts of them), so they need nothing
from here. Snapshots are different: the library stores an aggregate's ``__dict__`` as it is,
and that holds the domain's state dataclasses (a ``Function``, a ``Notice``, ``Money``...).
Each such class gets a transcoding named after its module and class, which writes its fields
as a JSON object and rebuilds it with the class's constructor; ``Money`` and ``Share`` are
written as exact decimal strings. The set of classes is found by looking at the domain modules
rather than listed by hand, so a new state class cannot be forgotten.

Snapshots are a cache: if a state class changes shape, bump the aggregate's ``class_version``
(or delete the snapshots table's rows); events remain the record.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from decimal import Decimal
from types import ModuleType
from typing import Any

from eventsourcing.persistence import Transcoding

from domain.values import Money, Share


class MoneyAsStr(Transcoding):
    type = Money
    name = "money"

    def encode(self, obj: Money) -> str:
        return str(obj.amount)

    def decode(self, data: str) -> Money:
        return Money(Decimal(data))


class ShareAsStr(Transcoding):
    type = Share
    name = "share"

    def encode(self, obj: Share) -> str:
        return str(obj)

    def decode(self, data: str) -> Share:
        return Share(Decimal(data))


class DataclassAsDict(Transcoding):
    """A state dataclass as a JSON object of its fields (init fields only)."""

    def __init__(self, cls: type) -> None:
        self.type = cls
        self.name = f"{cls.__module__}:{cls.__qualname__}"
        self.init_fields = [f.name for f in dataclasses.fields(cls) if f.init]
        self.other_fields = [f.name for f in dataclasses.fields(cls) if not f.init]

    def encode(self, obj: Any) -> dict[str, Any]:
        return {name: getattr(obj, name) for name in [*self.init_fields, *self.other_fields]}

    def decode(self, data: dict[str, Any]) -> Any:
        obj = self.type(**{name: data[name] for name in self.init_fields if name in data})
        for name in self.other_fields:
            if name in data:
                object.__setattr__(obj, name, data[name])
        return obj


def state_classes(*modules: ModuleType) -> Iterator[type]:
    """The dataclasses each module defines (not those it imports), except Money and Share."""
    for module in modules:
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and dataclasses.is_dataclass(value)
                and value.__module__ == module.__name__
                and value not in (Money, Share)
            ):
                yield value


def state_transcodings(*modules: ModuleType) -> list[Transcoding]:
    return [MoneyAsStr(), ShareAsStr(), *(DataclassAsDict(cls) for cls in state_classes(*modules))]
