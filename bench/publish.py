"""Publishing cost: ``hayakoe.publish`` to S3 against ``aws s3 sync``, an unchanged re-publish,
ONNX export against upstream hayakoe 1.3.1's exporter, and verification.

    .venv/bin/python bench/publish.py [--work DIR] [--runs N] [--skip-upstream]

What it builds (under ``--work``, reused by later runs; the first run takes several minutes):
a full-size JP-Extra speaker with random weights from the default config (bench/synth.py's
builder, ~63 M parameters) and a random BERT shaped like upstream's (24 layers, int8,
bench/frontend.py's builder) as the BERT source; two throwaway venvs: ``awscli`` from PyPI, and
upstream ``hayakoe[gpu]==1.3.1`` with the project's CPU torch.

What it measures, each in a fresh process, one untimed warm-up round, then medians of ``--runs``
rounds, all against one SeaweedFS server on 127.0.0.1 (tests/support/s3server.py) and a fresh
bucket per round:

1. **first publish**: ``hayakoe.publish(folder, to="s3://…", backend="both", name=…)`` to an
   empty prefix; its transfer time is the receipt's ``stage`` + ``promote`` phases. Against it,
   ``aws s3 sync`` of the same repo tree (both backends' speaker folders, the BERT, README.md;
   laid out by publishing to a local folder once) to another empty prefix of the same bucket,
   the CLI's whole wall time (its start-up included: ~1 s, printed). Target: hayakoe / aws <= 1.0.
   Printed beside it: the receipt's ``precopy`` phase, the copying inside the store that the
   publish did while verifying (into uploads at the live keys, which the promote completes);
   any wait for it is already in ``promote``.
2. **unchanged re-publish**: the same publish again to the same prefix (unverified): model bytes
   sent (from the receipt, and counted on the wire: every PutObject / UploadPart body the
   plugin's S3 client sends) must be 0, and its transfer time as a fraction of the first's.
   Staging nothing, its transfer is the reading that finds so: inspect + stage + promote.
   Target <= 5%.
3. **ONNX export**: hayakoe's exporter (``hayakoe_backend_onnx.export.export_onnx``) against
   upstream's on the same checkpoint. The ``hayakoe`` 1.3.1 distribution on PyPI ships no
   exporter (its exporter is a dev tool of its repository, ``dev-tools/cli/export``); the
   baseline does what that tool does, with the installed package's own model code: load the
   checkpoint with ``hayakoe.models.infer.get_net_g`` once per graph, remove the decoder's weight
   norm for the synthesizer, and ``torch.onnx.export`` both graphs (opset 17, TorchScript
   exporter, constant folding) from the model's ``infer`` / ``predict_durations``.
4. **verification** per backend (the receipt's per-backend seconds of the first publish: a clean
   process loads the staged speaker with an empty cache and speaks).

The S3 requests of each publish are counted per operation (and bytes on the wire per operation),
so a missed target can be explained. The machine may be shared: the load average is printed,
and only ratios measured in the same run are compared.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, BaselineUnavailable, installed_version, peak_rss_of, upstream_venv

SPEAKER = "bench"
PREFIX = "voices"
SYNC_PREFIX = "synced"
AWSCLI = ("awscli",)
TORCH = "torch==2.13.0"  # the CPU wheel the project pins (scripts/install.sh)
UPSTREAM_EXPORT = ("hayakoe[gpu]==1.3.1", TORCH, "onnx")  # torch.onnx.export needs onnx
TRANSFER_TARGET = 1.0
UNCHANGED_TARGET = 0.05
_MODEL_SUFFIXES = (".onnx", ".data", ".safetensors", ".npy")
TRANSFER = ("stage", "promote")
# An unchanged re-publish stages nothing: its transfer is the reading that finds so.
RE_PUBLISH_TRANSFER = ("inspect", *TRANSFER)


# --- files (built in a child: it imports torch) -------------------------------------------------


def build(work: Path) -> None:
    """The speaker, the BERT source and the repo tree ``aws s3 sync`` sends; each kept once made."""
    from frontend import make_full_size_bert
    from synth import make_speaker

    if not (work / "speaker" / "config.json").exists():
        make_speaker(work / "speaker")
    make_full_size_bert(work / "bert")
    tree = work / "tree"
    if not (tree / "README.md").exists():
        shutil.rmtree(tree, ignore_errors=True)
        receipt = _publish(work, str(tree), verify=False)
        assert receipt.files, "the local publish wrote nothing"


def _publish(work: Path, to: str, *, verify: bool, progress: object = None):
    from hayakoe import publish

    return publish(
        work / "speaker",
        to=to,
        name=SPEAKER,
        backend="both",
        bert_source=str(work / "bert"),
        verify=verify,
        verify_dir=work / "verify_audio",
        overwrite=True,
        progress=progress,  # type: ignore[arg-type]
    )


# --- one publish, watched (a child of the parent, in this checkout's venv) ----------------------


class _Wire:
    """Counts the plugin's S3 requests per operation, the bytes each sends and the bytes copied
    inside the store (from the plugin's progress bars)."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()
        self.bars: Counter[str] = Counter()
        self._lock = threading.Lock()

    def on_send(self, request: object, event_name: str = "", **_: object) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        headers = getattr(request, "headers", {})
        length = int(headers.get("Content-Length", 0) or 0)
        with self._lock:
            self.requests[operation] += 1
            if operation in ("PutObject", "UploadPart"):
                self.sent[operation] += length

    @contextmanager
    def bar(self, description: str, total: int | None, unit: str = "bytes") -> Iterator[object]:
        kind = description.split(" →")[0].split(" (")[0]
        wire = self

        class _Bar:
            def advance(self, amount: int) -> None:
                with wire._lock:
                    wire.bars[kind] += amount

        yield _Bar()


def publish_child(work: Path, url: str, verify: bool) -> dict:
    """Publish to ``url`` while counting the S3 requests; the receipt and the counts as JSON."""
    from hayakoe_dest_s3.client import make_client

    wire = _Wire()
    make_client().meta.events.register("before-send.s3", wire.on_send, unique_id="bench-publish")
    start = time.perf_counter()
    receipt = _publish(work, url, verify=verify, progress=wire)
    wall = time.perf_counter() - start
    files = receipt.files
    return {
        "wall_s": wall,
        "phases": receipt.phases,
        "transfers": dict(Counter(f.transfer for f in files)),
        "bytes": {t: sum(f.size for f in files if f.transfer == t) for t in ("sent", "reused", "unchanged")},
        "model_bytes_sent": sum(
            f.size for f in files if f.transfer == "sent" and f.path.endswith(_MODEL_SUFFIXES)
        ),
        "verification": {
            v.backend: {"device": v.device, "ok": v.ok, "s": v.seconds} for v in receipt.verification
        },
        "requests": dict(wire.requests),
        "wire_sent": dict(wire.sent),
        "bars": dict(wire.bars),
        "files": len(files),
        "total_bytes": sum(f.size for f in files),
    }


# --- ONNX export (children: ours here, upstream's in its venv) ----------------------------------


def export_ours(speaker: Path, out: Path) -> dict:
    from hayakoe_backend_onnx.export import export_onnx

    start = time.perf_counter()
    export_onnx(speaker, out)
    return {"export_s": time.perf_counter() - start, "files": _sizes(out)}


def export_upstream(speaker: Path, out: Path) -> dict:
    """What upstream's dev-tools exporter does, with the installed hayakoe 1.3.1's model code."""
    import warnings

    import torch

    from hayakoe.models.hyper_parameters import HyperParameters
    from hayakoe.models.infer import get_net_g

    config = speaker / "config.json"
    checkpoint = next(speaker.glob("*.safetensors"))
    phones = 20

    def dummy(scalars: list[float]) -> tuple:
        return (
            torch.randint(0, 100, (1, phones)), torch.LongTensor([phones]), torch.LongTensor([0]),
            torch.randint(0, 10, (1, phones)), torch.zeros(1, phones, dtype=torch.long),
            torch.randn(1, 1024, phones), torch.randn(1, 256),
            *(torch.FloatTensor([v]) for v in scalars),
        )  # fmt: skip

    class Synthesizer(torch.nn.Module):
        def __init__(self, net_g: torch.nn.Module) -> None:
            super().__init__()
            self.net_g = net_g

        def forward(self, x, x_lengths, sid, tone, language, bert, style_vec, noise, length, noise_w, sdp):
            audio, attn, _, _ = self.net_g.infer(
                x, x_lengths, sid, tone, language, bert, style_vec,
                noise_scale=noise, length_scale=length, noise_scale_w=noise_w, sdp_ratio=sdp,
            )  # fmt: skip
            return audio, attn.squeeze(1).sum(1)

    class Durations(torch.nn.Module):
        def __init__(self, net_g: torch.nn.Module) -> None:
            super().__init__()
            self.net_g = net_g

        def forward(self, x, x_lengths, sid, tone, language, bert, style_vec, length, noise_w, sdp):
            return self.net_g.predict_durations(
                x, x_lengths, sid, tone, language, bert, style_vec,
                length_scale=length, noise_scale_w=noise_w, sdp_ratio=sdp,
            ).unsqueeze(0)  # fmt: skip

    axes = {
        "x": {1: "phone_len"},
        "tone": {1: "phone_len"},
        "language": {1: "phone_len"},
        "bert": {2: "phone_len"},
    }
    names = ["x", "x_lengths", "sid", "tone", "language", "bert", "style_vec"]
    graphs = (
        ("synthesizer.onnx", Synthesizer, True, [0.667, 1.0, 0.8, 0.2],
         [*names, "noise_scale", "length_scale", "noise_scale_w", "sdp_ratio"], ["audio", "durations"],
         {**axes, "audio": {2: "audio_len"}, "durations": {1: "phone_len"}}),
        ("duration_predictor.onnx", Durations, False, [1.0, 0.8, 0.0],
         [*names, "length_scale", "noise_scale_w", "sdp_ratio"], ["durations"],
         {**axes, "durations": {1: "phone_len"}}),
    )  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for filename, wrapper, bake, scalars, inputs, outputs, dynamic in graphs:
        hps = HyperParameters.load_from_json(config)
        net_g = get_net_g(str(checkpoint), hps.version, "cpu", hps)
        net_g.eval()
        if bake:
            net_g.dec.remove_weight_norm()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapper(net_g).eval(), dummy(scalars), str(out / filename),
                input_names=inputs, output_names=outputs, dynamic_axes=dynamic,
                opset_version=17, do_constant_folding=True, dynamo=False,
            )  # fmt: skip
    return {"export_s": time.perf_counter() - start, "files": _sizes(out)}


