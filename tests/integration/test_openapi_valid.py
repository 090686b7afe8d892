"""The OpenAPI document is valid to a strict validator (openapi-spec-validator, OpenAPI 3.1),
every operation has a stable, unique operationId, and the document describes itself."""

from __future__ import annotations

from openapi_spec_validator import validate

from tests.integration import http_support
from tests.integration.http_support import Http

http = http_support.http  # the fixture
SPEC = "/api/v1/openapi.json"


def spec_of(http: Http) -> dict:
    response = http.get(SPEC, token=None)
    assert response.status_code == 200
    return response.get_json()


def test_the_openapi_document_is_valid(http: Http) -> None:
    validate(spec_of(http))  # raises with the first error


def test_every_operation_has_a_unique_operation_id(http: Http) -> None:
    ids = [
        operation["operationId"]
        for item in spec_of(http)["paths"].values()
        for method, operation in item.items()
        if method != "parameters"
    ]
    assert len(ids) == len(set(ids)) > 40
    assert "audit.cosign_checkpoint" in ids and "collaborations.establish" in ids


def test_nullable_enums_list_null(http: Http) -> None:
    schemas = spec_of(http)["components"]["schemas"]
    checked = 0
    for schema in schemas.values():
        for prop in (schema.get("properties") or {}).values():
            if "enum" in prop and isinstance(prop.get("type"), list) and "null" in prop["type"]:
                assert None in prop["enum"], prop
                checked += 1
    assert checked >= 5


def test_the_document_describes_itself(http: Http) -> None:
    operation = spec_of(http)["paths"][SPEC]["get"]
    assert operation["security"] == [] and operation["operationId"] == "meta.openapi_document"


def test_a_process_builds_the_document_once_and_every_app_serves_it_whole(http: Http, tmp_path, monkeypatch) -> None:
    """Building the document is most of what creating an app costs, so a second app of the same
    settings serves the first one's document instead of building it again: the same document,
    and every route still answering."""
    from flask_smorest import Blueprint as SmorestBlueprint

    def not_again(*args: object, **kwargs: object) -> None:
        raise AssertionError("the document was built again")

    monkeypatch.setattr(SmorestBlueprint, "register_views_in_doc", not_again)
    opened = http_support.http_for(f"sqlite:///{tmp_path / 'second.sqlite3'}")
    second = next(opened)
    try:
        assert spec_of(second) == spec_of(http)
        assert len(spec_of(second)["paths"]) > 40
        assert second.get("/api/v1/forces").status_code == 200  # its routes are registered all the same
    finally:
        opened.close()
