"""The benefits register as a spreadsheet, over HTTP on SQLite and PostgreSQL, and from the
command line: the template; importing a real .xlsx register (all or nothing, row-level faults,
idempotent, evidence naming the file and row); the dashboard and portfolio exported as a
workbook with numbers, formats and provenance, which imports back recording nothing."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook

from service.benefits_workbook import XLSX
from tests.integration import http_support
from tests.integration.http_support import BENEFIT, Http, assert_problem
from tests.integration.test_http_benefits import BENEFITS, COLLABORATIONS, at, got, measure, posted

http = http_support.http
http_any = http_support.http_any

DATA = Path(__file__).parent / "data"
GOOD = DATA / "benefits_register.xlsx"
FAULTY = DATA / "benefits_register_faulty.xlsx"


def upload(
    http: Http,
    collaboration_id: str,
    content: bytes,
    name: str = "register.xlsx",
    token: str | None = "admin",
    **form: str,
) -> Any:
    data = {"effective_on": "2020-04-30", **form, "file": (io.BytesIO(content), name)}
    return http.client.post(
        f"{COLLABORATIONS}/{collaboration_id}/benefits/register",
        data=data,
        headers=http.headers(token),
        content_type="multipart/form-data",
    )


def alliance(http: Http) -> str:
    collaboration = http.establish()
    http.add_function(collaboration["id"])  # "Alliance ICT Dept", which the register names
    return collaboration["id"]


def workbook_of(response: Any) -> Workbook:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == XLSX
    return load_workbook(io.BytesIO(response.get_data()))


def test_the_template_has_the_register_sheets_and_a_guide(http: Http) -> None:
    workbook = workbook_of(http.get(f"{BENEFITS}/register-template"))
    assert workbook.sheetnames == ["Guide", "Benefits", "Profiles", "Measurements"]
    headers = [cell.value for cell in workbook["Benefits"][1]]
    assert headers[:4] == ["Reference", "Benefit ID", "Kind", "Title"]
    assert {"Senior responsible owner", "Cash-releasing", "Measurement frequency", "RAG override"} <= set(headers)
    assert workbook["Benefits"].freeze_panes == "A2"
    guide = [row[1] for row in workbook["Guide"].iter_rows(min_row=5, values_only=True)]
    assert "Sub-category" in guide and "Planned value" in guide


def test_a_register_is_imported_once_with_evidence_naming_its_file_and_row(http_any: Http) -> None:
    http = http_any
    cid = alliance(http)
    size = http.log_size()
    response = upload(http, cid, GOOD.read_bytes(), "Alliance benefits 2020.xlsx")
    assert response.status_code == 201, response.get_json()
    answer = response.get_json()
    assert (answer["recorded"], answer["rows"], answer["file"]) == (True, 8, "Alliance benefits 2020.xlsx")
    assert [entry["reference"] for entry in answer["identified"]] == ["SA-01", "SA-02", "SA-03"]
    assert http.log_size() == size + answer["events"]
    # identified, confidence, profile and a measurement; a dis-benefit and a measurement; a benefit and a measurement
    assert answer["events"] == 4 + 2 + 2

    rows = {row["reference"]: row for row in got(http, f"{COLLABORATIONS}/{cid}/benefits?as_of=2020-04-30")["benefits"]}
    saving = rows["SA-01"]
    assert (saving["planned_value"], saving["expected_basis"], saving["rag"]) == ("30000.00", "profile", "green")
    assert (saving["senior_responsible_owner"], saving["confidence"]) == ("Deputy Chief Constable", "medium")
    assert rows["SA-02"]["kind"] == "dis_benefit" and rows["SA-03"]["latest_value"] == "87.5"
    history = got(http, f"{COLLABORATIONS}/{cid}/history?kind=benefit&limit=100")["items"]
    evidence = {item.get("evidence") for item in history}
    assert "Alliance benefits 2020.xlsx, sheet Benefits, row 2" in evidence
    assert "Alliance benefits 2020.xlsx, sheet Profiles, rows 2-3" in evidence
    assert "Alliance benefits 2020.xlsx, sheet Measurements, row 4" in evidence

    again = upload(http, cid, GOOD.read_bytes(), "Alliance benefits 2020.xlsx")
    assert again.status_code == 200, again.get_json()
    assert (again.get_json()["recorded"], again.get_json()["events"]) == (False, 0)
    assert http.log_size() == size + answer["events"]


def test_a_register_with_faults_is_refused_row_by_row_and_records_nothing(http_any: Http) -> None:
    http = http_any
    cid = alliance(http)
    size = http.log_size()
    refusal = assert_problem(upload(http, cid, FAULTY.read_bytes(), "faulty.xlsx"), 422, "register-refused")
    faults = {(f["sheet"], f["row"], f["column"]): f for f in refusal["faults"]}
    assert set(faults) == {
        ("Benefits", 2, "Category"),  # 4 is no category
        ("Benefits", 3, "Sub-category"),  # 2a belongs to category 2, not 1
        ("Benefits", 4, "Benefit owner"),  # stage 2 (OBC) without an owner
        ("Profiles", 4, "Period start"),  # overlaps row 3's period
    }, refusal["faults"]
    assert faults["Benefits", 3, "Sub-category"]["type"] == "sub-category-mismatch"
    assert faults["Benefits", 4, "Benefit owner"]["type"] == "minimum-standard-not-met"
    assert "overlaps row 3" in faults["Profiles", 4, "Period start"]["message"]
    assert refusal["faults_total"] == 4 and "Benefits!2 Category" in refusal["errors"]
    assert http.log_size() == size
    assert got(http, f"{COLLABORATIONS}/{cid}/benefits")["benefits"] == []


def test_the_exported_dashboard_has_numbers_formats_provenance_and_imports_back_unchanged(http_any: Http) -> None:
    http = http_any
    cid = alliance(http)
    assert upload(http, cid, GOOD.read_bytes()).status_code == 201
    rows = got(http, f"{COLLABORATIONS}/{cid}/benefits")["benefits"]
    saving = next(row for row in rows if row["reference"] == "SA-01")
    one = f"{BENEFITS}/{saving['benefit_id']}"
    measure(http, saving["benefit_id"], "2020-04-01", "2021-03-31", "71000.00", effective_on="2021-04-10")
    posted(http, f"{one}/rag", at("2021-04-11", rag="amber", reason="Savings from the data centre not yet banked"))
    posted(http, f"{one}/link", at("2021-04-11", function_id=None, objective="Cheaper shared ICT"))
    size = http.log_size()

    response = http.get(f"{COLLABORATIONS}/{cid}/benefits?format=xlsx")
    workbook = workbook_of(response)
    assert response.headers["Content-Disposition"] == f'attachment; filename="benefits-{cid}.xlsx"'
    assert workbook.sheetnames == ["Guide", "Benefits", "Profiles", "Measurements", "Dashboard", "Totals", "Provenance"]
    dashboard = workbook["Dashboard"]
    assert dashboard.freeze_panes == "A2"
    header = [cell.value for cell in dashboard[1]]
    row = next(r for r in dashboard.iter_rows(min_row=2) if r[header.index("Reference")].value == "SA-01")
    realised = row[header.index("Realised value")]
    assert realised.data_type == "n" and realised.value == 99500 and realised.number_format == "#,##0.00"
    assert row[header.index("RAG")].value == "amber" and row[header.index("RAG derived")].value == "green"
    assert row[header.index("Variance %")].data_type == "n"
    totals = {r[0].value: r for r in workbook["Totals"].iter_rows(min_row=2)}
    total_header = [cell.value for cell in workbook["Totals"][1]]
    assert totals["All"][total_header.index("Dis-benefits (GBP)")].value == 12000
    provenance = [r for r in workbook["Provenance"].iter_rows(min_row=2, values_only=True) if r[0] == "SA-01"]
    figures = {(r[2], r[3]) for r in provenance}
    assert ("Realised value", "Benefit.MeasurementRecorded") in figures
    assert ("Planned value", "Benefit.ProfileSet") in figures and ("RAG", "Benefit.RagOverridden") in figures

    back = upload(http, cid, response.get_data(), f"benefits-{cid}.xlsx", effective_on="2021-05-01")
    assert back.status_code == 200, back.get_json()
    assert back.get_json()["events"] == 0 and http.log_size() == size

    # a corrected figure in the exported file restates that measurement, and only that
    measurements = workbook["Measurements"]
    columns = [cell.value for cell in measurements[1]]
    for cells in measurements.iter_rows(min_row=2):
        if cells[columns.index("Value")].value == 71000:
            cells[columns.index("Value")].value = 69000
    corrected = io.BytesIO()
    workbook.save(corrected)
    changed = upload(http, cid, corrected.getvalue(), "corrected.xlsx", effective_on="2021-05-01")
    assert changed.status_code == 201, changed.get_json()
    assert changed.get_json()["events"] == 1 and [c["reference"] for c in changed.get_json()["changed"]] == ["SA-01"]
    document = got(http, one)
    assert document["realisation"]["cumulative_value"] == "97500.00"
    assert document["measurements"][-1]["restates"] is not None


def test_the_portfolio_exports_as_a_workbook(http: Http) -> None:
    cid = alliance(http)
    assert upload(http, cid, GOOD.read_bytes()).status_code == 201
    workbook = workbook_of(http.get(f"{BENEFITS}?format=xlsx&pillar=cost"))
    header = [cell.value for cell in workbook["Dashboard"][1]]
    rows = list(workbook["Dashboard"].iter_rows(min_row=2, values_only=True))
    assert {r[header.index("Reference")] for r in rows} == {"SA-01", "SA-02"}
    assert {r[header.index("Collaboration ID")] for r in rows} == {cid}
    accepted = http.get(BENEFITS, Accept=XLSX)
    assert accepted.mimetype == XLSX


def test_bad_uploads_are_refused_and_record_nothing(http: Http) -> None:
    cid = alliance(http)
    size = http.log_size()
    assert_problem(upload(http, cid, b"not a workbook", "register.xlsx"), 422, "register-refused")
    assert_problem(http.post(f"{COLLABORATIONS}/{cid}/benefits/register", {"file": "x"}), 415)
    missing_date = {"file": (io.BytesIO(GOOD.read_bytes()), "r.xlsx")}
    response = http.client.post(
        f"{COLLABORATIONS}/{cid}/benefits/register", data=missing_date, headers=http.headers("admin")
    )
    assert_problem(response, 422)
    wrong_columns = Workbook()
    wrong_columns.active.title = "Benefits"
    wrong_columns.active.append(["Reference", "Titel"])
    content = io.BytesIO()
    wrong_columns.save(content)
    refusal = assert_problem(upload(http, cid, content.getvalue()), 422, "register-refused")
    faults = {(f["column"], f["type"]) for f in refusal["faults"]}
    assert faults >= {("Titel", "unknown-column"), ("Title", "missing-column")}
    outsider = http.token("force", "kent")
    assert_problem(upload(http, cid, GOOD.read_bytes(), token=outsider), 403)
    assert_problem(upload(http, cid, GOOD.read_bytes(), token=http.token("auditor")), 403)  # reads only
    assert_problem(upload(http, cid, GOOD.read_bytes(), token=None), 401)
    dry = upload(http, cid, GOOD.read_bytes(), dry_run="true")
    assert dry.status_code == 200 and dry.get_json()["events"] == 8 and dry.get_json()["recorded"] is False
    assert http.log_size() == size


def test_the_command_line_writes_the_template_imports_and_exports(http: Http, tmp_path: Path) -> None:
    cid = alliance(http)
    runner = http.app.test_cli_runner()
    result = runner.invoke(args=["benefits", "template", str(tmp_path / "template.xlsx")])
    assert result.exit_code == 0, result.output
    assert load_workbook(tmp_path / "template.xlsx").sheetnames[1] == "Benefits"
    faulty = runner.invoke(
        args=["benefits", "import", cid, str(FAULTY), "--actor", "J Smith", "--effective-on", "2020-04-30"]
    )
    assert faulty.exit_code == 1 and "Benefits row 3, Sub-category" in faulty.output
    size = http.log_size()
    args = ["benefits", "import", cid, str(GOOD), "--actor", "J Smith", "--effective-on", "2020-04-30"]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "recorded 8 events (3 benefits identified, 0 changed)" in result.output
    assert http.log_size() == size + 8
    assert "recorded 0 events" in runner.invoke(args=args).output
    result = runner.invoke(args=["benefits", "export", cid, str(tmp_path / "out.xlsx")])
    assert result.exit_code == 0, result.output
    exported = str(tmp_path / "out.xlsx")
    again = runner.invoke(
        args=["benefits", "import", cid, exported, "--actor", "J Smith", "--effective-on", date.today().isoformat()]
    )
    assert "recorded 0 events" in again.output, again.output


# ------------------------------------------------------------------ found by review
def export(http: Http, cid: str) -> bytes:
    response = http.get(f"{COLLABORATIONS}/{cid}/benefits?format=xlsx")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data()


def identify(http: Http, cid: str, **fields: Any) -> dict[str, Any]:
    return posted(http, f"{COLLABORATIONS}/{cid}/benefits", at("2019-04-01", **{**BENEFIT, **fields}))


def test_benefits_without_a_reference_formulas_and_long_decimals_export_and_import_back_unchanged(
    http_any: Http,
) -> None:
    """A benefit recorded without a reference (every benefit before issue 17) is named by its id;
    text starting with "=" stays text, never a formula; a decimal a spreadsheet's double cannot
    hold is written as text and comes back exactly; a maintain benefit has no target to trace."""
    http = http_any
    cid = alliance(http)
    formula = identify(http, cid, title='=HYPERLINK("http://example.invalid","click")', owner="=1+1")
    hours = identify(
        http, cid, title="Hours released", sub_category="1b", unit="hours",
        baseline={"value": "0", "on": "2019-04-01"}, target={"value": "999999999.5", "on": "2021-03-31"},
    )  # fmt: skip
    posted(
        http,
        f"{BENEFITS}/{hours['id']}/measurements",
        at("2019-07-10", period_start="2019-04-01", period_end="2019-06-30", value="123456789.0123456789",
           source="=SUM(A1:A9)"),
    )  # fmt: skip
    identify(
        http, cid, title="Complaints kept level", category="2", sub_category="2b", direction="maintain",
        unit="count", tolerance="2", baseline={"value": "10", "on": "2019-04-01"}, target=None, stage=1,
    )  # fmt: skip
    size = http.log_size()
    content = export(http, cid)
    workbook = load_workbook(io.BytesIO(content))
    titles = {cell.value: cell for cell in next(workbook["Benefits"].iter_cols(min_col=4, max_col=4, min_row=2))}
    assert titles[formula["title"]].data_type == "s"  # text, not a formula
    values = [row[4] for row in workbook["Measurements"].iter_rows(min_row=2, values_only=True)]
    assert values == ["123456789.0123456789"]  # more digits than a double holds: text
    keys = {row[0] for row in workbook["Measurements"].iter_rows(min_row=2, values_only=True)}
    assert keys == {hours["id"]}  # no reference: named by its id
    back = upload(http, cid, content, effective_on=date.today().isoformat())
    assert back.status_code == 200, back.get_json()
    assert back.get_json()["events"] == 0 and http.log_size() == size


def test_a_reference_names_one_benefit_of_a_collaboration(http: Http) -> None:
    cid = alliance(http)
    first = identify(http, cid, reference="B-1")
    size = http.log_size()
    refusal = assert_problem(
        http.post(f"{COLLABORATIONS}/{cid}/benefits", at("2019-04-01", **BENEFIT, reference="B-1")),
        409,
        "benefit-reference-taken",
    )
    assert first["id"] in refusal["detail"] and http.log_size() == size
    other = http.establish()["id"]
    assert identify(http, other, reference="B-1")["id"] != first["id"]  # another collaboration's B-1


def test_a_change_dated_before_the_fact_in_effect_is_refused_not_recorded_on_every_import(http: Http) -> None:
    cid = alliance(http)
    assert upload(http, cid, GOOD.read_bytes()).status_code == 201
    saving = next(r for r in got(http, f"{COLLABORATIONS}/{cid}/benefits")["benefits"] if r["reference"] == "SA-01")
    posted(http, f"{BENEFITS}/{saving['benefit_id']}/rag", at("2021-04-11", rag="amber", reason="watching"))
    workbook = load_workbook(io.BytesIO(export(http, cid)))
    sheet = workbook["Benefits"]
    header = [cell.value for cell in sheet[1]]
    for cells in sheet.iter_rows(min_row=2):
        if cells[header.index("Reference")].value == "SA-01":
            cells[header.index("RAG override")].value = "red"
        if cells[header.index("Reference")].value == "SA-02":
            cells[header.index("Kind")].value = None  # blank keeps the dis-benefit a dis-benefit
    content = io.BytesIO()
    workbook.save(content)
    size = http.log_size()
    refusal = assert_problem(upload(http, cid, content.getvalue()), 422, "register-refused")  # dated 2020-04-30
    assert [(f["sheet"], f["type"]) for f in refusal["faults"]] == [("Benefits", "change-before-the-fact-in-effect")]
    assert "dates from 2021-04-11" in refusal["faults"][0]["message"] and http.log_size() == size
    later = upload(http, cid, content.getvalue(), effective_on="2021-05-01")
    assert later.status_code == 201 and later.get_json()["events"] == 1
    assert upload(http, cid, content.getvalue(), effective_on="2021-05-01").get_json()["events"] == 0


def test_a_new_benefits_profile_is_dated_as_its_row_and_overlaps_in_one_file_name_the_row(http: Http) -> None:
    cid = alliance(http)
    workbook = load_workbook(GOOD)
    sheet = workbook["Benefits"]
    header = [cell.value for cell in sheet[1]]
    sheet.cell(row=2, column=header.index("Effective on") + 1, value=date(2020, 6, 1))
    measurements = workbook["Measurements"]
    measurements.append(["SA-03", None, date(2020, 3, 1), date(2020, 5, 31), 88, "Call centre statistics", None, None])
    content = io.BytesIO()
    workbook.save(content)
    refusal = assert_problem(upload(http, cid, content.getvalue(), effective_on="2020-06-01"), 422, "register-refused")
    assert [(f["sheet"], f["row"], f["column"], f["message"]) for f in refusal["faults"]] == [
        ("Measurements", 5, "Period start", "the period overlaps row 4's")
    ]
    measurements.delete_rows(5)
    content = io.BytesIO()
    workbook.save(content)
    recorded = upload(http, cid, content.getvalue(), effective_on="2020-06-01")
    assert recorded.status_code == 201, recorded.get_json()


def test_uploads_that_are_no_register_are_refused_without_a_crash(http: Http) -> None:
    cid = alliance(http)
    size = http.log_size()
    # a chartsheet where the Measurements sheet should be
    workbook = load_workbook(GOOD)
    del workbook["Measurements"]
    workbook.create_chartsheet("Measurements")
    content = io.BytesIO()
    workbook.save(content)
    refusal = assert_problem(upload(http, cid, content.getvalue()), 422, "register-refused")
    assert refusal["faults"][0]["sheet"] in ("Measurements", "(file)"), refusal["faults"]
    # rows far below the register: the rows scanned are bounded, blank ones included
    sparse = Workbook()
    sparse.active.title = "Benefits"
    sparse.active.append(["Reference", "Title"])
    sparse.active["A70000"] = "B-far"
    content = io.BytesIO()
    sparse.save(content)
    refusal = assert_problem(upload(http, cid, content.getvalue()), 422, "register-refused")
    assert "too-many-rows" in {f["type"] for f in refusal["faults"]}
    # the file sent as a plain field, and a file name with control characters
    response = http.client.post(
        f"{COLLABORATIONS}/{cid}/benefits/register",
        data={"effective_on": "2020-04-30", "file": "not a file"},
        headers=http.headers("admin"),
        content_type="multipart/form-data",
    )
    assert_problem(response, 422)
    assert (
        upload(http, cid, GOOD.read_bytes(), "reg\x00ister\x1b.xlsx", dry_run="true").get_json()["file"]
        == "register.xlsx"
    )
    # an unknown collaboration is refused before the file is read
    assert_problem(upload(http, "00000000-0000-0000-0000-000000000000", b"not read"), 404)
    assert http.log_size() == size
