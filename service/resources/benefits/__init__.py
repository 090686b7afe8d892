"""Benefits resource."""
