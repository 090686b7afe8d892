"""ETags, If-Match, Idempotency-Key and concurrent writers over HTTP."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError

from service import application
from service.persistence import RecordedOutOfOrder
from tests.integration import http_support
from tests.integration.http_support import ALLIANCE, WHEN, Http, assert_problem

# Fixtures shared by the HTTP tests.
collaboration = http_support.collaboration
http = http_support.http
http_any = http_support.http_any  # on SQLite and PostgreSQL

BASE = "/api/v1/collaborations"
REVIEW = {"outcome": "Continue as agreed", **WHEN}


def reviews(collaboration: dict[str, Any]) -> str:
    return f"{BASE}/{collaboration['id']}/reviews"


# ----------------------------------------------------------------------------- If-Match
def test_if_match_with_the_current_etag_writes(http: Http, collaboration: dict[str, Any]) -> None:
    etag = http.get(f"{BASE}/{collaboration['id']}").headers["ETag"]

    response = http.post(reviews(collaboration), REVIEW, **{"If-Match": etag})

    assert response.status_code == 201
    assert response.headers["ETag"] == '"2"'


def test_if_match_with_a_stale_etag_is_412_and_records_nothing(http: Http, collaboration: dict[str, Any]) -> None:
    stale = http.get(f"{BASE}/{collaboration['id']}").headers["ETag"]
    assert http.post(reviews(collaboration), REVIEW).status_code == 201  # someone else wrote meanwhile

    response = http.post(reviews(collaboration), {**REVIEW, "outcome": "Mine"}, **{"If-Match": stale})

    problem = assert_problem(response, 412, "version-mismatch")
    assert "1" in problem["detail"] and "2" in problem["detail"]
    assert [e["data"]["outcome"] for e in http.history(collaboration["id"])[1:]] == ["Continue as agreed"]


@pytest.mark.parametrize(
    ("if_match", "status"),
    [
        ("1", 400),
        ('"1" "2"', 400),
        ('"1",, x', 400),
        ("", 400),
        ('W/"1"', 412),
        ('"abc"', 412),
        ('"0"', 412),
        ('"-1"', 412),
        ('"\u00b2"', 412),  # superscript two: a digit to str.isdigit(), not a version
        ('"9223372036854775808"', 412),  # 2**63: past the largest version
        ('"99999999999999999999"', 412),
        ('W/"1", "abc"', 412),
    ],
)
def test_a_malformed_or_unmatchable_if_match_is_refused_clearly(
    http: Http, collaboration: dict[str, Any], if_match: str, status: int
) -> None:
    response = http.post(reviews(collaboration), REVIEW, **{"If-Match": if_match})
    problem = assert_problem(response, status)
    assert "If-Match" in problem["detail"]
    assert http.log_size() == 1


@pytest.mark.parametrize("if_match", ['"1", "2"', '"7" ,"1"', 'W/"1", "1"', '"abc", "1"', ', "1" ,'])
def test_if_match_with_a_list_of_etags_writes_when_any_strong_one_is_current(
    http: Http, collaboration: dict[str, Any], if_match: str
) -> None:
    response = http.post(reviews(collaboration), REVIEW, **{"If-Match": if_match})
    assert response.status_code == 201, response.get_json()
    assert response.headers["ETag"] == '"2"'


def test_if_match_with_a_list_of_stale_etags_is_412_and_records_nothing(
    http: Http, collaboration: dict[str, Any]
) -> None:
    problem = assert_problem(http.post(reviews(collaboration), REVIEW, **{"If-Match": '"2", "3"'}), 412)
    assert problem["type"].endswith("version-mismatch") and "2, 3" in problem["detail"]
    assert http.log_size() == 1


def test_if_match_star_matches_any_current_version(http: Http, collaboration: dict[str, Any]) -> None:
    assert http.post(reviews(collaboration), REVIEW, **{"If-Match": "*"}).status_code == 201


def test_if_match_on_a_create_cannot_match(http: Http) -> None:
    assert_problem(http.post(BASE, ALLIANCE, **{"If-Match": '"1"'}), 412, "precondition-failed")
    assert http.log_size() == 0


def test_every_write_and_read_of_a_collaboration_carries_its_version_as_etag(
    http: Http, collaboration: dict[str, Any]
) -> None:
    function = http.post(
        f"{BASE}/{collaboration['id']}/functions",
        {"name": "ICT", "kind": "enabling", "host_force": "west-mercia", "annual_budget": "1.00", **WHEN},
    )
    read = http.get(f"{BASE}/{collaboration['id']}")
    assert function.headers["ETag"] == read.headers["ETag"] == '"2"'
    assert read.get_json()["version"] == 2


# ------------------------------------------------------------------------- Idempotency-Key
def test_a_retried_post_with_the_same_key_returns_the_first_answer_and_records_once(http_any: Http) -> None:
    http = http_any
    collaboration = http.establish()
    path = f"{BASE}/{collaboration['id']}/functions"
    body = {"name": "ICT", "kind": "enabling", "host_force": "west-mercia", "annual_budget": "1.00", **WHEN}

    first = http.post(path, body, **{"Idempotency-Key": "add-ict-1"})
    retry = http.post(path, body, **{"Idempotency-Key": "add-ict-1"})

    assert first.status_code == retry.status_code == 201
    assert retry.get_json() == first.get_json()
    assert retry.get_json()["function_id"] == first.get_json()["function_id"]
    assert "Idempotent-Replayed" not in first.headers
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.headers["ETag"] == first.headers["ETag"] == '"2"'
    assert [e["type"] for e in http.history(collaboration["id"])] == [
        "Collaboration.Established",
        "Collaboration.FunctionAdded",
    ]


def test_a_retried_create_returns_the_same_collaboration(http_any: Http) -> None:
    http = http_any
    first = http.post(BASE, ALLIANCE, **{"Idempotency-Key": "create-alliance"})
    retry = http.post(BASE, ALLIANCE, **{"Idempotency-Key": "create-alliance"})

    assert first.status_code == retry.status_code == 201
    assert retry.get_json()["id"] == first.get_json()["id"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert http.log_size() == 1
    assert http.get(BASE).get_json()["total"] == 1


def test_the_same_key_with_a_different_request_is_422_and_records_nothing(
    http: Http, collaboration: dict[str, Any]
) -> None:
    assert http.post(reviews(collaboration), REVIEW, **{"Idempotency-Key": "k"}).status_code == 201

    changed_body = http.post(reviews(collaboration), {**REVIEW, "outcome": "Other"}, **{"Idempotency-Key": "k"})
    other_path = http.post(
        f"{BASE}/{collaboration['id']}/variations", {"clause": "1", "summary": "s", **WHEN}, **{"Idempotency-Key": "k"}
    )

    problem = assert_problem(changed_body, 422, "idempotency-key-reused")
    assert "Idempotency-Key" in problem["errors"]
    assert_problem(other_path, 422, "idempotency-key-reused")
    assert len(http.history(collaboration["id"])) == 2


def test_keys_belong_to_the_token_that_sent_them(http: Http, collaboration: dict[str, Any]) -> None:
    other = http.token("admin", name="Another admin")
    assert http.post(reviews(collaboration), REVIEW, **{"Idempotency-Key": "k"}).status_code == 201

    response = http.post(reviews(collaboration), REVIEW, other, **{"Idempotency-Key": "k"})

    assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers
    assert len(http.history(collaboration["id"])) == 3


def test_a_refused_request_does_not_use_up_its_key(http: Http, collaboration: dict[str, Any]) -> None:
    bad = http.post(reviews(collaboration), {**REVIEW, "outcome": " "}, **{"Idempotency-Key": "k"})
    assert_problem(bad, 422)
    assert http.post(reviews(collaboration), REVIEW, **{"Idempotency-Key": "k"}).status_code == 201


@pytest.mark.parametrize("key", ["x" * 256, "has space", "tab\there"])
def test_a_malformed_idempotency_key_is_400(http: Http, collaboration: dict[str, Any], key: str) -> None:
    problem = assert_problem(http.post(reviews(collaboration), REVIEW, **{"Idempotency-Key": key}), 400)
    assert "Idempotency-Key" in problem["errors"]
    assert http.log_size() == 1


# ---------------------------------------------------------------------- concurrent writers
def test_concurrent_writers_are_all_recorded_once(http: Http, collaboration: dict[str, Any]) -> None:
    outcomes = [f"review {n}" for n in range(8)]
    statuses: list[int] = []
    start = threading.Barrier(len(outcomes))

    def write(outcome: str) -> None:
        client = http.app.test_client()
        start.wait()
        response = client.post(reviews(collaboration), json={**REVIEW, "outcome": outcome}, headers=http.headers())
        statuses.append(response.status_code)

    threads = [threading.Thread(target=write, args=(outcome,)) for outcome in outcomes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [201] * len(outcomes)
    history = http.history(collaboration["id"])
    assert sorted(e["data"]["outcome"] for e in history[1:]) == sorted(outcomes)
    assert [e["version"] for e in history] == list(range(1, len(outcomes) + 2))


def test_writers_of_one_aggregate_in_one_process_take_turns_instead_of_losing_races(
    http: Http, collaboration: dict[str, Any], monkeypatch
) -> None:
    # Threaded web workers answer several requests of one process at once: without turns, each
    # loaded the same version and all but one lost the race on saving, then backed off.
    retried: list[str] = []
    real_retried = application.write_retries.write_retried
    monkeypatch.setattr(
        application.write_retries, "write_retried", lambda why: (retried.append(why), real_retried(why))
    )
    threads, writes = 8, 5
    statuses: list[int] = []
    start = threading.Barrier(threads)

    def write(n: int) -> None:
        client = http.app.test_client()
        start.wait()
        for w in range(writes):
            body = {**REVIEW, "outcome": f"writer {n} review {w}"}
            statuses.append(client.post(reviews(collaboration), json=body, headers=http.headers()).status_code)

    workers = [threading.Thread(target=write, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert statuses == [201] * (threads * writes)
    assert retried == []  # no writer lost a race to another of this process
    assert http.version(collaboration["id"]) == 1 + threads * writes


def losing_saves(http: Http, monkeypatch, losses: int | None) -> list[int]:
    """Makes the application's save lose the race (the store's IntegrityError) ``losses``
    times, or every time if None, then save for real. Returns the attempts made so far. The
    retry loop's back-off is skipped so the test stays fast."""
    records = http.app.extensions["records"]
    real_save = records.save
    attempts: list[int] = []

    def save(*args: Any, **kwargs: Any) -> Any:
        attempts.append(1)
        if losses is None or len(attempts) <= losses:
            raise IntegrityError("duplicate key value violates unique constraint (simulated)")
        return real_save(*args, **kwargs)

    monkeypatch.setattr(records, "save", save)
    monkeypatch.setattr(application.time, "sleep", lambda seconds: None)
    return attempts


