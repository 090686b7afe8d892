"""The benefits register as a spreadsheet (``.xlsx``, read and written with openpyxl): the
template a force fills in, reading a filled-in register into checked rows, and the dashboard or
portfolio written out with its figures and their provenance.

**The template** (``template_workbook``; docs/benefits-register.md describes it) follows the
Green Book and IPA register fields. Three sheets are read, each with a header row naming its
columns (in any order; unknown columns are refused, so a misspelt header is not silently
ignored):

- ``Benefits``: one row per benefit or dis-benefit, keyed by its ``Reference`` (the register's
  own, unique in the collaboration);
- ``Profiles``: the planned value per period, one row per period, by ``Reference``;
- ``Measurements``: one row per measurement, by ``Reference``.

Every other sheet (the guide, and in an export the dashboard, totals and provenance) is ignored
when reading. ``read_register`` checks each cell's shape (a date is a date, a decimal a decimal,
a code one of its codes) and gathers every fault as a ``CellError`` (sheet, row, column);
the rules of the domain are checked afterwards, by the import (``service/benefits_import.py``).

**The export** (``register_workbook``) writes the same three sheets from the benefits as they
stand, so that the file imports back recording nothing, and adds ``Dashboard`` (the figures as
numbers, with number formats and a frozen header), ``Totals`` and ``Provenance`` (per figure,
the events behind it).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from domain.benefit import (
    CATEGORIES,
    CONFIDENCE_LEVELS,
    DIRECTIONS,
    FREQUENCY_MONTHS,
    KINDS,
    PILLARS,
    RAGS,
    STAGES,
    STATUSES,
    SUB_CATEGORIES,
    UNITS,
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BENEFITS_SHEET, PROFILES_SHEET, MEASUREMENTS_SHEET = "Benefits", "Profiles", "Measurements"
REGISTER_SHEETS = (BENEFITS_SHEET, PROFILES_SHEET, MEASUREMENTS_SHEET)
MAX_SCANNED_ROWS = 60_000  # rows of all sheets together, blank ones included, that one import reads
MAX_HEADER_COLUMNS = 100  # the columns of a header row read (a register has about 30)
MAX_CELL_TEXT = 10_000
DOUBLE_DIGITS = 15  # the significant digits a spreadsheet's number cell keeps exactly
MAX_UNPACKED_BYTES = 64 * 1024 * 1024  # a register of 50,000 rows unpacks to about 15 MiB
MAX_PART_BYTES = 32 * 1024 * 1024  # one part of it (a sheet, the shared strings)
MAX_ARCHIVE_MEMBERS = 1_000
YES, NO = "Yes", "No"
MONEY_FORMAT = "#,##0.00"
NUMBER_FORMAT = "#,##0.##########"
PERCENT_FORMAT = "0.00"
DATE_FORMAT = "yyyy-mm-dd"
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDE6F0")


@dataclass(frozen=True)
class Column:
    """A column of a register sheet: its header, the field it fills, the kind of value it holds
    (text, code, decimal, date, whole, flag), whether a row needs it, the codes it allows and
    what the guide says of it."""

    header: str
    field: str
    kind: str
    required: bool = False
    codes: tuple[str, ...] = ()
    help: str = ""


BENEFIT_COLUMNS = (
    Column(
        "Reference",
        "reference",
        "text",
        help="The register's own reference, unique in the collaboration; a new benefit needs one, an existing "
        "one without may be named by its Benefit ID",
    ),
    Column("Benefit ID", "benefit_id", "text", help="Filled in by the service; leave blank for a new benefit"),
    Column("Kind", "kind", "code", False, KINDS, "benefit (the default) or dis_benefit"),
    Column("Title", "title", "text", True),
    Column("Category", "category", "code", True, tuple(CATEGORIES), "1 Savings, 2 Service, 3 Compliance"),
    Column("Sub-category", "sub_category", "code", True, tuple(SUB_CATEGORIES), "1a-1c, 2a-2b, 3a-3c: of the category"),
    Column("Pillar", "pillar", "code", True, PILLARS),
    Column("Direction", "direction", "code", False, DIRECTIONS, "Required from stage 2 (OBC) on"),
    Column("Measure", "measure", "text", help="What is measured; required from stage 2 (OBC) on"),
    Column("Unit", "unit", "code", False, UNITS, "Required from stage 2 (OBC) on"),
    Column("Tolerance", "tolerance", "decimal", help="A maintain benefit's tolerance either side of its baseline"),
    Column("Baseline value", "baseline_value", "decimal"),
    Column("Baseline date", "baseline_on", "date"),
    Column("Target value", "target_value", "decimal"),
    Column("Target date", "target_on", "date", help="After the baseline date"),
    Column("Benefit owner", "owner", "text", help="Who realises the benefit; required from stage 2 (OBC) on"),
    Column("Senior responsible owner", "senior_responsible_owner", "text", help="Accountable for the benefit"),
    Column(
        "Cash-releasing",
        "cash_releasing",
        "flag",
        help="Yes or No (the Home Office's cashable); blank: by sub-category",
    ),
    Column("Quantitative", "quantitative", "flag", help="Yes or No (qualitative); blank: by unit"),
    Column("Measurement frequency", "measurement_frequency", "code", False, tuple(FREQUENCY_MONTHS), "Blank: annually"),
    Column("Enabling function", "function", "text", help="A function of the collaboration, by name; blank: the whole"),
    Column("Objective", "objective", "text", help="The objective the benefit serves"),
    Column("Stage", "stage", "whole", False, tuple(str(stage) for stage in STAGES), "0-5; blank: 0"),
    Column("Status", "status", "code", False, STATUSES, "Blank: identified"),
    Column("Confidence", "confidence", "code", False, CONFIDENCE_LEVELS),
    Column("Confidence reason", "confidence_reason", "text", help="Why; needed with a confidence"),
    Column("RAG override", "rag_override", "code", False, RAGS, "Set by hand over the derived RAG; blank: none"),
    Column("RAG override reason", "rag_override_reason", "text", help="Why; needed with an override"),
    Column("Effective on", "effective_on", "date", help="When the row's facts take effect; blank: the import's date"),
)
PROFILE_COLUMNS = (
    Column("Reference", "reference", "text", True, help="The benefit's reference (or, without one, its Benefit ID)"),
    Column("Period start", "period_start", "date", True),
    Column("Period end", "period_end", "date", True),
    Column("Planned value", "value", "decimal", True, help="Planned for the period: an amount, or a level"),
)
MEASUREMENT_COLUMNS = (
    Column("Reference", "reference", "text", True, help="The benefit's reference (or, without one, its Benefit ID)"),
    Column("Measurement ID", "measurement_id", "text", help="Filled in by the service; give it to restate that one"),
    Column("Period start", "period_start", "date", True),
    Column("Period end", "period_end", "date", True),
    Column("Value", "value", "decimal", True, help="For a saving the amount in the period, otherwise the level"),
    Column("Source", "source", "text", True),
    Column("Measurer", "measurer", "text", help="Blank: whoever imports the file"),
    Column("Effective on", "effective_on", "date", help="On or after the period end; blank: the import's date"),
)
SHEET_COLUMNS = {
    BENEFITS_SHEET: BENEFIT_COLUMNS,
    PROFILES_SHEET: PROFILE_COLUMNS,
    MEASUREMENTS_SHEET: MEASUREMENT_COLUMNS,
}


@dataclass(frozen=True)
class CellError:
    """A fault of the register, where it is: the sheet, the row (1-based, as the spreadsheet
    numbers it; 0 for the sheet itself) and the column's header (None: the whole row)."""

    sheet: str
    row: int
    column: str | None
    message: str
    type: str = "invalid-cell"

    def as_dict(self) -> dict[str, Any]:
        return {"sheet": self.sheet, "row": self.row, "column": self.column, "message": self.message, "type": self.type}


