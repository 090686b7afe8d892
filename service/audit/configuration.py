"""Where the audit commands and endpoints find the audit trail of this process's record store,
and the signing key.

The key is looked up each time it is needed, never at import or start-up: from the Flask
config if it names one (``AUDIT_SIGNING_KEY_FILE`` or ``AUDIT_SIGNING_KEY``), else from the
environment. It is never written to the database.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import current_app

from service.audit.checkpoints import (
    KEY_FILE_VARIABLE,
    KEY_VARIABLE,
    SigningKeyMissing,
    load_signing_key,
    public_key_text,
)
from service.audit.trail import AuditTrail
from service.audit.witnesses import WitnessRegistry


def audit_trail() -> AuditTrail:
    return AuditTrail(current_app.extensions["records"].side_tables)


def key_environment() -> dict[str, str]:
    """The variables that name the signing key: the app's config wins over the environment."""
    configured = {
        name: str(current_app.config[name])
        for name in (KEY_FILE_VARIABLE, KEY_VARIABLE)
        if current_app.config.get(name)
    }
    if configured:
        return configured
    return {name: os.environ[name] for name in (KEY_FILE_VARIABLE, KEY_VARIABLE) if os.environ.get(name)}


def signing_key_configured() -> bool:
    return bool(key_environment())


def signing_key() -> Ed25519PrivateKey:
    """The configured signing key. SigningKeyMissing when none is configured or it cannot be
    read (a missing file, not PEM, not Ed25519): the message says which."""
    try:
        return load_signing_key(key_environment())
    except SigningKeyMissing:
        raise
    except (OSError, ValueError, TypeError) as error:
        raise SigningKeyMissing(f"the audit signing key cannot be read: {error}") from None


def service_public_key() -> str | None:
    """The public key of the configured signing key (base64), or None when none is configured."""
    if not signing_key_configured():
        return None
    return public_key_text(signing_key().public_key())


ORIGIN_VARIABLE = "AUDIT_LOG_ORIGIN"


def log_origin() -> str | None:
    """The origin line of the log's C2SP checkpoints (``AUDIT_LOG_ORIGIN``, e.g.
    ``records.example.police.uk/log``); None: named after the signing key."""
    return current_app.config.get(ORIGIN_VARIABLE) or os.environ.get(ORIGIN_VARIABLE) or None


def witness_registry() -> WitnessRegistry:
    return WitnessRegistry(current_app.extensions["records"].side_tables)


GIVEN, CONFIGURED, EMBEDDED = "given", "configured", "embedded"


def trusted_public_key(given: str | None) -> tuple[str, str] | None:
    """The public key to check a checkpoint with, and where it came from: the key the caller
    gave (``given``), else the configured signing key's (``configured``); None when there is
    neither. The key a checkpoint names itself is never chosen here: it proves only that the
    checkpoint was not altered, not who signed it, so only the caller may decide to trust it.
    SigningKeyMissing when a signing key is configured but cannot be read."""
    if given is not None:
        return given, GIVEN
    configured = service_public_key()
    if configured is not None:
        return configured, CONFIGURED
    return None
