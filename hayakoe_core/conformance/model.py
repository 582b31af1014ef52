"""``python -m hayakoe_core.conformance model DIR --backend torch|onnx [--json]``.

Runs a backend's speaker runtime on every ``DIR/golden/case*.npz`` and compares each tensor the
golden holds and the backend's ``trace`` returns, with the table in :mod:`.tolerances`. The
runtime is loaded through the plugin registry, exactly as the product loads it.

Golden formats accepted as shipped: scalars shaped ``()`` or ``[1]``; durations stored as
``durations`` or (PyTorch goldens) ``durations_predict``; audio and durations with or without
their size-1 batch/channel axes (``audio`` [1, 1, L] or [L], durations [1, T] or [T]).

Exit status: 0 when every comparison passes, 1 when any fails, 2 when DIR, its goldens or the
backend cannot be used (one line on stderr).
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np

from hayakoe_core.conformance.tolerances import Tolerance, tolerance_for
from hayakoe_core.errors import HayakoeError
from hayakoe_core.synthesis import SynthesisInputs

_SEQUENCES = ("x", "tone", "language")
_SCALARS = ("noise_scale", "length_scale", "noise_scale_w", "sdp_ratio")
_REQUIRED = (*_SEQUENCES, "sid", "bert", "style_vec", *_SCALARS)
# Compared without their size-1 axes: goldens store them batched, runtimes may not.
_FLAT = frozenset({"audio", "durations", "durations_infer", "durations_predict"})


class GoldenError(HayakoeError):
    """A golden folder or file that is missing or malformed."""


@dataclass(frozen=True)
class TensorCheck:
    """One tensor of one case compared with its golden."""

    case: str
    name: str
    tolerance: Tolerance
    golden_shape: tuple[int, ...]
    actual_shape: tuple[int, ...] | None
    max_abs: float | None
    passed: bool

    @property
    def note(self) -> str | None:
        """Why a failed check could not be measured (missing tensor or shape mismatch)."""
        if self.actual_shape is None:
            return "not returned by the backend"
        if self.actual_shape != self.golden_shape:
            return f"shape {list(self.actual_shape)} != golden {list(self.golden_shape)}"
        return None

    def line(self) -> str:
        """``case tensor max_abs tolerance PASS|FAIL`` (plus the reason when unmeasurable)."""
        max_abs = "-" if self.max_abs is None else f"{self.max_abs:.3e}"
        verdict = "PASS" if self.passed else "FAIL"
        note = f" ({self.note})" if self.note else ""
        return f"{self.case} {self.name} {max_abs} {self.tolerance} {verdict}{note}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (``max_abs`` is ``null`` when unmeasurable)."""
        return {
            "tensor": self.name,
            "passed": self.passed,
            "max_abs": self.max_abs,
            "tolerance": {"kind": self.tolerance.kind, "value": self.tolerance.value},
            "golden_shape": list(self.golden_shape),
            "actual_shape": None if self.actual_shape is None else list(self.actual_shape),
            "note": self.note,
        }


def golden_cases(speaker_dir: Path) -> list[Path]:
    """The ``golden/case*.npz`` files of ``speaker_dir``, sorted; :class:`GoldenError` if none."""
    if not speaker_dir.is_dir():
        raise GoldenError(f"{speaker_dir}: no such speaker folder")
    cases = sorted((speaker_dir / "golden").glob("case*.npz"))
    if not cases:
        raise GoldenError(f"{speaker_dir / 'golden'}: no golden case*.npz files")
    return cases


