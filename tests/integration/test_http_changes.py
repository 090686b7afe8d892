"""What changed between two points, over HTTP on SQLite and PostgreSQL: per entity a JSON Patch
of its document (applying it to the document at the start gives the one at the end), the events
of the window as sentences, back-dated corrections flagged; as JSON and CSV; bad windows refused."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import jsonpatch

from service.resources.collaborations.schemas import ChangesDocument
from tests.integration import http_support
from tests.integration.http_support import BENEFIT, WHEN, Http, assert_problem

http = http_support.http
http_any = http_support.http_any

BASE = "/api/v1/collaborations"


def now() -> str:
    time.sleep(0.01)  # recorded times are distinct from the ones around them
    moment = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    time.sleep(0.01)
    return moment


def changes(http: Http, collaboration_id: str, query: str) -> dict[str, Any]:
    response = http.get(f"{BASE}/{collaboration_id}/changes?{query}")
    assert response.status_code == 200, response.get_json()
    document = response.get_json()
    assert ChangesDocument().validate(document) == {}
    return document


def test_a_recorded_window_patches_each_entity_and_flags_back_dated_corrections(http_any: Http) -> None:
    http = http_any
    cid = http.establish()["id"]
    before = http.get(f"{BASE}/{cid}").get_json()
    known_from = now()
    function_id = http.add_function(cid)  # effective 2012-04-01: long before the window
    benefit = http.post(f"{BASE}/{cid}/benefits", {**BENEFIT, "effective_on": "2019-04-01", "reason": "Agreed"})
    assert benefit.status_code == 201, benefit.get_json()
    known_to = now()
    http.post(f"{BASE}/{cid}/reviews", {"outcome": "Continue", **WHEN})  # after the window
    report = changes(http, cid, f"known_from={quote(known_from)}&known_to={quote(known_to)}")

    assert report["window"] == {"kind": "recorded", "from": known_from, "to": known_to}
    entities = {entity["kind"]: entity for entity in report["entities"]}
    assert set(entities) == {"collaboration", "benefit"} and report["unchanged"] == 0
    collaboration = entities["collaboration"]
    assert (collaboration["status"], collaboration["version_before"], collaboration["version_after"]) == (
        "changed",
        1,
        2,
    )
    after = http.get(f"{BASE}/{cid}?known_at={quote(known_to)}").get_json()
    patch = [{k: v for k, v in op.items() if k != "was"} for op in collaboration["patch"]]
    assert jsonpatch.apply_patch(before, patch) == after  # the patch takes the start to the end
    version = next(op for op in collaboration["patch"] if op["path"] == "/version")
    assert (version["op"], version["was"], version["value"]) == ("replace", 1, 2)
    assert any(op["path"].startswith("/functions") and op["op"] == "add" for op in collaboration["patch"])
    added = entities["benefit"]
    assert (added["status"], added["version_before"], added["title"]) == ("added", None, BENEFIT["title"])

    events = report["events"]
    assert [event["type"] for event in events] == ["Collaboration.FunctionAdded", "Benefit.Identified"]
    assert all(event["back_dated"] for event in events)  # effective 2012 and 2019, recorded in the window
    assert report["back_dated"] == 2
    assert events[0]["sentence"].startswith(
        "The enabling function “Alliance ICT Dept” was added, hosted by West Mercia Police, with an annual budget of "
    )
    assert ", effective 2012-04-01 (recorded by" in events[0]["sentence"]
    assert function_id in str(collaboration["patch"])


def test_an_effective_window_compares_the_world_on_two_dates_as_known_now(http: Http) -> None:
    cid = http.establish()["id"]
    http.add_function(cid, effective_on="2013-06-01", name="Dogs")
    http.post(f"{BASE}/{cid}/reviews", {"outcome": "Continue", **WHEN, "effective_on": "2014-01-15"})
    report = changes(http, cid, "effective_from=2013-01-01&effective_to=2013-12-31")
    assert report["window"] == {"kind": "effective", "from": "2013-01-01", "to": "2013-12-31"}
    assert [event["type"] for event in report["events"]] == ["Collaboration.FunctionAdded"]
    assert report["events"][0]["back_dated"] is True  # recorded now, years after the window: not known by its end
    [collaboration] = report["entities"]
    names = [
        op["value"]["name"]
        for op in collaboration["patch"]
        if op["op"] == "add" and op["path"].startswith("/functions")
    ]
    assert names == ["Dogs"]
    nothing = changes(http, cid, "effective_from=2015-01-01&effective_to=2016-01-01")
    assert (nothing["entities"], nothing["unchanged"], nothing["events"]) == ([], 1, [])

    exported = http.get(f"{BASE}/{cid}/changes?effective_from=2013-01-01&effective_to=2013-12-31&format=csv")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    header, *rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert header == ["kind", "id", "title", "status", "op", "path", "was", "value"]
    assert rows and all(row[0] == "collaboration" for row in rows)
    assert any(row[5].startswith("/functions") and '"Dogs"' in row[7] for row in rows)


def test_a_window_must_be_one_kind_and_run_forwards(http: Http) -> None:
    cid = http.establish()["id"]
    size = http.log_size()
    for query in (
        "",
        "known_from=2020-01-01T00:00:00Z&effective_from=2020-01-01",
        "known_to=2020-01-01T00:00:00Z",
        "known_from=2020-01-02T00:00:00Z&known_to=2020-01-01T00:00:00Z",
        "effective_from=2020-01-02&effective_to=2020-01-02",
        "effective_from=2020-13-01",
        "known_from=yesterday",
    ):
        assert_problem(http.get(f"{BASE}/{cid}/changes?{query}"), 422)
    assert_problem(http.get(f"{BASE}/00000000-0000-0000-0000-000000000000/changes?effective_from=2020-01-01"), 404)
    assert http.log_size() == size