def _sizes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in sorted(folder.glob("*.onnx*"))}


# --- orchestration ------------------------------------------------------------------------------


def _child(python: Path | str, *args: object, env: dict[str, str]) -> dict:
    """Run this file's subcommand ``args`` with ``python``; the JSON it prints last."""
    result = peak_rss_of([str(python), str(Path(__file__).resolve()), *map(str, args)], env=env).json()
    assert isinstance(result, dict)
    return result


def measure_exports(work: Path, runs: int, upstream: Path | None, ours_env: dict, base_env: dict) -> dict:
    """Export time of each side, one untimed round then ``runs`` rounds, taking turns."""
    sides = {"hayakoe": (sys.executable, "export-ours", ours_env)}
    if upstream is not None:
        sides["upstream"] = (str(upstream), "export-upstream", base_env)
    times: dict[str, list[float]] = {side: [] for side in sides}
    files: dict[str, dict] = {}
    for round_ in range(runs + 1):
        for side, (python, cmd, env) in sides.items():
            out = work / "exports" / side
            shutil.rmtree(out, ignore_errors=True)
            print(f"  export {side} (round {round_ or 'warm-up'}) ...", flush=True)
            result = _child(python, cmd, work / "speaker", out, env=env)
            files[side] = result["files"]
            if round_:
                times[side].append(result["export_s"])
    return {
        side: {"export_s": statistics.median(t), "runs": t, "files": files[side]} for side, t in times.items()
    }