def test_a_write_that_keeps_losing_the_race_is_409_after_the_retries_and_records_nothing(
    http: Http, collaboration: dict[str, Any], monkeypatch
) -> None:
    attempts = losing_saves(http, monkeypatch, losses=None)

    response = http.post(reviews(collaboration), REVIEW, **{"Idempotency-Key": "k"})

    problem = assert_problem(response, 409, "concurrent-update")
    assert "try again" in problem["detail"]
    assert len(attempts) == application.MAX_ATTEMPTS
    assert http.log_size() == 1 and http.version(collaboration["id"]) == 1
    monkeypatch.undo()  # the key was not used up: the same request can succeed later
    assert http.post(reviews(collaboration), REVIEW, **{"Idempotency-Key": "k"}).status_code == 201


def test_a_write_that_loses_the_race_once_is_retried_on_fresh_state_and_recorded_once(
    http: Http, collaboration: dict[str, Any], monkeypatch
) -> None:
    attempts = losing_saves(http, monkeypatch, losses=1)

    response = http.post(reviews(collaboration), REVIEW)

    assert response.status_code == 201, response.get_json()
    assert len(attempts) == 2
    assert [e["type"] for e in http.history(collaboration["id"])] == [
        "Collaboration.Established",
        "Collaboration.ReviewHeld",
    ]
    assert http.get(BASE).get_json()["items"][0]["version"] == 2


