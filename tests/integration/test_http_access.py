"""Access control over HTTP, and the tokens CLI."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from tests.integration import http_support
from tests.integration.http_support import ALLIANCE, WHEN, Http, assert_problem

# Fixtures shared by the HTTP tests.
collaboration = http_support.collaboration
http = http_support.http
http_file = http_support.http_file

BASE = "/api/v1/collaborations"
REVIEW = {"outcome": "Continue as agreed", **WHEN}


# ------------------------------------------------------------------------------ 401: who?
@pytest.mark.parametrize("path", [BASE, "/api/v1/forces", "/api/v1/events"])
def test_reads_need_a_token(http: Http, path: str) -> None:
    response = http.get(path, token=None)
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_reading_one_collaboration_needs_a_token(http: Http, collaboration: dict[str, Any]) -> None:
    assert_problem(http.get(f"{BASE}/{collaboration['id']}", token=None), 401)
    assert_problem(http.get(f"{BASE}/{collaboration['id']}/history", token=None), 401)


def test_a_write_without_a_token_is_401_and_records_nothing(http: Http, collaboration: dict[str, Any]) -> None:
    response = http.post(f"{BASE}/{collaboration['id']}/reviews", REVIEW, token=None)
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="collaboration-records"'
    assert_problem(http.post(BASE, ALLIANCE, token=None), 401)
    assert http.log_size() == 1


@pytest.mark.parametrize(
    "authorization",
    ["Bearer crs_not-a-real-token", "Bearer nonsense", "Bearer ", "Basic YWRtaW46YWRtaW4=", "crs_abc"],
)
def test_a_bad_token_is_401(http: Http, collaboration: dict[str, Any], authorization: str) -> None:
    response = http.client.post(
        f"{BASE}/{collaboration['id']}/reviews", json=REVIEW, headers={"Authorization": authorization}
    )
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert http.log_size() == 1


def test_an_unknown_token_says_so_in_www_authenticate(http: Http) -> None:
    response = http.get(BASE, token="crs_" + "x" * 43)
    assert_problem(response, 401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_revoked_token_stops_working_at_once(http: Http, collaboration: dict[str, Any]) -> None:
    token = http.token("admin", name="Leaver")
    assert http.post(f"{BASE}/{collaboration['id']}/reviews", REVIEW, token).status_code == 201
    [record] = [r for r in http.tokens.list() if r.name == "Leaver"]

    http.tokens.revoke(record.id)

    assert_problem(http.post(f"{BASE}/{collaboration['id']}/reviews", REVIEW, token), 401)
    assert_problem(http.get(BASE, token), 401)
    assert http.version(collaboration["id"]) == 2


# ------------------------------------------------------------------------------ auditors
def test_an_auditor_reads_everything(http: Http, collaboration: dict[str, Any]) -> None:
    auditor = http.token("auditor")
    for path in (
        BASE,
        f"{BASE}/{collaboration['id']}",
        f"{BASE}/{collaboration['id']}/history",
        "/api/v1/events",
        "/api/v1/forces",
    ):
        assert http.get(path, auditor).status_code == 200, path


@pytest.mark.parametrize(
    ("tail", "body"),
    [("", ALLIANCE), ("/{id}/reviews", REVIEW), ("/{id}/parties", {"force": "dorset", **WHEN})],
)
def test_an_auditor_may_not_write(http: Http, collaboration: dict[str, Any], tail: str, body: dict[str, Any]) -> None:
    auditor = http.token("auditor")
    response = http.post(BASE + tail.format(id=collaboration["id"]), body, auditor)
    assert_problem(response, 403, "not-permitted")
    assert http.log_size() == 1


# ---------------------------------------------------------------------------- force tokens
def test_a_force_token_creates_a_collaboration_its_force_is_party_to(http: Http) -> None:
    west_mercia = http.token("force", "west-mercia", name="WM finance")

    created = http.establish(west_mercia)

    [event] = http.history(created["id"])
    [record] = [r for r in http.tokens.list() if r.name == "WM finance"]
    assert event["actor"] == f"WM finance (force west-mercia, token {record.id})"


def test_a_force_token_may_not_create_a_collaboration_between_other_forces(http: Http) -> None:
    suffolk = http.token("force", "suffolk")
    assert_problem(http.post(BASE, ALLIANCE, suffolk), 403, "not-permitted")
    assert http.log_size() == 0


def test_a_force_token_writes_to_collaborations_its_force_is_party_to(
    http: Http, collaboration: dict[str, Any]
) -> None:
    warwickshire = http.token("force", "warwickshire", name="Warks")

    review = http.post(f"{BASE}/{collaboration['id']}/reviews", REVIEW, warwickshire)
    joined = http.post(f"{BASE}/{collaboration['id']}/parties", {"force": "dorset", **WHEN}, warwickshire)

    assert review.status_code == 201 and joined.status_code == 201
    [record] = [r for r in http.tokens.list() if r.name == "Warks"]
    assert [e["actor"] for e in http.history(collaboration["id"])][1:] == [
        f"Warks (force warwickshire, token {record.id})",
        f"Warks (force warwickshire, token {record.id})",
    ]


@pytest.mark.parametrize(
    ("tail", "body"),
    [
        ("/reviews", REVIEW),
        ("/parties", {"force": "suffolk", **WHEN}),
        (
            "/functions",
            {"name": "Dogs", "kind": "operational", "host_force": "west-mercia", "annual_budget": "1.00", **WHEN},
        ),
        ("/variations", {"clause": "1", "summary": "s", **WHEN}),
    ],
)
def test_a_force_token_may_not_write_to_a_collaboration_its_force_is_not_party_to(
    http: Http, collaboration: dict[str, Any], tail: str, body: dict[str, Any]
) -> None:
    suffolk = http.token("force", "suffolk")
    response = http.post(f"{BASE}/{collaboration['id']}{tail}", body, suffolk)
    assert_problem(response, 403, "not-permitted")
    assert len(http.history(collaboration["id"])) == 1


def test_a_force_token_reads_any_collaboration(http: Http, collaboration: dict[str, Any]) -> None:
    suffolk = http.token("force", "suffolk")
    assert http.get(f"{BASE}/{collaboration['id']}", suffolk).status_code == 200


# ------------------------------------------------------------------------------ token store
def test_only_a_hash_of_each_token_is_stored(http_file: Http, sqlite_url: str) -> None:
    """Reads the store's file beside the app: on a file, not in memory."""
    token = http_file.token("auditor", name="Stored")
    path = sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT * FROM api_tokens").fetchall()
    assert rows and not any(token in str(value) for row in rows for value in row)
    assert token.startswith("crs_") and len(token) > 40


