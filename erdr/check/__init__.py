"""DR readiness, measured live and read-only (``python -m erdr.check``; see __main__.py)."""
