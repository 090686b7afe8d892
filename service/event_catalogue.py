"""The public event catalogue (``GET /api/v1/event-types``, docs/event-catalogue.md): every type of
event the record can hold, with its version and a JSON Schema (draft 2020-12) of its ``data`` as
the feed publishes it, and one schema of the envelope every event shares.

Nothing in it is written by hand per event. The aggregates are found in the domain package, the
event classes each can record on the aggregate class, and each event's ``data`` schema is mapped
from the type hints of the fields ``projections.event_documents.event_document`` puts in ``data``
(all but the provenance and the library's envelope). ``json_schema_of`` knows the JSON that
``jsonable`` makes of each type an event may carry and refuses any other (``UnpublishableType``),
so a new kind of value cannot be published with a schema that does not describe it.

Every field of an event is always in its ``data`` (``None`` as null), so every property is
required; and ``data`` is closed (``additionalProperties: false``): any change to it is a new
``class_version`` of the event class, with an upcaster (docs/event-catalogue.md). The envelope
is open: the service may add fields to it.

Pure and built once per process (``catalogue()``).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import operator
import pkgutil
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, Union
from uuid import UUID

from eventsourcing.domain import BaseAggregate, CanInitAggregate, CanMutateAggregate

import domain
from domain.values import Money, Share
from projections.event_documents import EVENT_ENVELOPE_FIELDS, PROVENANCE_FIELDS

DIALECT = "https://json-schema.org/draft/2020-12/schema"
# A decimal as ``decimal_text`` writes it (money, shares, a benefit's values): positional
# digits, an optional sign and fraction, never an exponent or a leading zero.
DECIMAL_PATTERN = "^-?(0|[1-9][0-9]*)([.][0-9]+)?$"
TYPE_PATTERN = "^[A-Z][A-Za-z0-9]*[.][A-Z][A-Za-z0-9]*$"
HASH_PATTERN = "^[0-9a-f]{64}$"


class UnpublishableType(TypeError):
    """An event field whose type the catalogue cannot describe: ``jsonable`` does not define its
    JSON, or the mapper does not know it. Teach both before an event carries it."""


# ------------------------------------------------------------------------------ the mapper
# The JSON ``jsonable`` writes for each scalar type an event may carry (the type itself: a
# subclass, even ``bool`` of ``int``, is a type of its own).
SCALARS: tuple[tuple[type, dict[str, Any]], ...] = (
    (str, {"type": "string"}),
    (bool, {"type": "boolean"}),
    (int, {"type": "integer"}),
    (Decimal, {"type": "string", "pattern": DECIMAL_PATTERN}),
    (Money, {"type": "string", "pattern": DECIMAL_PATTERN}),
    (Share, {"type": "string", "pattern": DECIMAL_PATTERN}),
    (datetime, {"type": "string", "format": "date-time"}),
    (date, {"type": "string", "format": "date"}),
    (UUID, {"type": "string", "format": "uuid"}),
    (type(None), {"type": "null"}),
)


def json_schema_of(hint: Any, where: str = "value") -> dict[str, Any]:
    """The JSON Schema of the JSON ``jsonable`` makes of a value of type ``hint``: scalars as
    ``SCALARS``; ``X | None`` also null; lists, tuples and sequences arrays; ``dict[str, X]``
    objects of X; a ``TypedDict`` an object with exactly its keys; ``Literal`` its values.
    Anything else (``Any``, a bare ``dict``, an Enum, a dataclass, a float...) raises
    ``UnpublishableType`` naming ``where``: ``jsonable`` writes no JSON of its own for an Enum or
    a dataclass, and an unknown shape is never published as ``{}``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if isinstance(hint, type) and origin is None:
        if typing.is_typeddict(hint):
            return _typed_dict_schema(hint, where)
        for scalar, schema in SCALARS:
            if hint is scalar:
                return dict(schema)
    if origin in (Union, types.UnionType):
        return _union_schema(args, where)
    if origin is Literal and all(isinstance(value, str | int | bool) for value in args):
        return {"enum": list(args)}
    if origin in (list, Sequence) and len(args) == 1:
        return {"type": "array", "items": json_schema_of(args[0], f"{where}[]")}
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return {"type": "array", "items": json_schema_of(args[0], f"{where}[]")}
    if origin is tuple and args and Ellipsis not in args and args != ((),):
        items = [json_schema_of(arg, f"{where}[{index}]") for index, arg in enumerate(args)]
        return {"type": "array", "prefixItems": items, "items": False, "minItems": len(items)}
    if origin in (dict, Mapping) and len(args) == 2 and args[0] is str:
        return {"type": "object", "additionalProperties": json_schema_of(args[1], f"{where}{{}}")}
    raise UnpublishableType(
        f"{where}: no JSON Schema for {hint!r}. Events carry plain values (str, int, bool, Decimal, date, "
        "datetime, UUID, None, and lists, tuples, dict[str, ...] and TypedDicts of them); to publish "
        "another type, teach projections.event_documents.jsonable and service.event_catalogue.json_schema_of"
    )


