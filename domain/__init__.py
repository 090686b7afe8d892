"""The pure domain of the collaboration record: aggregates, events and values.

Imports only the standard library and ``eventsourcing.domain``.
"""
