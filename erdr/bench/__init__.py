"""``make bench`` (``python -m erdr.bench``): critical path, failover work, policy scale and
evaluation cost; each measurement in its own module, the report in ``__main__.py``."""
