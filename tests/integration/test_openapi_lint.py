"""The OpenAPI document has no errors for the strict linters other tools use: Spectral (its
``spectral:oas`` ruleset) and Redocly (its recommended rules). ``bin/setup-openapi-lint``
installs both, at the versions of ``tests/openapi_lint/package-lock.json``; where they are not
installed (no Node.js or npm), these tests are skipped with that reason."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.integration import http_support
from tests.integration.http_support import Http

http = http_support.http  # the fixture
TOOLS = Path(__file__).resolve().parents[1] / "openapi_lint"
BIN = TOOLS / "node_modules" / ".bin"


def tool(name: str) -> Path:
    path = BIN / name
    if not path.exists():
        pytest.skip(f"{name} is not installed: run bin/setup-openapi-lint (needs Node.js and npm)")
    return path


def document(http: Http, tmp_path: Path) -> Path:
    response = http.get("/api/v1/openapi.json", token=None)
    assert response.status_code == 200
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(response.get_json()))
    return path


def test_spectral_finds_no_error(http: Http, tmp_path: Path) -> None:
    spectral = tool("spectral")
    spec = document(http, tmp_path)
    report = tmp_path / "spectral.json"
    completed = subprocess.run(
        [
            *(str(spectral), "lint", str(spec), "--ruleset", str(TOOLS / ".spectral.yaml")),
            *("--format", "json", "--output", str(report), "--quiet"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    problems = json.loads(report.read_text())
    errors = [p for p in problems if p["severity"] == 0]  # 0 error, 1 warning, 2 info, 3 hint
    assert errors == [], errors[:5]
    assert completed.returncode == 0, completed.stderr[-2000:]


def test_redocly_finds_no_error(http: Http, tmp_path: Path) -> None:
    redocly = tool("redocly")
    spec = document(http, tmp_path)
    completed = subprocess.run(
        [str(redocly), "lint", str(spec), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    report = json.loads(completed.stdout)
    errors = [p for p in report["problems"] if p["severity"] == "error"]
    assert errors == [], errors[:5]
    assert report["totals"]["errors"] == 0
    assert completed.returncode == 0, completed.stderr[-2000:]


def test_the_linters_do_find_errors(tmp_path: Path) -> None:
    """Both tools fail a document with known errors (an enum that leaves out its default; a
    reference to a schema that is not there), and say so, so a pass above means something."""
    spectral, redocly = tool("spectral"), tool("redocly")
    broken = tmp_path / "broken.json"
    broken.write_text(
        json.dumps(
            {
                "openapi": "3.1.0",
                "info": {"title": "t", "version": "1", "description": "d", "contact": {"name": "c"}},
                "servers": [{"url": "/"}],
                "tags": [{"name": "x", "description": "x"}],
                "paths": {
                    "/x": {
                        "get": {
                            "operationId": "x",
                            "description": "d",
                            "tags": ["x"],
                            "parameters": [
                                {
                                    "name": "q",
                                    "in": "query",
                                    "schema": {"type": "string", "enum": ["a", "b"], "default": "c"},
                                }
                            ],
                            "responses": {
                                "200": {
                                    "description": "ok",
                                    "content": {
                                        "application/json": {"schema": {"$ref": "#/components/schemas/Missing"}}
                                    },
                                },
                                "400": {"description": "bad"},
                            },
                        }
                    }
                },
            }
        )
    )
    linted = subprocess.run(
        [str(spectral), "lint", str(broken), "--ruleset", str(TOOLS / ".spectral.yaml"), "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert linted.returncode != 0 and "oas3-valid-schema-example" in linted.stdout, linted.stdout
    linted = subprocess.run(
        [str(redocly), "lint", str(broken)], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert linted.returncode != 0 and "no-unresolved-refs" in linted.stdout + linted.stderr, linted.stderr
