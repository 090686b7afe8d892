"""Requests whose meaning is in doubt are refused before anything is judged or recorded: a JSON
body that names a key twice (which value was meant?), a malformed header before any
precondition, a page number beyond what a page can be."""

from __future__ import annotations

import json

import pytest

from service.auth import FailedSignIns
from tests.integration.http_support import ALLIANCE, Http, assert_problem, http_any
from tests.integration.test_webview import post_form, sign_in

BASE = "/api/v1/collaborations"
_ = http_any  # the fixture, over both backends


def raw_post(http: Http, path: str, body: str, **headers: str):
    return http.client.post(path, data=body, headers=http.headers(**headers, **{"Content-Type": "application/json"}))


@pytest.mark.parametrize(
    "body",
    [
        '{"outcome":"first","outcome":"second","effective_on":"2020-01-01","reason":"agreed"}',
        '{"outcome":"first","effective_on":"2020-01-01","reason":"agreed","reason":"again"}',
    ],
)
def test_a_body_naming_a_key_twice_is_refused_and_records_nothing(http_any: Http, body: str) -> None:
    collaboration = http_any.establish()
    size = http_any.log_size()
    problem = assert_problem(raw_post(http_any, f"{BASE}/{collaboration['id']}/reviews", body), 400)
    assert "twice" in problem["detail"]
    assert http_any.log_size() == size
    # the same body with each key once is recorded
    once = json.dumps({"outcome": "first", "effective_on": "2020-01-01", "reason": "agreed"})
    assert raw_post(http_any, f"{BASE}/{collaboration['id']}/reviews", once).status_code == 201


def test_a_key_named_twice_inside_a_map_is_refused(http_any: Http) -> None:
    collaboration = http_any.establish()
    body = (
        '{"function_id":null,"basis":"fixed_ratio","shares":{"west-mercia":"0.69","west-mercia":"0.31",'
        '"warwickshire":"0.31"},"effective_on":"2012-04-01","reason":"agreed"}'
    )
    assert_problem(raw_post(http_any, f"{BASE}/{collaboration['id']}/apportionments", body), 400)


def test_a_malformed_idempotency_key_is_400_before_any_if_match_is_judged(http_any: Http) -> None:
    collaboration = http_any.establish()
    body = json.dumps({"outcome": "x", "effective_on": "2020-01-01", "reason": "agreed"})
    headers = {"Idempotency-Key": "k" * 300, "If-Match": '"abc"'}
    problem = assert_problem(raw_post(http_any, f"{BASE}/{collaboration['id']}/reviews", body, **headers), 400)
    assert "Idempotency-Key" in problem["errors"]
    # on a create too: a malformed key is 400, not the 412 an If-Match on a create gets
    created = raw_post(http_any, BASE, json.dumps(ALLIANCE, default=str), **headers)
    assert created.status_code == 400
    # a well-formed key with the stale tag is the precondition's 412
    headers = {"Idempotency-Key": "k" * 20, "If-Match": '"abc"'}
    assert_problem(raw_post(http_any, f"{BASE}/{collaboration['id']}/reviews", body, **headers), 412)


@pytest.mark.parametrize("number", ["461168601842738792", "1000001", "0", "-3", "x"])
def test_a_page_number_beyond_any_page_is_400_in_the_web_view(http_any: Http, number: str) -> None:
    sign_in(http_any)
    response = http_any.client.get(f"/register?page={number}")
    assert response.status_code == 400, response.get_data(as_text=True)[:500]
    assert "page must be a whole number" in response.get_data(as_text=True)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failed_authentication_is_throttled_by_address_with_retry_after(http_any: Http) -> None:
    clock = Clock()
    http_any.app.extensions["failed_sign_ins"] = FailedSignIns(limit=3, window=60, now=clock)
    for _ in range(3):
        assert_problem(http_any.get("/api/v1/collaborations", token="crs_not-a-token"), 401)
    throttled = http_any.get("/api/v1/collaborations", token="crs_not-a-token")
    assert_problem(throttled, 429)
    assert throttled.headers["Retry-After"] == "60"
    assert_problem(http_any.get("/api/v1/collaborations"), 429)  # the address is refused until the window passes
    other = http_any.client.get(
        "/api/v1/collaborations", environ_base={"REMOTE_ADDR": "10.0.0.9"}, headers=http_any.headers()
    )
    assert other.status_code == 200  # another address is not
    clock.now += 30
    assert http_any.get("/api/v1/collaborations", token="crs_x").headers["Retry-After"] == "30"
    clock.now += 31
    assert http_any.get("/api/v1/collaborations").status_code == 200


def test_the_sign_in_form_is_throttled_too(http_any: Http) -> None:
    http_any.app.extensions["failed_sign_ins"] = FailedSignIns(limit=2, window=60, now=Clock())
    for _ in range(2):
        assert post_form(http_any.client, "/sign-in", {"token": "crs_wrong"}).status_code == 401
    response = post_form(http_any.client, "/sign-in", {"token": "crs_wrong"})
    assert response.status_code == 429 and response.headers["Retry-After"] == "60"
    assert "Too many failed sign-ins" in response.get_data(as_text=True)


def test_answers_carry_nosniff_and_pages_no_referrer(http_any: Http) -> None:
    answers = (http_any.get("/api/v1/collaborations"), http_any.get("/api/v1/nowhere"), http_any.client.get("/"))
    for response in answers:
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize(
    ("message", "says", "retry"),
    [
        ("database or disk is full", "out of disk space", "60"),
        ("could not extend file \"base/16384/2619\": No space left on device", "out of disk space", "60"),
        ("attempt to write a readonly database", "read-only", "60"),
        ("cannot execute INSERT in a read-only transaction", "read-only", "60"),
        ("server closed the connection unexpectedly", "did not answer", "1"),
    ],
)
def test_a_store_that_is_full_or_read_only_says_so(http_any: Http, monkeypatch, message, says, retry) -> None:
    from eventsourcing.persistence import OperationalError

    def fails(*args, **kwargs):
        raise OperationalError(message)

    records = http_any.app.extensions["records"]
    monkeypatch.setattr(records, "establish_collaboration", fails)
    response = http_any.post(BASE, {**ALLIANCE, "effective_on": "2012-04-01"})
    problem = assert_problem(response, 503)
    assert says in problem["detail"] and response.headers["Retry-After"] == retry


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ('prepared statement "_pg3_80" does not exist', 503),
        ("deadlock detected", 503),
        ('relation "nowhere" does not exist', 500),
    ],
)
def test_a_statement_refused_for_a_passing_reason_is_503_to_retry(http_any: Http, monkeypatch, error, status) -> None:
    from eventsourcing.persistence import ProgrammingError

    def fails(*args, **kwargs):
        raise ProgrammingError(error)

    monkeypatch.setattr(http_any.app.extensions["records"], "establish_collaboration", fails)
    http_any.app.config["PROPAGATE_EXCEPTIONS"] = False
    response = http_any.post(BASE, {**ALLIANCE, "effective_on": "2012-04-01"})
    problem = assert_problem(response, status)
    if status == 503:
        assert response.headers["Retry-After"] == "1" and "try again" in problem["detail"]
    else:
        assert "prepared" not in problem["detail"] and "relation" not in problem["detail"]
