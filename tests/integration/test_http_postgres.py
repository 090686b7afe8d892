"""The same HTTP flows on PostgreSQL (skipped, with the reason, when no server answers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.http_support import WHEN, Http, assert_problem, http_for

pytestmark = pytest.mark.postgres
BASE = "/api/v1/collaborations"


@pytest.fixture
def pg(postgres_url: str) -> Iterator[Http]:
    yield from http_for(postgres_url)


def test_a_collaboration_is_built_up_and_read_back_on_postgres(pg: Http) -> None:
    collaboration = pg.establish()
    path = f"{BASE}/{collaboration['id']}"
    function_id = pg.add_function(collaboration["id"])
    shares = {"west-mercia": "0.69", "warwickshire": "0.31"}

    apportioned = pg.post(
        f"{path}/apportionments", {"basis": "fixed_ratio", "shares": shares, **WHEN}, **{"If-Match": '"2"'}
    )
    budget = pg.post(
        f"{path}/functions/{function_id}/budgets", {"financial_year": "2019/20", "annual_budget": "10500000.00", **WHEN}
    )
    stale = pg.post(f"{path}/reviews", {"outcome": "ok", **WHEN}, **{"If-Match": '"2"'})
    refused = pg.post(
        f"{path}/apportionments", {"basis": "fixed_ratio", "shares": {**shares, "warwickshire": "0.3"}, **WHEN}
    )

    assert apportioned.status_code == 201 and apportioned.headers["ETag"] == '"3"'
    assert budget.status_code == 201
    assert_problem(stale, 412, "version-mismatch")
    assert_problem(refused, 422, "shares-do-not-sum-to-one")
    document = pg.get(path).get_json()
    assert document["version"] == 4
    assert document["apportionments"][0]["shares"] == shares
    assert document["functions"][0]["budgets"][0]["annual_budget"] == "10500000.00"
    assert [e["version"] for e in pg.history(collaboration["id"])] == [1, 2, 3, 4]
    register = pg.get(f"{BASE}?party=warwickshire").get_json()
    assert [(i["id"], i["version"]) for i in register["items"]] == [(collaboration["id"], 4)]
    assert [i["position"] for i in pg.get("/api/v1/events").get_json()["items"]] == [1, 2, 3, 4]


def test_idempotent_retries_on_postgres(pg: Http) -> None:
    collaboration = pg.establish()
    path = f"{BASE}/{collaboration['id']}/reviews"

    first = pg.post(path, {"outcome": "ok", **WHEN}, **{"Idempotency-Key": "review-1"})
    retry = pg.post(path, {"outcome": "ok", **WHEN}, **{"Idempotency-Key": "review-1"})
    reused = pg.post(path, {"outcome": "changed", **WHEN}, **{"Idempotency-Key": "review-1"})

    assert first.status_code == retry.status_code == 201
    assert retry.get_json() == first.get_json() and retry.headers["Idempotent-Replayed"] == "true"
    assert_problem(reused, 422, "idempotency-key-reused")
    assert len(pg.history(collaboration["id"])) == 2


def test_tokens_and_access_on_postgres(pg: Http) -> None:
    collaboration = pg.establish()
    auditor = pg.token("auditor")
    suffolk = pg.token("force", "suffolk")
    [record] = [r for r in pg.tokens.list() if r.role == "auditor"]

    assert pg.get(BASE, auditor).status_code == 200
    assert_problem(pg.post(f"{BASE}/{collaboration['id']}/reviews", {"outcome": "ok", **WHEN}, auditor), 403)
    assert_problem(pg.post(f"{BASE}/{collaboration['id']}/reviews", {"outcome": "ok", **WHEN}, suffolk), 403)
    pg.tokens.revoke(record.id)
    assert_problem(pg.get(BASE, auditor), 401)
    assert pg.get("/healthz", token=None).status_code == 200
