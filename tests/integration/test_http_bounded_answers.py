"""Answers whose size does not grow with the record (issue 15, points 3 and 5).

A write answers a compact document by default (its id and version, the ids it made, the fields of
constant size, links), the whole one with ``Prefer: return=representation``; an Idempotency-Key
replay gives the answer the first request got. A collaboration's history, an exit case's and a
force's exit-cost history come in pages with a cursor (``after``, ``next_after``, ``Link``), and
read only what the page needs. A collaboration's reviews and variations and a benefit's
measurements are previewed in their documents and listed whole, a page at a time, by resources
of their own."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

import pytest

from service.access import Caller
from service.application import CollaborationRecords
from service.documents import PREVIEW
from service.queries import FIRST_CHUNK, PROBES
from service.resources.benefits import schemas as benefit_schemas
from service.resources.collaborations import schemas as collaboration_schemas
from service.resources.exit_cases import schemas as case_schemas
from tests.integration import http_support
from tests.integration.exit_case_support import (
    CASE_WRITES,
    WM,
    Alliance,
    case_write_requests,
    open_case,
    posted,
    prepare_case,
    west_mercia_warwickshire,
)
from tests.integration.exit_case_support import alliance as exit_alliance
from tests.integration.exit_case_support import at as case_at
from tests.integration.http_support import (
    BENEFIT,
    BENEFIT_WRITES,
    PROBLEM_JSON,
    REPRESENTATION,
    WHEN,
    WRITES,
    Http,
    assert_problem,
    benefit_write_requests,
    identify_benefit,
    prepare,
    write_requests,
)
from tests.integration.test_webview import sign_in

http = http_support.http
http_any = http_support.http_any  # on SQLite and PostgreSQL

BASE = "/api/v1/collaborations"
CASES = "/api/v1/exit-cases"
BENEFITS = "/api/v1/benefits"
ADMIN = Caller("tester (admin)")
LINK = re.compile(r'^<([^>]+)>; rel="next"$')

# The fields of each compact document, and the ids each write adds to it.
COMPACT_COLLABORATION = {
    "id",
    "version",
    "name",
    "purpose",
    "status",
    "lead_force",
    "parties",
    "governance_body",
    "review_cycle_months",
    "established_on",
    "created_at",
    "modified_at",
    "terminated_on",
    "links",
}
COMPACT_EXIT_CASE = {
    "id",
    "version",
    "collaboration_id",
    "trigger",
    "force",
    "function_id",
    "function_name",
    "parties",
    "status",
    "opened_on",
    "closed_on",
    "created_at",
    "modified_at",
    "claimed",
    "assessed",
    "agreed",
    "written_off",
    "paid",
    "outstanding",
    "links",
}
COMPACT_BENEFIT = {
    "id",
    "version",
    "collaboration_id",
    "title",
    "category",
    "category_name",
    "sub_category",
    "sub_category_name",
    "pillar",
    "direction",
    "measure",
    "unit",
    "tolerance",
    "baseline",
    "target",
    "owner",
    "senior_responsible_owner",
    "function_id",
    "objective",
    "kind",
    "reference",
    "cash_releasing",
    "quantitative",
    "measurement_frequency",
    "confidence",
    "rag_override",
    "attribution",
    "parties",
    "stage",
    "stage_name",
    "status",
    "identified_on",
    "created_at",
    "modified_at",
    "links",
}
MADE_IDS = {
    "functions": {"function_id"},
    "assets": {"asset_id"},
    "contracts": {"contract_id"},
    "withdrawal-notices": {"earliest_exit_on"},
    "claims": {"claim_id"},
    "assessments": {"assessment_id"},
    "disputes": {"dispute_id"},
    "payments": {"payment_id"},
    "benefits/measurements": {"measurement_id"},
}
COMPACT_SCHEMAS = {
    "functions": collaboration_schemas.CompactFunctionAddedDocument,
    "assets": collaboration_schemas.CompactAssetRegisteredDocument,
    "contracts": collaboration_schemas.CompactContractCommittedDocument,
    "withdrawal-notices": collaboration_schemas.CompactNoticeServedDocument,
    "claims": case_schemas.CompactClaimLodgedDocument,
    "assessments": case_schemas.CompactAssessmentRecordedDocument,
    "disputes": case_schemas.CompactDisputeRaisedDocument,
    "payments": case_schemas.CompactPaymentRecordedDocument,
    "benefits/measurements": benefit_schemas.CompactMeasurementRecordedDocument,
}
# The lists a whole document has and a compact one never does.
GROWING_LISTS = {
    "functions",
    "apportionments",
    "exit_terms",
    "assets",
    "contracts",
    "reviews",
    "variations",
    "notices",
    "directions",
    "withdrawals",
    "by_head",
    "claims",
    "assessments",
    "disputes",
    "settlement",
    "payments",
    "realisation",
    "measurements",
    "baselines",
    "targets",
    "stages",
    "definitions",
    "link_history",
    "confidences",
    "profile",
    "profiles",
    "rag_history",
}


# ------------------------------------------------------------------------------- helpers
def assert_compact_answer(
    response: Any, fields: set[str], endpoint: str, self_path: str, default_schema: type
) -> dict[str, Any]:
    """A 201 with the compact document of ``fields`` and the ids the write made, its ETag,
    Location, ``Vary: Prefer`` and no Preference-Applied (nothing was asked)."""
    assert response.status_code == 201, response.get_json()
    answer = response.get_json()
    assert set(answer) == fields | MADE_IDS.get(endpoint, set()), set(answer) ^ fields
    assert not set(answer) & GROWING_LISTS
    assert COMPACT_SCHEMAS.get(endpoint, default_schema)().validate(answer) == {}
    assert response.headers["ETag"] == f'"{answer["version"]}"'
    assert answer["links"]["self"] == self_path.format(id=answer["id"])
    assert response.headers["Location"] == answer["links"]["self"]
    assert "Prefer" in response.headers["Vary"]
    assert "Preference-Applied" not in response.headers
    return answer


def same_fields_as_the_resource(http: Http, answer: dict[str, Any], fields: set[str], query: str = "") -> None:
    """The compact answer's fields are those of the resource's whole document at that version."""
    whole = http.get(f"{answer['links']['self']}{query}").get_json()
    assert whole["version"] == answer["version"]
    assert {name: answer[name] for name in fields} == {name: whole[name] for name in fields}


def walk(http: Http, path: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every page of a paginated list from ``path`` on, by its Link header: the items of all of
    them, and each page's answer. Checks that the Link and next_after agree on every page."""
    items: list[dict[str, Any]] = []
    pages: list[dict[str, Any]] = []
    while True:
        response = http.get(path)
        assert response.status_code == 200, response.get_json()
        page = response.get_json()
        pages.append(page)
        items += page["items"]
        if page["next_after"] is None:
            assert "Link" not in response.headers
            return items, pages
        [next_path] = LINK.findall(response.headers["Link"])
        assert f"after={page['next_after']}" in next_path
        path = next_path


