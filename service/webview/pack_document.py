"""The board pack as a document (``service/board_pack.py`` assembles it): one HTML rendering,
shared by the signed-in page, the API's ``format=html`` and the PDF, so the three never differ."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from flask import render_template

from service.pdf import html_to_pdf

STATIC = Path(__file__).parent / "static"
STYLESHEETS = ("board_pack_document.css", "board_pack.css")  # the page itself has webview.css


def ref_numbers(pack: dict[str, Any]) -> dict[str, int]:
    """Each cited event's id to the number the pack prints for it: its log position."""
    return {reference["event_id"]: reference["position"] for reference in pack["references"]}


@cache
def _inline_css() -> str:
    """The pack's stylesheets, read from the package once per process."""
    return "\n".join((STATIC / name).read_text(encoding="utf-8") for name in STYLESHEETS)


def pack_html(pack: dict[str, Any]) -> str:
    """The pack as one complete HTML document, its styles inline: it prints, and makes the PDF,
    with nothing else to load."""
    return render_template(
        "webview/board_pack_document.html", pack=pack, ref_numbers=ref_numbers(pack), inline_css=_inline_css()
    )


def pack_pdf(pack: dict[str, Any]) -> bytes:
    """The pack as PDF (WeasyPrint; ``service.pdf.PdfUnavailable`` where it cannot run)."""
    return html_to_pdf(pack_html(pack))


def pack_filename(pack: dict[str, Any], extension: str) -> str:
    return f"board-pack-{pack['collaboration_id']}-{pack['meeting_on']}.{extension}"
