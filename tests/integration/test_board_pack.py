"""Board packs (``service/board_pack.py``) on the demo data, over HTTP: the agreement as it stood
on the meeting date, each party's exit-cost position (a quote only for a party that can still
leave), the exit cases, the benefits, the decisions since the previous pack and the change report;
every figure citing events that the pack's references name with their log position and hash; the
same pack again from its recorded time; as JSON, a printable page and PDF; bad requests refused."""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from pypdf import PdfReader

from demo import DemoLoad, load_demo
from service.pdf import PdfUnavailable, html_to_pdf
from service.resources.collaborations.schemas import BoardPackDocument
from tests.integration import http_support
from tests.integration.http_support import WHEN, Http, assert_problem, http_for
from tests.integration.test_webview import page, parse, sign_in

http_any = http_support.http_any

BASE = "/api/v1/collaborations"
AFTER_THE_BREAK_UP = "meeting_on=2020-06-30&previous_on=2019-10-01"
BEFORE_THE_BREAK_UP = "meeting_on=2019-10-01&previous_on=2019-07-01"


@pytest.fixture
def demo(sqlite_url: str) -> Iterator[tuple[Http, DemoLoad]]:
    for http in http_for(sqlite_url):
        yield http, load_demo(http.app.extensions["records"])


def pack_of(http: Http, collaboration_id: str, query: str) -> dict[str, Any]:
    response = http.get(f"{BASE}/{collaboration_id}/board-pack?{query}")
    assert response.status_code == 200, response.get_json()
    pack = response.get_json()
    assert BoardPackDocument().validate(pack) == {}
    return pack


