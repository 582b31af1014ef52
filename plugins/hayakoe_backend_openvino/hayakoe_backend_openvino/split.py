"""Cutting ``synthesizer.onnx`` into an encoder and a frame-masked decoder, as OpenVINO IR.

Why: OpenVINO's CPU plugin keeps memory for every distinct input shape a dynamically shaped model
has run, for the life of the process (measured with OpenVINO 2026.4.1: ~0.2 MiB per latent frame
per distinct length in the HiFi-GAN decoder, about 85 MiB for a 4-second utterance; dropping the
compiled model, the Core, ``malloc_trim`` or ``CPU_RUNTIME_CACHE_CAPACITY=0`` release none of
it). The decoder is where nearly all of it goes, so it is cut out and only ever run on a few
fixed lengths (:data:`hayakoe_backend_openvino.runtime.DECODER_LENGTHS`), the latent padded with
zeros up to one of them.

Padding alone would change the last samples: the decoder's convolutions zero-pad at the end of
their input, while a padded input carries activations past the end. So the decoder gets a third
input, ``frames`` (i64 scalar: the latent frames that are real), and every convolution's data
input is multiplied by a mask that is 1 before ``frames * (its length / the latent's length)``
and 0 after — the same zeros the unpadded run pads with, so the real samples come out the same
(measured max difference 3e-8 on the full-size graph).

- ``encoder``: the synthesizer's inputs → ``z`` [1, C, F] (what ``dec/conv_pre`` reads), ``g``
  [1, gin, 1] (what ``dec/cond`` reads, when there is one) and ``durations`` when the graph has it;
- ``decoder``: ``z``, ``frames``, ``g`` → ``audio`` [1, 1, F * samples_per_frame].

The cut is found by structure: the convolutions OpenVINO's ONNX frontend names ``…/dec/conv_pre/…``
and ``…/dec/cond/…`` (torch's export names nodes by module path, upstream's exporter and hayakoe's
alike). The IR is written into the folder the runtime gives (keyed there by the source graph's
identity); a graph without that structure is not cut (``None``: the runtime runs it whole).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENCODER_FILE = "encoder.xml"
DECODER_FILE = "decoder.xml"
#: The decoder's extra input: how many latent frames are real (the rest is padding).
FRAMES_INPUT = "frames"
_CONVOLUTIONS = ("Convolution", "ConvolutionBackpropData", "GroupConvolution", "GroupConvolutionBackpropData")


@dataclass(frozen=True)
class SplitGraphs:
    """Where the two IR graphs cut from one synthesizer are."""

    encoder: Path
    decoder: Path


def split_graphs(synthesizer: Path, folder: Path) -> SplitGraphs | None:
    """The encoder and decoder IR of ``synthesizer`` in ``folder`` (written now when missing);
    ``None`` when the graph cannot be cut or the folder cannot take the files (then the runtime
    runs the synthesizer whole, as before)."""
    found = SplitGraphs(folder / ENCODER_FILE, folder / DECODER_FILE)
    if all(p.is_file() and p.with_suffix(".bin").is_file() for p in (found.encoder, found.decoder)):
        return found
    import openvino as ov

    try:
        parts = _cut(ov.Core(), synthesizer)
    except RuntimeError:  # a file OpenVINO cannot read: opening it whole reports why
        return None
    if parts is None:
        return None
    written: list[Path] = []
    try:
        # the decoder last: a folder with the decoder has the encoder too
        for model, path in zip(parts, (found.encoder, found.decoder), strict=True):
            partial = path.with_name(f".{path.stem}.{os.getpid()}.partial.xml")
            written += [partial, partial.with_suffix(".bin")]
            ov.save_model(model, str(partial), compress_to_fp16=False)
            os.replace(partial.with_suffix(".bin"), path.with_suffix(".bin"))
            os.replace(partial, path)
    except (OSError, RuntimeError):  # a full or read-only disk: run whole this time
        for path in written:
            path.unlink(missing_ok=True)
        return None
    return found


def _cut(core: Any, synthesizer: Path) -> tuple[Any, Any] | None:
    """(encoder, masked decoder) as ``ov.Model``, or ``None`` when the graph has no such cut."""
    import openvino as ov

    encoder_side = core.read_model(str(synthesizer))
    boundary = _boundary(encoder_side)
    audio = [o for o in encoder_side.outputs if "audio" in o.get_names()]
    if boundary is None or not audio:
        return None
    pre, cond = boundary
    latent = [pre.input(0).get_source_output()] + ([cond.input(0).get_source_output()] if cond else [])
    for output, name in zip(latent, ("z", "g"), strict=False):
        output.get_tensor().set_names({name})
    durations = [o for o in encoder_side.outputs if "durations" in o.get_names()]
    encoder = ov.Model([*latent, *durations], encoder_side.get_parameters(), "encoder")

    decoder_side = core.read_model(str(synthesizer))
    pre, cond = _boundary(decoder_side) or (None, None)
    assert pre is not None
    z = _parameter(ov, "z", [1, pre.input(0).get_partial_shape()[1], -1], ov.Type.f32)
    frames = _parameter(ov, FRAMES_INPUT, [], ov.Type.i64)
    pre.input(0).replace_source_output(z.output(0))
    parameters = [z, frames]
    if cond is not None:
        g = _parameter(ov, "g", [1, cond.input(0).get_partial_shape()[1], 1], ov.Type.f32)
        cond.input(0).replace_source_output(g.output(0))
        parameters.append(g)
    audio = [o for o in decoder_side.outputs if "audio" in o.get_names()]
    decoder = ov.Model(audio, parameters, "decoder")
    _mask_convolutions(decoder, z, frames)
    if any("/dec/" in op.get_friendly_name() for op in encoder.get_ordered_ops()):
        return None
    return encoder, decoder


def _boundary(model: Any) -> tuple[Any, Any | None] | None:
    """The decoder's ``conv_pre`` and ``cond`` convolutions (``cond`` may be absent)."""
    convs = [op for op in model.get_ordered_ops() if op.get_type_name() == "Convolution"]
    pre = [op for op in convs if "/dec/conv_pre/" in op.get_friendly_name()]
    cond = [op for op in convs if "/dec/cond/" in op.get_friendly_name()]
    if len(pre) != 1 or len(cond) > 1:
        return None
    return pre[0], (cond[0] if cond else None)


