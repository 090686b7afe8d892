"""Forces resource."""
