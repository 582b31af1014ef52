"""Streaming: time to the first audio and total time of ``stream()``, hayakoe against upstream 1.3.1.

    .venv/bin/python bench/stream.py [--work DIR] [--runs 3] [--rounds 1] [--skip-upstream] [--texts 60-char]

Both runtimes are driven through their public API, each in a fresh process: ``TTS(device="cpu",
bert_source=repo, cache_dir=...).load("bench", source=repo).prepare()``, one untimed warm-up
stream, then for each text ``--runs`` times: iterate ``speakers["bench"].stream(text)``, timing
the first chunk and the last. With ``--rounds N`` that is repeated in N fresh processes per side,
the sides alternating, so that a busy machine's changing load falls on both alike. Texts: a
60-character first sentence followed by two shorter ones, and about 1,000 characters of prose
(``--texts`` picks some by label prefix, for a shorter run). Files are full size
(``bench/load.py build`` under ``--work``, reused); the baseline is upstream ``hayakoe==1.3.1`` in
a throwaway venv.

Targets (ours / upstream): first audio <= 0.5x on the 60-character first sentence; total time
<= 1.0x. The machine is shared and busy: read the same-run ratios, not the absolute times.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

from _common import load_average, peak_rss_of, speaker_bench_parser
from load import built_with_runtimes

SPEAKER = "bench"
FIRST = (  # 60 characters
    "駅前の小さな喫茶店で、私たちは学生時代の古い友人と"
    "久しぶりに会って、昔の楽しかった話を夜遅くまでずっと語り合っていました。"
)
TEXTS = {
    "60-char first sentence": FIRST + "とても楽しかったです。また会いましょう。",
    "1,000 characters": (
        "朝の駅はいつもより静かで、ホームには数人の乗客が立っているだけだった。"
        "私は鞄から古い手帳を取り出し、昨日書いた予定をもう一度確かめた。電車が来るまでまだ十分ほどある。"
    )
    * 12,
}
TARGETS = {"first_s": 0.5, "total_s": 1.0}


def measure(repo: str, cache: str, runs: int, labels: list[str]) -> dict:
    """(in the child) prepare, warm up, then time ``runs`` streams of each text in ``labels``."""
    from hayakoe import TTS

    tts = TTS(device="cpu", bert_source=repo, cache_dir=cache).load(SPEAKER, source=repo).prepare()
    speaker = tts.speakers[SPEAKER]
    for _ in speaker.stream("テストです。もう一度。"):
        pass
    results = {}
    for label in labels:
        text = TEXTS[label]
        firsts, totals, audio = [], [], 0.0
        for _ in range(runs):
            start = time.perf_counter()
            first, audio = None, 0.0
            for chunk in speaker.stream(text):
                first = first if first is not None else time.perf_counter() - start
                audio += len(chunk.data) / chunk.sr
            totals.append(time.perf_counter() - start)
            firsts.append(first)
        results[label] = {
            "firsts": firsts,
            "totals": totals,
            "audio_s": audio,
            "chars_in_first_sentence": len(FIRST) if label.startswith("60") else None,
        }
    return results


def run_one(python: Path, work: Path, side: str, runs: int, labels: list[str]) -> dict:
    cmd = [
        str(python),
        str(Path(__file__).resolve()),
        "measure",
        str(work / "repo"),
        str(work / "cache" / f"stream-{side}"),
        str(runs),
        *labels,
    ]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    log = work / "logs" / f"stream-{side}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as err:
        child = peak_rss_of(cmd, env=env, stderr=err)
    record = child.json()
    assert isinstance(record, dict)
    return record


def merged(records: list[dict], labels: list[str]) -> dict:
    """One side's rounds as medians of every stream's first-audio and total time, per text."""
    out = {}
    for label in labels:
        firsts = [t for r in records for t in r[label]["firsts"]]
        totals = [t for r in records for t in r[label]["totals"]]
        audio = records[0][label]["audio_s"]
        out[label] = {
            "first_s": statistics.median(firsts),
            "total_s": statistics.median(totals),
            "audio_s": audio,
        }
    return out


def report(results: dict[str, dict], streams: int, labels: list[str]) -> None:
    ours, theirs = results["hayakoe"], results.get("upstream")
    print(f"\nmedian of {streams} streams per text; load average {load_average()}")
    print(f"{'':44}{'hayakoe':>10}{'upstream':>10}{'ratio':>8}")
    for label in labels:
        print(label)
        for key, name in (
            ("first_s", "time to first audio (s)"),
            ("total_s", "whole stream (s)"),
            ("audio_s", "audio (s)"),
        ):
            a = ours[label][key]
            b = theirs[label][key] if theirs else None
            ratio = a / b if b else None
            target = TARGETS.get(key)
            upstream = f"{b:10.2f}" if b is not None else f"{'-':>10}"
            line = f"  {name:42}{a:10.2f}{upstream}"
            line += f"{ratio:8.2f}" if ratio is not None else f"{'-':>8}"
            if target and ratio is not None:
                line += f"  {'meets' if ratio <= target else 'MISSES'} <= {target}"
            print(line)


def main(argv: list[str] | None = None) -> None:
    parser, p_measure = speaker_bench_parser(__doc__)
    p_measure.add_argument("runs", type=int)
    p_measure.add_argument("labels", nargs="+")
    parser.add_argument("--runs", type=int, default=3, help="streams of each text per process")
    parser.add_argument("--rounds", type=int, default=1, help="fresh processes per side, alternating")
    parser.add_argument("--skip-upstream", action="store_true")
    parser.add_argument("--texts", default="", help="comma-separated label prefixes (default: all)")
    args = parser.parse_args(argv)
    if args.cmd == "measure":
        print(json.dumps(measure(args.repo, args.cache, args.runs, args.labels)))
        return
    prefixes = [p for p in args.texts.split(",") if p]
    labels = [label for label in TEXTS if not prefixes or label.startswith(tuple(prefixes))]
    if not labels:
        parser.error(f"--texts matches none of: {', '.join(TEXTS)}")
    work = args.work.resolve()
    sides = built_with_runtimes(work, args.skip_upstream)
    rounds: dict[str, list[dict]] = {side: [] for side in sides}
    for n in range(args.rounds):
        for side, python in sides.items():
            print(f"{side}, round {n + 1} ... (load average {load_average()})", flush=True)
            started = time.perf_counter()
            rounds[side].append(run_one(python, work, side, args.runs, labels))
            print(f"  {time.perf_counter() - started:.0f} s (load average {load_average()})", flush=True)
    (work / "stream-results.json").write_text(json.dumps(rounds, indent=1))
    report(
        {side: merged(records, labels) for side, records in rounds.items()}, args.runs * args.rounds, labels
    )


if __name__ == "__main__":
    main()
