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
        response = self.get(f"/api/v1/collaborations/{collaboration_id}/history")
        assert response.status_code == 200, response.get_json()
        return response.get_json()["items"]

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
def http(sqlite_url: str) -> Iterator[Http]:
    yield from http_for(sqlite_url)


@pytest.fixture
def collaboration(http: Http) -> dict[str, Any]:
    return http.establish()
