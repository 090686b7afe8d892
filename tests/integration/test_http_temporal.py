"""Bitemporal reads over HTTP (DOMAIN.md "Time"): ``as_of`` is the world on a date as known now;
``known_at`` is what was known at a time. A back-dated correction changes ``as_of`` answers for
the past, while ``known_at`` still reproduces what was known before it was recorded. Also the
end of an agreement: a party leaving on its notice, and termination."""

from __future__ import annotations

import time
from typing import Any

from service.resources.collaborations.schemas import CollaborationDocument, RegisterPageSchema
from tests.integration import http_support
from tests.integration.http_support import Http, assert_problem
from tests.integration.test_http_exit_costs import BASE, A, B, amounts, at, posted, quote, worked_example

http = http_support.http
http_any = http_support.http_any


def recorded_now(http: Http, collaboration_id: str) -> str:
    """The recorded time of the collaboration's latest event: a known_at that includes it."""
    return http.history(collaboration_id)[-1]["recorded_at"]


def shares_of(document: dict[str, Any]) -> dict[str, str]:
    return document["functions"][0]["shares_in_effect"]["shares"]


def test_a_back_dated_correction_changes_as_of_while_known_at_reproduces_what_was_known(http_any: Http) -> None:
    http = http_any
    example = worked_example(http)
    posted(http, f"{example['one']}/withdrawal-notices", at("2018-10-09", force=A))
    before_correction = recorded_now(http, example["id"])
    time.sleep(0.01)
    # Recorded later, but effective from 2015: the ratio was really 70/30 from then.
    posted(
        http,
        f"{example['one']}/apportionments",
        at("2015-04-01", function_id=None, basis="fixed_ratio", shares={A: "0.70", B: "0.30"}),
    )

    assert shares_of(http.get(f"{example['one']}?as_of=2016-01-01").get_json()) == {A: "0.70", B: "0.30"}
    assert shares_of(http.get(f"{example['one']}?as_of=2014-01-01").get_json()) == {A: "0.69", B: "0.31"}
    as_known = http.get(f"{example['one']}?as_of=2016-01-01&known_at={before_correction}")
    assert as_known.status_code == 200
    assert as_known.headers["ETag"] == f'"{as_known.get_json()["version"]}"'
    assert shares_of(as_known.get_json()) == {A: "0.69", B: "0.31"}
    assert CollaborationDocument().validate(as_known.get_json()) == {}

    # The quote: now on the corrected ratio; as known before the correction, the worked example.
    corrected = quote(http, example["one"], f"force={A}&exit_on=2019-04-01")
    assert amounts(corrected)["H4"] == "1050000.00"  # 12,000,000 x 0.70 x 0.25 x 6/12
    reproduced = quote(http, example["one"], f"force={A}&exit_on=2019-04-01&known_at={before_correction}")
    assert reproduced["total"] == "4815821.92"
    assert reproduced["known_at"] is not None and reproduced["version"] == corrected["version"] - 1


def test_as_of_shows_the_world_on_a_date(http: Http) -> None:
    example = worked_example(http)
    posted(http, f"{example['one']}/withdrawal-notices", at("2018-10-09", force=A))
    posted(http, f"{example['one']}/directions", at("2019-10-01", new_exit_on="2020-03-31", summary="six months"))

    before_notice = http.get(f"{example['one']}?as_of=2018-01-01").get_json()
    assert before_notice["status"] == "active" and before_notice["notices"] == []
    assert before_notice["as_of"] == "2018-01-01"
    assert [asset["name"] for asset in http.get(f"{example['one']}?as_of=2016-03-31").get_json()["assets"]] == []
    on_notice = http.get(f"{example['one']}?as_of=2019-01-01").get_json()
    assert on_notice["status"] == "notice_served"
    assert on_notice["notices"][0]["exit_on"] == "2019-10-09"  # the direction is not yet given
    directed = http.get(f"{example['one']}?as_of=2019-11-01").get_json()
    assert directed["notices"][0]["exit_on"] == "2020-03-31"

    # The quote as of a date takes that date's notice and exit date.
    then = quote(http, example["one"], f"force={A}&as_of=2019-01-01")
    assert (then["notice_on"], then["exit_on"], then["quoted_on"]) == ("2018-10-09", "2019-10-09", "2019-01-01")
    assert amounts(then)["H1"] == "0.00"
    later = quote(http, example["one"], f"force={A}&as_of=2019-11-01")
    assert later["exit_on"] == "2020-03-31"


