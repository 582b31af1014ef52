"""Synthesis speed and memory: hayakoe ONNX-, OpenVINO- and torch-CPU against upstream hayakoe 1.3.1.

    .venv/bin/python bench/synth.py [--work DIR] [--runs 5] [--warmup 1] [--backends LIST]
                                    [--baseline-python PYTHON]

1. Builds a full-size JP-Extra speaker with random weights from the DEFAULT config (torch's
   default init; the deterministic duration predictor's output layer is set to ~5.5 frames per
   phone so audio lengths are realistic) and exports it with hayakoe's exporter, timing the export.
2. Makes three fixed inputs of 35 / 101 / 301 phones (add_blank layout, random phone ids, random
   BERT features) with noise 0.6 / noise_w 0.8 and ``sdp_ratio`` 0, so every backend produces the
   same audio length and times are comparable run to run.
3. Measures, each in its own process (so peak RSS is that backend's alone): hayakoe's
   ``OnnxSpeaker`` (onnx), ``OpenVinoSpeaker`` (openvino: the same graphs compiled by OpenVINO,
   FP32, its model cache under the work dir, filled by an untimed first load; with that cache
   the decoder runs padded to fixed lengths, see the backend's split module),
   hayakoe's ``TorchSpeaker`` on CPU (torch), and the baseline (upstream):
   the same synthesizer.onnx run the way upstream hayakoe 1.3.1 runs it (a default
   ``onnxruntime.InferenceSession``: ORT_ENABLE_ALL, default thread pools with spinning), inside a
   throwaway venv where ``hayakoe==1.3.1`` and its onnxruntime are installed. Upstream reads text
   only through its own API, so the baseline gets the same id/BERT inputs, as the issue allows.
4. Prints the speed factor (audio seconds / wall seconds, median of ``--runs`` after warm-up),
   session load time and peak RSS per backend, with the ratio ours/upstream.

If the baseline venv cannot be created (no network), our numbers are still printed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
from _common import (
    BaselineUnavailable,
    installed_version,
    median_time,
    peak_rss_of,
    repo_pythonpath,
    upstream_venv,
)

INPUTS = {"short": 35, "medium": 101, "long": 301}
KINDS = ("onnx", "openvino", "torch", "upstream")
GRAPH_KINDS = ("onnx", "openvino")  # ours that run the same graphs as upstream: compared with it
FRAMES_PER_PHONE = 5.5
SEED = 1234


# --- preparation (runs in a child: it imports torch) ------------------------------------------


def default_config() -> dict:
    """config.json of a one-speaker, one-style model with every model size at its default."""
    from hayakoe_core.speaker_config import DataParams, ModelParams

    data = asdict(DataParams()) | {
        "n_speakers": 1,
        "spk2id": {"bench": 0},
        "num_styles": 1,
        "style2id": {"Neutral": 0},
    }
    return {
        "model_name": "bench",
        "version": "2.7.0-JP-Extra",
        "data": data,
        "model": asdict(ModelParams()),
    }


def make_speaker(folder: Path) -> None:
    """Write a random-weight full-size speaker (config, style vectors, checkpoint) to ``folder``."""
    import torch
    from safetensors.torch import save_file

    from hayakoe_backend_torch.model import JPExtraSynthesizer
    from hayakoe_core.speaker_config import SpeakerConfig

    raw = default_config()
    torch.manual_seed(SEED)
    model = JPExtraSynthesizer(SpeakerConfig.from_dict(raw))
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items() if "enc_q" not in k}
    state["dp.proj.weight"] = state["dp.proj.weight"] * 0.1
    state["dp.proj.bias"] = torch.full_like(state["dp.proj.bias"], math.log(FRAMES_PER_PHONE))
    state["iteration"] = torch.tensor([0], dtype=torch.int64)
    folder.mkdir(parents=True, exist_ok=True)
    save_file(state, str(folder / "bench_e0_s0.safetensors"))
    (folder / "config.json").write_text(json.dumps(raw, indent=2))
    rng = np.random.default_rng(SEED)
    np.save(folder / "style_vectors.npy", rng.standard_normal((1, 256)).astype(np.float32) * 0.1)


def make_inputs(folder: Path, style_vec: np.ndarray) -> None:
    """One golden-format feed file per input length (``<name>.npz``, batch axis included)."""
    rng = np.random.default_rng(SEED)
    folder.mkdir(parents=True, exist_ok=True)
    for name, phones in INPUTS.items():
        blank = np.arange(phones) % 2 == 0  # add_blank: blanks at even positions
        x = np.where(blank, 0, rng.integers(1, 112, phones))
        tone = np.where(blank, 0, rng.integers(6, 8, phones))
        language = np.where(blank, 0, 1)
        np.savez(
            folder / f"{name}.npz",
            x=x[None].astype(np.int64),
            x_lengths=np.array([phones], dtype=np.int64),
            sid=np.array([0], dtype=np.int64),
            tone=tone[None].astype(np.int64),
            language=language[None].astype(np.int64),
            bert=rng.standard_normal((1, 1024, phones)).astype(np.float32),
            style_vec=style_vec[None].astype(np.float32),
            noise_scale=np.array([0.6], dtype=np.float32),
            length_scale=np.array([1.0], dtype=np.float32),
            noise_scale_w=np.array([0.8], dtype=np.float32),
            sdp_ratio=np.array([0.0], dtype=np.float32),
        )


def prepare(work: Path) -> dict:
    """Build the speaker and inputs under ``work`` (reused when present) and export the graphs."""
    from hayakoe_backend_onnx.export import export_onnx

    speaker, onnx_dir = work / "speaker", work / "onnx"
    if not (speaker / "config.json").exists():
        make_speaker(speaker)
    make_inputs(work / "inputs", np.load(speaker / "style_vectors.npy")[0])
    shutil.rmtree(onnx_dir, ignore_errors=True)
    start = time.perf_counter()
    export_onnx(speaker, onnx_dir)
    export_s = time.perf_counter() - start
    for name in ("config.json", "style_vectors.npy"):
        if not (onnx_dir / name).exists():
            shutil.copy(speaker / name, onnx_dir / name)
    sizes = {p.name: p.stat().st_size for p in sorted(onnx_dir.glob("*.onnx*"))}
    return {"export_s": export_s, "files": sizes}


# --- workers (one backend per process) ---------------------------------------------------------


def _open_ours(kind: str, folder: Path) -> Callable[[Path], Callable[[], int]]:
    """Load a hayakoe speaker; returns case file -> a call that synthesises it (-> samples)."""
    from hayakoe_core.conformance.model import read_case

    if kind == "onnx":
        from hayakoe_backend_onnx.runtime import OnnxSpeaker

        speaker = OnnxSpeaker.load(folder)
    elif kind == "openvino":
        from hayakoe_backend_openvino.runtime import OpenVinoSpeaker

        speaker = OpenVinoSpeaker.load(folder, model_cache=folder.parent / "openvino-cache")
    else:
        from hayakoe_backend_torch.runtime import TorchSpeaker

        speaker = TorchSpeaker.load(folder, "cpu")

    def bind(case: Path) -> Callable[[], int]:
        inputs, _ = read_case(case)
        return lambda: speaker.synthesize(inputs).audio.size

    return bind


def _open_upstream(folder: Path) -> Callable[[Path], Callable[[], int]]:
    """Upstream hayakoe 1.3.1's synthesizer session: onnxruntime defaults, CPU provider."""
    import onnxruntime as ort

    options = ort.SessionOptions()  # default threads: one spinning pool per session
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(
        str(folder / "synthesizer.onnx"), sess_options=options, providers=["CPUExecutionProvider"]
    )
    names = [i.name for i in session.get_inputs()]

    def bind(case: Path) -> Callable[[], int]:
        with np.load(case) as npz:
            feeds = {name: npz[name] for name in names}
        return lambda: session.run(["audio"], feeds)[0].size

    return bind


