"""Validation before anything is written: config, style vectors, and each backend's checkpoint
check (``hayakoe_check_files`` through the registry), each failure one line naming the file."""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import numpy as np
import pytest

from hayakoe_core.errors import ConfigError, HayakoeError
from hayakoe_core.hookspecs import hookimpl
from hayakoe_core.publish.validate import validate_source
from hayakoe_core.registry import Registry, get_registry
from hayakoe_core.types import BackendInfo
from tests.publish.speakers import (
    edit_config,
    read_raw,
    save_tensors,
    speaker_folder,
    tiny_tensors,
    write_raw,
)
from tests.support.repo import CHECKPOINT, FIXTURES

BACKENDS = ("onnx", "torch")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return speaker_folder(tmp_path / "speaker")


def _fails(folder: Path, checkpoint: Path, *needles: str, backends=BACKENDS, **kwargs) -> str:
    with pytest.raises(HayakoeError) as err:
        validate_source(folder, checkpoint, backends, **kwargs)
    message = str(err.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message
    return message


def test_the_tiny_speaker_passes_every_backend_check(folder: Path) -> None:
    result = validate_source(folder, folder / CHECKPOINT.name, BACKENDS, name="tiny")
    assert (result.checked, result.unchecked) == (BACKENDS, ())
    assert result.config.data.num_styles == 4


def test_a_bad_name_is_refused_first(folder: Path) -> None:
    _fails(folder, folder / CHECKPOINT.name, "Bad_Name", name="Bad_Name")


# --- config.json ---------------------------------------------------------------------------------


def test_config_that_is_not_json(folder: Path) -> None:
    (folder / "config.json").write_text("{nope")
    _fails(folder, folder / CHECKPOINT.name, str(folder / "config.json"), "not valid JSON")


def test_config_of_a_model_that_is_not_jp_extra(folder: Path) -> None:
    edit_config(folder, lambda raw: raw.update(version="2.4.1"))
    _fails(folder, folder / CHECKPOINT.name, str(folder / "config.json"), "not a JP-Extra model")


def test_config_with_jp_extra_switched_off(folder: Path) -> None:
    edit_config(folder, lambda raw: raw["data"].update(use_jp_extra=False))
    _fails(folder, folder / CHECKPOINT.name, str(folder / "config.json"), "use_jp_extra")


# --- style_vectors.npy -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("array", "needle"),
    [
        (np.zeros((3, 256), np.float32), "3 style vectors but config.json says num_styles 4"),
        (np.zeros((4, 256), np.int32), "int32, expected float32 or float64"),
        (np.zeros((4, 256, 1), np.float32), "shape (4, 256, 1)"),
        (np.full((4, 256), np.nan, np.float32), "NaN"),
    ],
    ids=["rows", "dtype", "3d", "nan"],
)
def test_style_vectors_that_do_not_fit(folder: Path, array: np.ndarray, needle: str) -> None:
    np.save(folder / "style_vectors.npy", array)
    _fails(folder, folder / CHECKPOINT.name, str(folder / "style_vectors.npy"), needle)


def test_float64_style_vectors_are_accepted(folder: Path) -> None:
    np.save(folder / "style_vectors.npy", np.load(folder / "style_vectors.npy").astype(np.float64))
    validate_source(folder, folder / CHECKPOINT.name, BACKENDS)


