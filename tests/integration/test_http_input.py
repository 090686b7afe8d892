"""The edges of what a request may say: text, money, shares, counts, dates, financial years,
query parameters and bodies Python cannot read. Each refusal is a 4xx problem that records
nothing, and nothing accepted can break a later read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import marshmallow as ma
import pytest
from flask_smorest.fields import Upload

from service.fields import Date, DecimalString, Flag, QueryInteger, Text, Timestamp, WholeNumber
from tests.integration import http_support
from tests.integration.http_support import REPRESENTATION, WHEN, WRITES, Http, assert_problem, write_requests

http = http_support.http
http_any = http_support.http_any

BASE = "/api/v1/collaborations"


@pytest.fixture
def alliance(http: Http) -> tuple[str, str]:
    collaboration = http.establish()
    return collaboration["id"], http.add_function(collaboration["id"])


def refused(
    http: Http, path: str, body: dict[str, Any], status: int = 422, problem: str | None = "validation-failed"
) -> dict[str, Any]:
    log_size = http.log_size()
    problem_body = assert_problem(http.post(path, body), status, problem)
    assert http.log_size() == log_size
    return problem_body


def accepted(http: Http, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POSTs a write that must be recorded; answers the whole document (what was recorded)."""
    response = http.post(path, body, **REPRESENTATION)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# ------------------------------------------------------------------------------------- text
def leaf_fields(field: ma.fields.Field, name: str) -> Iterator[tuple[str, ma.fields.Field]]:
    if isinstance(field, ma.fields.List):
        yield from leaf_fields(field.inner, f"{name}[]")
    elif isinstance(field, ma.fields.Dict):
        yield from leaf_fields(field.key_field, f"{name}{{key}}")
        yield from leaf_fields(field.value_field, f"{name}{{value}}")
    elif isinstance(field, ma.fields.Nested):
        for inner, nested in field.schema.fields.items():
            yield from leaf_fields(nested, f"{name}.{inner}")
    else:
        yield name, field


def test_every_field_of_every_request_uses_the_shared_rules(http: Http) -> None:
    """Strings go through Text (the text rule and a length limit), numbers and dates through the
    strict fields: found from the routes themselves, so a new route or field cannot forget."""
    checked = []
    for endpoint, view in http.app.view_functions.items():
        for argument in getattr(view, "_apidoc", {}).get("arguments", {}).get("parameters", []):
            for name, declared in argument["schema"]().fields.items():
                for path, field in leaf_fields(declared, name):
                    checked.append((endpoint, path))
                    if isinstance(field, ma.fields.String):
                        assert isinstance(field, Text | DecimalString), (endpoint, path, field)
                    elif isinstance(field, ma.fields.Integer):
                        assert isinstance(field, WholeNumber | QueryInteger), (endpoint, path, field)
                    elif isinstance(field, Upload):
                        assert endpoint == "benefits.import_register", endpoint  # the one route taking a file
                    elif isinstance(field, ma.fields.Boolean):
                        assert isinstance(field, Flag), (endpoint, path, field)  # true or false only
                    else:
                        assert isinstance(field, Date | Timestamp), (endpoint, path, field)  # YYYY-MM-DD, RFC 3339
    assert ("collaborations.establish", "parties[]") in checked
    assert ("collaborations.agree_apportionment", "shares{key}") in checked
    assert ("collaborations.search_register", "q") in checked


# Every string a write takes: (endpoint, field path, how to put a value there).
def put(body: dict[str, Any], field: str, value: str) -> dict[str, Any]:
    body = {**body}
    if field == "parties.1":
        body["parties"] = [body["parties"][0], value]
    elif field in ("shares", "funded_shares", "caps"):  # a bad key
        body[field] = {value: next(iter(body[field].values()))}
    else:
        body[field] = value
    return body


TEXT_FIELDS = [
    *((endpoint, field) for endpoint in WRITES for field in ("reason", "evidence", "approval_ref")),
    *(("create", field) for field in ("name", "purpose", "governance_body", "lead_force", "parties.1")),
    ("parties", "force"),
    *(("functions", field) for field in ("name", "kind", "host_force")),
    ("budgets", "financial_year"),
    *(("apportionments", field) for field in ("function_id", "basis", "shares")),
    ("exit-terms", "caps"),
    *(("assets", field) for field in ("name", "funded_shares")),
    *(("contracts", field) for field in ("supplier", "function_id")),
    ("reviews", "outcome"),
    *(("variations", field) for field in ("clause", "summary")),
]


