"""The plugin import boundary: plugins depend on core's contract modules only, never on core's
runtime or on each other, and core never imports a plugin.

Every module is parsed (``ast``), so imports inside functions count as much as those at the top.
The allowlist is the one README's "Writing a destination plugin" states.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: What a plugin may import from core: the contract its hooks speak in, and small helpers that
#: hold no runtime state. The runtime (fetching, tts, speaker, registry, publish, cli, …) is not here.
CONTRACT = frozenset({
    # the contract
    "hayakoe_core.hookspecs", "hayakoe_core.types", "hayakoe_core.errors", "hayakoe_core.paths",
    "hayakoe_core.layout", "hayakoe_core.manifest", "hayakoe_core.progress",
    "hayakoe_core.synthesis", "hayakoe_core.speaker_config",
    # shared helpers
    "hayakoe_core.atomic", "hayakoe_core.bert", "hayakoe_core.bert.layout", "hayakoe_core.hf_url",
    "hayakoe_core.install_hint", "hayakoe_core.interrupts", "hayakoe_core.network", "hayakoe_core.ort",
})  # fmt: skip
#: The one documented crossing between plugins: the ONNX backend exports its graphs from the torch
#: backend's model (its ``[export]`` extra installs that backend), and so checks a checkpoint as
#: the torch backend does.
CROSSINGS = frozenset({
    ("hayakoe_backend_onnx", "hayakoe_backend_torch.model"),
    ("hayakoe_backend_onnx", "hayakoe_backend_torch.checkpoint"),
})  # fmt: skip


def _packages(folder: str) -> dict[str, Path]:
    """The importable packages of the distributions in ``folder`` (``plugins/<dist>/<package>/``)."""
    return {init.parent.name: init.parent for init in sorted((ROOT / folder).glob("*/*/__init__.py"))}


PLUGINS = {**_packages("plugins"), **_packages("examples")}
SOURCES = {"hayakoe_core": ROOT / "hayakoe_core", "hayakoe": ROOT / "hayakoe", **PLUGINS}


def _is_module(dotted: str) -> bool:
    top, *rest = dotted.split(".")
    if top not in SOURCES:
        return False
    path = SOURCES[top].joinpath(*rest)
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


@cache
def imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` for every absolute import in ``path``, wherever it is, including
    ``importlib.import_module("…")`` with a literal name; ``from a import b`` gives ``a.b`` when
    that is a module of ours, else ``a``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.append((node.lineno, sub if _is_module(sub) else node.module))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return found


def _modules(*folders: Path) -> list[Path]:
    return [p for folder in folders for p in sorted(folder.rglob("*.py"))]


def _offending(paths: list[Path], wrong: Callable[[str], bool]) -> list[str]:
    """``path:line: module`` for each import in ``paths`` of a module ``wrong`` refuses."""
    return [
        f"{path.relative_to(ROOT)}:{line}: {module}"
        for path in paths
        for line, module in imports(path)
        if wrong(module)
    ]


def _top(module: str) -> str:
    return module.split(".", 1)[0]


def test_the_scan_sees_every_plugin_and_the_allowlists_are_real():
    builtin = {"hayakoe_dest_local", "hayakoe_dest_s3", "hayakoe_dest_hf", "hayakoe_dest_zip",
               "hayakoe_backend_onnx", "hayakoe_backend_torch", "hayakoe_backend_openvino"}  # fmt: skip
    assert builtin <= set(PLUGINS)
    assert all(_is_module(m) for m in CONTRACT)
    crossings = {
        (package, module)
        for package, folder in PLUGINS.items()
        for path in _modules(folder)
        for _line, module in imports(path)
        if _top(module) in PLUGINS and _top(module) != package
    }
    assert crossings == CROSSINGS, "the crossings allowed are exactly the ones made"


@pytest.mark.parametrize("package", sorted(PLUGINS))
def test_a_plugin_imports_only_the_contract_of_core(package: str):
    wrong = _offending(
        _modules(PLUGINS[package]), lambda m: _top(m) in ("hayakoe_core", "hayakoe") and m not in CONTRACT
    )
    assert not wrong, "plugins may import only core's contract modules (README, Writing a plugin):\n" + (
        "\n".join(wrong)
    )


@pytest.mark.parametrize("package", sorted(PLUGINS))
def test_a_plugin_imports_no_other_plugin(package: str):
    wrong = _offending(
        _modules(PLUGINS[package]),
        lambda m: _top(m) in PLUGINS and _top(m) != package and (package, m) not in CROSSINGS,
    )
    assert not wrong, "plugins never import each other:\n" + "\n".join(wrong)


def test_applications_among_the_examples_import_no_plugin_and_only_the_contract_of_core():
    """An example that is not a plugin (the FastAPI server) uses the public ``hayakoe`` API."""
    plugin_files = {p for folder in PLUGINS.values() for p in _modules(folder)}
    apps = [p for p in _modules(ROOT / "examples") if p not in plugin_files]
    assert apps, "no application among the examples"
    wrong = _offending(
        apps, lambda m: _top(m) in PLUGINS or (_top(m) == "hayakoe_core" and m not in CONTRACT)
    )
    assert not wrong, "\n".join(wrong)


def test_core_never_imports_a_plugin():
    wrong = _offending(_modules(ROOT / "hayakoe_core", ROOT / "hayakoe"), lambda m: _top(m) in PLUGINS)
    assert not wrong, "core finds plugins by entry point only:\n" + "\n".join(wrong)


@pytest.mark.parametrize("module", sorted(CONTRACT))
def test_the_contract_reaches_nothing_else_of_core(module: str):
    """A contract module imports only other contract modules (its own package's parts, and the
    package root for ``__version__``): a plugin never loads core's runtime through one."""
    path = SOURCES["hayakoe_core"].joinpath(*module.split(".")[1:])
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    wrong = _offending(
        [path],
        lambda m: _top(m) == "hayakoe_core"
        and m not in CONTRACT | {"hayakoe_core"}
        and not (package != "hayakoe_core" and m.startswith(f"{package}.")),
    )
    assert not wrong, "\n".join(wrong)


def test_readme_lists_the_same_modules():
    """The allowlist a plugin author reads is this one."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("A plugin imports from core only its contract:")
    listed = re.findall(r"`([a-z_.]+)`", readme[start : readme.index("never the", start)])
    assert {f"hayakoe_core.{name}" for name in listed} == CONTRACT