def _parameter(ov: Any, name: str, shape: list[int], element_type: Any) -> Any:
    from openvino import opset13 as ops

    parameter = ops.parameter(shape, element_type, name=name)
    parameter.output(0).get_tensor().set_names({name})
    return parameter


def _mask_convolutions(decoder: Any, z: Any, frames: Any) -> None:
    """Zero every convolution's data input past the real frames (see the module docstring)."""
    import numpy as np
    from openvino import opset13 as ops

    def length(value: Any) -> Any:
        return ops.gather(ops.shape_of(value, "i64"), ops.constant(np.int64(2)), ops.constant(np.int64(0)))

    latent_length = length(z)
    for op in decoder.get_ordered_ops():
        if op.get_type_name() not in _CONVOLUTIONS:
            continue
        data = op.input(0).get_source_output()
        if data.get_partial_shape()[2].is_static and data.get_partial_shape()[2].get_length() == 1:
            continue  # ``cond`` reads the speaker embedding, one frame
        n = length(data)
        real = ops.divide(ops.multiply(frames, n), latent_length)  # n is a whole multiple of F
        positions = ops.range(ops.constant(np.int64(0)), n, ops.constant(np.int64(1)), "i64")
        mask = ops.convert(ops.less(positions, real), "f32")
        op.input(0).replace_source_output(ops.multiply(data, mask).output(0))
    decoder.validate_nodes_and_infer_types()
