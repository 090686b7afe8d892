"""The change report's pieces: each patch operation says what it took away, read in turn; the
windows hold and flag events by their recorded and effective dates; an event reads as a sentence."""

from __future__ import annotations

from datetime import UTC, date, datetime

import jsonpatch

from service.change_report import Window, _with_was, changed_events, event_sentence


def test_was_is_read_from_the_document_as_the_operations_before_left_it() -> None:
    before = {"items": [{"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}], "total": 10}
    after = {"items": [{"n": 1}, {"n": 4}], "total": 5}
    operations = _with_was(jsonpatch.make_patch(before, after).patch, before)
    removed = [operation["was"] for operation in operations if operation["op"] == "remove"]
    replaced = {operation["path"]: operation["was"] for operation in operations if operation["op"] == "replace"}
    # whichever operations the patch uses, what they took away is the two middle items and the old total
    assert sorted(item["n"] for item in removed + [v for p, v in replaced.items() if p != "/total"]) == [2, 3]
    assert replaced.get("/total") == 10
    assert before["items"][1] == {"n": 2}  # the document at the start is left as it was
    assert jsonpatch.apply_patch(before, [{k: v for k, v in o.items() if k != "was"} for o in operations]) == after


EVENT = {
    "stream_id": "s",
    "version": 2,
    "type": "Collaboration.NoticeServed",
    "actor": "Jo (admin)",
    "reason": "Agreed",
}


def test_a_recorded_window_flags_an_event_effective_before_it_began() -> None:
    window = Window("recorded", datetime(2020, 3, 1, tzinfo=UTC), datetime(2020, 3, 31, tzinfo=UTC))
    events = [
        {**EVENT, "effective_on": "2020-03-10", "recorded_at": "2020-03-10T09:00:00Z"},
        {**EVENT, "effective_on": "2019-12-31", "recorded_at": "2020-03-11T09:00:00Z"},  # back-dated
        {**EVENT, "effective_on": "2020-03-12", "recorded_at": "2020-04-01T09:00:00Z"},  # after the window
    ]
    assert [event["back_dated"] for event in changed_events(events, window)] == [False, True]


def test_an_effective_window_flags_an_event_recorded_after_it_ended() -> None:
    window = Window("effective", date(2019, 4, 1), date(2020, 3, 31))
    events = [
        {**EVENT, "effective_on": "2019-06-01", "recorded_at": "2019-06-02T09:00:00Z"},
        {**EVENT, "effective_on": "2020-03-31", "recorded_at": "2020-04-01T00:00:00Z"},  # known only after
        {**EVENT, "effective_on": "2020-04-01", "recorded_at": "2020-04-01T09:00:00Z"},  # not in the window
    ]
    assert [event["back_dated"] for event in changed_events(events, window)] == [False, True]


def test_an_event_reads_as_a_sentence() -> None:
    event = {**EVENT, "type": "Collaboration.WithdrawalNoticeServed", "effective_on": "2018-10-09"}
    event["data"] = {"force": "west-mercia", "earliest_exit_on": "2019-10-09"}
    assert event_sentence(event) == (
        "West Mercia Police served notice to withdraw; the earliest it can leave is 2019-10-09, "
        "effective 2018-10-09 (recorded by Jo (admin)): Agreed"
    )
    unknown = {**EVENT, "type": "Collaboration.SomethingNew", "effective_on": None, "reason": None}
    assert event_sentence(unknown) == "Something new (recorded by Jo (admin))"  # a type added later