def worker(kind: str, folder: Path, cases: list[Path], runs: int, warmup: int) -> dict:
    """Load ``folder`` with ``kind`` and time every case; the result the parent reads as JSON."""
    start = time.perf_counter()
    bind = _open_upstream(folder) if kind == "upstream" else _open_ours(kind, folder)
    load_s = time.perf_counter() - start
    rate = json.loads((folder / "config.json").read_text())["data"]["sampling_rate"]
    results = {}
    for case in cases:
        synth = bind(case)
        samples = synth()  # also the first warm-up call
        wall_s = median_time(synth, n=runs, warmup=max(warmup - 1, 0))
        results[case.stem] = {"audio_s": samples / rate, "wall_s": wall_s}
    return {"load_s": load_s, "cases": results}


# --- orchestration ----------------------------------------------------------------------------


def _child(python: Path | str, *args: str | Path, env: dict[str, str] | None = None) -> dict:
    run = peak_rss_of([str(python), str(Path(__file__).resolve()), *map(str, args)], env=env)
    result = run.json()
    assert isinstance(result, dict)
    return result | {"peak_rss_mib": run.peak_rss_bytes / 2**20}


def _baseline_python(work: Path, given: Path | None) -> tuple[Path | None, str]:
    """The baseline interpreter: ``given``, else a throwaway venv with upstream installed."""
    try:
        python = given or upstream_venv(work / "upstream-venv")
    except BaselineUnavailable as exc:
        return None, f"baseline unavailable: {exc}"
    versions = {d: installed_version(python, d) for d in ("hayakoe", "onnxruntime")}
    return python, "baseline: " + ", ".join(f"{d} {v}" for d, v in versions.items())


