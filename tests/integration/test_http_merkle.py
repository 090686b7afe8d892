"""The Merkle tree over HTTP and the command line: its head, inclusion proofs of an event (with
the leaf document, so anyone can rehash it), consistency proofs between sizes; every proof
checked here with the RFC 9162 verifier alone, as a party outside the service would."""

from __future__ import annotations

import hashlib
import json

from flask import Flask

from service.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from tests.integration import http_support
from tests.integration.audit_support import RawDatabase, audit_app, write_good_store
from tests.integration.http_support import Http, assert_problem

http_any = http_support.http_any
AUDIT = "/api/v1/audit"


def answer(http: Http, path: str) -> dict:
    response = http.get(path)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def checked_inclusion(proof: dict) -> None:
    """As an outside party: the leaf document rehashes to the leaf hash, and the path leads to the root."""
    leaf = leaf_hash(proof["leaf"].encode())
    assert leaf.hex() == proof["leaf_hash"]
    path = [bytes.fromhex(node) for node in proof["audit_path"]]
    verify_inclusion(proof["leaf_index"], proof["tree_size"], leaf, path, bytes.fromhex(proof["root_hash"]))


def test_the_tree_head_and_proofs_over_http(http_any: Http) -> None:
    write_good_store(http_any.app.extensions["records"])
    size = http_any.log_size()
    head = answer(http_any, f"{AUDIT}/tree")
    assert head["size"] == head["tree_size"] == size
    events = answer(http_any, "/api/v1/events?limit=100")["items"]
    for event in (events[0], events[7], events[-1]):
        proof = answer(http_any, f"{AUDIT}/proofs/inclusion?position={event['position']}")
        checked_inclusion(proof)
        assert proof["root_hash"] == head["root_hash"]
        document = json.loads(proof["leaf"])
        assert (document["position"], document["stream_id"]) == (event["position"], event["stream_id"])
        assert hashlib.sha256(proof["leaf"].encode()).hexdigest() == event["hash"]  # the leaf is what the chain hashed
    earlier = answer(http_any, f"{AUDIT}/tree?size=12")
    proof = answer(http_any, f"{AUDIT}/proofs/inclusion?position={events[3]['position']}&size=12")
    checked_inclusion(proof)
    assert proof["root_hash"] == earlier["root_hash"]

    grew = answer(http_any, f"{AUDIT}/proofs/consistency?old_size=12")
    assert (grew["old_root"], grew["new_root"]) == (earlier["root_hash"], head["root_hash"])
    verify_consistency(
        12,
        size,
        bytes.fromhex(grew["old_root"]),
        bytes.fromhex(grew["new_root"]),
        [bytes.fromhex(p) for p in grew["proof"]],
    )


def test_proof_requests_beyond_the_log_are_problems(http_any: Http) -> None:
    write_good_store(http_any.app.extensions["records"], collaborations=1, rounds=3)
    size = http_any.log_size()
    assert_problem(http_any.get(f"{AUDIT}/tree?size={size + 1}"), 422, "tree-incomplete")
    assert_problem(http_any.get(f"{AUDIT}/proofs/inclusion?position=999999"), 404)
    last = answer(http_any, "/api/v1/events?limit=100")["items"][-1]["position"]
    assert_problem(http_any.get(f"{AUDIT}/proofs/inclusion?position={last}&size=1"), 422, "tree-incomplete")
    assert_problem(http_any.get(f"{AUDIT}/proofs/consistency?old_size={size}&new_size=1"), 422)
    assert_problem(http_any.get(f"{AUDIT}/proofs/consistency?old_size=0"), 422)
    assert_problem(http_any.get(f"{AUDIT}/proofs/inclusion?position=abc"), 422)
    assert_problem(http_any.get(f"{AUDIT}/tree", token=None), 401)


def test_a_rewritten_event_no_longer_matches_its_proof(http_any: Http, database_url: str) -> None:
    """The tree holds the hash of the event as written: an event edited in the database since
    comes back as a leaf whose hash is not the one the proof proves."""
    write_good_store(http_any.app.extensions["records"], collaborations=1, rounds=3)
    position = answer(http_any, "/api/v1/events?limit=100")["items"][2]["position"]
    RawDatabase(database_url).edit_state(position, outcome="rewritten")
    proof = answer(http_any, f"{AUDIT}/proofs/inclusion?position={position}")
    assert leaf_hash(proof["leaf"].encode()).hex() != proof["leaf_hash"]


# ----------------------------------------------------------------------------- command line
app = audit_app


def audit(app: Flask, *arguments: str) -> dict:
    result = app.test_cli_runner().invoke(args=["audit", *arguments])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_tree_from_the_command_line(app: Flask, database_url: str) -> None:
    records = app.extensions["records"]
    write_good_store(records)
    RawDatabase(database_url).run("DELETE FROM {tree}", "DELETE FROM {edge}")  # a store from before the tree
    head = audit(app, "tree")
    assert head["size"] == 30
    position = RawDatabase(database_url).positions()[4]
    checked_inclusion(audit(app, "inclusion", "--position", str(position)))
    grew = audit(app, "consistency", "--old-size", "9")
    assert grew["new_root"] == head["root_hash"]
    refused = app.test_cli_runner().invoke(args=["audit", "inclusion", "--position", "999999"])
    assert refused.exit_code != 0 and "no chained event" in refused.output