def test_a_create_whose_save_fails_on_a_key_is_409_not_500(http: Http, monkeypatch) -> None:
    attempts = losing_saves(http, monkeypatch, losses=None)

    assert_problem(http.post(BASE, ALLIANCE), 409, "concurrent-update")
    assert len(attempts) == 1
    assert http.log_size() == 0


# ------------------------------------------------------- refused as recorded out of order
def refused_saves(http: Http, monkeypatch, refusals: int | None, clock: list[float]) -> list[int]:
    """Makes the application's save be refused as recorded out of order (another write closed
    the log past its events) ``refusals`` times, or every time if None, then save for real. Each
    refusal moves ``clock`` (the retry loop's monotonic time) on by a quarter of a second."""
    records = http.app.extensions["records"]
    real_save = records.save
    attempts: list[int] = []

    def save(*args: Any, **kwargs: Any) -> Any:
        attempts.append(1)
        if refusals is None or len(attempts) <= refusals:
            clock[0] += 0.25
            raise RecordedOutOfOrder("an event recorded at ... would follow the log closed at ...")
        return real_save(*args, **kwargs)

    monkeypatch.setattr(records, "save", save)
    monkeypatch.setattr(application.time, "monotonic", lambda: clock[0])
    return attempts


def test_a_write_refused_as_out_of_order_more_often_than_the_conflict_retries_is_still_recorded_once(
    http: Http, collaboration: dict[str, Any], monkeypatch
) -> None:
    # Out-of-order refusals mean the store is moving, not that this aggregate is contended: they
    # are bounded in time, not by the dozen attempts a version conflict gets.
    clock = [1000.0]
    attempts = refused_saves(http, monkeypatch, refusals=application.MAX_ATTEMPTS + 4, clock=clock)

    response = http.post(reviews(collaboration), REVIEW, **{"Idempotency-Key": "late"})

    assert response.status_code == 201, response.get_json()
    assert len(attempts) == application.MAX_ATTEMPTS + 5
    assert [e["type"] for e in http.history(collaboration["id"])] == [
        "Collaboration.Established",
        "Collaboration.ReviewHeld",
    ]