def _table(results: dict[str, dict]) -> str:
    kinds = [k for k in KINDS if k in results]
    ratios = [k for k in GRAPH_KINDS if k in results and "upstream" in results]
    head = ["input", "phones", "audio s", *(f"{k} x" for k in kinds), *(f"{k}/upstream" for k in ratios)]
    rows = [head]
    for name, phones in INPUTS.items():
        factors = {k: results[k]["cases"][name] for k in kinds}
        speed = {k: c["audio_s"] / c["wall_s"] for k, c in factors.items()}
        row = [name, str(phones), f"{factors[kinds[0]]['audio_s']:.2f}"]
        row += [f"{speed[k]:.2f}" for k in kinds]
        rows.append(row + [f"{speed[k] / speed['upstream']:.3f}" for k in ratios])
    for label, key, fmt in (("load s", "load_s", "{:.2f}"), ("peak RSS MiB", "peak_rss_mib", "{:.0f}")):
        row = [label, "", "", *(fmt.format(results[k][key]) for k in kinds)]
        rows.append(row + [f"{results[k][key] / results['upstream'][key]:.3f}" for k in ratios])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def run_bench(work: Path, args: argparse.Namespace) -> None:
    """Prepare, measure each of ``args.backends`` in its own process, print the comparison."""
    runs, warmup, kinds = args.runs, args.warmup, args.backends
    ours_env = {**os.environ, "PYTHONPATH": repo_pythonpath()}
    # nothing of this checkout may shadow the baseline venv's own packages
    upstream_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    print(f"work dir: {work}", flush=True)
    prep = _child(sys.executable, "prepare", work, env=ours_env)
    sizes = ", ".join(f"{n} {s / 1e6:.1f} MB" for n, s in prep["files"].items())
    print(f"export: {prep['export_s']:.1f} s, peak RSS {prep['peak_rss_mib']:.0f} MiB ({sizes})")
    cases = [work / "inputs" / f"{name}.npz" for name in INPUTS]
    timing = ("--runs", runs, "--warmup", warmup)
    results: dict[str, dict] = {}
    ours = {"onnx": work / "onnx", "openvino": work / "onnx", "torch": work / "speaker"}
    for kind, folder in ((k, f) for k, f in ours.items() if k in kinds):
        if kind == "openvino":  # fill OpenVINO's model cache: load time is then a warm load
            _child(sys.executable, "worker", kind, folder, cases[0], "--runs", 1, "--warmup", 0, env=ours_env)
        print(f"measuring {kind} ...", flush=True)
        results[kind] = _child(sys.executable, "worker", kind, folder, *cases, *timing, env=ours_env)
    if "upstream" in kinds:
        python, note = _baseline_python(work, args.baseline_python)
        print(note, flush=True)
        if python is not None:
            print("measuring upstream ...", flush=True)
            results["upstream"] = _child(
                python, "worker", "upstream", work / "onnx", *cases, *timing, env=upstream_env
            )
    print(f"\nspeed factor = audio s / wall s (median of {runs} after {warmup} warm-up)")
    print(_table(results))
    # other work on the machine skews the comparison, spinning thread pools most of all
    print("load average (1/5/15 min) at the end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd")
    p_prepare = sub.add_parser("prepare", help="(internal) build and export the speaker")
    p_prepare.add_argument("work", type=Path)
    p_worker = sub.add_parser("worker", help="(internal) time one backend")
    p_worker.add_argument("kind", choices=KINDS)
    p_worker.add_argument("folder", type=Path)
    p_worker.add_argument("cases", type=Path, nargs="+")
    for p in (parser, p_worker):
        p.add_argument("--runs", type=int, default=5)
        p.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--work", type=Path, help="keep files here (default: a temp dir)")
    parser.add_argument(
        "--backends", default=",".join(KINDS), help="comma-separated subset of onnx,openvino,torch,upstream"
    )
    parser.add_argument(
        "--baseline-python",
        type=Path,
        help="interpreter that has upstream's onnxruntime (default: make a throwaway venv)",
    )
    args = parser.parse_args(argv)
    args.backends = [k for k in args.backends.split(",") if k]
    if not set(args.backends) <= set(KINDS):
        parser.error(f"--backends takes a subset of {','.join(KINDS)}")
    if args.cmd == "prepare":
        print(json.dumps(prepare(args.work)))
    elif args.cmd == "worker":
        print(json.dumps(worker(args.kind, args.folder, args.cases, args.runs, args.warmup)))
    elif args.work is not None:
        run_bench(args.work, args)
    else:
        with tempfile.TemporaryDirectory(prefix="hayakoe-bench-") as tmp:
            run_bench(Path(tmp), args)


if __name__ == "__main__":
    main()