class _Planted:
    """Unpickling this creates ``path``: proof that a pickle was executed."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


@pytest.mark.parametrize("form", ["object-array", "raw-pickle"])
def test_a_pickle_in_the_style_vectors_is_an_error_and_never_runs(
    folder: Path, tmp_path: Path, form: str
) -> None:
    planted = tmp_path / "pickle-ran"
    target = folder / "style_vectors.npy"
    if form == "object-array":
        array = np.empty((4, 256), dtype=object)
        array[0, 0] = _Planted(planted)
        np.save(target, array, allow_pickle=True)
    else:
        target.write_bytes(pickle.dumps(_Planted(planted)))
    _fails(folder, folder / CHECKPOINT.name, str(target), "cannot read style vectors")
    assert not planted.exists()


def test_an_npz_archive_is_not_style_vectors(folder: Path) -> None:
    with (folder / "style_vectors.npy").open("wb") as f:
        np.savez(f, v=np.zeros((4, 256), np.float32))
    _fails(folder, folder / CHECKPOINT.name, ".npz archive")


# --- the checkpoint, per backend ---------------------------------------------------------------------


def _one_backend(backend: str) -> tuple[str, ...]:
    return (backend,)


def _truncated(ckpt: Path) -> str:
    blob = CHECKPOINT.read_bytes()
    ckpt.write_bytes(blob[:-1000])
    header, _ = read_raw(CHECKPOINT)
    return max(header.items(), key=lambda kv: kv[1].get("data_offsets", [0, 0])[1])[0]


def _lying_shape(ckpt: Path) -> str:
    header, data = read_raw(CHECKPOINT)
    header["emb_g.weight"]["shape"] = [2, 16]  # the data range still holds [1, 16]
    write_raw(ckpt, header, data)
    return "emb_g.weight"


def _lying_offsets(ckpt: Path) -> str:
    header, data = read_raw(CHECKPOINT)
    start, stop = header["dec.cond.bias"]["data_offsets"]
    header["dec.cond.bias"]["data_offsets"] = [start, stop + 4]
    write_raw(ckpt, header, data)
    return "dec.cond.bias"


def _wrong_dtype(ckpt: Path) -> str:
    header, data = read_raw(CHECKPOINT)
    header["dp.proj.bias"]["dtype"] = "I32"  # same size, so the file itself is consistent
    write_raw(ckpt, header, data)
    return "dp.proj.bias"


def _missing(ckpt: Path) -> str:
    tensors = tiny_tensors()
    del tensors["dec.conv_post.weight"]
    save_tensors(ckpt, tensors)
    return "dec.conv_post.weight"


def _extra(ckpt: Path) -> str:
    save_tensors(ckpt, {**tiny_tensors(), "dec.extra.weight": np.zeros(3, np.float32)})
    return "dec.extra.weight"


def _wrong_shape(ckpt: Path) -> str:
    save_tensors(ckpt, {**tiny_tensors(), "enc_p.emb.weight": np.zeros((111, 16), np.float32)})
    return "enc_p.emb.weight"


BROKEN = {
    "truncated": (_truncated, "truncated"),
    "lying-shape": (_lying_shape, "header says F32 [2, 16]"),
    "lying-offsets": (_lying_offsets, "byte range"),
    "wrong-dtype": (_wrong_dtype, "is I32, not a floating-point tensor"),
    "missing-key": (_missing, "missing key"),
    "extra-key": (_extra, "unexpected key"),
    "wrong-shape": (_wrong_shape, "has shape [111, 16], the config needs [112, 16]"),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_a_broken_checkpoint_is_one_line_naming_file_and_key(folder: Path, case: str, backend: str) -> None:
    make, needle = BROKEN[case]
    ckpt = folder / "broken_e1_s1.safetensors"
    key = make(ckpt)
    _fails(folder, ckpt, str(ckpt), repr(key), needle, backends=_one_backend(backend))


def test_a_checkpoint_that_is_not_there(folder: Path) -> None:
    _fails(folder, folder / "gone.safetensors", "gone.safetensors", "not found")


def test_a_checkpoint_for_another_config_points_at_the_config(folder: Path) -> None:
    edit_config(folder, lambda raw: raw["model"].update(hidden_channels=32))
    _fails(folder, folder / CHECKPOINT.name, "does config.json match?")


def test_a_full_size_header_is_checked_without_reading_weights(tmp_path: Path) -> None:
    """A default-size (251 MB) checkpoint whose data is a hole in a sparse file: only the header
    is read, and the full-size architecture's keys and shapes are what the check expects."""
    spec = json.loads((FIXTURES / "model" / "statedict-jp-extra-default.json").read_text())
    folder = tmp_path / "full"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(spec["config_used"]))
    styles = spec["config_used"]["data"]["num_styles"]
    np.save(folder / "style_vectors.npy", np.zeros((styles, 256), np.float32))
    header, offset = {}, 0
    for entry in (e for e in spec["state_dict"] if e["in_checkpoint"]):
        end = offset + 4 * int(np.prod(entry["shape"]))
        header[entry["key"]] = {"dtype": "F32", "shape": entry["shape"], "data_offsets": [offset, end]}
        offset = end
    header["iteration"] = {"dtype": "I64", "shape": [1], "data_offsets": [offset, offset + 8]}
    ckpt = write_raw(folder / "full_e100_s10000.safetensors", header, b"")
    with ckpt.open("r+b") as f:
        f.truncate(ckpt.stat().st_size + offset + 8)

    validate_source(folder, ckpt, BACKENDS)

    assert ckpt.stat().st_blocks * 512 < 1_000_000  # still a hole: nothing wrote the weights


# --- routing -----------------------------------------------------------------------------------------


class _UncheckedBackend:
    @hookimpl
    def hayakoe_backend(self) -> BackendInfo:
        return BackendInfo(name="plain", repo_folder="plain", devices=("cpu",))

    @hookimpl
    def hayakoe_load_runtime(self, speaker_dir: Path, device: str) -> None:
        raise AssertionError("not called")


def test_a_backend_without_the_check_is_reported_unchecked(folder: Path) -> None:
    registry = Registry()
    registry.load_entry_points()
    registry.register(_UncheckedBackend(), "plain")
    result = validate_source(folder, folder / CHECKPOINT.name, ("plain", "torch"), registry=registry)
    assert (result.checked, result.unchecked) == (("torch",), ("plain",))


def test_an_unknown_backend_names_how_to_install(folder: Path) -> None:
    with pytest.raises(HayakoeError, match="unknown backend 'tpu'"):
        validate_source(folder, folder / CHECKPOINT.name, ("tpu",))


def test_check_files_is_routed_to_the_named_backend_only(folder: Path) -> None:
    registry = get_registry()
    assert registry.check_files("torch", speaker_source=folder, checkpoint=folder / CHECKPOINT.name)
    (folder / "config.json").write_text("[]")
    with pytest.raises(ConfigError, match=re.escape(str(folder / "config.json"))):
        registry.check_files("onnx", speaker_source=folder, checkpoint=folder / CHECKPOINT.name)
