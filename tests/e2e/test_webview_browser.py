"""The web view in a real browser: headless Chromium (Debian's ``chromium``, driven through
Debian's ``chromium-driver`` by Selenium) against gunicorn serving the demo data.

An auditor signs in, opens West Mercia-Warwickshire, reads the settlement, moves ``known_at``
back before the settlement and sees it disappear, and follows figures (a settlement amount, a
quote line, a point of the history chart) to the events behind them. Every page is captured at
phone and desktop widths, whole, into ``test-artefacts/screenshots/`` (``TEST_ARTEFACTS`` moves
it), and must fit the phone's width without the page scrolling sideways.

``bin/test`` installs Chromium where it is missing (``bin/setup-browser``); where it still is
not there (no root, no package registry), these tests are skipped with that reason.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service as DriverService
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.conftest import BIN, ROOT, Service, running_gunicorn

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
AXE = ROOT / "tests" / "e2e" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING_IMPACTS = ("serious", "critical")
ARTEFACTS = Path(os.environ.get("TEST_ARTEFACTS", ROOT / "test-artefacts")) / "screenshots"
WIDTHS = {"phone": (390, 844), "desktop": (1280, 900)}
WAIT_SECONDS = 20
SETTLEMENT = "10,500,000.00"
WMW = "Strategic Alliance (West Mercia and Warwickshire)"
CASES = (WMW, "Strategic Alliance (Dorset and Devon & Cornwall)", "7F Procurement")


@dataclass
class DemoSite:
    service: Service
    token: str

    def url(self, path: str = "/") -> str:
        return self.service.base_url + path


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSite]:
    """gunicorn (two workers) on a fresh SQLite store holding the demo data, and an auditor's token."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if missing:
        pytest.skip(f"no headless browser: {', '.join(missing)} missing (bin/setup-browser installs Debian's)")
    if not AXE.is_file():
        pytest.skip(f"no axe-core for the accessibility checks: {AXE} missing (bin/setup-axe installs it with npm)")
    tmp_path = tmp_path_factory.mktemp("webview-browser")
    database_url = f"sqlite:///{tmp_path / 'records.sqlite3'}"
    env = {**os.environ, "DATABASE_URL": database_url}
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", "demo", "load"], cwd=ROOT, env=env, check=True, timeout=300)
    with running_gunicorn(tmp_path, database_url, workers=2) as service:
        yield DemoSite(service, service.create_token("--role", "auditor", "--name", "Browser auditor"))


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    """Headless Chromium with no network but loopback, a profile of its own, at desktop width."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # these tests may run as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1280,900",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=DriverService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(WAIT_SECONDS)
    try:
        yield driver
    finally:
        driver.quit()


# ------------------------------------------------------------------------------ helpers
def sign_in(browser: WebDriver, site: DemoSite) -> None:
    browser.get(site.url("/"))
    browser.find_element(By.ID, "token").send_keys(site.token)
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait_for_heading(browser, "Register of collaborations")


def wait_for_heading(browser: WebDriver, text: str) -> WebElement:
    def heading(driver: WebDriver) -> WebElement | bool:
        found = driver.find_elements(By.CSS_SELECTOR, "main h1")
        return found[0] if found and text in found[0].text else False

    # The heading found may belong to the page being left: read as the next one loads, it goes
    # stale (or "does not belong to the document"), which only means "not yet".
    waiting = WebDriverWait(
        browser, WAIT_SECONDS, ignored_exceptions=(StaleElementReferenceException, WebDriverException)
    )
    return waiting.until(heading, f"no heading {text!r} on {browser.current_url}")


def click_and_wait(browser: WebDriver, element: WebElement, heading: str) -> None:
    element.click()
    wait_for_heading(browser, heading)


def targeted_event(browser: WebDriver) -> WebElement:
    """The timeline entry the URL's fragment points at (what ``:target`` highlights)."""
    fragment = browser.execute_script("return location.hash")
    assert re.fullmatch(r"#event-\d+", fragment), browser.current_url
    [entry] = browser.find_elements(By.CSS_SELECTOR, ":target")
    assert entry.get_attribute("id") == fragment[1:] and "event" in entry.get_attribute("class").split()
    return entry


