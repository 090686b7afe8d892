"""The public event catalogue, ``GET /api/v1/event-types`` (issue 16): over HTTP, and checked
against what the service stores: every event of the demo's feed, every event the whole test
suite stores (tests/event_conformance.py, a plugin that fails the test that stored a
non-conforming event; proven here to fail, in a run of its own under pytest-xdist)."""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent
from jsonschema import Draft202012Validator

from demo import load_demo
from domain.collaboration import Collaboration
from service.application import Caller, CollaborationRecords
from service.event_catalogue import catalogue
from service.persistence import persistence_environment
from service.queries import RecordQueries
from tests.event_conformance import problems_of, stored_items
from tests.integration import http_support
from tests.integration.http_support import (
    WHEN,
    Http,
    assert_problem,
    benefit_write_requests,
    identify_benefit,
    write_requests,
)

pytest_plugins = ("pytester",)
http, http_any = http_support.http, http_support.http_any  # the fixtures
ROOT = Path(__file__).resolve().parents[2]
ADMIN = Caller("Catalogue tester (admin)")


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def errors_of(item: dict[str, Any], envelope: Draft202012Validator, data: Draft202012Validator) -> list[str]:
    return [error.message for error in [*envelope.iter_errors(item), *data.iter_errors(item["data"])]]


# ------------------------------------------------------------------------------------ demo
@pytest.fixture
def demo_records(memory_url: str) -> Iterator[CollaborationRecords]:
    records = CollaborationRecords(env=persistence_environment(memory_url))
    load_demo(records)
    yield records
    records.close()


def test_every_event_of_the_demo_validates_against_its_published_schema(demo_records: CollaborationRecords) -> None:
    feed = RecordQueries(demo_records).feed(after=0, limit=10_000)
    assert len(feed) == demo_records.log_size() > 50
    envelope = validator(catalogue().envelope_schema)
    for item in feed:
        entry = catalogue().get(item["type"])
        assert entry is not None, item["type"]
        assert errors_of(item, envelope, validator(entry.data_schema)) == [], item
        assert problems_of(item) == [], item  # the whole-suite check's own validator agrees
    assert len({item["type"] for item in feed}) >= 20  # all three aggregates, most of their types
    assert {item["type"].split(".")[0] for item in feed} == {"Collaboration", "ExitCase", "Benefit"}


def test_the_whole_suite_check_reads_what_the_feed_publishes(demo_records: CollaborationRecords) -> None:
    """The check reads stored events as the feed does: the same documents, hashes included."""
    feed = RecordQueries(demo_records).feed(after=0, limit=10_000)
    assert [item for _, item in stored_items(demo_records, 0)] == feed
    assert [item for _, item in stored_items(demo_records, 40)] == feed[40:]


# ------------------------------------------------------------------------------------ HTTP
def test_the_catalogue_lists_every_type_with_its_version_and_schemas(http: Http) -> None:
    auditor = http.token("auditor")
    response = http.get("/api/v1/event-types", auditor)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == {"items", "envelope_schema"}
    types = [item["type"] for item in body["items"]]
    assert types == sorted(types) and len(types) == len(set(types)) == 35
    for item in body["items"]:
        assert set(item) == {"type", "version", "aggregate", "description", "deprecated", "data_schema"}
        assert item["type"].startswith(f"{item['aggregate']}.")
        assert item["version"] >= 1 and item["description"] and item["deprecated"] is False
        Draft202012Validator.check_schema(item["data_schema"])
        assert item["data_schema"]["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(body["envelope_schema"])
    assert {"position", "stream_id", "version", "type", "recorded_at", "hash", "data"} <= set(
        body["envelope_schema"]["required"]
    )
    versions = {item["type"]: item["version"] for item in body["items"]}
    assert versions["ExitCase.SettlementAgreed"] == 2 and versions["Collaboration.ReviewHeld"] == 1


def test_one_type(http: Http) -> None:
    response = http.get("/api/v1/event-types/Collaboration.ReviewHeld", http.token("force", "dorset"))
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "type": "Collaboration.ReviewHeld",
        "version": 1,
        "aggregate": "Collaboration",
        "description": "Collaboration: review held.",
        "deprecated": False,
        "data_schema": {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "Collaboration.ReviewHeld data",
            "type": "object",
            "properties": {"outcome": {"type": "string"}},
            "required": ["outcome"],
            "additionalProperties": False,
        },
    }
    listed = http.get("/api/v1/event-types").get_json()["items"]
    for item in listed:
        assert http.get(f"/api/v1/event-types/{item['type']}").get_json() == item


