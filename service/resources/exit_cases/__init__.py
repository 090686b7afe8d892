"""Exit cases resource."""
