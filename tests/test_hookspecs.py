"""Meta-tests: every hook is a documented contract, and the conformance suites exercise it.

A third party learns the plugin surface from hookspecs.py and proves a plugin with the importable
suites, so a hook without a docstring, or one the suites never call, is a hole in the contract.
"""

import ast
import inspect
import re
from pathlib import Path

import pytest

from hayakoe_core import hookspecs
from hayakoe_core.registry import BackendCapability, Capability, Registry, Store

SPECS = sorted(
    name for name, obj in vars(hookspecs).items()
    if name.startswith("hayakoe_") and callable(obj) and hasattr(obj, "hayakoe_spec")
)
SUITES = Path(hookspecs.__file__).parent / "testing"
# Hooks every plugin answers while it is loaded and every URL is parsed: the registry calls them
# for every plugin, and every conformance test goes through them.
REGISTRY_HOOKS = {"hayakoe_destination", "hayakoe_backend", "hayakoe_parse_url"}


def _method_of(cls: type, hook: str) -> str | None:
    """The method of ``cls`` that calls ``hook`` (None if none does)."""
    for name, method in inspect.getmembers(cls, inspect.isfunction):
        if f'"{hook}"' in inspect.getsource(method):
            return name
    return None


def _caller_and_suite(hook: str) -> tuple[str, str, str]:
    """Who calls ``hook`` (``Store`` for a destination hook, ``Registry`` for a backend hook), its
    method, and the conformance suite that must call that method."""
    for cls, suite in ((Store, "destination.py"), (Registry, "backend.py")):
        method = _method_of(cls, hook)
        if method is not None:
            return cls.__name__, method, suite
    raise AssertionError(f"neither Store nor Registry calls {hook}")


HANDLES = ("Store", "Registry")


def _handles_in(function: ast.FunctionDef) -> dict[str, str]:
    """The names in ``function`` that hold a Store or Registry, by type: parameters and
    variables annotated so, and variables assigned ``<registry>.open(...)`` or ``get_registry()``."""
    def annotated(node: ast.expr | None) -> str | None:
        return node.id if isinstance(node, ast.Name) and node.id in HANDLES else None

    args = function.args
    names = {a.arg: annotated(a.annotation) for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
    for node in ast.walk(function):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = annotated(node.annotation)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = node.value.func
            kind = None
            if isinstance(func, ast.Name) and func.id == "get_registry":
                kind = "Registry"
            elif isinstance(func, ast.Attribute) and func.attr == "open" and isinstance(func.value, ast.Name):
                kind = "Store" if names.get(func.value.id) == "Registry" else None
            for target in node.targets:
                if isinstance(target, ast.Name) and kind:
                    names[target.id] = kind
    return {name: kind for name, kind in names.items() if kind}


def _called_methods(source: Path) -> set[tuple[str, str]]:
    """``(type, method)`` for each method called on a Store or Registry in ``source`` (a call on
    anything else, such as the suite's own helper of the same name, does not count)."""
    tree = ast.parse(source.read_text(encoding="utf-8"))
    called = set()
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        handles = _handles_in(function)
        for node in ast.walk(function):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in handles
            ):
                called.add((handles[node.func.value.id], node.func.attr))
    return called


def test_there_are_hookspecs():
    assert {"hayakoe_fetch", "hayakoe_stage", "hayakoe_promote", "hayakoe_load_runtime"} <= set(SPECS)


@pytest.mark.parametrize("hook", SPECS)
def test_every_hook_has_a_docstring_contract(hook):
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert len(doc.split()) >= 15, f"{hook} needs a docstring that states its contract"


@pytest.mark.parametrize("hook", sorted(set(SPECS) - REGISTRY_HOOKS))
def test_every_hook_is_exercised_by_a_conformance_suite(hook):
    """Destination hooks by DestinationConformance (through Store), backend hooks by
    BackendConformance (through Registry)."""
    owner, method, suite = _caller_and_suite(hook)
    called = _called_methods(SUITES / suite)
    assert (owner, method) in called, f"{suite} never calls {owner}.{method} ({hook})"


