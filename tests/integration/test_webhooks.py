"""Webhooks (issue 16, part 2): subscriptions over the API, and the delivery loop against a real
HTTP receiver on loopback that verifies every signature with ``standardwebhooks``.

The loop runs in a thread of the test (``delivering``), as ``flask projections run`` runs it in
the worker; the worker process itself, killed mid-delivery, is in
tests/e2e/test_webhook_worker_crash.py. Retries are given tiny waits here (the env below)."""

from __future__ import annotations

import base64
import dataclasses
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest

from service.webhooks.delivery import WebhookDelivery
from service.webhooks.subscriptions import WebhookSubscriptions
from tests.integration import http_support, webhook_receiver
from tests.integration.http_support import WHEN, Http, assert_problem, identify_benefit
from tests.integration.webhook_receiver import Delivery, Receiver

http = http_support.http
http_any = http_support.http_any

BASE = "/api/v1/webhooks/subscriptions"
QUICK = {
    "WEBHOOKS_ALLOW_PRIVATE_TARGETS": "1",  # the receiver is on loopback
    "WEBHOOKS_RETRY_BASE_SECONDS": "0.05",
    "WEBHOOKS_RETRY_MAX_SECONDS": "0.2",
    "WEBHOOKS_CONNECT_TIMEOUT_SECONDS": "1",
    "WEBHOOKS_READ_TIMEOUT_SECONDS": "2",
}

receiver = webhook_receiver.receiver  # the loopback receiver fixture


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in QUICK.items():
        monkeypatch.setenv(name, value)


# ------------------------------------------------------------------------------ helpers
def subscribe(http: Http, receiver: Receiver, name: str, **body: Any) -> dict[str, Any]:
    response = http.post(BASE, {"url": receiver.url(name), **body})
    assert response.status_code == 201, response.get_json()
    document = response.get_json()
    receiver.secret_for(name, document["secret"])
    return document