class RegisterRefused(Exception):
    """The register has faults; nothing was recorded."""

    def __init__(self, errors: Sequence[CellError]):
        super().__init__(f"{len(errors)} fault(s) in the register")
        self.errors = list(errors)


@dataclass
class RegisterRow:
    """One row of a register sheet: its values by field (None where blank)."""

    sheet: str
    row: int
    values: dict[str, Any]
    faulty: bool = False  # a cell of it did not fit its column (in ``Register.faults``)

    def column_of(self, field_name: str | None) -> str | None:
        """The header of the column holding ``field_name`` (or the first part of a dotted field,
        e.g. "baseline.value"), None if no column of this sheet holds it."""
        if field_name is None:
            return None
        names = {
            "baseline": "baseline_value",
            "target": "target_value",
            "baseline.value": "baseline_value",
            "baseline.on": "baseline_on",
            "target.value": "target_value",
            "target.on": "target_on",
            "function_id": "function",
            "restates": "measurement_id",
            "rag": "rag_override",
        }
        wanted = names.get(field_name, field_name)
        for column in SHEET_COLUMNS[self.sheet]:
            if column.field == wanted or column.field == wanted.split(".")[0]:
                return column.header
        return None

    def where(self, file_name: str) -> str:
        return f"{file_name}, sheet {self.sheet}, row {self.row}"


