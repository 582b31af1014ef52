"""Benchmark: text → synthesizer inputs (G2P + ids + BERT features) on the CPU, hayakoe vs upstream.

Measures, for this checkout and for upstream ``hayakoe==1.3.1`` (installed in a throwaway venv, used
as a baseline only), each in fresh processes on the same BERT source and the same sentences:

- cold first call: import of the CPU path + building the text frontend and the BERT extractor
  (upstream: ``TTS(device="cpu", bert_source=...).prepare()``) + the first preprocess+features;
  also the whole process wall time, interpreter start included;
- warm per-text latency (median over rounds) and throughput in characters per second;
- peak RSS of the process.

hayakoe keeps ORT's optimised BERT graph in a cache folder (``--ort-cache``); one untimed run fills
it first and its cold time is printed separately, the timed runs then load from it.

Both sides run the single-unit path (upstream: ``get_text_onnx``; hayakoe:
``TextFrontend().preprocess`` + ``BertFeatureExtractor.features``), and the outputs are compared.

    .venv/bin/python bench/frontend.py [--bert-root DIR] [--repeats 3] [--rounds 5] [--no-upstream]

Without ``--bert-root`` both use the tiny 3-layer stand-in BERT from tests/fixtures/bert/tiny, so
BERT compute is far below the real model's; ``--full-size DIR`` builds (once, ~1 min, ~5.5 GB RAM)
a random BERT shaped like the real one (24 layers, vocabulary 22,012) in DIR and uses that.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    REPO,
    BaselineUnavailable,
    peak_rss_of,
    repo_pythonpath,
    upstream_venv,
)

TINY_BERT = REPO / "tests" / "fixtures" / "bert" / "tiny"
SPEAKER_CONFIG = REPO / "tests" / "fixtures" / "model" / "tiny" / "config.json"
DEFAULT_VENV = Path(tempfile.gettempdir()) / "hayakoe-bench-upstream"
TARGET_COLD_RATIO = 0.5

TEXTS = [
    "今日はいい天気ですね。",
    "「こんにちは」と彼は言った。明日は二〇二四年の新しいプロジェクトについて話しましょう。",
    "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。"
    "何でも薄暗いじめじめした所でニャーニャー泣いていた事だけは記憶している。",
    "AIの研究は急速に進んでおり、Netflixのようなサービスでも音声合成が使われ始めています。"
    "価格は$100で、約50%の割引があります！本当ですか？",
]


# ---------------------------------------------------------------- full-size-shaped BERT

FULL_SIZE_CONFIG = {
    "vocab_size": 22012,
    "hidden_size": 1024,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "intermediate_size": 4096,
    "max_position_embeddings": 512,
    "type_vocab_size": 0,
    "layer_norm_eps": 1e-7,
    "relative_attention": True,
    "max_relative_positions": -1,
    "position_buckets": 256,
    "norm_rel_ebd": "layer_norm",
    "share_att_key": True,
    "pos_att_type": ["p2c", "c2p"],
    "position_biased_input": False,
    "conv_kernel_size": 3,
    "conv_act": "gelu",
    "pad_token_id": 0,
}


def make_full_size_bert(root: Path) -> None:
    """A random BERT source root shaped like the real one (24 layers, vocab 22,012) at ``root``.

    Needs torch, transformers and onnx (this checkout's .venv has them); ~1 min and ~5.5 GB of RAM.
    The vocabulary is the tiny one's characters padded with CJK ideographs; weights are random,
    which does not change the compute. Skipped when ``root`` already holds the int8 graph.
    """
    import shutil

    import torch
    import transformers
    from onnxruntime.quantization import QuantType, quantize_dynamic

    q8 = root / "onnx" / "bert" / "q8" / "bert_q8.onnx"
    if q8.is_file():
        return
    print(f"building a full-size-shaped random BERT in {root} ...", flush=True)
    tokenizer_dir = root / "bert" / "tokenizer"
    shutil.copytree(TINY_BERT / "bert" / "tokenizer", tokenizer_dir, dirs_exist_ok=True)
    vocab = (tokenizer_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()
    known = set(vocab)
    ideographs = [*range(0x4E00, 0xA000), *range(0x3400, 0x4DC0)]
    filler = (chr(cp) for cp in ideographs if chr(cp) not in known)
    vocab += [next(filler) for _ in range(FULL_SIZE_CONFIG["vocab_size"] - len(vocab))]
    (tokenizer_dir / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")

    torch.manual_seed(0)
    model = transformers.DebertaV2ForMaskedLM(transformers.DebertaV2Config(**FULL_SIZE_CONFIG)).eval()

    class HiddenMinus3(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
            return out.hidden_states[-3]

    q8.parent.mkdir(parents=True, exist_ok=True)
    fp32 = q8.with_name("bert_fp32.onnx")
    example = (torch.ones(1, 8, dtype=torch.long), torch.ones(1, 8, dtype=torch.long))
    axes = {"input_ids": {0: "batch", 1: "seq_len"}, "attention_mask": {0: "batch", 1: "seq_len"}}
    torch.onnx.export(
        HiddenMinus3(),
        example,
        str(fp32),
        input_names=["input_ids", "attention_mask"],
        output_names=["hidden_states"],
        dynamic_axes={**axes, "hidden_states": {0: "batch", 1: "seq_len"}},
        opset_version=17,
        do_constant_folding=True,
        dynamo=False,
    )
    quantize_dynamic(fp32, q8, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"])
    fp32.unlink()
    print(f"  bert_q8.onnx: {q8.stat().st_size / 2**20:.0f} MiB", flush=True)


# ---------------------------------------------------------------- workers (fresh processes)


def _worker_ours(args: argparse.Namespace) -> tuple[object, object]:
    """Import and build hayakoe's CPU frontend; returns (unit function, time after imports)."""
    from hayakoe_core.bert import BertFeatureExtractor
    from hayakoe_core.text.frontend import TextFrontend

    imported = time.perf_counter()
    frontend = TextFrontend()
    extractor = BertFeatureExtractor.from_source_root(args.bert_root, optimized_cache=args.ort_cache)

    def run(text: str) -> tuple[list[int], object]:
        unit = frontend.preprocess(text)
        return unit.phone_ids, extractor.features(unit.bert_text, unit.word2ph_blank)

    return run, imported


def _worker_upstream(args: argparse.Namespace) -> tuple[object, object]:
    """Import and build upstream's CPU frontend (BERT via ``TTS.prepare()``)."""
    from hayakoe import TTS
    from hayakoe.models.hyper_parameters import HyperParameters
    from hayakoe.models.infer_onnx import get_text_onnx

    imported = time.perf_counter()
    cache = tempfile.mkdtemp(prefix="hayakoe-bench-cache-")
    tts = TTS(device="cpu", bert_source=str(args.bert_root), cache_dir=cache).prepare()
    hps = HyperParameters.load_from_json(args.config)
    session = tts._bert_session  # upstream keeps its BERT session private

    def run(text: str) -> tuple[list[int], object]:
        bert, phone_ids, _tone, _language = get_text_onnx(text, hps, session)
        return phone_ids.tolist(), bert

    return run, imported


def worker(args: argparse.Namespace) -> None:
    """Cold start, first call, then ``rounds`` warm passes; prints one JSON line."""
    import numpy as np

    start = time.perf_counter()
    build = _worker_ours if args.worker == "ours" else _worker_upstream
    run, imported = build(args)
    built = time.perf_counter()
    run(TEXTS[0])
    first = time.perf_counter()
    per_text: list[list[float]] = [[] for _ in TEXTS]
    outputs = {}
    for _ in range(args.rounds):
        for k, text in enumerate(TEXTS):
            t0 = time.perf_counter()
            phone_ids, bert = run(text)
            per_text[k].append(time.perf_counter() - t0)
            outputs[f"phone_ids_{k}"], outputs[f"bert_{k}"] = np.asarray(phone_ids), np.asarray(bert)
    if args.dump:
        np.savez(args.dump, **outputs)
    heavy = sorted(m for m in ("torch", "transformers") if m in sys.modules)
    result = {
        "import_s": imported - start,
        "build_s": built - imported,
        "first_call_s": first - built,
        "cold_total_s": first - start,
        "warm_per_text_s": [statistics.median(times) for times in per_text],
        "warm_round_s": sum(statistics.median(times) for times in per_text),
        "heavy_modules": heavy,
    }
    print(json.dumps(result))


# ---------------------------------------------------------------- parent


def _measure(python: Path, impl: str, args: argparse.Namespace, dump: Path, env: dict) -> dict:
    cmd = [str(python), __file__, "--worker", impl, "--bert-root", str(args.bert_root)]
    cmd += ["--config", str(SPEAKER_CONFIG), "--rounds", str(args.rounds), "--dump", str(dump)]
    cmd += ["--ort-cache", str(args.ort_cache)]
    if impl == "ours":  # fills the optimised-graph cache; reported apart from the timed runs
        primed = peak_rss_of(cmd, env=env).json()
        print(f"hayakoe cold total with an empty ORT cache: {primed['cold_total_s']:.3f} s", flush=True)
    runs = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        child = peak_rss_of(cmd, env=env)
        record = child.json()
        record["process_wall_s"] = time.perf_counter() - t0
        record["peak_rss_mib"] = child.peak_rss_bytes / 2**20
        runs.append(record)
    summary = {key: statistics.median(r[key] for r in runs) for key in runs[0] if _scalar(runs[0][key])}
    summary["warm_per_text_s"] = [
        statistics.median(r["warm_per_text_s"][k] for r in runs) for k in range(len(TEXTS))
    ]
    summary["heavy_modules"] = runs[0]["heavy_modules"]
    summary["chars_per_s"] = sum(map(len, TEXTS)) / summary["warm_round_s"]
    return summary


def _scalar(value: object) -> bool:
    return isinstance(value, (int, float))


def _compare_outputs(ours: Path, upstream: Path) -> str:
    import numpy as np

    with np.load(ours) as a, np.load(upstream) as b:
        same_ids = all(np.array_equal(a[f"phone_ids_{k}"], b[f"phone_ids_{k}"]) for k in range(len(TEXTS)))
        shapes = all(a[f"bert_{k}"].shape == b[f"bert_{k}"].shape for k in range(len(TEXTS)))
        diff = max(
            float(np.abs(a[f"bert_{k}"] - b[f"bert_{k}"]).max()) if shapes else float("nan")
            for k in range(len(TEXTS))
        )
    return f"phone ids equal: {same_ids}; bert shapes equal: {shapes}; max |Δbert| {diff:.2g}"


def _print_table(results: dict[str, dict]) -> None:
    rows = [
        ("import (s)", "import_s"),
        ("build frontend+BERT (s)", "build_s"),
        ("first preprocess+features (s)", "first_call_s"),
        ("cold total, in process (s)", "cold_total_s"),
        ("whole worker process wall (s)", "process_wall_s"),
        ("warm round over all texts (s)", "warm_round_s"),
        ("warm throughput (chars/s)", "chars_per_s"),
        ("peak RSS (MiB)", "peak_rss_mib"),
    ]
    names = list(results)
    print(f"{'':38}" + "".join(f"{n:>12}" for n in names) + (f"{'ratio':>10}" if len(names) == 2 else ""))
    for label, key in rows:
        _print_row(label, [results[n][key] for n in names], "12.3f")
    for k, text in enumerate(TEXTS):
        _print_row(
            f"  text {k} ({len(text)} chars) (s)", [results[n]["warm_per_text_s"][k] for n in names], "12.4f"
        )


def _print_row(label: str, values: list[float], fmt: str) -> None:
    line = f"{label:38}" + "".join(f"{v:{fmt}}" for v in values)
    if len(values) == 2 and values[1]:
        line += f"{values[0] / values[1]:10.2f}"
    print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bert-root", type=Path, default=TINY_BERT)
    parser.add_argument(
        "--full-size",
        type=Path,
        metavar="DIR",
        help="build (once) a full-size-shaped random BERT source in DIR and benchmark with it",
    )
    parser.add_argument("--config", type=Path, default=SPEAKER_CONFIG, help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per side")
    parser.add_argument("--rounds", type=int, default=5, help="warm passes per process")
    parser.add_argument("--upstream-venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--no-upstream", action="store_true")
    parser.add_argument("--ort-cache", type=Path, help="hayakoe's optimised-graph cache (default: temp)")
    parser.add_argument("--worker", choices=["ours", "upstream"], help=argparse.SUPPRESS)
    parser.add_argument("--build-full-size", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--dump", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    if args.build_full_size:
        make_full_size_bert(args.build_full_size)
        return

    if args.full_size:
        # In a child process: Linux carries a parent's peak RSS into the children it starts.
        subprocess.run([sys.executable, __file__, "--build-full-size", str(args.full_size)], check=True)
        args.bert_root = args.full_size
    args.bert_root = args.bert_root.resolve()
    print(f"BERT source: {args.bert_root}")
    if args.bert_root == TINY_BERT.resolve():
        print("  (tiny 3-layer stand-in BERT: no full-size BERT given; BERT compute is far below real)")
    print(f"texts: {[len(t) for t in TEXTS]} characters; {args.repeats} processes x {args.rounds} rounds")
    dump_dir = Path(tempfile.mkdtemp(prefix="hayakoe-bench-frontend-"))
    args.ort_cache = args.ort_cache or dump_dir / "ort-cache"
    ours_env = {**os.environ, "PYTHONPATH": repo_pythonpath()}
    results = {"hayakoe": _measure(Path(sys.executable), "ours", args, dump_dir / "ours.npz", ours_env)}
    if not args.no_upstream:
        try:
            python = upstream_venv(args.upstream_venv)
        except BaselineUnavailable as err:
            print(f"upstream baseline unavailable: {err}")
        else:
            env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
            results["upstream"] = _measure(python, "upstream", args, dump_dir / "upstream.npz", env)
    print()
    _print_table(results)
    print(f"\nheavy modules imported by hayakoe's CPU path: {results['hayakoe']['heavy_modules'] or 'none'}")
    if "upstream" in results:
        print(_compare_outputs(dump_dir / "ours.npz", dump_dir / "upstream.npz"))
        ratio = results["hayakoe"]["cold_total_s"] / results["upstream"]["cold_total_s"]
        verdict = "meets" if ratio <= TARGET_COLD_RATIO else "MISSES"
        print(f"cold first call ratio {ratio:.2f} {verdict} the target of <= {TARGET_COLD_RATIO}x upstream")


if __name__ == "__main__":
    main()
