"""OpenJTalk access (pyopenjtalk, imported on first use), with an optional user dictionary."""

from __future__ import annotations

import tempfile
import threading
import weakref
from functools import cache
from pathlib import Path
from typing import Any

from hayakoe_core.text.user_dict import UserDictionary

Morpheme = dict[str, Any]
"""One OpenJTalk NJD feature: ``string`` (surface), ``pos``, ``pron`` (reading), ``acc``, ..."""


class OpenJTalk:
    """Runs OpenJTalk's frontend and label maker, with ``user_dict`` applied when it has words.

    The user dictionary is compiled (into a private temporary folder) the first time it is needed
    and again whenever it changed since. Safe to share between threads.
    """

    def __init__(self, user_dict: UserDictionary | None = None) -> None:
        self._user_dict = user_dict
        self._lock = threading.Lock()
        self._compiled_version: int | None = None
        self._engine: Any = None
        self._workdir: Path | None = None

    def run_frontend(self, text: str) -> list[Morpheme]:
        """OpenJTalk's morphemes (NJD features) for ``text``."""
        return self._current().run_frontend(text)

    def make_label(self, morphemes: list[Morpheme]) -> list[str]:
        """HTS full-context labels for ``morphemes`` (as returned by :meth:`run_frontend`)."""
        return self._current().make_label(morphemes)

    def _current(self) -> Any:
        if self._user_dict is None or len(self._user_dict) == 0:
            return _system_engine()
        with self._lock:
            version = self._user_dict.version
            if self._compiled_version != version:
                import pyopenjtalk

                dic = self._user_dict.compile(self._private_dir())
                self._engine = pyopenjtalk.OpenJTalk(
                    dn_mecab=pyopenjtalk.OPEN_JTALK_DICT_DIR, userdic=str(dic).encode()
                )
                self._compiled_version = version
            return self._engine

    def _private_dir(self) -> Path:
        if self._workdir is None:
            holder = tempfile.TemporaryDirectory(prefix="hayakoe-userdic-")
            weakref.finalize(self, holder.cleanup)
            self._workdir = Path(holder.name)
        return self._workdir


@cache
def _system_engine() -> Any:
    """One shared OpenJTalk instance with only the bundled system dictionary."""
    import pyopenjtalk

    return pyopenjtalk.OpenJTalk(dn_mecab=pyopenjtalk.OPEN_JTALK_DICT_DIR)