@pytest.mark.parametrize(
    "bad",
    ["Alliance\x00ICT", "\ud800", "Alliance \udfff ICT", "esc\x1b[31m"],
    ids=["nul", "lone-high", "lone-low", "esc"],
)
def test_no_string_field_of_any_write_takes_nul_control_characters_or_lone_surrogates(http_any: Http, bad: str) -> None:
    """On PostgreSQL too, where a NUL stored in an event would break every later read."""
    collaboration = http_any.establish()
    ids = (collaboration["id"], http_any.add_function(collaboration["id"]))
    for endpoint, field in TEXT_FIELDS:
        path, body = write_requests(*ids)[endpoint]
        problem = refused(http_any, path, put({**WHEN, **body}, field, bad))
        assert any(name.startswith(field.split(".")[0]) for name in problem["errors"]), (endpoint, field, problem)
        assert "U+" in problem["detail"], problem
    assert http_any.version(collaboration["id"]) == 2
    assert http_any.get(BASE).status_code == 200


@pytest.mark.parametrize(
    ("endpoint", "field", "limit"),
    [
        ("create", "name", 200),
        ("create", "purpose", 10_000),
        ("create", "governance_body", 200),
        ("reviews", "reason", 10_000),
        ("reviews", "evidence", 500),
        ("reviews", "approval_ref", 500),
        ("functions", "name", 200),
        ("assets", "name", 200),
        ("contracts", "supplier", 200),
        ("reviews", "outcome", 10_000),
        ("variations", "clause", 500),
        ("variations", "summary", 10_000),
    ],
)
def test_text_fields_have_a_length_limit(
    http: Http, alliance: tuple[str, str], endpoint: str, field: str, limit: int
) -> None:
    path, body = write_requests(*alliance)[endpoint]
    longest = "é" * limit  # characters, not bytes

    problem = refused(http, path, {**WHEN, **body, field: longest + "x"})
    accepted(http, path, {**WHEN, **body, field: longest})

    assert problem["errors"] == {field: [f"must be at most {limit} characters long, not {limit + 1}."]}


def test_text_keeps_tabs_newlines_and_any_script(http: Http) -> None:
    text = "Cydweithio\tHeddlu\r\n\u03a3\u03c5\u03bd\u03b5\u03c1\u03b3\u03b1\u03c3\u03af\u03b1 — 合作 ✓ 😀"
    created = http.establish(name="Cydweithio 😀 ✓", purpose=text)
    assert (created["name"], created["purpose"]) == ("Cydweithio 😀 ✓", text)


def test_blank_optional_text_is_recorded_as_null(http_any: Http) -> None:
    created = http_any.establish(governance_body="   ", evidence=" \t ", approval_ref="")
    review = http_any.post(
        f"{BASE}/{created['id']}/reviews", {**WHEN, "outcome": " ok ", "evidence": "\n", "approval_ref": None}
    )

    assert review.status_code == 201, review.get_json()
    assert created["governance_body"] is None
    established, held = http_any.history(created["id"])
    assert (established["evidence"], established["approval_ref"]) == (None, None)
    assert (held["evidence"], held["approval_ref"], held["data"]) == (None, None, {"outcome": "ok"})
    assert http_any.get(BASE).get_json()["items"][0]["governance_body"] is None


# ------------------------------------------------------------------------ money and shares
@pytest.mark.parametrize(
    ("amount", "problem"),
    [
        ("1000000000000000", "amount-too-large"),
        ("1000000000000000.00", "amount-too-large"),
        ("10000000000000000000000000000", "amount-too-large"),  # was a 500 (quantize overflow)
        ("99999999999999999999999999.99", "amount-too-large"),
        ("1" * 100, "validation-failed"),
        ("\u0663", "validation-failed"),  # Arabic-Indic three: a digit to \d, not to us
        ("\uff11.00", "validation-failed"),  # fullwidth one
        ("1e3", "validation-failed"),
        ("+1.00", "validation-failed"),
        ("1,000.00", "validation-failed"),
        ("1_000.00", "validation-failed"),
    ],
)
def test_money_is_ascii_digits_below_a_quadrillion_pounds(http_any: Http, amount: str, problem: str) -> None:
    collaboration = http_any.establish()
    body = {"name": "ICT", "kind": "enabling", "host_force": "west-mercia", "annual_budget": amount, **WHEN}
    assert_problem(http_any.post(f"{BASE}/{collaboration['id']}/functions", body), 422, problem)
    assert http_any.log_size() == 1


