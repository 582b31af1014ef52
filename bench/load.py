"""Loading cost: ``prepare()`` time and peak memory, hayakoe against upstream hayakoe 1.3.1.

    .venv/bin/python bench/load.py [--work DIR] [--quick] [--skip-upstream] [--runs N] [--no-s3]

Both runtimes are driven through their public API only, each measurement in a fresh process:
``from hayakoe import TTS``; ``TTS(device="cpu", bert_source=..., cache_dir=...).load(name,
source=...).prepare()``; ``speakers[name].generate(text)``. Measured, as medians of ``--runs`` runs
after one untimed warm-up, in four environments: hayakoe and upstream, each with torch installed
and without it (upstream imports ``transformers``, which imports torch when it is there):

1. ``warm``: import + ``prepare()`` of 1 speaker from a local folder with a warm cache (the
   warm-up run filled it; page cache warm). Then one ``generate()``.
2. ``4 speakers``: the same with 4 copies of the speaker loaded under different names.
3. ``s3 cold``: import + ``prepare()`` of 1 speaker with an EMPTY cache, speaker and BERT on S3
   (a SeaweedFS server on loopback, tests/support/s3server.py, found through
   ``AWS_ENDPOINT_URL_S3`` and boto3's default credential chain on both sides); ``s3 warm``: the
   same again in a new process, the files now in the cache.
4. Peak RSS (the child's ``ru_maxrss``) after ``prepare()`` and after the ``generate()``.

The files are full size: a JP-Extra speaker with random weights from the default config
(~63 M parameters, bench/synth.py's builder, exported with hayakoe's exporter; the published
folders carry hayakoe's manifest.json) and a random BERT shaped like the real one (24 layers,
int8, bench/frontend.py's builder), laid out as a repo (ARCHITECTURE §5). They, the venvs and the
caches are kept under ``--work`` (default: a folder under the system temp dir) and reused: the
first run takes several minutes (venvs, a ~1 min BERT build, the ONNX export).

Targets (ours / upstream): warm prepare <= 0.5x with torch installed, <= 0.75x without;
peak RSS with one speaker <= 0.8x.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from _common import (
    REPO,
    UPSTREAM_REQUIREMENTS,
    BaselineUnavailable,
    installed_version,
    peak_rss_of,
    upstream_venv,
)

SPEAKER = "bench"
SPEAKERS = (SPEAKER, "bench-2", "bench-3", "bench-4")
TEXT = "「こんにちは」と彼は言った。明日は二〇二四年の新しいプロジェクトについて話しましょう。"
S3_BUCKET = "hayakoe-bench"
S3_PREFIX = "voices"
TORCH = "torch==2.13.0"  # the CPU wheel the project pins (scripts/install.sh)
OURS_NO_TORCH = (  # core + the ONNX backend + the local and S3 destinations, nothing that pulls torch
    *("-e", str(REPO)),
    *("-e", str(REPO / "plugins" / "hayakoe_dest_local")),
    *("-e", str(REPO / "plugins" / "hayakoe_dest_s3")),
    *("-e", str(REPO / "plugins" / "hayakoe_backend_onnx")),
)
UPSTREAM = (*UPSTREAM_REQUIREMENTS, "boto3")  # boto3: upstream's s3:// source needs it
TARGETS = {("warm_s", True): 0.5, ("warm_s", False): 0.75, ("rss1_mib", True): 0.8, ("rss1_mib", False): 0.8}


# --- files (built in a child: it imports torch) -------------------------------------------------


def build(work: Path) -> None:
    """Speaker, ONNX graphs, BERT and the repo under ``work``; every step skipped when done."""
    from frontend import make_full_size_bert
    from synth import make_speaker

    from hayakoe_backend_onnx.export import export_onnx
    from hayakoe_core.manifest import build_manifest, sha256_file, write_manifest

    speaker, graphs, bert, repo = work / "speaker", work / "onnx", work / "bert", work / "repo"
    if not (speaker / "config.json").exists():
        make_speaker(speaker)
    if not (graphs / "synthesizer.onnx").exists():
        print("exporting the full-size speaker to ONNX ...", flush=True)
        export_onnx(speaker, graphs)
        for name in ("config.json", "style_vectors.npy"):
            shutil.copy2(speaker / name, graphs / name)
    make_full_size_bert(bert)
    if (repo / "onnx" / "speakers" / SPEAKERS[-1] / "manifest.json").exists():
        return
    checkpoint_sha = sha256_file(next(speaker.glob("*.safetensors")))
    for part in ("onnx/bert", "bert/tokenizer"):
        shutil.copytree(bert / part, repo / part, copy_function=_link, dirs_exist_ok=True)
    for name in SPEAKERS:  # hard links: 4 names, one copy on disk
        dest = repo / "onnx" / "speakers" / name
        shutil.copytree(graphs, dest, copy_function=_link, dirs_exist_ok=True)
        write_manifest(dest, build_manifest(dest, name, "onnx", checkpoint_sha))


def built_with_runtimes(work: Path, skip_upstream: bool) -> dict[str, Path]:
    """Build the files under ``work`` (in a child: it imports torch) and return the interpreters
    to measure: this one as ``hayakoe`` and, unless skipped or unavailable, upstream's (the venv
    shared with this benchmark's torch-less upstream runtime) as ``upstream``."""
    print(f"work dir: {work}", flush=True)
    subprocess.run([sys.executable, str(Path(__file__).resolve()), "build", str(work)], check=True)
    sides = {"hayakoe": Path(sys.executable)}
    if not skip_upstream:
        try:
            sides["upstream"] = upstream_venv(work / "venvs" / "upstream-notorch", UPSTREAM)
        except BaselineUnavailable as exc:
            print(f"upstream unavailable: {exc}")
    return sides


