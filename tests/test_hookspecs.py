"""Meta-tests: every hook is a documented contract, and the conformance suites exercise it.

A third party learns the plugin surface from hookspecs.py and proves a plugin with the importable
suites, so a hook without a docstring, or one the suites never call, is a hole in the contract.
"""

import ast
import inspect
from pathlib import Path

import pytest

from hayakoe_core import hookspecs
from hayakoe_core.registry import Capability, Registry, Store

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


def _called_methods(source: Path) -> set[str]:
    tree = ast.parse(source.read_text(encoding="utf-8"))
    return {
        node.func.attr for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }


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
    assert method in _called_methods(SUITES / suite), f"{suite} never calls {owner}.{method} ({hook})"


def test_backend_hooks_are_among_those_checked():
    backend_hooks = {h for h in SPECS if h not in REGISTRY_HOOKS and _caller_and_suite(h)[2] == "backend.py"}
    assert backend_hooks == {
        "hayakoe_prepare_files", "hayakoe_load_runtime", "hayakoe_load_bert", "hayakoe_check_files"
    }


def test_every_capability_names_real_hooks():
    for capability in Capability:
        assert set(capability.value) <= set(SPECS), capability
