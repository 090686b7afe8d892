"""A question about now answers in bounded time (issue 15, point 1): the projection that answers
it is brought up to the log for at most ``READ_CATCH_UP_SECONDS``; if it is still behind, the
answer is 503 with ``Retry-After`` (problem ``projection-catching-up``), never a request held
until gunicorn kills its worker. What it caught up meanwhile is kept, so the next request goes
on from there."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from projections.tracked import DEFAULT_BATCH_SIZE
from service.app import create_app
from service.application import Caller, CollaborationRecords
from tests.integration.http_support import PROBLEM_JSON, Http, assert_problem
from tests.integration.test_webview import post_form

ADMIN = Caller("tester (admin)")
ON = {"effective_on": date(2020, 1, 6), "reason": "the board met"}
# More events than one batch of a projection: one batch fits in any budget, two do not at 0 s.
BEHIND = DEFAULT_BATCH_SIZE + 50


def app_with_budget(memory_url: str, seconds: str) -> Iterator[Http]:
    app = create_app({"DATABASE_URL": memory_url, "TESTING": True, "READ_CATCH_UP_SECONDS": seconds})
    admin = app.extensions["tokens"].create(name="Test admin", role="admin")[1]
    try:
        yield Http(app, app.test_client(), admin)
    finally:
        for name in ("register", "decision_log", "exit_cost_history", "benefits_realisation", "records"):
            app.extensions[name].close()


@pytest.fixture
def no_budget(memory_url: str) -> Iterator[Http]:
    """Reads may catch up one batch, no more (a budget of 0 s stops after the first batch)."""
    yield from app_with_budget(memory_url, "0")


def record_behind_the_projections(http: Http) -> int:
    """Records ``BEHIND`` events through the application, which catches no projection up: as a
    follower that has been down would find the log. Returns the log's size."""
    records: CollaborationRecords = http.app.extensions["records"]
    collaboration = http.establish()["id"]
    for number in range(BEHIND - 1):
        records.hold_review(collaboration, outcome=f"review {number}", caller=ADMIN, **ON)
    return records.log_size()


def test_a_projection_too_far_behind_answers_503_with_retry_after_and_keeps_what_it_caught_up(no_budget: Http):
    http = no_budget
    head = record_behind_the_projections(http)
    log = http.app.extensions["decision_log"]
    before = log.position()
    assert head - before > DEFAULT_BATCH_SIZE

    response = http.get("/api/v1/decisions")
    problem = assert_problem(response, 503, "projection-catching-up")
    assert response.mimetype == PROBLEM_JSON
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert "decision log" in problem["detail"] and f"of {head}" in problem["detail"]
    assert log.position() == before + DEFAULT_BATCH_SIZE  # one batch was read, and kept

    again = http.get("/api/v1/decisions?page_size=100")  # the rest is less than a batch
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["total"] == head
    assert log.position() == head


def test_a_page_of_the_web_view_says_so_too(no_budget: Http):
    http = no_budget
    record_behind_the_projections(http)
    client = http.client
    token = http.token("auditor")
    signed_in = post_form(client, "/sign-in", {"token": token})
    assert signed_in.status_code == 303
    page = client.get("/register")
    assert page.status_code == 503
    assert int(page.headers["Retry-After"]) >= 1
    assert "Catching up with the record" in page.get_data(as_text=True)


def test_within_the_budget_the_same_read_answers_at_once(memory_url: str):
    for http in app_with_budget(memory_url, "30"):
        head = record_behind_the_projections(http)
        response = http.get("/api/v1/decisions?page_size=100")
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["total"] == head


def test_a_write_waits_for_no_projection_and_the_next_read_sees_it(memory_url: str):
    """Read-your-writes without catching up on the write path: the read catches up first."""
    for http in app_with_budget(memory_url, "2"):
        register = http.app.extensions["register"]
        created = http.establish()
        head = http.app.extensions["records"].log_size()
        assert register.position() < head  # the write's answer did not wait for the register
        found = http.get("/api/v1/collaborations").get_json()
        assert created["id"] in [item["id"] for item in found["items"]]
        assert register.position() == head
