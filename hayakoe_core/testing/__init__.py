"""Conformance suites that plugins run against themselves (pytest), importable by third parties.

* :class:`DestinationConformance` — every destination plugin (:mod:`.destination`).
* :class:`BackendConformance` — every backend plugin (:mod:`.backend`).

A plugin author subclasses a suite in a test module and provides the fixtures it asks for; the
suite checks only the hooks the plugin implements.
"""

from hayakoe_core.testing.backend import BackendConformance, fixed_inputs
from hayakoe_core.testing.destination import DestinationConformance, read_tree, write_tree

__all__ = ["BackendConformance", "DestinationConformance", "fixed_inputs", "read_tree", "write_tree"]