@pytest.mark.parametrize(
    "name", ["Collaboration.Nothing", "ReviewHeld", "collaboration.reviewheld", "Collaboration.Event"]
)
def test_an_unknown_type_is_a_404_problem(http: Http, name: str) -> None:
    problem = assert_problem(http.get(f"/api/v1/event-types/{name}"), 404, "not-found")
    assert name in problem["detail"]


@pytest.mark.parametrize("path", ["/api/v1/event-types", "/api/v1/event-types/Collaboration.ReviewHeld"])
def test_reading_the_catalogue_needs_a_token(http: Http, path: str) -> None:
    assert_problem(http.get(path, token=None), 401, "unauthenticated")
    assert_problem(http.get(path, token="not-a-token"), 401)


def test_the_catalogue_is_in_the_openapi_document(http: Http) -> None:
    spec = http.get("/api/v1/openapi.json", token=None).get_json()
    listing = spec["paths"]["/api/v1/event-types"]["get"]
    assert listing["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/EventCatalogue"
    }
    one = spec["paths"]["/api/v1/event-types/{type}"]
    assert "404" in one["get"]["responses"]
    [parameter] = one["parameters"]
    assert parameter["schema"]["enum"] == [entry.type for entry in catalogue().items]
    assert set(spec["components"]["schemas"]["EventType"]["required"]) == {
        "type", "version", "aggregate", "description", "deprecated", "data_schema"
    }  # fmt: skip


def record_more_types(http: Http) -> None:
    """Writes, after the demo, the types the demo does not record (but an exit case's reopening)."""
    collaboration_id = http.establish()["id"]
    function_id = http.add_function(collaboration_id)
    writes = write_requests(collaboration_id, function_id)
    for name in ("parties", "budgets", "exit-terms", "assets", "contracts", "withdrawal-notices", "withdrawals"):
        path, body = writes[name]
        response = http.post(path, {**WHEN, **body})
        assert response.status_code == 201, (name, response.get_json())
    benefit_id = identify_benefit(http, collaboration_id)
    benefit_writes = benefit_write_requests(collaboration_id, benefit_id)
    for name in ("benefits/target", "benefits/baseline", "benefits/definition", "benefits/reopening"):
        path, body = benefit_writes[name]
        response = http.post(path, {**WHEN, **body})
        assert response.status_code == 201, (name, response.get_json())


def test_every_event_the_feed_publishes_validates_against_the_schemas_served(http_any: Http) -> None:
    """As a consumer would check it: the feed read over HTTP, the schemas from the catalogue's
    answer, on SQLite and PostgreSQL."""
    load_demo(http_any.app.extensions["records"])
    record_more_types(http_any)
    served = http_any.get("/api/v1/event-types").get_json()
    envelope = validator(served["envelope_schema"])
    data = {item["type"]: validator(item["data_schema"]) for item in served["items"]}
    seen: set[str] = set()
    after = 0
    while True:
        page = http_any.get(f"/api/v1/events?after={after}&limit=100").get_json()
        for item in page["items"]:
            assert item["type"] in data, item["type"]
            assert errors_of(item, envelope, data[item["type"]]) == [], item
            seen.add(item["type"])
        if page["next_after"] == after:
            break
        after = page["next_after"]
    assert after == http_any.log_size()
    assert set(data) - seen == {"ExitCase.Reopened"}


# ---------------------------------------------------------------------------- versions
def test_an_event_stored_under_an_earlier_version_reads_in_the_current_shape(memory_url: str) -> None:
    """The stability promise: an event stored under version 1 of a type (a joint asset, before
    ``function_id``) is upcast as it is read, so the feed shows it in the shape of the version
    the catalogue publishes, and it validates against that version's schema."""
    assert catalogue().get("Collaboration.JointAssetRegistered").version == 2
    records = CollaborationRecords(env=persistence_environment(memory_url))
    try:
        collaboration_id = records.establish_collaboration(
            caller=ADMIN, name="Alliance", purpose="Pool", parties=["dorset", "devon-cornwall"], lead_force="dorset",
            effective_on=date(2015, 4, 1), reason="Agreed",
        ).result["id"]  # fmt: skip
        mapper = records.mapper
        as_it_stores = mapper.to_stored_event

        def as_version_1(event: Any) -> StoredEvent:
            stored = as_it_stores(event)
            if not isinstance(event, Collaboration.JointAssetRegistered):
                return stored
            state = mapper.transcoder.decode(stored.state)
            assert state.pop("class_version") == 2
            del state["function_id"]
            return dataclasses.replace(stored, state=mapper.transcoder.encode(state))

        mapper.to_stored_event = as_version_1  # type: ignore[method-assign]
        try:
            records.register_asset(
                collaboration_id, caller=ADMIN, name="HQ", cost="3000000.00", acquired_on=date(2014, 4, 1),
                useful_life_months=60, funded_shares={"dorset": "0.6", "devon-cornwall": "0.4"},
                effective_on=date(2015, 4, 1), reason="Registered",
            )  # fmt: skip
        finally:
            del mapper.to_stored_event
        [stored] = records.recorder.select_notifications(start=2, limit=1)
        assert not {"class_version", "function_id"} & set(mapper.transcoder.decode(stored.state))  # as version 1

        [item] = RecordQueries(records).feed(after=1, limit=10)
        assert item["type"] == "Collaboration.JointAssetRegistered"
        assert item["data"]["function_id"] is None  # the upcaster's value
        assert problems_of(item) == []
    finally:
        records.close()


