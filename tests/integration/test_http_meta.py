"""Liveness, the OpenAPI document, forces, the event feed, and problem+json for every error."""

from __future__ import annotations

import re
from typing import Any

import pytest
from eventsourcing.persistence import OperationalError

from service.resources.events.schemas import FeedSchema
from tests.integration import http_support
from tests.integration.http_support import WHEN, Http, assert_problem

# Fixtures shared by the HTTP tests.
collaboration = http_support.collaboration
http = http_support.http

BASE = "/api/v1/collaborations"


def routes_served(http: Http) -> dict[str, set[str]]:
    """Every route the app serves under /api/v1 (and /healthz), in OpenAPI spelling
    (``<uuid:collaboration_id>`` is ``{collaboration_id}``), with its methods, the OpenAPI
    document itself included."""
    routes: dict[str, set[str]] = {}
    for rule in http.app.url_map.iter_rules():
        if not rule.rule.startswith(("/api/v1/", "/healthz", "/readyz")):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        routes.setdefault(path, set()).update(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
    return routes


# --------------------------------------------------------------------------------- healthz
def test_healthz_needs_no_token_and_says_ok(http: Http) -> None:
    response = http.get("/healthz", token=None)
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_healthz_is_503_when_the_store_does_not_answer(http: Http, monkeypatch) -> None:
    def broken() -> int:
        raise OperationalError("unable to open database file")

    monkeypatch.setattr(http.app.extensions["records"], "log_size", broken)
    response = http.get("/healthz", token=None)
    assert_problem(response, 503, "unavailable")
    assert response.headers["Retry-After"] == "1"


# --------------------------------------------------------------------------------- OpenAPI
@pytest.fixture
def spec(http: Http) -> dict[str, Any]:
    response = http.get("/api/v1/openapi.json", token=None)
    assert response.status_code == 200
    return response.get_json()


def test_openapi_documents_every_route_and_method_the_app_serves(http: Http, spec: dict[str, Any]) -> None:
    served = routes_served(http)
    documented = {path: set(item) - {"parameters"} for path, item in spec["paths"].items()}

    assert served == documented
    # The derivation itself found the routes (so the comparison above is not of two empties).
    assert served["/api/v1/collaborations"] == {"get", "post"}
    assert served["/api/v1/collaborations/{collaboration_id}/functions/{function_id}/budgets"] == {"post"}
    assert len(served) >= 15


def test_openapi_documents_problems_and_security_for_every_operation(spec: dict[str, Any]) -> None:
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        **spec["components"]["securitySchemes"]["bearerAuth"],
        "type": "http",
        "scheme": "bearer",
    }
    problem = spec["components"]["responses"]["UNPROCESSABLE_ENTITY"]["content"]
    assert problem == {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert set(spec["components"]["schemas"]["Problem"]["properties"]) == {
        "type",
        "title",
        "status",
        "detail",
        "errors",
        "errors_total",
    }
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            responses = operation["responses"]
            assert "default" in responses, (path, method)
            if path in ("/healthz", "/readyz", "/api/v1/openapi.json"):  # public
                assert operation["security"] == []
                continue
            assert operation["security"] == [{"bearerAuth": []}], (path, method)
            assert "401" in responses, (path, method)
            if method == "post":
                for status in ("400", "403", "415", "422"):
                    assert status in responses, (path, method, status)
                if path.startswith(("/api/v1/audit/", "/api/v1/webhooks/")):  # checkpoints, witnesses,
                    continue  # webhook subscriptions: no event, no version
                if path.endswith("/benefits/register"):  # many benefits, no one version to match; a file
                    continue  # imported again records nothing, so it needs no Idempotency-Key
                assert "412" in responses, (path, method)
                assert {p["name"] for p in operation["parameters"]} >= {"If-Match", "Idempotency-Key"}
                assert "ETag" in responses["201"]["headers"]
            if "{collaboration_id}" in path:
                assert "404" in responses, (path, method)


def test_openapi_documents_money_and_shares_as_decimal_strings(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    budget = schemas["AddFunction"]["properties"]["annual_budget"]
    assert budget["type"] == "string" and budget["format"] == "decimal"
    shares = schemas["Apportionment"]["properties"]["shares"]["additionalProperties"]
    assert shares["type"] == "string" and shares["format"] == "decimal"
    assert schemas["CollaborationDocument"]["properties"]["functions"]["items"] == {
        "$ref": "#/components/schemas/FunctionDocument"
    }


# ---------------------------------------------------------------------------------- forces
def test_forces_lists_the_43_territorial_forces(http: Http) -> None:
    items = http.get("/api/v1/forces").get_json()["items"]
    assert len(items) == 43
    assert {"code": "west-mercia", "name": "West Mercia Police", "country": "England"} in items
    assert sum(item["country"] == "Wales" for item in items) == 4


# -------------------------------------------------------------------------------- the feed
def test_the_feed_pages_through_every_event_in_order(http: Http, collaboration: dict[str, Any]) -> None:
    other = http.establish(name="Other")
    http.post(f"{BASE}/{collaboration['id']}/reviews", {"outcome": "ok", **WHEN})

    first = http.get("/api/v1/events?limit=2")
    rest = http.get(f"/api/v1/events?after={first.get_json()['next_after']}")
    end = http.get(f"/api/v1/events?after={rest.get_json()['next_after']}")

    assert first.status_code == 200 and FeedSchema().validate(first.get_json()) == {}
    assert [(i["position"], i["stream_id"], i["type"]) for i in first.get_json()["items"]] == [
        (1, collaboration["id"], "Collaboration.Established"),
        (2, other["id"], "Collaboration.Established"),
    ]
    assert first.get_json()["next_after"] == 2
    assert [(i["position"], i["type"]) for i in rest.get_json()["items"]] == [(3, "Collaboration.ReviewHeld")]
    assert rest.get_json()["items"][0]["data"] == {"outcome": "ok"}
    assert end.get_json() == {"items": [], "next_after": 3}


@pytest.mark.parametrize("query", ["limit=1001", "limit=0", "after=-1", "after=x", "since=1"])
def test_bad_feed_queries_are_422(http: Http, query: str) -> None:
    assert_problem(http.get(f"/api/v1/events?{query}"), 422, "validation-failed")


# ------------------------------------------------------------- problem+json for every error
def test_an_unknown_route_is_a_404_problem(http: Http) -> None:
    assert_problem(http.get("/api/v1/nothing-here"), 404, "not-found")
    assert_problem(http.get("/nothing-here", token=None), 404, "not-found")


def test_an_unsupported_method_is_a_405_problem_with_allow(http: Http, collaboration: dict[str, Any]) -> None:
    response = http.client.delete(f"{BASE}/{collaboration['id']}", headers=http.headers())
    assert_problem(response, 405, "method-not-allowed")
    assert "GET" in response.headers["Allow"]
    assert_problem(http.client.put(BASE, json={}, headers=http.headers()), 405)


def test_a_body_that_is_not_json_is_a_400_problem(http: Http, collaboration: dict[str, Any]) -> None:
    response = http.client.post(
        f"{BASE}/{collaboration['id']}/reviews",
        data='{"outcome": "ok",',
        content_type="application/json",
        headers=http.headers(),
    )
    problem = assert_problem(response, 400, "bad-request")
    assert "JSON" in problem["detail"]


def test_a_body_that_is_not_utf8_is_a_400_problem(http: Http, collaboration: dict[str, Any]) -> None:
    response = http.client.post(
        f"{BASE}/{collaboration['id']}/reviews",
        data=b'{"outcome": "\xff"}',
        content_type="application/json",
        headers=http.headers(),
    )
    assert_problem(response, 400)


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_declared_json_is_a_415_problem(
    http: Http, collaboration: dict[str, Any], content_type: str | None
) -> None:
    response = http.client.post(
        f"{BASE}/{collaboration['id']}/reviews",
        data='{"outcome": "ok"}',
        content_type=content_type,
        headers=http.headers(),
    )
    assert_problem(response, 415, "unsupported-media-type")


def test_an_oversized_body_is_a_413_problem(http: Http, collaboration: dict[str, Any]) -> None:
    huge = {"outcome": "x" * (2 * 1024 * 1024), **WHEN}
    assert_problem(http.post(f"{BASE}/{collaboration['id']}/reviews", huge), 413)


@pytest.mark.parametrize(
    "body", ["[]", "[1, 2]", '"text"', "42", "null", "", '{"": 1}', '{"outcome": {"nested": true}}', "NaN"]
)
def test_json_of_the_wrong_shape_is_a_422_problem_never_a_500(
    http: Http, collaboration: dict[str, Any], body: str
) -> None:
    response = http.client.post(
        f"{BASE}/{collaboration['id']}/reviews", data=body, content_type="application/json", headers=http.headers()
    )
    assert_problem(response, 422, "validation-failed")
    assert http.log_size() == 1


def test_an_unexpected_error_is_a_500_problem_without_internals(http: Http, monkeypatch) -> None:
    def broken(**kwargs: Any) -> Any:
        raise RuntimeError("secret internals")

    http.app.config["PROPAGATE_EXCEPTIONS"] = False
    monkeypatch.setattr(http.app.extensions["register"], "search", broken)
    response = http.get(BASE)
    problem = assert_problem(response, 500, "internal-error")
    assert "secret" not in response.get_data(as_text=True)
    assert problem["detail"]
