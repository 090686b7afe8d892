"""Idempotency-Key storage (issue 13): each key keeps a small record of its answer, never the
answer's document, and a replay rebuilds the first answer from the store; keys stored before
that (whole answers) still replay; a store from before it is migrated in place; and keys
older than the retention are pruned by ``flask --app wsgi idempotency prune``. On SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.collaboration import Collaboration
from domain.exit_case import ExitCase
from service import application
from service.application import (
    CollaborationRecords,
    IdempotencyKey,
    answer_document,
    recorded_at_text,
)
from service.cli import idempotency_cli
from service.documents import collaboration_document
from service.errors import IdempotencyKeyReused
from service.persistence import (
    IDEMPOTENCY_RECORD,
    INSERT_IDEMPOTENCY,
    IdempotentRequest,
    _idempotency_params,
    persistence_environment,
)
from service.queries import RecordQueries
from tests.integration import http_support
from tests.integration.exit_case_support import (
    CASE_WRITES,
    WM,
    Alliance,
    case_write_requests,
    open_case,
    posted,
    prepare_case,
)
from tests.integration.exit_case_support import alliance as exit_alliance
from tests.integration.exit_case_support import at as case_at
from tests.integration.http_support import (
    BENEFIT_WRITES,
    WHEN,
    WRITES,
    Http,
    assert_problem,
    identify_benefit,
    prepare,
    write_requests,
)
from tests.integration.test_application import ADMIN, ON, establish
from tests.integration.test_snapshots_and_times import busy_collaboration

http = http_support.http  # on SQLite
http_any = http_support.http_any  # on SQLite and PostgreSQL

RECORD_BOUND = 1024  # bytes of a stored record, whatever the answer
BASE = "/api/v1/collaborations"
CASES = "/api/v1/exit-cases"


# ------------------------------------------------------------------------------- helpers
def stored_row(records: CollaborationRecords, principal: str, key: str) -> dict[str, Any]:
    rows = records.side_tables.execute(
        "SELECT fingerprint, result, created_at FROM {schema}idempotency_keys"
        " WHERE principal = ? AND idempotency_key = ?",
        (principal, key),
    )
    assert len(rows) == 1, rows
    return rows[0]


def admin_id(http: Http) -> str:
    principal = http.tokens.authenticate(http.admin)
    assert principal is not None
    return principal.id


def assert_small_record(row: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    """The stored record is bounded, names the answer's aggregate and version, and holds none of
    the answer's document."""
    assert len(row["result"].encode()) < RECORD_BOUND, row["result"]
    record = json.loads(row["result"])
    assert record[IDEMPOTENCY_RECORD] == 1
    assert record["id"] == answer["id"] and record["version"] == answer["version"]
    assert isinstance(record["position"], int)
    assert set(record) == {IDEMPOTENCY_RECORD, "type", "id", "version", "on", "extra", "answer", "position"}
    assert all(answer[name] == value for name, value in record["extra"].items())  # the ids the command returned
    return record


def replayed_like_the_first(http: Http, path: str, body: dict[str, Any], key: str, first: Any) -> None:
    """Sends the request again with its key: the first answer (body, status, ETag, Location),
    marked as replayed, and nothing recorded."""
    log_size = http.log_size()
    again = http.post(path, body, **{"Idempotency-Key": key})
    assert again.status_code == first.status_code == 201, again.get_json()
    assert again.get_json() == first.get_json()
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers.get("Location") == first.headers.get("Location")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert http.log_size() == log_size


