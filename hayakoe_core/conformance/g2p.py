"""``python -m hayakoe_core.conformance g2p GOLDEN.json [--json] [--expected-deviations FILE]``.

For every golden case, checks ``sentences`` (and ``synth_units``), the ``whole`` record and each
of ``units`` against this text frontend: every field of a unit record that
:class:`~hayakoe_core.text.frontend.TextUnit` has (``text``, ``normalized``, ``bert_text`` and
all list fields) must be equal; other fields (``upstream_warnings``) are not compared.

Expected deviations. Upstream reads English words OpenJTalk cannot read from a loanword
dictionary that hayakoe does not ship; hayakoe asks the e2k models instead, so a few readings
differ. A deviations file lists such cases, each with its ``input`` and the reading upstream's
dictionary gave for each word (``loanword_readings``: lower-case word -> katakana, or ``null``
when upstream left the word as written). The rule: such a case passes as an *expected
deviation* when it differs as run normally but matches exactly once the loanword step answers
those words with those readings. Any other difference, or a listed case that already matches
(a stale entry), fails. Entries whose id and input match no case of the golden file are unused.

Exit status: 0 when every case matches or is an expected deviation, 1 otherwise, 2 when a file
is missing or malformed (one line on stderr).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import click

from hayakoe_core.errors import HayakoeError
from hayakoe_core.text.frontend import TextFrontend, TextUnit
from hayakoe_core.text.sentences import split_sentences

UNIT_FIELDS = tuple(f.name for f in fields(TextUnit))
_CASE_FIELDS = ("id", "input", "sentences", "whole")
_LATIN_RUN = re.compile(r"[A-Za-z]+")


class GoldenError(HayakoeError):
    """A golden or expected-deviations file that is missing or malformed."""


@dataclass(frozen=True)
class Difference:
    """The first place where this frontend differs from a golden case."""

    field: str
    index: int | None
    expected: Any
    got: Any

    def describe(self) -> str:
        """``whole.phones[3]: expected 'a' got 'o'``."""
        where = self.field if self.index is None else f"{self.field}[{self.index}]"
        return f"{where}: expected {self.expected!r} got {self.got!r}"


@dataclass(frozen=True)
class Deviation:
    """An expected deviation: the case it applies to, why, and upstream's loanword readings."""

    id: str
    input: str
    reason: str
    loanword_readings: dict[str, str | None]


@dataclass(frozen=True)
class CaseResult:
    """Outcome for one case: ``match``, ``deviation`` (expected), ``mismatch`` or ``error``."""

    id: str
    status: str
    difference: Difference | None = None
    note: str | None = None

    @property
    def passed(self) -> bool:
        """True for ``match`` and ``deviation``."""
        return self.status in ("match", "deviation")

    def line(self) -> str:
        """One human-readable line."""
        text = f"{self.id}  {self.status}"
        if self.difference is not None:
            text += f"  {self.difference.describe()}"
        if self.note:
            text += f"  ({self.note})"
        return text


def load_golden(path: Path) -> list[dict[str, Any]]:
    """The ``cases`` of a golden file; raises :class:`GoldenError` if missing or malformed."""
    raw = _read_json(path, "golden file")
    cases = raw.get("cases") if isinstance(raw, dict) else None
    if not isinstance(cases, list) or not cases:
        raise GoldenError(f"golden file {path}: no 'cases' list")
    for n, case in enumerate(cases):
        missing = [k for k in _CASE_FIELDS if not isinstance(case, dict) or k not in case]
        records = [case.get("whole"), *case.get("units", [])] if not missing else []
        missing += [
            f"{k} (in a unit record)"
            for record in records
            for k in UNIT_FIELDS
            if not isinstance(record, dict) or k not in record
        ]
        if missing:
            raise GoldenError(f"golden file {path}: case #{n} lacks {', '.join(missing)}")
    return cases


def load_deviations(path: Path) -> list[Deviation]:
    """Entries of an expected-deviations file; raises :class:`GoldenError` if malformed."""
    raw = _read_json(path, "expected-deviations file")
    entries = raw.get("cases") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise GoldenError(f"expected-deviations file {path}: no 'cases' list")
    deviations = []
    for n, entry in enumerate(entries):
        try:
            deviation = Deviation(
                id=entry["id"],
                input=entry["input"],
                reason=entry["reason"],
                loanword_readings=entry["loanword_readings"],
            )
        except (TypeError, KeyError) as exc:
            raise GoldenError(
                f"expected-deviations file {path}: entry #{n} needs id, input, reason and "
                f"loanword_readings (missing {exc})"
            ) from None
        problem = _deviation_problem(deviation)
        if problem:
            raise GoldenError(f"expected-deviations file {path}: {deviation.id!r}: {problem}")
        deviations.append(deviation)
    return deviations


def _deviation_problem(deviation: Deviation) -> str | None:
    if not all(isinstance(v, str) for v in (deviation.id, deviation.input, deviation.reason)):
        return "id, input and reason must be strings"
    if not deviation.reason.strip():
        return "reason is empty"
    readings = deviation.loanword_readings
    if not isinstance(readings, dict) or not readings:
        return "loanword_readings must be a non-empty object"
    words = {w.lower() for w in _LATIN_RUN.findall(unicodedata.normalize("NFKC", deviation.input))}
    for word, reading in readings.items():
        if word not in words:
            return f"{word!r} is not a lower-cased English word of the input"
        if reading is not None and not isinstance(reading, str):
            return f"the reading of {word!r} must be a string or null"
    return None