def _timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def _aws_sync(aws: Path, tree: Path, url: str, env: dict[str, str]) -> dict[str, float]:
    """``aws s3 sync`` of ``tree`` to ``url``: its wall time, and the CLI's bare start-up."""
    sync = [str(aws), "s3", "sync", str(tree), url, "--only-show-errors", "--exclude", ".hayakoe/*"]
    return {"sync_s": _timed(sync, env), "start_s": _timed([str(aws), "--version"], env)}


def _empty_bucket(client: object, bucket: str) -> None:
    paginator = client.get_paginator("list_objects_v2")  # type: ignore[attr-defined]
    for page in paginator.paginate(Bucket=bucket):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})  # type: ignore[attr-defined]
    client.delete_bucket(Bucket=bucket)  # type: ignore[attr-defined]


def measure_s3(work: Path, runs: int, aws: Path, ours_env: dict, base_env: dict) -> dict:
    """Per round, a fresh bucket: aws s3 sync, the first publish, the unchanged re-publish."""
    from tests.support.s3server import LocalS3Server

    rounds = []
    with LocalS3Server() as endpoint:
        s3_env = endpoint.env()
        client = endpoint.client()
        for round_ in range(runs + 1):
            bucket = f"bench-publish-{round_}"
            client.create_bucket(Bucket=bucket)
            label = f"round {round_ or 'warm-up'}"
            print(f"  {label}: aws s3 sync ...", flush=True)
            sync = _aws_sync(aws, work / "tree", f"s3://{bucket}/{SYNC_PREFIX}", {**base_env, **s3_env})
            url = f"s3://{bucket}/{PREFIX}"
            print(f"  {label}: first publish ...", flush=True)
            first = _child(sys.executable, "publish-child", work, url, "--verify", env={**ours_env, **s3_env})
            print(f"  {label}: unchanged re-publish ...", flush=True)
            again = _child(sys.executable, "publish-child", work, url, env={**ours_env, **s3_env})
            _empty_bucket(client, bucket)
            if round_:
                rounds.append({**sync, "first": first, "again": again})
    return {"rounds": rounds}


