"""Random JSON into the writes and random query strings into the reads.

Whatever arrives, the answer is never a 5xx; a refusal is an application/problem+json that
recorded nothing; and nothing a write was allowed to record can break a later read of the
collaboration, its history or the register. Runs are derandomised (the same examples each time)
so the suite is not flaky; a failure prints the example that caused it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, quote_from_bytes

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.integration.http_support import PROBLEM_JSON, WHEN, Http, http_for, write_requests

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
BASE = "/api/v1/collaborations"

NASTY_TEXT = [
    *("", " ", "\x00", "a\x00b", "\ud800", "x\udfffy", "\x1b[0m", "\u0663", "\uff11", "😀", "%", "_", "\\", "'; --"),
    *("-0", "-0.00", "0", "1", "0.5000000000000000000000000000001", "1e400", "NaN", "-Infinity", "1_000"),
    *("99999999999999999999999999.99", "1" + "0" * 28, "1000000000000000", "999999999999999.99", "1" * 80),
    *("2019/20", "2019/20\n", "9999/00", "0999/00", "2020-02-29", "20200229", "0001-01-01", "9999-12-31"),
    *("west-mercia", "warwickshire", "dorset", "gotham", "H4", "H9", "operational", "fixed_ratio", "x" * 201),
]
NASTY_INTEGERS = [0, 1, -1, 600, 601, 1200, 1201, 2**31, 2**63 - 1, 2**63, -(2**63), 10**20, 10**100]
KEYS = st.one_of(st.text(max_size=8), st.sampled_from(["west-mercia", "warwickshire", "H4", "\x00", "\ud800", ""]))
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from(NASTY_INTEGERS),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(NASTY_TEXT),
)
JSON = st.recursive(
    LEAVES,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(KEYS, children, max_size=3),
    max_leaves=6,
)
IF_MATCH = st.one_of(
    st.none(),
    st.sampled_from(['"1"', '"2"', '"3", "2"', "*", 'W/"2"', '"\u00b2"', '"99999999999999999999"', "", "abc"]),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=12),
)
BAD_CHARACTERS = ["\x00", "\ud800", "\udc00", "\x1b", "\x7f", "\u0663", "\uff10", "\n", " "]
DELETE = object()


def near(value: Any) -> st.SearchStrategy[Any]:
    """Values close to a valid one, where bugs live: the valid text with a bad character put
    into it, whole numbers at and beyond the bounds, and the edge cases of decimals."""
    if isinstance(value, str):
        return st.builds(
            lambda at, bad: value[:at] + bad + value[at:],
            st.integers(min_value=0, max_value=len(value)),
            st.sampled_from(BAD_CHARACTERS),
        )
    if isinstance(value, int):
        return st.sampled_from(NASTY_INTEGERS)
    if isinstance(value, dict):
        return st.dictionaries(st.sampled_from([*value, *BAD_CHARACTERS]), st.sampled_from(NASTY_TEXT), max_size=3)
    return JSON


def changed(valid: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A valid body with one or two fields changed (to a near value, a nasty value or any JSON)
    or deleted, or an unknown field added; now and then a body that is any JSON at all."""

    def value_for(field: str) -> st.SearchStrategy[Any]:
        return st.one_of(near(valid.get(field)), st.sampled_from(NASTY_TEXT), JSON, st.just(DELETE))

    fields = [*sorted(valid), "actor", "id"]
    changes = st.lists(st.sampled_from(fields), min_size=1, max_size=2, unique=True).flatmap(
        lambda names: st.fixed_dictionaries({name: value_for(name) for name in names})
    )

    def apply(change: dict[str, Any]) -> dict[str, Any]:
        body = {key: value for key, value in valid.items() if change.get(key) is not DELETE}
        body.update({key: value for key, value in change.items() if value is not DELETE})
        return body

    return st.one_of(changes.map(apply), changes.map(apply), changes.map(apply), JSON)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Http]:
    """One app for the whole module, so that what one example records is there for the next."""
    yield from http_for(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'records.sqlite3'}")


@pytest.fixture(scope="module")
def alliance(fuzzed: Http) -> tuple[str, str]:
    collaboration = fuzzed.establish()
    return collaboration["id"], fuzzed.add_function(collaboration["id"])


