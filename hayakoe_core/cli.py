"""The ``hayakoe`` command line.

Errors a user can cause (:class:`HayakoeError`) are printed as one line with a non-zero exit and no
traceback; anything else is a bug and keeps its traceback. No secret is printed either way: the
line is redacted, and so is every exception chained to a bug's traceback. Plugins add no
subcommands: publishing is one ``hayakoe publish --to URL`` whose URL scheme picks the destination
plugin.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

import click

from hayakoe_core import __version__, interrupts
from hayakoe_core.errors import ArgumentError, HayakoeError, NotFoundError, redact, scrub
from hayakoe_core.layout import is_repo_root
from hayakoe_core.registry import Store, get_registry

INTERRUPTED = 130  #: exit status of a command a Ctrl-C ended (128 + SIGINT, as shells report it)


class _UsageLine(click.UsageError):
    """A usage error shown as one line (click's own adds the usage and a hint: three lines)."""

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else ctx.command_path
            raise _UsageLine(f"{exc.format_message()} (see {where} --help)") from None
        except HayakoeError as exc:
            line = redact(str(exc)).strip().splitlines()
            raise click.ClickException(line[0] if line else type(exc).__name__) from None
        except Exception as exc:
            scrub(exc)
            raise


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
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
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="hayakoe plugins")
    for column in ("name", "kind", "provides", "distribution", "version", "extra", "status"):
        table.add_column(column, overflow="fold")
    for r in records:
        provides = (
            ", ".join(f"{s}://" for s in r["schemes"])
            if r["schemes"]
            else (f"backend {r['backend']} ({r['repo_folder']}/)" if r["backend"] else "")
        )
        status = f"[red]error: {escape(r['error'])}[/red]" if r["error"] else "[green]ok[/green]"
        extra = f"hayakoe[{r['extra']}]" if r["extra"] else ""
        table.add_row(
            *(escape(cell) for cell in (r["name"], r["kind"] or "?", provides)),
            *(escape(cell) for cell in (r["distribution"] or "", r["version"] or "", extra)),
            status,
        )
    # Not a terminal (a pipe, a file, CI): as wide as the table needs, nothing cut at 80 columns.
    console = Console() if sys.stdout.isatty() else Console(width=10_000)
    console.print(table)
    for conflict in registry.conflicts:
        console.print(f"[red]conflict:[/red] {escape(conflict)}")


@cli.command("list")
@click.argument("url")
def list_speakers(url: str) -> None:
    """List the speakers published at URL (hf://org/repo, s3://bucket/prefix, a folder, ...)."""
    registry = get_registry()
    store = registry.open(url)
    speakers = store.list_speakers()
    if not speakers:
        _explain_empty(store)
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
@click.option("-o", "--out", "out", default="out.wav", show_default=True, help="A .wav file to write.")
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
    from hayakoe_core.speaker import check_speed
    from hayakoe_core.tts import TTS

    _writable_wav(out)
    check_speed(speed)
    if not text.strip():
        raise ArgumentError("TEXT is empty: give the text to read, e.g. hayakoe say 'こんにちは。' ...")
    tts = TTS(device, cache_dir=cache_dir, bert_source=bert_source, backend=backend, offline=offline)
    speaker = tts.load(name, source=source).prepare().speakers[name]
    audio = speaker.generate(text, style=style, speed=speed)
    path = audio.save(out)
    click.echo(f"{path}: {audio.duration:.2f} s at {audio.sr} Hz ({tts.backend} backend, {device})")


