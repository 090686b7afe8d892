"""The public event catalogue (service/event_catalogue.py): the mapper from type hints to JSON
Schema, which events it lists, their versions and descriptions, and that the schemas describe
the documents ``event_document`` makes of the domain's own events. The catalogue over HTTP, the
demo's feed and the check of every event the test suite stores: tests/integration/test_event_catalogue.py."""

from __future__ import annotations

import ast
import dataclasses
import enum
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, TypedDict
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate
from jsonschema import Draft202012Validator

from domain.benefit import Benefit
from domain.collaboration import Collaboration
from domain.exit_case import ExitCase
from domain.values import Money, Provenance, Share
from projections.event_documents import event_document, event_type
from service.event_catalogue import (
    DECIMAL_PATTERN,
    UnpublishableType,
    aggregate_classes,
    catalogue,
    data_schema,
    document_schema,
    event_type_of,
    json_schema_of,
    recorded_event_classes,
)
from tests.event_conformance import problems_of

ROOT = Path(__file__).resolve().parents[2]
VERSIONED = {
    "Collaboration.JointAssetRegistered": 2,
    "Collaboration.FunctionDecoupled": 2,
    "ExitCase.SettlementAgreed": 2,
    "Benefit.Identified": 2,
    "Benefit.Defined": 2,
}


# ------------------------------------------------------------------------------ the mapper
class Line(TypedDict):
    head: str
    amount: Decimal
    note: str | None


class Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Inner:
    value: int


