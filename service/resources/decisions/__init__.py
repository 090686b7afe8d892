"""Decisions resource."""