def accessibility_violations(browser: WebDriver) -> list[str]:
    """axe-core's serious and critical violations of the page as shown (WCAG 2.2 A and AA and
    best practice), each as "rule: what, where"."""
    if not browser.execute_script("return typeof window.axe !== 'undefined'"):
        browser.execute_script(AXE.read_text(encoding="utf-8"))
    results = browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        axe.run(document, {resultTypes: ["violations"]}).then(done, (error) => done({error: String(error)}));
        """
    )
    assert "error" not in results, results
    return [
        f"{violation['id']}: {violation['help']}, at {[node['target'] for node in violation['nodes']][:5]}"
        for violation in results["violations"]
        if violation["impact"] in BLOCKING_IMPACTS
    ]


HIDDEN_MONEY = """
    // Money cells (td.num) the reader cannot see without scrolling a box sideways: each must lie
    // inside the viewport and inside every scrolling box around it.
    const width = document.documentElement.clientWidth;
    const hidden = [];
    for (const cell of document.querySelectorAll("td.num")) {
      const box = cell.getBoundingClientRect();
      if (box.width === 0 && box.height === 0) continue;  // in a closed <details>: one click away
      let clipped = box.right > width + 1 || box.left < -1;
      for (let up = cell.parentElement; up && !clipped; up = up.parentElement) {
        const style = getComputedStyle(up);
        if (["auto", "scroll", "hidden"].includes(style.overflowX)) {
          const frame = up.getBoundingClientRect();
          clipped = box.right > frame.right + 1 || box.left < frame.left - 1;
        }
      }
      if (clipped) hidden.push(cell.textContent.trim().slice(0, 40));
    }
    return hidden;
"""


def capture(browser: WebDriver, name: str) -> dict[str, int]:
    """Screenshots of the whole page at phone and desktop widths; returns, per width, how far
    the page is wider than its viewport (0 when nothing scrolls sideways). At each width, every
    money column is in view and axe-core finds no serious or critical violation."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    overflow = {}
    for label, (width, height) in WIDTHS.items():
        browser.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": label == "phone"},
        )
        overflow[label] = browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        hidden = browser.execute_script(HIDDEN_MONEY)
        assert not hidden, f"{name} at {width} px hides money: {hidden[:10]}"
        violations = accessibility_violations(browser)
        assert not violations, f"{name} at {width} px: " + "; ".join(violations)
        shot = browser.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        path = ARTEFACTS / f"{name}-{label}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        assert path.stat().st_size > 10_000, path  # a real rendering, not a blank page
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return overflow


def open_wmw_case(browser: WebDriver, site: DemoSite) -> None:
    sign_in(browser, site)
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, WMW), WMW)
    case_link = browser.find_element(By.CSS_SELECTOR, "section[aria-labelledby=cases-heading] tbody a")
    click_and_wait(browser, case_link, "Exit case: withdrawal of West Mercia Police")


# -------------------------------------------------------------------------------- tests
def test_an_auditor_reads_the_west_mercia_warwickshire_settlement(browser: WebDriver, demo_site: DemoSite) -> None:
    sign_in(browser, demo_site)
    register = browser.find_element(By.TAG_NAME, "main").text
    assert all(name in register for name in CASES)
    assert capture(browser, "register") == {"phone": 0, "desktop": 0}

    click_and_wait(browser, browser.find_element(By.LINK_TEXT, WMW), WMW)
    page = browser.find_element(By.TAG_NAME, "main").text
    assert "West Mercia Police 69%, Warwickshire Police 31%" in page  # names, percentages, largest first
    charts = browser.find_elements(By.CSS_SELECTOR, "figure.chart svg[role=group]")
    assert len(charts) == 2 and all(chart.size["width"] > 300 for chart in charts)
    assert capture(browser, "collaboration-wmw") == {"phone": 0, "desktop": 0}

    case_link = browser.find_element(By.CSS_SELECTOR, "section[aria-labelledby=cases-heading] tbody a")
    click_and_wait(browser, case_link, "Exit case: withdrawal of West Mercia Police")
    figures = {
        key: browser.find_element(By.ID, f"figure-{key}").text
        for key in ("claimed", "assessed", "agreed", "written_off", "paid", "outstanding")
    }
    assert figures == {  # one money format: the pound sign, separators, pence
        "claimed": "£12,400,000.00",
        "assessed": "£11,300,000.00",
        "agreed": f"£{SETTLEMENT}",
        "written_off": "£270,000.00",
        "paid": f"£{SETTLEMENT}",
        "outstanding": "£0.00",
    }
    settlement = browser.find_element(By.ID, "settlement").text
    assert f"West Mercia Police pays Warwickshire Police £{SETTLEMENT}" in settlement
    assert "£270,000.00 written off" in settlement
    assert capture(browser, "exit-case-wmw") == {"phone": 0, "desktop": 0}


