"""hayakoe core: hookspecs, plugin registry, URL parsing, text frontend, runtime and CLI.

Core never imports a plugin; plugins are found through the ``hayakoe`` entry-point group.
"""

__version__ = "0.1.0"