def test_a_write_refused_as_out_of_order_for_longer_than_the_patience_is_409_and_records_nothing(
    http: Http, collaboration: dict[str, Any], monkeypatch
) -> None:
    clock = [1000.0]
    attempts = refused_saves(http, monkeypatch, refusals=None, clock=clock)

    response = http.post(reviews(collaboration), REVIEW, **{"Idempotency-Key": "stuck"})

    assert_problem(response, 409, "concurrent-update")
    patience = application.OUT_OF_ORDER_PATIENCE_SECONDS
    assert len(attempts) == int(patience / 0.25)  # a quarter of a second per refusal, until it is spent
    assert http.log_size() == 1 and http.version(collaboration["id"]) == 1
    monkeypatch.undo()  # the key was not used up: the same request can succeed later
    assert http.post(reviews(collaboration), REVIEW, **{"Idempotency-Key": "stuck"}).status_code == 201


def test_a_create_refused_as_out_of_order_is_run_again_until_recorded(http: Http, monkeypatch) -> None:
    clock = [1000.0]
    attempts = refused_saves(http, monkeypatch, refusals=application.MAX_ATTEMPTS + 3, clock=clock)

    response = http.post(BASE, ALLIANCE)

    assert response.status_code == 201, response.get_json()
    assert len(attempts) == application.MAX_ATTEMPTS + 4
    assert http.log_size() == 1
