"""A fake Azure Resource Manager on 127.0.0.1 serving a realistic landing-zone estate: the ARM
bodies (``estate.py``) and the HTTP server that pages, throttles and refuses like ARM (``server.py``).
Used by the discover command's tests and, through the mock runtime, by the source-mode tests."""