def check_case(case: Mapping[str, Any], frontend: TextFrontend) -> Difference | None:
    """The first difference between ``case`` and ``frontend``'s output, or ``None``."""
    sentences = split_sentences(case["input"])
    diff = first_difference("sentences", case["sentences"], sentences)
    synth_units = sentences if len(sentences) > 1 else [case["input"]]
    if diff is None and "synth_units" in case:
        diff = first_difference("synth_units", case["synth_units"], synth_units)
    if diff is None:
        diff = _check_unit("whole", case["whole"], frontend.preprocess(case["input"]))
    units = case.get("units", [])
    if diff is None and units:
        diff = first_difference("len(units)", len(units), len(synth_units))
    for n, (record, text) in enumerate(zip(units, synth_units, strict=False)):
        if diff is not None:
            break
        diff = _check_unit(f"units[{n}]", record, frontend.preprocess(text))
    return diff


def _check_unit(prefix: str, record: Mapping[str, Any], unit: TextUnit) -> Difference | None:
    for name in UNIT_FIELDS:
        diff = first_difference(f"{prefix}.{name}", record[name], getattr(unit, name))
        if diff is not None:
            return diff
    return None


def first_difference(field: str, expected: Any, got: Any) -> Difference | None:
    """Where ``got`` first differs from ``expected``: an index into a list or string (equal up to
    the shorter length: the end is reported as ``None``), or no index for other values."""
    if isinstance(expected, (list, str)) and isinstance(got, type(expected)):
        for i, (e, g) in enumerate(zip(expected, got, strict=False)):
            if e != g:
                return Difference(field, i, e, g)
        if len(expected) == len(got):
            return None
        i = min(len(expected), len(got))
        return Difference(field, i, _at(expected, i), _at(got, i))
    return None if expected == got else Difference(field, None, expected, got)


def _at(seq: Sequence[Any], i: int) -> Any:
    return seq[i] if i < len(seq) else None


def run_case(
    case: Mapping[str, Any], frontend: TextFrontend, deviation: Deviation | None
) -> CaseResult:
    """Check one case, applying ``deviation``'s rule when the case is listed."""
    case_id = str(case["id"])
    try:
        diff = check_case(case, frontend)
        if deviation is None:
            return CaseResult(case_id, "match" if diff is None else "mismatch", diff)
        if diff is None:
            return CaseResult(
                case_id, "mismatch", note="listed as a deviation but matches: remove the entry"
            )
        overridden = TextFrontend(loanword_overrides=deviation.loanword_readings)
        remaining = check_case(case, overridden)
    except Exception as exc:  # a crash on one input must not hide the other cases
        return CaseResult(case_id, "error", note=f"{type(exc).__name__}: {exc}")
    if remaining is not None:
        return CaseResult(
            case_id, "mismatch", remaining, "differs even with upstream's loanword readings"
        )
    words = ", ".join(
        f"{w}={'(as written)' if r is None else r}" for w, r in deviation.loanword_readings.items()
    )
    return CaseResult(case_id, "deviation", diff, f"loanword readings only: {words}")


def run_conformance(
    cases: Sequence[Mapping[str, Any]], deviations: Sequence[Deviation] = ()
) -> list[CaseResult]:
    """Results for every case, in order."""
    by_case = {(d.id, d.input): d for d in deviations}
    frontend = TextFrontend()
    return [
        run_case(case, frontend, by_case.get((str(case["id"]), case["input"]))) for case in cases
    ]


def unused_deviations(
    cases: Sequence[Mapping[str, Any]], deviations: Sequence[Deviation]
) -> list[str]:
    """Ids of deviation entries that apply to no case (none with that id and input)."""
    present = {(str(c["id"]), c["input"]) for c in cases}
    return [d.id for d in deviations if (d.id, d.input) not in present]


def report(
    golden: Path, results: Sequence[CaseResult], unused: Sequence[str] = ()
) -> dict[str, Any]:
    """The ``--json`` report: every case, a summary and the unused deviation entries."""
    counts = {s: sum(r.status == s for r in results) for s in ("match", "deviation", "mismatch")}
    counts["error"] = sum(r.status == "error" for r in results)
    return {
        "golden": str(golden),
        "passed": all(r.passed for r in results),
        "summary": {"cases": len(results), **counts},
        "unused_deviations": list(unused),
        "cases": [
            {
                "id": r.id,
                "status": r.status,
                "difference": None if r.difference is None else asdict(r.difference),
                "note": r.note,
            }
            for r in results
        ],
    }


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise GoldenError(f"{what} {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GoldenError(f"{what} {path} is not readable JSON: {exc}") from None


@click.command(name="g2p")
@click.argument("golden", metavar="GOLDEN.json", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable report.")
@click.option(
    "--expected-deviations",
    "deviations_path",
    type=click.Path(path_type=Path),
    help="JSON file of cases that may differ only in English loanword readings.",
)
@click.pass_context
def command(ctx: click.Context, golden: Path, as_json: bool, deviations_path: Path | None) -> None:
    """Check the text frontend against g2p golden cases; exit 0 only if all match."""
    try:
        cases = load_golden(golden)
        deviations = load_deviations(deviations_path) if deviations_path else []
    except GoldenError as exc:
        click.echo(f"error: {exc}", err=True)
        ctx.exit(2)
    results = run_conformance(cases, deviations)
    summary = report(golden, results, unused_deviations(cases, deviations))
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        for result in results:
            click.echo(result.line())
        counts = summary["summary"]
        click.echo(
            f"{counts['cases']} cases: {counts['match']} match, {counts['deviation']} expected "
            f"deviations, {counts['mismatch']} mismatches, {counts['error']} errors"
        )
        if summary["unused_deviations"]:
            click.echo(f"unused deviation entries: {', '.join(summary['unused_deviations'])}")
    ctx.exit(0 if summary["passed"] else 1)