def _link(src: str, dst: str) -> None:
    if not os.path.exists(dst):
        os.link(src, dst)


def upload(repo: Path) -> None:
    """Put the first speaker and the BERT of ``repo`` into the bench bucket (env: the server)."""
    import boto3

    client = boto3.client("s3")
    client.create_bucket(Bucket=S3_BUCKET)
    for part in (f"onnx/speakers/{SPEAKER}", "onnx/bert/q8", "bert/tokenizer"):
        for path in sorted((repo / part).rglob("*")):
            if path.is_file():
                key = f"{S3_PREFIX}/{path.relative_to(repo).as_posix()}"
                client.upload_file(str(path), S3_BUCKET, key)


# --- the measurement (one per process) ----------------------------------------------------------


def measure(source: str, cache: str, names: list[str], text: str | None) -> dict:
    """Import, build and ``prepare()`` a TTS for ``names``; optionally generate ``text`` once."""
    start = time.perf_counter()
    from hayakoe import TTS

    imported = time.perf_counter()
    tts = TTS(device="cpu", bert_source=source, cache_dir=cache)
    for name in names:
        tts = tts.load(name, source=source)
    tts.prepare()
    prepared = time.perf_counter()
    result = {
        "import_s": imported - start,
        "prepare_s": prepared - imported,
        "cold_s": prepared - start,
        "rss_prepared_mib": _maxrss_mib(),
        "rss_now_mib": _rss_now_mib(),
        "modules": sorted(m for m in ("torch", "transformers", "boto3") if m in sys.modules),
    }
    if text:
        audio = tts.speakers[names[0]].generate(text, sdp_ratio=0.0)
        result["generate_s"] = time.perf_counter() - prepared
        result["audio_s"] = len(audio.data) / audio.sr
        result["rss_generated_mib"] = _maxrss_mib()
    return result


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _rss_now_mib() -> float:
    """Resident set size at this moment (Linux), where the peak hides what stays resident."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


# --- orchestration ------------------------------------------------------------------------------


@dataclass
class Runtime:
    """One of the four environments: which runtime, with or without torch, and its interpreter."""

    side: str  # "hayakoe" or "upstream"
    torch: bool
    python: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.side}-{'torch' if self.torch else 'notorch'}"


def _runtimes(work: Path, skip_upstream: bool) -> list[Runtime]:
    """The environments to measure; venvs are created under ``work/venvs`` (reused)."""
    venvs = work / "venvs"
    wanted = [("hayakoe", True, None), ("hayakoe", False, OURS_NO_TORCH)]
    if not skip_upstream:
        wanted += [("upstream", True, (*UPSTREAM, TORCH)), ("upstream", False, UPSTREAM)]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    found = []
    for side, torch, requirements in wanted:
        name = f"{side}-{'torch' if torch else 'notorch'}"
        if requirements is None:
            python = Path(sys.executable)  # this checkout's .venv: everything, torch included
        else:
            print(f"venv {name} ...", flush=True)
            try:
                python = upstream_venv(venvs / name, requirements)
            except BaselineUnavailable as exc:
                print(f"  {name} unavailable: {exc}")
                continue
        has_torch = installed_version(python, "torch") is not None
        if has_torch != torch:
            raise SystemExit(f"{python}: torch {'missing' if torch else 'installed'}; expected otherwise")
        found.append(Runtime(side, torch, python, env))
    return found


def _run(
    rt: Runtime,
    work: Path,
    source: str,
    cache: Path,
    names: list[str],
    text: str | None,
    extra_env: dict[str, str] | None = None,
) -> dict:
    """One fresh-process measurement; the child's stderr goes to ``work/logs``."""
    cmd = [str(rt.python), str(Path(__file__).resolve()), "measure", source, str(cache), ",".join(names)]
    if text:
        cmd += ["--text", text]
    log = work / "logs" / f"{rt.key}.log"
    log.parent.mkdir(exist_ok=True)
    with log.open("a") as err:
        try:
            child = peak_rss_of(cmd, env={**rt.env, **(extra_env or {})}, stderr=err)
        except subprocess.CalledProcessError:
            raise SystemExit(f"{rt.key} failed; see {log}:\n" + _tail(log)) from None
    record = child.json()
    assert isinstance(record, dict)
    return record | {"peak_rss_mib": child.peak_rss_bytes / 2**20}


