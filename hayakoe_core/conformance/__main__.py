"""Entry point: ``python -m hayakoe_core.conformance {model,g2p,bert} ...``."""

from __future__ import annotations

import importlib

import click

_SUBCOMMANDS = {
    "model": "synthesizer goldens (torch or onnx backend)",
    "g2p": "text frontend goldens",
    "bert": "BERT feature goldens",
}


class _LazyGroup(click.Group):
    """Imports a subcommand's module only when it runs, so each keeps its heavy imports."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_SUBCOMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in _SUBCOMMANDS:
            return None
        return importlib.import_module(f"hayakoe_core.conformance.{name}").command


@click.group(cls=_LazyGroup)
def main() -> None:
    """Check this implementation against upstream golden data; exit 0 only if all match."""


if __name__ == "__main__":
    main()
