"""The webhooks' pure rules: which URLs and addresses the service sends to, how long it waits
between attempts, when it gives up, and what it signs."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from service.webhooks.delivery import RetryPolicy, owner_id, owner_is_gone
from service.webhooks.sender import Answer, event_body, signed_headers, webhook_id
from service.webhooks.settings import InvalidWebhookSetting, WebhookSettings
from service.webhooks.targets import TargetRefused, check_written_target, internal_reason, parse_target


@pytest.mark.parametrize(
    ("url", "host", "port", "path"),
    [
        ("https://receiver.example.org/hooks?x=1", "receiver.example.org", 443, "/hooks?x=1"),
        ("http://Receiver.Example.org:8080", "receiver.example.org", 8080, "/"),
        ("HTTPS://[2001:db8::1]:8443/a/b", "2001:db8::1", 8443, "/a/b"),
    ],
)
def test_a_target_is_taken_apart(url: str, host: str, port: int, path: str) -> None:
    target = parse_target(url)
    assert (target.host, target.port, target.path) == (host, port, path)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://receiver.example.org/",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "receiver.example.org/hooks",
        "https://",
        "https://user@receiver.example.org/",
        "https://:secret@receiver.example.org/",
        "https://receiver.example.org/#x",
        "https://receiver.example.org:99999/",
        "https://receiver.example.org/a b",
        "https://receiver.example.org/\x00",
        "https://bücher.example/",
        "https://receiver.example.org/" + "a" * 2000,
    ],
)
def test_a_url_the_service_will_not_send_to_is_refused(url: str) -> None:
    with pytest.raises(TargetRefused):
        parse_target(url)


@pytest.mark.parametrize(
    ("address", "internal"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("10.0.0.1", True),
        ("172.16.0.1", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),
        ("fe80::1", True),
        ("fc00::1", True),
        ("100.64.0.1", True),  # shared address space (carrier-grade NAT)
        ("0.0.0.0", True),
        ("224.0.0.1", True),
        ("::ffff:10.0.0.1", True),
        ("8.8.8.8", False),
        ("2001:4860:4860::8888", False),
        ("::ffff:8.8.8.8", False),
    ],
)
def test_only_public_addresses_are_called(address: str, internal: bool) -> None:
    assert (internal_reason(address) is not None) == internal


def test_an_internal_target_written_out_is_refused_when_created_unless_allowed() -> None:
    for url in ("http://localhost/", "http://x.localhost/", "http://127.0.0.1/", "http://[::1]/", "http://10.0.0.9/"):
        with pytest.raises(TargetRefused, match="WEBHOOKS_ALLOW_PRIVATE_TARGETS"):
            check_written_target(parse_target(url), allow_private=False)
        check_written_target(parse_target(url), allow_private=True)
    check_written_target(parse_target("https://receiver.example.org/"), allow_private=False)  # names: at each attempt


def test_the_wait_doubles_up_to_the_maximum_with_a_random_half() -> None:
    policy = RetryPolicy(base_seconds=5, max_seconds=3600, disable_after_attempts=100, disable_after_seconds=259200)
    for attempt, ceiling in [(1, 5), (2, 10), (3, 20), (8, 640), (10, 2560), (11, 3600), (60, 3600), (5000, 3600)]:
        waits = [policy.wait_after(attempt) for _ in range(200)]
        assert all(ceiling / 2 <= wait <= ceiling for wait in waits), (attempt, min(waits), max(waits))
        assert max(waits) - min(waits) > ceiling / 10  # jittered


def test_it_gives_up_after_the_attempts_or_the_window_or_a_410() -> None:
    policy = RetryPolicy(base_seconds=5, max_seconds=3600, disable_after_attempts=10, disable_after_seconds=3600)
    now = datetime(2025, 1, 1, tzinfo=UTC)
    failing = Answer(500, "HTTP 500 Internal Server Error", 12)
    assert policy.gives_up(1, None, now, failing, 7) is None
    assert policy.gives_up(9, "2024-12-31T23:30:00.000000Z", now, failing, 7) is None
    assert policy.gives_up(10, "2024-12-31T23:30:00.000000Z", now, failing, 7) == (
        "10 attempts to deliver the event at position 7 failed; the last: HTTP 500 Internal Server Error"
    )
    since = (now - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert policy.gives_up(3, since, now, Answer(None, "connection refused", 1), 7) == (
        "the event at position 7 has failed for 1:00:00 (3 attempts); the last: connection refused"
    )
    assert "410 Gone" in (policy.gives_up(1, None, now, Answer(410, "HTTP 410 Gone", 3), 7) or "")


def test_the_signature_is_the_standard_one_over_the_body_sent() -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = event_body({"position": 3, "type": "Collaboration.ReviewHeld", "reason": "Agreed à la board £1"})
    assert body == '{"position":3,"reason":"Agreed à la board £1","type":"Collaboration.ReviewHeld"}'.encode()
    moment = datetime.now(UTC)
    headers = signed_headers(secret, webhook_id("3f2a9c4e-5b1d-4e8f-9a7c-2d6b1e0f4a93", 3), body, moment)
    assert headers["webhook-id"] == "msg_3f2a9c4e5b1d4e8f9a7c2d6b1e0f4a93_3"
    assert headers["webhook-timestamp"] == str(int(moment.timestamp()))
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(body, headers)["position"] == 3


def test_a_lease_left_by_a_dead_worker_on_this_host_is_taken_at_once() -> None:
    assert not owner_is_gone(None)
    assert not owner_is_gone(owner_id().replace(socket.gethostname(), "another-host"))
    assert not owner_is_gone(f"{socket.gethostname()}:1:abc")  # init runs
    assert owner_is_gone(f"{socket.gethostname()}:{os.getpid()}:not-a-live-worker")
    assert owner_is_gone(f"{socket.gethostname()}:{2**22 + 12345}:abc")  # no such process


def test_settings_out_of_range_are_refused_by_name() -> None:
    given = {"WEBHOOKS_RETRY_BASE_SECONDS": "soon"}
    with pytest.raises(InvalidWebhookSetting, match="WEBHOOKS_RETRY_BASE_SECONDS"):
        WebhookSettings.from_settings(lambda name, default: given.get(name, default))
    given = {"WEBHOOKS_DISABLE_AFTER_ATTEMPTS": "0"}
    with pytest.raises(InvalidWebhookSetting, match="at least 1"):
        WebhookSettings.from_settings(lambda name, default: given.get(name, default))
    settings = WebhookSettings.from_settings(lambda name, default: {"WEBHOOKS_LEASE_SECONDS": "1"}.get(name, default))
    assert settings.lease_seconds == 30  # at least twice the longest attempt (5 + 10 s)
    assert WebhookSettings.from_settings(lambda name, default: default) == WebhookSettings()


@pytest.mark.parametrize(
    "url",
    [
        "https://a..example.org/",
        "https://" + "a" * 64 + ".example.org/",
        "https://-bad.example.org/",
        "https://receiver.example.org/caf\u00e9",
        "https://receiver.example.org/hooks?name=caf\u00e9",
    ],
)
def test_a_target_no_attempt_could_send_to_is_refused_when_subscribing(url: str) -> None:
    with pytest.raises(TargetRefused):
        parse_target(url)


@pytest.mark.parametrize(
    "address",
    [
        "fec0::1",  # site-local
        "2002:7f00:1::",  # 6to4 wrapping 127.0.0.1
        "2002:a9fe:a9fe::",  # 6to4 wrapping 169.254.169.254
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo wrapping 127.0.0.1 (obfuscated client address)
    ],
)
def test_an_internal_address_inside_an_ipv6_address_is_internal(address: str) -> None:
    assert internal_reason(address) is not None
