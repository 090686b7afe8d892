"""What one request may cost. Every list and map a request takes is bounded (``maxItems``,
``maxProperties``), and the bound is checked before any element is; a problem lists at most the
first few errors and counts the rest; so no request, however large or wrong, costs more than a
fraction of a second of CPU or tens of MB, nor answers with more than a few kilobytes.

Before the bounds, 1 MiB of empty claim lines (``"lines": [{}, {}, …]``) took a worker 11-30 s
of CPU and hundreds of MiB, and answered with a 92-123 MB problem (issue 13, item 1)."""

from __future__ import annotations

import json
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import marshmallow as ma
import pytest

from service.fields import MAX_FORCES, BoundedList, KeyedBy
from service.problems import MAX_ERRORS_SHOWN, MAX_MESSAGE_SHOWN, MAX_NAME_SHOWN
from service.resources.common import MAX_UNKNOWN_FIELDS
from service.resources.exit_cases.schemas import MAX_CASE_LINES, MAX_INSTALMENTS
from tests.integration import http_support
from tests.integration.exit_case_support import CASES, WK, WM, alliance, at, case_document, open_case
from tests.integration.http_support import PROBLEM_JSON, Http, assert_problem

http = http_support.http

MiB = 1024 * 1024
BODY_LIMIT = MiB  # MAX_CONTENT_LENGTH in service/app.py
# Bounds, not benchmarks: on this machine the worst request below takes well under 0.2 s of CPU
# and under 30 MB; before the bounds, the first one took 11 s and 520 MB (traced).
MAX_CPU_SECONDS = 1.0
MAX_PEAK_BYTES = 50 * MiB
MAX_PROBLEM_BYTES = 64 * 1024


# ------------------------------------------------------------------------ every list and map
def nested_fields(field: ma.fields.Field, name: str) -> Iterator[tuple[str, ma.fields.Field]]:
    """The field and every field inside it (list elements, map keys and values, nested schemas)."""
    yield name, field
    if isinstance(field, ma.fields.List):
        yield from nested_fields(field.inner, f"{name}[]")
    elif isinstance(field, ma.fields.Dict):
        for part, inner in (("key", field.key_field), ("value", field.value_field)):
            if inner is not None:
                yield from nested_fields(inner, f"{name}{{{part}}}")
    elif isinstance(field, ma.fields.Nested):
        for inner_name, inner in field.schema.fields.items():
            yield from nested_fields(inner, f"{name}.{inner_name}")


def request_fields(http: Http) -> Iterator[tuple[str, str, ma.fields.Field]]:
    """Every field of every request schema (bodies and query strings) of every route."""
    for endpoint, view in http.app.view_functions.items():
        for argument in getattr(view, "_apidoc", {}).get("arguments", {}).get("parameters", []):
            schema = argument["schema"]
            schema = schema() if isinstance(schema, type) else schema
            for name, declared in schema.fields.items():
                for path, field in nested_fields(declared, name):
                    yield endpoint, path, field


def test_every_list_and_map_of_every_request_is_bounded(http: Http) -> None:
    """Found from the routes themselves, so a new field cannot forget its bound."""
    bounded = {}
    for endpoint, path, field in request_fields(http):
        if isinstance(field, ma.fields.List):
            assert isinstance(field, BoundedList), (endpoint, path, field)
            assert 0 < field.max_items <= 1000, (endpoint, path, field.max_items)
            bounded[endpoint, path] = field.max_items
        elif isinstance(field, ma.fields.Dict):
            assert isinstance(field, KeyedBy), (endpoint, path, field)
            assert 0 < field.max_keys <= 1000, (endpoint, path, field.max_keys)
            bounded[endpoint, path] = field.max_keys
        else:
            assert not isinstance(field, ma.fields.Tuple | ma.fields.Raw), (endpoint, path, field)  # unbounded
    # The walk found the lists and maps the issue named (so it is not a check of nothing).
    assert bounded["exit-cases.lodge_claim", "lines"] == MAX_CASE_LINES
    assert bounded["exit-cases.record_assessment", "lines"] == MAX_CASE_LINES
    assert bounded["exit-cases.agree_settlement", "lines"] == MAX_CASE_LINES
    assert bounded["exit-cases.agree_settlement", "instalments"] == MAX_INSTALMENTS
    assert bounded["collaborations.establish", "parties"] == MAX_FORCES == 43
    assert bounded["collaborations.agree_apportionment", "shares"] == MAX_FORCES
    assert bounded["collaborations.register_asset", "funded_shares"] == MAX_FORCES
    assert bounded["collaborations.agree_exit_terms", "caps"] == 8  # H1..H8
    assert bounded["benefits.identify", "attribution"] == MAX_FORCES
    assert bounded["decisions.decisions", "type"] == 20


