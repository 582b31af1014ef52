"""Meta-tests: every hook is a documented contract, and the conformance suites exercise it.

A third party learns the plugin surface from hookspecs.py and proves a plugin with the importable
suites, so a hook without a docstring, or one the suites never call, is a hole in the contract.
"""

import ast
import inspect
from pathlib import Path

import pytest

from hayakoe_core import hookspecs, registry
from hayakoe_core.registry import Capability, Store

SPECS = sorted(
    name for name, obj in vars(hookspecs).items()
    if name.startswith("hayakoe_") and callable(obj) and hasattr(obj, "hayakoe_spec")
)
SUITES = Path(hookspecs.__file__).parent / "testing"
# Hooks every plugin answers while it is loaded and every URL is parsed: the registry calls them.
REGISTRY_HOOKS = {"hayakoe_destination", "hayakoe_backend", "hayakoe_parse_url"}


def _store_method_of(hook: str) -> str:
    """The Store method that calls ``hook``."""
    for name, method in inspect.getmembers(Store, inspect.isfunction):
        if f'"{hook}"' in inspect.getsource(method):
            return name
    raise AssertionError(f"no Store method calls {hook}")


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


@pytest.mark.parametrize("hook", SPECS)
def test_every_destination_hook_is_exercised_by_the_conformance_suite(hook):
    if hook in REGISTRY_HOOKS or f'"{hook}"' in inspect.getsource(registry.Registry):
        pytest.skip("a registry or backend hook")
    method = _store_method_of(hook)
    assert method in _called_methods(SUITES / "destination.py"), (
        f"DestinationConformance never calls Store.{method} ({hook})"
    )


def test_every_capability_names_real_hooks():
    for capability in Capability:
        assert set(capability.value) <= set(SPECS), capability
