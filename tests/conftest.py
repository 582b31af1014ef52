"""Shared pytest configuration: fixture modules for the real servers the tests talk to."""

import shutil
import signal
import tempfile

pytest_plugins = ["tests.support.hub_fixtures", "tests.support.s3_fixtures"]

# The Ctrl-C tests signal processes the suite starts. A suite started as a background job
# (``nohup ... &``) inherits SIGINT ignored, and so would every process it starts.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_report_header() -> str:
    """Free space where the tests write: SeaweedFS refuses writes once its disk is ≥99% full."""
    usage = shutil.disk_usage(tempfile.gettempdir())
    return (
        f"temp folder {tempfile.gettempdir()}: {usage.free / 2**30:.1f} GiB free of "
        f"{usage.total / 2**30:.0f} GiB (the suite needs ~2 GiB above 1% of the disk)"
    )