def review_versions(items: list[dict[str, Any]]) -> list[int]:
    return [item["source_version"] for item in items]


# ------------------------------------------------------------------ compact answers: every write
@pytest.mark.parametrize("endpoint", WRITES)
def test_every_collaboration_write_answers_the_compact_document_by_default(http: Http, endpoint: str) -> None:
    collaboration = http.establish()
    function_id = http.add_function(collaboration["id"])
    if endpoint != "create":
        prepare(http, collaboration["id"], function_id, endpoint)
    path, body = write_requests(collaboration["id"], function_id)[endpoint]

    response = http.post(path, {**WHEN, **body})

    answer = assert_compact_answer(
        response, COMPACT_COLLABORATION, endpoint, BASE + "/{id}", collaboration_schemas.CompactCollaborationDocument
    )
    one = f"{BASE}/{answer['id']}"
    assert answer["links"] == {
        "self": one,
        "history": f"{one}/history",
        "reviews": f"{one}/reviews",
        "variations": f"{one}/variations",
    }
    same_fields_as_the_resource(http, answer, COMPACT_COLLABORATION, f"?version={answer['version']}")
    if endpoint == "functions":
        assert answer["function_id"] in {f["id"] for f in http.get(one).get_json()["functions"]}


@pytest.fixture
def exit_case(http: Http) -> tuple[Alliance, str]:
    """West Mercia's withdrawal case at version 2 (opened, assessed), and its alliance."""
    alliance = exit_alliance(http)
    case_id = open_case(http, alliance.id)["id"]
    posted(http, f"{CASES}/{case_id}/assessments", case_at("2020-01-31", assessor="A", recommended_amount="1.00"))
    return alliance, case_id


