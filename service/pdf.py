"""HTML to PDF with WeasyPrint, which lays text out with Pango (a system library: ``bin/setup``
installs it, with fonts, where it is missing). Imported only when a PDF is asked for, so the
service runs, and answers everything else, on a machine without Pango."""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

logger = logging.getLogger(__name__)


class PdfUnavailable(RuntimeError):
    """This machine cannot make PDFs: WeasyPrint's system libraries are missing."""


@cache
def _weasyprint() -> Any:
    try:
        import weasyprint
    except (ImportError, OSError) as error:
        logger.warning("PDFs unavailable: %s", error)
        raise PdfUnavailable(
            "PDFs cannot be made on this server: WeasyPrint's system libraries (Pango) are missing; "
            "bin/setup installs them"
        ) from error
    return weasyprint


def html_to_pdf(html: str) -> bytes:
    """The PDF of a complete HTML document whose styles are inline. It loads nothing else: every
    URL it names is refused, so a PDF never reaches the network or the file system."""
    weasyprint = _weasyprint()

    class NothingFetched(weasyprint.URLFetcher):  # type: ignore[name-defined,misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            raise ValueError(f"a PDF loads nothing from outside its document: {url}")

    return weasyprint.HTML(string=html, url_fetcher=NothingFetched()).write_pdf()
