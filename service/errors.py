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


class ExitCaseNotFound(DomainError):
    """No exit case has that id."""


class ExitCaseExists(DomainError):
    """There is one exit case per withdrawal (collaboration and force) and per decoupling
    (collaboration and function); it already exists."""


class BenefitReferenceTaken(DomainError):
    """A register reference names one benefit of a collaboration; it already names another."""


class NotYetInEffect(DomainError):
    """Asked for the state on a date before the thing existed, or at a time before it was recorded."""


class BenefitNotFound(DomainError):
    """No benefit has that id."""


class WebhookSubscriptionNotFound(DomainError):
    """No webhook subscription has that id."""


class WebhookTargetRefused(DomainError):
    """A webhook's target is an http or https URL of a receiver the service may call."""


class UnknownEventType(DomainError):
    """Event types are those the feed publishes, e.g. Collaboration.WithdrawalNoticeServed."""


class PositionBeyondTheLog(DomainError):
    """A position to deliver after is one the log has reached."""
