"""Through gunicorn: an over-long URL, too many header fields and an oversized header field are
answered by the app as application/problem+json (414, 431), not by gunicorn's own HTML page; only
beyond gunicorn's own limits (gunicorn.conf.py, docs/operations.md) does gunicorn answer itself."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest
import requests

from service.limits import MAX_HEADER_FIELD_BYTES, MAX_HEADER_FIELDS, MAX_TARGET_BYTES

pytestmark = pytest.mark.e2e

PROBLEM_JSON = "application/problem+json"
PROBLEMS = "https://collaboration-records/problems/"


def problem(response: requests.Response, status: int, kind: str) -> dict:
    assert response.status_code == status, response.text[:500]
    assert response.headers["Content-Type"] == PROBLEM_JSON, response.headers
    body = response.json()
    assert body["status"] == status and body["type"] == PROBLEMS + kind, body
    assert response.headers["X-Request-ID"]
    return body


def raw_request(base_url: str, head: bytes) -> bytes:
    """Sends ``head`` as it is (requests would refuse or fix some of these) and reads the answer."""
    address = urlsplit(base_url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as connection:
        connection.sendall(head)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def test_the_app_answers_oversized_heads_through_gunicorn_as_problems(gunicorn_service) -> None:
    healthz = f"{gunicorn_service.base_url}/healthz"
    assert requests.get(healthz, timeout=30).status_code == 200

    long_url = f"{healthz}?{'x' * MAX_TARGET_BYTES}"  # over the app's limit, within gunicorn's
    body = problem(requests.get(long_url, timeout=30), 414, "uri-too-long")
    assert f"at most {MAX_TARGET_BYTES}" in body["detail"]

    big = {"X-Note": "n" * MAX_HEADER_FIELD_BYTES}  # over the app's limit, within gunicorn's
    body = problem(requests.get(healthz, headers=big, timeout=30), 431, "request-header-fields-too-large")
    assert list(body["errors"]) == ["X-Note"]

    many = {f"X-Field-{number}": "1" for number in range(MAX_HEADER_FIELDS + 1)}
    problem(requests.get(healthz, headers=many, timeout=30), 431, "request-header-fields-too-large")

    # and a write over a limit records nothing: the request never reaches a route
    token = gunicorn_service.create_token("--role", "admin", "--name", "limits")
    refused = requests.post(
        f"{gunicorn_service.base_url}/api/v1/collaborations",
        json={},
        headers={"Authorization": f"Bearer {token}", **big},
        timeout=30,
    )
    problem(refused, 431, "request-header-fields-too-large")


def test_beyond_its_own_limits_gunicorn_answers_itself_as_documented(gunicorn_service) -> None:
    """docs/operations.md, "Request limits": gunicorn's own refusals are HTML, and close."""
    base = gunicorn_service.base_url
    line = raw_request(base, b"GET /healthz?" + b"x" * 8200 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert line.startswith(b"HTTP/1.1 414 ") and b"Content-Type: text/html" in line, line[:300]
    field = raw_request(base, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20_000 + b"\r\n\r\n")
    assert field.startswith(b"HTTP/1.1 431 ") and b"Content-Type: text/html" in field, field[:300]
    # the service is unharmed
    assert requests.get(f"{base}/healthz", timeout=30).status_code == 200
