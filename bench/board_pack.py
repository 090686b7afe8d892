"""How long a board pack takes for the West Mercia-Warwickshire case, as HTML and as PDF.

Loads the demo data into a scratch store, then times, alternately, ``--runs`` times each, through
Flask's test client with an auditor's token (auth, the reads, rendering):

- **collaboration (baseline)**: ``GET /api/v1/collaborations/{id}``, one read of the same
  agreement as JSON: the floor of any page about it;
- **pack (JSON)**: ``GET …/board-pack`` (every read the pack makes, no rendering);
- **pack (HTML)**: ``…&format=html``: the printable page;
- **pack (PDF)**: ``…&format=pdf``: the same page laid out by WeasyPrint;
- **WeasyPrint alone**: the PDF of the pack's HTML, made straight from the string (what the
  library itself takes for this document).

For the meeting of 30 June 2020, since the previous pack of 1 October 2019 (the break-up:
a party that left, an ended agreement, the settlement). Prints the medians and the ratios of
each to the baseline, and of the PDF to WeasyPrint alone. Targets: HTML under 200 ms, PDF under
1 s (median).

    .venv/bin/python -m bench.board_pack [--runs 20]
    .venv/bin/python -m bench.board_pack --database-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse

from bench.common import median, scratch_database, timed
from demo import load_demo
from service.app import create_app
from service.pdf import html_to_pdf

MEETING = "meeting_on=2020-06-30&previous_on=2019-10-01"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: a scratch SQLite file)")
    options = parser.parse_args()
    with scratch_database(options.database_url) as database_url:
        app = create_app({"DATABASE_URL": database_url})
        load = load_demo(app.extensions["records"])
        token = app.extensions["tokens"].create(name="Bench auditor", role="auditor")[1]
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        wmw = load.collaborations["wmw"]
        pack_path = f"/api/v1/collaborations/{wmw}/board-pack?{MEETING}"

        def get(path: str) -> bytes:
            response = client.get(path, headers=headers)
            assert response.status_code == 200, response.get_data(as_text=True)[:500]
            return response.get_data()

        html = get(f"{pack_path}&format=html").decode()
        pages = {
            "collaboration (baseline)": lambda: get(f"/api/v1/collaborations/{wmw}"),
            "pack (JSON)": lambda: get(pack_path),
            "pack (HTML)": lambda: get(f"{pack_path}&format=html"),
            "pack (PDF)": lambda: get(f"{pack_path}&format=pdf"),
            "WeasyPrint alone": lambda: html_to_pdf(html),
        }
        for read in pages.values():  # warm: the projections caught up, fonts loaded
            read()
        samples: dict[str, list[float]] = {name: [] for name in pages}
        for _ in range(options.runs):
            for name, read in pages.items():
                samples[name] += timed(read, 1)
        medians = {name: median(values) for name, values in samples.items()}
        baseline = medians["collaboration (baseline)"]
        backend = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
        print(f"board pack, West Mercia-Warwickshire, {backend}, medians of {options.runs} runs")
        for name, value in medians.items():
            print(f"  {name:<26} {value:8.1f} ms   x{value / baseline:6.1f} of the baseline")
        print(f"  PDF / WeasyPrint alone: {medians['pack (PDF)'] / medians['WeasyPrint alone']:.2f}")
        print(f"  pdf bytes: {len(get(f'{pack_path}&format=pdf')):,}; html bytes: {len(html.encode()):,}")
        app.extensions["records"].close()


if __name__ == "__main__":
    main()