# ------------------------------------------------------------- the whole-suite check can fail
@pytest.mark.unpublished_events("stores a non-conforming event on purpose, to find it")
def test_a_stored_event_that_does_not_conform_is_found(memory_url: str) -> None:
    """What the whole-suite check finds in a store holding an event its command would never
    have made (a review whose outcome is a number)."""
    records = CollaborationRecords(env=persistence_environment(memory_url))
    try:
        written = records.establish_collaboration(
            caller=ADMIN, name="Alliance", purpose="Pool", parties=["dorset", "devon-cornwall"], lead_force="dorset",
            effective_on=date(2015, 4, 1), reason="Agreed",
        )  # fmt: skip
        collaboration = records.collaboration(written.result["id"])
        collaboration.trigger_event(
            Collaboration.ReviewHeld, outcome=42, effective_on=date(2016, 4, 1), actor="Tester", reason="Review",
            evidence=None, approval_ref=None,
        )  # fmt: skip
        records.save(collaboration)
        found = {position: problems_of(item) for position, item in stored_items(records, 0)}
        assert found == {1: [], 2: ["$.data.outcome: 42 is not of type 'string'"]}
    finally:
        records.close()


INNER_TESTS = """
    from datetime import date

    import pytest

    from domain.collaboration import Collaboration
    from service.application import Caller, CollaborationRecords
    from service.persistence import persistence_environment

    ON = {"effective_on": date(2015, 4, 1), "reason": "Agreed"}


    @pytest.fixture
    def records():
        records = CollaborationRecords(env=persistence_environment("memory://"))
        yield records
        records.close()


    def establish(records):
        return records.establish_collaboration(
            caller=Caller("Tester"), name="Alliance", purpose="Pool", parties=["dorset", "devon-cornwall"],
            lead_force="dorset", **ON,
        ).result["id"]


    def review(records, collaboration_id, outcome):
        collaboration = records.collaboration(collaboration_id)
        collaboration.trigger_event(
            Collaboration.ReviewHeld, outcome=outcome, actor="Tester", evidence=None, approval_ref=None, **ON
        )
        records.save(collaboration)


    def test_conforming(records):
        records.hold_review(establish(records), caller=Caller("Tester"), outcome="Continue", **ON)


    def test_a_review_whose_outcome_is_a_number(records):
        review(records, establish(records), 42)


    def test_closed_within_the_test():
        records = CollaborationRecords(env=persistence_environment("memory://"))
        review(records, establish(records), ["not", "text"])
        records.close()


    @pytest.mark.unpublished_events("on purpose")
    def test_marked(records):
        review(records, establish(records), 42)
"""


def test_the_whole_suite_check_fails_the_test_that_stored_a_non_conforming_event(pytester: pytest.Pytester) -> None:
    """Run in a pytest of its own, under pytest-xdist, with the plugin as tests/conftest.py registers it."""
    pytester.makeconftest(
        f"""
        import sys

        sys.path.insert(0, {str(ROOT)!r})

        from tests.event_conformance import EventConformance


        def pytest_configure(config):
            config.pluginmanager.register(EventConformance(), "event-conformance")
        """
    )
    pytester.makepyfile(test_inner=textwrap.dedent(INNER_TESTS))
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", timeout=300)
    result.assert_outcomes(passed=3, failed=1, errors=1)  # closed within the test: passed, then an error
    result.stdout.fnmatch_lines(
        [
            "*FAILED test_inner.py::test_a_review_whose_outcome_is_a_number*",
            "*ERROR test_inner.py::test_closed_within_the_test*",
        ]
    )
    output = result.stdout.str()
    assert "1 stored event(s) do not conform to the published event catalogue" in output
    assert "(Collaboration.ReviewHeld): $.data.outcome: 42 is not of type 'string'" in output
    assert "$.data.outcome: ['not', 'text'] is not of type 'string'" in output
    assert "event catalogue: " in output and " stored events checked" in output  # the workers' counts, summed