@pytest.mark.parametrize(
    ("hint", "schema"),
    [
        (str, {"type": "string"}),
        (int, {"type": "integer"}),
        (bool, {"type": "boolean"}),
        (Decimal, {"type": "string", "pattern": DECIMAL_PATTERN}),
        (Money, {"type": "string", "pattern": DECIMAL_PATTERN}),
        (Share, {"type": "string", "pattern": DECIMAL_PATTERN}),
        (date, {"type": "string", "format": "date"}),
        (datetime, {"type": "string", "format": "date-time"}),
        (UUID, {"type": "string", "format": "uuid"}),
        (str | None, {"type": ["string", "null"]}),
        (date | None, {"type": ["string", "null"], "format": "date"}),
        (Decimal | None, {"type": ["string", "null"], "pattern": DECIMAL_PATTERN}),
        (list[str], {"type": "array", "items": {"type": "string"}}),
        (Sequence[int], {"type": "array", "items": {"type": "integer"}}),
        (tuple[date, ...], {"type": "array", "items": {"type": "string", "format": "date"}}),
        (
            tuple[str, int],
            {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": False, "minItems": 2},
        ),
        (
            dict[str, Decimal],
            {"type": "object", "additionalProperties": {"type": "string", "pattern": DECIMAL_PATTERN}},
        ),
        (
            Mapping[str, list[str]],
            {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        ),
        (Literal["operational", "enabling"], {"enum": ["operational", "enabling"]}),
        (
            Line,
            {
                "type": "object",
                "properties": {
                    "head": {"type": "string"},
                    "amount": {"type": "string", "pattern": DECIMAL_PATTERN},
                    "note": {"type": ["string", "null"]},
                },
                "required": ["head", "amount", "note"],
                "additionalProperties": False,
            },
        ),
        (list[Line] | None, {"anyOf": [{"type": "array", "items": json_schema_of(Line)}, {"type": "null"}]}),
        (str | int | None, {"type": ["string", "integer", "null"]}),
        (str | Decimal, {"anyOf": [{"type": "string"}, json_schema_of(Decimal)]}),
        (Decimal | date, {"anyOf": [json_schema_of(Decimal), json_schema_of(date)]}),
    ],
    ids=repr,
)
def test_the_mapper_writes_the_json_jsonable_makes(hint: Any, schema: dict[str, Any]) -> None:
    assert json_schema_of(hint) == schema
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize(
    "hint",
    [Any, dict, list, float, dict[int, str], tuple[()], Colour, Inner, Literal[1.5], object, list[Any]],
    ids=repr,
)
def test_a_type_the_mapper_does_not_know_is_refused_not_published_as_anything(hint: Any) -> None:
    """An Enum or a dataclass is refused too: ``jsonable`` writes no JSON of its own for them, so a
    schema would describe something the feed does not send."""
    with pytest.raises(UnpublishableType, match=r"Thing\.field(\[\])?: no JSON Schema for"):
        json_schema_of(hint, "Thing.field")


def test_an_event_field_of_an_unknown_type_fails_its_schema_loudly() -> None:
    class Odd(Aggregate):
        class Happened(Aggregate.Event):
            when: float

    with pytest.raises(UnpublishableType, match=r"Odd\.Happened\.when"):
        data_schema(Odd.Happened)


# ------------------------------------------------------------------------------ the events
def test_the_aggregates_are_found_in_the_domain() -> None:
    assert set(aggregate_classes()) == {Collaboration, ExitCase, Benefit}


def recorded_in_source() -> set[str]:
    """``Aggregate.Event`` names that the domain's commands trigger or create with, read from its
    source: ``self.trigger_event(self.X, ...)`` and ``cls._create(cls.X, ...)``."""
    found: set[str] = set()
    for path in (ROOT / "domain").glob("*.py"):
        for aggregate in ast.parse(path.read_text()).body:
            if not isinstance(aggregate, ast.ClassDef):
                continue
            for node in ast.walk(aggregate):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("trigger_event", "_create")
                    and node.args
                    and isinstance(node.args[0], ast.Attribute)
                ):
                    found.add(f"{aggregate.name}.{node.args[0].attr}")
    return found


def test_the_catalogue_lists_exactly_the_events_the_domain_records() -> None:
    """Found on the aggregate classes; checked here against the commands in the domain's source."""
    listed = {entry.type for entry in catalogue().items}
    assert listed == recorded_in_source()
    assert len(listed) == 35
    assert "Collaboration.Event" not in listed and "Collaboration.Created" not in listed


def test_types_are_the_strings_the_feed_publishes() -> None:
    provenance = Provenance(date(2012, 4, 1), "Tester", "Agreed")
    collaboration = Collaboration.establish(
        name="Alliance", purpose="Pool services", parties=["dorset", "devon-cornwall"], lead_force="dorset",
        provenance=provenance,
    )  # fmt: skip
    collaboration.hold_review(outcome="Continue", provenance=provenance)
    events = collaboration.collect_events()
    assert [event_type(event) for event in events] == ["Collaboration.Established", "Collaboration.ReviewHeld"]
    assert all(catalogue().get(event_type(event)) is not None for event in events)


def test_each_type_publishes_its_class_version_or_1() -> None:
    for entry in catalogue().items:
        assert entry.version == VERSIONED.get(entry.type, 1), entry.type
    for aggregate in aggregate_classes():
        for event_class in recorded_event_classes(aggregate):
            assert catalogue().get(event_class.__qualname__).version == getattr(event_class, "class_version", 1)


def test_every_data_schema_is_closed_and_requires_every_field() -> None:
    for entry in catalogue().items:
        schema = entry.data_schema
        Draft202012Validator.check_schema(schema)
        assert schema["additionalProperties"] is False, entry.type
        assert schema["required"] == list(schema["properties"]), entry.type
        assert not {"effective_on", "actor", "reason", "originator_id", "timestamp"} & set(schema["properties"])
    Draft202012Validator.check_schema(catalogue().envelope_schema)


def test_the_schemas_say_what_the_domain_fields_are() -> None:
    settlement = catalogue().get("ExitCase.SettlementAgreed").data_schema["properties"]
    assert settlement["amount"] == {"type": "string", "pattern": DECIMAL_PATTERN}
    assert settlement["instalments"]["items"]["properties"]["due_on"] == {"type": "string", "format": "date"}
    assert settlement["lines"]["items"]["required"] == ["head", "amount", "description", "evidence"]
    asset = catalogue().get("Collaboration.JointAssetRegistered").data_schema["properties"]
    assert asset["funded_shares"]["additionalProperties"]["pattern"] == DECIMAL_PATTERN
    assert asset["function_id"] == {"type": ["string", "null"]}
    assert catalogue().get("Collaboration.AgreementTerminated").data_schema["properties"] == {}
    envelope = catalogue().envelope_schema["properties"]
    assert envelope["effective_on"]["type"] == "string" and envelope["evidence"]["type"] == ["string", "null"]


def test_a_description_is_the_docstring_written_on_the_event_or_a_sentence_from_its_name() -> None:
    assert catalogue().get("Collaboration.DirectionGiven").description == (
        "An s23G direction by the Home Secretary: moves the exit date of the live notice(s)."
    )
    assert (
        catalogue()
        .get("Collaboration.NoticeWithdrawn")
        .description.startswith(
            "`status` is the agreement's status afterwards (`notice_served` while another party's notice is still live)"
        )
    )
    assert catalogue().get("ExitCase.ClaimLodged").description == "Exit case: claim lodged."
    assert all(entry.description and not entry.deprecated for entry in catalogue().items)


def test_the_library_default_created_event_is_listed_only_where_the_aggregate_has_no_other() -> None:
    class Plain(Aggregate):
        class Noted(Aggregate.Event):
            """Something was noted."""

            text: str

    class Named(Aggregate):
        class Begun(Aggregate.Created):
            title: str

        def __init__(self, title: str) -> None:
            self.title = title

    assert [event.__name__ for event in recorded_event_classes(Plain)] == ["Noted", "Created"]
    assert [event.__name__ for event in recorded_event_classes(Named)] == ["Begun"]


def test_a_retired_event_class_is_listed_as_deprecated() -> None:
    class Ledger(Aggregate):
        class Posted(Aggregate.Event):
            """A posting."""

            deprecated = "replaced by Ledger.Entered (version 3 of the service)."
            amount: Decimal

    entry = event_type_of(Ledger, Ledger.Posted)
    assert entry.deprecated is True
    assert entry.description == "Deprecated: replaced by Ledger.Entered (version 3 of the service). A posting."
    assert entry.data_schema["required"] == ["amount"]


def test_the_catalogue_is_built_once() -> None:
    assert catalogue() is catalogue()


# -------------------------------------------------------------- the domain's events conform
def a_document(event: Any, position: int = 1) -> dict[str, Any]:
    return {**event_document(event), "position": position, "hash": "ab" * 32}


def test_events_the_domain_makes_conform_to_their_schemas() -> None:
    """Made by the aggregates' commands, without a store (the store's events: the integration tests)."""
    on = Provenance(date(2015, 4, 1), "Tester", "Agreed", approval_ref="AB-1")
    alliance = Collaboration.establish(
        name="Alliance", purpose="Pool", parties=["dorset", "devon-cornwall"], lead_force="dorset", provenance=on
    )
    function_id = alliance.add_function(
        name="ICT", kind="enabling", host_force="dorset", annual_budget="1000000.00", provenance=on
    )
    alliance.agree_apportionment(
        function_id=None, basis="fixed_ratio", shares={"dorset": "0.6", "devon-cornwall": "0.4"}, provenance=on
    )
    alliance.agree_exit_terms(
        notice_period_months=12, stranded_cost_rate="0.25", stranded_cost_months=6, caps={"H4": "10.00"}, provenance=on
    )
    alliance.register_asset(
        name="HQ", cost="3000000.00", acquired_on=date(2014, 4, 1), useful_life_months=60,
        funded_shares={"dorset": "0.6", "devon-cornwall": "0.4"}, provenance=on, function_id=function_id,
    )  # fmt: skip
    alliance.decouple_function(function_id=function_id, decided_by="Board", rationale="Local", provenance=on)
    case = ExitCase.open(
        collaboration_id=alliance.id, trigger="decoupling", function_id=function_id,
        parties=["dorset", "devon-cornwall"], provenance=on,
    )  # fmt: skip
    case.lodge_claim(
        claimant="dorset", respondent="devon-cornwall",
        lines=[{"head": "H2", "amount": "100.00", "description": "Staff"}], provenance=on,
    )  # fmt: skip
    case.agree_settlement(
        payer="devon-cornwall", payee="dorset", amount="100.00", write_offs="0.00",
        instalments=[{"due_on": date(2015, 6, 1), "amount": "100.00"}], provenance=on,
    )  # fmt: skip
    events = [*alliance.collect_events(), *case.collect_events()]
    assert len(events) == 9
    for position, event in enumerate(events, start=1):
        assert problems_of(a_document(event, position)) == [], event_type(event)


# --------------------------------------------------------------- the check finds what is wrong
def a_review(**data: Any) -> dict[str, Any]:
    return {
        "position": 7,
        "stream_id": str(uuid4()),
        "version": 3,
        "type": "Collaboration.ReviewHeld",
        "effective_on": "2015-04-01",
        "recorded_at": "2026-01-02T03:04:05.123456Z",
        "actor": "Tester",
        "reason": "Annual review",
        "evidence": None,
        "approval_ref": None,
        "hash": "0f" * 32,
        "data": {"outcome": "Continue", **data},
    }


def test_a_conforming_document_has_no_problem() -> None:
    assert problems_of(a_review()) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"data": {"outcome": 42}}, "$.data.outcome: 42 is not of type 'string'"),
        ({"data": {}}, "$.data: 'outcome' is a required property"),
        ({"data": {"outcome": "Continue", "score": 3}}, "$.data: Additional properties are not allowed ('score'"),
        (
            {"type": "Collaboration.ReviewCancelled"},
            "'Collaboration.ReviewCancelled' is not a type the event catalogue",
        ),
        ({"effective_on": "2015-02-30"}, "$.effective_on: '2015-02-30' is not a 'date'"),
        ({"recorded_at": "yesterday"}, "$.recorded_at: 'yesterday' is not a 'date-time'"),
        ({"stream_id": "not-a-uuid"}, "$.stream_id: 'not-a-uuid' is not a 'uuid'"),
        ({"version": 0}, "$.version: 0 is less than the minimum of 1"),
        ({"hash": "ABC"}, "$.hash: 'ABC' does not match"),
        ({"reason": None}, "$.reason: None is not of type 'string'"),
    ],
    ids=lambda value: str(value)[:40],
)
def test_a_non_conforming_document_is_caught(change: dict[str, Any], problem: str) -> None:
    document = a_review()
    document.update(change)
    problems = problems_of(document)
    assert problems and problems[0].startswith(problem), problems


def test_money_must_be_a_decimal_string() -> None:
    document = {
        **a_review(),
        "type": "Collaboration.FunctionBudgetSet",
        "data": {"function_id": "f", "financial_year": "2019/20", "annual_budget": 10.5},
    }
    assert problems_of(document) == ["$.data.annual_budget: 10.5 is not of type 'string'"]
    for text, ok in (("10.50", True), ("-0.00", True), ("1E+3", False), ("01.00", False), (".5", False)):
        document["data"]["annual_budget"] = text
        assert (problems_of(document) == []) is ok, text


def test_a_document_schema_is_the_envelope_with_its_type_and_data() -> None:
    entry = catalogue().get("Collaboration.ReviewHeld")
    schema = document_schema(entry, catalogue().envelope_schema)
    assert schema["properties"]["type"] == {"const": "Collaboration.ReviewHeld"}
    assert schema["properties"]["data"]["properties"] == {"outcome": {"type": "string"}}
    assert "$schema" not in schema["properties"]["data"]
    Draft202012Validator.check_schema(schema)
