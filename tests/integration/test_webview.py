"""The read-only web view (``service/webview``): an auditor session over the same reads as the
API, on the demo data: the register, the West Mercia-Warwickshire collaboration and its exit
case, as they stood, with every quote line linked to the events behind it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from demo import DemoLoad, load_demo
from service.webview import COOKIE, CSRF_COOKIE, SECRET_FILE
from service.wording import event_words
from tests.integration.http_support import Http, http_for

SETTLEMENT = "10,500,000.00"


@pytest.fixture
def demo(sqlite_url: str) -> Iterator[tuple[Http, DemoLoad]]:
    for http in http_for(sqlite_url):
        yield http, load_demo(http.app.extensions["records"])


class Links(HTMLParser):
    """The ids, hrefs and srcs of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.urls: list[str] = []
        self.source_links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.add(attributes["id"])
        for name in ("href", "src", "action"):
            if attributes.get(name) is not None:
                self.urls.append(attributes[name])
        if tag == "a" and "source" in (attributes.get("class") or "").split():
            self.source_links.append(attributes["href"])


def parse(html: str) -> Links:
    links = Links()
    links.feed(html)
    return links


CSRF_INPUT = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)">')


def csrf_of(client: FlaskClient, path: str = "/") -> str:
    """The CSRF field of a page's form (getting the page sets the client's CSRF cookie)."""
    return CSRF_INPUT.findall(client.get(path).get_data(as_text=True))[0]


def post_form(client: FlaskClient, path: str, data: dict[str, str] | None = None, **kwargs: Any) -> TestResponse:
    """A form POST as a browser sends it: from a page of the site, with its CSRF field."""
    form = {"csrf_token": csrf_of(client, kwargs.get("base_url", "http://localhost") + "/"), **(data or {})}
    return client.post(path, data=form, **kwargs)


