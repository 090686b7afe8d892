"""A read-only web view for auditors and boards (issue 6, item 2).

Server-rendered pages over the same reads the JSON API uses: the register; a collaboration
(parties, functions, shares, each party's exit-cost quote with links from every line to its
source events and its exit-cost history drawn as a chart, its exit cases, the benefits
dashboard by pillar, its event timeline); an exit case (its figures, each linked to the event
that last changed it, its facts, the history of its figures as a chart); a benefit (its
realisation and every measurement linked to its event). Every page takes ``as_of`` and
``known_at``. Charts are ``charts.py``'s geometry drawn by ``templates/webview/_chart.html``.

Sign-in: any valid token, entered once. The cookie holds the token's id (never the token),
signed with ``itsdangerous``; the token is checked against the token store (not revoked) on
every page. Pages only read: the sign-in and sign-out POSTs touch the cookie, never the log.

Forged forms: both POSTs need a CSRF token (signed double submit). Each page with a form keeps
a random nonce, issued by the server and signed, in its own HttpOnly, SameSite=Strict cookie,
and puts the nonce, signed again for the form, in a hidden field; a POST is accepted only if
both signatures are good and fresh and name the same nonce. Another site cannot read the field,
and cannot make a cookie or field the server did not issue. Signing in and out issues a new
nonce, so a nonce known before a sign-in is useless after it. (Someone able to plant cookies on
this host, from a sibling subdomain or over plain HTTP, could plant a pair the server issued to
them; they could as well plant a session cookie of their own, so serve it over HTTPS on a host
of its own.)
"""

from __future__ import annotations

import contextlib
import hmac
import os
import re
import secrets
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal
from functools import wraps
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, current_app, g, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from flask.wrappers import Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from marshmallow import ValidationError

from domain.errors import DomainError
from domain.forces import FORCES
from service.auth import Principal, TokenStore
from service.board_pack import board_pack, figure_sources
from service.change_report import Window
from service.errors import BenefitNotFound, CollaborationNotFound, ExitCaseNotFound, NotYetInEffect
from service.fields import Date, Timestamp
from service.pdf import PdfUnavailable
from service.queries import ProjectionBehind, RecordQueries
from service.resources.collaborations.schemas import MAX_PAGE, ChangesQuerySchema
from service.webview.benefit_map import benefit_map
from service.webview.charts import Step, step_chart
from service.webview.filters import register_wording
from service.webview.pack_document import pack_filename, pack_pdf, ref_numbers
from service.wording import event_words, force_name

COOKIE = "crs_webview"
CSRF_COOKIE = "crs_webview_csrf"
CSRF_FIELD = "csrf_token"
SALT = "webview-session"
CSRF_SALT = "webview-csrf"
CSRF_COOKIE_SALT = "webview-csrf-cookie"
NONCE = re.compile(r"[0-9a-f]{32}")
SESSION_SECONDS = 12 * 60 * 60
SECRET_FILE = "webview-secret"  # noqa: S105  (a file name, not a secret)
TESTING_SECRET = "webview-testing-secret"  # noqa: S105  (only under TESTING)
PAGE_SIZE = 20
STATUSES = ("active", "notice_served", "terminated")
FORCE_SERIES = (("total", "Total"),)
CASE_SERIES = (
    ("claimed", "Claimed"),
    ("assessed", "Assessed"),
    ("agreed", "Agreed"),
    ("paid", "Paid"),
    ("outstanding", "Outstanding"),
)

webview = Blueprint(
    "webview",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/webview-static",
)