@pytest.mark.parametrize("endpoint", CASE_WRITES)
def test_every_exit_case_write_answers_the_compact_document_by_default(
    http: Http, exit_case: tuple[Alliance, str], endpoint: str
) -> None:
    prepare_case(http, *exit_case, endpoint)
    path, body = case_write_requests(*exit_case)[endpoint]

    response = http.post(path, case_at("2020-03-30", **body))

    answer = assert_compact_answer(
        response, COMPACT_EXIT_CASE, endpoint, CASES + "/{id}", case_schemas.CompactExitCaseDocument
    )
    assert answer["links"] == {
        "self": f"{CASES}/{answer['id']}",
        "history": f"{CASES}/{answer['id']}/history",
        "collaboration": f"{BASE}/{exit_case[0].id}",
    }
    same_fields_as_the_resource(http, answer, COMPACT_EXIT_CASE)


@pytest.mark.parametrize("endpoint", BENEFIT_WRITES)
def test_every_benefit_write_answers_the_compact_document_by_default(http: Http, endpoint: str) -> None:
    collaboration = http.establish()
    benefit_id = identify_benefit(http, collaboration["id"])
    path, body = benefit_write_requests(collaboration["id"], benefit_id)[endpoint]

    response = http.post(path, {**WHEN, **body})

    answer = assert_compact_answer(
        response, COMPACT_BENEFIT, endpoint, BENEFITS + "/{id}", benefit_schemas.CompactBenefitDocument
    )
    assert answer["links"] == {
        "self": f"{BENEFITS}/{answer['id']}",
        "history": f"{BASE}/{collaboration['id']}/history?kind=benefit",
        "measurements": f"{BENEFITS}/{answer['id']}/measurements",
        "collaboration": f"{BASE}/{collaboration['id']}",
    }
    same_fields_as_the_resource(http, answer, COMPACT_BENEFIT)


def test_the_compact_answer_is_the_same_size_after_1_and_after_300_reviews(http: Http) -> None:
    collaboration_id = http.establish()["id"]
    path = f"{BASE}/{collaboration_id}/reviews"
    first = http.post(path, {**WHEN, "outcome": "Review 1"})
    records: CollaborationRecords = http.app.extensions["records"]
    for number in range(2, 300):
        records.hold_review(
            collaboration_id, outcome=f"Review {number}", caller=ADMIN, effective_on=date(2012, 4, 1), reason="Held"
        )

    last = http.post(path, {**WHEN, "outcome": "Review 300"})

    assert (first.get_json()["version"], last.get_json()["version"]) == (2, 301)

    def normalised(response: Any) -> str:  # the version's digits and the time's, which say nothing of length
        return json.dumps({**response.get_json(), "version": 0, "modified_at": ""}, sort_keys=True)

    assert normalised(last) == normalised(first)
    assert len(last.get_data()) - len(first.get_data()) in (2, 2 + len(".000000"))  # "2" and "301"; microseconds
    whole = http.post(path, {**WHEN, "outcome": "Review 301"}, **REPRESENTATION).get_json()
    assert whole["reviews_total"] == 301 and len(whole["reviews"]) == PREVIEW
    assert review_versions(whole["reviews"]) == list(range(302 - PREVIEW + 1, 303))  # the newest, oldest first


