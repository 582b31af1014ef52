"""Long text: peak memory and wall time of one ``generate()`` at 1k / 5k / 20k characters.

    .venv/bin/python bench/longtext.py [--work DIR] [--sizes 1000,5000,20000] [--skip-upstream]

Both runtimes are driven through their public API, each size in a fresh process:
``TTS(device="cpu", bert_source=repo, cache_dir=...).load("bench", source=repo).prepare()``, then
``speakers["bench"].generate(text)`` once, after one process per runtime that only prepares (a
cold prepare, which fills the cache, peaks higher than a warm one). The text is ordinary prose
(short and long sentences, commas, a newline per paragraph) repeated to the size. The files are
full size (a random-weight JP-Extra speaker from the default config and a BERT shaped like the
real one, built by ``bench/load.py build`` under ``--work`` and reused); the baseline is upstream
``hayakoe==1.3.1`` in a throwaway venv.

Printed per size and runtime: wall seconds of ``generate()``, seconds of audio, peak RSS of the
process (``ru_maxrss``), the RSS after ``prepare()`` and what generating added per minute of
audio. Memory must grow no faster than the audio: the verdict line compares hayakoe's added RSS
at the largest size with the smallest, against the audio's growth. A run that dies (upstream's
OpenJTalk frontend segfaults on single inputs of ~2,700 characters) is reported with its signal.
The machine is shared and busy: read ratios, not absolute times.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import time
from pathlib import Path

from _common import load_average, peak_rss_of, speaker_bench_parser
from load import built_with_runtimes

SPEAKER = "bench"
SIZES = (1_000, 5_000, 20_000)
PARAGRAPH = (
    "朝の駅はいつもより静かで、ホームには数人の乗客が立っているだけだった。"
    "私は鞄から古い手帳を取り出し、昨日書いた予定をもう一度確かめた。"
    "電車が来るまでまだ十分ほどある。"
    "向かいのベンチでは、制服姿の学生が英単語の本を開いたまま、うとうとと居眠りをしていた。"
    "遠くで踏切の音が鳴り始め、冷たい風が線路の上を吹き抜けていく。"
    "今日こそ、ずっと先延ばしにしていた話を彼女に伝えようと決めていた。\n"
)


def text_of(chars: int) -> str:
    return (PARAGRAPH * (chars // len(PARAGRAPH) + 1))[:chars]


def measure(repo: str, cache: str, chars: int) -> dict:
    """(in the child) prepare the bench speaker, then time one generate() of ``chars`` chars
    (none for 0: the run that fills the cache)."""
    from hayakoe import TTS

    tts = TTS(device="cpu", bert_source=repo, cache_dir=cache).load(SPEAKER, source=repo).prepare()
    prepared = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if chars == 0:
        return {"rss_prepared_mib": prepared}
    start = time.perf_counter()
    audio = tts.speakers[SPEAKER].generate(text_of(chars))
    return {
        "generate_s": time.perf_counter() - start,
        "audio_s": len(audio.data) / audio.sr,
        "rss_prepared_mib": prepared,
    }


def run_one(python: Path, work: Path, side: str, chars: int) -> dict:
    """One fresh-process measurement; a crash is recorded, not raised."""
    cache = work / "cache" / f"longtext-{side}"
    cmd = [str(python), str(Path(__file__).resolve()), "measure", str(work / "repo"), str(cache), str(chars)]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    log = work / "logs" / f"longtext-{side}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as err:
        try:
            child = peak_rss_of(cmd, env=env, stderr=err)
        except subprocess.CalledProcessError as exc:
            how = f"killed by signal {-exc.returncode}" if exc.returncode < 0 else f"exit {exc.returncode}"
            return {"failed": how}
    record = child.json()
    assert isinstance(record, dict)
    return record | {"peak_rss_mib": child.peak_rss_bytes / 2**20}


def _cell(record: dict | None, key: str, digits: int = 1) -> str:
    if record is None:
        return f"{'-':>12}"
    if "failed" in record:
        return f"{'died':>12}"
    return f"{record[key]:12.{digits}f}"


def added_mib_per_audio_min(record: dict) -> float:
    return (record["peak_rss_mib"] - record["rss_prepared_mib"]) / (record["audio_s"] / 60)


def report(results: dict[str, dict[int, dict]]) -> None:
    ours, theirs = results["hayakoe"], results.get("upstream", {})
    print(f"\n{'':34}{'hayakoe':>12}{'upstream':>12}{'ratio':>8}")
    for chars in ours:
        a, b = ours[chars], theirs.get(chars)
        print(f"{chars:,} characters")
        for label, key, digits in (
            ("  generate() wall (s)", "generate_s", 1),
            ("  audio (s)", "audio_s", 1),
            ("  peak RSS (MiB)", "peak_rss_mib", 0),
            ("  RSS after prepare() (MiB)", "rss_prepared_mib", 0),
        ):
            ok = "failed" not in a and b is not None and "failed" not in b
            ratio = f"{a[key] / b[key]:8.2f}" if ok else f"{'-':>8}"
            print(f"{label:34}{_cell(a, key, digits)}{_cell(b, key, digits)}{ratio}")
        for side, record in (("hayakoe", a), ("upstream", b)):
            if record and "failed" in record:
                print(f"  {side}: {record['failed']}")
        if "failed" not in a:
            print(f"  hayakoe: generating added {added_mib_per_audio_min(a):.1f} MiB per minute of audio")
    done = [c for c in ours if "failed" not in ours[c]]
    if len(done) >= 2:
        small, large = ours[done[0]], ours[done[-1]]
        grew = (large["peak_rss_mib"] - large["rss_prepared_mib"]) / max(
            1.0, small["peak_rss_mib"] - small["rss_prepared_mib"]
        )
        audio_grew = large["audio_s"] / small["audio_s"]
        verdict = "meets" if grew <= audio_grew else "MISSES"
        print(
            f"\nadded RSS grew {grew:.2f}x from {done[0]:,} to {done[-1]:,} characters while the audio "
            f"grew {audio_grew:.2f}x: {verdict} 'no faster than the audio'"
        )


def main(argv: list[str] | None = None) -> None:
    parser, p_measure = speaker_bench_parser(__doc__)
    p_measure.add_argument("chars", type=int)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated character counts")
    parser.add_argument("--skip-upstream", action="store_true")
    args = parser.parse_args(argv)
    if args.cmd == "measure":
        print(json.dumps(measure(args.repo, args.cache, args.chars)))
        return
    work = args.work.resolve()
    sides = built_with_runtimes(work, args.skip_upstream)
    results: dict[str, dict[int, dict]] = {side: {} for side in sides}
    for side, python in sides.items():  # a cold prepare peaks higher: fill the cache first
        print(f"{side}: filling the cache ...", flush=True)
        run_one(python, work, side, 0)
    for chars in (int(s) for s in args.sizes.split(",")):
        for side, python in sides.items():
            print(f"{side}: {chars:,} characters ... (load average {load_average()})", flush=True)
            results[side][chars] = run_one(python, work, side, chars) | {"load_after": load_average()}
            print(f"  {json.dumps(results[side][chars])}", flush=True)  # kept if a later size is cut short
    (work / "longtext-results.json").write_text(json.dumps(results, indent=1))
    report(results)


if __name__ == "__main__":
    main()