class PageError(Exception):
    """A request the page cannot answer: shown on the page with this status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


# ----------------------------------------------------------------------------- secret
register_wording(webview)


@webview.record_once
def _set_up(state: BlueprintSetupState) -> None:
    app = state.app
    app.extensions["webview_secret"] = _secret_for(app)


def _secret_for(app: Flask) -> str:
    """``SECRET_KEY`` if configured; a fixed one under TESTING; else a random one kept in
    ``instance/webview-secret`` (mode 0600, created on first start)."""
    if app.config.get("SECRET_KEY"):
        return str(app.config["SECRET_KEY"])
    if app.config.get("TESTING"):
        return TESTING_SECRET
    path = Path(app.instance_path) / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Written whole under a name of its own, then linked into place: processes starting
        # together (gunicorn's workers on a fresh instance) never read a file still being
        # written, and the first link wins.
        fd, written = tempfile.mkstemp(dir=path.parent, prefix=f".{SECRET_FILE}-")
        try:
            with os.fdopen(fd, "w") as file:
                file.write(secrets.token_urlsafe(48))
            with contextlib.suppress(FileExistsError):
                os.link(written, path)
        finally:
            os.unlink(written)
    secret = path.read_text().strip()
    if not secret:
        raise RuntimeError(f"{path} is empty: delete it to have a new secret made")
    return secret


def _serializer(salt: str = SALT) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.extensions["webview_secret"], salt=salt)


def _tokens() -> TokenStore:
    return current_app.extensions["tokens"]


def _queries() -> RecordQueries:
    """The read side every page asks (``service/queries.py``)."""
    return current_app.extensions["queries"]


# ---------------------------------------------------------------------------- session
def _signed_in() -> Principal | None:
    """The principal of the session cookie, if it is well signed, not expired, and its token
    is still valid (looked up afresh: a revoked token ends the session at once)."""
    value = request.cookies.get(COOKIE)
    if not value:
        return None
    try:
        token_id = _serializer().loads(value, max_age=SESSION_SECONDS)
    except BadSignature:
        return None
    if not isinstance(token_id, str):
        return None
    record = _tokens().get(token_id)
    if record is None or record.revoked_at is not None:
        return None
    return record.principal


def signed_in_page(view: Callable[..., Any]) -> Callable[..., Any]:
    """A page for signed-in users only: others are sent to the sign-in form (and a dead
    session's cookie is cleared)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        principal = _signed_in()
        if principal is None:
            response = redirect(url_for("webview.home", next=request.full_path))
            if request.cookies.get(COOKIE):
                response.delete_cookie(COOKIE, path="/")
            return response
        g.webview_principal = principal
        try:
            return view(*args, **kwargs)
        except PageError as error:
            return _page("error.html", status=error.status, message=error.message, title="Cannot show this page")
        except ProjectionBehind as error:  # a figure still being brought up to the record
            response = _page("error.html", status=503, message=str(error), title="Catching up with the record")
            response.headers["Retry-After"] = str(error.retry_after)
            return response

    return wrapper


# ------------------------------------------------------------------------------- CSRF
def csrf_token() -> str:
    """The signed CSRF field for this page's forms: for the nonce of the request's cookie if it
    is one the server issued, else a new one (kept for ``_page`` to set)."""
    if "csrf_nonce" not in g:
        g.csrf_nonce = _cookie_nonce() or _new_nonce()
    return _serializer(CSRF_SALT).dumps(g.csrf_nonce)


def _new_nonce() -> str:
    return secrets.token_hex(16)


def _cookie_nonce() -> str | None:
    """The nonce of the CSRF cookie, if the server signed it and it has not expired."""
    value = request.cookies.get(CSRF_COOKIE)
    if not value:
        return None
    try:
        nonce = _serializer(CSRF_COOKIE_SALT).loads(value, max_age=SESSION_SECONDS)
    except BadSignature:
        return None
    return nonce if isinstance(nonce, str) and NONCE.fullmatch(nonce) else None


def _csrf_is_valid() -> bool:
    """Whether the POSTed CSRF field is well signed, fresh, and names the cookie's nonce."""
    nonce = _cookie_nonce()
    field = request.form.get(CSRF_FIELD)
    if nonce is None or not field:
        return False
    try:
        signed = _serializer(CSRF_SALT).loads(field, max_age=SESSION_SECONDS)
    except BadSignature:
        return False
    return isinstance(signed, str) and hmac.compare_digest(signed.encode(), nonce.encode())


def _set_csrf_cookie(response: Response, nonce: str) -> None:
    response.set_cookie(
        CSRF_COOKIE,
        _serializer(CSRF_COOKIE_SALT).dumps(nonce),
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.is_secure,
    )


CSRF_REFUSED = "The form had expired or did not come from this site. Please try again."


def _page(template: str, *, status: int = 200, **context: Any) -> Response:
    response = current_app.make_response((render_template(f"webview/{template}", **context), status))
    if "csrf_nonce" in g:  # (re)set on every page with a form, so it lasts as long as the page
        _set_csrf_cookie(response, g.csrf_nonce)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'"
    )
    return response  # X-Content-Type-Options and Referrer-Policy: on every answer (service/app.py)