# ------------------------------------------------------------------------------------ Prefer
def test_prefer_return_representation_answers_the_whole_document_and_says_so(http: Http) -> None:
    collaboration = http.establish()
    path = f"{BASE}/{collaboration['id']}/functions"
    body = {"name": "ICT", "kind": "enabling", "host_force": "west-mercia", "annual_budget": "10.00", **WHEN}

    response = http.post(path, body, Prefer="return=representation")

    assert response.status_code == 201, response.get_json()
    assert response.headers["Preference-Applied"] == "return=representation"
    assert "Prefer" in response.headers["Vary"]
    document = response.get_json()
    assert collaboration_schemas.FunctionAddedDocument().validate(document) == {}
    assert response.headers["ETag"] == f'"{document["version"]}"'
    assert response.headers["Location"] == f"{BASE}/{collaboration['id']}"
    # The whole document as a GET answers it, with the id the write made.
    assert document == {**http.get(response.headers["Location"]).get_json(), "function_id": document["function_id"]}


@pytest.mark.parametrize(
    ("prefer", "applied"),
    [
        ("return=minimal", "return=minimal"),
        ('RETURN = "Minimal"; ignored=param', "return=minimal"),
        ("respond-async, wait=10", None),  # no return preference: the default, nothing applied
        ("return=everything", None),  # an unknown value is ignored
        ('handling=lenient, foo="a, return=representation", return=minimal', "return=minimal"),
        ("return=minimal, return=representation", "return=minimal"),  # the first counts
        ("return", None),
        ("", None),
    ],
)
def test_return_minimal_or_any_other_preference_answers_the_compact_document(
    http: Http, prefer: str, applied: str | None
) -> None:
    collaboration = http.establish()
    response = http.post(f"{BASE}/{collaboration['id']}/reviews", {**WHEN, "outcome": "Held"}, Prefer=prefer)
    assert response.status_code == 201, response.get_json()
    assert set(response.get_json()) == COMPACT_COLLABORATION
    assert response.headers.get("Preference-Applied") == applied


def test_the_first_return_preference_of_several_prefer_headers_counts(http: Http) -> None:
    collaboration = http.establish()
    response = http.client.post(
        f"{BASE}/{collaboration['id']}/reviews",
        json={**WHEN, "outcome": "Held"},
        headers=[
            ("Authorization", f"Bearer {http.admin}"),
            ("Prefer", "respond-async"),
            ("Prefer", "return=representation"),
            ("Prefer", "return=minimal"),
        ],
    )
    assert response.status_code == 201
    assert response.headers["Preference-Applied"] == "return=representation"
    assert response.get_json()["reviews_total"] == 1


# ------------------------------------------------------------------------ idempotent replays
def stored_record(http: Http, key: str) -> dict[str, Any]:
    rows = http.app.extensions["records"].side_tables.execute(
        "SELECT result FROM {schema}idempotency_keys WHERE idempotency_key = ?", (key,)
    )
    return json.loads(rows[0]["result"])


def test_a_replay_answers_as_the_first_request_was_answered_whatever_it_prefers(http_any: Http) -> None:
    http = http_any
    collaboration = http.establish()
    path = f"{BASE}/{collaboration['id']}/reviews"
    body = {**WHEN, "outcome": "Held"}
    whole_first = http.post(path, body, **{"Idempotency-Key": "whole", **REPRESENTATION})
    compact_first = http.post(path, body, **{"Idempotency-Key": "compact"})
    assert stored_record(http, "whole")["answer"] == "representation"
    assert stored_record(http, "compact")["answer"] == "minimal"
    later = http.post(f"{BASE}/{collaboration['id']}/variations", {**WHEN, "clause": "1", "summary": "Later"})
    assert later.status_code == 201
    log_size = http.log_size()

    for first, key in ((whole_first, "whole"), (compact_first, "compact")):
        for prefer in (None, "return=minimal", "return=representation"):
            again = http.post(path, body, **{"Idempotency-Key": key, **({"Prefer": prefer} if prefer else {})})
            assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
            assert again.get_json() == first.get_json(), (key, prefer)  # as it stood then, the same kind
            assert again.headers["ETag"] == first.headers["ETag"]
            assert again.headers["Location"] == first.headers["Location"]
            assert "Prefer" in again.headers["Vary"]
            kind = "representation" if key == "whole" else "minimal"
            applied = f"return={kind}" if prefer == f"return={kind}" else None  # only what was asked and given
            assert again.headers.get("Preference-Applied") == applied, (key, prefer)
    assert "reviews_total" in whole_first.get_json() and set(compact_first.get_json()) == COMPACT_COLLABORATION
    assert http.log_size() == log_size


