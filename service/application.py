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
from domain.exit_costs import quote_withdrawal
from domain.forces import FORCES
from domain.values import Provenance
from service.documents import collaboration_document, event_document
from service.errors import (
    CollaborationNotFound,
    ConcurrentUpdate,
    ExitDateRequired,
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

    def serve_withdrawal_notice(self, collaboration_id: str, *, force: str, caller: Caller, **common: Any) -> Written:
        """A party serves notice to withdraw. A force token serves notice only for its own force."""
        self._check_acts_for(caller, force, "serve notice")
        return self._change(
            collaboration_id,
            lambda c, p: {"earliest_exit_on": c.serve_withdrawal_notice(force=force, provenance=p).isoformat()},
            caller=caller,
            **common,
        )

    def withdraw_notice(self, collaboration_id: str, *, force: str, caller: Caller, **common: Any) -> Written:
        """A party withdraws its live notice. A force token withdraws only its own force's notice."""
        self._check_acts_for(caller, force, "withdraw notice")
        return self._change(
            collaboration_id, lambda c, p: c.withdraw_notice(force=force, provenance=p), caller=caller, **common
        )

    def decouple_function(
        self,
        collaboration_id: str,
        *,
        function_id: str,
        decided_by: str,
        rationale: str,
        business_case_ref: str | None = None,
        **common: Any,
    ) -> Written:
        return self._change(
            collaboration_id,
            lambda c, p: c.decouple_function(
                function_id=function_id,
                decided_by=decided_by,
                rationale=rationale,
                business_case_ref=business_case_ref,
                provenance=p,
            ),
            **common,
        )

    def give_direction(self, collaboration_id: str, *, new_exit_on: date, summary: str, **common: Any) -> Written:
        return self._change(
            collaboration_id,
            lambda c, p: c.give_direction(new_exit_on=new_exit_on, summary=summary, provenance=p),
            **common,
        )

    # --------------------------------------------------------------------- reads
    def exit_costs(
        self, collaboration_id: str, *, force: str, exit_on: date | None = None, today: date | None = None
    ) -> dict[str, Any]:
        """The exit-cost quote of ``force`` withdrawing on ``exit_on`` (DOMAIN.md's method).

        The notice date is the force's live notice's date, else the quote date (today). The
        exit date defaults to the live notice's exit date (as moved by any direction). Each
        line's ``source_events`` maps each input to the event that supplied it."""
        collaboration = self.collaboration(collaboration_id)
        collaboration.check_is_party(force, "force")
        quoted_on = today or date.today()
        notice = collaboration.live_notice(force)
        if exit_on is None:
            if notice is None:
                raise ExitDateRequired(
                    f"{force} has no live withdrawal notice, so give the exit date to quote for", field="exit_on"
                )
            exit_on = notice.exit_on
        quote = quote_withdrawal(
            collaboration,
            force=force,
            exit_on=exit_on,
            quoted_on=quoted_on,
            notice_on=notice.served_on if notice else None,
            decoupled_on=collaboration.decoupled_on(),
        )
        chain = self.side_tables.stream_chain(collaboration.id)

        def source(version: int) -> dict[str, Any]:
            position, digest = chain.get(version, (None, None))
            return {
                "event_id": f"{collaboration.id}:{version}",
                "version": version,
                "position": position,
                "hash": digest,
            }

        return {
            "collaboration_id": str(collaboration.id),
            "version": collaboration.version,
            "force": force,
            "notice_served": notice is not None,
            "notice_on": quote.notice_on.isoformat(),
            "notice_end": quote.notice_end.isoformat(),
            "exit_on": quote.exit_on.isoformat(),
            "quoted_on": quote.quoted_on.isoformat(),
            "lines": [
                {
                    "head": line.head,
                    "description": line.description,
                    "amount": str(line.amount),
                    "formula": line.formula,
                    "inputs": dict(line.inputs),
                    "source_events": {name: source(version) for name, version in line.source_versions.items()},
                }
                for line in quote.lines
            ],
            "total": str(quote.total),
        }

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
    @staticmethod
    def _check_acts_for(caller: Caller, force: str, what: str) -> None:
        if caller.force is not None and caller.force != force:
            raise NotPermitted(f"a {caller.force} token may {what} only for {caller.force}, not {force}")

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