def test_known_at_before_the_settlement_takes_it_away(browser: WebDriver, demo_site: DemoSite) -> None:
    open_wmw_case(browser, demo_site)
    settlement_event = browser.find_element(By.CSS_SELECTOR, "#settlement a").get_attribute("href").rpartition("#")[2]
    browser.find_element(By.CSS_SELECTOR, "details.timeline-all > summary").click()  # collapsed on arrival
    entries = browser.find_elements(By.CSS_SELECTOR, "ol.timeline > li.event")
    ids = [entry.get_attribute("id") for entry in entries]
    before = entries[ids.index(settlement_event) - 1]
    shown = before.find_element(By.XPATH, ".//dt[.='Recorded at']/following-sibling::dd[1]/time")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC", shown.text)  # to the second, with the zone
    recorded_at = shown.get_attribute("datetime")  # the exact time behind it

    control = browser.find_element(By.ID, "known_at")
    control.clear()
    control.send_keys(recorded_at)
    browser.find_element(By.CSS_SELECTOR, "form.temporal button[type=submit]").click()
    WebDriverWait(browser, WAIT_SECONDS).until(lambda d: "known_at=" in d.current_url)
    wait_for_heading(browser, "Exit case: withdrawal of West Mercia Police")

    page = browser.find_element(By.TAG_NAME, "main").text
    assert SETTLEMENT not in page and "No settlement agreed." in page
    assert browser.find_element(By.ID, "figure-agreed").text in ("—", "£0.00")
    assert not browser.find_elements(By.ID, settlement_event)
    assert browser.find_element(By.ID, "known_at").get_attribute("value") == recorded_at
    assert not browser.find_elements(By.CSS_SELECTOR, "[data-series=agreed]")  # nor in the chart
    capture(browser, "exit-case-wmw-before-settlement")

    # the collaboration page, reached from here, keeps the time and shows no settlement either
    back = browser.find_element(By.LINK_TEXT, "Back to the collaboration")
    click_and_wait(browser, back, WMW)
    assert "known_at=" in browser.current_url
    assert SETTLEMENT not in browser.find_element(By.TAG_NAME, "main").text

    browser.find_element(By.LINK_TEXT, "Show now").click()
    wait_for_heading(browser, WMW)
    assert "known_at" not in browser.current_url


