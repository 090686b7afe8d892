"""The OpenAPI document states the limits of every request, and states them truly: whatever it
calls valid, the service accepts (issue 13, defect 9). Schemathesis found 33-34 operations that
"mostly rejected generated data": the document said nothing of empty text, of the shape of an
Idempotency-Key or of a benefit's value, and too little of money, shares and financial years.

- The field classes: each pattern a field documents names exactly (text, Idempotency-Key,
  financial years) or within (decimals, dates, timestamps) what the field, and the domain rule
  behind it, take. Values drawn from the pattern are accepted; the refusals it names are refused.
- The live document: every string a request takes has a pattern or an enum; every pattern is one
  proven here, and reads the same in ECMA 262 (JSON Schema's dialect) and in Python.
- Live requests: values drawn from the live document's own properties are recorded (201), and
  Idempotency-Key and If-Match headers drawn from their documented patterns are never a 400.
"""

from __future__ import annotations

import re
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, timedelta
from decimal import Decimal
from typing import Any

import marshmallow as ma
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import FormatChecker

from domain.benefit import _check_tolerance, parse_value
from domain.errors import DomainError, InvalidPayment
from domain.exit_case import ExitCase
from domain.values import FinancialYear, Money, Share, optional_text, required_text, text_fault
from service.fields import (
    DATE_PATTERN,
    FORBIDDEN_CHARACTERS,
    MONEY_PATTERN,
    POSITIVE_MONEY_PATTERN,
    SAYING_TEXT_PATTERN,
    SHARE_PATTERN,
    SIGNED_MONEY_PATTERN,
    TEXT_PATTERN,
    TIMESTAMP_PATTERN,
    WHITESPACE,
    Code,
    Date,
    DecimalString,
    MoneyString,
    OptionalText,
    ShareString,
    Text,
    Timestamp,
    decimal_pattern,
)
from service.resources.audit.schemas import Ed25519PublicKey, KeyName
from service.resources.collaborations.schemas import financial_year_pattern
from service.web import IDEMPOTENCY_KEY_PATTERN, IF_MATCH_PATTERN, PREFER_PATTERN
from tests.integration import http_support
from tests.integration.http_support import WHEN, Http, write_requests

http = http_support.http  # the fixture

SPEC = "/api/v1/openapi.json"
FORMATS = FormatChecker()
PROPERTIES = settings(max_examples=300, deadline=None, derandomize=True, database=None)
LIVE = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
# What ECMA 262 and Python's re read differently (\s, \d, \w, \b and their negations, \Z, \A,
# lookbehind, named groups): no documented pattern may use it.
NOT_PORTABLE = re.compile(r"\\[sSdDwWbBZAz]|\(\?<|\(\?P")


def drawn_from(pattern: str, *, min_length: int = 0, max_length: int | None = None) -> st.SearchStrategy[str]:
    strategy = st.from_regex(pattern, fullmatch=True)
    return strategy.filter(lambda text: min_length <= len(text) <= (max_length or sys.maxsize))


def documented_as_valid(documented: dict[str, Any], value: str) -> bool:
    """What a JSON Schema validator says of ``value`` (the patterns are anchored, so ``search``
    and ``fullmatch`` agree, in ECMA 262 as in Python)."""
    length = documented.get("minLength", 0) <= len(value) <= documented.get("maxLength", sys.maxsize)
    return length and re.fullmatch(documented["pattern"], value) is not None


def accepts(field: ma.fields.Field, value: Any) -> bool:
    try:
        field.deserialize(value)
    except ma.ValidationError:
        return False
    return True