def test_the_largest_amount_is_recorded_exactly(http: Http) -> None:
    collaboration = http.establish()
    body = {"name": "ICT", "kind": "enabling", "host_force": "west-mercia", "annual_budget": "999999999999999.99"}
    document = accepted(http, f"{BASE}/{collaboration['id']}/functions", {**body, **WHEN})
    assert document["functions"][0]["annual_budget"] == "999999999999999.99"


@pytest.mark.parametrize("amount", ["-0", "-0.00", "0", "0.0"])
def test_negative_zero_money_is_recorded_as_zero(http: Http, amount: str) -> None:
    collaboration = http.establish()
    body = {"name": "ICT", "kind": "enabling", "host_force": "west-mercia", "annual_budget": amount, **WHEN}
    document = accepted(http, f"{BASE}/{collaboration['id']}/functions", body)
    assert document["functions"][0]["annual_budget"] == "0.00"
    assert http.history(collaboration["id"])[-1]["data"]["annual_budget"] == "0.00"


@pytest.mark.parametrize(
    ("shares", "problem", "field"),
    [
        # Summed in the default 28-digit context this was 1 and was accepted.
        ({"west-mercia": "0.5000000000000000000000000000001", "warwickshire": "0.5"}, "invalid-share", None),
        ({"west-mercia": "0.50000000001", "warwickshire": "0.49999999999"}, "invalid-share", None),
        ({"west-mercia": "1", "warwickshire": "-0"}, "validation-failed", "shares.warwickshire"),
        ({"west-mercia": "1.5", "warwickshire": "-0.5"}, "validation-failed", "shares.warwickshire"),
        ({"west-mercia": "0.\u0665", "warwickshire": "0.5"}, "validation-failed", "shares.west-mercia"),
    ],
)
def test_shares_have_at_most_ten_places_and_no_sign(
    http: Http, alliance: tuple[str, str], shares: dict[str, str], problem: str, field: str | None
) -> None:
    body = {"basis": "fixed_ratio", "shares": shares, **WHEN}
    problem_body = refused(http, f"{BASE}/{alliance[0]}/apportionments", body, problem=problem)
    if field:
        assert field in problem_body["errors"], problem_body


def test_shares_of_ten_places_summing_to_one_are_recorded_exactly(http: Http, alliance: tuple[str, str]) -> None:
    shares = {"west-mercia": "0.9999999999", "warwickshire": "0.0000000001"}
    document = accepted(http, f"{BASE}/{alliance[0]}/apportionments", {"basis": "usage", "shares": shares, **WHEN})
    assert document["apportionments"][0]["shares"] == shares  # positional, never "1E-10"
    assert http.history(alliance[0])[-1]["data"]["shares"] == shares


# ----------------------------------------------------------------------- whole numbers
@pytest.mark.parametrize(
    ("endpoint", "field", "lowest", "highest", "problem"),
    [
        ("create", "review_cycle_months", 1, 600, "invalid-review-cycle"),
        ("exit-terms", "notice_period_months", 0, 1200, "invalid-exit-terms"),
        ("exit-terms", "stranded_cost_months", 0, 1200, "invalid-exit-terms"),
        ("assets", "useful_life_months", 1, 1200, "invalid-asset"),
    ],
)
def test_counts_of_months_are_bounded_by_the_domain(
    http: Http, alliance: tuple[str, str], endpoint: str, field: str, lowest: int, highest: int, problem: str
) -> None:
    path, body = write_requests(*alliance)[endpoint]
    for value in (lowest - 1, highest + 1, 2**31, 2**63, 10**20, -(10**20)):
        problem_body = refused(http, path, {**WHEN, **body, field: value}, problem=problem)
        assert problem_body["errors"] == {
            field: [f"{field} must be a whole number of months from {lowest} to {highest}"]
        }
    for value in (lowest, highest):
        accepted(http, path, {**WHEN, **body, field: value})
    assert http.get(BASE).status_code == 200  # the register's INTEGER columns were never overrun


