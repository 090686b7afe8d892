"""Webhook subscriptions resource."""