# ------------------------------------------------------------------------------------- text
def test_the_text_patterns_name_every_character_as_the_text_rule_does() -> None:
    """Every code point, surrogates included: the documented classes are the rule's."""
    allowed = re.compile(f"[^{FORBIDDEN_CHARACTERS}]")
    blank = re.compile(f"[{WHITESPACE}]")
    saying = re.compile(f"[^{FORBIDDEN_CHARACTERS}{WHITESPACE}]")
    for code in range(sys.maxunicode + 1):
        character = chr(code)
        recordable = text_fault(character, 1) is None
        assert (allowed.fullmatch(character) is not None) == recordable, hex(code)
        assert (blank.fullmatch(character) is not None) == (recordable and not character.strip()), hex(code)
        assert (saying.fullmatch(character) is not None) == (recordable and bool(character.strip())), hex(code)


ODD_CHARACTERS = list(" \t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u1680\u2028\u3000\ufeff\x00\x1b\x7f\ud800\udfff😀")
ANY_TEXT = st.text(st.one_of(st.characters(exclude_categories=()), st.sampled_from(ODD_CHARACTERS)), max_size=10)


@pytest.mark.parametrize(
    "field",
    [Text(max_length=8), Text(max_length=8, blank=True), Code(max_length=8), OptionalText(max_length=8)],
    ids=["text", "blank-text", "code", "optional-text"],
)
@PROPERTIES
@given(value=ANY_TEXT)
def test_the_text_the_document_calls_valid_is_exactly_the_text_taken(field: Text, value: str) -> None:
    documented = field.metadata
    assert documented_as_valid(documented, value) == accepts(field, value), (documented, value)


@PROPERTIES
@given(value=drawn_from(SAYING_TEXT_PATTERN, min_length=1, max_length=20))
def test_text_that_must_say_something_is_recorded_when_the_document_says_it_does(value: str) -> None:
    assert accepts(Text(max_length=20), value)
    assert required_text(value, "name", max_length=20)  # the domain takes it, and it is not empty


@pytest.mark.parametrize("value", ["", " ", "\t\n", "\u3000\xa0", "\x85"])
def test_empty_or_blank_text_is_refused_and_documented_so(value: str) -> None:
    field = Text(max_length=200)
    assert field.metadata["minLength"] == 1
    assert not documented_as_valid(field.metadata, value)
    assert not accepts(field, value)
    assert accepts(OptionalText(max_length=200), value) and optional_text(value, "x", max_length=200) is None


# --------------------------------------------------------------------------------- decimals
def _positive(amount: Decimal) -> Any:
    return ExitCase.positive(amount, "amount", InvalidPayment)


def _tolerance(value: Decimal) -> None:
    _check_tolerance("maintain", parse_value(value, "tolerance", None))


DECIMALS: dict[str, tuple[DecimalString, Callable[[Decimal], Any]]] = {
    "money": (MoneyString(), lambda amount: Money.non_negative(amount)),
    "signed-money": (MoneyString(signed=True), lambda amount: Money.of(amount)),
    "positive-money": (MoneyString(positive=True), _positive),
    "share": (ShareString(), lambda share: Share.of(share)),
    "benefit-value": (DecimalString(), lambda value: parse_value(value, "value", None)),
    "benefit-value-in-gbp": (DecimalString(places=2), lambda value: parse_value(value, "value", "GBP")),
    "tolerance": (DecimalString(signed=False), _tolerance),
}


@pytest.mark.parametrize("kind", list(DECIMALS))
@PROPERTIES
@given(data=st.data())
def test_every_decimal_the_document_calls_valid_is_taken_by_the_field_and_the_domain(kind: str, data: Any) -> None:
    field, rule = DECIMALS[kind]
    value = data.draw(drawn_from(field.metadata["pattern"]), label="value")
    rule(field.deserialize(value))  # raises a DomainError if the domain refuses it


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("money", "1000000000000000"),
        ("money", "0.001"),
        ("money", "-1.00"),
        ("signed-money", "-1000000000000000.00"),
        ("signed-money", "1.001"),
        ("positive-money", "0"),
        ("positive-money", "0.00"),
        ("positive-money", "-0.01"),
        ("share", "1.0000000001"),
        ("share", "1.5"),
        ("share", "0.00000000001"),
        ("share", "-0"),
        ("benefit-value", "1000000000000000"),
        ("benefit-value", "0.00000000001"),
        ("benefit-value-in-gbp", "0.001"),
        ("tolerance", "-1"),
    ],
)
def test_a_decimal_the_document_calls_invalid_is_refused(kind: str, value: str) -> None:
    field, rule = DECIMALS[kind]
    assert re.fullmatch(field.metadata["pattern"], value) is None
    with pytest.raises((ma.ValidationError, DomainError)):
        rule(field.deserialize(value))