def cited(value: Any) -> set[str]:
    """Every event id a figure of the pack cites (its refs)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key.endswith("refs") and isinstance(inner, list):
                found.update(inner)
            elif key == "refs" and isinstance(inner, dict):
                found.update(ref for refs in inner.values() for ref in refs)
            else:
                found |= cited(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= cited(inner)
    return found


def test_after_the_break_up_no_party_is_quoted_and_each_says_how_it_left(demo: tuple[Http, DemoLoad]) -> None:
    http, load = demo
    wmw = load.collaborations["wmw"]
    pack = pack_of(http, wmw, AFTER_THE_BREAK_UP)

    state = pack["state"]
    assert (state["status"], state["terminated_on"]) == ("terminated", "2020-03-31")
    parties = {party["force"]: party for party in state["parties"]}
    west_mercia, warwickshire = parties["west-mercia"], parties["warwickshire"]
    assert west_mercia["left_on"] == "2020-03-31" and west_mercia["position"]["kind"] == "left"
    assert west_mercia["position"]["exit_case"]["id"] == load.exit_cases["wmw"]
    assert warwickshire["left_on"] is None and warwickshire["position"]["kind"] == "ended"
    assert all("quote" not in party["position"] for party in parties.values())

    [case] = pack["exit_cases"]
    assert case["figures"]["agreed"]["amount"] == "10500000.00"
    [settlement] = case["figures"]["agreed"]["refs"]
    history = {f"{e['stream_id']}:{e['version']}": e for e in http.history(wmw)}
    assert history[settlement]["type"] == "ExitCase.SettlementAgreed"

    # Decisions effective after the previous pack, up to the meeting: not the s23G direction of
    # 2019-10-01 (the previous pack's own day), but the settlement, the withdrawal and the end.
    types = [decision["type"] for decision in pack["decisions"]]
    assert types == ["ExitCase.SettlementAgreed", "Collaboration.PartyWithdrew", "Collaboration.AgreementTerminated"]
    assert pack["changes"]["window"] == {"kind": "effective", "from": "2019-10-01", "to": "2020-06-30"}
    assert {entity["kind"] for entity in pack["changes"]["entities"]} == {"collaboration", "exit_case"}


def test_every_figure_cites_events_the_references_name_with_their_position_and_hash(
    demo: tuple[Http, DemoLoad],
) -> None:
    http, load = demo
    wmw = load.collaborations["wmw"]
    history = {f"{e['stream_id']}:{e['version']}": e for e in http.history(wmw)}
    for query in (AFTER_THE_BREAK_UP, BEFORE_THE_BREAK_UP):
        pack = pack_of(http, wmw, query)
        references = {reference["event_id"]: reference for reference in pack["references"]}
        ids = cited(pack) | {decision["event_id"] for decision in pack["decisions"]}
        assert ids and ids == set(references)
        for event_id, reference in references.items():
            event = history[event_id]
            assert (reference["position"], reference["hash"], reference["type"]) == (
                event["position"],
                event["hash"],
                event["type"],
            )
        positions = [reference["position"] for reference in pack["references"]]
        assert positions == sorted(positions)


def test_before_the_break_up_each_party_has_its_quote_as_the_api_gives_it(demo: tuple[Http, DemoLoad]) -> None:
    http, load = demo
    wmw = load.collaborations["wmw"]
    pack = pack_of(http, wmw, BEFORE_THE_BREAK_UP)
    assert pack["state"]["status"] == "notice_served"
    for party in pack["state"]["parties"]:
        position = party["position"]
        assert position["kind"] == "in" and party["left_on"] is None
        quote_ = http.get(
            f"{BASE}/{wmw}/exit-costs?force={party['force']}&as_of=2019-10-01&known_at={quote(pack['known_at'])}"
        ).get_json()
        assert position["quote"]["total"] == quote_["total"]
        assert position["quote"]["notice_served"] is (party["force"] == "west-mercia")
        for line, api_line in zip(position["quote"]["lines"], quote_["lines"], strict=True):
            assert line["amount"] == api_line["amount"]
            assert set(line["refs"]) == {source["event_id"] for source in api_line["source_events"].values()}
    # The notice West Mercia served on 2018-10-09 is the status's source.
    [notice] = pack["state"]["refs"]
    history = {f"{e['stream_id']}:{e['version']}": e for e in http.history(wmw)}
    assert history[notice]["type"] == "Collaboration.WithdrawalNoticeServed"


def test_the_same_pack_again_from_its_recorded_time_even_after_later_decisions(demo: tuple[Http, DemoLoad]) -> None:
    http, load = demo
    dorset = load.collaborations["ddc"]
    query = "meeting_on=2024-06-30&previous_on=2023-06-30"
    first = pack_of(http, dorset, query)
    time.sleep(0.01)
    review = http.post(f"{BASE}/{dorset}/reviews", {"outcome": "Continue", **{**WHEN, "effective_on": "2024-01-15"}})
    assert review.status_code == 201, review.get_json()

    again = pack_of(http, dorset, f"{query}&known_at={quote(first['known_at'])}")
    assert again == first
    later = pack_of(http, dorset, query)
    new = [
        d for d in later["decisions"] if d["type"] == "Collaboration.ReviewHeld" and d["effective_on"] == "2024-01-15"
    ]
    assert len(new) == 1 and new[0] not in first["decisions"]
    assert datetime.fromisoformat(later["known_at"]) > datetime.fromisoformat(first["known_at"])


def test_benefits_carry_rag_and_the_events_behind_their_figures(demo: tuple[Http, DemoLoad]) -> None:
    http, load = demo
    pack = pack_of(http, load.collaborations["7f"], "meeting_on=2021-03-31")
    assert pack["previous_on"] is None
    items = {item["benefit_id"]: item for item in pack["benefits"]["items"]}
    savings = items[load.benefits["7f:savings"]]
    assert savings["rag"] in ("green", "amber", "red") and savings["realised_value"] is not None
    assert savings["refs"]["realised_value"] and savings["refs"]["planned_value"]
    assert all(ref.startswith(savings["benefit_id"] + ":") for ref in savings["refs"]["realised_value"])
    totals = pack["benefits"]["totals"]
    assert sum(totals["rag"].values()) == totals["benefits"] == len(items)


def test_the_pack_as_a_printable_page_and_as_pdf(demo: tuple[Http, DemoLoad]) -> None:
    http, load = demo
    wmw = load.collaborations["wmw"]
    pack = pack_of(http, wmw, AFTER_THE_BREAK_UP)
    known = f"&known_at={quote(pack['known_at'])}"
    response = http.get(f"{BASE}/{wmw}/board-pack?{AFTER_THE_BREAK_UP}{known}&format=html")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "<style>" in html and 'rel="stylesheet"' not in html  # prints with nothing else to load
    assert "Withdrew on 2020-03-31" in html and "£10,500,000.00" in html
    links = parse(html)
    for reference in pack["references"]:
        assert f"ref-{reference['position']}" in links.ids and reference["hash"] in html
    for url in links.urls:
        assert url.startswith("#") and url[1:] in links.ids, url
    assert "west-mercia" not in re.sub(r"<[^>]+>", "", html.split("References")[0])

    try:
        html_to_pdf("<p>probe</p>")
    except PdfUnavailable as error:
        pytest.skip(str(error))
    response = http.get(f"{BASE}/{wmw}/board-pack?{AFTER_THE_BREAK_UP}{known}", Accept="application/pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pdf = response.get_data()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    document = PdfReader(io.BytesIO(pdf))
    text = " ".join(" ".join((page_.extract_text() or "").split()) for page_ in document.pages)
    assert len(document.pages) >= 2 and document.metadata.title.startswith("Board pack: Strategic Alliance")
    assert "Withdrew on 2020-03-31" in text and "£10,500,000.00" in text and pack["references"][0]["hash"] in text
    assert "attachment" in response.headers["Content-Disposition"]


def test_bad_requests_are_refused_and_record_nothing(demo: tuple[Http, DemoLoad]) -> None:
    http, load = demo
    wmw = load.collaborations["wmw"]
    size = http.log_size()
    for query, field in (
        ("meeting_on=2020-06-30&previous_on=2020-06-30", "previous_on"),
        ("meeting_on=2020-13-01", "meeting_on"),
        ("meeting_on=2020-06-30&format=docx", "format"),
        ("meeting_on=2020-06-30&known_at=yesterday", "known_at"),
        ("meeting_on=2020-06-30&colour=red", "colour"),
    ):
        response = http.get(f"{BASE}/{wmw}/board-pack?{query}")
        assert_problem(response, 422)
        assert field in str(response.get_json()), (query, response.get_json())
    assert_problem(http.get(f"{BASE}/{wmw}/board-pack?meeting_on=2010-01-01"), 404)
    assert_problem(http.get(f"{BASE}/00000000-0000-0000-0000-000000000000/board-pack"), 404)
    assert_problem(http.get(f"{BASE}/{wmw}/board-pack", Accept="application/msword"), 406)
    assert http.get(f"{BASE}/{wmw}/board-pack", token=None).status_code == 401
    assert http.log_size() == size


def test_the_board_pack_page_and_its_pdf_in_the_web_view(demo: tuple[Http, DemoLoad]) -> None:
    http, load = demo
    wmw = load.collaborations["wmw"]
    sign_in(http)
    assert f"/collaborations/{wmw}/board-pack" in parse(page(http, f"/collaborations/{wmw}")).urls
    form = page(http, f"/collaborations/{wmw}/board-pack")
    assert 'id="meeting_on"' in form and "Board pack</p>" not in form

    html = page(http, f"/collaborations/{wmw}/board-pack?{AFTER_THE_BREAK_UP}")
    links = parse(html)
    assert "Withdrew on 2020-03-31" in html and "Warwickshire Police" in html
    for url in links.urls:
        if url.startswith("#"):
            assert url[1:] in links.ids, url
    [pdf_href] = [url for url in links.urls if "board-pack.pdf" in url]
    assert "known_at=" in pdf_href  # the PDF is the pack on this page, not a later one
    [since_href] = [url for url in links.urls if "/changes?known_from=" in url]
    since = page(http, since_href)  # what has been recorded since the pack was cut: nothing yet
    assert "0 records changed or added" in since and 'role="alert"' not in since
    later = http.post(
        f"{BASE}/{load.collaborations['ddc']}/reviews", {"outcome": "Continue", **WHEN, "effective_on": "2024-01-15"}
    )
    assert later.status_code == 201  # another collaboration's: not this one's change
    assert "0 records changed or added" in page(http, since_href)

    refused = page(http, f"/collaborations/{wmw}/board-pack?meeting_on=30/06/2020", status=400)
    assert 'value="30/06/2020"' in refused and 'role="alert"' in refused
    refused = page(http, f"/collaborations/{wmw}/board-pack?meeting_on=2020-06-30&previous_on=2020-07-01", status=400)
    assert "before the meeting" in refused
    page(http, f"/collaborations/{wmw}/board-pack?meeting_on=2001-01-01", status=400)

    try:
        html_to_pdf("<p>probe</p>")
    except PdfUnavailable as error:
        pytest.skip(str(error))
    response = http.client.get(pdf_href)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.get_data().startswith(b"%PDF-")


def test_the_known_at_of_a_pack_is_now_when_not_given(demo: tuple[Http, DemoLoad]) -> None:
    http, load = demo
    before = datetime.now(UTC)
    pack = pack_of(http, load.collaborations["wmw"], "meeting_on=2020-06-30")
    assert before <= datetime.fromisoformat(pack["known_at"]) <= datetime.now(UTC)


def test_on_every_backend_a_pack_quotes_each_party_from_the_events_it_cites(http_any: Http) -> None:
    """DOMAIN.md's worked example on SQLite and PostgreSQL: each party's quote is the exit-cost
    API's, and every cited event is in the history with the same position and hash."""
    from tests.integration.test_http_exit_costs import worked_example

    collaboration_id = worked_example(http_any)["id"]
    pack = pack_of(http_any, collaboration_id, "meeting_on=2019-03-31&previous_on=2015-03-31")
    history = {f"{e['stream_id']}:{e['version']}": e for e in http_any.history(collaboration_id)}
    for party in pack["state"]["parties"]:
        quote_ = http_any.get(
            f"{BASE}/{collaboration_id}/exit-costs?force={party['force']}&as_of=2019-03-31"
            f"&known_at={quote(pack['known_at'])}"
        ).get_json()
        assert party["position"]["quote"]["total"] == quote_["total"]
    # after 2015-03-31, up to the meeting: the asset (2016-04-01) and the contract (2017-01-01)
    assert [d["type"] for d in pack["decisions"]] == [
        "Collaboration.JointAssetRegistered",
        "Collaboration.ContractCommitted",
    ]
    for reference in pack["references"]:
        event = history[reference["event_id"]]
        assert (reference["position"], reference["hash"]) == (event["position"], event["hash"])


