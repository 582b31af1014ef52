"""One place that decides how onnxruntime sessions are built (BERT and synthesizer alike).

Choices, for speed on small CPUs:
- ``ORT_ENABLE_ALL`` graph optimisation: constant-folds the relative-position projections and fuses
  LayerNorm/GELU/MatMul patterns; the golden graphs were checked with it.
- intra-op threads = physical cores: hyper-threads add contention in GEMM-bound graphs.
- inter-op threads = 1 and sequential execution: the graphs are chains; parallel branches are rare.
- intra-op threads spin briefly after each op (``session.intra_op.allow_spinning = 1``, ORT's
  default), stated here because it was measured: on 2 quiet cores the full-size synthesizer ran
  ~15% faster with it (speed factor vs upstream's settings on the same graphs 1.17/1.08/1.11×
  against 0.96/0.93/0.98× with spinning off), and a whole multi-sentence generate(), where the
  BERT, synthesizer and duration-predictor sessions take turns, was within noise either way.
- an optional cache of ORT's optimised graphs (``optimized_cache``): optimising is most of a
  session's build time (full-size synthesizer: ~0.85 s from the exported graph, ~0.47 s from the
  optimised copy, same outputs). Optimised graphs depend on the ORT version and the CPU, so a
  cached copy is used only while its key (source file identity, ORT version, CPU) still matches.
  It only saves time, so a cache that cannot be written (read-only, disk full) is skipped: the
  session is built from the graph itself and no partial copy is left behind.
"""

from __future__ import annotations

import hashlib
import os
import platform
from functools import cache
from pathlib import Path
from typing import Any

from hayakoe_core.atomic import write_text


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
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1")
    opts.log_severity_level = 3
    return opts


def cpu_session(path: str | Path, threads: int | None = None, optimized_cache: Path | None = None) -> Any:
    """An ``onnxruntime.InferenceSession`` on the CPU provider for the model file at ``path``.

    External data (``<graph>.onnx.data``) is resolved relative to the graph's folder.
    ``optimized_cache``: a folder where ORT's optimised copy of the graph is kept between loads
    (one copy per source path, replaced when the key changes; writes are atomic, so concurrent
    loaders are safe). Graphs with external data are not cached (the copy would need its own).
    """
    path = Path(path)
    cached = _cached_graph(path, optimized_cache) if optimized_cache is not None else None
    if cached is None:
        return _session(path, session_options(threads))
    key = _cache_key(path)
    if cached.is_file() and _read(_key_file(cached)) == key:
        return _session(cached, session_options(threads))
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        _remove_dead_partials(cached)
    except OSError:  # a cache we cannot write: build from the graph
        return _session(path, session_options(threads))
    partial = cached.with_name(f".{cached.name}.{os.getpid()}.partial")
    opts = session_options(threads)
    opts.optimized_model_filepath = str(partial)
    try:
        session = _session(path, opts)
    except Exception:
        partial.unlink(missing_ok=True)
        # ORT also fails when it cannot write the optimised copy ("Protobuf serialization failed"
        # on a full disk): without the copy, a good graph loads; a bad one fails again, for real.
        return _session(path, session_options(threads))
    try:
        os.replace(partial, cached)  # the graph first, then its key: a key never names an older graph
        write_text(_key_file(cached), key)
    except OSError:
        for leftover in (partial, cached, _key_file(cached)):
            leftover.unlink(missing_ok=True)
    return session


def _remove_dead_partials(cached: Path) -> None:
    """Remove partial copies of ``cached`` whose writing process no longer runs."""
    for partial in cached.parent.glob(f".{cached.name}.*.partial"):
        pid = partial.name.removeprefix(f".{cached.name}.").removesuffix(".partial")
        if pid.isdigit() and not _alive(int(pid)):
            partial.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _session(path: Path, opts: Any) -> Any:
    import onnxruntime as ort

    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def _cached_graph(path: Path, cache: Path) -> Path | None:
    """Where the optimised copy of ``path`` lives in ``cache`` (``None``: not cacheable)."""
    if path.with_name(path.name + ".data").exists():
        return None
    where = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    return cache / f"{path.stem}-{where}.onnx"


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def _key_file(cached: Path) -> Path:
    return cached.with_name(cached.name + ".key")


def _cache_key(source: Path) -> str:
    """Source path, size and mtime, the ORT version, the machine and the CPU's flags."""
    import onnxruntime as ort

    stat = source.stat()
    parts = [str(source.resolve()), str(stat.st_size), str(stat.st_mtime_ns), ort.__version__]
    return "\n".join([*parts, platform.machine(), _cpu_flags()])


@cache
def _cpu_flags() -> str:
    """The CPU's feature flags (Linux), else the processor name: kernels ORT picks depend on them."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()
