"""Shared pytest configuration: fixture modules for the real servers the tests talk to."""

pytest_plugins = ["tests.support.hub_fixtures", "tests.support.s3_fixtures"]
