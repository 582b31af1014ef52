"""hayakoe: publish Style-Bert-VITS2 JP-Extra speakers and load them back with one line.

This package is the public facade; the implementation lives in ``hayakoe_core`` and the plugins.
"""

from hayakoe_core import __version__

__all__ = ["__version__"]
