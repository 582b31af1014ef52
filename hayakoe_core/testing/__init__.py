"""Conformance suites that plugins run against themselves (pytest), importable by third parties.

* :class:`DestinationConformance` — every destination plugin (:mod:`.destination`).

A plugin author subclasses a suite in a test module and provides the fixture it asks for; the
suite checks only the hooks the plugin implements.
"""

from hayakoe_core.testing.destination import DestinationConformance, read_tree, write_tree

__all__ = ["DestinationConformance", "read_tree", "write_tree"]
