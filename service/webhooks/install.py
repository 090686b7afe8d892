"""How the app factory gives a process its webhooks: the subscriptions (the API's and the CLI's),
the delivery loop the worker follows, and ``flask webhooks``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask

from service.webhooks.cli import webhooks_cli
from service.webhooks.delivery import WebhookDelivery
from service.webhooks.settings import WebhookSettings
from service.webhooks.store import WebhookStore
from service.webhooks.subscriptions import WebhookSubscriptions


def install_webhooks(
    app: Flask,
    env: Mapping[str, str],
    records: Any,
    *,
    setting: Callable[[str, str], str],
    feed: Callable[..., list[dict[str, Any]]],
) -> WebhookSubscriptions:
    """Opens (and creates, the first time) the webhooks' storage beside the store; puts the
    subscriptions in ``app.extensions["webhooks"]`` and the delivery loop among the followers
    ``flask projections run`` runs (``app.extensions["log_followers"]``). Nothing is delivered by
    the web workers: only a process that follows (the Procfile's worker) starts the loop."""
    settings = WebhookSettings.from_settings(setting)
    store = WebhookStore.for_application(env, records)
    subscriptions = WebhookSubscriptions(store, records, settings)
    app.extensions["webhooks"] = subscriptions
    app.extensions.setdefault("log_followers", {})[WebhookDelivery.name] = WebhookDelivery(subscriptions, feed)
    app.cli.add_command(webhooks_cli)
    return subscriptions
