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
    store = registry.open(url)
    speakers = store.list_speakers()
    if not speakers:
        click.echo(f"no speakers at {store.url}")
        return
    folders = {b.repo_folder: b.name for b in registry.backends() if b.files_from is None}
    for folder, names in speakers.items():
        label = f"{folder}/ ({folders[folder]} backend)" if folder in folders else f"{folder}/"
        click.echo(f"{label}: {', '.join(names)}")


def _installed_backend(ctx: click.Context, param: click.Parameter, name: str | None) -> str | None:
    """``--backend``: the name of a backend the registry has (it lists them when not)."""
    if name is not None:
        try:
            get_registry().backend(name)
        except HayakoeError as exc:
            raise click.BadParameter(str(exc)) from None
    return name


@cli.command()
@click.argument("text")
@click.option("--source", required=True, help="Where the speaker is published (hf://…, s3://…, a folder).")
@click.option("--speaker", "name", required=True, help="Speaker name at the source.")
@click.option("-o", "--out", "out", default="out.wav", show_default=True, type=click.Path(dir_okay=False))
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda.")
@click.option(
    "--backend", callback=_installed_backend, help="Force an installed backend (see `hayakoe plugins`)."
)
@click.option("--bert-source", help="Where the shared BERT comes from (default: see README).")
@click.option("--cache-dir", type=click.Path(file_okay=False), help="Cache root (default $HAYAKOE_CACHE).")
@click.option("--style", default="Neutral", show_default=True)
@click.option("--speed", default=1.0, show_default=True, type=float, help="Bigger is slower.")
@click.option("--offline", is_flag=True, help="Use only what is in the cache.")
def say(
    text: str,
    source: str,
    name: str,
    out: str,
    device: str,
    backend: str | None,
    bert_source: str | None,
    cache_dir: str | None,
    style: str,
    speed: float,
    offline: bool,
) -> None:
    """Load a speaker from SOURCE and synthesise TEXT to a 16-bit WAV file."""
    from hayakoe_core.tts import TTS

    tts = TTS(device, cache_dir=cache_dir, bert_source=bert_source, backend=backend, offline=offline)
    speaker = tts.load(name, source=source).prepare().speakers[name]
    audio = speaker.generate(text, style=style, speed=speed)
    path = audio.save(out)
    click.echo(f"{path}: {audio.duration:.2f} s at {audio.sr} Hz ({tts.backend} backend, {device})")


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="hayakoe")
