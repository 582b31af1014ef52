"""``python -m hayakoe``: the same as the ``hayakoe`` command."""

from hayakoe_core.cli import main

main()