def schema_nodes(node: Any, spec: dict[str, Any], seen: set[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every JSON Schema inside ``node``, references followed (each once), with where it is."""
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                seen.add(name)
                yield from schema_nodes(spec["components"]["schemas"][name], spec, seen)
            return
        yield "", node
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                yield from ((f"{key}/{where}", inner) for where, inner in schema_nodes(node[key], spec, seen))
        for name, inner in (node.get("properties") or {}).items():
            yield from ((f"{name}/{where}", deeper) for where, deeper in schema_nodes(inner, spec, seen))
        for combined in ("allOf", "anyOf", "oneOf"):
            for inner in node.get(combined, []):
                yield from schema_nodes(inner, spec, seen)


def test_the_openapi_document_states_every_bound_of_every_request(http: Http) -> None:
    spec = http.get("/api/v1/openapi.json", token=None).get_json()
    arrays = maps = 0
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            schemas = [parameter["schema"] for parameter in operation.get("parameters", []) if "schema" in parameter]
            for content in operation.get("requestBody", {}).get("content", {}).values():
                schemas.append(content["schema"])
            for schema in schemas:
                for where, node in schema_nodes(schema, spec, set()):
                    if node.get("type") == "array" or "array" in (node.get("type") or []):
                        assert isinstance(node.get("maxItems"), int), (path, method, where, node)
                        arrays += 1
                    if isinstance(node.get("additionalProperties"), dict):
                        assert isinstance(node.get("maxProperties"), int), (path, method, where, node)
                        maps += 1
    assert arrays >= 6 and maps >= 4, (arrays, maps)
    claim = spec["components"]["schemas"]["Claim"]["properties"]["lines"]
    assert claim["maxItems"] == MAX_CASE_LINES
    assert spec["components"]["schemas"]["Apportionment"]["properties"]["shares"]["maxProperties"] == MAX_FORCES


@pytest.mark.parametrize(
    ("endpoint_path", "body", "field", "limit"),
    [
        ("claims", {"claimant": WK, "respondent": WM, "lines": [{}] * (MAX_CASE_LINES + 1)}, "lines", MAX_CASE_LINES),
        (
            "settlement",
            {"payer": WM, "payee": WK, "amount": "1.00", "write_offs": "0.00", "instalments": [{}] * 241},
            "instalments",
            MAX_INSTALMENTS,
        ),
    ],
    ids=["claim-lines", "instalments"],
)
def test_one_item_too_many_is_refused_with_one_error_before_any_item_is_checked(
    http: Http, endpoint_path: str, body: dict[str, Any], field: str, limit: int
) -> None:
    case = open_case(http, alliance(http, direction=False, decoupling=False).id)
    problem = assert_problem(
        http.post(f"{CASES}/{case['id']}/{endpoint_path}", at("2019-12-01", **body)), 422, "validation-failed"
    )
    assert problem["errors"] == {field: [f"must have at most {limit} items, not {limit + 1}."]}
    assert problem["errors_total"] == 1


def test_the_bound_itself_is_allowed(http: Http) -> None:
    """At the bound, the items are checked one by one as before."""
    case = open_case(http, alliance(http, direction=False, decoupling=False).id)
    lines = [{"head": "H2", "amount": "1.00", "description": f"Line {n}"} for n in range(MAX_CASE_LINES)]
    response = http.post(f"{CASES}/{case['id']}/claims", at("2019-12-01", claimant=WK, respondent=WM, lines=lines))
    assert response.status_code == 201, response.get_json()
    assert len(case_document(http, case["id"])["claims"][0]["lines"]) == MAX_CASE_LINES


# ------------------------------------------------------------------------------ the errors
def test_a_problem_lists_the_first_errors_and_counts_them_all(http: Http) -> None:
    case = open_case(http, alliance(http, direction=False, decoupling=False).id)
    lines = [{"head": 1, "amount": "x", "description": "", "evidence": 1}] * MAX_CASE_LINES
    response = http.post(f"{CASES}/{case['id']}/claims", at("2019-12-01", claimant=WK, respondent=WM, lines=lines))
    problem = assert_problem(response, 422, "validation-failed")
    assert len(problem["errors"]) == MAX_ERRORS_SHOWN
    assert problem["errors_total"] == 4 * MAX_CASE_LINES
    assert "lines.0.head" in problem["errors"]
    # The detail names the first error and counts the others; it does not repeat the list.
    others = f" (and {4 * MAX_CASE_LINES - 1} other fields in error; see errors)"
    said = {f"{name}: {' '.join(messages)}{others}" for name, messages in problem["errors"].items()}
    assert problem["detail"] in said, problem
    assert len(response.data) < 8 * 1024


def test_a_problem_cuts_long_names_and_messages(http: Http) -> None:
    long_code = "x" * 500_000
    response = http.post(
        f"{CASES}", at("2019-11-01", collaboration_id="c", trigger="withdrawal", force="wm", **{long_code: 1})
    )
    problem = assert_problem(response, 422, "validation-failed")
    assert all(len(name) <= MAX_NAME_SHOWN for name in problem["errors"])
    assert len(response.data) < 4 * 1024
    assert_problem(http.get(f"/api/v1/decisions?force={long_code}"), 414, "uri-too-long")  # service/limits.py
    response = http.get(f"/api/v1/decisions?force={long_code[:4000]}")
    problem = assert_problem(response, 422, "validation-failed")
    assert all(len(message) <= MAX_MESSAGE_SHOWN for message in problem["errors"]["force"])
    assert problem["errors"]["force"][1].startswith("unknown force code 'xxx")
    assert len(response.data) < 4 * 1024


def test_a_few_unknown_fields_are_named_and_many_are_refused_at_once(http: Http) -> None:
    body = at("2019-11-01", collaboration_id="c", trigger="withdrawal", force="wm")
    problem = assert_problem(http.post(CASES, {**body, "colour": 1, "size": 2}), 422, "validation-failed")
    assert problem["errors"] == {"colour": ["Unknown field."], "size": ["Unknown field."]}
    many = {f"u{n}": n for n in range(MAX_UNKNOWN_FIELDS + 7)}
    problem = assert_problem(http.post(CASES, {**body, **many}), 422, "validation-failed")
    assert list(problem["errors"]) == ["_schema"], problem
    assert problem["errors"]["_schema"][0].startswith(f"has {len(body) + len(many)} members, most of them unknown")
    query = "&".join(f"p{n}=1" for n in range(100))
    problem = assert_problem(http.get(f"/api/v1/decisions?{query}"), 422, "validation-failed")
    assert list(problem["errors"]) == ["_schema"], problem


# ----------------------------------------------------------------------- the worst requests
def filled(prefix: str, item: str, suffix: str, size: int = BODY_LIMIT - 64) -> bytes:
    """``prefix``, as many comma-separated copies of ``item`` as fit in ``size`` bytes, ``suffix``."""
    count = (size - len(prefix) - len(suffix)) // (len(item) + 1)
    return (prefix + ",".join([item] * count) + suffix).encode()


def numbered(prefix: str, item: str, suffix: str, size: int = BODY_LIMIT - 64) -> bytes:
    """Like ``filled``, each item formatted with its number (``{n}``), so keys differ."""
    parts, used, n = [], len(prefix) + len(suffix), 0
    while used + len(item) + 8 < size:
        parts.append(item.format(n=n))
        used += len(parts[-1]) + 1
        n += 1
    return (prefix + ",".join(parts) + suffix).encode()


def provenance(**fields: Any) -> str:
    """The start of a JSON object: a write's provenance and ``fields``, ready for one more member."""
    return json.dumps(at("2019-12-01", **fields))[:-1] + ", "


def cost(http: Http, method: str, path: str, body: bytes | None, token: str) -> tuple[Any, float, int]:
    """The response, the CPU seconds the request took, and its peak of traced memory (a second,
    identical request under tracemalloc, which slows it: the CPU time is of the first)."""

    def send() -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        if body is None:
            return http.client.open(path, method=method, headers=headers)
        return http.client.open(path, method=method, data=body, headers=headers, content_type="application/json")

    started = time.process_time()
    response = send()
    cpu = time.process_time() - started
    tracemalloc.start()
    try:
        again = send()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (again.status_code, again.data) == (response.status_code, response.data)
    return response, cpu, peak


@pytest.fixture
def worst(http: Http) -> dict[str, tuple[str, str, bytes | None]]:
    """The worst requests we could think of, by name: (method, path, body), each a 1 MiB body at
    most. Claims to a real case, so that they reach validation however the route is arranged."""
    collaboration = alliance(http, direction=False, decoupling=False)
    case = open_case(http, collaboration.id)
    claims = f"{CASES}/{case['id']}/claims"
    claim = provenance(claimant=WK, respondent=WM)
    full_line = json.dumps({"head": "H" * 150, "amount": "9" * 100, "description": "d" * 3000 + "\x00", "evidence": 7})
    return {
        # issue 13: 349,458 empty claim lines
        "empty claim lines": ("POST", claims, filled(claim + '"lines": [', "{}", "]}")),
        # every field of every line wrong, at the bound, as long as fits
        "every line wrong": (
            "POST",
            claims,
            (claim + '"lines": [' + ",".join([full_line] * MAX_CASE_LINES) + "]}").encode(),
        ),
        # every line full of unknown fields
        "unknown fields in lines": (
            "POST",
            claims,
            (
                claim + '"lines": [' + ",".join(["{" + ",".join(f'"u{n}": 0' for n in range(500)) + "}"] * 100) + "]}"
            ).encode(),
        ),
        "unknown fields": ("POST", claims, numbered(claim[:-2] + ", ", '"u{n}": 0', "}")),
        "one long string": (
            "POST",
            claims,
            (claim + '"lines": [], "evidence": "' + "e" * (BODY_LIMIT - 400) + '"}').encode(),
        ),
        "one long force code": (
            "POST",
            claims,
            json.dumps(at("2019-12-01", claimant="w" * (BODY_LIMIT - 400), respondent=WM, lines=[])).encode(),
        ),
        "one long field name": ("POST", claims, (claim + '"' + "n" * (BODY_LIMIT - 400) + '": 1}').encode()),
        "deep nesting": ("POST", claims, (claim + '"lines": ' + "[" * 400_000 + "]" * 400_000 + "}").encode()),
        "shares of many forces": (
            "POST",
            f"{collaboration.one}/apportionments",
            numbered(provenance(function_id=None, basis="fixed_ratio") + '"shares": {', '"force-{n}": "0.1"', "}}"),
        ),
        "many parties": (
            "POST",
            "/api/v1/collaborations",
            filled(provenance(name="N", purpose="P", lead_force=WM) + '"parties": [', f'"{WM}"', "]}"),
        ),
        "many caps": (
            "POST",
            f"{collaboration.one}/exit-terms",
            numbered(
                provenance(notice_period_months=12, stranded_cost_rate="0.25", stranded_cost_months=6) + '"caps": {',
                '"H{n}": "1.00"',
                "}}",
            ),
        ),
        "many instalments": (
            "POST",
            f"{CASES}/{case['id']}/settlement",
            filled(
                provenance(payer=WM, payee=WK, amount="1.00", write_offs="0.00") + '"instalments": [',
                '{"due_on": "2020-01-01", "amount": "1.00"}',
                "]}",
            ),
        ),
        "too large": ("POST", claims, b"{" + b" " * BODY_LIMIT + b"}"),
        "many types in a query": ("GET", "/api/v1/decisions?" + "&".join(["type=ReviewHeld"] * 60_000), None),
        "many unknown query parameters": (
            "GET",
            "/api/v1/decisions?" + "&".join(f"p{n}=1" for n in range(60_000)),
            None,
        ),
    }


WORST = [
    "empty claim lines",
    "every line wrong",
    "unknown fields in lines",
    "unknown fields",
    "one long string",
    "one long force code",
    "one long field name",
    "deep nesting",
    "shares of many forces",
    "many parties",
    "many caps",
    "many instalments",
    "too large",
    "many types in a query",
    "many unknown query parameters",
]


@pytest.mark.parametrize("name", WORST)
def test_no_request_costs_more_than_a_second_of_cpu_or_tens_of_mb(
    http: Http, worst: dict[str, tuple[str, str, bytes | None]], name: str
) -> None:
    """Sent by a force not party to the case: anyone with a write token can send these."""
    assert set(worst) == set(WORST)
    method, path, body = worst[name]
    assert body is None or len(body) <= BODY_LIMIT or name == "too large"
    token = http.token("force", force="dorset")
    log_size = http.log_size()
    response, cpu, peak = cost(http, method, path, body, token)
    print(f"{name}: {response.status_code}, {len(response.data)} bytes, {cpu:.3f} s CPU, {peak / MiB:.1f} MiB peak")
    assert 400 <= response.status_code < 500, response.data[:500]
    assert response.mimetype == PROBLEM_JSON
    assert len(response.data) < MAX_PROBLEM_BYTES
    assert cpu < MAX_CPU_SECONDS, cpu
    assert peak < MAX_PEAK_BYTES, peak
    assert http.log_size() == log_size


def test_the_body_limit_is_one_mib(http: Http) -> None:
    assert http.app.config["MAX_CONTENT_LENGTH"] == BODY_LIMIT
    response = http.client.post(
        "/api/v1/collaborations",
        data=b"{" + b" " * BODY_LIMIT + b"}",
        headers={"Authorization": f"Bearer {http.admin}"},
        content_type="application/json",
    )
    assert_problem(response, 413, "content-too-large")