def test_the_field_classes_document_their_patterns() -> None:
    assert MoneyString().metadata["pattern"] == MONEY_PATTERN == r"^[0-9]{1,15}(\.[0-9]{1,2})?$"
    assert MoneyString(signed=True).metadata["pattern"] == SIGNED_MONEY_PATTERN
    assert MoneyString(positive=True).metadata["pattern"] == POSITIVE_MONEY_PATTERN
    assert ShareString().metadata["pattern"] == SHARE_PATTERN
    assert DecimalString().metadata["pattern"] == r"^-?[0-9]{1,15}(\.[0-9]{1,10})?$"
    # what a schema says of a field is kept over what its class says
    assert MoneyString(metadata={"description": "More than zero"}).metadata["pattern"] == MONEY_PATTERN


# ------------------------------------------------------------------- dates, times and years
@PROPERTIES
@given(value=drawn_from(DATE_PATTERN).filter(lambda value: FORMATS.conforms(value, "date")))
def test_every_date_the_document_calls_valid_is_a_date(value: str) -> None:
    assert Date().deserialize(value).isoformat() == value


@PROPERTIES
@given(value=drawn_from(TIMESTAMP_PATTERN).filter(lambda value: FORMATS.conforms(value, "date-time")))
def test_every_timestamp_the_document_calls_valid_is_a_time(value: str) -> None:
    assert Timestamp().deserialize(value).astimezone(UTC)  # lower case t and z too; never an overflow


@pytest.mark.parametrize("value", ["0000-01-01", "2019-1-01", "2019-13-01", "20190101"])
def test_a_date_the_document_calls_invalid_is_refused(value: str) -> None:
    assert re.fullmatch(DATE_PATTERN, value) is None
    assert not accepts(Date(), value)


@pytest.mark.parametrize(
    "value", ["2019-04-01T09:30:00.1234567Z", "2019-04-01T09:30:60Z", "2019-04-01T24:00:00Z", "2019-04-01T09:30Z"]
)
def test_a_timestamp_the_document_calls_invalid_is_refused(value: str) -> None:
    assert re.fullmatch(TIMESTAMP_PATTERN, value) is None
    assert not accepts(Timestamp(), value)


def test_the_financial_years_documented_are_exactly_those_taken() -> None:
    pattern = re.compile(financial_year_pattern())
    for start in range(1800, 2300):
        for end in range(100):
            written = f"{start}/{end:02d}"
            try:
                FinancialYear.parse(written)
            except DomainError:
                taken = False
            else:
                taken = True
            assert (pattern.fullmatch(written) is not None) == taken, written


# ------------------------------------------------------------------------ audit key shapes
@PROPERTIES
@given(value=drawn_from(KeyName.json_schema["pattern"], max_length=200))
def test_every_witness_name_the_document_calls_valid_is_taken(value: str) -> None:
    assert accepts(Text(max_length=200, validate=KeyName()), value)


@pytest.mark.parametrize("value", ["a b", "a+b", "name\n", "\u3000x", "x\x85"])
def test_a_witness_name_with_whitespace_or_a_plus_is_refused_and_documented_so(value: str) -> None:
    assert re.fullmatch(KeyName.json_schema["pattern"], value) is None
    assert not accepts(Text(max_length=200, validate=KeyName()), value)


@PROPERTIES
@given(value=drawn_from(Ed25519PublicKey.json_schema["pattern"]))
def test_every_public_key_the_document_calls_valid_is_taken(value: str) -> None:
    Ed25519PublicKey()(value)


