"""Helpers for the HTTP tests: an app on a fresh database with an admin token, and a small
client that speaks the API's conventions (bearer token, JSON bodies)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from service.app import create_app
from service.auth import TokenStore

PROBLEM_JSON = "application/problem+json"
# Asks a write for the whole document rather than the compact answer it gives by default.
REPRESENTATION = {"Prefer": "return=representation"}
PROBLEM_BASE = "https://collaboration-records/problems/"
WHEN = {"effective_on": "2012-04-01", "reason": "Agreed by the Alliance board", "approval_ref": "AB-2012-04"}
ALLIANCE = {
    "name": "Strategic Alliance",
    "purpose": "Pool most services of West Mercia and Warwickshire",
    "parties": ["west-mercia", "warwickshire"],
    "lead_force": "west-mercia",
    "governance_body": "Alliance Governance Group",
    "review_cycle_months": 12,
    **WHEN,
}


@dataclass
class Http:
    """The test client with an admin token, plus shortcuts for the common requests."""

    app: Flask
    client: FlaskClient
    admin: str
    tokens: TokenStore = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = self.app.extensions["tokens"]

    def token(self, role: str, force: str | None = None, name: str | None = None) -> str:
        return self.tokens.create(name=name or f"Test {role}", role=role, force=force)[1]

    def headers(self, token: str | None = "admin", **extra: str) -> dict[str, str]:
        token = self.admin if token == "admin" else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return {**headers, **extra}

    def get(self, path: str, token: str | None = "admin", **headers: str) -> TestResponse:
        return self.client.get(path, headers=self.headers(token, **headers))

    def post(self, path: str, body: Any, token: str | None = "admin", **headers: str) -> TestResponse:
        return self.client.post(path, json=body, headers=self.headers(token, **headers))

    def establish(self, token: str | None = "admin", **overrides: Any) -> dict[str, Any]:
        response = self.post("/api/v1/collaborations", {**ALLIANCE, **overrides}, token)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def add_function(self, collaboration_id: str, **overrides: Any) -> str:
        body = {
            "name": "Alliance ICT Dept",
            "kind": "enabling",
            "host_force": "west-mercia",
            "annual_budget": "10000000.00",
            **WHEN,
            **overrides,
        }
        response = self.post(f"/api/v1/collaborations/{collaboration_id}/functions", body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()["function_id"]

    def history(self, collaboration_id: str) -> list[dict[str, Any]]:
        """The collaboration's whole history, page after page."""
        items: list[dict[str, Any]] = []
        after = 0
        while True:
            response = self.get(f"/api/v1/collaborations/{collaboration_id}/history?after={after}")
            assert response.status_code == 200, response.get_json()
            items += response.get_json()["items"]
            after = response.get_json()["next_after"]
            if after is None:
                return items

    def version(self, collaboration_id: str) -> int:
        response = self.get(f"/api/v1/collaborations/{collaboration_id}")
        assert response.status_code == 200, response.get_json()
        return response.get_json()["version"]

    def log_size(self) -> int:
        return self.app.extensions["records"].log_size()


def http_for(database_url: str) -> Iterator[Http]:
    app = create_app({"DATABASE_URL": database_url, "TESTING": True})
    admin = app.extensions["tokens"].create(name="Test admin", role="admin")[1]
    try:
        yield Http(app, app.test_client(), admin)
    finally:
        app.extensions["register"].close()
        app.extensions["decision_log"].close()
        app.extensions["exit_cost_history"].close()
        app.extensions["benefits_realisation"].close()
        if "benefits_realisation" in app.extensions:
            app.extensions["benefits_realisation"].close()
        app.extensions["event_streams"].close()
        app.extensions["webhooks"].store.close()
        app.extensions["records"].close()


