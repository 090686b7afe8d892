"""The Flask application factory.

Everything stateful is built here, per process: gunicorn forks its workers before any of
them calls ``create_app`` (``preload_app = False``), so no SQLite or psycopg connection ever
crosses a fork. Importing this module builds nothing.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
from flask import Flask, Response
from flask.json.provider import DefaultJSONProvider

from projections.event_documents import decimal_text, utc_text
from service import logs, metrics
from service.api import Api, refuse_duplicate_keys
from service.application import CollaborationRecords
from service.audit.cli import audit_cli
from service.auth import FailedSignIns, TokenStore
from service.backup_cli import backup_cli
from service.benefits_cli import benefits_cli
from service.board_pack_cli import board_pack_cli
from service.cli import idempotency_cli, snapshots_cli, tokens_cli
from service.limits import MAX_HEADER_FIELD_BYTES, MAX_HEADER_FIELDS, MAX_TARGET_BYTES, refuse_oversized_head
from service.persistence import environment_from, wait_for_store
from service.queries import DEFAULT_CATCH_UP_SECONDS, RecordQueries
from service.resources.blueprints import register_resources
from service.streams import DEFAULT_STREAMS_PER_WORKER, EventStreams, StreamSettings
from service.webhooks.install import install_webhooks
from service.webview import webview

# The directory holding wsgi.py. A relative sqlite:/// DATABASE_URL (the default is
# sqlite:///instance/records.sqlite3) resolves against it, whatever the working directory.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_CONFIG: dict[str, Any] = {
    "API_TITLE": "Collaboration record service",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.1.0",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    "API_SPEC_OPTIONS": {
        "info": {
            "description": "The record of police collaboration agreements (s22A Police Act 1996) in England "
            "and Wales: every change an immutable event. Errors are RFC 9457 application/problem+json. Money "
            "and shares are decimal strings, never numbers. A request's URL is at most "
            f"{MAX_TARGET_BYTES} bytes (else 414), its headers at most {MAX_HEADER_FIELDS} fields of at most "
            f"{MAX_HEADER_FIELD_BYTES} bytes each (else 431), and its body at most 1 MiB (else 413)."
        },
        "servers": [{"url": "/"}],
    },
    "MAX_CONTENT_LENGTH": 1024 * 1024,
}


class RecordsJSONProvider(DefaultJSONProvider):
    """Dates as ISO 8601, timestamps as RFC 3339 UTC, decimals as exact strings. Request bodies
    that name a key twice in one object are refused (Flask answers 400), never read as the last.

    Answers are encoded by orjson (keys sorted, as Flask's encoder sorts them; text as UTF-8
    rather than escapes): a quote's 300 KB answer takes half a millisecond rather than
    three to five (issue 15). Dates, timestamps, decimals and dataclasses still go through
    ``default``, so they read exactly as before."""

    ORJSON_OPTIONS = (
        orjson.OPT_SORT_KEYS
        | orjson.OPT_NON_STR_KEYS
        | orjson.OPT_PASSTHROUGH_DATETIME
        | orjson.OPT_PASSTHROUGH_DATACLASS
        | orjson.OPT_PASSTHROUGH_SUBCLASS
    )

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        kwargs.setdefault("object_pairs_hook", refuse_duplicate_keys)
        return super().loads(s, **kwargs)

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs:  # a caller asking for Python's own options (indent, ...) gets Flask's encoder
            return super().dumps(obj, **kwargs)
        return self.encoded(obj).decode()

    def encoded(self, obj: Any) -> bytes:
        try:
            return orjson.dumps(obj, default=self.default, option=self.ORJSON_OPTIONS)
        except orjson.JSONEncodeError:  # e.g. a lone surrogate echoed from a refused request: escaped as before
            return super().dumps(obj).encode()

    def response(self, *args: Any, **kwargs: Any) -> Response:
        """As Flask's, without a round trip through ``str``: the bytes go out as encoded."""
        obj = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(self.encoded(obj) + b"\n", mimetype=self.mimetype)

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, datetime):
            return utc_text(o)
        if isinstance(o, date):
            return o.isoformat()
        if isinstance(o, Decimal):
            return decimal_text(o)
        if isinstance(o, UUID):
            return str(o)
        return DefaultJSONProvider.default(o)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Builds the app, its record store, its read models and its API for this process.

    ``DATABASE_URL`` comes from ``config`` or else the environment; unset, it is the SQLite
    file ``instance/records.sqlite3`` under the project root."""
    app = Flask(__name__, instance_path=str(PROJECT_ROOT / "instance"))
    app.json = RecordsJSONProvider(app)
    app.config.update(copy.deepcopy(DEFAULT_CONFIG))  # apispec writes into the info it is given
    app.config.update(config or {})

    environ = dict(os.environ)
    if app.config.get("DATABASE_URL"):
        environ["DATABASE_URL"] = app.config["DATABASE_URL"]
    env = environment_from(environ, base_dir=PROJECT_ROOT)

    def setting(name: str, default: str) -> str:
        return setting_of(app, name, default)

    def open_store() -> CollaborationRecords:
        records = CollaborationRecords(env=env)
        try:
            _add_projections(app, env, records)
        except BaseException:
            records.close()
            raise
        return records

    records = wait_for_store(open_store, patience=float(setting("DATABASE_STARTUP_WAIT", "60")))
    app.extensions["records"] = records
    app.extensions["tokens"] = TokenStore(records.side_tables)
    install_webhooks(app, env, records, setting=setting, feed=app.extensions["queries"].feed)

    app.extensions["failed_sign_ins"] = FailedSignIns(
        limit=int(setting("AUTH_FAILURE_LIMIT", "20")), window=float(setting("AUTH_FAILURE_WINDOW_SECONDS", "60"))
    )
    app.after_request(_security_headers)
    logs.install(app)
    app.before_request(refuse_oversized_head)  # after the request id is given, before anything reads the request
    metrics.install(app)

    api = Api(app)
    register_resources(api)
    app.register_blueprint(webview)
    app.cli.add_command(tokens_cli)
    app.cli.add_command(idempotency_cli)
    app.cli.add_command(snapshots_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(backup_cli)
    app.cli.add_command(benefits_cli)
    app.cli.add_command(board_pack_cli)
    return app


def setting_of(app: Flask, name: str, default: str) -> str:
    """A setting: the app's config, else the environment, else ``default``."""
    return str(app.config.get(name) or os.environ.get(name) or default)