def test_figures_lead_to_the_events_behind_them(browser: WebDriver, demo_site: DemoSite) -> None:
    open_wmw_case(browser, demo_site)
    browser.find_element(By.CSS_SELECTOR, "#settlement a").click()
    entry = targeted_event(browser)
    assert "SettlementAgreed" in entry.text and SETTLEMENT in entry.text
    assert re.search(r"Hash\n[0-9a-f]{64}", entry.text), entry.text  # the chain hash is shown
    capture(browser, "exit-case-wmw-settlement-event")

    # after the break-up no party is quoted: each says how it left
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, "Back to the collaboration"), WMW)
    now = browser.current_url
    ended = browser.find_element(By.CSS_SELECTOR, "section[aria-labelledby=quotes-heading]").text
    assert "West Mercia Police withdrew on 2020-03-31" in ended and "No quote: it has left" in ended
    assert "still in it. No quote" in ended and not browser.find_elements(By.CSS_SELECTOR, "a.source")

    # a quote line's source event, on another page (the exit case holds the claimed heads), as
    # the agreement stood before the break-up
    browser.get(now + "?as_of=2019-10-01")
    wait_for_heading(browser, WMW)
    quote = browser.find_element(By.CSS_SELECTOR, "section[aria-labelledby=quote-west-mercia]")
    sources = quote.find_elements(By.CSS_SELECTOR, "a.source")
    assert sources
    claimed = next(link for link in sources if "/exit-cases/" in link.get_attribute("href"))
    click_and_wait(browser, claimed, "Exit case: withdrawal of West Mercia Police")
    assert "ClaimLodged" in targeted_event(browser).text

    # an event of the exit-cost history chart (a column of the plot)
    browser.get(now)
    wait_for_heading(browser, WMW)
    browser.find_element(By.CSS_SELECTOR, "#quote-warwickshire ~ details > summary").click()  # collapsed
    columns = browser.find_elements(By.CSS_SELECTOR, "#quote-warwickshire ~ details figure.chart .chart-events a")
    assert columns
    # the agreement's end leaves warwickshire, which never served notice, with no exit figure
    assert columns[-1].get_attribute("aria-label").endswith("Agreement terminated, effective 2020-03-31: no figures")
    column = columns[-2]
    title = column.get_attribute("aria-label")
    column.click()
    WebDriverWait(browser, WAIT_SECONDS).until(lambda d: "#event-" in d.current_url)
    heading = targeted_event(browser).find_element(By.TAG_NAME, "h3").text  # "Event N: what happened"
    assert title.startswith(f"{heading}, effective ") and "Total £" in title


def test_a_board_member_follows_a_benefit_to_its_measurements(browser: WebDriver, demo_site: DemoSite) -> None:
    sign_in(browser, demo_site)
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, "7F Procurement"), "7F Procurement")
    bars = browser.find_elements(By.CSS_SELECTOR, "table.benefits svg.bar")
    assert bars and all(bar.size["width"] > 0 for bar in bars)
    benefit_map = browser.find_element(By.CSS_SELECTOR, "figure.benefit-map svg")
    assert benefit_map.size["width"] > 300 and benefit_map.size["height"] > 100
    assert capture(browser, "collaboration-7f") == {"phone": 0, "desktop": 0}
    # the map's node is a link to the benefit
    node = browser.find_element(By.CSS_SELECTOR, "figure.benefit-map a[aria-label^='7F Procurement savings.']")
    click_and_wait(browser, node, "Benefit: 7F Procurement savings")
    realised = browser.find_element(By.ID, "realised").text
    assert re.match(r"£[0-9,]+\.[0-9]{2}, from \d+ measurements", realised), realised
    assert capture(browser, "benefit-7f-savings") == {"phone": 0, "desktop": 0}
    rows = browser.find_elements(By.CSS_SELECTOR, "section[aria-labelledby=measurements-heading] tbody tr")
    assert len(rows) >= 4
    period = rows[-1].find_element(By.TAG_NAME, "th").text
    rows[-1].find_element(By.CSS_SELECTOR, "td:last-child a").click()
    entry = targeted_event(browser)
    assert "MeasurementRecorded" in entry.text and period.split(" to ")[1] in entry.text


def fill(browser: WebDriver, field: str, value: str) -> None:
    control = browser.find_element(By.ID, field)
    control.clear()
    control.send_keys(value)