def _union_schema(members: tuple[Any, ...], where: str) -> dict[str, Any]:
    """``X | Y``: one schema with a list of types where the members are scalars of different
    JSON types and at most one has a keyword beside its type (``str | None``, a date or null: a
    pattern or a format applies to strings only); else ``anyOf``."""
    schemas = [json_schema_of(member, where) for member in members]
    kinds = [schema.get("type") for schema in schemas]
    scalars = all(isinstance(kind, str) and kind not in ("array", "object") for kind in kinds)
    refined = [schema for schema in schemas if set(schema) - {"type"}]
    if scalars and len(set(kinds)) == len(kinds) and len(refined) <= 1:
        return {"type": kinds, **{key: value for schema in refined for key, value in schema.items() if key != "type"}}
    return {"anyOf": schemas}


def _typed_dict_schema(typed_dict: type, where: str) -> dict[str, Any]:
    hints = typing.get_type_hints(typed_dict)
    return {
        "type": "object",
        "properties": {name: json_schema_of(hint, f"{where}.{name}") for name, hint in hints.items()},
        "required": [name for name in hints if name in typed_dict.__required_keys__],  # type: ignore[attr-defined]
        "additionalProperties": False,
    }


# ------------------------------------------------------------------------------ the events
def aggregate_classes() -> tuple[type[BaseAggregate[Any]], ...]:
    """Every aggregate class of the domain package, found in its modules (not listed by hand)."""
    found: list[type[BaseAggregate[Any]]] = []
    for module_info in pkgutil.iter_modules(domain.__path__, f"{domain.__name__}."):
        module = importlib.import_module(module_info.name)
        found += [
            value
            for value in vars(module).values()
            if isinstance(value, type) and issubclass(value, BaseAggregate) and value.__module__ == module.__name__
        ]
    return tuple(found)


def recorded_event_classes(aggregate: type[BaseAggregate[Any]]) -> list[type[CanMutateAggregate[Any]]]:
    """The event classes ``aggregate`` can record, in the order it declares them: its nested
    event classes but the bases of others (its own ``Event``), and, where it declares its own
    created event (``Established``...), not the ``Created`` the library gives every aggregate."""
    events = [
        value
        for name, value in vars(aggregate).items()
        if name[:1].isupper() and isinstance(value, type) and issubclass(value, CanMutateAggregate)
    ]
    bases = {base for event in events for base in event.__mro__[1:]}
    events = [event for event in events if event not in bases]
    created = [event for event in events if issubclass(event, CanInitAggregate)]
    if len(created) > 1:
        events = [event for event in events if event.__name__ != "Created" or event not in created]
    return events


def data_field_hints(event_class: type) -> dict[str, Any]:
    """The fields ``event_document`` puts in ``data``, with their types, in declaration order."""
    hints = typing.get_type_hints(event_class)
    skipped = set(PROVENANCE_FIELDS) | set(EVENT_ENVELOPE_FIELDS)
    return {field.name: hints[field.name] for field in dataclasses.fields(event_class) if field.name not in skipped}


def data_schema(event_class: type) -> dict[str, Any]:
    """The JSON Schema of an event's ``data``: every field required (null where it may be None),
    no other property."""
    name = event_class.__qualname__
    hints = data_field_hints(event_class)
    return {
        "$schema": DIALECT,
        "title": f"{name} data",
        "type": "object",
        "properties": {field: json_schema_of(hint, f"{name}.{field}") for field, hint in hints.items()},
        "required": list(hints),
        "additionalProperties": False,
    }


def description_of(event_class: type, aggregate: type) -> str:
    """The first paragraph of the docstring written on the event class (not its base's, nor the
    signature ``dataclass`` writes in place of a missing one), else a sentence from its name."""
    for klass in event_class.__mro__:
        if klass.__name__ != event_class.__name__:  # past the class as written (the library may redefine it)
            break
        doc = klass.__dict__.get("__doc__")
        if doc and not doc.startswith(f"{klass.__name__}("):
            paragraph = doc.strip().split("\n\n")[0]
            return " ".join(paragraph.split()).replace("``", "`")
    return f"{words_of(aggregate.__name__).capitalize()}: {words_of(event_class.__name__)}."