@pytest.mark.parametrize(
    ("role", "force"), [("force", None), ("force", "gotham"), ("admin", "dorset"), ("superuser", None)]
)
def test_the_store_refuses_tokens_that_make_no_sense(http: Http, role: str, force: str | None) -> None:
    from service.auth import InvalidTokenRequest

    with pytest.raises(InvalidTokenRequest):
        http.tokens.create(name="x", role=role, force=force)


# ------------------------------------------------------------------------------ tokens CLI
def invoke(http: Http, *arguments: str) -> Any:
    return http.app.test_cli_runner().invoke(args=["tokens", *arguments])


def test_cli_creates_a_token_printed_last_that_works(http: Http, collaboration: dict[str, Any]) -> None:
    result = invoke(http, "create", "--role", "force", "--force", "west-mercia", "--name", "WM ops")

    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("crs_")
    response = http.post(f"{BASE}/{collaboration['id']}/reviews", REVIEW, token)
    assert response.status_code == 201
    [record] = [r for r in http.tokens.list() if r.name == "WM ops"]
    assert record.id in result.output
    assert http.history(collaboration["id"])[-1]["actor"] == f"WM ops (force west-mercia, token {record.id})"


def test_cli_lists_tokens_without_the_tokens(http: Http) -> None:
    created = invoke(http, "create", "--role", "auditor", "--name", "Internal audit")
    token = created.output.strip().splitlines()[-1]

    listed = invoke(http, "list")

    assert listed.exit_code == 0
    assert "Internal audit" in listed.output and "auditor" in listed.output
    assert token not in listed.output
    assert token.removeprefix("crs_")[:12] not in listed.output


def test_cli_revokes_a_token(http: Http) -> None:
    token = invoke(http, "create", "--role", "auditor", "--name", "Temp").output.strip().splitlines()[-1]
    [record] = [r for r in http.tokens.list() if r.name == "Temp"]
    assert http.get(BASE, token).status_code == 200

    result = invoke(http, "revoke", record.id)

    assert result.exit_code == 0, result.output
    assert_problem(http.get(BASE, token), 401)
    assert http.tokens.get(record.id).revoked_at is not None
    assert invoke(http, "revoke", "no-such-id").exit_code != 0


@pytest.mark.parametrize(
    "arguments",
    [
        ("--role", "force", "--name", "No force"),
        ("--role", "force", "--force", "gotham", "--name", "Bad force"),
        ("--role", "admin", "--force", "dorset", "--name", "Admin with force"),
        ("--role", "root", "--name", "Bad role"),
        ("--role", "admin"),
    ],
)
def test_cli_refuses_bad_token_requests(http: Http, arguments: tuple[str, ...]) -> None:
    before = len(http.tokens.list())
    result = invoke(http, "create", *arguments)
    assert result.exit_code != 0
    assert len(http.tokens.list()) == before
