"""The exit-cost history's pure parts: which events it decodes, its aggregate cache, and the
figures of one force, without a database."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from uuid import uuid4

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from domain.collaboration import Collaboration
from domain.exit_case import ExitCase
from domain.values import Provenance
from projections.exit_cost_history import (
    AggregateCache,
    case_figures,
    concerns_exit_cost_history,
    standing_figures,
)

ON = Provenance(date(2012, 4, 1), "tester", "agreed")


class Memo(Aggregate):
    def __init__(self, text: str):
        self.text = text


def test_it_decodes_collaboration_and_exit_case_events_only():
    assert concerns_exit_cost_history(get_topic(Collaboration.Established))
    assert concerns_exit_cost_history(get_topic(Collaboration.FunctionAdded))
    assert concerns_exit_cost_history(get_topic(ExitCase.Opened))
    assert concerns_exit_cost_history(get_topic(ExitCase.PaymentMade))
    assert not concerns_exit_cost_history(get_topic(Memo.Created))
    assert not concerns_exit_cost_history(get_topic(Aggregate.Snapshot))


def test_the_cache_hands_each_aggregate_out_once_and_keeps_the_newer_version():
    cache = AggregateCache(events=2)
    one, two, three = (uuid4() for _ in range(3))
    cache.give([SimpleNamespace(id=one, version=5)])
    cache.give([SimpleNamespace(id=one, version=3)])  # an older batch committing late
    taken = cache.take(one)
    assert taken.version == 5
    assert cache.take(one) is None  # taken: a failing batch cannot leave it half-changed
    cache.give([SimpleNamespace(id=one, version=1), SimpleNamespace(id=two, version=1)])
    cache.give([SimpleNamespace(id=three, version=1)])
    assert cache.take(one) is None  # the least recently given is dropped beyond the events held
    assert cache.take(three).version == 1
    cache.clear()
    assert cache.take(two) is None


def test_figures_are_null_with_a_note_when_there_are_no_exit_terms():
    collaboration = Collaboration.establish(
        name="A", purpose="p", parties=["west-mercia", "warwickshire"], lead_force="west-mercia", provenance=ON
    )
    after, note = standing_figures(collaboration, "west-mercia", date(2013, 1, 1), None)
    assert after is None
    assert "no exit terms" in note
    collaboration.agree_exit_terms(
        notice_period_months=12, stranded_cost_rate="0.25", stranded_cost_months=6, caps=None, provenance=ON
    )
    after, note = standing_figures(collaboration, "west-mercia", date(2013, 1, 1), None)
    assert note is None
    assert after == {
        "notice_on": "2013-01-01",
        "exit_on": "2014-01-01",
        "heads": {"H1": "0.00", "H4": "0.00", "H5": "0.00", "H7": "0.00"},
        "total": "0.00",
    }


def test_claimed_lines_of_the_case_count_on_the_claimed_heads_only():
    collaboration = Collaboration.establish(
        name="A", purpose="p", parties=["west-mercia", "warwickshire"], lead_force="west-mercia", provenance=ON
    )
    collaboration.agree_exit_terms(
        notice_period_months=12, stranded_cost_rate="0.25", stranded_cost_months=6, caps=None, provenance=ON
    )
    case = ExitCase.open(
        collaboration_id=collaboration.id,
        trigger="withdrawal",
        force="west-mercia",
        parties=["west-mercia", "warwickshire"],
        provenance=ON,
    )
    assert case_figures(case) == {
        "by_head": {},
        "claimed": "0.00",
        "assessed": None,
        "agreed": None,
        "written_off": None,
        "paid": "0.00",
        "outstanding": None,
    }
    case.lodge_claim(
        claimant="warwickshire",
        respondent="west-mercia",
        lines=[
            {"head": "H2", "amount": "100.00", "description": "re-establishing"},
            {"head": "H1", "amount": "5.00", "description": "not a claimed head"},
        ],
        provenance=ON,
    )
    after, _ = standing_figures(collaboration, "west-mercia", date(2013, 1, 1), case)
    assert after["heads"]["H2"] == "100.00"
    assert after["heads"]["H1"] == "0.00"
    assert after["total"] == "100.00"
    assert case_figures(case)["claimed"] == "105.00"