def assert_problem(response: TestResponse, status: int, problem: str | None = None) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status (and this type, if given)."""
    body = response.get_json(force=True)
    assert response.status_code == status, body
    assert response.mimetype == PROBLEM_JSON, response.mimetype
    assert {"type", "title", "status", "detail"} <= set(body), body
    assert body["status"] == status
    assert body["detail"].strip() and body["title"].strip()
    if problem is not None:
        assert body["type"] == PROBLEM_BASE + problem, body
    return body


@pytest.fixture
def http(memory_url: str) -> Iterator[Http]:
    """The app on an in-memory store: SQLite without a disk, gone when the test ends."""
    yield from http_for(memory_url)


@pytest.fixture
def http_file(sqlite_url: str) -> Iterator[Http]:
    """The app on a SQLite file, for a test that needs one: a backup, a second process or a
    second app on the same store, or reading the file beside the app."""
    yield from http_for(sqlite_url)


@pytest.fixture
def http_any(database_url: str) -> Iterator[Http]:
    """The same app on SQLite and, where a server answers, on PostgreSQL."""
    yield from http_for(database_url)


@pytest.fixture
def collaboration(http: Http) -> dict[str, Any]:
    return http.establish()


# ------------------------------------------------------------------------- every write
# Each write endpoint with a valid body (without the provenance of WHEN), given the ids of a
# collaboration and of one of its functions. Tests that must cover every write use this table;
# test_http_write_access.py checks it names every POST route the app has.
def write_requests(collaboration_id: str, function_id: str) -> dict[str, tuple[str, dict[str, Any]]]:
    one = f"/api/v1/collaborations/{collaboration_id}"
    return {
        "create": ("/api/v1/collaborations", {key: ALLIANCE[key] for key in ALLIANCE if key not in WHEN}),
        "parties": (f"{one}/parties", {"force": "dorset"}),
        "functions": (
            f"{one}/functions",
            {"name": "Dogs", "kind": "operational", "host_force": "warwickshire", "annual_budget": "2000000.00"},
        ),
        "budgets": (f"{one}/functions/{function_id}/budgets", {"financial_year": "2019/20", "annual_budget": "2.00"}),
        "apportionments": (
            f"{one}/apportionments",
            {"function_id": None, "basis": "fixed_ratio", "shares": {"west-mercia": "0.69", "warwickshire": "0.31"}},
        ),
        "exit-terms": (
            f"{one}/exit-terms",
            {
                "notice_period_months": 12,
                "stranded_cost_rate": "0.25",
                "stranded_cost_months": 6,
                "caps": {"H4": "1.00"},
            },
        ),
        "assets": (
            f"{one}/assets",
            {
                "name": "Alliance HQ",
                "cost": "3000000.00",
                "acquired_on": "2016-04-01",
                "useful_life_months": 60,
                "funded_shares": {"west-mercia": "0.69", "warwickshire": "0.31"},
            },
        ),
        "contracts": (
            f"{one}/contracts",
            {
                "supplier": "Acme ICT",
                "function_id": function_id,
                "annual_value": "250000.00",
                "ends_on": "2021-03-31",
                "break_cost": "400000.00",
            },
        ),
        "reviews": (f"{one}/reviews", {"outcome": "Continue as agreed"}),
        "variations": (f"{one}/variations", {"clause": "7.2", "summary": "Notice is 12 months"}),
        "withdrawal-notices": (f"{one}/withdrawal-notices", {"force": "warwickshire"}),
        "withdrawals": (f"{one}/withdrawal-notices/withdrawals", {"force": "warwickshire"}),
        "decoupling": (
            f"{one}/functions/{function_id}/decoupling",
            {"decided_by": "Alliance Governance Group", "rationale": "Local policing separated"},
        ),
        "directions": (f"{one}/directions", {"new_exit_on": "2019-10-09", "summary": "Exit deferred six months"}),
        "party-withdrawals": (f"{one}/party-withdrawals", {"force": "warwickshire"}),
        "termination": (f"{one}/termination", {}),
    }


# The writes that need earlier writes to succeed (a notice needs exit terms; withdrawing a notice
# or giving a direction needs a live notice), in the order to send them.
PREREQUISITES: dict[str, tuple[str, ...]] = {
    "withdrawal-notices": ("exit-terms",),
    "withdrawals": ("exit-terms", "withdrawal-notices"),
    "directions": ("exit-terms", "withdrawal-notices"),
    "party-withdrawals": ("exit-terms", "withdrawal-notices"),
}


def prepare(http: Http, collaboration_id: str, function_id: str, endpoint: str) -> int:
    """Sends the prerequisites of ``endpoint``; answers the collaboration's version after them."""
    requests = write_requests(collaboration_id, function_id)
    for name in PREREQUISITES.get(endpoint, ()):
        path, body = requests[name]
        response = http.post(path, {**WHEN, **body})
        assert response.status_code == 201, response.get_json()
    return http.version(collaboration_id)