@cli.command()
@click.option(
    "--folder", type=click.Path(file_okay=False),
    help="Speaker folder (config.json, style_vectors.npy, *.safetensors).",
)
@click.option("--dataset", help="A dataset under the data root (data/dataset/<name>/exports/<model>/).")
@click.option(
    "--data-root", type=click.Path(file_okay=False),
    help="Where datasets live (default $HAYAKOE_DATA_ROOT or ./data/dataset).",
)
@click.option("--checkpoint", help="Checkpoint file name in the folder (needed when there are several).")
@click.option(
    "--name",
    help="Speaker name at the destination (default: the folder's, lower-cased and hyphenated).",
)
@click.option(
    "--backend", type=click.Choice(["cpu", "gpu", "both"]),
    help="cpu: ONNX files; gpu: PyTorch files; both (default).",
)
@click.option("--to", "to", help="Destination URL: hf://org/repo[@branch], s3://bucket/prefix, a folder.")
@click.option(
    "--bert-source",
    help="Where the shared BERT comes from (default $HAYAKOE_BERT_SOURCE, then the destination's "
    "own, then upstream's).",
)
@click.option(
    "--license", "license_",
    help="License id for the README's metadata (default: kept, else other).",
)
@click.option(
    "--readme", type=click.Choice(["create", "update", "keep"]),
    help="What to do with a README.md that differs.",
)
@click.option("--overwrite", is_flag=True, help="Replace the speaker if the destination has it.")
@click.option(
    "--no-verify", is_flag=True,
    help="Promote without loading the staged copy first (the receipt says unverified).",
)
@click.option(
    "--verify-dir", default=".verify_audio", show_default=True, type=click.Path(file_okay=False),
    help="Where the verification wavs go.",
)
@click.option("--dry-run", is_flag=True, help="Build everything, send nothing; print the plan.")
@click.option("--json", "as_json", is_flag=True, help="Print the receipt as JSON (implies --yes).")
@click.option("-y", "--yes", is_flag=True, help="Never prompt: a missing answer is an error naming its flag.")
def publish(
    folder: str | None,
    dataset: str | None,
    data_root: str | None,
    checkpoint: str | None,
    name: str | None,
    backend: str | None,
    to: str | None,
    bert_source: str | None,
    license_: str | None,
    readme: str | None,
    overwrite: bool,
    no_verify: bool,
    verify_dir: str,
    dry_run: bool,
    as_json: bool,
    yes: bool,
) -> None:
    """Publish a trained speaker: export, check, stage, verify from the staged copy, then make it live."""
    from hayakoe_core.publish import command
    from hayakoe_core.publish.request import Answers

    answers = Answers(
        folder=folder, dataset=dataset, data_root=data_root, checkpoint=checkpoint, name=name,
        backend=backend, to=to, bert_source=bert_source, license=license_, readme=readme,  # type: ignore[arg-type]
        overwrite=overwrite, verify=not no_verify, verify_dir=verify_dir,
    )  # fmt: skip
    mode = command.Mode(command.can_prompt(yes, as_json), dry_run=dry_run, as_json=as_json)
    try:
        receipt = command.run(answers, mode)
    except Exception:
        if not interrupts.interrupt_came():
            raise
        _interrupted()
    except KeyboardInterrupt:
        _interrupted()
    if receipt is None:
        sys.exit(1)


def _interrupted() -> NoReturn:
    """The end of a publish a Ctrl-C cut short (whatever error a library made of it)."""
    click.echo("interrupted: nothing half-visible was left at the destination; running the same "
               "command again is safe", err=True)  # fmt: skip
    sys.exit(INTERRUPTED)


def _duration(ctx: click.Context, param: click.Parameter, text: str) -> timedelta:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if match is None:
        raise click.BadParameter("write a number with s, m, h or d, e.g. 24h or 30m")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "": "hours"}[match[2]]
    return timedelta(**{unit: float(match[1])})


def _human(age: timedelta) -> str:
    seconds = age.total_seconds()
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds:g} s"


