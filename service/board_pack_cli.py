"""``flask --app wsgi board-pack COLLABORATION_ID OUT``: a board pack written to a file, for the
clerk who prepares the papers (``service/board_pack.py``; docs/board-packs.md).

OUT's extension says the format: ``.pdf`` (A4), ``.html`` (one printable page, its styles
inline) or ``.json`` (the API's document). ``--meeting-on`` (default today), ``--previous-on``
and ``--known-at`` are the API's ``meeting_on``, ``previous_on`` and ``known_at``; the pack
states the time it was read at, and the command prints it, to cut the same pack again.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from marshmallow import ValidationError

from domain.errors import DomainError
from service.board_pack import board_pack
from service.fields import Timestamp
from service.pdf import PdfUnavailable
from service.webview.pack_document import pack_html, pack_pdf

FORMATS = (".pdf", ".html", ".json")


@click.command("board-pack")
@with_appcontext
@click.argument("collaboration_id")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--meeting-on", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="YYYY-MM-DD (today)")
@click.option("--previous-on", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="YYYY-MM-DD")
@click.option("--known-at", default=None, help="RFC 3339: the record as known then (default: now)")
def board_pack_cli(
    collaboration_id: str, out: Path, meeting_on: datetime | None, previous_on: datetime | None, known_at: str | None
) -> None:
    """Write the board pack of COLLABORATION_ID for a meeting to OUT (.pdf, .html or .json)."""
    if out.suffix.lower() not in FORMATS:
        raise click.BadParameter(f"OUT must end in {', '.join(FORMATS)}", param_hint="OUT")
    meeting = meeting_on.date() if meeting_on else date.today()
    previous = previous_on.date() if previous_on else None
    if previous is not None and not previous < meeting:
        raise click.BadParameter("must be before the meeting", param_hint="--previous-on")
    moment = None
    if known_at is not None:
        try:
            moment = Timestamp().deserialize(known_at)  # as the API reads it: RFC 3339, with its offset
        except ValidationError:
            raise click.BadParameter(
                f"{known_at!r} is not an RFC 3339 time (e.g. 2020-06-30T17:00:00Z)", param_hint="--known-at"
            ) from None
    try:
        pack = board_pack(
            current_app.extensions["queries"],
            collaboration_id,
            meeting_on=meeting,
            previous_on=previous,
            known_at=moment,
        )
        suffix = out.suffix.lower()
        if suffix == ".json":
            out.write_text(json.dumps(pack, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        elif suffix == ".html":
            out.write_text(pack_html(pack), encoding="utf-8")
        else:
            out.write_bytes(pack_pdf(pack))
    except DomainError as error:
        raise click.ClickException(error.detail) from None
    except PdfUnavailable as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"Wrote the board pack of {pack['name']} for {pack['meeting_on']} to {out}, as recorded at {pack['known_at']}."
    )
