"""Event types resource: the public event catalogue."""
