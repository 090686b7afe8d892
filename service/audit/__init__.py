"""Audit integrity: the hash chain over the event log, signed checkpoints, verification."""
