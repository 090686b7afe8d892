"""The HTTP floor for ``bench.http_writes``: raw eventsourcing saves behind a bare Flask route.

Served by gunicorn with the same worker count as the service, on the same kind of store, it
answers ``POST /api/v1/collaborations/{id}/reviews`` by parsing the JSON body, holding a review
on an aggregate the worker keeps in memory (one per id, made on first use) and saving it through
a plain eventsourcing ``Application`` on the library's own recorder, then answering 201 with the
id and version. No authentication, validation, reload, chain, side tables or idempotency: what
gunicorn, Flask and one library save cost together on this machine, so that the service's own
share of a write can be told from the HTTP stack's.

    DATABASE_URL=sqlite:///... gunicorn --workers 3 bench.http_floor:app   # tables made beforehand
"""

from __future__ import annotations

import os
from datetime import date

from flask import Flask, jsonify, request

from bench.writes import RawStore
from domain.collaboration import Collaboration
from domain.values import Provenance
from service.persistence import persistence_environment

PARTIES = ["west-mercia", "warwickshire"]

app = Flask(__name__)
_store: RawStore | None = None
_held: dict[str, Collaboration] = {}


def store() -> RawStore:
    """The worker's own application, opened after the fork on its first request."""
    global _store
    if _store is None:
        env = persistence_environment(os.environ["DATABASE_URL"])
        env = {name: value for name, value in env.items() if name != "APPLICATION_RECORDER_TOPIC"}
        # The tables are made before the workers start (``bench.http_writes``): made by several
        # workers at once, PostgreSQL refuses all but one ('tuple concurrently updated').
        _store = RawStore(env={**env, "CREATE_TABLE": "false"})
    return _store


@app.post("/api/v1/collaborations/<collaboration_id>/reviews")
def hold_review(collaboration_id: str):
    body = request.get_json()
    provenance = Provenance(date.fromisoformat(body["effective_on"]), "bench (floor)", body["reason"])
    collaboration = _held.get(collaboration_id)
    if collaboration is None:
        collaboration = _held[collaboration_id] = Collaboration.establish(
            name="Floor", purpose="Shared services", parties=PARTIES, lead_force=PARTIES[0], provenance=provenance
        )
    collaboration.hold_review(outcome=body["outcome"], provenance=provenance)
    store().save(collaboration)
    return jsonify(id=collaboration_id, version=collaboration.version), 201


@app.get("/healthz")
def healthz():
    return jsonify(status="ok")