def assert_still_readable(http: Http, collaboration_id: str) -> None:
    for path in (f"{BASE}/{collaboration_id}", f"{BASE}/{collaboration_id}/history", BASE, "/api/v1/events"):
        response = http.get(path)
        assert response.status_code == 200, (path, response.get_data(as_text=True))


@pytest.mark.parametrize("endpoint", ["create", "functions", "apportionments", "exit-terms", "assets", "contracts"])
def test_random_json_into_a_write_is_never_a_5xx_and_a_refusal_records_nothing(
    fuzzed: Http, alliance: tuple[str, str], endpoint: str
) -> None:
    http = fuzzed
    collaboration_id = alliance[0]
    path, valid = write_requests(*alliance)[endpoint]
    valid = {**WHEN, "evidence": "doc-1", **valid}

    @FUZZ
    @given(body=changed(valid), if_match=st.one_of(st.none(), st.none(), IF_MATCH))
    def post(body: Any, if_match: str | None) -> None:
        headers = http.headers(**({"If-Match": if_match} if if_match is not None else {}))
        log_size, version = http.log_size(), http.version(collaboration_id)

        response = http.client.post(path, json=body, headers=headers)

        event(f"status {response.status_code}")  # pytest --hypothesis-show-statistics shows the mix
        assert response.status_code < 500, response.get_data(as_text=True)
        if response.status_code >= 400:
            assert response.mimetype == PROBLEM_JSON
            assert {"type", "title", "status", "detail"} <= set(response.get_json())
            assert http.log_size() == log_size
            assert http.version(collaboration_id) == version
        else:
            assert response.status_code == 201
            assert http.log_size() == log_size + 1
            written = response.get_json()["id"]
            assert_still_readable(http, written)

    post()
    register = http.get(BASE)
    assert register.status_code == 200
    established = [e for e in http.get("/api/v1/events?limit=1000").get_json()["items"] if e["version"] == 1]
    assert register.get_json()["total"] == len(established)
    assert_still_readable(http, collaboration_id)


QUERY_TEXT = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=30),
    st.integers(min_value=-(10**25), max_value=10**25).map(str),
    st.sampled_from(
        [
            *("\x00", "\u0663", "1_0", " 1", "+1", "0", "-1", "9223372036854775807", "9223372036854775808"),
            *("100000000000000000000", "%", "_", "x" * 201, " ".join(["t"] * 21), "west-mercia", "active"),
            *("2020-02-29", "20200229", "2019-01-01T00:00:00Z", "20190101T000000Z"),
        ]
    ),
)
PLAUSIBLE = st.sampled_from(["1", "2", "3", "20", "100", "1000", "west-mercia", "active", "ICT", "Alliance", "t0 t1"])
QUERY_VALUE = st.one_of(
    PLAUSIBLE,
    PLAUSIBLE,
    QUERY_TEXT.map(lambda text: quote(text, safe="")),
    st.binary(max_size=8).map(lambda raw: quote_from_bytes(raw, safe="")),  # not even UTF-8
)


@pytest.mark.parametrize(
    ("read", "names"),
    [
        ("register", ["party", "status", "function", "q", "page", "page_size", "as_of", "known_at"]),
        ("one", ["version", "as_of", "known_at"]),
        ("history", ["upto_version"]),
        ("events", ["after", "limit"]),
    ],
)
def test_random_query_strings_into_a_read_are_never_a_5xx(
    fuzzed: Http, alliance: tuple[str, str], read: str, names: list[str]
) -> None:
    http = fuzzed
    path = {
        "register": BASE,
        "one": f"{BASE}/{alliance[0]}",
        "history": f"{BASE}/{alliance[0]}/history",
        "events": "/api/v1/events",
    }[read]
    queries = st.lists(st.tuples(st.sampled_from([*names, *names, "unknown"]), QUERY_VALUE), max_size=3)

    @FUZZ
    @given(query=queries)
    def get(query: list[tuple[str, str]]) -> None:
        response = http.client.get(f"{path}?{'&'.join(f'{n}={v}' for n, v in query)}", headers=http.headers())
        event(f"status {response.status_code}")
        assert response.status_code < 500, response.get_data()
        if response.status_code >= 400:
            assert response.mimetype == PROBLEM_JSON
        else:
            assert response.status_code == 200 and response.is_json

    get()
