"""The ONNX speaker runtime: an upstream ONNX speaker folder run with onnxruntime on the CPU.

The folder's layout, the graphs' inputs and outputs and where durations come from are core's
(:class:`hayakoe_core.synthesis.GraphSpeaker`); this module opens the graphs with onnxruntime
(weights over 2 GB in ``synthesizer.onnx.data`` beside the graph). Only onnxruntime and numpy are
imported: the CPU path never imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from hayakoe_core.errors import ConfigError
from hayakoe_core.ort import cpu_session
from hayakoe_core.synthesis import GraphSpeaker, check_graph


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
        ``optimized_cache``: see :func:`hayakoe_core.ort.cpu_session`."""
        return cls(speaker_dir, partial(_open_graph, optimized_cache=optimized_cache))


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
