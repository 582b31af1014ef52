"""Cutting a published ``synthesizer.onnx`` into an encoder and a decoder graph, once per cache.

The published repo holds one synthesizer graph (upstream's format). Decoding in windows, so that a
stream's first audio comes sooner, needs the graph before and after the HiFi-GAN decoder apart:

- ``encoder``: the synthesizer's inputs → ``z`` [1, C, F] (the flow's output times the frame mask:
  what the decoder's ``conv_pre`` reads), ``g`` [1, gin, 1] (the speaker embedding its ``cond``
  reads) and, when the synthesizer has it, ``durations``;
- ``decoder``: ``z``, ``g`` → ``audio`` [1, 1, F * samples_per_frame].

The cut is found by structure: the decoder is every node named ``…/dec/…`` (torch's export names
nodes by module path, in upstream's exporter and in hayakoe's alike); its two inputs from outside
are the first inputs of ``dec/conv_pre`` and ``dec/cond``. The graphs are written under the
runtime's derived cache with a key of the source graph's identity, and rebuilt when it changes.
A graph that cannot be cut so (another exporter, weights in ``.onnx.data``) is not cut: the
runtime then synthesises whole.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENCODER_FILE = "encoder.onnx"
DECODER_FILE = "decoder.onnx"
KEY_FILE = "source.key"
#: Bump when the cut changes, so that older derived graphs are rebuilt.
SPLIT_VERSION = "1"


@dataclass(frozen=True)
class SplitGraphs:
    """Where the two derived graphs of one synthesizer are."""

    encoder: Path
    decoder: Path


def split_graphs(synthesizer: Path, cache: Path) -> SplitGraphs | None:
    """The encoder and decoder graphs of ``synthesizer`` under ``cache`` (made now when missing
    or stale); ``None`` when the graph cannot be cut (see the module docstring)."""
    if synthesizer.with_name(synthesizer.name + ".data").exists():
        return None
    folder = cache / f"split-{hashlib.sha256(str(synthesizer.resolve()).encode()).hexdigest()[:16]}"
    found = SplitGraphs(folder / ENCODER_FILE, folder / DECODER_FILE)
    key = _key(synthesizer)
    if _read(folder / KEY_FILE) == key and found.encoder.is_file() and found.decoder.is_file():
        return found
    if _read(folder / KEY_FILE) == f"{key}\nuncuttable":
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        try:
            cut = _cut(synthesizer, found)
        except OSError:
            raise
        except Exception:  # a graph onnx cannot take apart: synthesise whole, as before
            cut = False
        # last: a key never names graphs that are not all there
        _write(folder / KEY_FILE, key if cut else f"{key}\nuncuttable")
    except OSError:  # no room or no write access for derived graphs: synthesise whole this time
        for partial in folder.glob(f".*.{os.getpid()}.partial"):
            partial.unlink(missing_ok=True)
        return None
    return found if cut else None


def _cut(synthesizer: Path, out: SplitGraphs) -> bool:
    import onnx

    model = onnx.load(str(synthesizer))
    graph = model.graph
    conv_pre = [n for n in graph.node if n.name.endswith("/dec/conv_pre/Conv")]
    cond = [n for n in graph.node if n.name.endswith("/dec/cond/Conv")]
    outputs = {o.name: o for o in graph.output}
    if len(conv_pre) != 1 or len(cond) > 1 or "audio" not in outputs:
        return False
    boundary = {conv_pre[0].input[0]: "z"}
    if cond:
        boundary[cond[0].input[0]] = "g"
    latent = [
        onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, [1, None, None]) for name in boundary
    ]
    encoder_graph = _subgraph(
        graph, "encoder", list(graph.input), [*latent, *(v for k, v in outputs.items() if k == "durations")]
    )
    decoder_graph = _subgraph(graph, "decoder", latent, [outputs["audio"]])
    if any("/dec/" in n.name for n in encoder_graph.node) or not decoder_graph.node:
        return False
    for part, path in ((encoder_graph, out.encoder), (decoder_graph, out.decoder)):
        _rename(part, boundary)
        derived = onnx.helper.make_model(part, opset_imports=model.opset_import, ir_version=model.ir_version)
        partial = _partial(path)
        onnx.save(derived, str(partial))
        os.replace(partial, path)
    return True


def _subgraph(graph: Any, name: str, inputs: list[Any], outputs: list[Any]) -> Any:
    """The part of ``graph`` that computes ``outputs`` from ``inputs`` (value infos): the nodes
    they need, in the graph's order, and the initializers those nodes read."""
    import onnx

    producer = {value: node for node in graph.node for value in node.output}
    given = {v.name for v in inputs}
    wanted, seen, needed = [v.name for v in outputs], set(given), set()
    while wanted:
        value = wanted.pop()
        if value in seen:
            continue
        seen.add(value)
        node = producer.get(value)
        if node is not None and id(node) not in needed:
            needed.add(id(node))
            wanted.extend(_reads(node))
    nodes = [n for n in graph.node if id(n) in needed]
    initializers = [i for i in graph.initializer if i.name in seen and i.name not in given]
    return onnx.helper.make_graph(nodes, name, inputs, outputs, initializers)


def _reads(node: Any) -> list[str]:
    """Every value ``node`` reads, including outer values its subgraphs (If, Loop) read."""
    import onnx

    reads = [n for n in node.input if n]
    for attribute in node.attribute:
        subgraphs = [attribute.g] if attribute.type == onnx.AttributeProto.GRAPH else list(attribute.graphs)
        for sub in subgraphs:
            inner = {o for n in sub.node for o in n.output} | {i.name for i in sub.input}
            inner |= {i.name for i in sub.initializer}
            reads += [r for n in sub.node for r in _reads(n) if r not in inner]
    return reads


def _rename(graph: Any, names: dict[str, str]) -> None:
    """Rename the values ``names`` maps, wherever ``graph`` mentions them."""
    for value in [*graph.input, *graph.output, *graph.value_info]:
        value.name = names.get(value.name, value.name)
    for node in graph.node:
        node.input[:] = [names.get(n, n) for n in node.input]
        node.output[:] = [names.get(n, n) for n in node.output]


def _key(path: Path) -> str:
    stat = path.stat()
    return f"split {SPLIT_VERSION}; {path.resolve()}; {stat.st_size}; {stat.st_mtime_ns}"


def _partial(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.partial")


def _write(path: Path, text: str) -> None:
    partial = _partial(path)
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None
