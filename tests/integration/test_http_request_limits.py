"""The head of a request is bounded by the app, which answers an over-long URL (414) and too many
or too large header fields (431) as application/problem+json, like every other refusal (issue 13,
defect 9: these were gunicorn's own HTML pages). gunicorn's limits are set above the app's, so
that the app sees every request up to them (tests/e2e/test_request_limits.py sends them through
gunicorn)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from service.limits import MAX_HEADER_FIELD_BYTES, MAX_HEADER_FIELDS, MAX_TARGET_BYTES, header_fields
from tests.integration import http_support
from tests.integration.http_support import Http, assert_problem

http = http_support.http  # the fixture

ROOT = Path(__file__).resolve().parents[2]
FORCES = "/api/v1/forces"


def url_of(length: int) -> str:
    """A URL of exactly ``length`` bytes that the app answers 200 when it reads it."""
    base = f"{FORCES}?"
    return base + "&" * (length - len(base))


def fields_sent(http: Http, headers: dict[str, str]) -> int:
    """How many header fields the app is given for a request with these headers."""
    with http.app.test_request_context(FORCES, headers=headers, environ_base=http.client.environ_base) as context:
        return len(header_fields(context.request.environ))


def test_a_url_up_to_the_limit_is_read_and_one_byte_more_is_a_414_problem(http: Http) -> None:
    assert http.get(url_of(MAX_TARGET_BYTES)).status_code == 200
    response = http.get(url_of(MAX_TARGET_BYTES + 1))
    problem = assert_problem(response, 414, "uri-too-long")
    assert f"at most {MAX_TARGET_BYTES}" in problem["detail"]
    # answered like any other request: its id, no sniffing
    assert response.headers["X-Request-ID"] and response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_url_is_measured_as_sent(http: Http) -> None:
    """Percent-encoded, as on the wire: 'é' is six bytes, %C3%A9."""
    path = f"{FORCES}?x="
    fits = path + "%C3%A9" * ((MAX_TARGET_BYTES - len(path)) // 6)
    assert http.get(fits).status_code != 414
    assert_problem(http.get(fits + "%C3%A9"), 414, "uri-too-long")


def test_up_to_the_most_header_fields_are_read_and_one_more_is_a_431_problem(http: Http) -> None:
    given = http.headers()
    extra = MAX_HEADER_FIELDS - fields_sent(http, given)
    fits = {**given, **{f"X-Field-{number}": "1" for number in range(extra)}}
    assert fields_sent(http, fits) == MAX_HEADER_FIELDS
    assert http.client.get(FORCES, headers=fits).status_code == 200
    problem = assert_problem(http.client.get(FORCES, headers={**fits, "X-One-Too-Many": "1"}), 431)
    assert problem["type"].endswith("/request-header-fields-too-large")
    assert f"{MAX_HEADER_FIELDS + 1} header fields" in problem["detail"]


def test_a_header_field_up_to_the_limit_is_read_and_one_byte_more_is_a_431_problem(http: Http) -> None:
    name = "X-Note"
    value = "v" * (MAX_HEADER_FIELD_BYTES - len(name) - len(": "))
    assert http.get(FORCES, **{name: value}).status_code == 200
    problem = assert_problem(http.get(FORCES, **{name: value + "v"}), 431, "request-header-fields-too-large")
    assert problem["errors"] == {name: [f"at most {MAX_HEADER_FIELD_BYTES} bytes, name and value"]}


@pytest.mark.parametrize("path", ["/api/v1/no-such-thing", "/api/v1/collaborations", "/healthz", "/"])
def test_every_path_is_bounded_known_or_not_public_or_not(path: str, http: Http) -> None:
    assert_problem(http.client.get(f"{path}?{'x' * MAX_TARGET_BYTES}"), 414, "uri-too-long")
    assert_problem(http.client.get(path, headers={"X-Pad": "x" * MAX_HEADER_FIELD_BYTES}), 431)


def test_a_post_over_the_limits_records_nothing(http: Http) -> None:
    log_size = http.log_size()
    response = http.post("/api/v1/collaborations", {**http_support.ALLIANCE}, **{"X-Pad": "p" * MAX_HEADER_FIELD_BYTES})
    assert_problem(response, 431, "request-header-fields-too-large")
    assert http.log_size() == log_size


def test_gunicorn_lets_the_app_answer_everything_up_to_its_limits() -> None:
    """gunicorn.conf.py's limits are above the app's (a request line is the method, the URL and
    the version), and within what gunicorn allows (it reads at most 8190 bytes of request line)."""
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert MAX_TARGET_BYTES + len("OPTIONS  HTTP/1.1") < settings["limit_request_line"] <= 8190
    assert MAX_HEADER_FIELDS < settings["limit_request_fields"] <= 32768
    assert settings["limit_request_field_size"] > MAX_HEADER_FIELD_BYTES