def read_case(path: Path) -> tuple[SynthesisInputs, dict[str, np.ndarray]]:
    """The inputs a golden case feeds and every tensor it stores (durations also as
    ``durations``)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            golden = {name: npz[name] for name in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise GoldenError(f"{path}: unreadable golden ({exc})") from None
    missing = [name for name in _REQUIRED if name not in golden]
    if missing:
        raise GoldenError(f"{path}: golden lacks the inputs {missing}")
    if "durations" not in golden and "durations_predict" in golden:
        golden["durations"] = golden["durations_predict"]
    sequences = {name: golden[name].reshape(-1).astype(np.int64) for name in _SEQUENCES}
    bert = golden["bert"].astype(np.float32)
    inputs = SynthesisInputs(
        **sequences,
        bert=bert.reshape(bert.shape[-2:]),
        style_vec=golden["style_vec"].reshape(-1).astype(np.float32),
        sid=int(golden["sid"].reshape(-1)[0]),
        **{name: float(golden[name].reshape(-1)[0]) for name in _SCALARS},
    )
    return inputs, golden


def compare_case(
    case: str, golden: dict[str, np.ndarray], traced: dict[str, np.ndarray]
) -> list[TensorCheck]:
    """Check every tensor both sides have, plus ``audio``, which a backend must always return."""
    names = sorted(set(golden) & set(traced) | ({"audio"} & set(golden)))
    return [_check(case, name, golden[name], traced.get(name)) for name in names]


def _check(case: str, name: str, golden: np.ndarray, actual: np.ndarray | None) -> TensorCheck:
    if name in _FLAT:
        golden = golden.reshape(-1)
        actual = None if actual is None else np.asarray(actual).reshape(-1)
    tolerance = tolerance_for(name, golden)
    actual_shape = None if actual is None else tuple(np.shape(actual))
    max_abs = None
    if actual is not None and actual_shape == golden.shape:
        diff = np.abs(np.asarray(actual, dtype=np.float64) - golden.astype(np.float64))
        max_abs = float(diff.max()) if diff.size else 0.0
    passed = actual is not None and tolerance.accepts(golden, np.asarray(actual))
    return TensorCheck(case, name, tolerance, golden.shape, actual_shape, max_abs, passed)


def run_conformance(speaker_dir: Path, backend: str) -> list[TensorCheck]:
    """Load ``speaker_dir`` with ``backend`` via the registry and check every golden case.

    Raises :class:`HayakoeError` (``GoldenError``, ``PluginError``, ``ConfigError``) when the
    folder, its goldens or the backend cannot be used.
    """
    from hayakoe_core.registry import get_registry

    cases = golden_cases(speaker_dir)
    runtime = get_registry().load_runtime(backend, speaker_dir, device="cpu")
    checks: list[TensorCheck] = []
    for path in cases:
        inputs, golden = read_case(path)
        checks.extend(compare_case(path.stem, golden, runtime.trace(inputs)))
    return checks


def report(speaker_dir: Path, backend: str, checks: list[TensorCheck]) -> dict[str, Any]:
    """The ``--json`` report: overall verdict and, per case, every tensor check."""
    cases: dict[str, list[TensorCheck]] = {}
    for check in checks:
        cases.setdefault(check.case, []).append(check)
    return {
        "speaker_dir": str(speaker_dir),
        "backend": backend,
        "passed": all(c.passed for c in checks),
        "cases": [
            {
                "case": case,
                "passed": all(c.passed for c in group),
                "tensors": [c.as_dict() for c in group],
            }
            for case, group in cases.items()
        ],
    }


@click.command(name="model")
@click.argument("speaker_dir", metavar="DIR", type=click.Path(path_type=Path))
@click.option("--backend", required=True, help="Backend plugin to run: torch or onnx.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable report.")
@click.pass_context
def command(ctx: click.Context, speaker_dir: Path, backend: str, as_json: bool) -> None:
    """Check a speaker folder's backend runtime against DIR/golden/case*.npz."""
    try:
        checks = run_conformance(speaker_dir, backend)
    except HayakoeError as exc:
        click.echo(f"error: {exc}", err=True)
        ctx.exit(2)
    passed = all(c.passed for c in checks)
    if as_json:
        click.echo(json.dumps(report(speaker_dir, backend, checks), indent=2))
    else:
        for check in checks:
            click.echo(check.line())
        failed = sum(not c.passed for c in checks)
        cases = len({c.case for c in checks})
        click.echo(f"{len(checks)} checks in {cases} cases: {failed} failed")
    ctx.exit(0 if passed else 1)
