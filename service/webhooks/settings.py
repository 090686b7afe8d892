"""The webhooks' settings, read once per process from the app's config or the environment
(README, Configuration; docs/webhooks.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from service.webhooks.sender import SenderSettings

# name: (default, what it is), as the README's configuration table lists them.
SETTINGS = {
    "WEBHOOKS_RETRY_BASE_SECONDS": ("5", "the wait before the second attempt at an event; it doubles each time"),
    "WEBHOOKS_RETRY_MAX_SECONDS": ("3600", "the longest wait between two attempts"),
    "WEBHOOKS_DISABLE_AFTER_ATTEMPTS": ("100", "failed attempts at one event after which the subscription is disabled"),
    "WEBHOOKS_DISABLE_AFTER_SECONDS": ("259200", "seconds of failing at one event after which it is disabled (3 days)"),
    "WEBHOOKS_CONNECT_TIMEOUT_SECONDS": ("5", "seconds to resolve the target's name and connect"),
    "WEBHOOKS_READ_TIMEOUT_SECONDS": ("10", "seconds to send the event and read the answer"),
    "WEBHOOKS_LEASE_SECONDS": ("60", "how long a worker's claim on a subscription lasts unless renewed"),
    "WEBHOOKS_DELIVERY_LOG_DAYS": ("30", "days the delivery log keeps each attempt"),
    "WEBHOOKS_ALLOW_PRIVATE_TARGETS": ("0", "1 allows targets on loopback, private and link-local addresses"),
}


class InvalidWebhookSetting(ValueError):
    """A webhooks setting is not a number in its range."""


@dataclass(frozen=True)
class WebhookSettings:
    retry_base_seconds: float = 5.0
    retry_max_seconds: float = 3600.0
    disable_after_attempts: int = 100
    disable_after_seconds: float = 259200.0
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    lease_seconds: float = 60.0
    delivery_log_days: float = 30.0
    allow_private_targets: bool = False

    def __post_init__(self) -> None:
        if self.lease_seconds < 2 * self.sender.attempt_bound:
            # A lease must outlast an attempt with room to spare: a worker renews it before each
            # attempt, and another worker may take it once it has expired.
            object.__setattr__(self, "lease_seconds", 2 * self.sender.attempt_bound)

    @property
    def sender(self) -> SenderSettings:
        return SenderSettings(self.connect_timeout, self.read_timeout, self.allow_private_targets)

    @classmethod
    def from_settings(cls, setting: Callable[[str, str], str]) -> WebhookSettings:
        """From ``setting(name, default)`` (the app's config, else the environment, else the default)."""

        def number(name: str, minimum: float) -> float:
            text = setting(name, SETTINGS[name][0])
            try:
                value = float(text)
            except ValueError:
                raise InvalidWebhookSetting(f"{name} must be a number, not {text!r}") from None
            if not value >= minimum or value == float("inf"):
                raise InvalidWebhookSetting(f"{name} must be at least {minimum:g}, not {text!r}")
            return value

        allow = setting("WEBHOOKS_ALLOW_PRIVATE_TARGETS", "0").strip().lower()
        return cls(
            retry_base_seconds=number("WEBHOOKS_RETRY_BASE_SECONDS", 0.001),
            retry_max_seconds=number("WEBHOOKS_RETRY_MAX_SECONDS", 0.001),
            disable_after_attempts=int(number("WEBHOOKS_DISABLE_AFTER_ATTEMPTS", 1)),
            disable_after_seconds=number("WEBHOOKS_DISABLE_AFTER_SECONDS", 0),
            connect_timeout=number("WEBHOOKS_CONNECT_TIMEOUT_SECONDS", 0.01),
            read_timeout=number("WEBHOOKS_READ_TIMEOUT_SECONDS", 0.01),
            lease_seconds=number("WEBHOOKS_LEASE_SECONDS", 1),
            delivery_log_days=number("WEBHOOKS_DELIVERY_LOG_DAYS", 0.001),
            allow_private_targets=allow in ("1", "true", "yes", "on"),
        )
