"""The live event stream (server-sent events) and the feed as CloudEvents, through Flask's test
client. A stream in the test client runs until it ends, so each test gives streams a short life."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from cloudevents.core.formats.json import JSONFormat
from jsonschema import Draft202012Validator

from examples.follow_events import messages
from service import cloud_events
from service.streams import StreamSettings
from tests.integration import http_support
from tests.integration.exit_case_support import alliance, open_case
from tests.integration.http_support import WHEN, Http, assert_problem

http = http_support.http
http_any = http_support.http_any  # on SQLite and PostgreSQL

STREAM = "/api/v1/events/stream"
FEED = "/api/v1/events"
SHORT = StreamSettings(heartbeat_seconds=0.05, max_seconds=0.3, poll_seconds=0.02, retry_ms=500)


@pytest.fixture
def short_streams(http: Http) -> Http:
    http.app.extensions["event_streams"].settings = SHORT
    return http


@pytest.fixture
def short_streams_any(http_any: Http) -> Http:
    http_any.app.extensions["event_streams"].settings = SHORT
    return http_any


def read_stream(http: Http, query: str = "", **headers: str) -> tuple[list[tuple[str | None, str | None]], Any]:
    response = http.get(f"{STREAM}{query}", **headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_data()
    return [m for m in messages(body.splitlines(keepends=True)) if m != (None, None)], response


def events_of(stream: list[tuple[str | None, str | None]]) -> list[dict[str, Any]]:
    return [json.loads(data) for _, data in stream if data is not None]


def last_id(stream: list[tuple[str | None, str | None]]) -> int:
    return int([event_id for event_id, _ in stream if event_id is not None][-1])


def two_alliances(http: Http) -> tuple[dict[str, Any], dict[str, Any]]:
    west = http.establish()
    south = http.establish(name="South West", parties=["dorset", "devon-cornwall"], lead_force="dorset")
    http.post(f"/api/v1/collaborations/{west['id']}/reviews", {"outcome": "Continue", **WHEN})
    http.post(f"/api/v1/collaborations/{south['id']}/reviews", {"outcome": "Continue", **WHEN})
    return west, south


# ------------------------------------------------------------------------------- the stream
def test_the_stream_sends_every_event_as_the_feed_gives_it_with_its_position_as_id(short_streams_any: Http) -> None:
    http = short_streams_any
    two_alliances(http)

    stream, response = read_stream(http)

    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"
    feed = http.get(FEED).get_json()["items"]
    assert events_of(stream) == feed
    assert [int(event_id) for event_id, data in stream if data] == [item["position"] for item in feed]
    assert response.get_data(as_text=True).startswith("retry: 500\n")


def test_a_reconnect_with_last_event_id_resumes_exactly_after_it(short_streams: Http) -> None:
    http = short_streams
    two_alliances(http)
    positions = [item["position"] for item in http.get(FEED).get_json()["items"]]

    stream, _ = read_stream(http, "?after=0", **{"Last-Event-ID": str(positions[1])})

    assert [event["position"] for event in events_of(stream)] == positions[2:]


def test_after_starts_a_stream_when_no_last_event_id_is_sent(short_streams: Http) -> None:
    http = short_streams
    two_alliances(http)
    positions = [item["position"] for item in http.get(FEED).get_json()["items"]]

    stream, _ = read_stream(http, f"?after={positions[2]}")

    assert [event["position"] for event in events_of(stream)] == positions[3:]


def test_events_recorded_after_a_stream_ends_come_with_the_next_connection_none_twice(short_streams: Http) -> None:
    http = short_streams
    west, _ = two_alliances(http)
    first, _ = read_stream(http)
    http.post(f"/api/v1/collaborations/{west['id']}/reviews", {"outcome": "Again", **WHEN})

    second, _ = read_stream(http, **{"Last-Event-ID": str(last_id(first))})

    seen = [event["position"] for event in events_of(first) + events_of(second)]
    assert seen == [item["position"] for item in http.get(FEED).get_json()["items"]]
    assert len(events_of(second)) == 1 and events_of(second)[0]["data"]["outcome"] == "Again"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?type=Collaboration.ReviewHeld", lambda e, west, south: e["type"] == "Collaboration.ReviewHeld"),
        ("?force=dorset", lambda e, west, south: e["stream_id"] == south["id"]),
        (
            "?force=west-mercia&type=Collaboration.Established",
            lambda e, west, south: e["stream_id"] == west["id"] and e["type"] == "Collaboration.Established",
        ),
    ],
)
def test_a_filtered_stream_sends_only_the_matching_events(short_streams: Http, query: str, expected: Any) -> None:
    http = short_streams
    west, south = two_alliances(http)

    stream, _ = read_stream(http, query)

    feed = http.get(FEED).get_json()["items"]
    assert events_of(stream) == [event for event in feed if expected(event, west, south)]
    assert events_of(stream)


def test_a_collaboration_filter_includes_its_exit_cases(short_streams: Http) -> None:
    http = short_streams
    west = alliance(http, direction=False, decoupling=False)
    south = http.establish(name="South West", parties=["dorset", "devon-cornwall"], lead_force="dorset")
    case = open_case(http, west.id)

    stream, _ = read_stream(http, f"?collaboration_id={west.id}")

    streams = {event["stream_id"] for event in events_of(stream)}
    assert streams == {west.id, case["id"]}
    assert south["id"] not in streams
    forced, _ = read_stream(http, "?force=dorset")
    assert {event["stream_id"] for event in events_of(forced)} == {south["id"]}


def test_a_filtered_stream_moves_its_place_past_the_events_it_skipped(short_streams: Http) -> None:
    http = short_streams
    west, _ = two_alliances(http)
    last_position = http.get(FEED).get_json()["items"][-1]["position"]

    stream, _ = read_stream(http, "?force=west-mercia")

    # the last event is south's: sent as an id without data, so a reconnect does not read it again
    assert events_of(stream)[-1]["stream_id"] == west["id"]
    assert last_id(stream) == last_position
    again, _ = read_stream(http, "?force=west-mercia", **{"Last-Event-ID": str(last_id(stream))})
    assert events_of(again) == []


def test_the_stream_as_cloudevents_reads_back_with_the_sdk(short_streams: Http) -> None:
    http = short_streams
    west, _ = two_alliances(http)

    stream, _ = read_stream(http, "?format=cloudevents")

    feed = http.get(FEED).get_json()["items"]
    read = [JSONFormat().read(None, data) for _, data in stream if data]
    assert [event.get_id() for event in read] == [str(item["position"]) for item in feed]
    first = read[0]
    assert first.get_specversion() == "1.0"
    assert first.get_type() == "collaboration-records.Collaboration.Established"
    assert first.get_subject() == west["id"]
    assert first.get_source() == cloud_events.DEFAULT_SOURCE
    assert first.get_datacontenttype() == "application/json"
    assert first.get_time().isoformat().replace("+00:00", "Z") == feed[0]["recorded_at"]
    assert first.get_data() == feed[0]
    assert first.get_extension("position") == str(feed[0]["position"])
    assert first.get_dataschema().endswith("/api/v1/event-types/Collaboration.Established/document-schema")
    for event in read:  # each CloudEvent's data is valid against the schema its dataschema names
        schema = http.get(event.get_dataschema().removeprefix("http://localhost")).get_json()
        Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(event.get_data())


def test_with_documents_each_event_proves_its_hash_and_its_place_in_the_chain(short_streams_any: Http) -> None:
    http = short_streams_any
    two_alliances(http)

    stream, _ = read_stream(http, "?documents=true")

    previous = "0" * 64
    events = events_of(stream)
    assert len(events) == 4
    for event in events:
        assert hashlib.sha256(event["document"].encode()).hexdigest() == event["hash"]
        chained = json.loads(event["document"])
        assert (chained["position"], chained["stream_id"], chained["version"]) == (
            event["position"],
            event["stream_id"],
            event["version"],
        )
        assert chained["previous"] == previous
        previous = event["hash"]


def test_idle_streams_send_heartbeats(short_streams: Http) -> None:
    response = short_streams.get(STREAM)

    assert response.get_data(as_text=True).count(": keep-alive") >= 2


# ------------------------------------------------------------------------ refused streams
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?after=-1", "after"),
        ("?after=x", "after"),
        ("?force=atlantis", "force"),
        ("?collaboration_id=not-a-uuid", "collaboration_id"),
        ("?format=xml", "format"),
        ("?documents=yes", "documents"),
        ("?colour=blue", "colour"),
        ("?type=Collaboration.Nonsense", "type"),
    ],
)
def test_a_bad_stream_parameter_is_422(http: Http, query: str, field: str) -> None:
    problem = assert_problem(http.get(f"{STREAM}{query}"), 422)

    assert field in json.dumps(problem)


@pytest.mark.parametrize("last_event_id", ["abc", "-3", "1.5", "9" * 25, "9" * 19, "\u00b2"])
def test_a_last_event_id_that_is_no_position_is_400(http: Http, last_event_id: str) -> None:
    assert_problem(http.get(STREAM, **{"Last-Event-ID": last_event_id}), 400)


def test_a_stream_needs_a_valid_token(http: Http) -> None:
    assert http.get(STREAM, token=None).status_code == 401


def test_an_auditor_may_follow_the_stream(short_streams: Http) -> None:
    two_alliances(short_streams)

    response = short_streams.get(STREAM, token=short_streams.token("auditor"))

    assert response.status_code == 200 and "id: 1" in response.get_data(as_text=True)


def test_a_worker_serving_its_limit_of_streams_answers_503_with_retry_after(short_streams: Http) -> None:
    streams = short_streams.app.extensions["event_streams"].open_streams
    releases = [streams.admit() for _ in range(streams.limit)]
    try:
        response = short_streams.get(STREAM)

        assert_problem(response, 503)
        assert int(response.headers["Retry-After"]) > 0
    finally:
        for release in releases:
            release()
    assert short_streams.get(STREAM).status_code == 200


def test_a_finished_stream_gives_its_place_back(short_streams: Http) -> None:
    streams = short_streams.app.extensions["event_streams"].open_streams
    for _ in range(streams.limit + 2):
        assert short_streams.get(STREAM).status_code == 200
    assert streams.open == 0


# ---------------------------------------------------------------- the feed as CloudEvents
def test_the_feed_as_a_cloudevents_batch_by_format_or_accept(http_any: Http) -> None:
    two_alliances(http_any)
    feed = http_any.get(f"{FEED}?limit=3").get_json()["items"]

    by_format = http_any.get(f"{FEED}?limit=3&format=cloudevents")
    by_accept = http_any.get(f"{FEED}?limit=3", Accept="application/cloudevents-batch+json")

    for response in (by_format, by_accept):
        assert response.status_code == 200
        assert response.mimetype == "application/cloudevents-batch+json"
        batch = cloud_events.read_batch(response.get_data())
        assert [event.get_data() for event in batch] == feed
        assert [event.get_id() for event in batch] == [str(item["position"]) for item in feed]
        assert f"after={feed[-1]['position']}" in response.headers["Link"]
        assert 'rel="next"' in response.headers["Link"]


def test_the_feed_refuses_an_accept_it_cannot_answer_with_406(http: Http) -> None:
    problem = assert_problem(http.get(FEED, Accept="application/xml"), 406)

    assert "cloudevents" in problem["detail"]


def test_documents_with_a_csv_export_is_422(http: Http) -> None:
    assert_problem(http.get(f"{FEED}?format=csv&documents=true"), 422)


def test_the_json_feed_is_unchanged_without_documents(http: Http) -> None:
    two_alliances(http)

    items = http.get(FEED).get_json()["items"]

    assert all("document" not in item for item in items)


def test_a_force_that_joins_later_follows_the_collaboration_from_its_joining_however_the_stream_starts(
    short_streams: Http,
) -> None:
    http = short_streams
    west = http.establish()
    one = f"/api/v1/collaborations/{west['id']}"
    http.post(f"{one}/reviews", {"outcome": "Before", **WHEN})
    assert http.post(f"{one}/parties", {"force": "staffordshire", **WHEN}).status_code == 201
    http.post(f"{one}/reviews", {"outcome": "After", **WHEN})
    feed = http.get(FEED).get_json()["items"]
    from_joining = [item for item in feed if item["version"] >= 3]

    whole, _ = read_stream(http, "?force=staffordshire")
    caught_up, _ = read_stream(http, f"?force=staffordshire&after={feed[1]['position']}")

    assert events_of(whole) == from_joining
    assert events_of(caught_up) == from_joining
    assert [event["data"].get("outcome") for event in events_of(whole)] == [None, "After"]


def test_a_force_filter_with_types_still_follows_the_force_joining(short_streams: Http) -> None:
    # PartyJoined is not among the types asked for, yet it is what makes the force a party
    http = short_streams
    west = http.establish()
    one = f"/api/v1/collaborations/{west['id']}"
    http.post(f"{one}/reviews", {"outcome": "Before", **WHEN})
    assert http.post(f"{one}/parties", {"force": "staffordshire", **WHEN}).status_code == 201
    http.post(f"{one}/reviews", {"outcome": "After", **WHEN})

    stream, _ = read_stream(http, "?force=staffordshire&type=Collaboration.ReviewHeld")

    assert [event["data"]["outcome"] for event in events_of(stream)] == ["After"]
