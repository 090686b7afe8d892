"""What every HTTP resource needs from the request and for the response: the application and
the read models of this process, who is calling, the conditional and idempotency headers, and
the shape of a write's answer. Routes stay thin: parse, call the service, answer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any, NoReturn
from urllib.parse import urlencode

from flask import current_app, g, jsonify, request
from flask.wrappers import Response

from service.application import MINIMAL, REPRESENTATION, CollaborationRecords, IdempotencyKey, Written
from service.auth import FailedSignIns, Principal, TokenStore
from service.problems import http_problem
from service.queries import RecordQueries

log = logging.getLogger(__name__)

REALM = "collaboration-records"
IDEMPOTENCY_KEY = "Idempotency-Key"
IDEMPOTENT_REPLAYED = "Idempotent-Replayed"
PREFER = "Prefer"
PREFERENCE_APPLIED = "Preference-Applied"
# RFC 9110 8.8.3 and 13.1.1: If-Match is "*" or a comma-separated list of entity tags. Our
# tags are "<version>": one to nineteen ASCII digits (a version is a 64-bit integer).
_ENTITY_TAG = r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"'
_ENTITY_TAG_LIST = re.compile(rf"[ \t]*(,[ \t]*)*{_ENTITY_TAG}([ \t]*,([ \t]*{_ENTITY_TAG})?)*[ \t]*")
_VERSION_TAG = re.compile(r"[0-9]{1,19}")
# What the OpenAPI document shows for If-Match: "*", or a comma-separated list of (weak or
# strong) tags in quotes, without the optional whitespace around it and without obs-text.
IF_MATCH_PATTERN = r'^(\*|(W/)?"[\x21\x23-\x7e]*"([ \t]*,[ \t]*(W/)?"[\x21\x23-\x7e]*")*)$'
# An Idempotency-Key: 1 to 255 visible ASCII characters, e.g. a UUID.
IDEMPOTENCY_KEY_LENGTH = 255
IDEMPOTENCY_KEY_PATTERN = rf"^[\x21-\x7e]{{1,{IDEMPOTENCY_KEY_LENGTH}}}$"
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)
# What a client may send as Prefer (visible ASCII, spaces and tabs): what it holds beyond a
# ``return`` preference is ignored.
PREFER_PATTERN = r"^[\t\x20-\x7e]*$"
# The preferences of a Prefer header (RFC 7240 section 2): comma-separated, each a token,
# optionally "=" a token or a quoted string (which may hold commas), then parameters after ";".
_PREFERENCES = re.compile(r'(?:[^,"]|"(?:[^"\\]|\\.)*")+')


class ProblemRaised(Exception):
    """Raised by the web layer to answer with a problem; the Api turns it into the response."""

    def __init__(self, status: int, detail: str, **kwargs: Any):
        super().__init__(detail)
        self.problem = http_problem(status, detail, **kwargs)


def fail(status: int, detail: str, **kwargs: Any) -> NoReturn:
    raise ProblemRaised(status, detail, **kwargs)


# ------------------------------------------------------------------ this process's objects
def records() -> CollaborationRecords:
    """The application: the commands."""
    return current_app.extensions["records"]


def queries() -> RecordQueries:
    """The read side: one entry point per question."""
    return current_app.extensions["queries"]


def tokens() -> TokenStore:
    return current_app.extensions["tokens"]


# ------------------------------------------------------------------------------- caller
def failed_sign_ins() -> FailedSignIns:
    return current_app.extensions["failed_sign_ins"]


def refuse_if_throttled() -> None:
    """429, with Retry-After, while the client's address has failed to authenticate too often."""
    wait = failed_sign_ins().retry_after(request.remote_addr or "")
    if wait is not None:
        fail(
            429,
            f"too many failed authentications from this address; try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )


def authenticate() -> Principal:
    """The principal of the request's bearer token, or 401 (429 after too many failures)."""
    refuse_if_throttled()
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header or scheme.lower() != "bearer" or not token.strip():
        fail(
            401,
            "send Authorization: Bearer <token>",
            headers={"WWW-Authenticate": f'Bearer realm="{REALM}"'},
        )
    principal = tokens().authenticate(token.strip())
    if principal is None:
        failed_sign_ins().failed(request.remote_addr or "")
        fail(
            401,
            "the bearer token is not valid or has been revoked",
            headers={"WWW-Authenticate": f'Bearer realm="{REALM}", error="invalid_token"'},
        )
    return principal


def current_principal() -> Principal:
    principal = g.get("principal")
    if principal is None:  # a route forgot to authenticate: refuse rather than guess
        fail(401, "this request was not authenticated")
    return principal


# ------------------------------------------------------------------------------ headers
def if_match_versions() -> frozenset[int] | None:
    """The versions an ``If-Match`` header accepts, or None without one (or with ``*``).

    ETags are ``"<version>"``. The header may list several tags (``"3", "4"``); the write goes
    ahead if the current version is any of them. A malformed header is 400. Weak tags and tags
    that are not versions can never match (If-Match compares strong tags): if no tag in the
    list could match, the answer is 412 at once."""
    header = request.headers.get("If-Match")
    if header is None:
        return None
    header = header.strip()
    if header == "*":
        return None
    if not _ENTITY_TAG_LIST.fullmatch(header):
        fail(
            400,
            f'If-Match must be "*" or entity tags in quotes, e.g. "3" (the ETag of the last read), not {header!r}',
            errors={"If-Match": ['send the quoted ETag of the last read, e.g. "3"']},
        )
    versions = frozenset(
        int(tag)
        for weak, tag in re.findall(_ENTITY_TAG, header)
        if not weak and _VERSION_TAG.fullmatch(tag) and 0 < int(tag) < 2**63
    )
    if not versions:
        fail(
            412,
            f"If-Match names {header}, which is no strong tag of a version of this record (a weak W/ tag "
            "never matches), so it does not match",
        )
    return versions


def refuse_if_match() -> None:
    """If-Match on a create: nothing exists yet, so no tag can match (RFC 9110 13.1.1)."""
    if request.headers.get("If-Match") is not None:
        fail(412, "If-Match cannot match a record that does not exist yet; send the create without it")


def preferred_return() -> str | None:
    """The ``return`` preference of the request's Prefer headers (RFC 7240): ``minimal`` or
    ``representation``, or None when they name neither. Preferences are hints: an unknown one
    or an unknown value is ignored, never refused; of several ``return`` preferences the first
    counts (section 2)."""
    for header in request.headers.getlist(PREFER):
        for preference in _PREFERENCES.findall(header):
            name, _, value = preference.split(";", 1)[0].partition("=")
            if name.strip().lower() == "return":
                value = value.strip().strip('"').lower()
                return value if value in (MINIMAL, REPRESENTATION) else None
    return None


def idempotency_key(answer: str = MINIMAL) -> IdempotencyKey | None:
    """The request's Idempotency-Key, with what the request said and the answer it asked for."""
    key = request.headers.get(IDEMPOTENCY_KEY)
    if key is None:
        return None
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        fail(
            400,
            f"Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_LENGTH} visible ASCII characters, e.g. a UUID",
            errors={IDEMPOTENCY_KEY: [f"must be 1 to {IDEMPOTENCY_KEY_LENGTH} visible ASCII characters"]},
        )
    fingerprint = IdempotencyKey.fingerprint_of(request.method, request.path, request.get_json(silent=True))
    return IdempotencyKey(principal=current_principal().id, key=key, fingerprint=fingerprint, answer=answer)


# ---------------------------------------------------------------------------- responses
def about_collaboration(document: dict[str, Any], status: int = 200) -> Response:
    """A response about one collaboration, tagged with its version."""
    response = jsonify(document)
    response.status_code = status
    response.set_etag(str(document["version"]))
    return response


def record(command: Callable[..., Written], *args: Any, creating: bool = False, **fields: Any) -> Response:
    """Runs a write command as the caller and answers 201 with what it wrote.

    The caller, If-Match and Idempotency-Key come from the request, never from the body.
    The caller reads its own write: a read about now brings its projection up to the log
    first (``service/queries.py``), so the write does not wait for any projection.
    A malformed header is refused (400) before any precondition is judged (412).

    The answer is the aggregate's compact document (its id, version, the ids the write made,
    its fields of constant size, links), or with ``Prefer: return=representation`` its whole
    document; ``Location`` is the aggregate's URL. A replay answers as the first request was
    answered, whatever the replaying request prefers: ``Preference-Applied`` names the
    preference only when the answer is the one the request asked for."""
    requested = preferred_return()
    idempotency = idempotency_key(requested or MINIMAL)
    if creating:
        refuse_if_match()
    else:
        fields["expected_version"] = if_match_versions()
    written = command(*args, caller=current_principal().caller, idempotency=idempotency, **fields)
    answer = written.answer if written.replayed else (requested or MINIMAL)
    document = written.document(answer)
    response = about_collaboration(document, status=201)
    response.vary.add(PREFER)
    if requested == answer:
        response.headers[PREFERENCE_APPLIED] = f"return={answer}"
    if written.location is not None:
        response.headers["Location"] = written.location
    elif creating:  # a whole answer stored before issue 13 names no URL
        response.headers["Location"] = f"{request.path}/{document['id']}"
    if written.replayed:
        response.headers[IDEMPOTENT_REPLAYED] = "true"
    return response


def with_next_page(response: Response, next_after: int | None) -> Response:
    """Adds ``Link: <...>; rel="next"`` to a page whose list goes on after ``next_after``: this
    request's URL with ``after`` moved on, its other parameters kept."""
    if next_after is not None:
        query = [(name, value) for name, value in request.args.items(multi=True) if name != "after"]
        query.append(("after", str(next_after)))
        response.headers.add("Link", f'<{request.path}?{urlencode(query)}>; rel="next"')
    return response