def _seconds(result: dict, *phases: str) -> float:
    """The receipt's seconds in ``phases``, summed (a phase a publish skipped counts 0)."""
    return sum(result["phases"].get(p, 0.0) for p in phases)


def _median_of(rounds: list[dict], which: str, *phases: str) -> float:
    return statistics.median(_seconds(r[which], *phases) for r in rounds)


def report(s3: dict, exports: dict, tree_bytes: int, tree_files: int) -> list[str]:
    """Print the table and the per-operation S3 requests; return the verdict lines."""
    rounds = s3["rounds"]
    sync = statistics.median(r["sync_s"] for r in rounds)
    first = _median_of(rounds, "first", *TRANSFER)
    again = _median_of(rounds, "again", *RE_PUBLISH_TRANSFER)
    ratio, fraction = first / sync, again / first
    model_sent = max(r["again"]["model_bytes_sent"] for r in rounds)
    wire_sent = max(sum(r["again"]["wire_sent"].values()) for r in rounds)
    last = rounds[-1]
    stage, promote = (_median_of(rounds, "first", phase) for phase in TRANSFER)
    precopy = _median_of(rounds, "first", "precopy")
    verify = _median_of(rounds, "first", "verify")
    start = statistics.median(r["start_s"] for r in rounds)
    again_wall = statistics.median(r["again"]["wall_s"] for r in rounds)
    rows = [
        ("repo tree", f"{tree_files} files, {tree_bytes / 2**20:.0f} MiB", "", "", ""),
        ("first publish, stage + promote (s)", f"{first:.2f}", f"aws s3 sync {sync:.2f}", f"{ratio:.2f}x",
         f"<= {TRANSFER_TARGET:.1f}x"),
        ("  against aws s3 sync less its start-up", "", f"{sync - start:.2f}",
         f"{first / (sync - start):.2f}x", ""),
        ("  stage (s)", f"{stage:.2f}", "", f"{stage / sync:.2f}x", ""),
        ("  promote (s)", f"{promote:.2f}", "", f"{promote / sync:.2f}x", ""),
        ("  pre-copy, alongside verification (s)", f"{precopy:.2f}", f"verify {verify:.2f}", "", ""),
        ("unchanged re-publish, inspect + stage + promote (s)", f"{again:.2f}", f"first {first:.2f}",
         f"{fraction:.1%}", f"<= {UNCHANGED_TARGET:.0%}"),
        ("  model bytes sent (receipt / on the wire)", f"{model_sent} / {wire_sent}", "", "", "= 0"),
        ("  whole re-publish, wall (s)", f"{again_wall:.1f}", "", "", ""),
    ]  # fmt: skip
    if exports:
        ours = exports["hayakoe"]["export_s"]
        theirs = exports.get("upstream", {}).get("export_s")
        versus = (f"upstream {theirs:.1f}", f"{ours / theirs:.2f}x") if theirs else ("-", "")
        rows.append(("ONNX export, both graphs (s)", f"{ours:.1f}", *versus, ""))
    for backend in sorted(last["first"]["verification"]):
        seconds = statistics.median(r["first"]["verification"][backend]["s"] for r in rounds)
        device = last["first"]["verification"][backend]["device"]
        rows.append((f"verification, {backend} on {device} (s)", f"{seconds:.1f}", "", "", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for row in rows:
        cells = [
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells))
    print("\nS3 requests by operation (last round)")
    for which in ("first", "again"):
        result = last[which]
        print(f"  {which}: phases " + ", ".join(f"{k} {v:.2f}" for k, v in result["phases"].items()))
        print(f"    requests {dict(sorted(result['requests'].items()))}")
        print(f"    bytes sent {result['wire_sent']}; progress bars {result['bars']}")
        print(f"    transfers {result['transfers']}")
    unchanged_met = model_sent == 0 and fraction <= UNCHANGED_TARGET
    return [
        f"first publish transfer: {ratio:.2f}x aws s3 sync, "
        f"{'meets' if ratio <= TRANSFER_TARGET else 'MISSES'} <= {TRANSFER_TARGET}x",
        f"unchanged re-publish: {model_sent} model bytes sent, transfer {fraction:.1%} of the first, "
        f"{'meets' if unchanged_met else 'MISSES'} <= {UNCHANGED_TARGET:.0%}",
    ]


def run_bench(work: Path, runs: int, skip_upstream: bool, skip_export: bool) -> None:
    work.mkdir(parents=True, exist_ok=True)
    print(f"work dir: {work}", flush=True)
    print("load average (1/5/15 min) at the start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    ours_env = {**os.environ, "HAYAKOE_CACHE": str(work / "cache"), "PYTHONPATH": str(REPO / "bench")}
    base_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([sys.executable, __file__, "build", str(work)], check=True, env=ours_env)
    tree_files = [p for p in (work / "tree").rglob("*") if p.is_file() and ".hayakoe" not in p.parts]
    print("venv awscli ...", flush=True)
    aws = upstream_venv(work / "venvs" / "awscli", AWSCLI).with_name("aws")
    print(f"  aws-cli {installed_version(aws.with_name('python'), 'awscli')}", flush=True)
    upstream = None
    if not (skip_upstream or skip_export):
        print("venv upstream exporter ...", flush=True)
        try:
            upstream = upstream_venv(work / "venvs" / "upstream-export", UPSTREAM_EXPORT)
        except BaselineUnavailable as exc:
            print(f"  upstream unavailable: {exc}")
    exports = {}
    if not skip_export:
        print("measuring ONNX export ...", flush=True)
        exports = measure_exports(work, runs, upstream, ours_env, base_env)
    print("measuring publishing over S3 ...", flush=True)
    sys.path.insert(0, str(REPO))
    s3 = measure_s3(work, runs, aws, ours_env, base_env)
    (work / "results.json").write_text(json.dumps({"s3": s3, "exports": exports}, indent=1))
    print("\nfull-size speaker (random weights), both backends; BERT: random, full-size shape (int8)")
    print(f"SeaweedFS on 127.0.0.1; medians of {runs} rounds after 1 warm-up")
    verdicts = report(s3, exports, sum(p.stat().st_size for p in tree_files), len(tree_files))
    print("load average (1/5/15 min) at the end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    for line in verdicts:
        print(line)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd")
    sub.add_parser("build", help="(internal) build the files").add_argument("work", type=Path)
    for name in ("export-ours", "export-upstream"):
        p = sub.add_parser(name, help="(internal) one export")
        p.add_argument("speaker", type=Path)
        p.add_argument("out", type=Path)
    p_pub = sub.add_parser("publish-child", help="(internal) one publish")
    p_pub.add_argument("work", type=Path)
    p_pub.add_argument("url")
    p_pub.add_argument("--verify", action="store_true")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "hayakoe-bench-publish")
    parser.add_argument("--runs", type=int, default=3, help="measured rounds (default 3)")
    parser.add_argument("--skip-upstream", action="store_true", help="no upstream export baseline")
    parser.add_argument("--skip-export", action="store_true", help="measure publishing only")
    args = parser.parse_args(argv)
    if args.cmd == "build":
        build(args.work)
    elif args.cmd == "export-ours":
        print(json.dumps(export_ours(args.speaker, args.out)))
    elif args.cmd == "export-upstream":
        print(json.dumps(export_upstream(args.speaker, args.out)))
    elif args.cmd == "publish-child":
        print(json.dumps(publish_child(args.work, args.url, args.verify)))
    else:
        run_bench(args.work.resolve(), args.runs, args.skip_upstream, args.skip_export)


if __name__ == "__main__":
    main()
