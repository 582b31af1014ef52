"""pytest fixtures for the Hub test server (see tests/support/hubserver.py)."""