def _safe_next(target: str | None) -> str:
    """Only a same-site path: never an absolute or protocol-relative URL, and nothing a browser
    or a header would read otherwise (control characters such as a tab or a newline are
    dropped or refused on the way, which could turn ``/\t/host`` into ``//host``)."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and target.isprintable()
        and not any(character.isspace() for character in target)
    ):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("webview.home")


# --------------------------------------------------------------------- query handling
def _temporal() -> tuple[date | None, datetime | None]:
    """``as_of`` and ``known_at`` from the query, validated as the API validates them, except
    that "Known at" also takes a plain date: the end of that day, UK time (the page says which
    moment that is). What was typed stays in the form, also on the error page, to be corrected."""
    as_of = known_at = None
    errors = []
    raw_as_of = request.args.get("as_of", "").strip()
    raw_known_at = request.args.get("known_at", "").strip()
    g.as_of_text, g.known_at_text = raw_as_of, raw_known_at
    if raw_as_of:
        try:
            as_of = Date().deserialize(raw_as_of)
        except ValidationError as error:
            errors.append(f"As of date: {' '.join(error.messages)}")
    if raw_known_at:
        try:
            known_at = _known_at(raw_known_at)
        except ValidationError as error:
            errors.append(f"Known at: {' '.join(error.messages)} Or write a date, YYYY-MM-DD.")
    if errors:
        raise PageError(400, " ".join(errors))
    return as_of, known_at


UK = ZoneInfo("Europe/London")


def _known_at(text: str) -> datetime:
    """An RFC 3339 time; or a date, read as the end of that day in the UK (GMT or BST)."""
    try:
        day = Date().deserialize(text)
    except ValidationError:
        return Timestamp().deserialize(text)
    moment = datetime.combine(day, time(23, 59, 59, 999999), tzinfo=UK)
    g.known_at_note = (
        f"Known at the end of {day.isoformat()}, UK time: "
        f"{moment.astimezone(UTC).isoformat(timespec='seconds').replace('+00:00', 'Z')}"
    )
    return moment


def _temporal_args() -> dict[str, str]:
    """The as_of/known_at to carry on links between pages."""
    return {k: v for k, v in (("as_of", g.get("as_of_text")), ("known_at", g.get("known_at_text"))) if v}


def _uuid_text(value: str, what: str) -> str:
    try:
        return str(UUID(value))
    except ValueError:
        raise PageError(404, f"no {what} {value}") from None


def _event_href(stream_id: str, version: int, collaboration_id: str) -> str:
    """Where an event is shown: on this collaboration's page, or on its exit case's."""
    if stream_id == collaboration_id:
        return f"#event-{version}"
    return url_for("webview.exit_case_page", case_id=stream_id, **_temporal_args()) + f"#event-{version}"


def _decimal_or_none(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _history_chart(
    title: str,
    rows: list[dict[str, Any]],
    series: Sequence[tuple[str, str]],
    href_of: Callable[[dict[str, Any]], str],
) -> Any:
    """An exit-cost history's rows as a step chart of ``series`` (keys of each row's figures
    after its event), each event linked to ``href_of(row)``."""
    steps = [
        Step(
            label=row["effective_on"],
            href=href_of(row),
            description=f"Event {row['version']}: {event_words(row['type'])}",
            values={key: _decimal_or_none((row["after"] or {}).get(key)) for key, _ in series},
        )
        for row in rows
    ]
    return step_chart(title, steps, series)


@webview.app_context_processor
def _context() -> dict[str, Any]:
    return {
        "principal": g.get("webview_principal"),
        "as_of_text": g.get("as_of_text", ""),
        "known_at_text": g.get("known_at_text", ""),
        "known_at_note": g.get("known_at_note"),
        "temporal_args": _temporal_args(),
        "csrf_token": csrf_token,
        "csrf_field": CSRF_FIELD,
    }


# ----------------------------------------------------------------------------- routes
@webview.get("/")
def home() -> Any:
    if _signed_in() is None:
        return _page("sign_in.html", title="Sign in", next=_safe_next(request.args.get("next")))
    return register_page()


@webview.post("/sign-in")
def sign_in() -> Any:
    if not _csrf_is_valid():
        return _page(
            "sign_in.html", status=400, title="Sign in", error=CSRF_REFUSED, next=_safe_next(request.form.get("next"))
        )
    throttle = current_app.extensions["failed_sign_ins"]
    wait = throttle.retry_after(request.remote_addr or "")
    if wait is not None:
        response = _page(
            "sign_in.html",
            status=429,
            title="Sign in",
            error=f"Too many failed sign-ins from this address. Try again in {wait} seconds.",
            next=_safe_next(request.form.get("next")),
        )
        response.headers["Retry-After"] = str(wait)
        return response
    token = request.form.get("token", "").strip()
    principal = _tokens().authenticate(token) if token else None
    if principal is None:
        throttle.failed(request.remote_addr or "")
        return _page(
            "sign_in.html",
            status=401,
            title="Sign in",
            error="That token is not valid or has been revoked.",
            next=_safe_next(request.form.get("next")),
        )
    response = redirect(_safe_next(request.form.get("next")), code=303)
    _set_csrf_cookie(response, _new_nonce())  # a nonce known before signing in is no use after
    response.set_cookie(
        COOKIE,
        _serializer().dumps(principal.id),
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.is_secure,
    )
    return response


@webview.post("/sign-out")
def sign_out() -> Any:
    if not _csrf_is_valid():
        g.webview_principal = _signed_in()
        return _page("error.html", status=400, title="Cannot sign out", message=CSRF_REFUSED)
    response = redirect(url_for("webview.home"), code=303)
    _set_csrf_cookie(response, _new_nonce())
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Strict", secure=request.is_secure)
    return response


@signed_in_page
def register_page() -> Any:
    as_of, known_at = _temporal()
    party = request.args.get("party", "").strip() or None
    status = request.args.get("status", "").strip() or None
    q = request.args.get("q", "").strip() or None
    try:
        page = int(request.args.get("page", "1"))
    except ValueError:
        page = 0
    if not 1 <= page <= MAX_PAGE:
        raise PageError(400, f"page must be a whole number from 1 to {MAX_PAGE:,}")
    filters = {"party": party, "status": status, "q": q, "page": page, "page_size": PAGE_SIZE}
    result = _queries().register(as_of=as_of, known_at=known_at, function=None, **filters)
    pages = max(1, -(-result["total"] // PAGE_SIZE))
    return _page(
        "register.html",
        title="Register of collaborations",
        result=result,
        filters={"party": party or "", "status": status or "", "q": q or ""},
        forces=sorted(FORCES),
        statuses=STATUSES,
        page=page,
        pages=pages,
        link_args={**{k: v for k, v in (("party", party), ("status", status), ("q", q)) if v}, **_temporal_args()},
    )


webview.add_url_rule("/register", "register", register_page)


@webview.get("/collaborations/<collaboration_id>")
@signed_in_page
def collaboration_page(collaboration_id: str) -> Any:
    as_of, known_at = _temporal()
    collaboration_id = _uuid_text(collaboration_id, "collaboration")
    queries = _queries()
    try:
        document = queries.collaboration(collaboration_id, as_of=as_of, known_at=known_at)
    except (CollaborationNotFound, NotYetInEffect) as error:
        raise PageError(404, str(error)) from None
    events = queries.events_of(collaboration_id, known_at=known_at)

    quotes = []
    cases = queries.exit_cases_of(collaboration_id, as_of=as_of, known_at=known_at)
    withdrawals = {entry["force"]: entry for entry in document.get("withdrawals", [])}
    for party in document["parties"]:
        force = party["force"]
        rows = queries.force_exit_cost_history(collaboration_id, force, as_of=as_of, known_at=known_at)
        chart = _history_chart(
            f"What it would cost {force_name(force)} to leave, event by event",
            rows,
            FORCE_SERIES,
            lambda row: _event_href(row["stream_id"], row["version"], collaboration_id),
        )
        if force in withdrawals or document["status"] == "terminated":  # a quote of a leaving that cannot happen
            case = next((c for c in cases if c["trigger"] == "withdrawal" and c["force"] == force), None)
            quotes.append({"force": force, "left": withdrawals.get(force), "ended": True, "case": case, "chart": chart})
            continue
        try:
            quote = queries.exit_quote(collaboration_id, force=force, as_of=as_of, known_at=known_at)
        except DomainError as error:
            quotes.append({"force": force, "error": str(error), "chart": chart})
            continue
        for line in quote["lines"]:
            line["links"] = [
                {"name": name, "version": source["version"], "href": _source_href(source, collaboration_id)}
                for name, source in line["source_events"].items()
            ]
        heads = sorted({head for payee in quote["payees"] for head in payee["by_head"]})
        quotes.append({"force": force, "quote": quote, "chart": chart, "payee_heads": heads})

    dashboard = queries.dashboard(collaboration_id, as_of=as_of, known_at=known_at)
    return _page(
        "collaboration.html",
        title=document["name"],
        c=document,
        function_names=_function_names(document),
        events=events,
        as_of=as_of,
        quotes=quotes,
        cases=cases,
        dashboard=dashboard,
        benefit_map=benefit_map(
            dashboard["benefits"],
            {function["id"]: function["name"] for function in document["functions"]},
            lambda benefit_id: url_for("webview.benefit_page", benefit_id=benefit_id, **_temporal_args()),
        ),
    )


def _function_names(collaboration: dict[str, Any]) -> dict[str, str]:
    """Each function's name by its id, for the timeline's sentences."""
    return {function["id"]: function["name"] for function in collaboration["functions"]}


def _source_href(source: dict[str, Any], collaboration_id: str) -> str:
    stream, _, version = source["event_id"].rpartition(":")
    return _event_href(stream, int(version), collaboration_id)


@webview.get("/collaborations/<collaboration_id>/changes")
@signed_in_page
def changes_page(collaboration_id: str) -> Any:
    """What changed between two points (the API's change report), with the form that chooses
    them; a bad window is answered on the same page, the form keeping what was typed."""
    queries, collaboration_id, collaboration, typed = _form_page(collaboration_id, CHANGE_FIELDS)
    filled = {name: value for name, value in typed.items() if value}
    for name in ("known_from", "known_to"):  # a plain date: the end of that day, UK time, as "Known at"
        if name in filled and re.fullmatch(r"\d{4}-\d{2}-\d{2}", filled[name]):
            with contextlib.suppress(ValidationError):
                filled[name] = _known_at(filled[name]).isoformat()
    g.pop("known_at_note", None)
    report, error = None, None
    if filled:
        try:
            args = ChangesQuerySchema().load(filled)
        except ValidationError as refused:
            error = " ".join(f"{name.replace('_', ' ')}: {' '.join(m)}" for name, m in flat_messages(refused.messages))
        else:
            report = queries.changes(collaboration_id, Window.of(args))
    return _page(
        "changes.html",
        status=400 if error else 200,
        title=f"What changed: {collaboration['name']}",
        c=collaboration,
        typed=typed,
        report=report,
        error=error,
    )


CHANGE_FIELDS = ("known_from", "known_to", "effective_from", "effective_to")


def _form_page(
    collaboration_id: str, fields: Sequence[str]
) -> tuple[RecordQueries, str, dict[str, Any], dict[str, str]]:
    """What a collaboration's page with a form starts from: the queries, the checked id, the
    collaboration now (404 if unknown) and each field as typed (trimmed; empty if absent)."""
    collaboration_id = _uuid_text(collaboration_id, "collaboration")
    queries = _queries()
    try:
        collaboration = queries.collaboration(collaboration_id)
    except CollaborationNotFound as error:
        raise PageError(404, str(error)) from None
    return queries, collaboration_id, collaboration, {name: request.args.get(name, "").strip() for name in fields}


def flat_messages(messages: Any, prefix: str = "") -> list[tuple[str, list[str]]]:
    """marshmallow's messages as (field, messages), a schema-wide one under "window"."""
    if isinstance(messages, list):
        return [(prefix or "window", [str(m) for m in messages])]
    found: list[tuple[str, list[str]]] = []
    for name, inner in messages.items():
        found += flat_messages(inner, "window" if name == "_schema" else str(name))
    return found


@webview.get("/exit-cases/<case_id>")
@signed_in_page
def exit_case_page(case_id: str) -> Any:
    as_of, known_at = _temporal()
    case_id = _uuid_text(case_id, "exit case")
    queries = _queries()
    try:
        case = queries.exit_case(case_id, as_of=as_of, known_at=known_at)
    except (ExitCaseNotFound, NotYetInEffect) as error:
        raise PageError(404, str(error)) from None
    events = queries.stream_events(case_id, known_at=known_at)
    figure_rows = queries.case_exit_cost_history(case_id, as_of=as_of, known_at=known_at)
    try:
        reconciliation, reconciliation_error = queries.reconciliation(case_id, as_of=as_of, known_at=known_at), None
    except DomainError as error:  # a decoupling case without a settlement has no default side
        reconciliation, reconciliation_error = None, str(error)
    return _page(
        "exit_case.html",
        reconciliation=reconciliation,
        reconciliation_error=reconciliation_error,
        figure_sources=figure_sources(figure_rows),
        title=f"Exit case: {case['trigger']} of {case['force'] or case['function_name']}",
        case=case,
        function_names=_function_names(queries.collaboration(case["collaboration_id"])),
        events=events,
        figure_rows=figure_rows,
        chart=_history_chart(
            "The case's figures, event by event", figure_rows, CASE_SERIES, lambda row: f"#event-{row['version']}"
        ),
        as_of=as_of,
    )


@webview.get("/benefits/<benefit_id>")
@signed_in_page
def benefit_page(benefit_id: str) -> Any:
    as_of, known_at = _temporal()
    benefit_id = _uuid_text(benefit_id, "benefit")
    queries = _queries()
    try:
        benefit = queries.benefit(benefit_id, as_of=as_of, known_at=known_at)
    except (BenefitNotFound, NotYetInEffect) as error:
        raise PageError(404, str(error)) from None
    return _page(
        "benefit.html",
        title=f"Benefit: {benefit['title']}",
        b=benefit,
        function_names=_function_names(queries.collaboration(benefit["collaboration_id"])),
        # Every measurement, not the document's preview of the newest.
        measurements=queries.measurements(benefit_id, limit=None, as_of=as_of, known_at=known_at)["items"],
        events=queries.stream_events(benefit_id, known_at=known_at),
        as_of=as_of,
    )


@webview.get("/collaborations/<collaboration_id>/board-pack")
@signed_in_page
def board_pack_page(collaboration_id: str) -> Any:
    """The board pack for a meeting (``service/board_pack.py``) as a page, with the form that
    chooses the meeting; a bad choice is answered on the same page, the form keeping it."""
    queries, collaboration_id, collaboration, typed = _form_page(collaboration_id, PACK_FIELDS)
    pack, error = None, None
    if any(typed.values()):
        try:
            pack = board_pack(queries, collaboration_id, **_pack_args(typed))
        except PageError as refused:
            error = refused.message
        except NotYetInEffect as refused:
            error = str(refused)
    pdf_href = again_href = since_href = None
    if pack is not None:
        fixed = {"meeting_on": pack["meeting_on"], "known_at": pack["known_at"]}
        if pack["previous_on"]:
            fixed["previous_on"] = pack["previous_on"]
        pdf_href = url_for("webview.board_pack_pdf", collaboration_id=collaboration_id, **fixed)
        again_href = url_for("webview.board_pack_page", collaboration_id=collaboration_id, **fixed)
        since_href = url_for("webview.changes_page", collaboration_id=collaboration_id, known_from=pack["known_at"])
    return _page(
        "board_pack.html",
        status=400 if error else 200,
        title=f"Board pack: {collaboration['name']}",
        c=collaboration,
        typed=typed,
        today=date.today().isoformat(),
        pack=pack,
        ref_numbers=ref_numbers(pack) if pack else {},
        pdf_href=pdf_href,
        again_href=again_href,
        since_href=since_href,
        error=error,
    )


@webview.get("/collaborations/<collaboration_id>/board-pack.pdf")
@signed_in_page
def board_pack_pdf(collaboration_id: str) -> Any:
    """The board pack as PDF: the same document as the page, laid out for A4."""
    collaboration_id = _uuid_text(collaboration_id, "collaboration")
    typed = {name: request.args.get(name, "").strip() for name in PACK_FIELDS}
    try:
        pack = board_pack(_queries(), collaboration_id, **_pack_args(typed))
    except (CollaborationNotFound, NotYetInEffect) as error:
        raise PageError(404, str(error)) from None
    try:
        pdf = pack_pdf(pack)
    except PdfUnavailable as error:
        raise PageError(503, str(error)) from None
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{pack_filename(pack, "pdf")}"'
    return response


PACK_FIELDS = ("meeting_on", "previous_on", "known_at")


def _pack_args(typed: dict[str, str]) -> dict[str, Any]:
    """A board pack's meeting, previous pack and recorded time from the form (PageError 400)."""
    errors, args = [], {}
    for name, label in (("meeting_on", "Meeting on"), ("previous_on", "Previous pack on")):
        if typed[name]:
            try:
                args[name] = Date().deserialize(typed[name])
            except ValidationError:
                errors.append(f"{label}: {typed[name]!r} is not a date (YYYY-MM-DD).")
    if typed["known_at"]:
        try:
            args["known_at"] = _known_at(typed["known_at"])
        except ValidationError:
            errors.append(f"As recorded at: {typed['known_at']!r} is not a date or an RFC 3339 time.")
    args.setdefault("meeting_on", date.today())
    if "previous_on" in args and not args["previous_on"] < args["meeting_on"]:
        errors.append("Previous pack on: must be before the meeting.")
    if errors:
        raise PageError(400, " ".join(errors))
    g.pop("known_at_note", None)
    return args