def test_month_bounds_are_documented_in_the_openapi_document(http: Http) -> None:
    schemas = http.get("/api/v1/openapi.json", token=None).get_json()["components"]["schemas"]
    review = schemas["Establish"]["properties"]["review_cycle_months"]
    life = schemas["Asset"]["properties"]["useful_life_months"]
    notice = schemas["ExitTerms"]["properties"]["notice_period_months"]
    assert (review["minimum"], review["maximum"]) == (1, 600)
    assert (life["minimum"], life["maximum"]) == (1, 1200)
    assert (notice["minimum"], notice["maximum"]) == (0, 1200)
    assert schemas["Establish"]["properties"]["name"]["maxLength"] == 200
    assert schemas["AddFunction"]["properties"]["annual_budget"]["pattern"] == r"^[0-9]{1,15}(\.[0-9]{1,2})?$"
    assert schemas["Apportionment"]["properties"]["shares"]["additionalProperties"]["pattern"] == (
        r"^(0(\.[0-9]{1,10})?|1(\.0{1,10})?)$"
    )


# ------------------------------------------------------------------------------------ dates
@pytest.mark.parametrize(
    "written", ["20200229", "2020-02-29T00:00:00", "2020-W09-6", "2020-060", "2020-2-29", " 2020-02-29", "٢٠٢٠-٠٢-٢٩"]
)
def test_dates_are_written_yyyy_mm_dd_and_nothing_else(http: Http, alliance: tuple[str, str], written: str) -> None:
    requests = write_requests(*alliance)
    for endpoint, field in (("reviews", "effective_on"), ("assets", "acquired_on"), ("contracts", "ends_on")):
        path, body = requests[endpoint]
        problem = refused(http, path, {**WHEN, **body, field: written})
        assert problem["errors"] == {field: ["Not a valid date: write it YYYY-MM-DD, e.g. 2019-04-01."]}
    assert_problem(http.get(f"{BASE}?as_of={written}"), 422, "validation-failed")
    assert_problem(http.get(f"{BASE}/{alliance[0]}?as_of={written}"), 422, "validation-failed")


def test_a_leap_day_written_properly_is_a_date(http: Http, alliance: tuple[str, str]) -> None:
    path, body = write_requests(*alliance)["reviews"]
    accepted(http, path, {**WHEN, **body, "effective_on": "2020-02-29"})
    refused(http, path, {**WHEN, **body, "effective_on": "2019-02-29"})
    assert http.get(f"{BASE}?as_of=2020-02-29").status_code == 200  # well formed


@pytest.mark.parametrize("written", ["20190101T000000Z", "2019-01-01", "2019-01-01T00:00:00", "2019-01-01 00:00Z"])
def test_known_at_is_an_rfc3339_timestamp(http: Http, written: str) -> None:
    assert_problem(http.get(f"{BASE}?known_at={written}"), 422, "validation-failed")
    assert http.get(f"{BASE}?known_at=2019-01-01T00:00:00Z").status_code == 200


# --------------------------------------------------------------------------- financial years
@pytest.mark.parametrize(
    "year", ["2019/20\n", "\u0662\u0660\u0661\u0669/\u0662\u0660", "9999/00", "1899/00", "2200/01"]
)
def test_financial_years_are_ascii_and_between_1900_and_2199(http: Http, alliance: tuple[str, str], year: str) -> None:
    path, body = write_requests(*alliance)["budgets"]
    refused(http, path, {**WHEN, **body, "financial_year": year}, problem="invalid-financial-year")


@pytest.mark.parametrize("year", ["1900/01", "1999/00", "2199/00"])
def test_the_first_and_last_financial_years_are_recorded(http: Http, alliance: tuple[str, str], year: str) -> None:
    path, body = write_requests(*alliance)["budgets"]
    document = accepted(http, path, {**WHEN, **body, "financial_year": year})
    assert [b["financial_year"] for b in document["functions"][0]["budgets"]] == [year]


# ------------------------------------------------------------------------- query parameters
@pytest.mark.parametrize(
    ("path", "ok", "refused_"),
    [
        (f"{BASE}?page=", "1000000", ["1000001", "9223372036854775807", "100000000000000000000"]),
        (f"{BASE}?page_size=", "100", ["101", "100000000000000000000"]),
        ("{one}?version=", "9223372036854775807", ["9223372036854775808", "100000000000000000000", "0"]),
        ("{one}/history?upto_version=", "9223372036854775807", ["9223372036854775808", "100000000000000000000"]),
        ("/api/v1/events?after=", "9223372036854775807", ["9223372036854775808", "100000000000000000000", "-1"]),
        ("/api/v1/events?limit=", "1000", ["1001", "100000000000000000000"]),
    ],
)
def test_integer_query_parameters_are_bounded(http: Http, path: str, ok: str, refused_: list[str]) -> None:
    collaboration = http.establish()
    path = path.format(one=f"{BASE}/{collaboration['id']}")
    assert http.get(path + ok).status_code in (200, 404)  # 404: no such version, a fair answer
    for value in refused_:
        assert_problem(http.get(path + value), 422, "validation-failed")