def test_a_known_at_later_than_now_is_read_as_now_so_asking_again_gives_the_same_pack(
    demo: tuple[Http, DemoLoad],
) -> None:
    http, load = demo
    dorset = load.collaborations["ddc"]
    later = quote("2999-01-01T00:00:00Z")
    query = "meeting_on=2024-06-30&previous_on=2023-06-30"
    first = pack_of(http, dorset, f"{query}&known_at={later}")
    assert datetime.fromisoformat(first["known_at"]) <= datetime.now(UTC)
    time.sleep(0.01)
    review = http.post(f"{BASE}/{dorset}/reviews", {"outcome": "Continue", **{**WHEN, "effective_on": "2024-01-15"}})
    assert review.status_code == 201, review.get_json()
    assert pack_of(http, dorset, f"{query}&known_at={quote(first['known_at'])}") == first


def test_text_people_wrote_is_shown_as_written_and_shares_and_rates_as_percentages(
    demo: tuple[Http, DemoLoad],
) -> None:
    http, load = demo
    dorset, wmw = load.collaborations["ddc"], load.collaborations["wmw"]
    outcome = "Shared services suit metropolitan forces better than rural ones like kent"
    review = http.post(f"{BASE}/{dorset}/reviews", {"outcome": outcome, **{**WHEN, "effective_on": "2024-01-15"}})
    assert review.status_code == 201, review.get_json()
    html = http.get(f"{BASE}/{dorset}/board-pack?meeting_on=2024-06-30&previous_on=2023-06-30&format=html")
    assert outcome in html.get_data(as_text=True)

    html = http.get(f"{BASE}/{wmw}/board-pack?meeting_on=2019-10-01&format=html").get_data(as_text=True)
    assert "stranded cost rate: 25%" in html and "£0.25" not in html
    assert "West Mercia Police 69%, Warwickshire Police 31%" in html


