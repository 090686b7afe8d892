"""GET /api/v1/audit/verify, GET /api/v1/audit/checkpoint(s), POST /api/v1/audit/checkpoints,
on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from service.audit.checkpoints import (
    KEY_FILE_VARIABLE,
    KEY_VARIABLE,
    Checkpoint,
    check_signature,
    generate_key_pem,
    load_signing_key,
    public_key_text,
)
from service.audit.trail import AuditTrail
from service.resources.audit.schemas import CheckpointListSchema, CheckpointSchema, VerificationSchema
from tests.integration.audit_support import (  # noqa: F401 (no_key_from_the_environment: an autouse fixture)
    GOOD_STORE_SIZE,
    RawDatabase,
    no_key_from_the_environment,
    write_good_store,
)
from tests.integration.http_support import Http, assert_problem, http_for

VERIFY = "/api/v1/audit/verify"
CHECKPOINT = "/api/v1/audit/checkpoint"
CHECKPOINTS = "/api/v1/audit/checkpoints"
KEYS = [generate_key_pem().decode(), generate_key_pem().decode()]


@pytest.fixture
def http(database_url: str) -> Iterator[Http]:
    for http in http_for(database_url):
        write_good_store(http.app.extensions["records"])
        yield http


@pytest.fixture
def raw(http: Http, database_url: str) -> RawDatabase:
    return RawDatabase(database_url)


def with_key(http: Http, number: int = 0) -> Http:
    http.app.config[KEY_VARIABLE] = KEYS[number]
    return http


def make_checkpoint(http: Http) -> dict:
    response = with_key(http).post(CHECKPOINTS, {})
    assert response.status_code == 201, response.get_json()
    return CheckpointSchema().load(response.get_json())


def public_key_of(number: int) -> str:
    return public_key_text(load_signing_key({KEY_VARIABLE: KEYS[number]}).public_key())


# ------------------------------------------------------------------------------ access
@pytest.mark.parametrize("path", [VERIFY, CHECKPOINT, CHECKPOINTS])
def test_reads_need_a_valid_token(http: Http, path: str):
    assert_problem(http.get(path, token=None), 401, "unauthenticated")
    assert_problem(http.get(path, token="crs_nonsense"), 401, "unauthenticated")


@pytest.mark.parametrize("role", ["auditor", "force"])
def test_any_valid_token_may_verify(http: Http, role: str):
    token = http.token(role, force="west-mercia" if role == "force" else None)
    response = http.get(VERIFY, token)
    assert response.status_code == 200 and response.get_json()["ok"] is True


@pytest.mark.parametrize("role", ["auditor", "force"])
def test_only_administrators_sign_checkpoints(http: Http, role: str):
    with_key(http)
    token = http.token(role, force="west-mercia" if role == "force" else None)
    assert_problem(http.post(CHECKPOINTS, {}, token), 403)
    assert_problem(http.post(CHECKPOINTS, {}, token=None), 401)
    assert_problem(http.get(CHECKPOINT), 404, "no-checkpoint")


# ------------------------------------------------------------------------------ verify
def test_a_good_store_verifies(http: Http):
    response = http.get(VERIFY)
    assert response.status_code == 200
    report = VerificationSchema().load(response.get_json())
    assert report == {
        "ok": True,
        "events_checked": GOOD_STORE_SIZE,
        "first_bad_position": None,
        "problem": None,
        "size": GOOD_STORE_SIZE,
        "head_hash": AuditTrail(http.app.extensions["records"].side_tables).head()[1],
    }


def test_a_corrupted_store_is_answered_200_not_ok_at_the_first_bad_position(http: Http, raw: RawDatabase):
    positions = raw.positions()
    raw.flip_bit(positions[17], 33)
    raw.delete_event(positions[25])
    response = http.get(VERIFY)
    assert response.status_code == 200
    report = VerificationSchema().load(response.get_json())
    assert report["ok"] is False and report["first_bad_position"] == positions[17]
    assert report["events_checked"] == 17 and report["size"] == 17
    assert "does not match its hash" in report["problem"]


def test_verify_against_a_kept_checkpoint(http: Http, raw: RawDatabase):
    checkpoint = make_checkpoint(http)
    http.app.config.pop(KEY_VARIABLE)
    response = http.get(f"{VERIFY}?against_size={GOOD_STORE_SIZE}&public_key={quote(checkpoint['public_key'])}")
    report = VerificationSchema().load(response.get_json())
    assert report["ok"] is True and report["checkpoint"] == checkpoint and report["trusted_key"] == "given"

    positions = raw.positions()
    raw.edit_state(positions[5], reason="rewritten")
    raw.rehash_from(positions[5])
    report = http.get(VERIFY).get_json()  # the chain alone cannot tell, but the tree can
    assert report["first_bad_position"] == positions[5] and "Merkle tree's leaf" in report["problem"]
    raw.rebuild_tree()
    assert http.get(VERIFY).get_json()["ok"] is True  # rewritten with the tree: only a checkpoint can tell
    response = http.get(f"{VERIFY}?against_size={GOOD_STORE_SIZE}&public_key={quote(checkpoint['public_key'])}")
    report = response.get_json()
    assert response.status_code == 200 and report["ok"] is False
    assert report["first_bad_position"] == positions[-1] and "rewritten" in report["problem"]


def test_verify_against_a_kept_checkpoint_uses_the_services_key_by_default(http: Http):
    make_checkpoint(http)
    report = http.get(f"{VERIFY}?against_size={GOOD_STORE_SIZE}").get_json()
    assert report["ok"] is True and report["trusted_key"] == "configured"
    with_key(http, 1)  # the service's key changed: the old checkpoint is not signed with it
    body = assert_problem(http.get(f"{VERIFY}?against_size={GOOD_STORE_SIZE}"), 409, "checkpoint-invalid")
    assert "signature" in body["detail"]
    response = http.get(f"{VERIFY}?against_size={GOOD_STORE_SIZE}&public_key={quote(public_key_of(0))}")
    assert response.get_json()["ok"] is True  # an explicit key wins
    assert response.get_json()["trusted_key"] == "given"


def test_verify_against_a_checkpoint_with_no_key_to_trust_is_422_not_the_key_it_names(http: Http):
    make_checkpoint(http)
    http.app.config.pop(KEY_VARIABLE)
    body = assert_problem(http.get(f"{VERIFY}?against_size={GOOD_STORE_SIZE}"), 422, "validation-failed")
    assert "public_key" in body["detail"] and "public_key" in body["errors"]
    assert "trusted_key" not in http.get(VERIFY).get_json()  # no checkpoint, no key


def test_verify_against_a_checkpoint_with_another_key_is_refused(http: Http):
    make_checkpoint(http)
    other = quote(public_key_of(1))
    assert_problem(http.get(f"{VERIFY}?against_size={GOOD_STORE_SIZE}&public_key={other}"), 409, "checkpoint-invalid")


@pytest.mark.parametrize(
    "where",
    [
        pytest.param(lambda key: "+" in key[1:-2], id="inside"),
        pytest.param(lambda key: key.startswith("+"), id="first"),  # once lost to trimming
    ],
)
def test_a_public_key_with_an_unencoded_plus_is_read_as_meant(http: Http, where):
    pem, public_key = next(
        (pem, public_key_text(load_signing_key({KEY_VARIABLE: pem}).public_key()))
        for pem in iter(lambda: generate_key_pem().decode(), None)
        if where(public_key_text(load_signing_key({KEY_VARIABLE: pem}).public_key()))
    )
    http.app.config[KEY_VARIABLE] = pem
    assert http.post(CHECKPOINTS, {}).status_code == 201
    http.app.config.pop(KEY_VARIABLE)
    response = http.get(f"{VERIFY}?against_size={GOOD_STORE_SIZE}&public_key={public_key}")  # '+' arrives as ' '
    assert response.status_code == 200 and response.get_json()["ok"] is True


def test_a_kept_checkpoint_altered_in_the_store_is_refused(http: Http, raw: RawDatabase):
    checkpoint = make_checkpoint(http)
    altered = json.dumps({**checkpoint, "head_hash": "ab" * 32}, sort_keys=True)
    raw.run(("UPDATE {checkpoints} SET checkpoint = ?", [altered]))
    assert_problem(http.get(f"{VERIFY}?against_size={GOOD_STORE_SIZE}"), 409, "checkpoint-invalid")
    http.app.config.pop(KEY_VARIABLE)  # even checked with the key it names
    named = quote(checkpoint["public_key"])
    assert_problem(http.get(f"{VERIFY}?against_size={GOOD_STORE_SIZE}&public_key={named}"), 409, "checkpoint-invalid")
    for lax in ({"size": float(GOOD_STORE_SIZE)}, {"head_position": str(checkpoint["head_position"])}):
        raw.run(("UPDATE {checkpoints} SET checkpoint = ?", [json.dumps({**checkpoint, **lax})]))
        assert_problem(http.get(f"{VERIFY}?against_size={GOOD_STORE_SIZE}&public_key={named}"), 409)
    raw.run(("UPDATE {checkpoints} SET checkpoint = ?", ["{not json"]))
    assert_problem(http.get(CHECKPOINT), 409, "checkpoint-invalid")


def test_verify_against_a_size_with_no_checkpoint_is_404(http: Http):
    make_checkpoint(http)
    assert_problem(http.get(f"{VERIFY}?against_size=7"), 404, "no-checkpoint")


@pytest.mark.parametrize(
    "query",
    [
        "against_size=-1",
        "against_size=x",
        "against_size=30&public_key=AAAA",
        "against_size=30&public_key=not%20base64!",
        "against_size=30&public_key=",
        "against_size=30&public_key=%20%20",
        "public_key={key}",  # a good key without against_size (the key is made per run: named, not shown)
        "unknown=1",
    ],
)
def test_verify_refuses_bad_parameters(http: Http, query: str):
    query = query.format(key=quote(public_key_of(0)))
    body = assert_problem(http.get(f"{VERIFY}?{query}"), 422, "validation-failed")
    assert body["errors"]


# ------------------------------------------------------------------------- checkpoints
def test_checkpoints_are_signed_kept_and_listed(http: Http):
    first = make_checkpoint(http)
    check_signature(Checkpoint.from_dict(first), public_key_of(0))
    assert first["size"] == GOOD_STORE_SIZE

    again = http.post(CHECKPOINTS, {})
    assert again.status_code == 200 and again.get_json() == first  # the log has not grown

    write_good_store(http.app.extensions["records"], collaborations=1, rounds=1)
    second = http.post(CHECKPOINTS, {})
    assert second.status_code == 201 and second.get_json()["size"] == GOOD_STORE_SIZE + 2

    latest = http.get(CHECKPOINT, http.token("auditor"))
    assert latest.status_code == 200 and latest.get_json() == second.get_json()
    listed = CheckpointListSchema().load(http.get(CHECKPOINTS).get_json())
    assert [item["size"] for item in listed["items"]] == [GOOD_STORE_SIZE, GOOD_STORE_SIZE + 2]


def test_no_signing_key_is_503(http: Http):
    body = assert_problem(http.post(CHECKPOINTS, {}), 503, "signing-key-missing")
    assert KEY_FILE_VARIABLE in body["detail"]
    http.app.config[KEY_FILE_VARIABLE] = "/nonexistent/key.pem"
    assert_problem(http.post(CHECKPOINTS, {}), 503, "signing-key-missing")


def test_no_checkpoint_for_a_log_that_does_not_verify(http: Http, raw: RawDatabase):
    positions = raw.positions()
    raw.set_topic(positions[2], "domain.collaboration:Collaboration.Forged")
    body = assert_problem(with_key(http).post(CHECKPOINTS, {}), 409, "log-does-not-verify")
    assert f"position {positions[2]}" in body["detail"]
    assert_problem(http.get(CHECKPOINT), 404, "no-checkpoint")
    assert http.get(CHECKPOINTS).get_json() == {"items": []}


def test_post_checkpoints_refuses_a_body_with_fields(http: Http):
    assert_problem(with_key(http).post(CHECKPOINTS, {"size": 3}), 422, "validation-failed")


def test_the_openapi_document_describes_the_audit_endpoints(http: Http):
    spec = http.get("/api/v1/openapi.json", token=None).get_json()
    paths = spec["paths"]
    assert set(paths[VERIFY]["get"]["responses"]) >= {"200", "401", "404", "409", "422"}
    assert set(paths[CHECKPOINT]["get"]["responses"]) >= {"200", "401", "404"}
    assert set(paths[CHECKPOINTS]["post"]["responses"]) >= {"200", "201", "401", "403", "409", "503"}
    parameters = {parameter["name"] for parameter in paths[VERIFY]["get"]["parameters"]}
    assert parameters >= {"against_size", "public_key"}