def _security_headers(response: Response) -> Response:
    """On every answer: no content sniffing (an API answer is never a page), and pages never leak
    their address (which may carry a record's id) to another site."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


def _add_projections(app: Flask, env: Mapping[str, str], records: CollaborationRecords) -> None:
    """The read models (the central register, the decision log, the exit-cost history, the benefits
    realisation) and their CLI (``projections run``/``rebuild``)."""
    from projections.benefits_realisation import BenefitsRealisation
    from projections.cli import projections_cli
    from projections.decision_log import DecisionLog
    from projections.exit_cost_history import ExitCostHistory
    from projections.register import Register

    app.extensions["register"] = Register(env=env, application=records)
    try:
        app.extensions["decision_log"] = DecisionLog(env=env, application=records)
    except BaseException:
        app.extensions["register"].close()
        raise
    try:
        app.extensions["exit_cost_history"] = ExitCostHistory(env=env, application=records)
    except BaseException:
        app.extensions["decision_log"].close()
        app.extensions["register"].close()
        raise
    try:
        app.extensions["benefits_realisation"] = BenefitsRealisation(env=env, application=records)
    except BaseException:
        app.extensions["exit_cost_history"].close()
        app.extensions["decision_log"].close()
        app.extensions["register"].close()
        raise
    app.extensions["queries"] = RecordQueries(
        records,
        catch_up_within=float(setting_of(app, "READ_CATCH_UP_SECONDS", str(DEFAULT_CATCH_UP_SECONDS))),
        register=app.extensions["register"],
        decision_log=app.extensions["decision_log"],
        exit_cost_history=app.extensions["exit_cost_history"],
        benefits_realisation=app.extensions["benefits_realisation"],
    )
    app.cli.add_command(projections_cli)
    app.extensions["event_streams"] = EventStreams(
        records,
        StreamSettings(
            heartbeat_seconds=float(setting_of(app, "EVENT_STREAM_HEARTBEAT_SECONDS", "15")),
            max_seconds=float(setting_of(app, "EVENT_STREAM_MAX_SECONDS", "300")),
            poll_seconds=float(setting_of(app, "EVENT_STREAM_POLL_SECONDS", "0.25")),
        ),
        limit=int(setting_of(app, "EVENT_STREAMS_PER_WORKER", str(DEFAULT_STREAMS_PER_WORKER))),
    )
