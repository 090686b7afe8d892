"""Errors of the application service (as opposed to the domain's rule errors)."""

from domain.errors import DomainError


class CollaborationNotFound(DomainError):
    """No collaboration has that id."""


class VersionMismatch(DomainError):
    """If-Match named a version that is no longer current."""


class ConcurrentUpdate(DomainError):
    """Another write kept winning the race for this aggregate; nothing was recorded."""


class NotPermitted(DomainError):
    """The caller's role or force may not make this change."""


class IdempotencyKeyReused(DomainError):
    """An Idempotency-Key was sent again with a different request."""


class ExitDateRequired(DomainError):
    """With no live notice to take it from, a quote needs the exit date."""
