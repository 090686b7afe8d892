"""Meta resource."""
