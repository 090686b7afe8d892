"""Audit resource: integrity of the whole record (hash chain verification, signed checkpoints)."""