@pytest.mark.parametrize("value", ["\u0663", "1_0", "+1", " 1", "1.0", "0x1", "1e2"])
@pytest.mark.parametrize("name", ["page", "page_size", "version", "upto_version", "after", "limit"])
def test_integer_query_parameters_are_ascii_digits(http: Http, name: str, value: str) -> None:
    """Python's int() takes all of these; a query string's whole number is 0-9 only."""
    collaboration = http.establish()
    path = {
        "version": f"{BASE}/{collaboration['id']}",
        "upto_version": f"{BASE}/{collaboration['id']}/history",
        "after": "/api/v1/events",
        "limit": "/api/v1/events",
    }.get(name, BASE)
    response = http.client.get(path, query_string={name: value}, headers=http.headers())
    assert assert_problem(response, 422, "validation-failed")["errors"] == {name: ["Not a valid integer."]}


@pytest.mark.parametrize(
    "query",
    [
        {"q": "a\x00b"},
        {"q": "x" * 201},
        {"q": " ".join(f"t{n}" for n in range(21))},  # was a 503: too many LIKE terms for SQLite
        {"party": "west-mercia\x00"},
        {"status": "active\x00"},
        {"status": "a" * 101},
        {"function": "ICT\x00"},
        {"function": "x" * 201},
    ],
)
def test_text_query_parameters_are_refused_when_they_could_not_be_searched(
    http_any: Http, query: dict[str, str]
) -> None:
    http_any.establish()
    response = http_any.client.get(BASE, query_string=query, headers=http_any.headers())
    problem = assert_problem(response, 422, "validation-failed")
    assert set(problem["errors"]) == set(query)


def test_the_longest_search_is_answered(http_any: Http) -> None:
    http_any.establish(name="t0 t1 t2")
    longest = " ".join(["t0", "t1", "t2", *["t"] * 17]).ljust(200)  # 20 words, 200 characters
    response = http_any.client.get(BASE, query_string={"q": longest}, headers=http_any.headers())
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["total"] == 1


# ------------------------------------------------------------------------ unreadable bodies
@pytest.mark.parametrize(
    "raw",
    [
        '{"outcome": ' + "[" * 100_000 + "]" * 100_000 + "}",  # nested deeper than Python's recursion limit
        '{"outcome": ' + "9" * 5000 + "}",  # more digits than int() will convert
    ],
    ids=["deep", "long-integer"],
)
def test_json_python_will_not_read_is_a_400_problem(http: Http, alliance: tuple[str, str], raw: str) -> None:
    response = http.client.post(
        f"{BASE}/{alliance[0]}/reviews", data=raw, content_type="application/json", headers=http.headers()
    )
    assert_problem(response, 400, "bad-request")
    assert http.log_size() == 2


# ------------------------------------------------------------------------------- the actor
def test_the_actor_names_the_token_unambiguously(http: Http) -> None:
    first = http.token("force", "west-mercia", name="Jo Bloggs")
    second = http.token("force", "west-mercia", name="Jo Bloggs")
    created = http.establish(first)
    http.post(f"{BASE}/{created['id']}/reviews", {"outcome": "ok", **WHEN}, second)

    ids = [record.id for record in http.tokens.list() if record.name == "Jo Bloggs"]
    actors = [event["actor"] for event in http.history(created["id"])]
    assert sorted(actors) == sorted(f"Jo Bloggs (force west-mercia, token {token_id})" for token_id in ids)
    assert actors[0] != actors[1]


@pytest.mark.parametrize("name", ["Jo\x00Bloggs", "Jo \ud800", "x" * 201])
def test_a_token_name_obeys_the_text_rule(http: Http, name: str) -> None:
    from service.auth import InvalidTokenRequest

    before = len(http.tokens.list())
    with pytest.raises(InvalidTokenRequest):
        http.tokens.create(name=name, role="auditor")
    assert len(http.tokens.list()) == before