def _tail(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _median(runs: list[dict]) -> dict:
    """Per-key medians of the numeric fields; other fields from the first run."""
    out = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, (int, float)):
            out[key] = statistics.median(r[key] for r in runs)
    return out


def interleaved(
    runtimes: list[Runtime], runs: int, once: Callable[[Runtime], dict[str, dict]]
) -> dict[str, dict[str, dict]]:
    """``once(rt)`` for every runtime in turn, one untimed round then ``runs`` rounds; per runtime
    and group, the medians. Taking turns spreads slow spells of a shared machine over all sides."""
    samples: dict[str, list[dict[str, dict]]] = {rt.key: [] for rt in runtimes}
    for round_ in range(runs + 1):
        for rt in runtimes:
            result = once(rt)
            if round_:
                samples[rt.key].append(result)
    return {
        key: {group: _median([r[group] for r in rounds]) for group in rounds[0]}
        for key, rounds in samples.items()
    }


def local_once(work: Path) -> Callable[[Runtime], dict[str, dict]]:
    """Warm-cache prepare of 1 and of 4 speakers from the local repo, each followed by a generate."""
    repo = str(work / "repo")

    def once(rt: Runtime) -> dict[str, dict]:
        cache = work / "cache" / f"{rt.key}-local"
        return {
            "one": _run(rt, work, repo, cache, [SPEAKER], TEXT),
            "four": _run(rt, work, repo, cache, list(SPEAKERS), TEXT),
        }

    return once


def s3_once(work: Path, s3_env: dict[str, str]) -> Callable[[Runtime], dict[str, dict]]:
    """Prepare from S3 into an empty cache (cold), then again from the filled cache (warm)."""
    source = f"s3://{S3_BUCKET}/{S3_PREFIX}"

    def once(rt: Runtime) -> dict[str, dict]:
        cache = Path(tempfile.mkdtemp(prefix=f"{rt.key}-", dir=work / "cache"))
        try:
            cold = _run(rt, work, source, cache, [SPEAKER], None, s3_env)
            return {"s3_cold": cold, "s3_warm": _run(rt, work, source, cache, [SPEAKER], None, s3_env)}
        finally:
            shutil.rmtree(cache, ignore_errors=True)

    return once


def _with_s3(work: Path, fn: Callable[[dict[str, str]], None]) -> None:
    """Start the loopback S3 server, upload the repo, call ``fn(env)``, stop the server."""
    sys.path.insert(0, str(REPO))
    from tests.support.s3server import LocalS3Server

    with LocalS3Server() as endpoint:
        env = endpoint.env()
        subprocess.run(
            [sys.executable, __file__, "upload", str(work / "repo")], env={**os.environ, **env}, check=True
        )
        fn(env)


# --- report -------------------------------------------------------------------------------------

ROWS = (  # label, group, field
    ("import + prepare(), warm cache, 1 speaker (s)", "one", "cold_s"),
    ("  of which import (s)", "one", "import_s"),
    ("  of which prepare() (s)", "one", "prepare_s"),
    ("import + prepare(), warm cache, 4 speakers (s)", "four", "cold_s"),
    ("import + prepare(), S3, empty cache (s)", "s3_cold", "cold_s"),
    ("import + prepare(), S3, warm cache (s)", "s3_warm", "cold_s"),
    ("peak RSS, 1 speaker prepared (MiB)", "one", "rss_prepared_mib"),
    ("peak RSS, 1 speaker after generate (MiB)", "one", "rss_generated_mib"),
    ("RSS now, 1 speaker prepared (MiB)", "one", "rss_now_mib"),
    ("peak RSS, 4 speakers prepared (MiB)", "four", "rss_prepared_mib"),
    ("RSS now, 4 speakers prepared (MiB)", "four", "rss_now_mib"),
    ("peak RSS, 4 speakers after generate (MiB)", "four", "rss_generated_mib"),
    ("peak RSS, S3, empty cache (MiB)", "s3_cold", "rss_prepared_mib"),
    ("generate() 1 speaker (s)", "one", "generate_s"),
)
TARGET_ROWS = {("one", "cold_s"): "warm_s", ("one", "rss_prepared_mib"): "rss1_mib"}