# -------------------------------------------------------------- every write replays exactly
@pytest.mark.parametrize("endpoint", WRITES)
def test_each_collaboration_write_replays_its_first_answer_from_a_small_record(http_any: Http, endpoint: str) -> None:
    http = http_any
    collaboration = http.establish()
    function_id = http.add_function(collaboration["id"])
    if endpoint != "create":
        prepare(http, collaboration["id"], function_id, endpoint)
    path, body = write_requests(collaboration["id"], function_id)[endpoint]
    body = {**WHEN, **body}
    key = f"write-{endpoint}"

    first = http.post(path, body, **{"Idempotency-Key": key})
    assert first.status_code == 201, first.get_json()
    answer = first.get_json()
    record = assert_small_record(stored_row(http.app.extensions["records"], admin_id(http), key), answer)
    assert record["type"] == "Collaboration"
    # The collaboration moves on; the replay answers as it stood after the first request.
    later = http.post(f"{BASE}/{answer['id']}/variations", {"clause": "9.9", "summary": "Later", **WHEN})
    if endpoint != "termination":
        assert later.status_code == 201, later.get_json()
        assert later.get_json()["version"] == answer["version"] + 1

    replayed_like_the_first(http, path, body, key, first)


@pytest.fixture
def exit_case(http_any: Http) -> tuple[Alliance, str]:
    """West Mercia's withdrawal case at version 2 (opened, assessed), and its alliance."""
    alliance = exit_alliance(http_any)
    case_id = open_case(http_any, alliance.id)["id"]
    posted(http_any, f"{CASES}/{case_id}/assessments", case_at("2020-01-31", assessor="A", recommended_amount="1.00"))
    return alliance, case_id


@pytest.mark.parametrize("endpoint", CASE_WRITES)
def test_each_exit_case_write_replays_its_first_answer_from_a_small_record(
    http_any: Http, exit_case: tuple[Alliance, str], endpoint: str
) -> None:
    http = http_any
    prepare_case(http, *exit_case, endpoint)
    path, body = case_write_requests(*exit_case)[endpoint]
    body = case_at("2020-03-30", **body)
    key = f"case-{endpoint}"

    first = http.post(path, body, **{"Idempotency-Key": key})
    assert first.status_code == 201, first.get_json()
    answer = first.get_json()
    record = assert_small_record(stored_row(http.app.extensions["records"], admin_id(http), key), answer)
    assert record["type"] == "ExitCase"
    later = http.post(
        f"{CASES}/{answer['id']}/disputes", case_at("2020-03-31", raised_by=WM, forum="arbitration", summary="Later")
    )
    if endpoint != "closure":
        assert later.status_code == 201, later.get_json()
        assert later.get_json()["version"] == answer["version"] + 1

    replayed_like_the_first(http, path, body, key, first)


@pytest.mark.parametrize("endpoint", BENEFIT_WRITES)
def test_each_benefit_write_replays_its_first_answer_from_a_small_record(http_any: Http, endpoint: str) -> None:
    http = http_any
    collaboration = http.establish()
    benefit_id = identify_benefit(http, collaboration["id"])
    path, body = http_support.benefit_write_requests(collaboration["id"], benefit_id)[endpoint]
    body = {**WHEN, **body}
    key = f"benefit-{endpoint}"

    first = http.post(path, body, **{"Idempotency-Key": key})
    assert first.status_code == 201, first.get_json()
    answer = first.get_json()
    record = assert_small_record(stored_row(http.app.extensions["records"], admin_id(http), key), answer)
    assert record["type"] == "Benefit"
    later = http.post(f"/api/v1/benefits/{answer['id']}/definition", {"owner": "Later owner", **WHEN})
    assert later.status_code == 201, later.get_json()
    assert later.get_json()["version"] == answer["version"] + 1

    replayed_like_the_first(http, path, body, key, first)


def test_the_ids_a_command_returns_are_replayed(http_any: Http) -> None:
    """Beyond the document: a function's, a claim's, a payment's id, a notice's earliest exit."""
    http = http_any
    collaboration = http.establish()
    path = f"{BASE}/{collaboration['id']}/functions"
    body = {"name": "ICT", "kind": "enabling", "host_force": "west-mercia", "annual_budget": "1.00", **WHEN}
    first = http.post(path, body, **{"Idempotency-Key": "ict"})
    record = json.loads(stored_row(http.app.extensions["records"], admin_id(http), "ict")["result"])
    assert record["extra"] == {"function_id": first.get_json()["function_id"]}
    again = http.post(path, body, **{"Idempotency-Key": "ict"})
    assert again.get_json()["function_id"] == first.get_json()["function_id"]


