"""Webhooks: the events of the global log delivered to other tools' HTTP endpoints, signed as the
Standard Webhooks specification says (docs/webhooks.md).

- ``subscriptions.py``: what an administrator may do with a subscription (create, list, read,
  pause, resume, replay, rotate its secret, delete, read its delivery log); the API's routes
  (``service/resources/webhooks``) and the CLI (``cli.py``) call it;
- ``store.py``: where subscriptions, their delivery positions and their delivery log are kept: the
  service's own storage, never the event log (which is public through the feed and must never
  hold a secret);
- ``targets.py``: which URLs a subscription may name, and which addresses the service will call;
- ``sender.py``: one signed POST, with bounded time and a bounded read of the answer;
- ``delivery.py``: the delivery loop the Procfile's worker runs (``flask projections run``), one
  thread per subscription, with retries, backoff and disabling after persistent failure.

Webhooks are not domain: nothing here is an event, and the domain knows nothing of them.
"""