WRITES = tuple(write_requests("id", "function"))


# ------------------------------------------------------------------------- benefit writes
# Each benefit write endpoint with a valid body (without the provenance of WHEN), given a
# collaboration and a benefit of it as ``identify_benefit`` leaves it (version 2: identified at
# stage 3 and realising, one measurement for 2019-04-01 to 2019-06-30). The create identifies
# another benefit. Names are the path's last segment, under "benefits/" for /api/v1/benefits/...
# A measurement takes effect once its period has ended, so its body carries its own effective_on
# (the 10th of the month after), which overrides WHEN's.
BENEFIT = {
    "title": "Shared ICT savings",
    "category": "1",
    "sub_category": "1a",
    "pillar": "cost",
    "direction": "increase",
    "measure": "Cashable savings against the ICT revenue budget",
    "unit": "GBP",
    "baseline": {"value": "0.00", "on": "2019-04-01"},
    "target": {"value": "100000.00", "on": "2021-03-31"},
    "owner": "Alliance ICT Director",
    "stage": 3,
    "status": "realising",
}


def benefit_write_requests(collaboration_id: str, benefit_id: str) -> dict[str, tuple[str, dict[str, Any]]]:
    one = f"/api/v1/benefits/{benefit_id}"
    return {
        "benefits": (f"/api/v1/collaborations/{collaboration_id}/benefits", {**BENEFIT, "title": "Dogs savings"}),
        "benefits/measurements": (
            f"{one}/measurements",
            {
                "period_start": "2019-07-01",
                "period_end": "2019-09-30",
                "value": "12500.00",
                "source": "Ledger",
                "effective_on": "2019-10-10",
            },
        ),
        "benefits/stage": (f"{one}/stage", {"stage": 4, "status": "handed_to_bau"}),
        "benefits/target": (f"{one}/target", {"value": "120000.00", "on": "2021-03-31"}),
        "benefits/baseline": (f"{one}/baseline", {"value": "1000.00", "on": "2019-04-01"}),
        "benefits/definition": (f"{one}/definition", {"owner": "Alliance Chief Finance Officer"}),
        "benefits/reopening": (f"{one}/reopening", {"status": "validated"}),
        "benefits/link": (f"{one}/link", {"function_id": None, "objective": "Cheaper shared ICT"}),
        "benefits/confidence": (f"{one}/confidence", {"confidence": "high"}),
        "benefits/profile": (
            f"{one}/profile",
            {
                "periods": [
                    {"period_start": "2019-04-01", "period_end": "2020-03-31", "value": "40000.00"},
                    {"period_start": "2020-04-01", "period_end": "2021-03-31", "value": "60000.00"},
                ]
            },
        ),
        "benefits/rag": (f"{one}/rag", {"rag": "amber"}),
    }


BENEFIT_WRITES = tuple(benefit_write_requests("id", "benefit"))


def identify_benefit(http: Http, collaboration_id: str) -> str:
    """A benefit of the collaboration at version 2 (identified, one measurement): its id."""
    response = http.post(f"/api/v1/collaborations/{collaboration_id}/benefits", {**WHEN, **BENEFIT})
    assert response.status_code == 201, response.get_json()
    benefit_id = response.get_json()["id"]
    measured = http.post(
        f"/api/v1/benefits/{benefit_id}/measurements",
        {
            **WHEN,
            "period_start": "2019-04-01",
            "period_end": "2019-06-30",
            "value": "10000.00",
            "source": "Ledger",
            "effective_on": "2019-07-10",  # once the quarter has ended
        },
    )
    assert measured.status_code == 201, measured.get_json()
    assert measured.get_json()["version"] == 2
    return benefit_id


def benefit_version(http: Http, benefit_id: str) -> int:
    response = http.get(f"/api/v1/benefits/{benefit_id}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["version"]
