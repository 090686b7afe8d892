"""The flask-smorest extension, specialised for this service.

- ``Api`` answers every error as RFC 9457 ``application/problem+json`` (HTTP errors, webargs
  validation errors, domain and service errors, store outages), documents those problems in
  the OpenAPI document, and declares the bearer-token security scheme.
- ``Blueprint`` authenticates every request to its routes unless a route is marked
  ``@Blueprint.public``: deny by default. It refuses writes to read-only principals and
  non-JSON bodies before a route runs, and documents all of it per operation.
"""

from __future__ import annotations

import http
import json
import logging
from collections.abc import Callable, Iterable
from copy import deepcopy
from typing import Any

import flask_smorest
import marshmallow as ma
from eventsourcing.persistence import InterfaceError, InternalError, OperationalError, ProgrammingError
from flask import current_app, g, request
from flask.wrappers import Response
from flask_smorest.utils import prepare_response
from marshmallow import missing
from webargs.flaskparser import FlaskParser, is_json_request
from webargs.multidictproxy import MultiDictProxy
from werkzeug.datastructures import CombinedMultiDict
from werkzeug.exceptions import HTTPException

from domain.errors import DomainError
from service import web
from service.benefits_workbook import RegisterRefused
from service.errors import NotPermitted
from service.fields import DecimalString
from service.persistence import ChainBroken, OutcomeUnknown
from service.problems import (
    MAX_ERRORS_SHOWN,
    PROBLEM_JSON,
    domain_problem,
    flatten_validation_messages,
    http_problem,
    validation_detail,
)
from service.queries import ProjectionBehind

log = logging.getLogger(__name__)

