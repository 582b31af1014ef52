"""The ``hayakoe`` command line.

Errors a user can cause (:class:`HayakoeError`) are printed as one line with a non-zero exit and no
traceback; anything else is a bug and keeps its traceback. Plugins add no subcommands: publishing
is one ``hayakoe publish --to URL`` whose URL scheme picks the destination plugin.
"""

from __future__ import annotations

import json
from typing import Any

import click

from hayakoe_core import __version__
from hayakoe_core.errors import HayakoeError
from hayakoe_core.registry import get_registry


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HayakoeError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="hayakoe")
def cli() -> None:
    """Publish Style-Bert-VITS2 JP-Extra speakers and load them back anywhere."""


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins(as_json: bool) -> None:
    """List installed plugins: distribution, version, kind, what they provide, load errors."""
    registry = get_registry()
    records = [r.as_dict() for r in registry.records]
    if as_json:
        click.echo(json.dumps({"plugins": records, "conflicts": registry.conflicts}, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="hayakoe plugins")
    for column in ("name", "kind", "provides", "distribution", "version", "extra", "status"):
        table.add_column(column)
    for r in records:
        provides = (
            ", ".join(f"{s}://" for s in r["schemes"])
            if r["schemes"]
            else (f"backend {r['backend']} ({r['repo_folder']}/)" if r["backend"] else "")
        )
        status = f"[red]error: {r['error']}[/red]" if r["error"] else "[green]ok[/green]"
        extra = f"hayakoe[{r['extra']}]" if r["extra"] else ""
        table.add_row(
            r["name"],
            r["kind"] or "?",
            provides,
            r["distribution"] or "",
            r["version"] or "",
            extra,
            status,
        )
    console = Console()
    console.print(table)
    for conflict in registry.conflicts:
        console.print(f"[red]conflict:[/red] {conflict}")


@cli.command("list")
@click.argument("url")
def list_speakers(url: str) -> None:
    """List the speakers published at URL (hf://org/repo, s3://bucket/prefix, a folder, ...)."""
    registry = get_registry()
    target = registry.parse_url(url)
    speakers = registry.call(target, "hayakoe_list_speakers")
    if not speakers:
        click.echo(f"no speakers at {target.url}")
        return
    folders = {b.repo_folder: b.name for b in registry.backends()}
    for folder, names in speakers.items():
        label = f"{folder}/ ({folders[folder]} backend)" if folder in folders else f"{folder}/"
        click.echo(f"{label}: {', '.join(names)}")


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="hayakoe")
