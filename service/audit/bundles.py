"""Evidence bundles: one file that lets a party prove, to an arbitrator and without the service,
that a figure came from these events and that they are in the log the forces witnessed.

A bundle holds the figures as the service answered them (an exit-cost quote, an exit case, a
collaboration's history), the canonical document of every event they cite (the Merkle tree's
leaf, which the chain also hashes), each event's RFC 9162 inclusion proof in the tree of the
latest checkpoint that covers them all, and that checkpoint as a C2SP signed note carrying the
witnesses' cosignatures. ``collab-verify`` (``service/audit/offline.py``) checks it offline.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from service.audit.checkpoints import Checkpoint
from service.audit.offline import FORMAT, SEAL_CONTEXT, canonical, citations
from service.audit.trail import AuditTrail
from service.audit.tree import LogTree
from service.audit.witnesses import WitnessRegistry


def seal(bundle: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """The bundle with the log key's Ed25519 signature over the rest of it (``seal``): the host
    vouches that these are its figures; the proofs and cosignatures show they rest on the
    witnessed log."""
    unsealed = {name: value for name, value in bundle.items() if name != "seal"}
    return {**unsealed, "seal": base64.b64encode(key.sign(SEAL_CONTEXT + canonical(unsealed))).decode()}


class NoCoveringCheckpoint(LookupError):
    """No checkpoint with a tree head covers every event the figures cite (yet)."""


class EvidenceBundles:
    def __init__(self, trail: AuditTrail, registry: WitnessRegistry):
        self.trail = trail
        self.store = trail.store
        self.registry = registry

    def build(
        self,
        kind: str,
        subject: dict[str, Any],
        figures: dict[str, Any],
        parties: list[str],
        positions: Iterable[int] = (),
    ) -> dict[str, Any]:
        """The bundle of ``figures``: the events they cite (and ``positions``), proven against
        the latest checkpoint with a tree head that covers them all (NoCoveringCheckpoint when
        none does: make a checkpoint, and have the witnesses cosign it)."""
        cited = {ref["position"] for _, ref in citations(figures) if isinstance(ref["position"], int)}
        wanted = sorted(cited | set(positions))
        documents: dict[int, tuple[int, bytes]] = {}
        for position in wanted:
            chained = self.store.chained_document(position)
            if chained is None:
                raise NoCoveringCheckpoint(f"the event at position {position} is not chained yet")
            documents[position] = chained
        needed = max((seq for seq, _ in documents.values()), default=0)
        checkpoint = self._covering(needed, parties)
        size = checkpoint.size
        tree = LogTree(self.store)
        events = []
        for position in wanted:
            seq, document = documents[position]
            proof = tree.inclusion(seq - 1, size)
            events.append(
                {
                    "position": position,
                    "leaf_index": seq - 1,
                    "document": document.decode(),
                    "audit_path": [node.hex() for node in proof.path],
                }
            )
        cosigned = self.registry.cosigned(checkpoint)
        return {
            "format": FORMAT,
            "kind": kind,
            "subject": subject,
            "parties": parties,
            "figures": figures,
            "events": events,
            "checkpoint": cosigned.note,
            "witnesses": [
                {"force": w.force, "vkey": w.vkey} for w in self.registry.witnesses(parties)
            ],  # as registered here; a verifier trusts the keys the forces gave it
        }

    def _covering(self, needed: int, parties: list[str]) -> Checkpoint:
        """The checkpoint to prove against: of those with a tree head that cover ``needed``
        leaves, the one the most of the parties' witnesses cosigned, the latest of those (so a
        checkpoint signed since, not yet cosigned, does not displace one the parties vouched for)."""
        witnesses = [witness.name for witness in self.registry.witnesses(parties)] or [""]
        marks = ", ".join("?" for _ in witnesses)
        rows = self.store.execute(
            "SELECT c.size, COUNT(s.witness) AS vouched FROM {schema}audit_checkpoints c"
            " LEFT JOIN {schema}audit_cosignatures s ON s.size = c.size AND s.witness IN (" + marks + ")"
            " WHERE c.size >= ? GROUP BY c.size ORDER BY vouched DESC, c.size DESC LIMIT 50",
            (*witnesses, needed),
        )
        for row in rows:
            checkpoint = self.trail.checkpoint(row["size"])
            if checkpoint is not None and checkpoint.note is not None:
                return checkpoint
        raise NoCoveringCheckpoint(
            f"no checkpoint with a tree head covers the {needed} events these figures need: sign one "
            "(POST /api/v1/audit/checkpoints) and have the witnesses cosign it"
        )


def stream_positions(store: Any, stream_id: str) -> list[int]:
    """The log positions of every chained event of one stream, in version order."""
    chain = store.stream_chain(UUID(stream_id))
    return [chain[version][0] for version in sorted(chain)]
