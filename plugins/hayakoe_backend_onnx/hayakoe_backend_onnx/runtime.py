"""The ONNX speaker runtime: an upstream ONNX speaker folder run with onnxruntime on the CPU.

The folder's layout, the graphs' inputs and outputs and where durations come from are core's
(:class:`hayakoe_core.synthesis.GraphSpeaker`); this module opens the graphs with onnxruntime
(weights over 2 GB in ``synthesizer.onnx.data`` beside the graph). Only onnxruntime and numpy are
imported: the CPU path never imports torch.

With a derived cache (``optimized_cache``), the synthesizer is cut once into an encoder and a
decoder graph (:mod:`hayakoe_backend_onnx.split`) and run as the two: the same audio, and a stream
can decode its first sentence in windows. Without a cache, or for a graph that cannot be cut, the
synthesizer runs whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from hayakoe_backend_onnx.split import split_graphs
from hayakoe_core.errors import ConfigError
from hayakoe_core.ort import cpu_session
from hayakoe_core.synthesis import SYNTHESIZER_FILE, GraphSpeaker, check_graph


@dataclass(frozen=True)
class _Graph:
    """An onnxruntime session with the input and output names it declares."""

    session: Any
    inputs: frozenset[str]
    outputs: tuple[str, ...]

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        values = self.session.run(None, {name: feeds[name] for name in self.inputs})
        return dict(zip(self.outputs, values, strict=True))


class OnnxSpeaker(GraphSpeaker):
    """A :class:`hayakoe_core.synthesis.SpeakerModel` backed by upstream-format ONNX graphs."""

    @classmethod
    def load(cls, speaker_dir: str | Path, optimized_cache: Path | None = None) -> OnnxSpeaker:
        """Open the speaker folder ``speaker_dir`` (errors: see :class:`GraphSpeaker`);
        ``optimized_cache``: see :func:`hayakoe_core.ort.cpu_session`; the cut graphs are kept
        there too."""
        synthesizer = Path(speaker_dir) / SYNTHESIZER_FILE
        split = None
        if optimized_cache is not None and synthesizer.is_file():
            split = split_graphs(synthesizer, optimized_cache)
        opener = partial(_open_graph, optimized_cache=optimized_cache)
        return cls(speaker_dir, opener, split=None if split is None else (split.encoder, split.decoder))


def _open_graph(path: Path, required_output: str, optimized_cache: Path | None) -> _Graph:
    """A session for the graph at ``path``, checked against what the runtime feeds and reads."""
    from onnxruntime.capi import onnxruntime_pybind11_state as ort_state

    load_errors = (
        ort_state.Fail,
        ort_state.InvalidArgument,
        ort_state.InvalidGraph,
        ort_state.InvalidProtobuf,
        ort_state.NoSuchFile,
        ort_state.NoModel,
        ort_state.NotImplemented,
        ort_state.RuntimeException,
    )
    try:
        session = cpu_session(path, optimized_cache=optimized_cache)
    except load_errors as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{path}: not a loadable ONNX graph ({first_line})") from None
    inputs = frozenset(i.name for i in session.get_inputs())
    outputs = tuple(o.name for o in session.get_outputs())
    check_graph(path, inputs, outputs, required_output)
    return _Graph(session=session, inputs=inputs, outputs=outputs)