# ------------------------------------------------------------------------- the live document
def spec_of(http: Http) -> dict[str, Any]:
    return http.get(SPEC, token=None).get_json()


def nodes(node: Any, spec: dict[str, Any], where: str, seen: frozenset[str] = frozenset()) -> Iterator[tuple[str, Any]]:
    """Every JSON Schema inside ``node``, references followed (once on each path), with where."""
    if not isinstance(node, dict):
        return
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            yield from nodes(spec["components"]["schemas"][name], spec, f"{where}>{name}", seen | {name})
        return
    yield where, node
    for key in ("items", "additionalProperties", "propertyNames"):
        yield from nodes(node.get(key), spec, f"{where}/{key}", seen)
    for name, inner in (node.get("properties") or {}).items():
        yield from nodes(inner, spec, f"{where}.{name}", seen)
    for combined in ("allOf", "anyOf", "oneOf"):
        for inner in node.get(combined, []):
            yield from nodes(inner, spec, where, seen)


def request_nodes(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema of every parameter and request body of every operation."""
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            for parameter in [*item.get("parameters", []), *operation.get("parameters", [])]:
                yield from nodes(parameter.get("schema"), spec, f"{method} {path} {parameter['name']}")
            for content in operation.get("requestBody", {}).get("content", {}).values():
                yield from nodes(content["schema"], spec, f"{method} {path} body")


# Every pattern a request may be documented with, each proven above.
PROVEN = {
    TEXT_PATTERN,
    SAYING_TEXT_PATTERN,
    MONEY_PATTERN,
    SIGNED_MONEY_PATTERN,
    POSITIVE_MONEY_PATTERN,
    SHARE_PATTERN,
    decimal_pattern(10, signed=True),
    decimal_pattern(10),
    DATE_PATTERN,
    TIMESTAMP_PATTERN,
    financial_year_pattern(),
    IDEMPOTENCY_KEY_PATTERN,
    IF_MATCH_PATTERN,
    PREFER_PATTERN,
    KeyName.json_schema["pattern"],
    Ed25519PublicKey.json_schema["pattern"],
}


def types_of(node: dict[str, Any]) -> list[str]:
    kind = node.get("type")
    return [kind] if isinstance(kind, str) else list(kind or [])


def test_every_string_a_request_takes_has_a_documented_shape_proven_here(http: Http) -> None:
    strings, saying, patterns = 0, 0, set()
    for where, node in request_nodes(spec_of(http)):
        if "string" not in types_of(node):
            continue
        strings += 1
        # uuid: a path's; binary: an uploaded file, bounded by its route's size
        assert "pattern" in node or "enum" in node or node.get("format") in ("uuid", "binary"), where
        if "pattern" in node:
            patterns.add(node["pattern"])
            assert not NOT_PORTABLE.search(node["pattern"]), (where, node["pattern"])
        if node.get("pattern") == SAYING_TEXT_PATTERN:  # refuses empty and blank text, and says so
            assert node["minLength"] == 1, where
            saying += 1
    assert patterns <= PROVEN, patterns - PROVEN
    assert strings > 300 and saying > 50, (strings, saying)


def test_the_limits_the_issue_named_are_documented(http: Http) -> None:
    spec = spec_of(http)
    schemas = spec["components"]["schemas"]
    name = schemas["Establish"]["properties"]["name"]
    assert (name["minLength"], name["maxLength"], name["pattern"]) == (1, 200, SAYING_TEXT_PATTERN)
    assert schemas["Review"]["properties"]["outcome"]["minLength"] == 1
    for schema in ("Point", "Measurement", "Target", "Baseline"):
        assert schemas[schema]["properties"]["value"]["pattern"] == decimal_pattern(10, signed=True), schema
    assert schemas["Definition"]["properties"]["tolerance"]["pattern"] == decimal_pattern(10)
    assert schemas["Settlement"]["properties"]["amount"]["pattern"] == POSITIVE_MONEY_PATTERN
    assert schemas["Establish"]["properties"]["parties"]["minItems"] == 2
    assert "west-mercia" in schemas["Apportionment"]["properties"]["shares"]["propertyNames"]["enum"]
    assert schemas["ExitTerms"]["properties"]["caps"]["propertyNames"]["enum"][0] == "H1"
    headers = [
        parameter
        for item in spec["paths"].values()
        for method, operation in item.items()
        if method == "post"
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "header"
    ]
    keys = [header["schema"] for header in headers if header["name"] == "Idempotency-Key"]
    assert len(keys) > 30
    for schema in keys:
        assert (schema["minLength"], schema["maxLength"], schema["pattern"]) == (1, 255, IDEMPOTENCY_KEY_PATTERN)
    assert all(header["schema"]["pattern"] == IF_MATCH_PATTERN for header in headers if header["name"] == "If-Match")


# --------------------------------------------------------------------------- live requests
def from_schema(node: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values a client generated from the document could send (the kinds the writes below use)."""
    if node.get("enum"):
        return st.sampled_from([value for value in node["enum"] if value is not None])
    kinds = types_of(node)
    if "integer" in kinds:
        return st.integers(min_value=node.get("minimum", -(2**63)), max_value=node.get("maximum", 2**63 - 1))
    if "object" in kinds:
        keys = from_schema({**node["propertyNames"], "type": "string"})
        return st.dictionaries(keys, from_schema(node["additionalProperties"]), max_size=node.get("maxProperties"))
    assert "string" in kinds, node
    strategy = drawn_from(node["pattern"], min_length=node.get("minLength", 0), max_length=node.get("maxLength"))
    if node.get("format") in ("date", "date-time"):
        strategy = strategy.filter(lambda value: FORMATS.conforms(value, node["format"]))
    return strategy


# (write, its schema, a field): any value the document allows there is recorded.
LIVE_FIELDS = [
    ("reviews", "Review", "outcome"),
    ("reviews", "Review", "reason"),
    ("reviews", "Review", "evidence"),
    ("reviews", "Review", "approval_ref"),
    ("variations", "Variation", "clause"),
    ("functions", "AddFunction", "annual_budget"),
    ("budgets", "SetBudget", "financial_year"),
    ("budgets", "SetBudget", "annual_budget"),
    ("exit-terms", "ExitTerms", "stranded_cost_rate"),
    ("exit-terms", "ExitTerms", "notice_period_months"),
    ("exit-terms", "ExitTerms", "stranded_cost_months"),
    ("exit-terms", "ExitTerms", "caps"),
    ("assets", "Asset", "name"),
    ("assets", "Asset", "cost"),
    ("assets", "Asset", "useful_life_months"),
    ("contracts", "Contract", "annual_value"),
    ("contracts", "Contract", "break_cost"),
]


@pytest.mark.parametrize(("write", "schema", "field"), LIVE_FIELDS, ids=[f"{w}.{f}" for w, _, f in LIVE_FIELDS])
def test_what_the_live_document_allows_in_a_write_is_recorded(http: Http, write: str, schema: str, field: str) -> None:
    collaboration = http.establish()
    requests = write_requests(collaboration["id"], http.add_function(collaboration["id"]))
    path, body = requests[write]
    documented = spec_of(http)["components"]["schemas"][schema]["properties"][field]

    @LIVE
    @given(value=from_schema(documented))
    def recorded(value: Any) -> None:
        extra = {"name": f"Dogs {uuid.uuid4()}"} if write == "functions" else {}  # names are unique
        response = http.post(path, {**WHEN, **body, **extra, field: value})
        assert response.status_code == 201, (value, response.get_json())

    recorded()


def test_what_the_live_document_allows_as_a_benefits_value_is_recorded(http: Http) -> None:
    collaboration = http.establish()
    identified = http.post(
        f"/api/v1/collaborations/{collaboration['id']}/benefits",
        {**WHEN, "title": "Response times", "category": "3", "sub_category": "3a", "pillar": "service"}
        | {"unit": "hours"},
    )
    assert identified.status_code == 201, identified.get_json()
    benefit = identified.get_json()["id"]
    documented = spec_of(http)["components"]["schemas"]["Baseline"]["properties"]["value"]
    days = iter(range(10_000))

    @LIVE
    @given(value=from_schema(documented))
    def recorded(value: str) -> None:
        on = (date(2019, 4, 1) + timedelta(days=next(days))).isoformat()  # a new baseline each time
        response = http.post(f"/api/v1/benefits/{benefit}/baseline", {**WHEN, "value": value, "on": on})
        assert response.status_code == 201, (value, response.get_json())

    recorded()


def test_any_idempotency_key_the_document_allows_is_taken(http: Http) -> None:
    collaboration = http.establish()
    path, body = write_requests(collaboration["id"], "-")["reviews"]
    documented = next(
        parameter["schema"]
        for parameter in spec_of(http)["paths"]["/api/v1/collaborations/{collaboration_id}/reviews"]["post"][
            "parameters"
        ]
        if parameter["name"] == "Idempotency-Key"
    )
    sent: set[str] = set()

    @LIVE
    @given(key=from_schema(documented))
    def taken(key: str) -> None:
        response = http.post(path, {**WHEN, **body}, **{"Idempotency-Key": key})
        assert response.status_code == 201, (key, response.get_json())
        assert (response.headers.get("Idempotent-Replayed") == "true") == (key in sent)
        sent.add(key)

    taken()


def test_any_if_match_the_document_allows_is_judged_never_refused_as_malformed(http: Http) -> None:
    collaboration = http.establish()
    path, body = write_requests(collaboration["id"], "-")["reviews"]
    documented = next(
        parameter["schema"]
        for parameter in spec_of(http)["paths"]["/api/v1/collaborations/{collaboration_id}/reviews"]["post"][
            "parameters"
        ]
        if parameter["name"] == "If-Match"
    )

    @LIVE
    @given(tags=from_schema({**documented, "maxLength": 200}))
    def judged(tags: str) -> None:
        response = http.post(path, {**WHEN, **body}, **{"If-Match": tags})
        assert response.status_code in (201, 412), (tags, response.get_json())

    judged()


def test_any_prefer_the_document_allows_is_taken_and_only_a_return_preference_changes_the_answer(
    http: Http,
) -> None:
    collaboration = http.establish()
    path, body = write_requests(collaboration["id"], "-")["reviews"]
    documented = next(
        parameter["schema"]
        for parameter in spec_of(http)["paths"]["/api/v1/collaborations/{collaboration_id}/reviews"]["post"][
            "parameters"
        ]
        if parameter["name"] == "Prefer"
    )

    @LIVE
    @given(prefer=st.one_of(from_schema({**documented, "maxLength": 200}), st.just("return=representation")))
    def taken(prefer: str) -> None:
        response = http.post(path, {**WHEN, **body}, Prefer=prefer)
        assert response.status_code == 201, (prefer, response.get_json())
        whole = "functions" in response.get_json()
        applied = response.headers.get("Preference-Applied")
        assert applied in (None, "return=minimal", "return=representation"), prefer
        assert applied is None or applied == f"return={'representation' if whole else 'minimal'}", prefer
        if "return" not in prefer.lower():  # anything else is ignored: the default answer
            assert not whole and applied is None, prefer
        assert (applied == "return=representation") == whole, prefer

    taken()


def test_a_timestamp_in_year_one_or_ten_thousand_in_utc_is_answered(http: Http) -> None:
    """0001-01-01T00:00:00+01:00 is in year 0 in UTC: it was a 500 where the answer repeats it."""
    for known_at in ("0001-01-01T00:00:00%2B23:59", "9999-12-31T23:59:59-23:59"):
        response = http.get(f"/api/v1/benefits?known_at={known_at}")
        assert response.status_code == 200, response.get_json()
