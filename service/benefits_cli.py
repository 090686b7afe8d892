"""``flask --app wsgi benefits ...``: the benefits register as a spreadsheet from the command line.

- ``template OUT.xlsx``: the register template to fill in;
- ``import COLLABORATION_ID FILE.xlsx --actor NAME --effective-on YYYY-MM-DD``: records the
  register, all of it or nothing, exactly as the API's import does (``--dry-run`` checks it and
  says what it would record); a refused register prints every fault by sheet, row and column
  and exits 1;
- ``export COLLABORATION_ID OUT.xlsx``: the collaboration's dashboard as a workbook (the register
  sheets, which import back recording nothing, the figures, the totals and their provenance).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from domain.errors import DomainError
from service.access import Caller
from service.application import CollaborationRecords
from service.benefits_workbook import RegisterRefused, read_register, template_workbook
from service.queries import RecordQueries

benefits_cli = AppGroup("benefits", help="The benefits register as a spreadsheet: template, import, export.")


def _records() -> CollaborationRecords:
    return current_app.extensions["records"]


def _queries() -> RecordQueries:
    return current_app.extensions["queries"]


@benefits_cli.command("template")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def template(out: Path) -> None:
    """Write the benefits register template to OUT."""
    out.write_bytes(template_workbook())
    click.echo(f"Wrote the benefits register template to {out}.")


@benefits_cli.command("import")
@click.argument("collaboration_id")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--actor", required=True, help="Who records the register, e.g. 'J Smith, benefits manager'")
@click.option(
    "--effective-on",
    "effective_on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    required=True,
    help="When its facts take effect where a row gives no date (YYYY-MM-DD)",
)
@click.option("--reason", default=None, help="Why it is recorded (default: imported from the register FILE)")
@click.option("--dry-run", is_flag=True, help="Check the register and say what it would record; record nothing")
def import_register(
    collaboration_id: str, file: Path, actor: str, effective_on: date, reason: str | None, dry_run: bool
) -> None:
    """Import the register FILE into the collaboration: all of it or nothing."""
    try:
        register = read_register(file.read_bytes(), file.name)
        plan = _records().import_benefits_register(
            collaboration_id,
            register,
            benefit_ids=_queries().benefit_ids(collaboration_id),
            caller=Caller(f"{actor} (admin, command line)"),
            effective_on=effective_on.date() if hasattr(effective_on, "date") else effective_on,
            reason=reason,
            dry_run=dry_run,
        )
    except RegisterRefused as refused:
        click.echo(f"{file.name}: {len(refused.errors)} fault(s); nothing was recorded.", err=True)
        for fault in refused.errors:
            column = f", {fault.column}" if fault.column else ""
            click.echo(f"  {fault.sheet} row {fault.row}{column}: {fault.message}", err=True)
        raise SystemExit(1) from None
    except DomainError as error:
        raise click.ClickException(error.detail) from None
    verb = "would record" if dry_run else "recorded"
    click.echo(
        f"{file.name}: {register.rows} rows; {verb} {plan.events} events "
        f"({len(plan.identified)} benefits identified, {len(plan.changed)} changed)."
    )


@benefits_cli.command("export")
@click.argument("collaboration_id")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def export(collaboration_id: str, out: Path) -> None:
    """Write the collaboration's benefits dashboard as a workbook to OUT."""
    try:
        workbook = _queries().benefits_workbook(collaboration_id)
    except DomainError as error:
        raise click.ClickException(error.detail) from None
    out.write_bytes(workbook)
    click.echo(f"Wrote the benefits of {collaboration_id} to {out}.")