def test_the_register_as_it_stood(http: Http) -> None:
    example = worked_example(http)
    known = recorded_now(http, example["id"])
    time.sleep(0.01)
    posted(http, f"{example['one']}/withdrawal-notices", at("2018-10-09", force=A))
    second = http.establish(name="Regional Dogs", effective_on="2017-01-01")

    now = http.get(f"{BASE}?status=notice_served").get_json()
    assert [item["id"] for item in now["items"]] == [example["id"]]
    then = http.get(f"{BASE}?known_at={known}").get_json()
    assert RegisterPageSchema().validate(then) == {}
    assert [(item["id"], item["status"]) for item in then["items"]] == [(example["id"], "active")]
    on_a_date = http.get(f"{BASE}?as_of=2016-06-01").get_json()
    assert [item["id"] for item in on_a_date["items"]] == [example["id"]]
    both = http.get(f"{BASE}?as_of=2019-01-01&q=dogs").get_json()
    assert [item["id"] for item in both["items"]] == [second["id"]]


def test_a_party_leaves_on_its_notice_and_the_agreement_ends(http: Http) -> None:
    example = worked_example(http)
    posted(http, f"{example['one']}/withdrawal-notices", at("2018-10-09", force=A))
    too_early = http.post(f"{example['one']}/party-withdrawals", at("2018-01-01", force=A))
    assert_problem(too_early, 422, "withdrawal-before-notice")
    assert_problem(http.post(f"{example['one']}/party-withdrawals", at("2019-04-01", force=B)), 422, "no-live-notice")

    left = posted(http, f"{example['one']}/party-withdrawals", at("2019-04-01", force=A))
    assert left["withdrawals"] == [{"force": A, "effective_on": "2019-04-01", "source_version": left["version"]}]
    assert left["notices"][0]["status"] == "completed" and left["notices"][0]["completed_on"] == "2019-04-01"
    assert left["status"] == "active"
    # The force that left is quoted on the notice it left on, to the day it left: the worked example.
    assert quote(http, example["one"], f"force={A}")["total"] == "4815821.92"

    ended = posted(http, f"{example['one']}/termination", at("2019-04-01"))
    assert ended["status"] == "terminated" and ended["terminated_on"] == "2019-04-01"
    assert http.get(f"{BASE}?status=terminated").get_json()["total"] == 1
    refused = http.post(f"{example['one']}/reviews", at("2019-05-01", outcome="too late"))
    assert_problem(refused, 422, "agreement-ended")
    assert http.get(example["one"]).get_json()["version"] == ended["version"]
    still_open = http.get(f"{example['one']}?as_of=2019-03-31").get_json()
    assert still_open["status"] == "notice_served" and still_open["terminated_on"] is None


def test_dates_past_the_year_9999_are_refused_and_never_wedge_the_histories(http: Http) -> None:
    example = worked_example(http)
    other = worked_example(http)
    problem = assert_problem(
        http.get(f"{example['one']}/exit-costs?force={A}&as_of=9999-12-31"), 422, "date-out-of-range"
    )
    assert "9999" in problem["detail"]
    assert_problem(http.post(f"{example['one']}/withdrawal-notices", at("9999-06-01", force=A)), 422)
    # A fact recorded as effective in 9999 has no standing figure then (its notice would end in
    # 10000): the history says why, and every other collaboration's history still answers.
    posted(
        http,
        f"{example['one']}/functions",
        at("9999-06-01", name="Far future", kind="enabling", host_force=A, annual_budget="1.00"),
    )
    far = http.get(f"{example['one']}/exit-cost-history?force={A}").get_json()["items"][-1]
    assert far["after"] is None and "9999" in far["note"]
    assert http.get(f"{other['one']}/exit-cost-history?force={A}").status_code == 200