@dataclass
class Register:
    """A register read from a workbook: its rows, sheet by sheet."""

    file_name: str
    benefits: list[RegisterRow] = field(default_factory=list)
    profiles: list[RegisterRow] = field(default_factory=list)
    measurements: list[RegisterRow] = field(default_factory=list)
    faults: list[CellError] = field(default_factory=list)  # of cells; the import adds the rules'

    @property
    def rows(self) -> int:
        return len(self.benefits) + len(self.profiles) + len(self.measurements)


# ------------------------------------------------------------------------------- reading
def read_register(content: bytes, file_name: str) -> Register:
    """The register in ``content`` (an .xlsx file), every cell checked. Raises RegisterRefused
    where the file is not a register (not a workbook, no Benefits sheet, an unknown or missing
    column, too many rows); a cell that does not fit its column is a fault of the register
    (``Register.faults``) and marks its row faulty, so the import still checks every other row."""
    _check_archive(content)
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a file that is not a workbook
        raise RegisterRefused(
            [CellError("(file)", 0, None, f"not a readable .xlsx workbook ({type(error).__name__})", "not-a-workbook")]
        ) from None
    errors: list[CellError] = []
    register = Register(file_name)
    cells = register.faults
    try:
        if BENEFITS_SHEET not in workbook.sheetnames:
            errors.append(CellError(BENEFITS_SHEET, 0, None, "the workbook has no Benefits sheet", "missing-sheet"))
        read = 0
        for sheet in REGISTER_SHEETS:
            if sheet not in workbook.sheetnames:
                continue
            if not hasattr(workbook[sheet], "iter_rows"):  # a chartsheet
                errors.append(CellError(sheet, 0, None, f"{sheet} is not a sheet of cells", "missing-sheet"))
                continue
            scanned, rows = _read_sheet(workbook[sheet], sheet, errors, cells, MAX_SCANNED_ROWS - read)
            read += scanned
            getattr(register, sheet.lower()).extend(rows)
    finally:
        workbook.close()
    if errors:
        raise RegisterRefused(errors)
    return register