def test_a_key_reused_for_another_request_is_still_refused(http_any: Http) -> None:
    http = http_any
    collaboration = http.establish()
    path = f"{BASE}/{collaboration['id']}/reviews"
    assert http.post(path, {"outcome": "Continue", **WHEN}, **{"Idempotency-Key": "k"}).status_code == 201

    other = http.post(path, {"outcome": "Stop", **WHEN}, **{"Idempotency-Key": "k"})

    assert_problem(other, 422, "idempotency-key-reused")
    assert http.version(collaboration["id"]) == 2


# ------------------------------------------------------------- through the application
@pytest.fixture
def snapshotted(database_url: str) -> Iterator[CollaborationRecords]:
    """The service's application with snapshots every 20 events (a replay rebuilds from one)."""

    class OftenSnapshotted(CollaborationRecords):
        snapshotting_intervals = {Collaboration: 20, ExitCase: 20}

    records = OftenSnapshotted(env=persistence_environment(database_url))
    yield records
    records.close()


def test_a_replay_rebuilds_the_answer_from_a_snapshot_and_the_events_after_it(snapshotted: CollaborationRecords):
    records = snapshotted
    collaboration_id = busy_collaboration(records, 47)
    key = IdempotencyKey("token-1", "asset", "print")
    asset = {
        "name": "Depot",
        "cost": "1000.00",
        "acquired_on": date(2016, 4, 1),
        "useful_life_months": 60,
        "funded_shares": {"west-mercia": "0.5", "warwickshire": "0.5"},
    }
    first = records.register_asset(collaboration_id, caller=ADMIN, idempotency=key, **asset, **ON)
    for number in range(25):  # past the next snapshot
        records.hold_review(collaboration_id, outcome=f"later {number}", caller=ADMIN, **ON)
    assert (
        next(iter(records.snapshots.get(UUID(collaboration_id), desc=True, limit=1))).originator_version
        > (first.result["version"])
    )

    again = records.register_asset(collaboration_id, caller=ADMIN, idempotency=key, **asset, **ON)

    assert again.replayed and again.result == first.result
    assert again.result["version"] == first.result["version"] and "asset_id" in again.result
    assert again.position == first.position is not None
    record = json.loads(stored_row(records, "token-1", "asset")["result"])
    assert record["position"] == first.position


def test_the_record_is_the_same_size_however_long_the_aggregate(records: CollaborationRecords):
    collaboration_id = establish(records)
    sizes = {}
    shares = {"west-mercia": "0.69", "warwickshire": "0.31"}
    for number in range(1, 151):  # apportionments, which the whole document lists every one of
        key = IdempotencyKey("token-1", f"shares-{number:03d}", "print")
        written = records.agree_apportionment(
            collaboration_id, function_id=None, basis="fixed_ratio", shares=shares, caller=ADMIN, idempotency=key, **ON
        )
        if number in (1, 150):
            row = stored_row(records, "token-1", key.key)
            sizes[number] = len(row["result"].encode())
            assert len(json.dumps(written.result)) > (10_000 if number == 150 else 0)
    assert sizes[150] < RECORD_BOUND
    assert sizes[150] - sizes[1] <= 4  # the digits of the version and position, nothing more