def report(results: dict[str, dict[str, dict]], runs: int) -> list[str]:
    """The table for each torch setting; returns the verdict lines of the targets."""
    verdicts = []
    for torch in (True, False):
        ours = results.get(f"hayakoe-{'torch' if torch else 'notorch'}")
        theirs = results.get(f"upstream-{'torch' if torch else 'notorch'}")
        if ours is None:
            continue
        title = f"torch {'INSTALLED' if torch else 'NOT installed'} (median of {runs}, after 1 warm-up)"
        print(f"\n{title}\n{'':48}{'hayakoe':>10}{'upstream':>10}{'ratio':>8}{'target':>8}")
        for label, group, key in ROWS:
            if group not in ours:
                continue
            a = ours[group].get(key)
            b = theirs[group].get(key) if theirs and group in theirs else None
            target = TARGETS.get((TARGET_ROWS.get((group, key), ""), torch))
            ratio = a / b if a is not None and b else None
            line = f"{label:48}{_fmt(a, 10)}{_fmt(b, 10)}{_fmt(ratio, 8, 2)}"
            line += f"{'<= ' + str(target):>8}" if target else ""
            print(line)
            if target and ratio is not None:
                verdict = "meets" if ratio <= target else "MISSES"
                verdicts.append(
                    f"{label.strip()} with torch {'installed' if torch else 'absent'}: "
                    f"{ratio:.2f}x, {verdict} <= {target}x"
                )
        for name, res in (("hayakoe", ours), ("upstream", theirs)):
            if res:
                one = res["one"]
                print(
                    f"  {name}: modules after prepare {one['modules'] or 'none'}; "
                    f"generated {one.get('audio_s', 0):.2f} s of audio"
                )
    return verdicts


def _fmt(value: float | None, width: int, digits: int | None = None) -> str:
    if value is None:
        return f"{'-':>{width}}"
    return f"{value:{width}.{digits if digits is not None else (0 if value >= 100 else 2)}f}"


def run_bench(work: Path, runs: int, skip_upstream: bool, s3: bool) -> None:
    work.mkdir(parents=True, exist_ok=True)
    (work / "cache").mkdir(exist_ok=True)
    print(f"work dir: {work}", flush=True)
    # a child, so that the parent stays small: Linux gives a child its parent's peak RSS at fork
    subprocess.run([sys.executable, __file__, "build", str(work)], check=True)
    runtimes = _runtimes(work, skip_upstream)
    print(f"measuring from the local repo: {', '.join(rt.key for rt in runtimes)} ...", flush=True)
    results = interleaved(runtimes, runs, local_once(work))
    if s3:

        def from_s3(env: dict[str, str]) -> None:
            print("measuring from S3 ...", flush=True)
            for key, groups in interleaved(runtimes, runs, s3_once(work, env)).items():
                results[key] |= groups

        _with_s3(work, from_s3)
    (work / "results.json").write_text(json.dumps(results, indent=1))
    print(f"parent peak RSS {_maxrss_mib():.0f} MiB (a floor for every child's figure)")
    for line in report(results, runs):
        print(line)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd")
    p_build = sub.add_parser("build", help="(internal) build the files")
    p_build.add_argument("work", type=Path)
    p_upload = sub.add_parser("upload", help="(internal) upload the repo to the bench bucket")
    p_upload.add_argument("repo", type=Path)
    p_measure = sub.add_parser("measure", help="(internal) one measurement")
    p_measure.add_argument("source")
    p_measure.add_argument("cache")
    p_measure.add_argument("names")
    p_measure.add_argument("--text")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "hayakoe-bench-load")
    parser.add_argument("--runs", type=int, help="measured runs per figure (default 3; --quick: 1)")
    parser.add_argument("--quick", action="store_true", help="1 measured run per figure")
    parser.add_argument("--skip-upstream", action="store_true")
    parser.add_argument("--no-s3", action="store_true", help="skip the S3 measurements")
    args = parser.parse_args(argv)
    if args.cmd == "build":
        build(args.work)
    elif args.cmd == "upload":
        upload(args.repo)
    elif args.cmd == "measure":
        print(json.dumps(measure(args.source, args.cache, args.names.split(","), args.text)))
    else:
        runs = args.runs or (1 if args.quick else 3)
        run_bench(args.work.resolve(), runs, args.skip_upstream, not args.no_s3)


if __name__ == "__main__":
    main()
