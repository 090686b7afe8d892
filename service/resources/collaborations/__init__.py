"""Collaborations resource."""