def test_a_replay_answers_as_on_the_day_of_the_first_answer(records: CollaborationRecords):
    """A collaboration's answer says which budget is in effect today. The record keeps the day
    the answer was built on, and the replay builds it as on that day, not on the day it runs."""
    collaboration_id = establish(records)
    function_id = records.add_function(
        collaboration_id,
        name="ICT",
        kind="enabling",
        host_force="warwickshire",
        annual_budget="5.00",
        caller=ADMIN,
        **ON,
    ).result["function_id"]
    key = IdempotencyKey("token-1", "budget", "print")
    first = records.set_function_budget(
        collaboration_id,
        function_id=function_id,
        financial_year="2090/91",
        annual_budget="7.00",
        caller=ADMIN,
        idempotency=key,
        **ON,
    )
    assert first.result["functions"][0]["budget_in_effect"]["annual_budget"] == "5.00"  # 2090/91 is not yet
    record = json.loads(stored_row(records, "token-1", "budget")["result"])
    assert record["on"] == date.today().isoformat()

    # The same record, as though the first answer had been built in 2090:
    later = {**record, "on": "2090-06-01"}
    records.side_tables.execute(
        "UPDATE {schema}idempotency_keys SET result = ? WHERE idempotency_key = ?",
        (json.dumps(later), "budget"),
        commit=True,
    )
    replay = records.set_function_budget(
        collaboration_id,
        function_id=function_id,
        financial_year="2090/91",
        annual_budget="7.00",
        caller=ADMIN,
        idempotency=key,
        **ON,
    )
    assert replay.result["functions"][0]["budget_in_effect"]["annual_budget"] == "7.00"
    assert replay.result["as_of"] is None
    assert {k: v for k, v in replay.result.items() if k != "functions"} == {
        k: v for k, v in first.result.items() if k != "functions"
    }


def test_an_answer_built_today_is_the_document_itself(records: CollaborationRecords):
    collaboration_id = establish(records)
    collaboration = records.collaboration(collaboration_id)
    assert answer_document(collaboration, date.today()) == collaboration_document(collaboration)
    built_in_2090 = answer_document(collaboration, date(2090, 6, 1))
    assert built_in_2090["as_of"] is None and collaboration.viewed_as_of is None  # the aggregate is left as it was
    assert built_in_2090 == collaboration_document(collaboration)  # nothing of it depends on the day


def test_a_write_is_answered_as_on_the_day_its_record_keeps(
    records: CollaborationRecords, monkeypatch: pytest.MonkeyPatch
):
    """The answer is built when it is asked for, after the save, as on the day the write's
    idempotency record keeps, never on the day it happens to be built: if the day turns between
    the write and its answer (simulated: the write runs on 1999-12-31), the first answer and its
    replay are built as on the same day."""
    collaboration_id = establish(records)
    built_on: list[date] = []
    real_answer_document = application.answer_document

    def answer_document_spy(aggregate: Any, on: date) -> dict[str, Any]:
        built_on.append(on)
        return real_answer_document(aggregate, on)

    monkeypatch.setattr(application, "answer_document", answer_document_spy)
    key = IdempotencyKey("token-1", "midnight", "print")
    with monkeypatch.context() as on_the_day:
        on_the_day.setattr(application, "_today", lambda: date(1999, 12, 31))
        first = records.hold_review(collaboration_id, outcome="at midnight", caller=ADMIN, idempotency=key, **ON)

    assert built_on == []  # nothing is built until the answer is asked for
    record = json.loads(stored_row(records, "token-1", "midnight")["result"])
    assert record["on"] == "1999-12-31" and first.on == date(1999, 12, 31)
    assert first.result["version"] == 2 and first.result["as_of"] is None
    assert built_on == [date(1999, 12, 31)]  # asked for today, built as on the record's day
    again = records.hold_review(collaboration_id, outcome="at midnight", caller=ADMIN, idempotency=key, **ON)
    assert again.replayed and again.result == first.result
    assert built_on == [date(1999, 12, 31)] * 2
    assert first.result == RecordQueries(records).collaboration(collaboration_id)  # no budget turns on that day