def test_a_key_recorded_before_answers_could_be_compact_replays_the_whole_document(http: Http) -> None:
    """A bounded record without ``answer`` was stored when every write answered the whole document."""
    collaboration = http.establish()
    path = f"{BASE}/{collaboration['id']}/reviews"
    body = {**WHEN, "outcome": "Held"}
    first = http.post(path, body, **{"Idempotency-Key": "old", **REPRESENTATION})
    record = stored_record(http, "old")
    del record["answer"]
    http.app.extensions["records"].side_tables.execute(
        "UPDATE {schema}idempotency_keys SET result = ? WHERE idempotency_key = ?",
        (json.dumps(record), "old"),
        commit=True,
    )

    again = http.post(path, body, **{"Idempotency-Key": "old"})

    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()


# --------------------------------------------------------------------------------- history
@pytest.fixture
def long_family(http: Http) -> str:
    """A collaboration whose history interleaves its own events, its exit case's and its benefits'."""
    alliance = exit_alliance(http)
    case_id = open_case(http, alliance.id)["id"]
    benefits = [identify_benefit(http, alliance.id) for _ in range(2)]
    for number in range(3):
        assert http.post(f"{alliance.one}/reviews", {**WHEN, "outcome": f"Review {number}"}).status_code == 201
        posted(http, f"{CASES}/{case_id}/disputes", case_at("2020-01-31", raised_by=WM, forum="court", summary="x"))
        for benefit_id in benefits:
            defined = http.post(f"{BENEFITS}/{benefit_id}/definition", {**WHEN, "owner": f"Owner {number}"})
            assert defined.status_code == 201, defined.get_json()
    return alliance.id


def test_history_pages_walked_to_the_end_are_the_whole_history_once_in_order(http: Http, long_family: str) -> None:
    path = f"{BASE}/{long_family}/history"
    whole = http.get(path)
    assert whole.get_json()["next_after"] is None and "Link" not in whole.headers  # small: one page
    everything = whole.get_json()["items"]
    assert {item["aggregate_type"] for item in everything} == {"Collaboration", "ExitCase", "Benefit"}
    assert len(everything) == 26

    items, pages = walk(http, f"{path}?limit=4")

    assert items == everything
    positions = [item["position"] for item in items]
    assert positions == sorted(set(positions))  # no duplicates, in log order
    assert all(len(page["items"]) == 4 for page in pages[:-1]) and 1 <= len(pages[-1]["items"]) <= 4
    assert [page["next_after"] for page in pages[:-1]] == [page["items"][-1]["position"] for page in pages[:-1]]
    assert collaboration_schemas.HistorySchema().validate(pages[0]) == {}
    # After the last event there is nothing: an empty last page.
    empty = http.get(f"{path}?after={positions[-1]}").get_json()
    assert empty == {"collaboration_id": long_family, "items": [], "next_after": None}