def test_only_calls_on_a_store_or_registry_count(tmp_path):
    suite = tmp_path / "suite.py"
    suite.write_text(
        "class Suite:\n"
        "    def fetch(self, store: Store, cache):\n"
        "        return self.stage(cache), helper.promote(), store.read_file('x')\n"
        "    def test(self, registry: Registry, url):\n"
        "        opened = registry.open(url)\n"
        "        opened.discard(None)\n"
        "        get_registry().load_runtime()\n"
        "        process = get_registry()\n"
        "        process.load_bert()\n"
    )
    assert _called_methods(suite) == {
        ("Store", "read_file"), ("Registry", "open"), ("Store", "discard"), ("Registry", "load_bert")
    }


def test_backend_hooks_are_among_those_checked():
    backend_hooks = {h for h in SPECS if h not in REGISTRY_HOOKS and _caller_and_suite(h)[2] == "backend.py"}
    assert backend_hooks == {
        "hayakoe_prepare_files", "hayakoe_load_runtime", "hayakoe_load_bert", "hayakoe_check_files"
    }


def test_every_capability_names_real_hooks():
    for capability in (*Capability, *BackendCapability):
        assert set(capability.value) <= set(SPECS), capability


# --- hook names live in the registry alone ------------------------------------------------------

ROOT = Path(hookspecs.__file__).resolve().parents[1]
SOURCE_FOLDERS = ("hayakoe_core", "hayakoe", "plugins", "examples", "scripts", "bench")
#: the modules that may spell hook names: the specs themselves and the registry routing calls to them
HOOK_NAME_OWNERS = {ROOT / "hayakoe_core" / "registry.py", ROOT / "hayakoe_core" / "hookspecs.py"}
_HOOK_WORD = re.compile(r"\bhayakoe_[a-z_]+\b")


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the string constants that are module, class or function docstrings."""
    kinds = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    return {
        id(node.body[0].value) for node in ast.walk(tree)
        if isinstance(node, kinds) and node.body and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant) and isinstance(node.body[0].value.value, str)
    }


def _hook_names_in_strings(path: Path) -> list[str]:
    """``path:line: name`` for each hookspec named in a string literal (docstrings aside)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    docs = _docstrings(tree)
    return [
        f"{path.relative_to(ROOT)}:{node.lineno}: {name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
        for name in _HOOK_WORD.findall(node.value)
        if name in SPECS
    ]


def test_hook_names_are_spelt_only_in_the_registry():
    """Callers ask a Store or the Registry (``supports``, ``backend_supports``, one method per
    hook) instead of naming hooks: a name in a string elsewhere is one the registry cannot check."""
    files = [p for folder in SOURCE_FOLDERS for p in sorted((ROOT / folder).rglob("*.py"))]
    assert ROOT / "plugins" / "hayakoe_dest_s3" / "hayakoe_dest_s3" / "plugin.py" in files
    assert _hook_names_in_strings(ROOT / "hayakoe_core" / "registry.py"), "the check finds nothing"
    found = [hit for path in files if path not in HOOK_NAME_OWNERS for hit in _hook_names_in_strings(path)]
    assert not found, "hook names outside the registry:\n" + "\n".join(found)


def test_read_readme_is_not_a_hook():
    """Core reads README.md with ``read_file``; plugins implement no hook of their own for it."""
    assert "hayakoe_read_readme" not in SPECS and not hasattr(hookspecs, "hayakoe_read_readme")


def test_every_hook_belongs_to_one_capability():
    """Each storage and backend hook is reachable through a ``supports`` query."""
    named = [h for c in (*Capability, *BackendCapability) for h in c.value]
    assert sorted(named) == sorted(set(SPECS) - REGISTRY_HOOKS)
