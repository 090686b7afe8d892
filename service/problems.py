"""RFC 9457 problem details, and the one place that maps errors to HTTP statuses.

Every error the service answers with is ``application/problem+json`` carrying ``type``,
``title``, ``status`` and ``detail``; validation problems add ``errors`` (field → messages) and
``errors_total`` (how many fields are in error). ``errors`` lists at most the first
``MAX_ERRORS_SHOWN`` fields, each name and message cut to a bounded length, and ``detail``
repeats only the first of them: however wrong a request is, its problem stays a few kilobytes.
Problem types are stable URIs derived from the error's name, so clients can switch on them:
``SharesDoNotSumToOne`` is ``https://collaboration-records/problems/shares-do-not-sum-to-one``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Response

from domain.errors import DomainError, UnknownFunction
from service.errors import (
    BenefitNotFound,
    BenefitReferenceTaken,
    CollaborationNotFound,
    ConcurrentUpdate,
    ExitCaseExists,
    ExitCaseNotFound,
    IdempotencyKeyReused,
    NotPermitted,
    NotYetInEffect,
    VersionMismatch,
    WebhookSubscriptionNotFound,
)

PROBLEM_BASE = "https://collaboration-records/problems/"
PROBLEM_JSON = "application/problem+json"

# The most fields a problem's ``errors`` lists; ``errors_total`` counts them all.
MAX_ERRORS_SHOWN = 20
# The longest field name and message a problem repeats; longer ones are cut, ending in "…".
MAX_NAME_SHOWN = 200
MAX_MESSAGE_SHOWN = 500
# The most messages listed under one field.
MAX_MESSAGES_SHOWN = 5

# Domain and service errors whose status is not 422 (a broken rule). Looked up along the
# error's class hierarchy, so a subclass inherits its parent's status.
STATUS_BY_ERROR: dict[type[DomainError], int] = {
    CollaborationNotFound: 404,
    ExitCaseNotFound: 404,
    BenefitNotFound: 404,
    NotYetInEffect: 404,
    WebhookSubscriptionNotFound: 404,
    ExitCaseExists: 409,
    BenefitReferenceTaken: 409,
    NotPermitted: 403,
    VersionMismatch: 412,
    ConcurrentUpdate: 409,
    IdempotencyKeyReused: 422,
}
RULE_BROKEN = 422

# Errors that say "no such thing". When the error names where the thing was named (its
# ``field``): named by the URL path (one of the path's parameters), the URL names nothing,
# 404; named in the body, it is a broken rule of the request, 422 (an exit case opened on a
# collaboration that does not exist). Without a field, ``STATUS_BY_ERROR`` says.
NOT_FOUND_WHEN_IN_PATH: tuple[type[DomainError], ...] = (
    UnknownFunction,
    CollaborationNotFound,
    ExitCaseNotFound,
    BenefitNotFound,
)

# Problem types of plain HTTP errors, fixed here so they do not drift with library wording.
HTTP_PROBLEMS: dict[int, tuple[str, str]] = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Not permitted"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    412: ("precondition-failed", "Precondition failed"),
    413: ("content-too-large", "Request body too large"),
    414: ("uri-too-long", "URL too long"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation-failed", "The request is not valid"),
    428: ("precondition-required", "Precondition required"),
    429: ("too-many-requests", "Too many requests"),
    431: ("request-header-fields-too-large", "Request header fields too large"),
    500: ("internal-error", "Internal server error"),
    501: ("not-implemented", "Not implemented"),
    503: ("unavailable", "Service unavailable"),
}


@dataclass
class Problem:
    status: int
    type: str
    title: str
    detail: str
    errors: dict[str, list[str]] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, Any] = field(default_factory=dict)  # more members (RFC 9457 section 3.2)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status, "detail": self.detail}
        if self.errors:
            body["errors"] = shown_errors(self.errors)
            body["errors_total"] = len(self.errors)
        return {**self.extensions, **body}

    def response(self) -> Response:
        response = Response(json.dumps(self.body(), sort_keys=True), status=self.status, mimetype=PROBLEM_JSON)
        for name, value in self.headers.items():
            response.headers[name] = value
        return response


def kebab(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", name).lower()


def status_for(error: DomainError, path_parameters: Mapping[str, Any] | None = None) -> int:
    if isinstance(error, NOT_FOUND_WHEN_IN_PATH) and error.field is not None:
        return 404 if error.field in (path_parameters or {}) else RULE_BROKEN
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return RULE_BROKEN


def title_for(error_type: type[DomainError]) -> str:
    """The rule the error protects, from its docstring's first line."""
    doc = (error_type.__doc__ or "").strip().splitlines()
    return doc[0].strip().rstrip(".") if doc else kebab(error_type.__name__).replace("-", " ").capitalize()


def domain_problem(error: DomainError, path_parameters: Mapping[str, Any] | None = None) -> Problem:
    status = status_for(error, path_parameters)
    errors = None
    if error.field and status == RULE_BROKEN:
        errors = {error.field: [error.detail]}
    return Problem(
        status=status,
        type=PROBLEM_BASE + kebab(type(error).__name__),
        title=title_for(type(error)),
        detail=error.detail,
        errors=errors,
    )


def http_problem(
    status: int,
    detail: str | None = None,
    *,
    errors: dict[str, list[str]] | None = None,
    problem_type: str | None = None,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> Problem:
    slug, default_title = HTTP_PROBLEMS.get(status, (f"http-{status}", f"HTTP {status}"))
    return Problem(
        status=status,
        type=PROBLEM_BASE + (problem_type or slug),
        title=title or default_title,
        detail=detail or default_title,
        errors=errors,
        headers=dict(headers or {}),
        extensions=dict(extensions or {}),
    )


def flatten_validation_messages(messages: Any) -> dict[str, list[str]]:
    """webargs reports ``{location: {field: messages}}``; clients want ``{field: messages}``.

    Nested fields are joined with dots (``shares.west-mercia``)."""
    flat: dict[str, list[str]] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), item)
        elif isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
            flat.setdefault(prefix or "_request", []).extend(value)
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                walk(f"{prefix}.{index}", item)
        else:
            flat.setdefault(prefix or "_request", []).append(str(value))

    if isinstance(messages, Mapping):
        for location_messages in messages.values():
            walk("", location_messages)
    else:
        walk("", messages)
    return flat


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shown_errors(errors: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """The errors a problem lists: the first ``MAX_ERRORS_SHOWN`` fields, at most
    ``MAX_MESSAGES_SHOWN`` messages each, names and messages cut to a bounded length."""
    shown: dict[str, list[str]] = {}
    for name, messages in errors.items():
        if len(shown) == MAX_ERRORS_SHOWN:
            break
        listed = shown.setdefault(cut(name, MAX_NAME_SHOWN), [])
        listed.extend(cut(message, MAX_MESSAGE_SHOWN) for message in messages[: MAX_MESSAGES_SHOWN - len(listed)])
    return shown


def validation_detail(errors: Mapping[str, list[str]]) -> str:
    """The first field's error, and how many other fields are in error: the full list is in
    ``errors`` and is not repeated here."""
    if not errors:
        return "the request is not valid"
    name, messages = next(iter(errors.items()))
    said = " ".join(cut(message, MAX_MESSAGE_SHOWN) for message in messages[:MAX_MESSAGES_SHOWN])
    detail = f"{cut(name, MAX_NAME_SHOWN)}: {said}"
    others = len(errors) - 1
    if others:
        detail += f" (and {others} other field{'s' if others > 1 else ''} in error; see errors)"
    return detail