SECURITY_SCHEME = "bearerAuth"
# The OpenAPI documents built in this process, by the settings they were built with. A document
# depends only on the code and the API_* and OPENAPI_* settings, and building one (apispec
# resolving every schema of every operation) is most of what creating an app costs: a process
# that creates many apps (the test suite creates one per test) builds it once per settings.
_BUILT_DOCUMENTS: dict[str, dict[str, Any]] = {}
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
MAX_REGISTER_FAULTS_SHOWN = 1000  # the faults a refused register lists (all are counted)
BODY_METHODS = ("POST", "PUT", "PATCH")


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details."""

    type = ma.fields.String(required=True, metadata={"description": "A stable URI naming the problem; switch on this"})
    title = ma.fields.String(required=True, metadata={"description": "A short summary of the problem type"})
    status = ma.fields.Integer(required=True, metadata={"description": "The HTTP status code"})
    detail = ma.fields.String(required=True, metadata={"description": "What went wrong with this request"})
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={
            "description": f"Validation problems only: field → messages; at most the first {MAX_ERRORS_SHOWN} fields"
        },
    )
    errors_total = ma.fields.Integer(
        metadata={"description": "With errors: how many fields are in error, including any not listed"}
    )


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ProblemSchema

    def init_app(self, app: Any, *, spec_kwargs: dict[str, Any] | None = None) -> None:
        super().init_app(app, spec_kwargs=spec_kwargs)
        self.register_field(DecimalString, "string", "decimal")
        self.ma_plugin.converter.add_attribute_function(null_in_nullable_enums)
        self.ma_plugin.converter.add_attribute_function(key_names)
        [document_rule] = [rule for rule in app.url_map.iter_rules() if rule.endpoint == "api-docs.openapi_json"]
        self.spec.path(
            rule=document_rule,
            operations={
                "get": {
                    "operationId": "meta.openapi_document",
                    "summary": "This OpenAPI document",
                    "description": "The contract of the API, OpenAPI 3.1 (public, like /healthz).",
                    "tags": ["meta"],
                    "security": [],
                    "responses": {
                        "200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}},
                        "default": {"$ref": f"#/components/responses/{self.DEFAULT_ERROR_RESPONSE_NAME}"},
                    },
                }
            },
        )
        self.spec.components.security_scheme(
            SECURITY_SCHEME,
            {
                "type": "http",
                "scheme": "bearer",
                "description": "A token from `flask tokens create`; its role is admin, force (bound to one "
                "force) or auditor (read-only)",
            },
        )

    def register_blueprints(self, blueprints: Iterable[flask_smorest.Blueprint]) -> None:
        """Registers the resources' blueprints, documenting them in the OpenAPI document the first
        time this process builds an app with these settings; after that the routes are registered
        and the document built then is served (``_BUILT_DOCUMENTS``)."""
        key = json.dumps(
            {name: value for name, value in self._app.config.items() if name.startswith(("API_", "OPENAPI_"))},
            sort_keys=True,
            default=str,
        )
        built = _BUILT_DOCUMENTS.get(key)
        for blueprint in blueprints:
            if built is None:
                self.register_blueprint(blueprint)
            else:
                self._app.extensions["flask-smorest"]["blp_name_to_api"][blueprint.name] = self
                self._app.register_blueprint(blueprint)
        if built is None:
            _BUILT_DOCUMENTS[key] = deepcopy(self.spec.to_dict())
        else:
            self.spec.to_dict = lambda: deepcopy(built)  # type: ignore[method-assign]

    # ------------------------------------------------------------------ documentation
    def _register_responses(self) -> None:
        """Every error response is documented as application/problem+json."""
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Any other problem", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_JSON)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)

    # ----------------------------------------------------------------- error handling
    def _register_error_handlers(self) -> None:
        self._app.register_error_handler(HTTPException, self.handle_http_exception)
        self._app.register_error_handler(web.ProblemRaised, self.handle_problem)
        self._app.register_error_handler(DomainError, self.handle_domain_error)
        self._app.register_error_handler(OperationalError, self.handle_store_unavailable)
        self._app.register_error_handler(InterfaceError, self.handle_store_unavailable)
        self._app.register_error_handler(ProgrammingError, self.handle_transient_refusal)
        self._app.register_error_handler(InternalError, self.handle_transient_refusal)
        self._app.register_error_handler(ChainBroken, self.handle_chain_broken)
        self._app.register_error_handler(ProjectionBehind, self.handle_projection_behind)
        self._app.register_error_handler(RegisterRefused, self.handle_register_refused)

    def handle_http_exception(self, error: HTTPException) -> Response:  # type: ignore[override]
        status = error.code or 500
        data = getattr(error, "data", None) or {}
        headers = {name: value for name, value in error.get_headers() if name.lower() != "content-type"}
        headers.update(data.get("headers") or {})
        errors = data.get("errors")
        if errors is None and "messages" in data:
            errors = flatten_validation_messages(data["messages"])
        if status >= 500:  # Flask has logged the original exception; its text stays in the log
            detail = "an unexpected error occurred; it has been logged"
            errors = None
        elif isinstance(getattr(error, "exc", None), ValueError) and status == 400:
            cause = error.exc.__cause__  # type: ignore[attr-defined]
            detail, errors = "the request body is not valid JSON", None
            if isinstance(cause, DuplicateKey):
                detail = f"the request body is ambiguous: {cause}; send each field once"
        elif errors and status == 422:
            detail = validation_detail(errors)
        else:
            detail = data.get("message") or error.description or ""
        return http_problem(status, detail, errors=errors or None, headers=headers).response()

    @staticmethod
    def handle_problem(error: web.ProblemRaised) -> Response:
        return error.problem.response()

    @staticmethod
    def handle_register_refused(error: RegisterRefused) -> Response:
        """A benefits register with faults: 422, every fault by sheet, row and column (the
        first ``MAX_REGISTER_FAULTS_SHOWN`` in ``faults``, all counted in ``faults_total``), and
        the first few in the shared ``errors`` shape, keyed "Sheet!row column"."""
        faults = error.errors
        errors = {f"{f.sheet}!{f.row} {f.column or ''}".strip(): [f.message] for f in faults}
        return http_problem(
            422,
            f"the register has {len(faults)} fault(s); nothing was recorded. First: {faults[0].sheet} row "
            f"{faults[0].row}{', ' + faults[0].column if faults[0].column else ''}: {faults[0].message}",
            errors=errors,
            problem_type="register-refused",
            title="Every row of a register is right before any is recorded",
            extensions={
                "faults": [f.as_dict() for f in faults[:MAX_REGISTER_FAULTS_SHOWN]],
                "faults_total": len(faults),
            },
        ).response()

    @staticmethod
    def handle_domain_error(error: DomainError) -> Response:
        return domain_problem(error, request.view_args or {}).response()

    @staticmethod
    def handle_store_unavailable(error: Exception) -> Response:
        detail, retry_after = store_failure(error)
        log.exception("the record store failed: %s", detail, exc_info=error)
        return http_problem(503, detail, headers={"Retry-After": retry_after}).response()

    @staticmethod
    def handle_transient_refusal(error: Exception) -> Response:
        """A statement the store refused for a reason of its own connection, not of the request
        (a prepared statement the server no longer has, after a reset or a failover): the
        transaction was rolled back, so the client may retry (503). Anything else is a bug (500)."""
        if not is_transient(error):
            raise error
        log.warning("the record store refused a statement for a transient reason: %s", error)
        detail = "the record store refused the request for a passing reason; nothing was recorded; try again"
        return http_problem(503, detail, headers={"Retry-After": "1"}).response()

    @staticmethod
    def handle_projection_behind(error: ProjectionBehind) -> Response:
        """A question about now whose projection is too far behind the log to catch up within a
        request: 503 with Retry-After, never a worker killed for its timeout."""
        log.warning("answered 503: %s", error)
        return http_problem(
            503,
            str(error),
            problem_type="projection-catching-up",
            title="Catching up with the record",
            headers={"Retry-After": str(error.retry_after)},
        ).response()

    @staticmethod
    def handle_chain_broken(error: ChainBroken) -> Response:
        log.error("refused a write: %s", error)
        return http_problem(503, f"the record cannot be extended until its integrity is restored: {error}").response()


# What the stores say when they are out of space or cannot be written (SQLite; PostgreSQL's
# DiskFull 53100, ReadOnlySqlTransaction 25006 and a read-only file system), lower case.
OUT_OF_SPACE = ("database or disk is full", "no space left on device", "could not extend file", "disk full")
READ_ONLY = ("readonly database", "read-only file system", "read-only transaction", "read only")


TRANSIENT = ("prepared statement", "deadlock detected", "could not serialize access", "terminating connection")


def is_transient(error: BaseException) -> bool:
    """Whether the store's refusal came from its connection or concurrency, not the request."""
    seen: BaseException | None = error
    for _ in range(5):
        if seen is None:
            return False
        if any(phrase in str(seen).lower() for phrase in TRANSIENT):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def store_failure(error: BaseException) -> tuple[str, str]:
    """What to tell a client when the store failed (nothing was recorded), and when to retry:
    out of space and read-only say so, since retrying soon will not help; anything else is a
    store that did not answer. A write whose commit went unanswered may have been recorded."""
    if isinstance(error, OutcomeUnknown):
        return (
            "the record store may or may not have recorded this write (its commit went unanswered); repeat it"
            " with the same Idempotency-Key, which answers the first result if there was one, or read the"
            " record before writing again",
            "1",
        )
    texts = []
    seen: BaseException | None = error
    while seen is not None and len(texts) < 5:
        texts.append(str(seen).lower())
        seen = seen.__cause__ or seen.__context__
    text = " ".join(texts)
    if any(phrase in text for phrase in OUT_OF_SPACE):
        return "the record store is out of disk space; nothing was recorded (an operator must free space)", "60"
    if any(phrase in text for phrase in READ_ONLY):
        return "the record store cannot be written: it is read-only; nothing was recorded", "60"
    return "the record store did not answer; try again shortly", "1"