def test_each_figure_cites_each_event_once_and_paid_cites_every_payment(demo: tuple[Http, DemoLoad]) -> None:
    http, load = demo
    pack = pack_of(http, load.collaborations["7f"], "meeting_on=2021-03-31")

    def lists_of_refs(value: Any) -> Iterator[list[str]]:
        if isinstance(value, dict):
            for key, inner in value.items():
                if key.endswith("refs") and isinstance(inner, list):
                    yield inner
                elif key == "refs" and isinstance(inner, dict):
                    yield from inner.values()
                else:
                    yield from lists_of_refs(inner)
        elif isinstance(value, list):
            for inner in value:
                yield from lists_of_refs(inner)

    assert all(len(refs) == len(set(refs)) for refs in lists_of_refs(pack))

    wmw = load.collaborations["wmw"]
    [case] = pack_of(http, wmw, AFTER_THE_BREAK_UP.replace("2020-06-30", "2021-06-30"))["exit_cases"]
    payments = [
        f"{event['stream_id']}:{event['version']}"
        for event in http.history(wmw)
        if event["type"] == "ExitCase.PaymentMade" and event["effective_on"] <= "2021-06-30"
    ]
    assert len(payments) >= 2 and case["figures"]["paid"]["refs"] == payments


def test_the_command_line_writes_the_same_pack_as_json_html_or_pdf(demo: tuple[Http, DemoLoad], tmp_path: Any) -> None:
    http, load = demo
    wmw = load.collaborations["wmw"]
    runner = http.app.test_cli_runner()
    dates = ["--meeting-on", "2020-06-30", "--previous-on", "2019-10-01"]
    written = runner.invoke(args=["board-pack", wmw, str(tmp_path / "pack.json"), *dates])
    assert written.exit_code == 0, written.output
    pack = json.loads((tmp_path / "pack.json").read_text())
    assert written.output.strip().endswith(f"as recorded at {pack['known_at']}.")
    assert pack == pack_of(http, wmw, f"{AFTER_THE_BREAK_UP}&known_at={quote(pack['known_at'])}")

    again = [*dates, "--known-at", pack["known_at"]]
    assert runner.invoke(args=["board-pack", wmw, str(tmp_path / "pack.html"), *again]).exit_code == 0
    assert "Withdrew on 2020-03-31" in (tmp_path / "pack.html").read_text()
    for args, message in (
        ([wmw, str(tmp_path / "pack.docx")], "OUT must end in .pdf, .html, .json"),
        (
            [wmw, str(tmp_path / "p.pdf"), "--meeting-on", "2020-06-30", "--previous-on", "2020-07-01"],
            "before the meeting",
        ),
        ([wmw, str(tmp_path / "p.pdf"), "--known-at", "yesterday"], "not an RFC 3339 time"),
        ([wmw, str(tmp_path / "p.pdf"), "--meeting-on", "2001-01-01"], "took effect on 2012-04-01"),
        (["00000000-0000-0000-0000-000000000000", str(tmp_path / "p.pdf")], "no collaboration"),
    ):
        refused = runner.invoke(args=["board-pack", *args])
        assert refused.exit_code != 0 and message in refused.output, (args, refused.output)
        assert not (tmp_path / "p.pdf").exists() and not (tmp_path / "pack.docx").exists()

    try:
        html_to_pdf("<p>probe</p>")
    except PdfUnavailable as error:
        pytest.skip(str(error))
    assert runner.invoke(args=["board-pack", wmw, str(tmp_path / "pack.pdf"), *again]).exit_code == 0
    text = " ".join(page_.extract_text() or "" for page_ in PdfReader(tmp_path / "pack.pdf").pages)
    assert "Withdrew on 2020-03-31" in " ".join(text.split())
