"""``python -m hayakoe_core.conformance bert GOLDEN_DIR [--bert-root DIR] [--json]``.

Checks the BERT feature path against upstream goldens in GOLDEN_DIR (``golden_index.json`` +
``golden.npz``, format described in the folder's README). Each case's ``bert_text`` comes from the
index and its ``word2ph_blank`` from the npz, so only the tokenizer, the encoder and the expansion
are under test. Cases, by npz key prefix:

- ``<id>`` (the index's ``whole`` record) and ``<id>_u<k>`` (``units_single[k]``): single-text
  path; compares ``input_ids``, ``attention_mask`` exactly and ``token_hidden``, ``bert`` within
  ``--atol``;
- ``<id>_batch`` (the ``batch`` record; word2ph from ``<id>_u<k>``): one padded call; compares the
  padded ids/mask, ``token_hidden`` ``[B, T, H]`` and every ``bert_<k>``.

Exit status: 0 all cases match, 1 some mismatch, 2 missing or unreadable files.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np

from hayakoe_core.errors import ConfigError, HayakoeError

INDEX_FILE = "golden_index.json"
ARRAYS_FILE = "golden.npz"
DEFAULT_BERT_ROOT = "tiny"


@dataclass(frozen=True)
class Case:
    """One golden case: the texts fed in one encoder call and the npz prefix of each expectation."""

    name: str
    texts: list[str]
    word2ph: list[np.ndarray]
    batched: bool


@dataclass(frozen=True)
class Outcome:
    """A case's result: the largest float difference per compared array and the first failure."""

    name: str
    max_abs_diff: dict[str, float]
    first_difference: str | None

    @property
    def match(self) -> bool:
        return self.first_difference is None


def load_cases(golden_dir: Path) -> tuple[list[Case], Any]:
    """The cases listed in ``golden_index.json`` and the opened ``golden.npz``.

    Raises :class:`ConfigError` when either file is missing, unreadable or inconsistent.
    """
    index_path, arrays_path = golden_dir / INDEX_FILE, golden_dir / ARRAYS_FILE
    for path in (index_path, arrays_path):
        if not path.is_file():
            raise ConfigError(f"missing golden file: {path}")
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
        arrays = np.load(arrays_path, allow_pickle=False)
        cases = list(_cases(index["cases"], arrays))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ConfigError(f"unreadable golden data in {golden_dir}: {err!r}") from None
    return cases, arrays


def _cases(index: dict[str, Any], arrays: Any) -> Iterator[Case]:
    def w2p(prefix: str) -> np.ndarray:
        return arrays[f"{prefix}__word2ph_blank"]

    for cid, record in index.items():
        yield Case(cid, [record["whole"]["bert_text"]], [w2p(cid)], batched=False)
        for k, unit in enumerate(record.get("units_single", [])):
            name = f"{cid}_u{k}"
            yield Case(name, [unit["bert_text"]], [w2p(name)], batched=False)
        if "batch" in record:
            texts = record["batch"]["bert_texts"]
            word2ph = [w2p(f"{cid}_u{k}") for k in range(len(texts))]
            yield Case(f"{cid}_batch", texts, word2ph, batched=True)


def check_case(extractor: Any, case: Case, arrays: Any, atol: float) -> Outcome:
    """Run ``case`` through ``extractor`` (a ``BertFeatureExtractor``) and compare with ``arrays``."""
    encoded = extractor.encode(case.texts)
    hidden = encoded.hidden_states if case.batched else encoded.hidden_states[0]
    got: list[tuple[str, np.ndarray, bool]] = [
        ("input_ids", encoded.tokens.input_ids, True),
        ("attention_mask", encoded.tokens.attention_mask, True),
        ("token_hidden", hidden, False),
    ]
    expand_error: str | None = None
    try:
        features = extractor.expand(encoded, case.word2ph)
    except ValueError as err:
        expand_error, features = f"bert: {err}", []
    if case.batched:
        got += [(f"bert_{k}", f, False) for k, f in enumerate(features)]
    elif features:
        got.append(("bert", features[0], False))
    diffs: dict[str, float] = {}
    first: str | None = None
    for key, value, exact in got:
        want = arrays[f"{case.name}__{key}"]
        problem, diff = compare(value, want, 0.0 if exact else atol)
        if not exact and diff is not None:
            diffs[key] = diff
        if problem and first is None:
            first = f"{key}{problem}"
    return Outcome(case.name, diffs, first or expand_error)


def compare(got: np.ndarray, want: np.ndarray, atol: float) -> tuple[str | None, float | None]:
    """(first difference as text or ``None``, max abs difference or ``None`` if shapes differ)."""
    if got.shape != want.shape:
        return f": shape {list(got.shape)} != golden {list(want.shape)}", None
    delta = np.abs(got.astype(np.float64) - want.astype(np.float64))
    max_diff = float(delta.max()) if delta.size else 0.0
    bad = np.argwhere(~(delta <= atol))
    if not len(bad):
        return None, max_diff
    where = tuple(int(i) for i in bad[0])
    at = ", ".join(map(str, where))
    return f"[{at}]: got {got[where]!r}, golden {want[where]!r} (max |diff| {max_diff:.3g})", max_diff


def _report_line(outcome: Outcome) -> str:
    diffs = ", ".join(f"{k} {v:.2g}" for k, v in outcome.max_abs_diff.items())
    if outcome.match:
        return f"{outcome.name}: match (max |diff| {diffs})"
    return f"{outcome.name}: MISMATCH {outcome.first_difference}"


@click.command()
@click.argument("golden_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--bert-root",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help=f"BERT source root to test (default: GOLDEN_DIR/{DEFAULT_BERT_ROOT}).",
)
@click.option("--atol", type=float, default=1e-4, show_default=True, help="Float tolerance.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of lines.")
def command(golden_dir: Path, bert_root: Path | None, atol: float, as_json: bool) -> None:
    """Check BERT tokenization and features against GOLDEN_DIR; exit 0 only if all match."""
    from hayakoe_core.bert import BertFeatureExtractor

    root = bert_root or golden_dir / DEFAULT_BERT_ROOT
    try:
        cases, arrays = load_cases(golden_dir)
        extractor = BertFeatureExtractor.from_source_root(root)
        outcomes = [check_case(extractor, case, arrays, atol) for case in cases]
    except HayakoeError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(2)
    except KeyError as err:
        click.echo(f"error: golden array {err} missing from {golden_dir / ARRAYS_FILE}", err=True)
        sys.exit(2)
    all_match = all(o.match for o in outcomes)
    if as_json:
        doc = {
            "golden_dir": str(golden_dir),
            "bert_root": str(root),
            "atol": atol,
            "all_match": all_match,
            "cases": [
                {
                    "case": o.name,
                    "match": o.match,
                    "max_abs_diff": o.max_abs_diff,
                    "first_difference": o.first_difference,
                }
                for o in outcomes
            ],
        }
        click.echo(json.dumps(doc, ensure_ascii=False, indent=1))
    else:
        for outcome in outcomes:
            click.echo(_report_line(outcome))
        click.echo(f"{sum(o.match for o in outcomes)}/{len(outcomes)} cases match")
    sys.exit(0 if all_match else 1)