def null_in_nullable_enums(self: Any, field: ma.fields.Field, ret: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """An apispec attribute function: a field that may be null and is one of a list of values
    lists null among them too (JSON Schema checks ``enum`` even when ``type`` allows null)."""
    if field.allow_none and "enum" in ret and None not in ret["enum"]:
        return {"enum": [*ret["enum"], None]}
    return {}


KEY_LIMITS = ("enum", "pattern", "minLength", "maxLength", "format")


def key_names(self: Any, field: ma.fields.Field, ret: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """An apispec attribute function: a map documents what its keys may be (``propertyNames``),
    from its key field, as it documents its values (``additionalProperties``)."""
    if not isinstance(field, ma.fields.Dict) or field.key_field is None:
        return {}
    names = {name: limit for name, limit in self.field2property(field.key_field).items() if name in KEY_LIMITS}
    return {"propertyNames": names} if names else {}


class DuplicateKey(ValueError):
    """A JSON object names one key twice: which of its values was meant cannot be known."""


def refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads``'s object hook: an object, unless it names a key twice (DuplicateKey)."""
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise DuplicateKey(f"the JSON object names {key!r} twice")
        document[key] = value
    return document


class Parser(FlaskParser):
    """webargs' parser, except that JSON which is well formed but which Python will not turn into
    values (nested too deeply, an integer of more than 4300 digits) or which names a key twice in
    one object is refused like any other unreadable body, 400, rather than escaping as a 500 or
    being read as its last value."""

    def load_files(self, req: Any, schema: ma.Schema) -> Any:
        """The "files" location of a route that takes a file (``uploads``): the multipart body's
        files and its other fields together, one schema for the whole form (flask-smorest
        documents one multipart request body; it cannot document form and files apart)."""
        return MultiDictProxy(CombinedMultiDict([req.files, req.form]), schema)

    def _raw_load_json(self, req: Any) -> Any:
        try:
            if not is_json_request(req):
                return missing
            return json.loads(req.get_data(cache=True).decode(), object_pairs_hook=refuse_duplicate_keys)
        except json.JSONDecodeError:
            raise
        except (ValueError, RecursionError) as error:  # also UnicodeDecodeError, DuplicateKey
            raise json.JSONDecodeError(f"the JSON cannot be read: {error}", doc="(body)", pos=0) from error


def uploads(max_bytes: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Marks a write route that takes a file as multipart/form-data, of at most ``max_bytes``
    (rather than a JSON body of at most MAX_CONTENT_LENGTH)."""

    def mark(view: Callable[..., Any]) -> Callable[..., Any]:
        view.upload_bytes = max_bytes  # type: ignore[attr-defined]
        return view

    return mark


class Blueprint(flask_smorest.Blueprint):
    """A resource whose routes need a valid bearer token unless marked public."""

    ARGUMENTS_PARSER = Parser()

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._prepare_doc_cbks.append(self._prepare_access_doc)
        self.before_request(self._check_access)

    def register_views_in_doc(self, api: Any, app: Any, spec: Any, *, name: str, parameters: Any) -> None:
        """Each operation gets a stable ``operationId``, ``<blueprint>.<view function>`` (with the
        method where one view answers several), so generated clients keep their method names."""
        for endpoint, doc in self._docs.items():
            methods = [method for method in doc if method != "parameters"]
            for method in methods:
                operation_id = f"{name}.{endpoint}" if len(methods) == 1 else f"{name}.{endpoint}.{method}"
                doc[method].setdefault("manual_doc", {}).setdefault("operationId", operation_id)
        super().register_views_in_doc(api, app, spec, name=name, parameters=parameters)

    @staticmethod
    def public(func: Callable[..., Any]) -> Callable[..., Any]:
        """Marks a route as open to anyone, without a token."""
        func.public = True  # type: ignore[attr-defined]
        func._apidoc = {**deepcopy(getattr(func, "_apidoc", {})), "public": True}  # type: ignore[attr-defined]
        return func

    @staticmethod
    def problems(*statuses: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Documents further problem statuses a route may answer with (e.g. 404, 409, 412)."""

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            apidoc = deepcopy(getattr(func, "_apidoc", {}))
            apidoc["problems"] = [*apidoc.get("problems", []), *statuses]
            func._apidoc = apidoc  # type: ignore[attr-defined]
            return func

        return decorator

    @staticmethod
    def _check_access() -> None:
        view = current_app.view_functions.get(request.endpoint or "")
        if getattr(view, "public", False):
            return
        principal = web.authenticate()
        g.principal = principal
        if request.method not in SAFE_METHODS and not principal.may_write:
            raise NotPermitted(f"an {principal.role} token may only read")
        upload = getattr(view, "upload_bytes", None)  # a route that takes a file (``uploads``)
        if upload is not None:
            if request.mimetype != "multipart/form-data":
                web.fail(
                    415,
                    "send the body as multipart/form-data (the file and the form's fields), "
                    f"not {request.mimetype or 'nothing'}",
                )
            request.max_content_length = upload
        elif request.method in BODY_METHODS and not request.is_json:
            web.fail(
                415,
                f"send the body as JSON with Content-Type: application/json, not {request.mimetype or 'nothing'}",
            )

    @staticmethod
    def _prepare_access_doc(doc: dict[str, Any], doc_info: dict[str, Any], *, method: str, **kwargs: Any) -> dict:
        responses = doc.setdefault("responses", {})
        statuses: list[int] = list(doc_info.get("problems", []))
        if doc_info.get("public"):
            doc["security"] = []
        else:
            doc["security"] = [{SECURITY_SCHEME: []}]
            statuses.append(401)
            if method.upper() not in SAFE_METHODS:
                statuses += [400, 403, 415, 422]
        for status in statuses:
            if status not in responses and str(status) not in responses:
                responses[status] = http.HTTPStatus(status).name
        return doc
