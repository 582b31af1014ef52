"""Errors a user can cause.

Each carries a one-line message saying what is wrong and how to fix it; the CLI prints that line
and exits non-zero without a traceback. Programming errors are ordinary exceptions and keep theirs.
"""


class HayakoeError(Exception):
    """Base of every user-facing error: ``str(err)`` is the whole message, one line."""


class ConfigError(HayakoeError):
    """A speaker's config.json, style vectors or checkpoint is missing, unreadable or inconsistent."""


class PluginError(HayakoeError):
    """A plugin is missing, broken, or two plugins claim the same scheme or backend."""


class UrlError(HayakoeError):
    """A destination or source URL that no installed plugin accepts, or one that is malformed."""


class UnsafePathError(HayakoeError):
    """A remote-supplied path with ``..``, an absolute part or a backslash."""


class NotFoundError(HayakoeError):
    """A destination, speaker or file that does not exist where it was asked for."""


class UnreachableError(HayakoeError):
    """The store could not be reached (connection refused, DNS, timeout): not a refusal by it.

    Destination plugins raise this so the runtime can fall back to its cache.
    """


class ConflictError(HayakoeError):
    """The destination changed since the state a promote expected (someone else published
    meanwhile), or another publisher holds it right now. Nothing a reader can see was changed.

    ``busy`` is true when another promote is in progress (waiting and retrying may succeed
    without re-reading anything); false when the destination moved (re-read, then retry).
    """

    def __init__(self, message: str, *, busy: bool = False) -> None:
        super().__init__(message)
        self.busy = busy


class ArgumentError(HayakoeError):
    """A bad argument to a runtime call: a value out of range, an unknown style or language."""
