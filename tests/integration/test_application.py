"""The application service through its public seam, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest

from domain.errors import (
    AmountTooLarge,
    InvalidReviewCycle,
    InvalidText,
    PartyNotInCollaboration,
    SharesDoNotSumToOne,
)
from service.application import Caller, CollaborationRecords, IdempotencyKey
from service.errors import CollaborationNotFound, IdempotencyKeyReused, NotPermitted, VersionMismatch
from service.persistence import persistence_environment
from service.queries import RecordQueries
from tests.integration.reads import history_of

ADMIN = Caller("tester (admin)")
ON = {"effective_on": date(2012, 3, 1), "reason": "agreed by both chief constables and PCCs"}


@pytest.fixture
def records(database_url):
    application = CollaborationRecords(env=persistence_environment(database_url))
    yield application
    application.close()


def establish(records: CollaborationRecords, **overrides) -> str:
    arguments = {
        "caller": ADMIN,
        "name": "Strategic Alliance",
        "purpose": "Shared services across two forces",
        "parties": ["west-mercia", "warwickshire"],
        "lead_force": "west-mercia",
        **ON,
    } | overrides
    return records.establish_collaboration(**arguments).result["id"]


def test_a_collaboration_is_rebuilt_from_its_events(records, queries):
    collaboration_id = establish(records, governance_body="Alliance Governance Group", review_cycle_months=12)
    written = records.add_function(
        collaboration_id,
        name="Alliance ICT",
        kind="enabling",
        host_force="warwickshire",
        annual_budget="10000000",
        caller=ADMIN,
        **ON,
    )
    function_id = written.result["function_id"]
    records.agree_apportionment(
        collaboration_id,
        function_id=None,
        basis="fixed_ratio",
        shares={"west-mercia": "0.69", "warwickshire": "0.31"},
        caller=ADMIN,
        **ON,
    )
    records.set_function_budget(
        collaboration_id,
        function_id=function_id,
        financial_year="2019/20",
        annual_budget="11000000.50",
        caller=ADMIN,
        **ON,
    )
    document = RecordQueries(records).collaboration(collaboration_id)
    assert document["version"] == 4
    assert document["governance_body"] == "Alliance Governance Group"
    [function] = document["functions"]
    assert function["annual_budget"] == "10000000.00"
    assert function["budgets"] == [{"financial_year": "2019/20", "annual_budget": "11000000.50", "source_version": 4}]
    assert document["apportionments"][0]["shares"] == {"west-mercia": "0.69", "warwickshire": "0.31"}

    history = history_of(queries, collaboration_id)
    assert [event["type"] for event in history] == [
        "Collaboration.Established",
        "Collaboration.FunctionAdded",
        "Collaboration.ApportionmentAgreed",
        "Collaboration.FunctionBudgetSet",
    ]
    assert [event["version"] for event in history] == [1, 2, 3, 4]
    assert history[0]["actor"] == "tester (admin)"
    assert history[0]["reason"] == ON["reason"]

    as_it_stood = RecordQueries(records).collaboration(collaboration_id, version=2)
    assert as_it_stood["version"] == 2 and as_it_stood["apportionments"] == []
    assert [event["version"] for event in history_of(queries, collaboration_id, upto_version=2)] == [1, 2]


def test_a_refused_command_records_nothing(records):
    collaboration_id = establish(records)
    size = records.log_size()
    with pytest.raises(SharesDoNotSumToOne):
        records.agree_apportionment(
            collaboration_id,
            function_id=None,
            basis="fixed_ratio",
            shares={"west-mercia": "0.7", "warwickshire": "0.31"},
            caller=ADMIN,
            **ON,
        )
    with pytest.raises(PartyNotInCollaboration):
        records.add_function(
            collaboration_id,
            name="Dogs",
            kind="operational",
            host_force="kent",
            annual_budget="1",
            caller=ADMIN,
            **ON,
        )
    assert records.log_size() == size
    assert RecordQueries(records).collaboration(collaboration_id)["version"] == 1


def test_unknown_collaboration_is_not_found(records):
    with pytest.raises(CollaborationNotFound):
        RecordQueries(records).collaboration("0c6a5a4e-3a7e-4c1e-9d8f-111111111111")
    with pytest.raises(CollaborationNotFound):
        records.hold_review("not-a-uuid", outcome="x", caller=ADMIN, **ON)


def test_a_force_writes_only_where_it_is_a_party(records):
    with pytest.raises(NotPermitted):
        establish(records, caller=Caller("dorset clerk (force dorset)", force="dorset"))
    collaboration_id = establish(records, caller=Caller("wm clerk (force west-mercia)", force="west-mercia"))
    records.hold_review(collaboration_id, outcome="continue", caller=Caller("w", force="warwickshire"), **ON)
    with pytest.raises(NotPermitted):
        records.hold_review(collaboration_id, outcome="continue", caller=Caller("k", force="kent"), **ON)
    assert RecordQueries(records).collaboration(collaboration_id)["version"] == 2


def test_a_stale_if_match_is_refused(records):
    collaboration_id = establish(records)
    records.hold_review(collaboration_id, outcome="continue", caller=ADMIN, expected_version=1, **ON)
    with pytest.raises(VersionMismatch):
        records.hold_review(collaboration_id, outcome="again", caller=ADMIN, expected_version=1, **ON)
    assert RecordQueries(records).collaboration(collaboration_id)["version"] == 2


def test_an_idempotent_retry_returns_the_first_result_and_records_nothing(records):
    collaboration_id = establish(records)
    key = IdempotencyKey("token-1", "retry-me", IdempotencyKey.fingerprint_of("POST", "/x", {"a": 1}))
    first = records.add_function(
        collaboration_id,
        name="ICT",
        kind="enabling",
        host_force="warwickshire",
        annual_budget="5",
        caller=ADMIN,
        idempotency=key,
        **ON,
    )
    size = records.log_size()
    again = records.add_function(
        collaboration_id,
        name="ICT",
        kind="enabling",
        host_force="warwickshire",
        annual_budget="5",
        caller=ADMIN,
        idempotency=key,
        **ON,
    )
    assert again.replayed and not first.replayed
    assert again.result == first.result
    assert records.log_size() == size
    keys_belong_to_their_principal = IdempotencyKey("token-2", "retry-me", key.fingerprint)
    assert not records.hold_review(
        collaboration_id, outcome="x", caller=ADMIN, idempotency=keys_belong_to_their_principal, **ON
    ).replayed
    reused = IdempotencyKey("token-1", "retry-me", IdempotencyKey.fingerprint_of("POST", "/x", {"a": 2}))
    with pytest.raises(IdempotencyKeyReused):
        records.hold_review(collaboration_id, outcome="x", caller=ADMIN, idempotency=reused, **ON)


def test_concurrent_writers_lose_nothing(database_url):
    """Several application instances (as in several gunicorn workers) write to one
    collaboration at once: every write is recorded exactly once, none is lost."""
    env = persistence_environment(database_url)
    setup = CollaborationRecords(env=env)
    collaboration_id = establish(setup)
    writers = [CollaborationRecords(env=env) for _ in range(4)]

    def write(index: int) -> int:
        application = writers[index % len(writers)]
        return application.hold_review(collaboration_id, outcome=f"review {index}", caller=ADMIN, **ON).result[
            "version"
        ]

    with ThreadPoolExecutor(max_workers=4) as pool:
        versions = list(pool.map(write, range(24)))
    history = history_of(RecordQueries(setup), collaboration_id, kind="collaboration")
    outcomes = [event["data"]["outcome"] for event in history[1:]]
    assert sorted(outcomes) == sorted(f"review {index}" for index in range(24))
    assert sorted(versions) == list(range(2, 26))
    for application in [setup, *writers]:
        application.close()


def test_concurrent_retries_with_one_key_record_once(database_url):
    env = persistence_environment(database_url)
    setup = CollaborationRecords(env=env)
    collaboration_id = establish(setup)
    writers = [CollaborationRecords(env=env) for _ in range(4)]
    key = IdempotencyKey("token-1", "same", "fingerprint")

    def write(index: int):
        return (
            writers[index]
            .hold_review(collaboration_id, outcome="once", caller=ADMIN, idempotency=key, **ON)
            .result["version"]
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        versions = set(pool.map(write, range(4)))
    assert versions == {2}
    assert len(history_of(RecordQueries(setup), collaboration_id, kind="collaboration")) == 2
    for application in [setup, *writers]:
        application.close()


def test_the_feed_pages_through_the_global_log(records):
    first = establish(records)
    second = establish(records, name="7F Procurement", parties=["essex", "kent", "suffolk"], lead_force="essex")
    records.hold_review(first, outcome="continue", caller=ADMIN, **ON)
    page = RecordQueries(records).feed(after=0, limit=2)
    assert [item["stream_id"] for item in page] == [first, second]
    rest = RecordQueries(records).feed(after=page[-1]["position"], limit=10)
    assert [(item["stream_id"], item["type"]) for item in rest] == [(first, "Collaboration.ReviewHeld")]
    assert RecordQueries(records).feed(after=rest[-1]["position"], limit=10) == []


def test_called_directly_the_service_refuses_what_the_http_layer_would_and_records_nothing(records, queries):
    """The rules are the domain's: a caller that skips the HTTP schemas cannot record text the
    store cannot hold, or figures that would break a read model."""
    collaboration_id = establish(records)
    size = records.log_size()
    refusals = [
        (
            InvalidText,
            lambda: records.hold_review(collaboration_id, outcome="ok", caller=ADMIN, **ON | {"reason": "a\x00"}),
        ),
        (InvalidText, lambda: records.hold_review(collaboration_id, outcome="\ud800", caller=ADMIN, **ON)),
        (InvalidText, lambda: records.hold_review(collaboration_id, outcome="ok", evidence="\x00", caller=ADMIN, **ON)),
        (InvalidText, lambda: establish(records, name="x" * 201)),
        (InvalidReviewCycle, lambda: establish(records, review_cycle_months=10**20)),
        (
            AmountTooLarge,
            lambda: records.add_function(
                collaboration_id,
                name="ICT",
                kind="enabling",
                host_force="warwickshire",
                annual_budget="1" + "0" * 28,
                caller=ADMIN,
                **ON,
            ),
        ),
    ]
    for error, command in refusals:
        with pytest.raises(error):
            command()
    assert records.log_size() == size
    written = records.hold_review(collaboration_id, outcome=" ok ", evidence="  ", caller=ADMIN, **ON)
    assert written.result["reviews"] == [{"outcome": "ok", "held_on": "2012-03-01", "source_version": 2}]
    assert history_of(queries, collaboration_id)[-1]["evidence"] is None


def test_history_and_feed_carry_the_chain_hash_of_each_event(records, queries):
    first = establish(records)
    establish(records, name="7F Procurement", parties=["essex", "kent"], lead_force="essex")
    records.hold_review(first, outcome="continue", caller=ADMIN, **ON)
    feed = RecordQueries(records).feed(after=0, limit=10)
    history = history_of(queries, first)
    assert [item["position"] for item in history] == [feed[0]["position"], feed[2]["position"]]
    assert [item["hash"] for item in history] == [feed[0]["hash"], feed[2]["hash"]]
    assert len({item["hash"] for item in feed}) == 3
    assert all(len(item["hash"]) == 64 for item in feed)
