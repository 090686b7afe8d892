"""How long the web view's pages take to render on the demo data.

Loads the demo data (``demo/``: West Mercia-Warwickshire, Dorset-Devon & Cornwall and
7F) into a scratch store, signs an auditor in, and then, alternately, at least ``--runs`` times
each, requests through Flask's test client (the whole request: session check, catching the
projections up, the reads, the template, the response):

- each **page**: the register, the three collaborations, the West Mercia exit case, the 7F
  savings benefit, and the West Mercia collaboration and exit case as they stood (``as_of`` and
  ``known_at``);
- the **baseline**: the JSON the API answers for the same record (``GET
  /api/v1/collaborations/{id}``, ``/api/v1/exit-cases/{id}`` or ``/api/v1/benefits/{id}``,
  ``/api/v1/collaborations`` for the register): the same kind of request, minus what the page adds (quotes, histories,
  charts, the dashboard and the timeline).

Prints each page's median, the baseline's, and their ratio (baseline / page). Target: no page's
median over 200 ms.

    .venv/bin/python -m bench.pages [--runs 40]
    .venv/bin/python -m bench.pages --database-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import re

from bench.common import median, scratch_database, timed
from demo import load_demo
from service.app import create_app

TARGET_MS = 200.0
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=40, help="requests of each page and baseline (default 40)")
    parser.add_argument("--database-url", help="a PostgreSQL URL to run there (default: a scratch SQLite file)")
    arguments = parser.parse_args()

    with scratch_database(arguments.database_url) as url:
        app = create_app({"DATABASE_URL": url, "TESTING": True})
        load = load_demo(app.extensions["records"])
        print(f"demo data loaded: {load.summary()}")
        _, token = app.extensions["tokens"].create(name="bench", role="auditor")
        headers = {"Authorization": f"Bearer {token}"}
        client = app.test_client()
        csrf = CSRF_INPUT.search(client.get("/").get_data(as_text=True)).group(1)
        assert client.post("/sign-in", data={"token": token, "csrf_token": csrf}).status_code == 303

        wmw, ddc, seven = (load.collaborations[key] for key in ("wmw", "ddc", "7f"))
        case = load.exit_cases["wmw"]
        savings = load.benefits["7f:savings"]
        settled_at = next(
            row["recorded_at"]
            for row in client.get(f"/api/v1/exit-cases/{case}/history", headers=headers).get_json()["items"]
            if row["type"].endswith("SettlementAgreed")
        )
        as_it_stood = f"as_of=2019-12-31&known_at={settled_at}"
        pages = [
            ("register", "/", "/api/v1/collaborations"),
            ("West Mercia-Warwickshire", f"/collaborations/{wmw}", f"/api/v1/collaborations/{wmw}"),
            ("Dorset-Devon & Cornwall", f"/collaborations/{ddc}", f"/api/v1/collaborations/{ddc}"),
            ("7F Procurement", f"/collaborations/{seven}", f"/api/v1/collaborations/{seven}"),
            ("WMW exit case", f"/exit-cases/{case}", f"/api/v1/exit-cases/{case}"),
            ("7F savings benefit", f"/benefits/{savings}", f"/api/v1/benefits/{savings}"),
            (
                "WMW as it stood",
                f"/collaborations/{wmw}?{as_it_stood}",
                f"/api/v1/collaborations/{wmw}?{as_it_stood}",
            ),
            (
                "WMW exit case as it stood",
                f"/exit-cases/{case}?{as_it_stood}",
                f"/api/v1/exit-cases/{case}?{as_it_stood}",
            ),
        ]
        for _, page, api in pages:  # warm: templates compiled, aggregates cached, projections caught up
            for path, extra in ((page, {}), (api, {"headers": headers})):
                response = client.get(path, **extra)
                assert response.status_code == 200, (path, response.status_code, response.get_data(as_text=True)[:500])
                assert path == api or b"Signed in as bench" in response.data, f"{page} is not the signed-in page"

        page_ms: dict[str, list[float]] = {name: [] for name, _, _ in pages}
        api_ms: dict[str, list[float]] = {name: [] for name, _, _ in pages}
        rounds = 4
        for _ in range(rounds):  # alternate, so a noisy spell hits pages and baselines alike
            for name, page, api in pages:
                page_ms[name] += timed(lambda page=page: client.get(page), -(-arguments.runs // rounds))
                api_ms[name] += timed(lambda api=api: client.get(api, headers=headers), -(-arguments.runs // rounds))

        backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
        print(
            f"web view pages on the demo data ({backend}, Flask test client, {len(page_ms[pages[0][0]])} requests each)"
        )
        print(f"  {'page':28} {'page median':>12} {'API JSON median':>16} {'API/page':>9}")
        worst = 0.0
        for name, _, _ in pages:
            page_median, api_median = median(page_ms[name]), median(api_ms[name])
            worst = max(worst, page_median)
            print(f"  {name:28} {page_median:9.2f} ms {api_median:13.2f} ms {api_median / page_median:9.2f}")
        verdict = "met" if worst < TARGET_MS else "NOT met"
        print(f"target: every page's median < {TARGET_MS:.0f} ms -> {verdict} (slowest {worst:.2f} ms)")


if __name__ == "__main__":
    main()
