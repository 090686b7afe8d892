"""Bearer tokens and who they speak for.

A token is ``crs_`` followed by 32 random bytes (URL-safe base64). Only its SHA-256 hash is
stored, in the ``api_tokens`` side table; the token itself is shown once, when created.

Roles (docs/who-records-what.md):

- ``admin`` may do everything;
- ``force`` is bound to one force code and writes only as that force, only on collaborations
  that force is party to (or creates); the application service enforces the party rule from
  the ``Caller`` this module builds;
- ``auditor`` may only read.

Where a body names forces, a force token is held to the party rule only: a party may record
another force joining (the joining force is not a party yet, so it could not record that
itself), host a function at another party, or apportion shares among all parties, because
those are facts agreed by all the parties. Where a future body names the force acting for
itself (a withdrawal notice's ``force``, a claim's ``claimant``) it must be the token's force.

Events name who recorded them (their ``actor``) from the token, never from the request body, as
``<name> (<role>[ <force>], token <token id>)``, for example::

    Jo Bloggs (admin, token 3f2a9c4e-5b1d-4e8f-9a7c-2d6b1e0f4a93)
    WM finance (force west-mercia, token 8c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f)

The name says who in words; the token id (as ``tokens list`` shows it) says which token, so two
tokens given the same name are never confused and a revoked token's events stay traceable.

Every request looks its token up afresh (one indexed read by hash). There is deliberately no
in-process cache: with several workers a cache would let a revoked token keep working in the
workers that had cached it.
"""

from __future__ import annotations

import collections
import hashlib
import math
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain.forces import FORCES
from domain.values import NAME_LENGTH, text_fault
from projections.event_documents import utc_text
from service.application import Caller
from service.persistence import SideTableAccess

TOKEN_PREFIX = "crs_"  # noqa: S105  (a public marker, not a secret)
ADMIN, FORCE, AUDITOR = "admin", "force", "auditor"
ROLES = (ADMIN, FORCE, AUDITOR)
WRITING_ROLES = (ADMIN, FORCE)


class InvalidTokenRequest(ValueError):
    """A token was asked for with a role or force that makes no sense."""


@dataclass(frozen=True)
class Principal:
    """The holder of a valid token."""

    id: str
    name: str
    role: str
    force: str | None = None

    @property
    def actor(self) -> str:
        """How events this principal records name who recorded them (see the module's doc)."""
        role = f"{self.role} {self.force}" if self.force else self.role
        return f"{self.name} ({role}, token {self.id})"

    @property
    def may_write(self) -> bool:
        return self.role in WRITING_ROLES

    @property
    def caller(self) -> Caller:
        return Caller(actor=self.actor, force=self.force if self.role == FORCE else None)


@dataclass(frozen=True)
class TokenRecord:
    """What is stored about a token: never the token itself."""

    id: str
    name: str
    role: str
    force: str | None
    created_at: str
    revoked_at: str | None

    @property
    def principal(self) -> Principal:
        return Principal(self.id, self.name, self.role, self.force)


def hash_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> str:
    return utc_text(datetime.now(UTC).replace(microsecond=0))


_COLUMNS = "id, name, role, force, created_at, revoked_at"


class TokenStore:
    """Creates, lists, revokes and checks bearer tokens."""

    def __init__(self, side_tables: SideTableAccess):
        self.side_tables = side_tables

    def create(self, *, name: str, role: str, force: str | None = None) -> tuple[TokenRecord, str]:
        """A new token and its record. The token is returned once and never stored."""
        name = (name or "").strip()
        if not name:
            raise InvalidTokenRequest("a token needs a name saying whose it is")
        if (fault := text_fault(name, NAME_LENGTH)) is not None:
            raise InvalidTokenRequest(f"the token's name {fault}")
        if role not in ROLES:
            raise InvalidTokenRequest(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if role == FORCE:
            if force is None:
                raise InvalidTokenRequest("a force token is bound to one force: give its code (--force CODE)")
            if force not in FORCES:
                raise InvalidTokenRequest(f"unknown force code {force!r}; GET /api/v1/forces lists them")
        elif force is not None:
            raise InvalidTokenRequest(f"only force tokens are bound to a force; an {role} token is not")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        record = TokenRecord(str(uuid.uuid4()), name, role, force, _now(), None)
        self.side_tables.execute(
            "INSERT INTO {schema}api_tokens (id, name, role, force, token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (record.id, record.name, record.role, record.force, hash_of(token), record.created_at),
            commit=True,
        )
        return record, token

    def list(self) -> list[TokenRecord]:
        rows = self.side_tables.execute(f"SELECT {_COLUMNS} FROM {{schema}}api_tokens ORDER BY created_at, id")
        return [TokenRecord(**row) for row in rows]

    def get(self, token_id: str) -> TokenRecord | None:
        rows = self.side_tables.execute(f"SELECT {_COLUMNS} FROM {{schema}}api_tokens WHERE id = ?", (token_id,))
        return TokenRecord(**rows[0]) if rows else None

    def revoke(self, token_id: str) -> TokenRecord | None:
        """Revokes a token at once, in every worker. Returns its record, or None if unknown.
        Revoking a revoked token keeps its first revocation time."""
        self.side_tables.execute(
            "UPDATE {schema}api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (_now(), token_id),
            commit=True,
        )
        return self.get(token_id)

    def authenticate(self, token: str) -> Principal | None:
        """The principal a presented token speaks for, or None if it is unknown or revoked."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        rows = self.side_tables.execute(
            f"SELECT {_COLUMNS} FROM {{schema}}api_tokens WHERE token_hash = ? AND revoked_at IS NULL",
            (hash_of(token),),
        )
        return TokenRecord(**rows[0]).principal if rows else None


class FailedSignIns:
    """Failed authentications per client address, in a sliding window: past ``limit`` failures
    in ``window`` seconds the address is refused (429, with when to retry) until the oldest
    failure leaves the window. Guessing tokens is pointless (256 bits), but a flood of them costs
    the store a lookup each, and an operator should see it.

    Counted in this process's memory: with several gunicorn workers an address gets ``limit``
    per worker, and a restart forgets. Behind a proxy, the address is the proxy's unless the
    deployment sets the client address (e.g. werkzeug's ProxyFix)."""

    def __init__(self, limit: int = 20, window: float = 60.0, now: Any = None) -> None:
        self.limit, self.window = limit, window
        self._now = now or time.monotonic
        self._failures: dict[str, collections.deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> int | None:
        """Seconds until ``address`` may try again, or None if it may now."""
        with self._lock:
            failures = self._recent(address)
            if len(failures) < self.limit:
                return None
            return max(1, math.ceil(failures[0] + self.window - self._now()))

    def failed(self, address: str) -> None:
        with self._lock:
            self._recent(address).append(self._now())
            if len(self._failures) > 10_000:  # bounded memory: forget addresses with no recent failure
                for stale in [a for a in self._failures if not self._recent(a)]:
                    del self._failures[stale]

    def _recent(self, address: str) -> collections.deque[float]:
        failures = self._failures.setdefault(address, collections.deque())
        cutoff = self._now() - self.window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        return failures