def subscription(http: Http, subscription_id: str) -> dict[str, Any]:
    response = http.get(f"{BASE}/{subscription_id}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def deliveries(http: Http, subscription_id: str) -> list[dict[str, Any]]:
    """The whole delivery log, oldest first."""
    items: list[dict[str, Any]] = []
    query = "limit=1000"
    while True:
        page = http.get(f"{BASE}/{subscription_id}/deliveries?{query}").get_json()
        items += page["items"]
        if page["next_before"] is None:
            return list(reversed(items))
        query = f"limit=1000&before={page['next_before']}"


def review(http: Http, collaboration_id: str, outcome: str = "Continue as agreed") -> None:
    response = http.post(f"/api/v1/collaborations/{collaboration_id}/reviews", {**WHEN, "outcome": outcome})
    assert response.status_code == 201, response.get_json()


def feed_after(http: Http, after: int) -> list[dict[str, Any]]:
    response = http.get(f"/api/v1/events?after={after}&limit=1000")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def until(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def message_id(subscription: dict[str, Any], position: int) -> str:
    return f"msg_{subscription['id'].replace('-', '')}_{position}"


@contextmanager
def delivering(http: Http, **settings: Any) -> Iterator[WebhookDelivery]:
    """The delivery loop in a thread, as the worker runs it, with ``settings`` changed."""
    installed: WebhookSubscriptions = http.app.extensions["webhooks"]
    changed = WebhookSubscriptions(
        installed.store, installed.records, dataclasses.replace(installed.settings, **settings)
    )
    delivery = WebhookDelivery(changed, http.app.extensions["queries"].feed)
    stop = threading.Event()
    thread = threading.Thread(target=delivery.follow, args=(stop, 0.02), daemon=True)
    thread.start()
    try:
        yield delivery
    finally:
        stop.set()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the delivery loop did not stop"


def answering(statuses: list[int], then: int = 204, path: str | None = None) -> Callable[[str, Delivery], int]:
    """A receiver's decision: the ``statuses`` in turn (to ``path``'s deliveries, or all), then ``then``."""
    pending = list(statuses)
    lock = threading.Lock()

    def decide(at: str, delivery: Delivery) -> int:
        if path is not None and at != f"/hooks/{path}":
            return then
        with lock:
            return pending.pop(0) if pending else then

    return decide


# ============================================================================ the API
def test_a_subscription_is_created_with_a_secret_shown_once(http: Http, receiver: Receiver) -> None:
    head = http.log_size()
    response = http.post(
        BASE,
        {
            "url": receiver.url("a"),
            "event_types": ["Collaboration.ReviewHeld", "ExitCase.SettlementAgreed"],
            "force": "dorset",
            "description": "Dorset finance",
        },
    )
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    secret = created["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
    assert response.headers["Location"] == f"{BASE}/{created['id']}" == created["links"]["self"]
    assert created["status"] == "active" and created["disabled_reason"] is None
    assert created["position"] == head  # by default, only what is recorded from now on
    assert created["filter"] == {
        "event_types": ["Collaboration.ReviewHeld", "ExitCase.SettlementAgreed"],
        "collaboration_id": None,
        "force": "dorset",
    }
    assert created["created_by"].startswith("Test admin (admin, token ")
    assert (created["delivered"], created["failed_attempts"], created["failing"]["attempts"]) == (0, 0, 0)

    read = subscription(http, created["id"])
    listed = http.get(BASE).get_json()
    assert read == {key: value for key, value in created.items() if key != "secret"}
    assert listed == {"items": [read], "next_after": None}
    for answer in (read, listed, http.get(f"{BASE}/{created['id']}/deliveries").get_json()):
        assert secret not in json.dumps(answer)


def test_subscriptions_are_listed_in_pages(http: Http, receiver: Receiver) -> None:
    made = [subscribe(http, receiver, f"s{n}")["id"] for n in range(5)]
    first = http.get(f"{BASE}?limit=2")
    assert [item["id"] for item in first.get_json()["items"]] == made[:2]
    after = first.get_json()["next_after"]
    assert first.headers["Link"] == f'<{BASE}?limit=2&after={after}>; rel="next"'
    rest = http.get(f"{BASE}?limit=2&after={after}").get_json()
    last = http.get(f"{BASE}?limit=2&after={rest['next_after']}").get_json()
    assert [item["id"] for item in rest["items"] + last["items"]] == made[2:]
    assert last["next_after"] is None


@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        ({"url": "ftp://receiver.example.org/hooks"}, "url", "webhook-target-refused"),
        ({"url": "/hooks/relative"}, "url", "webhook-target-refused"),
        ({"url": "https://user:password@receiver.example.org/"}, "url", "webhook-target-refused"),
        ({"url": "https://receiver.example.org/#part"}, "url", "webhook-target-refused"),
        ({"url": "https:///no-host"}, "url", "webhook-target-refused"),
        ({"url": ""}, "url", "validation-failed"),
        ({}, "url", "validation-failed"),
        ({"url": "https://r.example.org/", "event_types": ["Collaboration.Nonsense"]}, "event_types.0", None),
        ({"url": "https://r.example.org/", "event_types": "Collaboration.ReviewHeld"}, "event_types", None),
        ({"url": "https://r.example.org/", "force": "gotham"}, "force", None),
        ({"url": "https://r.example.org/", "collaboration_id": "not-a-uuid"}, "collaboration_id", None),
        (
            {"url": "https://r.example.org/", "collaboration_id": "3f2a9c4e-5b1d-4e8f-9a7c-2d6b1e0f4a93"},
            "collaboration_id",
            "collaboration-not-found",
        ),
        ({"url": "https://r.example.org/", "start_after": 10**6}, "start_after", "position-beyond-the-log"),
        ({"url": "https://r.example.org/", "start_after": -1}, "start_after", None),
        ({"url": "https://r.example.org/", "secret": "whsec_mine"}, "secret", None),
    ],
)
def test_a_subscription_that_cannot_be_is_refused_and_nothing_is_recorded(
    http: Http, body: dict[str, Any], field: str, problem: str | None
) -> None:
    problem_body = assert_problem(http.post(BASE, body), 422, problem)
    assert field in problem_body["errors"], problem_body
    assert http.get(BASE).get_json()["items"] == []


def test_the_collaboration_filter_names_a_collaboration_not_a_benefit(http: Http, receiver: Receiver) -> None:
    collaboration = http.establish()
    benefit_id = identify_benefit(http, collaboration["id"])
    body = assert_problem(
        http.post(BASE, {"url": receiver.url("a"), "collaboration_id": benefit_id}), 422, "collaboration-not-found"
    )
    assert body["errors"] == {"collaboration_id": [f"no collaboration {benefit_id}"]}
    made = subscribe(http, receiver, "a", collaboration_id=collaboration["id"])
    assert made["filter"]["collaboration_id"] == collaboration["id"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hooks",
        "http://localhost/hooks",
        "http://api.localhost/hooks",
        "http://[::1]/hooks",
        "http://10.1.2.3/hooks",
        "http://192.168.0.10/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:127.0.0.1]/hooks",
        "http://0.0.0.0/hooks",
    ],
)
def test_an_internal_target_is_refused_unless_allowed(http: Http, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    subscriptions: WebhookSubscriptions = http.app.extensions["webhooks"]
    monkeypatch.setattr(
        subscriptions, "settings", dataclasses.replace(subscriptions.settings, allow_private_targets=False)
    )
    body = assert_problem(http.post(BASE, {"url": url}), 422, "webhook-target-refused")
    assert "WEBHOOKS_ALLOW_PRIVATE_TARGETS" in body["detail"], body
    assert http.get(BASE).get_json()["items"] == []
    monkeypatch.setattr(
        subscriptions, "settings", dataclasses.replace(subscriptions.settings, allow_private_targets=True)
    )
    assert http.post(BASE, {"url": url}).status_code == 201


def test_only_administrators_manage_subscriptions(http: Http, receiver: Receiver) -> None:
    made = subscribe(http, receiver, "a")
    one = f"{BASE}/{made['id']}"
    for token in (http.token("force", "dorset"), http.token("auditor")):
        for response in (
            http.get(BASE, token),
            http.get(one, token),
            http.get(f"{one}/deliveries", token),
            http.post(BASE, {"url": receiver.url("b")}, token),
            http.post(f"{one}/pause", {}, token),
            http.post(f"{one}/replay", {"after": 0}, token),
            http.client.delete(one, headers=http.headers(token)),
        ):
            assert_problem(response, 403)
    for response in (http.get(BASE, None), http.get(one, None), http.post(BASE, {"url": receiver.url("b")}, None)):
        assert_problem(response, 401, "unauthenticated")
    assert [item["id"] for item in http.get(BASE).get_json()["items"]] == [made["id"]]
    assert subscription(http, made["id"])["status"] == "active"


def test_an_unknown_subscription_is_404(http: Http) -> None:
    one = f"{BASE}/3f2a9c4e-5b1d-4e8f-9a7c-2d6b1e0f4a93"
    for response in (
        http.get(one),
        http.get(f"{one}/deliveries"),
        http.post(f"{one}/pause", {}),
        http.post(f"{one}/resume", {}),
        http.post(f"{one}/replay", {"after": 0}),
        http.post(f"{one}/secret", {}),
        http.client.delete(one, headers=http.headers()),
    ):
        assert_problem(response, 404, "webhook-subscription-not-found")


def test_pause_resume_and_replay_change_only_what_they_say(http: Http, receiver: Receiver) -> None:
    made = subscribe(http, receiver, "a")
    one = f"{BASE}/{made['id']}"
    paused = http.post(f"{one}/pause", {})
    assert paused.status_code == 200 and paused.get_json()["status"] == "paused"
    assert http.post(f"{one}/resume", {}).get_json()["status"] == "active"
    http.establish()
    replayed = http.post(f"{one}/replay", {"after": 0}).get_json()
    assert (replayed["position"], replayed["status"]) == (0, "active")
    assert_problem(http.post(f"{one}/replay", {"after": http.log_size() + 1}), 422, "position-beyond-the-log")
    assert_problem(http.post(f"{one}/replay", {}), 422)
    assert_problem(http.post(f"{one}/pause", {"now": True}), 422)
    assert_problem(http.client.post(f"{one}/pause", headers=http.headers()), 415)
    assert subscription(http, made["id"])["position"] == 0


def test_a_deleted_subscription_is_gone_with_its_log(http: Http, receiver: Receiver) -> None:
    made = subscribe(http, receiver, "a")
    response = http.client.delete(f"{BASE}/{made['id']}", headers=http.headers())
    assert response.status_code == 204 and response.data == b""
    assert_problem(http.get(f"{BASE}/{made['id']}"), 404)
    assert http.get(BASE).get_json()["items"] == []


def test_the_cli_lists_and_shows_subscriptions_without_their_secrets(http: Http, receiver: Receiver) -> None:
    made = subscribe(http, receiver, "a", description="BI dashboard")
    runner = http.app.test_cli_runner()
    listed = runner.invoke(args=["webhooks", "list"])
    shown = runner.invoke(args=["webhooks", "show", made["id"]])
    assert listed.exit_code == 0 and made["id"] in listed.output and receiver.url("a") in listed.output
    assert shown.exit_code == 0 and "BI dashboard" in shown.output and "(active)" in shown.output
    assert made["secret"] not in listed.output + shown.output
    missing = runner.invoke(args=["webhooks", "show", "nothing"])
    assert missing.exit_code != 0 and "no webhook subscription" in missing.output


# ====================================================================== the delivery loop
def test_events_are_delivered_in_log_order_signed_and_as_the_feed_shows_them(
    http_any: Http, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    http = http_any
    http.establish()  # before the subscription: not delivered
    made = subscribe(http, receiver, "all")
    caplog.set_level(logging.DEBUG)
    with delivering(http):
        collaboration = http.establish()
        function_id = http.add_function(collaboration["id"])
        for number in range(4):
            review(http, collaboration["id"], f"Review {number}")
        response = http.post(
            f"/api/v1/collaborations/{collaboration['id']}/functions/{function_id}/budgets",
            {**WHEN, "financial_year": "2019/20", "annual_budget": "2.00"},
        )
        assert response.status_code == 201
        feed = feed_after(http, made["position"])
        assert len(feed) == 7
        assert receiver.wait_for(lambda: len(receiver.received("all")) >= len(feed))
        assert until(lambda: subscription(http, made["id"])["position"] == feed[-1]["position"])
    got = receiver.received("all")
    assert [delivery.item for delivery in got] == feed  # in order, once each, exactly the feed's items
    assert all(delivery.verified for delivery in got)
    assert [delivery.webhook_id for delivery in got] == [message_id(made, item["position"]) for item in feed]
    assert all(abs(int(delivery.timestamp) - time.time()) < 60 for delivery in got)
    document = subscription(http, made["id"])
    assert (document["delivered"], document["failed_attempts"], document["failing"]["attempts"]) == (7, 0, 0)
    log = deliveries(http, made["id"])
    assert [(row["position"], row["attempt"], row["outcome"], row["status"]) for row in log] == [
        (item["position"], 1, "delivered", 204) for item in feed
    ]
    assert all(row["latency_ms"] >= 0 and row["next_attempt_at"] is None for row in log)
    assert made["secret"] not in caplog.text


def test_subscriptions_get_only_the_events_their_filters_match(http_any: Http, receiver: Receiver) -> None:
    http = http_any
    alliance = http.establish()  # west-mercia and warwickshire
    reviews = subscribe(http, receiver, "reviews", event_types=["Collaboration.ReviewHeld"], start_after=0)
    one = subscribe(http, receiver, "one", collaboration_id=alliance["id"])
    dorset = subscribe(http, receiver, "dorset", force="dorset")
    dorset_reviews = subscribe(
        http, receiver, "dorset-reviews", force="dorset", event_types=["Collaboration.ReviewHeld"]
    )
    with delivering(http):
        south_west = http.establish(
            name="South West", parties=["dorset", "devon-cornwall"], lead_force="dorset", governance_body=None
        )
        review(http, alliance["id"])
        review(http, south_west["id"])
        http.add_function(alliance["id"])
        http.add_function(south_west["id"], host_force="dorset")
        review(http, alliance["id"], "Again")
        feed = feed_after(http, 0)
        expected = {
            "reviews": [i["position"] for i in feed if i["type"] == "Collaboration.ReviewHeld"],
            "one": [i["position"] for i in feed if i["stream_id"] == alliance["id"] and i["position"] > 1],
            "dorset": [i["position"] for i in feed if i["stream_id"] == south_west["id"]],
            "dorset-reviews": [
                i["position"]
                for i in feed
                if i["stream_id"] == south_west["id"] and i["type"] == "Collaboration.ReviewHeld"
            ],
        }
        assert [len(positions) for positions in expected.values()] == [3, 3, 3, 1]
        for name, positions in expected.items():
            assert receiver.wait_for(lambda n=name, p=positions: len(receiver.received(n)) >= len(p)), name
        for made in (reviews, one, dorset, dorset_reviews):  # each moves past what it does not want
            assert until(lambda m=made: subscription(http, m["id"])["position"] == feed[-1]["position"])
    for name, positions in expected.items():
        assert receiver.positions(name) == positions, name
        assert all(delivery.verified for delivery in receiver.received(name))
    # Skipping an event it does not want records no attempt.
    assert len(deliveries(http, dorset_reviews["id"])) == 1


def test_a_receiver_down_for_a_while_gets_everything_in_order_after_retries(http_any: Http, receiver: Receiver) -> None:
    http = http_any
    made = subscribe(http, receiver, "a")
    receiver.stop()  # connections refused
    with delivering(http):
        collaboration = http.establish()
        for number in range(3):
            review(http, collaboration["id"], f"Review {number}")
        assert until(lambda: subscription(http, made["id"])["failed_attempts"] >= 3)
        document = subscription(http, made["id"])
        assert document["position"] == made["position"] and document["status"] == "active"
        assert document["failing"]["attempts"] >= 3 and document["failing"]["since"] is not None
        receiver.decide = answering([500, 503, 500])  # up, but failing three more times
        receiver.start()
        feed = feed_after(http, made["position"])
        assert receiver.wait_for(lambda: len(receiver.received("a")) == len(feed))
        assert until(lambda: subscription(http, made["id"])["position"] == feed[-1]["position"])
    assert receiver.positions("a") == [item["position"] for item in feed]
    first = feed[0]["position"]
    refused = [d for d in receiver.received("a", succeeded_only=False) if d.status != 204]
    assert [(d.position, d.status) for d in refused] == [(first, 500), (first, 503), (first, 500)]
    assert {d.webhook_id for d in receiver.received("a", succeeded_only=False) if d.position == first} == {
        message_id(made, first)
    }
    log = deliveries(http, made["id"])
    attempts = [row for row in log if row["position"] == first]
    assert [row["attempt"] for row in attempts] == list(range(1, len(attempts) + 1))
    assert attempts[-1]["outcome"] == "delivered" and attempts[-1]["status"] == 204
    failed = attempts[:-1]
    assert all(row["outcome"] == "retrying" for row in failed)
    assert [row["status"] for row in failed[-3:]] == [500, 503, 500]
    assert all(row["status"] is None and row["error"] == "connection refused" for row in failed[:-3])
    for row in failed:  # waits of base·2^(n-1), at most the maximum, of which a random half
        ceiling = min(0.2, 0.05 * 2 ** (row["attempt"] - 1))
        wait = (stamp(row["next_attempt_at"]) - stamp(row["attempted_at"])).total_seconds()
        assert ceiling / 2 - 0.001 <= wait <= ceiling + 0.001, (row, wait)
    for earlier, later in itertools.pairwise(attempts):  # never before it was due
        assert stamp(later["attempted_at"]) >= stamp(earlier["next_attempt_at"])
    assert subscription(http, made["id"])["failing"] == {"attempts": 0, "since": None, "next_attempt_at": None}


def stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_persistent_failure_disables_the_subscription_with_its_reason_until_resumed(
    http_any: Http, receiver: Receiver
) -> None:
    http = http_any
    made = subscribe(http, receiver, "a")
    receiver.decide = lambda path, delivery: 500
    with delivering(http, disable_after_attempts=3):
        collaboration = http.establish()
        review(http, collaboration["id"])
        assert until(lambda: subscription(http, made["id"])["status"] == "disabled")
        time.sleep(0.3)  # and it stays so: nothing more is attempted
        document = subscription(http, made["id"])
        first = collaboration_position(http, made)
        assert document["disabled_reason"].startswith(
            f"3 attempts to deliver the event at position {first} failed; the last: HTTP 500"
        )
        assert (document["position"], document["failed_attempts"], document["delivered"]) == (made["position"], 3, 0)
        assert document["failing"]["next_attempt_at"] is None and document["failing"]["attempts"] == 3
        log = deliveries(http, made["id"])
        assert [(row["attempt"], row["outcome"]) for row in log] == [(1, "retrying"), (2, "retrying"), (3, "gave_up")]
        assert log[-1]["next_attempt_at"] is None
        assert len(receiver.received("a", succeeded_only=False)) == 3

        receiver.decide = lambda path, delivery: 204
        resumed = http.post(f"{BASE}/{made['id']}/resume", {}).get_json()
        assert (resumed["status"], resumed["disabled_reason"], resumed["failing"]["attempts"]) == ("active", None, 0)
        feed = feed_after(http, made["position"])
        assert receiver.wait_for(lambda: len(receiver.received("a")) == len(feed))
    assert receiver.positions("a") == [item["position"] for item in feed]


def collaboration_position(http: Http, made: dict[str, Any]) -> int:
    return feed_after(http, made["position"])[0]["position"]


def test_failing_for_longer_than_the_window_or_a_410_disables_it(http: Http, receiver: Receiver) -> None:
    window = subscribe(http, receiver, "window")
    gone = subscribe(http, receiver, "gone")
    receiver.decide = lambda path, delivery: 410 if path == "/hooks/gone" else 502
    with delivering(http, disable_after_seconds=0.4):
        http.establish()
        assert until(lambda: subscription(http, gone["id"])["status"] == "disabled")
        assert until(lambda: subscription(http, window["id"])["status"] == "disabled")
    assert "410 Gone" in subscription(http, gone["id"])["disabled_reason"]
    assert len(deliveries(http, gone["id"])) == 1
    reason = subscription(http, window["id"])["disabled_reason"]
    assert "has failed for" in reason and "HTTP 502" in reason, reason
    assert len(deliveries(http, window["id"])) > 1


def test_pause_stops_deliveries_and_resume_goes_on_from_where_it_stopped(http_any: Http, receiver: Receiver) -> None:
    http = http_any
    made = subscribe(http, receiver, "a")
    with delivering(http):
        collaboration = http.establish()
        assert receiver.wait_for(lambda: len(receiver.received("a")) == 1)
        assert until(lambda: subscription(http, made["id"])["delivered"] == 1)
        assert http.post(f"{BASE}/{made['id']}/pause", {}).get_json()["status"] == "paused"
        review(http, collaboration["id"], "While paused")
        review(http, collaboration["id"], "Still paused")
        time.sleep(0.5)
        assert len(receiver.received("a")) == 1
        assert subscription(http, made["id"])["position"] == receiver.positions("a")[0]
        assert http.post(f"{BASE}/{made['id']}/resume", {}).get_json()["status"] == "active"
        feed = feed_after(http, made["position"])
        assert receiver.wait_for(lambda: len(receiver.received("a")) == 3)
    assert receiver.positions("a") == [item["position"] for item in feed]


def test_replay_delivers_again_from_a_position_with_the_same_webhook_ids(http_any: Http, receiver: Receiver) -> None:
    http = http_any
    made = subscribe(http, receiver, "a")
    with delivering(http):
        collaboration = http.establish()
        review(http, collaboration["id"])
        review(http, collaboration["id"])
        feed = feed_after(http, made["position"])
        assert receiver.wait_for(lambda: len(receiver.received("a")) == 3)
        assert until(lambda: subscription(http, made["id"])["position"] == feed[-1]["position"])
        replayed = http.post(f"{BASE}/{made['id']}/replay", {"after": feed[0]["position"]})
        assert replayed.status_code == 200 and replayed.get_json()["position"] == feed[0]["position"]
        assert receiver.wait_for(lambda: len(receiver.received("a")) == 5)
    got = receiver.received("a")
    positions = [item["position"] for item in feed]
    assert [d.position for d in got] == positions + positions[1:]
    assert [d.webhook_id for d in got[3:]] == [d.webhook_id for d in got[1:3]]
    assert [d.item for d in got[3:]] == feed[1:]


def test_a_new_secret_signs_every_later_delivery(http: Http, receiver: Receiver) -> None:
    made = subscribe(http, receiver, "a")
    rotated = http.post(f"{BASE}/{made['id']}/secret", {})
    assert rotated.status_code == 200
    secret = rotated.get_json()["secret"]
    assert secret.startswith("whsec_") and secret != made["secret"]
    assert secret not in json.dumps(subscription(http, made["id"]))
    receiver.secret_for("a", secret)
    with delivering(http):
        http.establish()
        assert receiver.wait_for(lambda: len(receiver.received("a")) == 1)
    assert receiver.received("a")[0].verified


def test_a_slow_receiver_holds_up_only_its_own_subscription(http: Http, receiver: Receiver) -> None:
    slow = subscribe(http, receiver, "slow")
    subscribe(http, receiver, "fast")

    def decide(path: str, delivery: Delivery) -> int:
        if path == "/hooks/slow":
            time.sleep(1.5)
        return 204

    receiver.decide = decide
    with delivering(http):
        collaboration = http.establish()
        for number in range(4):
            review(http, collaboration["id"], f"Review {number}")
        began = time.monotonic()
        assert receiver.wait_for(lambda: len(receiver.received("fast")) == 5, timeout=5)
        assert time.monotonic() - began < 1.5
        assert len(receiver.received("slow")) <= 1
    assert subscription(http, slow["id"])["delivered"] <= 2


def test_an_attempt_is_bounded_in_time_and_redirects_are_not_followed(http: Http, receiver: Receiver) -> None:
    hang = subscribe(http, receiver, "hang")
    moved = subscribe(http, receiver, "moved")
    calls = {"hang": 0}

    def decide(path: str, delivery: Delivery) -> int:
        if path == "/hooks/moved":
            return 302
        calls["hang"] += 1
        if calls["hang"] == 1:
            time.sleep(3)  # the first attempt gets no answer in time
        return 204

    receiver.decide = decide
    with delivering(http, read_timeout=0.5):
        http.establish()
        assert until(lambda: subscription(http, hang["id"])["delivered"] == 1)
        assert until(lambda: subscription(http, moved["id"])["failed_attempts"] >= 1)
    first = deliveries(http, hang["id"])[0]
    assert (first["status"], first["outcome"]) == (None, "retrying")
    assert first["error"].startswith("no ") and "0.5 s" in first["error"], first
    assert first["latency_ms"] < 1500
    redirected = deliveries(http, moved["id"])[0]
    assert redirected["status"] == 302 and "redirect" in redirected["error"] and "not followed" in redirected["error"]


def test_a_target_that_resolves_to_an_internal_address_is_not_called_unless_allowed(
    http: Http, receiver: Receiver
) -> None:
    made = subscribe(http, receiver, "a")  # allowed when created
    with delivering(http, allow_private_targets=False):
        http.establish()
        assert until(lambda: subscription(http, made["id"])["failed_attempts"] >= 1)
    row = deliveries(http, made["id"])[0]
    assert row["status"] is None and row["error"].startswith("refused: 127.0.0.1 resolves to 127.0.0.1, a loopback")
    assert receiver.received("a", succeeded_only=False) == []


def test_a_deleted_subscription_is_delivered_no_more(http: Http, receiver: Receiver) -> None:
    made = subscribe(http, receiver, "a")
    with delivering(http):
        collaboration = http.establish()
        assert receiver.wait_for(lambda: len(receiver.received("a")) == 1)
        assert http.client.delete(f"{BASE}/{made['id']}", headers=http.headers()).status_code == 204
        review(http, collaboration["id"])
        time.sleep(0.5)
    assert len(receiver.received("a", succeeded_only=False)) == 1


def test_the_delivery_log_is_read_newest_first_in_pages(http: Http, receiver: Receiver) -> None:
    made = subscribe(http, receiver, "a")
    with delivering(http):
        collaboration = http.establish()
        for number in range(4):
            review(http, collaboration["id"], f"Review {number}")
        assert until(lambda: subscription(http, made["id"])["delivered"] == 5)
    first = http.get(f"{BASE}/{made['id']}/deliveries?limit=2")
    page = first.get_json()
    assert [row["id"] for row in page["items"]] == sorted((row["id"] for row in page["items"]), reverse=True)
    before = page["next_before"]
    assert first.headers["Link"] == f'<{BASE}/{made["id"]}/deliveries?limit=2&before={before}>; rel="next"'
    rest = http.get(f"{BASE}/{made['id']}/deliveries?limit=10&before={before}").get_json()
    assert rest["next_before"] is None and len(rest["items"]) == 3
    assert [row["position"] for row in reversed(page["items"] + rest["items"])] == receiver.positions("a")
    assert_problem(http.get(f"{BASE}/{made['id']}/deliveries?before=0"), 422)
    assert_problem(http.get(f"{BASE}/{made['id']}/deliveries?after=3"), 422)