def test_concurrent_creates_with_one_key_record_once(database_url: str):
    """Several workers create with the same key at once: one collaboration, every answer its own.
    (On PostgreSQL the key is stored once the events have their positions, under the write lock.)"""
    env = persistence_environment(database_url)
    writers = [CollaborationRecords(env=env) for _ in range(4)]
    key = IdempotencyKey("token-1", "create-once", "print")
    start = threading.Barrier(len(writers))
    answers: list[dict[str, Any]] = []

    def create(index: int) -> None:
        start.wait()
        written = writers[index].establish_collaboration(
            name="Once",
            purpose="Shared",
            parties=["west-mercia", "warwickshire"],
            lead_force="west-mercia",
            caller=ADMIN,
            idempotency=key,
            **ON,
        )
        answers.append(written.result)

    threads = [threading.Thread(target=create, args=(index,)) for index in range(len(writers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert len(answers) == len(writers)
        assert all(answer == answers[0] for answer in answers)
        assert writers[0].log_size() == 1
    finally:
        for writer in writers:
            writer.close()


# ----------------------------------------------------------- keys stored before issue 13
def test_a_key_stored_with_its_whole_answer_still_replays(http_any: Http) -> None:
    http = http_any
    records = http.app.extensions["records"]
    collaboration = http.establish()
    path = f"{BASE}/{collaboration['id']}/reviews"
    body = {"outcome": "Continue", **WHEN}
    fingerprint = IdempotencyKey.fingerprint_of("POST", path, body)
    whole_answer = {**collaboration, "version": 2, "reviews": [{"outcome": "Continue"}]}
    records.side_tables.execute(  # as the service stored keys before issue 13: the whole answer
        "INSERT INTO {schema}idempotency_keys (principal, idempotency_key, fingerprint, result, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (admin_id(http), "old", fingerprint, json.dumps(whole_answer), recorded_at_text(datetime.now(UTC))),
        commit=True,
    )

    again = http.post(path, body, **{"Idempotency-Key": "old"})

    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == whole_answer
    assert http.version(collaboration["id"]) == 1
    assert_problem(http.post(path, {**body, "outcome": "Other"}, **{"Idempotency-Key": "old"}), 422)


def old_store(database_url: str) -> tuple[str, dict[str, Any]]:
    """A store as the service left it before issue 13: ``idempotency_keys`` without
    ``created_at`` (nor its index), and a key holding its whole answer (a review's). Answers the
    collaboration's id and that answer."""
    records = CollaborationRecords(env=persistence_environment(database_url))
    try:
        collaboration_id = establish(records)
        whole_answer = records.hold_review(collaboration_id, outcome="continue", caller=ADMIN, **ON).result
        side = records.side_tables
        side.execute("DROP INDEX IF EXISTS {schema}idempotency_keys_created", commit=True)
        side.execute("ALTER TABLE {schema}idempotency_keys DROP COLUMN created_at", commit=True)
        assert side._idempotency_schema() == (False, False)
        side.execute(
            "INSERT INTO {schema}idempotency_keys (principal, idempotency_key, fingerprint, result)"
            " VALUES (?, ?, ?, ?)",
            ("token-1", "old-key", "print", json.dumps(whole_answer, sort_keys=True)),
            commit=True,
        )
    finally:
        records.close()
    return collaboration_id, whole_answer


def test_a_store_from_before_issue_13_is_migrated_and_its_keys_still_replay(database_url: str) -> None:
    collaboration_id, whole_answer = old_store(database_url)
    env = persistence_environment(database_url)
    before = recorded_at_text(datetime.now(UTC))
    # Several workers start on it at once: one adds the column, the others find it.
    started: list[CollaborationRecords] = []
    barrier = threading.Barrier(3)

    def start() -> None:
        barrier.wait()
        started.append(CollaborationRecords(env=env))

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    after = recorded_at_text(datetime.now(UTC))
    try:
        assert len(started) == 3
        records = started[0]
        assert records.side_tables._idempotency_schema() == (True, True)
        assert records.side_tables.migrate_idempotency_keys() is False  # done once
        row = stored_row(records, "token-1", "old-key")
        assert before <= row["created_at"] <= after  # counted as recorded at the upgrade

        again = records.hold_review(
            collaboration_id,
            outcome="continue",
            caller=ADMIN,
            idempotency=IdempotencyKey("token-1", "old-key", "print"),
            **ON,
        )
        assert again.replayed and again.result == whole_answer
        with pytest.raises(IdempotencyKeyReused):
            records.hold_review(
                collaboration_id,
                outcome="continue",
                caller=ADMIN,
                idempotency=IdempotencyKey("token-1", "old-key", "another print"),
                **ON,
            )
        # New keys get bounded records beside it; the old one is pruned a retention after the upgrade.
        key = IdempotencyKey("token-1", "new-key", "print")
        first = records.hold_review(collaboration_id, outcome="again", caller=ADMIN, idempotency=key, **ON)
        assert_small_record(stored_row(records, "token-1", "new-key"), first.result)
        assert records.prune_idempotency_keys(30)[0] == 0
        assert records.prune_idempotency_keys(30, now=datetime.now(UTC) + timedelta(days=30, hours=1))[0] == 2
    finally:
        for records in started:
            records.close()


# ------------------------------------------------------------------------------ pruning
def insert_key(records: CollaborationRecords, key: str, created_at: datetime) -> None:
    request = IdempotentRequest("token-1", key, "print", {"id": key}, created_at=recorded_at_text(created_at))
    records.side_tables.execute(INSERT_IDEMPOTENCY, _idempotency_params(request), commit=True)


def stored_keys(records: CollaborationRecords) -> set[str]:
    return {row["idempotency_key"] for row in records.side_tables.execute("SELECT * FROM {schema}idempotency_keys")}


def test_prune_deletes_the_keys_older_than_the_retention_and_keeps_the_rest(http_any: Http) -> None:
    http = http_any
    records = http.app.extensions["records"]
    now = datetime.now(UTC)
    for days in (400, 45, 31, 30.5):
        insert_key(records, f"old-{days}", now - timedelta(days=days))
    for days in (29, 1, 0):
        insert_key(records, f"new-{days}", now - timedelta(days=days))
    runner = http.app.test_cli_runner()

    result = runner.invoke(idempotency_cli, ["prune", "--older-than-days", "30", "--batch-size", "3"])

    assert result.exit_code == 0, result.output
    assert "Deleted 4 idempotency keys recorded before" in result.output
    assert "(older than 30 days)" in result.output
    assert stored_keys(records) == {"new-29", "new-1", "new-0"}
    again = runner.invoke(idempotency_cli, ["prune", "--older-than-days", "30"])
    assert again.exit_code == 0 and "Deleted 0 idempotency keys" in again.output


def test_prune_takes_the_retention_from_the_configuration(http: Http, monkeypatch: pytest.MonkeyPatch) -> None:
    records = http.app.extensions["records"]
    now = datetime.now(UTC)
    for days in (31, 11, 9):
        insert_key(records, f"key-{days}", now - timedelta(days=days))
    runner = http.app.test_cli_runner()
    monkeypatch.delenv("IDEMPOTENCY_RETENTION_DAYS", raising=False)

    monkeypatch.setenv("IDEMPOTENCY_RETENTION_DAYS", "not a number")
    refused = runner.invoke(idempotency_cli, ["prune"])
    assert refused.exit_code == 2 and "IDEMPOTENCY_RETENTION_DAYS" in refused.output
    monkeypatch.delenv("IDEMPOTENCY_RETENTION_DAYS")
    default = runner.invoke(idempotency_cli, ["prune"])  # 30 days
    assert default.exit_code == 0 and "Deleted 1 idempotency key recorded" in default.output
    monkeypatch.setenv("IDEMPOTENCY_RETENTION_DAYS", "10")
    from_environment = runner.invoke(idempotency_cli, ["prune"])
    assert "Deleted 1 idempotency key" in from_environment.output and "(older than 10 days)" in from_environment.output
    assert stored_keys(records) == {"key-9"}
    assert runner.invoke(idempotency_cli, ["prune", "--older-than-days", "0"]).exit_code == 2


def test_a_pruned_key_is_a_new_request(http: Http) -> None:
    """Documented: a client must not retry with a key older than the retention, which records again."""
    collaboration = http.establish()
    path = f"{BASE}/{collaboration['id']}/reviews"
    body = {"outcome": "Continue", **WHEN}
    assert http.post(path, body, **{"Idempotency-Key": "k"}).status_code == 201
    records = http.app.extensions["records"]
    deleted, _ = records.prune_idempotency_keys(30, now=datetime.now(UTC) + timedelta(days=31))
    assert deleted == 1

    again = http.post(path, body, **{"Idempotency-Key": "k"})

    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert http.version(collaboration["id"]) == 3
