"""Every event reads as a plain sentence (``service/event_sentences.py``): each type of the
public catalogue has its own, and on the demo data each names forces by name, money in pounds,
and never falls back to the bare type or leaves a gap."""

from __future__ import annotations

import re

from demo import load_demo
from domain.forces import FORCES
from service.event_catalogue import catalogue
from service.event_sentences import SENTENCES, sentence_of
from service.wording import event_words
from tests.integration import http_support
from tests.integration.http_support import Http

http = http_support.http

FORCE_CODES = re.compile("|".join(rf"(?<![\w-]){re.escape(code)}(?![\w-])" for code in FORCES))


def test_every_catalogued_type_has_a_sentence() -> None:
    assert {entry.type for entry in catalogue().items} <= set(SENTENCES)


def test_every_demo_event_reads_as_a_sentence_with_names_and_pounds(http: Http) -> None:
    load = load_demo(http.app.extensions["records"])
    seen = set()
    for collaboration_id in load.collaborations.values():
        document = http.get(f"/api/v1/collaborations/{collaboration_id}").get_json()
        names = {function["id"]: function["name"] for function in document["functions"]}
        for event in http.history(collaboration_id):
            sentence = sentence_of(event["type"], event["data"], names)
            seen.add(event["type"])
            assert sentence != event_words(event["type"]), (event["type"], sentence)  # never the fallback
            assert not FORCE_CODES.search(sentence), sentence  # forces by name, never by code
            assert "None" not in sentence and "a function" not in sentence, (event["type"], sentence)
            assert not re.search(r"(?<![£\d,.])\d{4,}\.\d{2}\b", sentence), sentence  # money in pounds
    assert len(seen) >= 20


def test_a_type_without_a_sentence_or_with_data_of_another_shape_reads_as_its_words() -> None:
    assert sentence_of("Collaboration.SomethingNew", {"x": 1}) == "Something new"
    assert sentence_of("ExitCase.ClaimLodged", {"lines": [{"no_amount": 1}]}) == "Claim lodged"
    assert sentence_of("Collaboration.WithdrawalNoticeServed", {"force": "kent", "earliest_exit_on": "2020-01-01"}) == (
        "Kent Police served notice to withdraw; the earliest it can leave is 2020-01-01"
    )
