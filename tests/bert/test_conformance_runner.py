"""``python -m hayakoe_core.conformance bert``: pass, fail, --json and missing files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hayakoe_core.conformance.bert import command
from tests.bert.golden import GOLDEN_DIR, TINY_ROOT, arrays

REPO = Path(__file__).resolve().parents[2]
N_CASES = 10  # s02 s18 s20 s35 s36, s36_u0..3, s36_batch


def _tampered(tmp_path: Path, **changes: tuple[tuple[int, ...], float]) -> Path:
    """A copy of the goldens (without the BERT root) with single values changed."""
    golden = tmp_path / "golden"
    golden.mkdir()
    shutil.copy(GOLDEN_DIR / "golden_index.json", golden)
    data = dict(arrays())
    for key, (where, value) in changes.items():
        data[key] = data[key].copy()
        data[key][where] = value
    np.savez(golden / "golden.npz", **data)
    return golden


def test_all_goldens_match_via_python_m() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hayakoe_core.conformance", "bert", str(GOLDEN_DIR)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert sum(": match" in line for line in lines) == N_CASES
    assert lines[-1] == f"{N_CASES}/{N_CASES} cases match"


def test_json_report() -> None:
    result = CliRunner().invoke(command, [str(GOLDEN_DIR), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["all_match"] is True
    assert [c["case"] for c in doc["cases"]][-1] == "s36_batch"
    assert all(c["max_abs_diff"]["token_hidden"] <= 1e-4 for c in doc["cases"])


def test_mismatches_are_reported_with_the_first_difference(tmp_path: Path) -> None:
    s02_hidden = float(arrays()["s02__token_hidden"][3, 5])
    golden = _tampered(
        tmp_path,
        s18__input_ids=((0, 2), 7),
        s02__token_hidden=((3, 5), s02_hidden + 1e-3),
    )
    args = [str(golden), "--bert-root", str(TINY_ROOT)]
    result = CliRunner().invoke(command, args)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith("s02: MISMATCH token_hidden[3, 5]: got")
    assert lines[1].startswith("s18: MISMATCH input_ids[0, 2]: got")
    assert lines[-1] == f"{N_CASES - 2}/{N_CASES} cases match"

    loose = CliRunner().invoke(command, [*args, "--atol", "2e-3", "--json"])
    doc = json.loads(loose.output)
    assert [c["case"] for c in doc["cases"] if not c["match"]] == ["s18"]


@pytest.mark.parametrize("missing", ["golden_index.json", "golden.npz", "bert root"])
def test_missing_files_exit_2_with_one_line(tmp_path: Path, missing: str) -> None:
    golden = _tampered(tmp_path)
    bert_root = tmp_path / "no-bert"
    if missing != "bert root":
        (golden / missing).unlink()
        bert_root = TINY_ROOT
    result = CliRunner().invoke(command, [str(golden), "--bert-root", str(bert_root)])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert result.output.startswith("error: missing")
    assert (missing if missing != "bert root" else "vocab.txt") in result.output