def test_every_kind_of_page_reads_at_phone_and_desktop_width(browser: WebDriver, demo_site: DemoSite) -> None:
    """The sign-in page, each collaboration, a benefit, the change report (with a back-dated
    correction flagged), a plain date in "Known at", an error page and the board pack: at 390
    and 1280 px none scrolls sideways, none hides a money column, and axe-core finds no serious or
    critical violation (``capture``)."""
    browser.get(demo_site.url("/"))
    assert capture(browser, "sign-in") == {"phone": 0, "desktop": 0}
    sign_in(browser, demo_site)

    dorset = "Strategic Alliance (Dorset and Devon & Cornwall)"
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, dorset), dorset)
    dorset_url = browser.current_url
    quotes = browser.find_element(By.CSS_SELECTOR, "section[aria-labelledby=quotes-heading]").text
    assert quotes.count("no exit terms") <= 1  # said once for all seven parties, not seven times
    assert capture(browser, "collaboration-ddc") == {"phone": 0, "desktop": 0}

    # "Known at" takes a plain date: the end of that day, UK time, said on the page
    today = browser.execute_script("return new Date().toISOString().slice(0, 10)")
    fill(browser, "known_at", today)
    browser.find_element(By.CSS_SELECTOR, "form.temporal button[type=submit]").click()
    note = WebDriverWait(browser, WAIT_SECONDS).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "form.temporal [role=status]"), "no note on the known-at moment"
    )[0]
    assert note.text.startswith(f"Known at the end of {today}, UK time: ")
    assert browser.find_element(By.ID, "known_at").get_attribute("value") == today

    # a bad date: a 400 page that keeps what was typed, to correct it
    browser.get(dorset_url + "?as_of=31/03/2020")
    assert browser.find_element(By.ID, "as_of").get_attribute("value") == "31/03/2020"
    assert browser.find_element(By.CSS_SELECTOR, "main").text
    assert capture(browser, "error-bad-as-of") == {"phone": 0, "desktop": 0}

    browser.get(dorset_url)
    wait_for_heading(browser, dorset)
    first_benefit = browser.find_element(By.CSS_SELECTOR, "table.benefits tbody th a")
    title = first_benefit.text
    click_and_wait(browser, first_benefit, title)
    assert capture(browser, "benefit-ddc") == {"phone": 0, "desktop": 0}

    # a back-dated correction, recorded now, effective in 2019, is flagged by the change report
    admin = demo_site.service.create_token("--role", "admin", "--name", "Browser admin")
    collaboration_id = dorset_url.rstrip("/").rpartition("/")[2]
    known_from = browser.execute_script("return new Date(Date.now() - 1000).toISOString()")
    recorded = requests.post(
        demo_site.url(f"/api/v1/collaborations/{collaboration_id}/reviews"),
        json={
            "outcome": "Continue; the 2019 review, recorded late",
            "effective_on": "2019-06-01",
            "reason": "Found in the minutes",
        },
        headers={"Authorization": f"Bearer {admin}"},
        timeout=30,
    )
    assert recorded.status_code == 201, recorded.text
    browser.get(demo_site.url(f"/collaborations/{collaboration_id}/changes"))
    wait_for_heading(browser, "What changed")
    fill(browser, "known_from", known_from)
    browser.find_element(By.CSS_SELECTOR, "form.changes button[type=submit]").click()
    WebDriverWait(browser, WAIT_SECONDS).until(lambda d: "known_from=" in d.current_url)
    events = browser.find_element(By.CSS_SELECTOR, "ol.changes-events").text
    assert "Back-dated: recorded in this window, effective before it." in events and "2019-06-01" in events
    assert capture(browser, "changes-ddc-back-dated") == {"phone": 0, "desktop": 0}

    # the board pack of the West Mercia-Warwickshire break-up
    browser.get(demo_site.url("/register"))
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, WMW), WMW)
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, "Board pack for a meeting"), "Board pack")
    assert capture(browser, "board-pack-form") == {"phone": 0, "desktop": 0}
    fill(browser, "meeting_on", "2020-06-30")
    fill(browser, "previous_on", "2019-10-01")
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait_for_heading(browser, WMW)
    pack = browser.find_element(By.CSS_SELECTOR, "article.board-pack").text
    assert "Withdrew on 2020-03-31" in pack and "£10,500,000.00" in pack and "References" in pack
    citation = browser.find_element(By.CSS_SELECTOR, "#pack-cases-heading ~ table sup.refs a")
    citation.click()
    WebDriverWait(browser, WAIT_SECONDS).until(lambda d: "#ref-" in d.current_url)
    [target] = browser.find_elements(By.CSS_SELECTOR, ":target")
    assert re.search(r"[0-9a-f]{64}", target.text), target.text  # the event's hash, to check it by
    assert browser.find_element(By.PARTIAL_LINK_TEXT, "as PDF").get_attribute("href").count("known_at=") == 1
    assert capture(browser, "board-pack-wmw") == {"phone": 0, "desktop": 0}
