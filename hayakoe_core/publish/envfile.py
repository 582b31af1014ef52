"""Credentials in a ``.env`` file, read and written with python-dotenv.

The file is ``$HAYAKOE_ENV_FILE``, else ``./.env``. Reading never overrides a variable the real
environment already has. Saving happens only when the caller (who asked the user) says so, and
keeps the file private and whole:

* the new content is written to a draft that is created with mode 0600 before any byte is
  written, in a private folder beside the target; python-dotenv's ``set_key`` edits it (keeping
  every other line and comment as it was) and keeps that mode;
* one rename then replaces the ``.env``, so it is 0600 from its first byte and after every
  update, and a failure at any point leaves the old file exactly as it was.

Values are never printed, logged or put into an error message.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values, load_dotenv, set_key

from hayakoe_core.errors import HayakoeError

ENV_FILE_ENV = "HAYAKOE_ENV_FILE"
DEFAULT_ENV_FILE = ".env"
MODE = 0o600
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def env_file(path: str | Path | None = None) -> Path:
    """The ``.env`` to use: ``path``, else ``$HAYAKOE_ENV_FILE``, else ``./.env``."""
    return Path(path or os.environ.get(ENV_FILE_ENV) or DEFAULT_ENV_FILE)


def load_env_file(path: str | Path | None = None) -> dict[str, str]:
    """Put the file's variables into ``os.environ`` where they are not already set, and return
    the ones it holds (``{}`` when there is no file). Real environment variables always win."""
    target = env_file(path)
    if not target.is_file():
        return {}
    load_dotenv(target, override=False)
    return {k: v for k, v in dotenv_values(target).items() if v is not None}


def save_env_values(values: Mapping[str, str], path: str | Path | None = None) -> Path:
    """Set ``values`` in the ``.env`` (created if missing), keeping every other line, and return
    its path. All of them land or none: see the module docstring. A symbolic link is followed, so
    the file it points at is the one updated.

    Raises :class:`HayakoeError` for a name that is not a variable name, a value with a newline
    or NUL, or a file that cannot be written (naming the file, never a value).
    """
    for name, value in values.items():
        if not _NAME_RE.match(name):
            raise HayakoeError(f"cannot save {name!r} to .env: not an environment variable name")
        if "\n" in value or "\r" in value or "\x00" in value:
            raise HayakoeError(f"cannot save {name} to .env: its value has a line break or NUL")
    target = Path(os.path.realpath(env_file(path)))
    try:
        # A private folder beside the target: every temporary file (ours and python-dotenv's)
        # lives in it, the final rename stays on one filesystem, and cleaning up is one rmtree.
        work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    except OSError as exc:
        raise HayakoeError(f"cannot write {target}: {_reason(exc)}") from None
    try:
        draft = work / target.name
        with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, MODE), "wb") as out:
            os.fchmod(out.fileno(), MODE)  # exactly 0600, whatever the umask
            if target.is_file():
                with target.open("rb") as current:
                    shutil.copyfileobj(current, out)
        for name, value in values.items():
            set_key(draft, name, value, quote_mode="always")
        os.replace(draft, target)
    except OSError as exc:
        raise HayakoeError(f"cannot write {target}: {_reason(exc)}; it was left as it was") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def _reason(exc: OSError) -> str:
    """The OS's words for ``exc`` (never the data that was being written)."""
    return exc.strerror or type(exc).__name__