@cli.command()
@click.argument("url")
@click.option(
    "--older-than", default="24h", show_default=True, callback=_duration,
    help="Only what a publish left behind longer ago than this (e.g. 30m, 24h, 2d).",
)  # fmt: skip
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
@click.option(
    "--force-unlock", is_flag=True,
    help="Also break the destination's publish lock or lease now, even if it has not expired "
    "(only when no publish is running).",
)  # fmt: skip
def cleanup(url: str, older_than: timedelta, dry_run: bool, force_unlock: bool) -> None:
    """Remove what crashed publishes left at URL: stale staging areas (and, on S3, incomplete
    multipart uploads). Live speakers are never touched."""
    from hayakoe_core.registry import Capability

    store = get_registry().open(url)
    if not store.supports(Capability.CLEANUP):
        raise HayakoeError(f"the {store.info.name} destination keeps no staging areas: nothing to clean up")
    found = store.cleanup(older_than, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for line in found:
        click.echo(f"{verb}: {line}")
    if not found:
        click.echo(f"nothing older than {_human(older_than)} to clean up at {store.url}")
    if force_unlock:
        if not store.supports(Capability.UNLOCK):
            click.echo(f"{store.url} needs no unlocking: its lock is released when a publisher exits")
        elif dry_run:
            click.echo("--dry-run: the lock was left alone")
        else:
            click.echo(f"unlocked: {store.unlock() or 'nothing was held'}")


def _explain_empty(store: Store) -> None:
    """Raise a clear error when an empty listing of a local folder is really a wrong path."""
    if store.target.scheme != "file":
        return
    folder = Path(store.target.location)
    if not folder.exists():
        raise NotFoundError(f"{folder} does not exist")
    if not folder.is_dir():
        raise NotFoundError(f"{folder} is not a folder")
    if not any(folder.iterdir()):
        return  # an empty folder is an empty destination
    nearby = _repo_near(folder)
    where = f"; a repo was found at {nearby}: hayakoe list {nearby}" if nearby else ""
    raise NotFoundError(f"{folder} holds no repo layout (<backend>/speakers/<name>/){where}")


def _repo_near(folder: Path, up: int = 3, down: int = 2) -> Path | None:
    """A repo root among ``folder``'s ancestors (``up`` levels) or descendants (``down`` levels)."""
    for ancestor in list(folder.parents)[:up]:
        if is_repo_root(ancestor):
            return ancestor
    level = [folder]
    for _ in range(down):
        level = sorted(c for f in level for c in f.iterdir() if c.is_dir() and not c.name.startswith("."))
        found = next((c for c in level if is_repo_root(c)), None)
        if found is not None:
            return found
    return None


def _writable_wav(out: str) -> Path:
    """``out`` checked before any work: a ``.wav`` path in a folder this process can write to."""
    path = Path(out).expanduser()
    if path.is_dir():
        raise HayakoeError(f"-o {out} is a folder; give a file path ending in .wav")
    if path.suffix.lower() != ".wav":
        raise HayakoeError(f"-o {out}: hayakoe say writes 16-bit WAV; give a path ending in .wav")
    existing = next(p for p in (path.absolute(), *path.absolute().parents) if p.exists())
    if existing != path.absolute() and not existing.is_dir():
        raise HayakoeError(f"-o {out}: {existing} is a file, not a folder")
    probe = existing if existing.is_dir() else existing.parent
    try:
        tempfile.TemporaryFile(dir=probe).close()
    except OSError as exc:
        raise HayakoeError(f"-o {out}: cannot write in {probe} ({exc.strerror})") from None
    if path.exists() and not os.access(path, os.W_OK):
        raise HayakoeError(f"-o {out}: the file exists and cannot be overwritten")
    return path


def main() -> None:
    """Console-script entry point.

    A command a Ctrl-C ended does not wait for worker threads the interrupt left running (an
    upload waiting for the store's answer to bytes already in the socket's buffers, up to the read
    timeout): once it has said it was interrupted, the process ends at once, as a kill would end
    it, which every command has made safe (a publish's next run discards what such a thread
    staged)."""
    interrupts.install()
    try:
        cli(prog_name="hayakoe")
    except SystemExit as done:
        others = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
        if done.code == INTERRUPTED and any(t.is_alive() for t in others):
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(INTERRUPTED)
        raise
