"""The application service: commands that take and return simple types.

Every command loads the aggregate, lets the domain check its rules, and saves the new events
in one transaction, together with the result of the request when it carried an
Idempotency-Key. A concurrent writer to the same aggregate makes the save fail on the event
store's unique (id, version) key; the command is then retried on fresh state, so nothing is
lost and nothing is recorded twice.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Transcoding

from domain.collaboration import Collaboration
from domain.forces import FORCES
from domain.values import Provenance
from service.documents import collaboration_document, event_document
from service.errors import (
    CollaborationNotFound,
    ConcurrentUpdate,
    IdempotencyKeyReused,
    NotPermitted,
    VersionMismatch,
)
from service.persistence import IdempotentRequest, SideTableAccess

MAX_ATTEMPTS = 12


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


@dataclass(frozen=True)
class IdempotencyKey:
    """An Idempotency-Key header, whose request it was and what that request said."""

    principal: str
    key: str
    fingerprint: str

    @staticmethod
    def fingerprint_of(method: str, path: str, body: Any) -> str:
        canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Caller:
    """Who is writing: the actor recorded on each event, and the force a force token is
    bound to (None for administrators)."""

    actor: str
    force: str | None = None


@dataclass(frozen=True)
class Written:
    """The outcome of a command: the JSON-ready result and the log position of its last
    event (for read-your-writes), and whether it was replayed from an earlier request."""

    result: dict[str, Any]
    position: int | None
    replayed: bool = False


class CollaborationRecords(Application[UUID]):
    """The collaboration record: every agreement change as an immutable event."""

    name = "CollaborationRecords"

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())
        # Stored state is canonical JSON (sorted keys, no whitespace, decimals and dates as
        # strings), so the hash chain can bind the stored bytes as they are.
        transcoder.encoder = json.JSONEncoder(
            default=transcoder._encode_obj,  # the library's own hook for transcodings
            separators=(",", ":"),
            ensure_ascii=False,
            sort_keys=True,
        )

    @property
    def side_tables(self) -> SideTableAccess:
        assert isinstance(self.recorder, SideTableAccess)
        return self.recorder

    # ------------------------------------------------------------------ commands
    def establish_collaboration(
        self,
        *,
        caller: Caller,
        name: str,
        purpose: str,
        parties: list[str],
        lead_force: str,
        effective_on: date,
        reason: str,
        governance_body: str | None = None,
        review_cycle_months: int | None = None,
        evidence: str | None = None,
        approval_ref: str | None = None,
        idempotency: IdempotencyKey | None = None,
    ) -> Written:
        if (replay := self._replay(idempotency)) is not None:
            return replay
        if caller.force is not None and caller.force not in parties:
            raise NotPermitted(f"a {caller.force} token may only create collaborations {caller.force} is party to")
        provenance = Provenance(effective_on, caller.actor, reason, evidence, approval_ref)
        collaboration = Collaboration.establish(
            name=name,
            purpose=purpose,
            parties=parties,
            lead_force=lead_force,
            governance_body=governance_body,
            review_cycle_months=review_cycle_months,
            provenance=provenance,
        )
        result = collaboration_document(collaboration)
        try:
            return self._save(collaboration, result, idempotency)
        except IntegrityError:
            if (replay := self._replay(idempotency)) is not None:
                return replay
            # Not a retry of this request, and a new id cannot clash: nothing was recorded.
            raise ConcurrentUpdate("the collaboration could not be recorded; try again") from None

    def join_party(self, collaboration_id: str, *, force: str, **common: Any) -> Written:
        return self._change(collaboration_id, lambda c, p: c.join(force, p), **common)

    def add_function(
        self, collaboration_id: str, *, name: str, kind: str, host_force: str, annual_budget: Any, **common: Any
    ) -> Written:
        return self._change(
            collaboration_id,
            lambda c, p: {
                "function_id": c.add_function(
                    name=name, kind=kind, host_force=host_force, annual_budget=annual_budget, provenance=p
                )
            },
            **common,
        )

    def set_function_budget(
        self, collaboration_id: str, *, function_id: str, financial_year: str, annual_budget: Any, **common: Any
    ) -> Written:
        return self._change(
            collaboration_id,
            lambda c, p: c.set_function_budget(
                function_id=function_id, financial_year=financial_year, annual_budget=annual_budget, provenance=p
            ),
            **common,
        )

    def agree_apportionment(
        self, collaboration_id: str, *, function_id: str | None, basis: str, shares: dict[str, Any], **common: Any
    ) -> Written:
        return self._change(
            collaboration_id,
            lambda c, p: c.agree_apportionment(function_id=function_id, basis=basis, shares=shares, provenance=p),
            **common,
        )

    def agree_exit_terms(
        self,
        collaboration_id: str,
        *,
        notice_period_months: int,
        stranded_cost_rate: Any,
        stranded_cost_months: int,
        caps: dict[str, Any] | None = None,
        **common: Any,
    ) -> Written:
        return self._change(
            collaboration_id,
            lambda c, p: c.agree_exit_terms(
                notice_period_months=notice_period_months,
                stranded_cost_rate=stranded_cost_rate,
                stranded_cost_months=stranded_cost_months,
                caps=caps,
                provenance=p,
            ),
            **common,
        )

    def register_asset(
        self,
        collaboration_id: str,
        *,
        name: str,
        cost: Any,
        acquired_on: date,
        useful_life_months: int,
        funded_shares: dict[str, Any],
        **common: Any,
    ) -> Written:
        return self._change(
            collaboration_id,
            lambda c, p: {
                "asset_id": c.register_asset(
                    name=name,
                    cost=cost,
                    acquired_on=acquired_on,
                    useful_life_months=useful_life_months,
                    funded_shares=funded_shares,
                    provenance=p,
                )
            },
            **common,
        )

    def commit_contract(
        self,
        collaboration_id: str,
        *,
        supplier: str,
        function_id: str,
        annual_value: Any,
        ends_on: date,
        break_cost: Any,
        **common: Any,
    ) -> Written:
        return self._change(
            collaboration_id,
            lambda c, p: {
                "contract_id": c.commit_contract(
                    supplier=supplier,
                    function_id=function_id,
                    annual_value=annual_value,
                    ends_on=ends_on,
                    break_cost=break_cost,
                    provenance=p,
                )
            },
            **common,
        )

    def hold_review(self, collaboration_id: str, *, outcome: str, **common: Any) -> Written:
        return self._change(collaboration_id, lambda c, p: c.hold_review(outcome=outcome, provenance=p), **common)

    def agree_variation(self, collaboration_id: str, *, clause: str, summary: str, **common: Any) -> Written:
        return self._change(
            collaboration_id, lambda c, p: c.agree_variation(clause=clause, summary=summary, provenance=p), **common
        )

    # --------------------------------------------------------------------- reads
    def collaboration(self, collaboration_id: str, *, version: int | None = None) -> Collaboration:
        try:
            collaboration = self.repository.get(_uuid(collaboration_id), version=version)
        except AggregateNotFoundError:
            raise CollaborationNotFound(f"no collaboration {collaboration_id}") from None
        if version is not None and collaboration.version != version:  # the repository answers the latest <= version
            raise CollaborationNotFound(
                f"collaboration {collaboration_id} has no version {version}; it is at version {collaboration.version}"
            )
        return collaboration

    def collaboration_document(self, collaboration_id: str, *, version: int | None = None) -> dict[str, Any]:
        return collaboration_document(self.collaboration(collaboration_id, version=version))

    def history(self, collaboration_id: str, *, upto_version: int | None = None) -> list[dict[str, Any]]:
        self.collaboration(collaboration_id)  # 404 for an unknown id
        events = self.events.get(_uuid(collaboration_id), lte=upto_version)
        chain = self.side_tables.stream_chain(_uuid(collaboration_id))
        documents = []
        for event in events:
            position, digest = chain.get(event.originator_version, (None, None))
            documents.append({**event_document(event), "position": position, "hash": digest})
        return documents

    def feed(self, *, after: int, limit: int) -> list[dict[str, Any]]:
        notifications = self.recorder.select_notifications(start=after, limit=limit, inclusive_of_start=False)
        hashes = self.side_tables.chain_hashes([notification.id for notification in notifications])
        return [
            {
                "position": notification.id,
                **event_document(self.mapper.to_domain_event(notification)),
                "hash": hashes.get(notification.id),
            }
            for notification in notifications
        ]

    def log_size(self) -> int:
        return self.recorder.max_notification_id() or 0

    @staticmethod
    def forces() -> list[dict[str, str]]:
        return [{"code": f.code, "name": f.name, "country": f.country} for f in FORCES.values()]

    # ------------------------------------------------------------------ plumbing
    def _change(
        self,
        collaboration_id: str,
        mutate: Callable[[Collaboration, Provenance], Mapping[str, Any] | None],
        *,
        caller: Caller,
        effective_on: date,
        reason: str,
        evidence: str | None = None,
        approval_ref: str | None = None,
        expected_version: int | Collection[int] | None = None,
        idempotency: IdempotencyKey | None = None,
    ) -> Written:
        """Loads the collaboration, applies ``mutate`` and saves, retrying on fresh state when
        another writer took the version first. ``expected_version`` is the If-Match
        precondition: the version (or any of the versions) the caller based the change on."""
        if (replay := self._replay(idempotency)) is not None:
            return replay
        expected = {expected_version} if isinstance(expected_version, int) else expected_version
        provenance = Provenance(effective_on, caller.actor, reason, evidence, approval_ref)
        for attempt in range(MAX_ATTEMPTS):
            collaboration = self.collaboration(collaboration_id)
            if caller.force is not None and caller.force not in collaboration.parties:
                raise NotPermitted(f"{caller.force} is not a party to this collaboration")
            if expected is not None and collaboration.version not in expected:
                named = ", ".join(str(version) for version in sorted(expected))
                versions = "versions" if len(expected) > 1 else "version"
                raise VersionMismatch(
                    f"If-Match names {versions} {named} but the collaboration is at {collaboration.version}"
                )
            extra = mutate(collaboration, provenance) or {}
            result = {**collaboration_document(collaboration), **extra}
            try:
                return self._save(collaboration, result, idempotency)
            except IntegrityError:
                if (replay := self._replay(idempotency)) is not None:
                    return replay
                # Another writer took this version: back off a little, retry on fresh state.
                time.sleep(random.uniform(0, min(0.2, 0.005 * 2**attempt)))  # noqa: S311
        raise ConcurrentUpdate("the collaboration kept changing under this request; try again")

    def _save(self, aggregate: Any, result: dict[str, Any], idempotency: IdempotencyKey | None) -> Written:
        request = None
        if idempotency is not None:
            request = IdempotentRequest(idempotency.principal, idempotency.key, idempotency.fingerprint, result)
        recordings = self.save(aggregate, idempotency=request)
        return Written(result=result, position=recordings[-1].notification.id if recordings else None)

    def _replay(self, idempotency: IdempotencyKey | None) -> Written | None:
        if idempotency is None:
            return None
        rows = self.side_tables.execute(
            "SELECT fingerprint, result FROM {schema}idempotency_keys WHERE principal = ? AND idempotency_key = ?",
            (idempotency.principal, idempotency.key),
        )
        if not rows:
            return None
        if rows[0]["fingerprint"] != idempotency.fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was already used for a different request; use a new key", field="Idempotency-Key"
            )
        return Written(result=json.loads(rows[0]["result"]), position=None, replayed=True)


def _uuid(value: str) -> UUID:
    try:
        return UUID(str(value))
    except ValueError:
        raise CollaborationNotFound(f"no collaboration {value}: not a UUID") from None
