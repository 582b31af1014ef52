"""One place that decides how onnxruntime sessions are built (BERT and synthesizer alike).

Choices, for speed on small CPUs:
- ``ORT_ENABLE_ALL`` graph optimisation: constant-folds the relative-position projections and fuses
  LayerNorm/GELU/MatMul patterns; the golden graphs were checked with it.
- intra-op threads = physical cores: hyper-threads add contention in GEMM-bound graphs.
- inter-op threads = 1 and sequential execution: the graphs are chains; parallel branches are rare.
- spinning off after a run (``session.intra_op.allow_spinning = 0``): hayakoe loads several sessions
  (BERT, synthesizer, duration predictor) that run one after another; spinning pools of idle
  sessions would steal the cores from the one that is working.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any


@cache
def physical_cores() -> int:
    """Physical CPU cores available to this process (logical CPUs when topology is unknown)."""
    try:
        available = os.sched_getaffinity(0)
    except AttributeError:  # not Linux
        available = set(range(os.cpu_count() or 1))
    cores: set[tuple[str, str]] = set()
    for cpu in available:
        topo = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            package = (topo / "physical_package_id").read_text().strip()
            core = (topo / "core_id").read_text().strip()
        except OSError:
            return max(1, len(available))
        cores.add((package, core))
    return max(1, len(cores))


def session_options(threads: int | None = None) -> Any:
    """``onnxruntime.SessionOptions`` with the choices in this module's docstring."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.intra_op_num_threads = threads or physical_cores()
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3
    return opts


def cpu_session(path: str | Path, threads: int | None = None) -> Any:
    """An ``onnxruntime.InferenceSession`` on the CPU provider for the model file at ``path``.

    External data (``<graph>.onnx.data``) is resolved relative to the graph's folder.
    """
    import onnxruntime as ort

    return ort.InferenceSession(
        str(path), sess_options=session_options(threads), providers=["CPUExecutionProvider"]
    )
