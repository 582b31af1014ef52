"""The g2p conformance runner on the golden file, tampered goldens and bad inputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hayakoe_core.conformance.__main__ import main
from hayakoe_core.conformance.g2p import (
    UNIT_FIELDS,
    first_difference,
    load_deviations,
    run_conformance,
)
from tests.text.conftest import DEVIATIONS, GOLDEN

DEVIATING = {d.id for d in load_deviations(DEVIATIONS)}


def _run(*args: str | Path) -> Any:
    return CliRunner().invoke(main, ["g2p", *map(str, args)])


def _write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    return path


@pytest.fixture(scope="module")
def results(golden_cases: list[dict[str, Any]]) -> dict[str, Any]:
    return {r.id: r for r in run_conformance(golden_cases, load_deviations(DEVIATIONS))}


def test_deviations_file_is_short() -> None:
    assert {"s14", "s32", "s35"} == DEVIATING


def test_every_other_case_matches_exactly(
    golden_cases: list[dict[str, Any]], results: dict[str, Any]
) -> None:
    assert len(golden_cases) == 40
    statuses = {c["id"]: results[c["id"]].status for c in golden_cases}
    assert statuses == {i: "deviation" if i in DEVIATING else "match" for i in statuses}


def test_deviations_differ_only_in_the_listed_english_words(results: dict[str, Any]) -> None:
    for case_id in DEVIATING:
        assert results[case_id].difference.field == "whole.normalized"


def test_cli_passes_with_the_deviations_file() -> None:
    done = _run(GOLDEN, "--expected-deviations", DEVIATIONS)
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert len(lines) == 41
    assert lines[0] == "s01  match"
    assert lines[-1] == "40 cases: 37 match, 3 expected deviations, 0 mismatches, 0 errors"


def test_cli_fails_without_the_deviations_file() -> None:
    done = _run(GOLDEN, "--json")
    assert done.exit_code == 1
    report = json.loads(done.output)
    assert report["passed"] is False
    assert {c["id"] for c in report["cases"] if c["status"] == "mismatch"} == DEVIATING
    s14 = next(c for c in report["cases"] if c["id"] == "s14")
    assert s14["difference"] == {
        "field": "whole.normalized", "index": 10, "expected": "ー", "got": "ス",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("case_id", "path", "value", "expected_line"),
    [
        ("s02", ("whole", "phones", 3), "a", "s02  mismatch  whole.phones[3]: expected 'a' got 'o'"),
        ("s06", ("units", 1, "tones", 2), 1, "s06  mismatch  units[1].tones[2]: expected 1 got 0"),
        ("s05", ("sentences",), ["本当", "ですか？"], "s05  mismatch  sentences[0]:"),
        ("s01", ("whole", "bert_text"), "こんにちわ", "s01  mismatch  whole.bert_text[4]:"),
        ("s14", ("whole", "word2ph_blank", 0), 2, "s14  mismatch  whole.word2ph_blank[0]: exp"),
    ],
)
def test_tampered_golden_fails(
    tmp_path: Path,
    golden_cases: list[dict[str, Any]],
    case_id: str,
    path: tuple[Any, ...],
    value: Any,
    expected_line: str,
) -> None:
    cases = json.loads(json.dumps(golden_cases))
    target = next(c for c in cases if c["id"] == case_id)
    *parents, last = path
    for key in parents:
        target = target[key]
    target[last] = value
    golden = _write(tmp_path / "golden.json", {"cases": cases})
    done = _run(golden, "--expected-deviations", DEVIATIONS)
    assert done.exit_code == 1
    line = next(x for x in done.output.splitlines() if x.startswith(f"{case_id} "))
    assert line.startswith(expected_line)


def test_deviation_entry_cannot_hide_other_differences(
    tmp_path: Path, golden_cases: list[dict[str, Any]]
) -> None:
    cases = json.loads(json.dumps(golden_cases))
    s14 = next(c for c in cases if c["id"] == "s14")
    s14["whole"]["tones"][1] = 1 - s14["whole"]["tones"][1]
    done = _run(_write(tmp_path / "g.json", {"cases": cases}), "--expected-deviations", DEVIATIONS)
    assert done.exit_code == 1
    assert "s14  mismatch" in done.output and "even with upstream's loanword" in done.output


def test_stale_deviation_entry_fails(tmp_path: Path, golden_cases: list[dict[str, Any]]) -> None:
    s01 = next(c for c in golden_cases if c["id"] == "s01")
    deviations = _write(
        tmp_path / "dev.json",
        {"cases": [{"id": "s01", "input": s01["input"], "reason": "stale",
                    "loanword_readings": {"x": "エックス"}}]},
    )  # fmt: skip
    assert _run(GOLDEN, "--expected-deviations", deviations).exit_code == 2  # x is not in the input
    s13 = next(c for c in golden_cases if c["id"] == "s13")
    deviations = _write(
        tmp_path / "dev.json",
        {"cases": [{"id": "s13", "input": s13["input"], "reason": "stale",
                    "loanword_readings": {"ai": "アイ"}}]},
    )  # fmt: skip
    done = _run(_write(tmp_path / "g.json", {"cases": [s13]}), "--expected-deviations", deviations)
    assert done.exit_code == 1
    assert "listed as a deviation but matches" in done.output


@pytest.mark.parametrize(
    "content",
    [None, "not json", "{}", '{"cases": []}', '{"cases": [{"id": "x"}]}'],
)
def test_bad_golden_file_is_a_one_line_error(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "golden.json"
    if content is not None:
        path.write_text(content, "utf-8")
    done = _run(path)
    assert done.exit_code == 2
    assert len(done.output.strip().splitlines()) == 1
    assert done.output.startswith("error: golden file")


def test_bad_deviations_file_is_a_one_line_error(tmp_path: Path) -> None:
    done = _run(GOLDEN, "--expected-deviations", tmp_path / "missing.json")
    assert done.exit_code == 2
    assert done.output.startswith("error: expected-deviations file")


def test_first_difference() -> None:
    assert first_difference("f", [1, 2], [1, 2]) is None
    assert first_difference("f", [1, 2], [1, 3]).index == 1
    diff = first_difference("f", [1, 2], [1])
    assert (diff.index, diff.expected, diff.got) == (1, 2, None)
    assert first_difference("f", "abc", "abd").describe() == "f[2]: expected 'c' got 'd'"
    assert first_difference("n", 2, 3).describe() == "n: expected 2 got 3"


def test_unit_fields_are_the_golden_record_fields(golden_cases: list[dict[str, Any]]) -> None:
    assert set(UNIT_FIELDS) == set(golden_cases[0]["whole"])
