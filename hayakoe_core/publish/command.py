"""``hayakoe publish`` as a person meets it: questions when there is a terminal, a summary, the
pipeline with progress, and the result — the load line to copy, or the receipt as JSON.

Without a terminal (or with ``--yes``/``--json``) nothing is asked: a missing answer is a one-line
error naming its flag. Values typed at the prompts are saved to ``.env`` only when the user
agrees and only after validation passed. Output that is not the result goes to stderr.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from hayakoe_core.progress import NullProgress, Progress, default_progress
from hayakoe_core.publish import interactive
from hayakoe_core.publish.envfile import env_file, load_env_file, save_env_values
from hayakoe_core.publish.pipeline import Inspection, Pipeline
from hayakoe_core.publish.plan import Receipt
from hayakoe_core.publish.readme import diff_renderable, load_line, readme_diff
from hayakoe_core.publish.request import Answers, make_plan
from hayakoe_core.registry import Registry, get_registry


@dataclass(frozen=True)
class Mode:
    """How the command runs: ``interactive`` (ask what is missing), ``dry_run``, ``as_json``."""

    interactive: bool
    dry_run: bool = False
    as_json: bool = False


def can_prompt(yes: bool, as_json: bool) -> bool:
    """Prompts need a terminal on both ends, and no ``--yes`` / ``--json``."""
    return not yes and not as_json and sys.stdin.isatty() and sys.stdout.isatty()


def run(answers: Answers, mode: Mode, *, registry: Registry | None = None) -> Receipt | None:
    """Publish as the CLI does; returns the receipt, or ``None`` when the user declined."""
    registry = registry or get_registry()
    console = Console(stderr=True, highlight=False)
    load_env_file()
    typed: dict[str, str] = {}
    if mode.interactive:
        session = interactive.ask(answers, registry)
        answers, typed = session.answers, session.typed
    plan = make_plan(answers, registry)
    progress: Progress = NullProgress() if mode.as_json else default_progress()
    pipeline = Pipeline(plan, registry=registry, progress=progress, note=lambda text: console.print(text))
    pipeline.validate(probe=not mode.dry_run)
    if typed and not mode.dry_run and interactive.confirm(f"Save what you typed to {env_file()}?", True):
        save_env_values(typed)
        console.print(f"saved {', '.join(sorted(typed))} to {env_file()} (mode 0600)")
    inspection = pipeline.inspect()
    if not mode.as_json:
        console.print(summary(pipeline, inspection))
    if mode.interactive and not _settle_questions(pipeline, inspection, console):
        console.print("nothing was published")
        return None
    receipt = pipeline.execute(inspection, dry_run=mode.dry_run)
    if mode.as_json:
        print(receipt.to_json())
    else:
        _show_result(receipt, registry, console, dry_run=mode.dry_run)
    return receipt


def _settle_questions(pipeline: Pipeline, inspection: Inspection, console: Console) -> bool:
    """Ask what the plan leaves open (overwrite, README), then whether to start."""
    taken = pipeline.taken(inspection)
    if taken and not pipeline.plan.overwrite:
        if not interactive.confirm(f"Replace {', '.join(taken)} at {inspection.url}?", False):
            return False
        pipeline.answer(overwrite=True)
    new, action = pipeline.readme(inspection)
    if action is None:
        console.print(diff_renderable(readme_diff(inspection.readme, new)))
        choice = interactive.choose(
            "README.md differs", ["update (your text outside the block is kept)", "keep"]
        )
        pipeline.answer(readme="keep" if choice == "keep" else "update")
    return interactive.confirm("Start publishing?", True)


def summary(pipeline: Pipeline, inspection: Inspection) -> Panel:
    """The summary panel shown before anything is sent."""
    plan, registry = pipeline.plan, pipeline.registry
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    size = plan.checkpoint.stat().st_size
    rows = {
        "speaker folder": str(plan.folder),
        "checkpoint": f"{plan.checkpoint.name} (sha256 {plan.checkpoint_sha256[:12]}, {size / 1e6:.1f} MB)",
        "name": plan.name,
        "backends": ", ".join(f"{b} ({', '.join(registry.backend(b).devices)})" for b in plan.backends),
        "destination": plan.destination,
        "export": _export_line(pipeline),
        "replaces": ", ".join(pipeline.taken(inspection)) or "nothing (new speaker)",
        "BERT": _bert_line(pipeline, inspection),
        "README": pipeline.readme(inspection)[1] or "differs: asked below (or --readme)",
        "verification": f"{plan.verify_dir}/" if plan.verify else "skipped (--no-verify)",
    }
    for key, value in rows.items():
        table.add_row(key, value)
    return Panel(table, title="hayakoe publish", expand=False)


def _export_line(pipeline: Pipeline) -> str:
    if "onnx" not in pipeline.plan.backends:
        return "none (no ONNX backend)"
    if pipeline.source.onnx_graphs:
        return f"reuse {', '.join(g.name for g in pipeline.source.onnx_graphs)} after the parity check"
    return "ONNX export (a cached export of this checkpoint is reused), then the parity check"


def _bert_line(pipeline: Pipeline, inspection: Inspection) -> str:
    named = pipeline.plan.bert_source
    if named is None and inspection.bert is not None:
        return f"keep the destination's ({inspection.bert[:12]})"
    return f"from {named or 'the default source'}; sent only if the destination holds another"


def _show_result(receipt: Receipt, registry: Registry, console: Console, *, dry_run: bool) -> None:
    plan = receipt.plan
    if dry_run:
        console.print(f"dry run: nothing was sent to {plan.destination}")
        return
    sent = sum(f.size for f in receipt.files if f.transfer == "sent")
    console.print(
        f"published {plan.name} to {plan.destination} ({receipt.state}; "
        f"{sent / 1e6:.1f} MB sent{', UNVERIFIED' if receipt.unverified else ''})"
    )
    for check in receipt.verification:
        console.print(
            f"  {check.backend} on {check.device}: {check.wav} "
            f"({check.duration:.2f} s, {check.sample_rate} Hz)"
        )
    console.print("load it with:")
    for backend in plan.backends:
        print(load_line(plan.name, registry.backend(backend), plan.destination, bert=True))