def words_of(name: str) -> str:
    """A class name in lower-case words: "NoticeServed" is "notice served"."""
    return " ".join(re.findall("[A-Z][a-z0-9]*", name)).lower()


@dataclass(frozen=True)
class EventType:
    type: str  # as the feed's ``type``: the event class's qualified name
    version: int  # the event class's ``class_version``; 1 when it has none
    aggregate: str
    description: str
    deprecated: bool
    data_schema: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def event_type_of(aggregate: type, event_class: type) -> EventType:
    """One entry. A retired event class (kept to read the events stored under it) says so with a
    class attribute ``deprecated``: a sentence on what replaced it, put before its description."""
    deprecated = getattr(event_class, "deprecated", None)
    description = description_of(event_class, aggregate)
    return EventType(
        type=event_class.__qualname__,
        version=getattr(event_class, "class_version", 1),
        aggregate=aggregate.__name__,
        description=f"Deprecated: {deprecated} {description}" if deprecated else description,
        deprecated=bool(deprecated),
        data_schema=data_schema(event_class),
    )


# ---------------------------------------------------------------------------- the envelope
def envelope_schema(event_classes: Sequence[type]) -> dict[str, Any]:
    """The schema of an event as the feed publishes it, around its ``data``. The provenance
    fields' schemas are mapped from the events' own hints (null where an event has none)."""
    provenance: dict[str, Any] = {}
    for field in PROVENANCE_FIELDS:
        hints = [typing.get_type_hints(event_class).get(field) for event_class in event_classes]
        if any(hint is None for hint in hints):
            hints = [hint for hint in hints if hint is not None] + [type(None)]
        provenance[field] = json_schema_of(functools.reduce(operator.or_, dict.fromkeys(hints)), f"envelope.{field}")
    properties: dict[str, Any] = {
        "position": {"type": "integer", "minimum": 1, "description": "The event's place in the global log"},
        "stream_id": {"type": "string", "format": "uuid", "description": "The id of the event's aggregate"},
        "version": {"type": "integer", "minimum": 1, "description": "The event's place in its stream, from 1"},
        "type": {"type": "string", "pattern": TYPE_PATTERN, "description": "A type of this catalogue"},
        "effective_on": {**provenance["effective_on"], "description": "When it takes effect in the world"},
        "recorded_at": {"type": "string", "format": "date-time", "description": "When it was recorded (UTC)"},
        "actor": {**provenance["actor"], "description": "Who recorded it"},
        "reason": {**provenance["reason"], "description": "Why"},
        "evidence": {**provenance["evidence"], "description": "On what evidence"},
        "approval_ref": {**provenance["approval_ref"], "description": "The approval it was recorded on"},
        "hash": {
            "type": ["string", "null"],
            "pattern": HASH_PATTERN,
            "description": "Its SHA-256 in the hash chain over the log (hex); null for an event stored before it",
        },
        "data": {"type": "object", "description": "The event's own fields: the schema of its type's data_schema"},
    }
    return {
        "$schema": DIALECT,
        "title": "An event as the feed publishes it",
        "type": "object",
        "properties": properties,
        "required": list(properties),
    }


def document_schema(entry: EventType, envelope: Mapping[str, Any]) -> dict[str, Any]:
    """One whole event of type ``entry`` as the feed publishes it: the envelope, its ``type``,
    and its ``data``. For checking events (the tests check every event they store)."""
    data = {key: value for key, value in entry.data_schema.items() if key != "$schema"}
    properties = {**envelope["properties"], "type": {"const": entry.type}, "data": data}
    return {**envelope, "title": entry.type, "properties": properties}


# ----------------------------------------------------------------------------- the catalogue
@dataclass(frozen=True)
class Catalogue:
    items: tuple[EventType, ...]  # sorted by type
    envelope_schema: dict[str, Any]
    by_type: dict[str, EventType] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_type", {entry.type: entry for entry in self.items})

    def get(self, name: str) -> EventType | None:
        return self.by_type.get(name)

    def as_dict(self) -> dict[str, Any]:
        return {"items": [entry.as_dict() for entry in self.items], "envelope_schema": self.envelope_schema}


@functools.cache
def catalogue() -> Catalogue:
    """The catalogue, built once per process. Treat what it answers as read-only."""
    pairs = [(aggregate, event) for aggregate in aggregate_classes() for event in recorded_event_classes(aggregate)]
    items = sorted((event_type_of(aggregate, event) for aggregate, event in pairs), key=lambda entry: entry.type)
    names = [entry.type for entry in items]
    if len(set(names)) != len(names):
        raise UnpublishableType(f"two event classes publish one type: {sorted(n for n in names if names.count(n) > 1)}")
    return Catalogue(tuple(items), envelope_schema([event for _, event in pairs]))