def _check_archive(content: bytes) -> None:
    """An .xlsx file is a zip archive: refuse one that is not, or that would unpack to more than
    ``MAX_UNPACKED_BYTES`` (a "zip bomb"), before openpyxl unpacks anything."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise RegisterRefused(
            [CellError("(file)", 0, None, "not an .xlsx workbook (an .xlsx file is a zip archive)", "not-a-workbook")]
        ) from None
    unpacked = sum(member.file_size for member in members)
    largest = max((member.file_size for member in members), default=0)
    if len(members) > MAX_ARCHIVE_MEMBERS or unpacked > MAX_UNPACKED_BYTES or largest > MAX_PART_BYTES:
        raise RegisterRefused(
            [
                CellError(
                    "(file)",
                    0,
                    None,
                    f"the workbook unpacks to {unpacked} bytes in {len(members)} parts (the largest {largest}); a "
                    f"register unpacks to at most {MAX_UNPACKED_BYTES} bytes in {MAX_ARCHIVE_MEMBERS} parts of at "
                    f"most {MAX_PART_BYTES}",
                    "workbook-too-large",
                )
            ]
        )


def _read_sheet(
    sheet: Worksheet, name: str, errors: list[CellError], cells: list[CellError], budget: int
) -> list[RegisterRow]:
    """(rows scanned, blank ones included; the rows read). At most ``MAX_HEADER_COLUMNS`` columns
    are read, and rows up to ``budget`` scanned, so a sparse sheet that claims a million rows of
    16,384 columns costs no more than a full register."""
    columns = {column.header.casefold(): column for column in SHEET_COLUMNS[name]}
    header = next(sheet.iter_rows(min_row=1, max_row=1, max_col=MAX_HEADER_COLUMNS, values_only=True), None)
    if header is None:
        return 0, []
    positions: dict[int, Column] = {}
    for index, heading in enumerate(header):
        if heading is None or (isinstance(heading, str) and not heading.strip()):
            continue
        column = columns.get(str(heading).strip().casefold())
        if column is None:
            errors.append(
                CellError(name, 1, str(heading)[:80], f"unknown column {str(heading)[:80]!r}", "unknown-column")
            )
        elif column in positions.values():
            errors.append(
                CellError(name, 1, column.header, f"the column {column.header!r} appears twice", "unknown-column")
            )
        else:
            positions[index] = column
    missing = [column.header for column in SHEET_COLUMNS[name] if column.required and column not in positions.values()]
    for header_name in missing:
        errors.append(CellError(name, 1, header_name, f"the sheet has no {header_name!r} column", "missing-column"))
    read: list[RegisterRow] = []
    width = max(positions, default=-1) + 1
    if width == 0:
        return 1, []
    scanned = 1
    for number, cells_of_row in enumerate(sheet.iter_rows(min_row=2, max_col=width, values_only=True), start=2):
        scanned += 1
        if scanned > budget:
            errors.append(
                CellError(name, number, None, f"a register has at most {MAX_SCANNED_ROWS} rows", "too-many-rows")
            )
            break
        if all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells_of_row):
            continue  # blank rows are skipped (but counted)
        values: dict[str, Any] = {column.field: None for column in SHEET_COLUMNS[name]}
        faults = len(cells)
        for index, column in positions.items():
            raw = cells_of_row[index] if index < len(cells_of_row) else None
            try:
                values[column.field] = cell_value(raw, column)
            except ValueError as error:
                cells.append(CellError(name, number, column.header, str(error)))
        bad = {fault.column for fault in cells[faults:]}
        for column in positions.values():
            if column.required and values[column.field] is None and column.header not in bad:
                cells.append(CellError(name, number, column.header, f"{column.header} is required", "missing-value"))
        read.append(RegisterRow(name, number, values, faulty=len(cells) > faults))
    return scanned, read


DATE_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}")


def cell_value(raw: Any, column: Column) -> Any:
    """The value of a cell for its column, or None where blank; raises ValueError, saying what
    the column takes, where the cell does not fit."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, str):
        raw = raw.strip()
        if len(raw) > MAX_CELL_TEXT:
            raise ValueError(f"{column.header} is longer than {MAX_CELL_TEXT} characters")
    kind = column.kind
    if kind == "text":
        if isinstance(raw, datetime | date):
            raise ValueError(f"{column.header} is text, not a date")
        return _number_text(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else str(raw)
    if kind in ("code", "whole"):
        text = _number_text(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else str(raw)
        if column.codes and text not in column.codes:
            raise ValueError(f"{column.header} must be one of {', '.join(column.codes)}, not {text[:40]!r}")
        return int(text) if kind == "whole" else text
    if kind == "decimal":
        if isinstance(raw, (bool, datetime | date)):
            raise ValueError(f"{column.header} must be a number")
        try:
            # a number cell is a double: read to 15 significant digits, as a spreadsheet shows it
            # (0.1 + 0.2 is 0.3); the export writes a decimal a double cannot hold as text
            value = Decimal(format(raw, ".15g")) if isinstance(raw, float) else Decimal(str(raw).replace(",", ""))
        except InvalidOperation:
            raise ValueError(f"{column.header} must be a number, not {str(raw)[:40]!r}") from None
        if not value.is_finite():
            raise ValueError(f"{column.header} must be a finite number")
        return value
    if kind == "date":
        if isinstance(raw, datetime):
            if raw.time() != datetime.min.time():
                raise ValueError(f"{column.header} must be a date, not a time of day")
            return raw.date()
        if isinstance(raw, date):
            return raw
        if isinstance(raw, str) and DATE_TEXT.fullmatch(raw):
            try:
                return date.fromisoformat(raw)
            except ValueError:
                pass
        raise ValueError(f"{column.header} must be a date (YYYY-MM-DD), not {str(raw)[:40]!r}")
    if kind == "flag":
        if isinstance(raw, bool):
            return raw
        text = str(raw).casefold()
        if text in ("yes", "y", "true"):
            return True
        if text in ("no", "n", "false"):
            return False
        raise ValueError(f"{column.header} must be Yes or No, not {str(raw)[:40]!r}")
    raise AssertionError(kind)


def _number_text(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# ------------------------------------------------------------------------------- writing
def template_workbook() -> bytes:
    """The empty register: the three sheets with their headers, and a guide to every column."""
    workbook = Workbook()
    guide = workbook.active
    guide.title = "Guide"
    _write_guide(guide)
    for name, columns in SHEET_COLUMNS.items():
        _header(workbook.create_sheet(name), [column.header for column in columns])
    return _saved(workbook)


def _write_guide(sheet: Worksheet) -> None:
    sheet.append(["Benefits register template"])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append(
        [
            "Fill in the Benefits sheet (one row per benefit or dis-benefit), and if you have them the Profiles "
            "(planned value per period) and Measurements sheets, keyed by Reference. Import the file into a "
            "collaboration: every row is checked first and nothing is recorded unless all are right; importing "
            "the same file again records nothing new. A blank cell keeps what is recorded."
        ]
    )
    sheet.append([])
    sheet.append(["Sheet", "Column", "Required", "Values", "About"])
    for cell in sheet[4]:
        cell.font = HEADER_FONT
    for name, columns in SHEET_COLUMNS.items():
        for column in columns:
            values = (
                ", ".join(column.codes)
                if column.codes and column.kind != "whole"
                else {
                    "decimal": "a number",
                    "date": "a date",
                    "flag": "Yes or No",
                    "whole": "0-5",
                }.get(column.kind, "text")
            )
            sheet.append([name, column.header, "Yes" if column.required else "", values, column.help])
    for letter, width in zip("ABCDE", (14, 26, 10, 40, 80), strict=True):
        sheet.column_dimensions[letter].width = width


def _header(sheet: Worksheet, headers: Sequence[str]) -> None:
    sheet.append(list(headers))
    for index, cell in enumerate(sheet[1], start=1):
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.column_dimensions[get_column_letter(index)].width = max(12, min(40, len(str(cell.value)) + 4))
    sheet.freeze_panes = "A2"


def _saved(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@dataclass(frozen=True)
class ExportedBenefit:
    """What the export writes of one benefit: its register entry (the Benefits sheet's fields),
    its profile and current measurements, its dashboard row and the provenance of its figures."""

    entry: Mapping[str, Any]
    profile: Sequence[Mapping[str, Any]]
    measurements: Sequence[Mapping[str, Any]]
    row: Mapping[str, Any]
    provenance: Sequence[tuple[str, str, int, str, str]]  # (figure, event type, version, effective on, detail)

    @property
    def key(self) -> str:
        """How its Profiles and Measurements rows name it: its reference, else its id."""
        return self.entry["reference"] or self.entry["benefit_id"]


DASHBOARD_COLUMNS = (
    ("Reference", "reference", None),
    ("Collaboration ID", "collaboration_id", None),
    ("Benefit ID", "benefit_id", None),
    ("Title", "title", None),
    ("Kind", "kind", None),
    ("Pillar", "pillar", None),
    ("Sub-category", "sub_category", None),
    ("Unit", "unit", None),
    ("Cash-releasing", "cash_releasing", None),
    ("Stage", "stage", None),
    ("Status", "status", None),
    ("Latest period end", "latest_period_end", "date"),
    ("Latest value", "latest_value", "value"),
    ("Realised value", "realised_value", "value"),
    ("Planned value", "planned_value", "value"),
    ("Plan", "expected_basis", None),
    ("Variance", "variance", "value"),
    ("Variance %", "variance_percent", "percent"),
    ("Realisation %", "realisation_percent", "percent"),
    ("Expected %", "expected_percent", "percent"),
    ("On track", "on_track", None),
    ("RAG", "rag", None),
    ("RAG derived", "rag_derived", None),
    ("Confidence", "confidence", None),
    ("Measurements", "measurements_count", "count"),
    ("Next reading due by", "measurement_due_by", "date"),
    ("Stale", "stale", None),
    ("Version", "version", "count"),
)
TOTAL_FIELDS = (
    ("Benefits", "benefits"),
    ("Dis-benefits", "dis_benefits"),
    ("Measured", "measured"),
    ("On track", "on_track"),
    ("Stale", "stale"),
    ("Green", "green"),
    ("Amber", "amber"),
    ("Red", "red"),
    ("Not assessed", "not_assessed"),
    ("Cash savings (GBP)", "cash_savings"),
    ("Cost avoided (GBP)", "cost_avoided"),
    ("Cash-releasing (GBP)", "cash_releasing"),
    ("Non-cash-releasing (GBP)", "non_cash_releasing"),
    ("Dis-benefits (GBP)", "dis_benefits_money"),
    ("Net (GBP)", "net_money"),
)


def register_workbook(
    benefits: Iterable[ExportedBenefit],
    totals: Mapping[str, Any] | None,
    *,
    title: str,
    read_on: date,
) -> bytes:
    """The register sheets (which import back recording nothing), then the dashboard's figures
    as numbers, the totals and the provenance of every figure."""
    benefits = list(benefits)
    workbook = Workbook()
    guide = workbook.active
    guide.title = "Guide"
    _write_guide(guide)
    guide.insert_rows(1, 2)
    guide["A1"] = title
    guide["A1"].font = Font(bold=True, size=14)
    guide["A2"] = f"Read on {read_on.isoformat()}; the Dashboard, Totals and Provenance sheets are not read on import."
    sheets = {name: workbook.create_sheet(name) for name in SHEET_COLUMNS}
    for name, sheet in sheets.items():
        _header(sheet, [column.header for column in SHEET_COLUMNS[name]])
    for benefit in benefits:
        key = benefit.key
        _append(sheets[BENEFITS_SHEET], BENEFIT_COLUMNS, benefit.entry)
        for period in benefit.profile:
            _append(sheets[PROFILES_SHEET], PROFILE_COLUMNS, {"reference": key, **period})
        for measurement in benefit.measurements:
            _append(sheets[MEASUREMENTS_SHEET], MEASUREMENT_COLUMNS, {"reference": key, **measurement})
    dashboard = workbook.create_sheet("Dashboard")
    _header(dashboard, [header for header, _, _ in DASHBOARD_COLUMNS])
    for benefit in benefits:
        row = {**benefit.row, "reference": benefit.key}
        unit = row.get("unit")
        dashboard.append(
            [
                _cell(dashboard, _figure(row.get(name), kind, unit), _figure_format(kind, unit))
                for _, name, kind in DASHBOARD_COLUMNS
            ]
        )
    if totals is not None:
        _write_totals(workbook.create_sheet("Totals"), totals)
    provenance = workbook.create_sheet("Provenance")
    _header(provenance, ["Reference", "Benefit ID", "Figure", "Event", "Benefit version", "Effective on", "Detail"])
    for benefit in benefits:
        key = benefit.key
        for figure, event, version, effective_on, detail in benefit.provenance:
            values = [key, benefit.row["benefit_id"], figure, event, version, effective_on, detail]
            provenance.append([_cell(provenance, value) for value in values])
    return _saved(workbook)


def _cell(sheet: Worksheet, value: Any, number_format: str | None = None) -> Cell:
    """A cell with its number format, for ``sheet.append``: formatting a row once appended would
    mean finding it, and openpyxl finds rows by scanning every cell (quadratic in the rows).

    Text is always text: openpyxl would make text starting with "=" a formula, and a title or a
    reason recorded as "=HYPERLINK(...)" must not run in the reader's spreadsheet. A decimal with
    more significant digits than a double holds exactly (15) is written as text, so that it
    imports back exactly."""
    if isinstance(value, Decimal) and len(value.as_tuple().digits) > DOUBLE_DIGITS:
        value = format(value, "f")
    cell = Cell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    elif number_format is not None and value is not None:
        cell.number_format = number_format
    return cell


def _append(sheet: Worksheet, columns: Sequence[Column], values: Mapping[str, Any]) -> None:
    row = []
    for column in columns:
        value = values.get(column.field)
        number_format = None
        if column.kind == "flag" and value is not None:
            value = YES if value else NO
        elif column.kind == "decimal":
            value, number_format = (None if value is None else Decimal(value)), NUMBER_FORMAT
        elif column.kind == "date":
            value = date.fromisoformat(value) if isinstance(value, str) else value
            number_format = DATE_FORMAT
        row.append(_cell(sheet, value, number_format))
    sheet.append(row)


def _figure(value: Any, kind: str | None, unit: str | None) -> Any:
    if value is None:
        return None
    if kind in ("value", "percent"):
        return Decimal(value)
    if kind == "date":
        return date.fromisoformat(value)
    if isinstance(value, bool):
        return YES if value else NO
    return value


def _figure_format(kind: str | None, unit: str | None) -> str | None:
    if kind == "value":
        return MONEY_FORMAT if unit == "GBP" else NUMBER_FORMAT
    return {"percent": PERCENT_FORMAT, "date": DATE_FORMAT}.get(kind or "")


def _write_totals(sheet: Worksheet, totals: Mapping[str, Any]) -> None:
    groups = [("All", "all", totals["all"])]
    groups += [(f"Pillar: {name}", "pillar", total) for name, total in totals["by_pillar"].items()]
    groups += [
        (f"Category {code} {CATEGORIES[code]}", "category", total) for code, total in totals["by_category"].items()
    ]
    _header(sheet, ["Total", *(label for label, _ in TOTAL_FIELDS)])
    for label, _, total in groups:
        values = {**total, **total["rag"]}
        money = {name: MONEY_FORMAT for _, name in TOTAL_FIELDS if isinstance(values[name], str)}
        sheet.append([label, *(_cell(sheet, _total(values[name]), money.get(name)) for _, name in TOTAL_FIELDS)])


def _total(value: Any) -> Any:
    return Decimal(value) if isinstance(value, str) else value
