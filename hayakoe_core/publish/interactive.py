"""The interactive ``hayakoe publish``: questions that fill in :class:`Answers`, nothing else.

Each step asks only what no flag, environment variable or ``.env`` answered, with arrow-key menus
(questionary) and a "back" choice (``<`` in a text prompt) that returns to the previous question
asked. Values typed for the destination's settings are put into this process's environment so the
destination plugin sees them, and returned so the caller can save them to ``.env`` once the
publish has been validated (never before: a failed validation writes nothing). Ctrl-C raises
:class:`KeyboardInterrupt`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import questionary

from hayakoe_core.errors import HayakoeError
from hayakoe_core.paths import check_publish_name
from hayakoe_core.publish.request import Answers, find_source
from hayakoe_core.publish.source import choose_checkpoint, default_name, find_datasets, open_folder
from hayakoe_core.registry import Registry
from hayakoe_core.types import DestinationInfo, Setting

BACK = "← back"
ANOTHER_FOLDER = "another folder…"
BACKEND_MENU = {
    "CPU + GPU: ONNX and PyTorch files (recommended)": "both",
    "CPU: ONNX files": "cpu",
    "GPU: PyTorch files": "gpu",
}


class _Back(Exception):
    """The user chose "back"."""


class _Skip(Exception):
    """Nothing to ask at this step."""


@dataclass
class Session:
    """What the questions gathered: the answers, and the setting values typed (to save)."""

    answers: Answers
    typed: dict[str, str]


def _ask(question: Any) -> Any:
    answer = question.unsafe_ask()  # raises KeyboardInterrupt on Ctrl-C
    if answer == BACK:
        raise _Back
    return answer


def _text(
    message: str, *, default: str = "", secret: bool = False, check: Callable[[str], Any] | None = None
) -> str:
    def valid(value: str) -> bool | str:
        if value.strip() == "<" or check is None:
            return True
        try:
            check(value.strip())
        except HayakoeError as exc:
            return str(exc)
        return True

    prompt = questionary.password if secret else questionary.text
    value = _ask(prompt(f"{message} (< to go back)", default=default, validate=valid)).strip()
    if value == "<":
        raise _Back
    return value


# --- the steps ---------------------------------------------------------------------------------------


def _source(session: Session, registry: Registry) -> None:
    datasets = find_datasets(session.answers.data_root)
    choices = [questionary.Choice(f"{d.label}  ({d.folder})", value=str(d.folder)) for d in datasets]
    picked = _ask(questionary.select("What to publish?", choices=[*choices, ANOTHER_FOLDER, BACK]))
    if picked == ANOTHER_FOLDER:
        picked = _text("Speaker folder (config.json, style_vectors.npy, *.safetensors)", check=open_folder)
    session.answers = replace(session.answers, folder=Path(picked), dataset=None)


def _backend(session: Session, registry: Registry) -> None:
    picked = _ask(questionary.select("Backends to publish", choices=[*BACKEND_MENU, BACK]))
    session.answers = replace(session.answers, backend=BACKEND_MENU[picked])


def _checkpoint(session: Session, registry: Registry) -> None:
    source = find_source(session.answers)
    if len(source.checkpoints) < 2:
        raise _Skip
    choices = [questionary.Choice(c.describe(), value=c.name) for c in reversed(source.checkpoints)]
    picked = _ask(questionary.select("Checkpoint", choices=[*choices, BACK]))
    session.answers = replace(session.answers, checkpoint=picked)


def _name(session: Session, registry: Registry) -> None:
    try:
        default = default_name(find_source(session.answers))
    except HayakoeError:
        default = ""
    name = _text("Speaker name at the destination", default=default, check=check_publish_name)
    session.answers = replace(session.answers, name=name)


def _destination(session: Session, registry: Registry) -> None:
    menu: dict[str, tuple[DestinationInfo, bool]] = {}
    for info in registry.destinations():
        if info.url_template is None:
            continue
        menu[info.description or info.name] = (info, False)
        options = [s.label for s in info.settings if s.role == "option"]
        if options:
            menu[f"{info.name}-compatible ({', '.join(options)})"] = (info, True)
    picked = _ask(questionary.select("Where to publish?", choices=[*menu, BACK]))
    info, with_options = menu[picked]
    asked = [s for s in info.settings if s.role == "address" or (with_options and s.role == "option")]
    values = {s.env: _setting(s) for s in asked}
    url = info.url_from({**os.environ, **values})
    if url is None:
        raise HayakoeError(f"the {info.name} destination needs {', '.join(s.env for s in asked)}")
    registry.parse_url(url)  # a one-line error for a malformed address, before going on
    _keep(session, values)
    session.answers = replace(session.answers, to=url)


def _credentials(session: Session, registry: Registry) -> None:
    store = registry.open(session.answers.to or "")
    missing = [s for s in store.info.settings if s.role == "credential" and not os.environ.get(s.env)]
    if not missing or store.find_credentials() is not None:
        raise _Skip
    _keep(session, {s.env: _setting(s) for s in missing})


def _setting(setting: Setting) -> str:
    default = "" if setting.secret else os.environ.get(setting.env, "")
    check = _non_empty(setting) if setting.required else None
    return _text(f"{setting.label} ({setting.env})", default=default, secret=setting.secret, check=check)


def _non_empty(setting: Setting) -> Callable[[str], None]:
    def check(value: str) -> None:
        if not value:
            raise HayakoeError(f"{setting.env} is required")

    return check


def _keep(session: Session, values: dict[str, str]) -> None:
    """Use typed values at once (the plugin reads the environment) and remember them for .env."""
    for env, value in values.items():
        if value:
            os.environ[env] = value
            session.typed[env] = value
        else:
            os.environ.pop(env, None)


def ask(answers: Answers, registry: Registry) -> Session:
    """Ask what ``answers`` leaves open, in the seed's order; returns the completed session."""
    session = Session(answers, {})
    given = {
        _source: answers.folder is not None or answers.dataset is not None,
        _backend: answers.backend is not None,
        _checkpoint: answers.checkpoint is not None,
        _name: answers.name is not None,
        _destination: answers.to is not None,
        _credentials: False,
    }
    steps = [step for step, known in given.items() if not known]
    asked: list[int] = []
    index = 0
    while index < len(steps):
        try:
            steps[index](session, registry)
            asked.append(index)
            index += 1
        except _Skip:
            index += 1
        except _Back:
            if asked:
                index = asked.pop()
    if session.answers.folder is not None:
        choose_checkpoint(find_source(session.answers), session.answers.checkpoint)
    return session


def confirm(message: str, default: bool) -> bool:
    """A yes/no question (Ctrl-C raises KeyboardInterrupt)."""
    return bool(questionary.confirm(message, default=default).unsafe_ask())


def choose(message: str, choices: list[str]) -> str:
    """One of ``choices`` (Ctrl-C raises KeyboardInterrupt)."""
    return str(questionary.select(message, choices=choices).unsafe_ask())