@pytest.mark.parametrize("query", ["kind=exit_case", "kind=benefit", "kind=collaboration", "upto_version=9"])
def test_history_pages_keep_the_kind_and_the_version_asked_for(http: Http, long_family: str, query: str) -> None:
    path = f"{BASE}/{long_family}/history?{query}"
    everything = http.get(path).get_json()["items"]
    assert everything

    items, pages = walk(http, f"{path}&limit=3")

    assert items == everything and len(pages) == -(-len(everything) // 3)
    if query == "upto_version=9":
        own = [item["version"] for item in items if item["aggregate_type"] == "Collaboration"]
        assert own == list(range(1, 10))
        assert items[-1]["aggregate_type"] == "Collaboration"  # nothing recorded after version 9


@pytest.mark.parametrize(
    "query",
    [
        "after=-1",
        "after=x",
        "after=1.5",
        "after=9223372036854775808",
        "limit=0",
        "limit=5001",
        "limit=-3",
        "limit=ten",
        "after=",
    ],
)
def test_a_bad_cursor_or_limit_is_a_422_problem(http: Http, query: str) -> None:
    collaboration = http.establish()
    one = f"{BASE}/{collaboration['id']}"
    problem = assert_problem(http.get(f"{one}/history?{query}"), 422, "validation-failed")
    assert set(problem["errors"]) <= {"after", "limit"} and problem["errors"]
    exit_cost = http.get(f"{one}/exit-cost-history?force={WM}&{query}")
    assert_problem(exit_cost, 422, "validation-failed")
    if "5001" not in query:  # the lists' pages are smaller: 1000 at most
        assert_problem(http.get(f"{one}/reviews?{query}"), 422, "validation-failed")
    assert_problem(http.get(f"{one}/variations?limit=1001"), 422, "validation-failed")


def test_the_csv_history_runs_from_after_to_the_end_and_takes_no_limit(http: Http, long_family: str) -> None:
    path = f"{BASE}/{long_family}/history"
    everything = http.get(path).get_json()["items"]
    middle = everything[10]["position"]
    csv_after = http.get(f"{path}?format=csv&after={middle}")
    assert csv_after.status_code == 200
    rows = csv_after.get_data(as_text=True).strip().splitlines()[1:]
    assert len(rows) == len(everything) - 11
    refused = http.get(f"{path}?format=csv&limit=10")
    assert refused.status_code == 422 and refused.mimetype == PROBLEM_JSON


@pytest.fixture
def counted_reads(http: Http, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """Counts what a history read reads: the events its chunks take (reads with a limit: the
    aggregate's own load reads none) and the versions whose chain rows it looks up (None: all)."""
    records: CollaborationRecords = http.app.extensions["records"]
    reads: dict[str, list[Any]] = {"events": [], "chain": []}
    events_get, stream_chain = records.events.get, records.side_tables.stream_chain

    def counting_get(*args: Any, **kwargs: Any) -> Iterator[Any]:
        events = list(events_get(*args, **kwargs))
        if kwargs.get("limit") is not None:
            reads["events"].append(len(events))
        return iter(events)

    def counting_chain(stream: Any, versions: Any = None) -> dict[int, tuple[int, str]]:
        reads["chain"].append(None if versions is None else len(versions))
        return stream_chain(stream, versions=versions)

    monkeypatch.setattr(records.events, "get", counting_get)
    monkeypatch.setattr(records.recorder, "stream_chain", counting_chain)
    return reads


def reviewed(http: Http, reviews: int) -> str:
    """A collaboration with ``reviews`` reviews after its establishment, recorded by the application."""
    collaboration_id = http.establish()["id"]
    records: CollaborationRecords = http.app.extensions["records"]
    for number in range(reviews):
        records.hold_review(
            collaboration_id, outcome=f"Review {number}", caller=ADMIN, effective_on=date(2013, 1, 1), reason="Held"
        )
    return collaboration_id


def test_upto_version_reads_only_the_events_up_to_it(http: Http, counted_reads: dict[str, list[Any]]) -> None:
    collaboration_id = reviewed(http, 700)
    counted_reads["events"].clear()
    counted_reads["chain"].clear()

    response = http.get(f"{BASE}/{collaboration_id}/history?upto_version=3")

    assert response.status_code == 200 and response.headers["ETag"] == '"3"'
    assert [item["version"] for item in response.get_json()["items"]] == [1, 2, 3]
    assert None not in counted_reads["chain"]  # never the stream's whole chain
    assert sum(counted_reads["chain"]) <= 4  # version 3's position, then the chunk's three
    assert sum(counted_reads["events"]) == 3


def test_a_page_deep_in_a_long_history_reads_about_a_page(http: Http, counted_reads: dict[str, list[Any]]) -> None:
    collaboration_id = reviewed(http, 700)
    path = f"{BASE}/{collaboration_id}/history"
    whole = http.get(f"{path}?limit=5000").get_json()["items"]
    assert len(whole) == 701
    counted_reads["events"].clear()
    counted_reads["chain"].clear()

    page = http.get(f"{path}?after={whole[599]['position']}&limit=10").get_json()

    assert page["items"] == whole[600:610] and page["next_after"] == whole[609]["position"]
    assert None not in counted_reads["chain"]
    assert max(counted_reads["chain"]) <= PROBES and sum(counted_reads["chain"]) <= 3 * PROBES + FIRST_CHUNK
    assert sum(counted_reads["events"]) <= FIRST_CHUNK  # a page of 10 (and the 11th) from one small chunk


# ------------------------------------------------------------------- reviews and variations
def test_the_document_previews_the_newest_reviews_and_variations_and_links_them_all(http: Http) -> None:
    collaboration = http.establish()
    one = f"{BASE}/{collaboration['id']}"
    for number in range(25):
        review = {**WHEN, "effective_on": f"2013-01-{number + 1:02d}", "outcome": f"R{number}"}
        held = http.post(f"{one}/reviews", review)
        assert held.status_code == 201
    for number in range(3):
        agreed = http.post(f"{one}/variations", {**WHEN, "clause": f"{number}", "summary": f"V{number}"})
        assert agreed.status_code == 201

    document = http.get(one).get_json()

    assert collaboration_schemas.CollaborationDocument().validate(document) == {}
    assert (document["reviews_total"], document["variations_total"]) == (25, 3)
    assert review_versions(document["reviews"]) == list(range(2 + 25 - PREVIEW, 27))  # the newest, oldest first
    assert [review["outcome"] for review in document["reviews"]][-1] == "R24"
    assert review_versions(document["variations"]) == [27, 28, 29]
    assert document["links"]["reviews"] == f"{one}/reviews"

    reviews, pages = walk(http, f"{document['links']['reviews']}?limit=10")
    assert review_versions(reviews) == list(range(2, 27)) and reviews[0]["outcome"] == "R0"
    assert [len(page["items"]) for page in pages] == [10, 10, 5]
    assert all(page["total"] == 25 and page["version"] == 29 for page in pages)
    assert collaboration_schemas.ReviewsPageDocument().validate(pages[0]) == {}
    first = http.get(f"{one}/reviews")
    assert first.headers["ETag"] == '"29"' and first.get_json()["next_after"] is None  # 100 by default: all
    assert first.get_json()["items"][-PREVIEW:] == document["reviews"]
    variations, _ = walk(http, f"{document['links']['variations']}?limit=2")
    assert variations == document["variations"]
    assert collaboration_schemas.VariationsPageDocument().validate(http.get(f"{one}/variations").get_json()) == {}


def test_the_reviews_answer_as_of_a_date_and_as_known_at_a_time(http: Http) -> None:
    collaboration = http.establish()
    one = f"{BASE}/{collaboration['id']}"
    known = None
    for number in range(6):
        held = http.post(f"{one}/reviews", {**WHEN, "effective_on": f"2013-0{number + 1}-01", "outcome": f"R{number}"})
        assert held.status_code == 201
        if number == 3:
            known = datetime.now(UTC).isoformat().replace("+00:00", "Z")

    as_of = http.get(f"{one}/reviews?as_of=2013-02-15").get_json()
    assert [review["outcome"] for review in as_of["items"]] == ["R0", "R1"] and as_of["total"] == 2
    known_then = http.get(f"{one}/reviews?known_at={quote(known)}")
    assert [review["outcome"] for review in known_then.get_json()["items"]] == ["R0", "R1", "R2", "R3"]
    assert known_then.headers["ETag"] == '"5"'
    assert http.get(f"{one}/variations?as_of=2013-02-15").get_json()["items"] == []
    assert_problem(http.get(f"{one}/reviews?as_of=2000-01-01"), 404, "not-yet-in-effect")
    assert_problem(http.get(f"{BASE}/00000000-0000-0000-0000-000000000000/reviews"), 404)


# ----------------------------------------------------------------------------- measurements
def month_end(year: int, month: int) -> str:
    following = date(year + month // 12, month % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1).isoformat()


def test_a_benefit_previews_its_newest_measurements_and_lists_them_all(http: Http) -> None:
    collaboration = http.establish()
    response = http.post(f"{BASE}/{collaboration['id']}/benefits", {**WHEN, **BENEFIT})
    benefit_id = response.get_json()["id"]
    periods = []
    for number in range(25):  # monthly, April 2019 to April 2021
        year, month = 2019 + (3 + number) // 12, (3 + number) % 12 + 1
        start, end = f"{year}-{month:02d}-01", month_end(year, month)
        reported = month_end(year, month)  # the day the period ends: it is in effect then
        body = {**WHEN, "effective_on": reported, "period_start": start, "period_end": end, "value": "100.00"}
        measured = http.post(f"{BENEFITS}/{benefit_id}/measurements", {**body, "source": "Ledger"})
        assert measured.status_code == 201, measured.get_json()
        assert set(measured.get_json()) == COMPACT_BENEFIT | {"measurement_id"}
        periods.append(f"{start} to {end}")

    document = http.get(f"{BENEFITS}/{benefit_id}").get_json()

    assert benefit_schemas.BenefitDocument().validate(document) == {}
    assert document["measurements_total"] == 25 and len(document["measurements"]) == PREVIEW
    assert review_versions(document["measurements"]) == list(range(2 + 25 - PREVIEW, 27))
    assert document["realisation"]["measurements_count"] == 25  # realisation counts every one
    assert document["realisation"]["cumulative_value"] == "2500.00"
    measurements, pages = walk(http, f"{document['links']['measurements']}?limit=10")
    assert review_versions(measurements) == list(range(2, 27))
    assert measurements[-PREVIEW:] == document["measurements"]
    assert benefit_schemas.MeasurementsPageDocument().validate(pages[0]) == {}
    assert all(page["total"] == 25 and page["benefit_id"] == benefit_id for page in pages)
    assert_problem(http.get(f"{BENEFITS}/{benefit_id}/measurements?limit=1001"), 422, "validation-failed")
    # The web view's page of the benefit still lists every measurement.
    sign_in(http)
    page = http.client.get(f"/benefits/{benefit_id}").get_data(as_text=True)
    assert all(period in page for period in periods)


# ---------------------------------------------------------------------- exit-cost histories
def test_the_exit_case_and_exit_cost_histories_come_in_pages_too(http: Http) -> None:
    scenario = west_mercia_warwickshire(http)
    for path in (f"{scenario.one}/history", f"{scenario.alliance.one}/exit-cost-history?force={WM}"):
        joined = "&" if "?" in path else "?"
        whole = http.get(path).get_json()
        assert whole["next_after"] is None and len(whole["items"]) > 4

        items, pages = walk(http, f"{path}{joined}limit=2")

        assert items == whole["items"] and len(pages) == -(-len(items) // 2)
        assert [page["next_after"] for page in pages[:-1]] == [page["items"][-1]["position"] for page in pages[:-1]]
        assert_problem(http.get(f"{path}{joined}limit=0"), 422, "validation-failed")
        assert_problem(http.get(f"{path}{joined}format=csv&limit=2"), 422)
        after = items[2]["position"]
        csv_rows = http.get(f"{path}{joined}format=csv&after={after}").get_data(as_text=True).strip().splitlines()
        assert len(csv_rows) - 1 == len(items) - 3
    assert case_schemas.ExitCaseHistoryDocument().validate(http.get(f"{scenario.one}/history").get_json()) == {}


def test_a_page_of_an_exit_cost_history_reads_only_that_page(http: Http, monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = west_mercia_warwickshire(http)
    view = http.app.extensions["exit_cost_history"].view
    read: list[int] = []
    series = view.series

    def counted(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        rows = series(*args, **kwargs)
        read.append(len(rows))
        return rows

    monkeypatch.setattr(view, "series", counted)
    for path in (f"{scenario.one}/history", f"{scenario.alliance.one}/exit-cost-history?force={WM}"):
        joined = "&" if "?" in path else "?"
        items, pages = walk(http, f"{path}{joined}limit=2")
        assert len(items) > 4 and len(pages) > 2
        assert read and max(read) <= 3  # the page and one more row, never the whole series
        read.clear()