def session_cookies(response: TestResponse) -> list[str]:
    """The session cookies a response sets (not the CSRF cookie)."""
    return [c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{COOKIE}=")]


def sign_in(http: Http, role: str = "auditor") -> str:
    token = http.token(role)
    response = post_form(http.client, "/sign-in", {"token": token})
    assert response.status_code == 303, response.get_data(as_text=True)
    return token


def page(http: Http, path: str, status: int = 200) -> str:
    response = http.client.get(path)
    assert response.status_code == status, (path, response.status_code, response.get_data(as_text=True)[:2000])
    return response.get_data(as_text=True)


def wmw_paths(load: DemoLoad) -> tuple[str, str]:
    return f"/collaborations/{load.collaborations['wmw']}", f"/exit-cases/{load.exit_cases['wmw']}"


# ------------------------------------------------------------------------------ session
def test_pages_need_a_session_and_the_home_page_asks_for_a_token(demo: tuple[Http, DemoLoad]) -> None:
    http, load = demo
    collaboration, case = wmw_paths(load)
    home = page(http, "/")
    assert 'name="token"' in home and '<label for="token"' in home and '<html lang="en">' in home
    for path in (collaboration, case, "/register"):
        response = http.client.get(path)
        assert response.status_code == 302
        assert urlsplit(response.headers["Location"]).path == "/"


def test_a_bad_token_is_refused(demo: tuple[Http, DemoLoad]) -> None:
    http, _ = demo
    response = post_form(http.client, "/sign-in", {"token": "crs_not-a-token"})
    assert response.status_code == 401
    assert "not valid" in response.get_data(as_text=True)
    assert not [c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{COOKIE}=")]
    assert http.client.get("/register").status_code == 302


def test_the_cookie_is_http_only_strict_signed_and_holds_no_token(demo: tuple[Http, DemoLoad]) -> None:
    http, _ = demo
    token = http.token("auditor")
    response = post_form(http.client, "/sign-in", {"token": token})
    [cookie] = session_cookies(response)
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # plain http in the test client
    assert token not in cookie and token.removeprefix("crs_") not in cookie
    [record] = [r for r in http.tokens.list() if r.name == "Test auditor"]
    assert "Register of collaborations" in page(http, "/")
    # over https it is Secure too
    secure = post_form(http.app.test_client(), "/sign-in", {"token": token}, base_url="https://localhost")
    assert secure.status_code == 303 and all("Secure" in c for c in secure.headers.getlist("Set-Cookie"))
    # a forged cookie is no session
    forged = http.app.test_client()
    forged.set_cookie(COOKIE, record.id)
    assert forged.get("/register").status_code == 302


def test_revoking_the_token_ends_the_session_and_sign_out_clears_it(demo: tuple[Http, DemoLoad]) -> None:
    http, _ = demo
    sign_in(http)
    assert page(http, "/register")
    [record] = [r for r in http.tokens.list() if r.name == "Test auditor"]
    http.tokens.revoke(record.id)
    assert http.client.get("/register").status_code == 302
    assert 'name="token"' in page(http, "/")

    other = http.app.test_client()
    post_form(other, "/sign-in", {"token": http.token("admin")})
    assert other.get("/register").status_code == 200
    out = post_form(other, "/sign-out")
    assert out.status_code == 303 and [c for c in session_cookies(out) if c.startswith(f"{COOKIE}=;")]
    assert other.get("/register").status_code == 302


def test_sign_in_and_sign_out_need_this_sites_csrf_field(demo: tuple[Http, DemoLoad]) -> None:
    http, _ = demo
    token = http.token("auditor")
    client = http.app.test_client()
    # no field, no cookie: a forged sign-in (the attacker's token) is refused
    forged = client.post("/sign-in", data={"token": token})
    assert forged.status_code == 400 and "did not come from this site" in forged.get_data(as_text=True)
    assert not session_cookies(forged)
    # a field signed for another browser's nonce, or tampered with, is refused too
    someone_else = csrf_of(http.app.test_client())
    own = csrf_of(client)
    for field in (someone_else, own[:-2] + ("AA" if not own.endswith("AA") else "BB"), "x"):
        response = client.post("/sign-in", data={"token": token, "csrf_token": field})
        assert response.status_code == 400 and not session_cookies(response), field
    assert client.get("/register").status_code == 302
    # the page's own field works, and its cookie is HttpOnly and Strict
    cookie = client.get_cookie(CSRF_COOKIE)
    assert cookie is not None and cookie.http_only and cookie.same_site == "Strict"
    assert client.post("/sign-in", data={"token": token, "csrf_token": own}).status_code == 303
    # signing out without the field, or with the field from before signing in, leaves the session
    for data in ({}, {"csrf_token": own}):
        out = client.post("/sign-out", data=data)
        assert out.status_code == 400 and not session_cookies(out), data
        assert client.get("/register").status_code == 200
    assert post_form(client, "/sign-out").status_code == 303
    assert client.get("/register").status_code == 302


def test_only_nonces_the_server_issued_are_used(demo: tuple[Http, DemoLoad]) -> None:
    http, _ = demo
    token = http.token("auditor")
    planted = "a" * 32
    attacker, victim = http.app.test_client(), http.app.test_client()
    attacker.set_cookie(CSRF_COOKIE, planted)
    field = csrf_of(attacker)  # the server ignores the planted nonce and issues its own
    assert attacker.get_cookie(CSRF_COOKIE).value != planted
    victim.set_cookie(CSRF_COOKIE, planted)
    assert victim.post("/sign-in", data={"token": token, "csrf_token": field}).status_code == 400
    # odd cookies are refused, never a 500
    for value in ("é" * 32, '"\\303\\251"', "", "x" * 3000, planted):
        client = http.app.test_client()
        client.set_cookie(CSRF_COOKIE, value)
        response = client.post("/sign-in", data={"token": token, "csrf_token": csrf_of(http.app.test_client())})
        assert response.status_code == 400, value
        assert post_form(client, "/sign-in", {"token": token}).status_code == 303, value


@pytest.mark.parametrize(
    "target", ["/\t/evil.example", "/\n/x", "/\r\n/x", "//evil.example", "https://evil.example/", "/\\evil", "/ /x"]
)
def test_sign_in_goes_only_to_a_path_of_this_site(demo: tuple[Http, DemoLoad], target: str) -> None:
    http, load = demo
    token = http.token("auditor")
    client = http.app.test_client()
    response = post_form(client, "/sign-in", {"token": token, "next": target})
    assert response.status_code == 303 and response.headers["Location"] == "/"
    ok = post_form(
        client, "/sign-in", {"token": token, "next": f"/collaborations/{load.collaborations['wmw']}?as_of=2020-01-01"}
    )
    assert ok.headers["Location"] == f"/collaborations/{load.collaborations['wmw']}?as_of=2020-01-01"


# --------------------------------------------------------------------------- register
def test_the_register_lists_the_demo_and_filters(demo: tuple[Http, DemoLoad]) -> None:
    http, _ = demo
    sign_in(http)
    names = (
        "Strategic Alliance (West Mercia and Warwickshire)",
        "Strategic Alliance (Dorset and Devon",
        "7F Procurement",
    )
    html = page(http, "/")
    assert all(name in html for name in names)
    html = page(http, "/?party=dorset")
    assert names[1] in html and names[0] not in html and names[2] not in html
    html = page(http, "/?status=terminated")
    assert names[0] in html and names[1] not in html
    html = page(http, "/?q=procurement")
    assert names[2] in html and names[0] not in html
    html = page(http, "/?as_of=2013-01-01")
    assert names[0] in html and names[1] not in html and names[2] not in html


# ------------------------------------------------------------------------ WMW pages
def test_the_settlement_shows_on_the_case_and_in_its_history(demo: tuple[Http, DemoLoad]) -> None:
    http, load = demo
    sign_in(http)
    collaboration, case = wmw_paths(load)
    html = page(http, collaboration)
    assert "Alliance ICT" in html and "West Mercia Police 69%" in html and "£10,000,000.00" in html
    assert f'href="{case}' in html  # the exit case is linked
    html = page(http, case)
    assert re.search(r'id="figure-agreed"><a href="#event-\d+">£10,500,000.00</a><', html)
    assert "270,000.00" in html and "12,400,000.00" in html and "11,300,000.00" in html
    events = http.app.extensions["records"].events.get(UUID(load.exit_cases["wmw"]))
    settled = [e for e in events if e.__class__.__name__ == "SettlementAgreed"]
    assert settled
    timeline = html[html.index('id="timeline-heading"') :]
    assert f'id="event-{settled[0].originator_version}"' in timeline
    settlement_event = timeline[timeline.index(f'id="event-{settled[0].originator_version}"') :]
    assert "SettlementAgreed" in settlement_event[:300] and SETTLEMENT in settlement_event.split("</li>")[0]
    figures = html[html.index('id="figures-history-heading"') : html.index('id="timeline-heading"')]
    assert SETTLEMENT in figures


def test_known_at_before_the_settlement_hides_it(demo: tuple[Http, DemoLoad]) -> None:
    http, load = demo
    sign_in(http)
    _, case = wmw_paths(load)
    items = http.get(f"/api/v1/exit-cases/{load.exit_cases['wmw']}/history").get_json()["items"]
    assert items
    html = page(http, case)
    versions = [int(v) for v in re.findall(r'id="event-(\d+)"', html)]
    settlement_version = int(re.search(r'<a href="#event-(\d+)">£10,500,000.00</a>', html).group(1))
    before = [v for v in versions if v < settlement_version]
    # the recorded_at of the last event before the settlement, as the timeline shows it
    recorded = re.findall(r'<dt>Recorded at</dt><dd><time datetime="([^"]+)">', html)
    known_at = recorded[versions.index(max(before))]
    html = page(http, f"{case}?known_at={known_at}")
    assert SETTLEMENT not in html
    assert "No settlement agreed." in html
    assert f'id="event-{settlement_version}"' not in html
    assert f'value="{known_at}"' in html  # the control shows what was asked
    collaboration, _ = wmw_paths(load)
    assert SETTLEMENT not in page(http, f"{collaboration}?known_at={known_at}")


def test_every_quote_line_links_to_an_existing_event_anchor(demo: tuple[Http, DemoLoad]) -> None:
    http, load = demo
    sign_in(http)
    collaboration, case = wmw_paths(load)
    assert not parse(page(http, collaboration)).source_links  # ended: no party is quoted
    links = parse(page(http, f"{collaboration}?as_of=2019-10-01"))  # before the break-up
    assert links.source_links
    case_anchors = parse(page(http, case)).ids
    external_case = 0
    for href in links.source_links:
        path, _, anchor = href.partition("#")
        assert anchor.startswith("event-"), href
        if not path:
            assert anchor in links.ids, href
        else:
            external_case += 1
            assert urlsplit(path).path == case, href
            assert anchor in case_anchors, href
    assert external_case > 0  # the claimed heads come from the exit case


CHART_EVENT = re.compile(r'<a href="([^"]*)" aria-label="([^"]*)"><rect ')


def chart_events(html: str, figure_id: str) -> list[tuple[str, str]]:
    """The (href, title) of each event of one chart, from its ``<figure>``."""
    start = html.index(f'<figure class="chart" aria-labelledby="{figure_id}-caption">')
    return [
        (href, unescape(title)) for href, title in CHART_EVENT.findall(html[start : html.index("</figure>", start)])
    ]


def history_rows(http: Http, path: str) -> list[dict[str, Any]]:
    response = http.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["items"]


def test_the_exit_cost_histories_are_charts_with_one_link_per_event(demo: tuple[Http, DemoLoad]) -> None:
    http, load = demo
    sign_in(http)
    collaboration, case = wmw_paths(load)
    html = page(http, collaboration)
    assert html.count('<svg viewBox="0 0 640 260" role="group"') == 2  # one per party
    assert "What it would cost West Mercia Police to leave, event by event" in html
    ids, case_ids = parse(html).ids, parse(page(http, case)).ids
    for force in ("west-mercia", "warwickshire"):
        rows = history_rows(
            http, f"/api/v1/collaborations/{load.collaborations['wmw']}/exit-cost-history?force={force}"
        )
        events = chart_events(html, f"history-{force}")
        assert len(events) == len(rows) > 0  # one link per row, in order
        for (href, title), row in zip(events, rows, strict=True):
            path, _, anchor = href.partition("#")
            assert anchor == f"event-{row['version']}"
            assert anchor in (case_ids if path else ids), href
            assert (urlsplit(path).path if path else collaboration) == (
                case if row["stream_id"] == load.exit_cases["wmw"] else collaboration
            )
            figures = f"Total £{Decimal(row['after']['total']):,}" if row["after"] else "no figures"
            what = event_words(row["type"])
            assert title == f"Event {row['version']}: {what}, effective {row['effective_on']}: {figures}"
        if force == "warwickshire":  # it never served notice: once the agreement ended it has no exit figure
            assert rows[-1]["type"] == "Collaboration.AgreementTerminated"
            assert rows[-1]["after"] is None and "ended" in rows[-1]["note"]

    html = page(http, case)
    assert 'data-series="agreed"' in html and 'data-series="outstanding"' in html
    rows = history_rows(http, f"/api/v1/exit-cases/{load.exit_cases['wmw']}/history")
    events = chart_events(html, "case-history")
    assert [href for href, _ in events] == [f"#event-{row['version']}" for row in rows]
    settled = next(
        title for title, row in zip((t for _, t in events), rows, strict=True) if "Settlement" in row["type"]
    )
    assert f"Agreed £{SETTLEMENT}" in settled and "Claimed £12,400,000.00" in settled
    assert events[-1][1].endswith("Outstanding £0.00")  # paid off in the end


def test_the_charts_show_only_what_was_known_and_in_effect(demo: tuple[Http, DemoLoad]) -> None:
    http, load = demo
    sign_in(http)
    collaboration, case = wmw_paths(load)
    case_rows = history_rows(http, f"/api/v1/exit-cases/{load.exit_cases['wmw']}/history")
    settlement = next(row for row in case_rows if row["type"].endswith("SettlementAgreed"))
    before = case_rows[case_rows.index(settlement) - 1]
    html = page(http, f"{case}?known_at={before['recorded_at']}")
    assert 'data-series="claimed"' in html and 'data-series="agreed"' not in html
    assert [href for href, _ in chart_events(html, "case-history")] == [
        f"#event-{row['version']}" for row in case_rows if row["seq"] < settlement["seq"]
    ]
    html = page(http, f"{case}?as_of={settlement['effective_on']}")
    assert [href for href, _ in chart_events(html, "case-history")] == [
        f"#event-{row['version']}" for row in case_rows if row["effective_on"] <= settlement["effective_on"]
    ]

    force_rows = history_rows(
        http, f"/api/v1/collaborations/{load.collaborations['wmw']}/exit-cost-history?force=west-mercia"
    )
    middle = force_rows[len(force_rows) // 2]
    for query, kept in (
        (f"known_at={middle['recorded_at']}", [r for r in force_rows if r["recorded_at"] <= middle["recorded_at"]]),
        (f"as_of={middle['effective_on']}", [r for r in force_rows if r["effective_on"] <= middle["effective_on"]]),
    ):
        events = chart_events(page(http, f"{collaboration}?{query}"), "history-west-mercia")
        assert 0 < len(kept) < len(force_rows), query
        assert [href.rpartition("#")[2] for href, _ in events] == [f"event-{r['version']}" for r in kept], query


@pytest.mark.parametrize(
    "query", ["as_of=2020-13-01", "as_of=yesterday", "known_at=2020-02-30", "known_at=soon", "page=x"]
)
def test_bad_as_of_or_known_at_is_a_400_page_that_keeps_the_input_to_correct(
    demo: tuple[Http, DemoLoad], query: str
) -> None:
    http, load = demo
    sign_in(http)
    collaboration, case = wmw_paths(load)
    paths = ["/", collaboration, case] if not query.startswith("page") else ["/"]
    for path in paths:
        html = page(http, f"{path}?{query}", status=400)
        assert 'class="error"' in html and "<h1>" in html
        if not query.startswith("page"):
            name, _, value = query.partition("=")
            assert re.search(rf'<input id="{name}" name="{name}" type="text"[^>]*value="{value}"', html), html


def test_known_at_takes_a_plain_date_as_the_end_of_that_day_uk_time(demo: tuple[Http, DemoLoad]) -> None:
    """A date means the end of that day in the UK (23:59:59 GMT, or 22:59:59Z in summer), and the
    page says which moment that was."""
    http, load = demo
    sign_in(http)
    _, case = wmw_paths(load)
    today = datetime.now(ZoneInfo("Europe/London")).date()
    end = datetime.combine(today, datetime.max.time(), tzinfo=ZoneInfo("Europe/London")).astimezone(UTC)
    html = page(http, f"{case}?known_at={today.isoformat()}")
    assert f"Known at the end of {today.isoformat()}, UK time: {end.isoformat(timespec='seconds')[:19]}Z" in html
    moment = page(http, f"{case}?known_at={end.isoformat().replace('+00:00', 'Z')}")
    assert re.findall(r'id="event-(\d+)"', html) == re.findall(r'id="event-(\d+)"', moment) != []


def test_unknown_records_and_times_before_them_are_404_pages(demo: tuple[Http, DemoLoad]) -> None:
    http, load = demo
    sign_in(http)
    collaboration, case = wmw_paths(load)
    page(http, "/collaborations/not-a-uuid", status=404)
    page(http, "/exit-cases/00000000-0000-0000-0000-000000000000", status=404)
    page(http, f"{collaboration}?as_of=2000-01-01", status=404)
    page(http, f"{case}?known_at=2000-01-01T00:00:00Z", status=404)
    page(http, "/benefits/00000000-0000-0000-0000-000000000000", status=404)
    page(http, f"/benefits/{load.benefits['7f:savings']}?as_of=2000-01-01", status=404)


def every_page(load: DemoLoad) -> list[str]:
    paths = ["/", "/register", "/?party=dorset&q=alliance", "/?as_of=2016-01-01&known_at=2100-01-01T00:00:00Z"]
    for collaboration_id in load.collaborations.values():
        paths += [f"/collaborations/{collaboration_id}", f"/collaborations/{collaboration_id}?as_of=2020-01-01"]
        paths += [f"/collaborations/{collaboration_id}/board-pack?previous_on=2020-01-01"]
    for case_id in load.exit_cases.values():
        paths += [f"/exit-cases/{case_id}", f"/exit-cases/{case_id}?as_of=2020-06-01"]
    for benefit_id in load.benefits.values():
        paths += [f"/benefits/{benefit_id}", f"/benefits/{benefit_id}?as_of=2021-01-01"]
    return paths


def test_no_page_writes_and_no_page_links_off_site(demo: tuple[Http, DemoLoad]) -> None:
    http, load = demo
    size = http.log_size()
    sign_in(http)
    for path in every_page(load):
        html = page(http, path)
        links = parse(html)
        for url in links.urls:
            assert not url.startswith(("http://", "https://", "//")), (path, url)
        assert not re.search(r'(src|href|action)="(https?:)?//', html), path
        assert ("<th scope=" in html or "<table" not in html) and 'class="skip-link"' in html
    assert post_form(http.client, "/sign-out").status_code == 303
    sign_in(http)
    assert http.log_size() == size


def test_the_stylesheet_is_served_by_the_app(demo: tuple[Http, DemoLoad]) -> None:
    http, _ = demo
    sign_in(http)
    [href] = [u for u in parse(page(http, "/")).urls if u.endswith(".css")]
    response = http.client.get(href)
    assert response.status_code == 200 and response.mimetype == "text/css"


def test_the_benefits_dashboard_has_realisation_bars_with_the_percentage_as_text(demo: tuple[Http, DemoLoad]) -> None:
    http, load = demo
    sign_in(http)
    html = page(http, f"/collaborations/{load.collaborations['7f']}")
    assert "Benefits dashboard" in html
    assert re.search(r'<rect class="bar-fill"[^>]*width="[0-9.]+"', html)
    assert re.search(r'class="bar-text">-?[0-9.]+%<', html)


def test_the_benefits_dashboard_is_by_pillar_with_the_totals_of_each(demo: tuple[Http, DemoLoad]) -> None:
    http, load = demo
    sign_in(http)
    for key in ("ddc", "7f"):
        collaboration_id = load.collaborations[key]
        dashboard = http.get(f"/api/v1/collaborations/{collaboration_id}/benefits").get_json()
        html = page(http, f"/collaborations/{collaboration_id}")
        section = html[html.index('id="benefits-heading"') : html.index('id="timeline-heading"')]
        pillars = {row["pillar"] for row in dashboard["benefits"]}
        assert pillars and re.findall(r'<table class="benefits cards" id="pillar-(\w+)">', section) == sorted(pillars)
        for pillar in pillars:
            table = section[section.index(f'id="pillar-{pillar}"') :].split("</table>")[0]
            total = dashboard["totals"]["by_pillar"][pillar]
            assert f"Pillar: {pillar.capitalize()}. {total['benefits']} benefit" in table
            assert f"{total['on_track']} on track" in table
            titles = {unescape(t) for t in re.findall(r'<th scope="row"><a href="/benefits/[^"]+">([^<]+)</a>', table)}
            assert titles == {row["title"] for row in dashboard["benefits"] if row["pillar"] == pillar}
        cash = Decimal(dashboard["totals"]["all"]["cash_savings"])
        assert f"cash savings £{cash:,}" in section


def test_every_exit_case_figure_links_to_the_last_event_that_changed_it(demo: tuple[Http, DemoLoad]) -> None:
    http, load = demo
    sign_in(http)
    _, case = wmw_paths(load)
    html = page(http, case)
    anchors = parse(html).ids
    links = dict(re.findall(r'id="figure-(\w+)"><a href="#(event-\d+)">', html))
    assert set(links) == {"claimed", "assessed", "agreed", "written_off", "paid", "outstanding"}
    assert set(links.values()) <= anchors
    events = http.app.extensions["records"].events.get(UUID(load.exit_cases["wmw"]))
    last = {}
    for event in events:
        last[event.__class__.__name__] = f"event-{event.originator_version}"
    assert links["agreed"] == links["written_off"] == last["SettlementAgreed"]
    assert links["paid"] == links["outstanding"] == last["PaymentMade"]  # paid off by the last payment
    assert links["assessed"] == last["Assessed"]
    # the collaboration page's case figures lead to the case's figures
    collaboration = page(http, f"/collaborations/{load.collaborations['wmw']}")
    assert f'href="{case}#figure-agreed">£{SETTLEMENT}</a>' in collaboration


def test_a_benefit_page_shows_its_realisation_and_every_measurement_links_to_its_event(
    demo: tuple[Http, DemoLoad],
) -> None:
    http, load = demo
    sign_in(http)
    savings = load.benefits["7f:savings"]
    dashboard = page(http, f"/collaborations/{load.collaborations['7f']}")
    for benefit_id in (savings, load.benefits["7f:unplanned"]):
        assert f'href="/benefits/{benefit_id}"' in dashboard
    document = http.get(f"/api/v1/benefits/{savings}").get_json()
    html = page(http, f"/benefits/{savings}")
    assert unescape(document["title"]) in unescape(html)
    realised = Decimal(document["realisation"]["cumulative_value"])
    assert re.search(rf'id="realised"><a href="#measurements-heading">£{re.escape(f"{realised:,}")}</a>', html)
    anchors = parse(html).ids
    rows = re.findall(r'<td data-label="Event"><a href="#(event-\d+)">\d+</a></td>\s*</tr>', html)
    assert len(rows) == len(document["measurements"]) > 4
    assert set(rows) <= anchors
    assert [f"event-{m['source_version']}" for m in document["measurements"]] == rows
    # known before the last measurement: it is not there, and the realised value is less by it
    last = document["measurements"][-1]
    recorded = dict(re.findall(r'<li id="event-(\d+)".*?<dt>Recorded at</dt><dd><time datetime="([^"]+)">', html, re.S))
    earlier = page(http, f"/benefits/{savings}?known_at={recorded[str(last['source_version'] - 1)]}")
    assert f'id="event-{last["source_version"]}"' not in earlier
    assert f'href="#event-{last["source_version"]}"' not in earlier
    less = realised - Decimal(last["value"])
    assert re.search(rf'id="realised"><a href="#measurements-heading">£{re.escape(f"{less:,}")}</a>', earlier)


def test_without_a_secret_key_one_is_kept_in_the_instance_folder_with_mode_0600(tmp_path: Path) -> None:
    from flask import Flask

    from service.webview import SECRET_FILE, _secret_for

    app = Flask(__name__, instance_path=str(tmp_path / "instance"))
    first = _secret_for(app)
    path = tmp_path / "instance" / SECRET_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(first) >= 32 and _secret_for(app) == first  # kept across starts
    app.config["SECRET_KEY"] = "configured"
    assert _secret_for(app) == "configured"


def test_processes_starting_together_read_one_whole_secret(tmp_path: Path) -> None:
    """gunicorn's workers start together on a fresh instance: each reads the one secret the first
    wrote whole, never an empty file still being written, and no scratch file is left behind.
    (Before, about two rounds in five saw an empty file; five rounds are run.)"""
    for round_ in range(5):
        instance = tmp_path / f"instance-{round_}"
        read, failed = secrets_read_together(instance, 16)
        assert failed == []
        assert len(read) == 16 and len(set(read)) == 1 and len(read[0]) >= 32
        assert [path.name for path in instance.iterdir()] == [SECRET_FILE]


def secrets_read_together(instance: Path, count: int) -> tuple[list[str], list[Exception]]:
    """What ``count`` apps on ``instance`` starting at once read as their secret, and what failed."""
    import threading

    from flask import Flask

    from service.webview import _secret_for

    apps = [Flask(__name__, instance_path=str(instance)) for _ in range(count)]
    start = threading.Barrier(count)
    read: list[str] = []
    failed: list[Exception] = []

    def read_secret(app: Flask) -> None:
        start.wait()
        try:
            read.append(_secret_for(app))
        except Exception as error:
            failed.append(error)

    threads = [threading.Thread(target=read_secret, args=(app,)) for app in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return read, failed


def test_the_benefit_map_links_enablers_benefits_and_objectives(demo: tuple[Http, DemoLoad]) -> None:
    """The 7F map: the procurement function enables the savings and the dis-benefit, which serve
    the procurement objective; each benefit is a link to its page with its RAG letter."""
    http, load = demo
    sign_in(http)
    html = page(http, f"/collaborations/{load.collaborations['7f']}")
    figure = html[
        html.index('<figure class="benefit-map"') : html.index("</figure>", html.index('class="benefit-map"'))
    ]
    assert 'role="group"' in figure and '<title id="benefit-map-title">Benefit map</title>' in figure
    assert (
        "7F Procurement Function" in figure
        and "Procurement savings for the seven forces&#39; revenue budgets" in figure
    )
    links = re.findall(r'<a href="(/benefits/[^"]+)" aria-label="([^"]+)">', figure)
    assert {href.split("?")[0].rsplit("/", 1)[-1] for href, _ in links} == {
        load.benefits[key] for key in ("7f:savings", "7f:unplanned", "7f:dis-benefit")
    }
    labels = {unescape(label) for _, label in links}
    assert "7F Procurement savings. RAG: green" in labels
    assert "One-off costs of moving the forces onto shared contracts (dis-benefit). RAG: red" in labels
    assert figure.count('class="map-enables"') == figure.count('class="map-serves"') == 3
    assert 'class="map-node map-dis_benefit rag-red"' in figure


def test_the_dashboard_flags_stale_readings_and_shows_rag(demo: tuple[Http, DemoLoad]) -> None:
    """The 7F readings are years old: 'on track' on them must say they are stale."""
    http, load = demo
    sign_in(http)
    html = page(http, f"/collaborations/{load.collaborations['7f']}")
    section = html[html.index('id="benefits-heading"') : html.index('id="timeline-heading"')]
    assert re.search(
        r'<p class="stale">2 benefits have a reading older than their measurement frequency allows', section
    )
    assert "stale: a reading was due by 2020-10-30" in section  # quarterly: 30 June 2020 + 3 months + 30 days
    assert "RAG: 2 green, 0 amber, 1 red, 0 not assessed" in section
    assert "dis-benefits £180,000.00 (not offset)" in section
    benefit = page(http, f"/benefits/{load.benefits['7f:savings']}")
    assert 'id="profile-heading"' in benefit and 'id="rag-heading"' in benefit
    assert "set by hand: Held at amber while supply markets were disrupted" in benefit
    assert "Senior responsible owner" in benefit and "cash-releasing, quantitative" in benefit


def test_the_changes_page_shows_what_changed_and_keeps_a_bad_window_in_its_form(demo: tuple[Http, DemoLoad]) -> None:
    """The West Mercia-Warwickshire alliance between 2019 and 2020: its notice, separations and
    end, each event a sentence; the collaboration's changes as rows of what it was and is."""
    http, load = demo
    sign_in(http)
    collaboration, _ = wmw_paths(load)
    assert "/changes" in page(http, collaboration)
    html = page(http, f"{collaboration}/changes?effective_from=2019-01-01&effective_to=2020-12-31")
    assert "Effective from 2019-01-01 to 2020-12-31" in html
    assert re.search(r"<li>[A-Z][^<]+, effective 2019-", html)
    assert '<th scope="row">status</th>' in html and '<td data-label="Now">ended</td>' in html
    assert 'value="2019-01-01"' in html
    bad = page(http, f"{collaboration}/changes?effective_from=2020-12-31&effective_to=2019-01-01", status=400)
    assert 'class="error" role="alert"' in bad and 'value="2020-12-31"' in bad and 'value="2019-01-01"' in bad
    yesterday = (datetime.now(ZoneInfo("Europe/London")) - timedelta(days=1)).date().isoformat()
    recorded = page(http, f"{collaboration}/changes?known_from={yesterday}")  # the demo was recorded today
    assert "Back-dated: recorded in this window, effective before it." in recorded


def test_pages_name_forces_show_shares_as_percentages_and_times_to_the_second(demo: tuple[Http, DemoLoad]) -> None:
    """Plain language: force names rather than codes, shares as percentages largest first, the
    basis in words, recorded times to the second with their zone (codes stay in the API)."""
    http, load = demo
    sign_in(http)
    collaboration, case = wmw_paths(load)
    html = page(http, collaboration)
    assert "<dt>Lead force</dt><dd>West Mercia Police</dd>" in html
    assert '<th scope="row">Warwickshire Police</th>' in html
    assert "West Mercia Police's exit" in html  # the agreement has ended
    assert "West Mercia Police 69%, Warwickshire Police 31%</a> (fixed ratio)" in html
    assert re.search(r'<time datetime="[^"]+Z">\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC</time>', html)
    assert "Exit case: withdrawal of West Mercia Police" in page(http, case)
    register = page(http, "/")
    assert "<td>West Mercia Police, Warwickshire Police</td>" in register
    assert '<option value="west-mercia">West Mercia Police</option>' in register
