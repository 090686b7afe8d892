"""Request ids and structured logs.

Every request gets an id: the caller's ``X-Request-ID`` when it is one (1 to 128 visible ASCII
characters), else a new one. It is returned in the answer's ``X-Request-ID`` and is on every log
line the request writes, so a client's report, the access line and any error can be matched.

``configure_json_logs()`` (called by ``wsgi.py``, the production entry) writes the service's log
lines to standard error as one JSON object each: ``time``, ``level``, ``logger``, ``message``,
``request_id`` and, for an error, ``exception``. Each request also writes one access line
(logger ``service.access``) with its method, path, status and duration in milliseconds.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime

from flask import Flask, Response, g, has_request_context, request

REQUEST_ID = "X-Request-ID"
_VALID_ID = re.compile(r"[\x21-\x7e]{1,128}")
access_log = logging.getLogger("service.access")


def request_id() -> str:
    """This request's id (``-`` outside a request)."""
    if not has_request_context():
        return "-"
    if "request_id" not in g:
        given = request.headers.get(REQUEST_ID, "")
        g.request_id = given if _VALID_ID.fullmatch(given) else uuid.uuid4().hex
    return str(g.request_id)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for name in ("method", "path", "status", "duration_ms"):
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_json_logs(level: int = logging.INFO) -> None:
    """The service's loggers (``service``, ``projections``) write JSON lines to standard error."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    for name in ("service", "projections"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level)
        logger.propagate = False


def install(app: Flask) -> None:
    """Gives every request its id, returns it, and writes its access line."""

    @app.before_request
    def start() -> None:
        g.request_started = time.perf_counter()
        request_id()

    @app.after_request
    def finish(response: Response) -> Response:
        response.headers[REQUEST_ID] = request_id()
        started = g.get("request_started")
        duration = round((time.perf_counter() - started) * 1000, 1) if started is not None else None
        access_log.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": duration,
            },
        )
        return response
