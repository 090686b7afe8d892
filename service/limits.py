"""How large the head of a request may be, checked by the app before anything else, so that an
over-long URL or an oversized header is refused as ``application/problem+json`` like every other
refusal:

- the request target (the path and query string, as sent) is at most ``MAX_TARGET_BYTES``,
  else 414 ``uri-too-long``;
- a request has at most ``MAX_HEADER_FIELDS`` header fields, else 431
  ``request-header-fields-too-large``;
- each header field, ``Name: value``, is at most ``MAX_HEADER_FIELD_BYTES``, else 431. A field
  sent several times reaches the app once, its values joined by commas, and is measured so.

gunicorn reads the head before the app does and refuses what is beyond its own limits with its
own ``text/html`` page. Those limits (``gunicorn.conf.py``) are set above these, so that the app
sees, and answers, everything up to them; docs/operations.md lists what gunicorn still answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from flask import request
from flask.wrappers import Response

from service.problems import http_problem

# gunicorn's own defaults before this check (limit_request_line 4094 counted the method and the
# version too; limit_request_fields 100; limit_request_field_size 8190), now answered as problems.
MAX_TARGET_BYTES = 4096
MAX_HEADER_FIELDS = 100
MAX_HEADER_FIELD_BYTES = 8190
NAME_SHOWN = 60


def request_target(environ: Mapping[str, Any]) -> str:
    """The request target as the client sent it (gunicorn's and Werkzeug's ``RAW_URI``), else
    rebuilt from the path and the query string."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if isinstance(raw, str):
        return raw
    path = quote(f"{environ.get('SCRIPT_NAME', '')}{environ.get('PATH_INFO', '')}", safe="/;=,@:!$&'()*+~")
    query = environ.get("QUERY_STRING", "")
    return f"{path}?{query}" if query else path


def header_fields(environ: Mapping[str, Any]) -> dict[str, int]:
    """Each header field the app was given, by name, with its size as ``Name: value`` in bytes."""
    fields = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").title()
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            name = key.replace("_", "-").title()
        else:
            continue
        fields[name] = len(name) + 2 + len(str(value).encode("latin-1", "replace"))
    return fields


def refuse_oversized_head() -> Response | None:
    """A ``before_request`` function: a problem for a head beyond the limits, else nothing."""
    environ = request.environ
    target = len(request_target(environ).encode("latin-1", "replace"))
    if target > MAX_TARGET_BYTES:
        return http_problem(
            414,
            f"the URL (path and query string) is {target} bytes long; at most {MAX_TARGET_BYTES} are read",
        ).response()
    fields = header_fields(environ)
    if len(fields) > MAX_HEADER_FIELDS:
        return http_problem(
            431, f"the request has {len(fields)} header fields; at most {MAX_HEADER_FIELDS} are read"
        ).response()
    for name, size in fields.items():
        if size > MAX_HEADER_FIELD_BYTES:
            shown = name if len(name) <= NAME_SHOWN else name[:NAME_SHOWN] + "…"
            return http_problem(
                431,
                f"the {shown} header field is {size} bytes long; at most {MAX_HEADER_FIELD_BYTES} are read",
                errors={shown: [f"at most {MAX_HEADER_FIELD_BYTES} bytes, name and value"]},
            ).response()
    return None
