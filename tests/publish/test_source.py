"""What to publish: datasets, other folders, checkpoints and the default name."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from hayakoe_core.errors import ConfigError, HayakoeError
from hayakoe_core.publish.source import (
    SpeakerSource,
    choose_checkpoint,
    data_root,
    default_name,
    find_datasets,
    open_folder,
)
from tests.publish.speakers import speaker_folder


def _dataset(root: Path, name: str, model: str, *checkpoints: str) -> Path:
    return speaker_folder(root / name / "exports" / model, checkpoints or ("m_e1_s10.safetensors",))


def test_data_root_argument_then_environment_then_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HAYAKOE_DATA_ROOT", raising=False)
    assert data_root() == Path("data/dataset")
    monkeypatch.setenv("HAYAKOE_DATA_ROOT", "/srv/data")
    assert data_root() == Path("/srv/data")
    assert data_root("/elsewhere") == Path("/elsewhere")


def test_datasets_are_found_under_the_root_and_incomplete_exports_left_out(tmp_path: Path) -> None:
    _dataset(tmp_path, "Amitaro", "amitaro")
    _dataset(tmp_path, "multi", "a")
    _dataset(tmp_path, "multi", "b")
    (tmp_path / "training" / "exports" / "half").mkdir(parents=True)  # no files yet
    (tmp_path / "training" / "exports" / "half" / "config.json").write_text("{}")
    (tmp_path / "no-exports").mkdir()
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "exports").write_text("a file, not a folder")

    found = find_datasets(tmp_path)

    assert [(s.label, s.folder.relative_to(tmp_path).as_posix()) for s in found] == [
        ("Amitaro", "Amitaro/exports/amitaro"),
        ("multi-a", "multi/exports/a"),
        ("multi-b", "multi/exports/b"),
    ]
    assert found[0].dataset_dir == tmp_path / "Amitaro"
    assert found[0].export_cache(Path("/cache")) == tmp_path / "Amitaro" / "onnx"


def test_a_missing_root_has_no_datasets(tmp_path: Path) -> None:
    assert find_datasets(tmp_path / "absent") == []


def test_another_folder_keeps_only_what_is_needed_and_caches_outside_it(tmp_path: Path) -> None:
    folder = speaker_folder(tmp_path / "My Voice", graphs=True)
    (folder / "train.log").write_text("x")
    (folder / "sub").mkdir()
    (folder / "sub" / "old_e1_s1.safetensors").write_bytes(b"x")

    source = open_folder(folder)

    assert source.label == "My Voice"
    assert source.dataset_dir is None
    assert [c.name for c in source.checkpoints] == ["tiny_e1_s10.safetensors"]
    assert [p.name for p in source.onnx_graphs] == ["synthesizer.onnx", "duration_predictor.onnx"]
    assert source.export_cache(tmp_path / "cache") == tmp_path / "cache" / "exports"


def test_a_dataset_export_given_as_a_folder_is_that_dataset(tmp_path: Path) -> None:
    folder = _dataset(tmp_path, "Tsukuyomi", "model")
    source = open_folder(folder)
    assert (source.label, source.dataset_dir) == ("Tsukuyomi", tmp_path / "Tsukuyomi")


def test_graphs_are_reusable_only_as_a_pair_and_bring_their_external_data(tmp_path: Path) -> None:
    folder = speaker_folder(tmp_path / "s", graphs=True)
    (folder / "synthesizer.onnx.data").write_bytes(b"w")
    assert [p.name for p in open_folder(folder).onnx_graphs] == [
        "synthesizer.onnx",
        "duration_predictor.onnx",
        "synthesizer.onnx.data",
    ]
    (folder / "duration_predictor.onnx").unlink()
    assert open_folder(folder).onnx_graphs == ()


@pytest.mark.parametrize(
    ("remove", "message"),
    [
        ("config.json", "config.json is missing"),
        ("style_vectors.npy", "style_vectors.npy is missing"),
        ("tiny_e1_s10.safetensors", "no *.safetensors checkpoint"),
    ],
)
def test_a_folder_not_in_hayakoe_format_names_what_is_missing(
    tmp_path: Path, remove: str, message: str
) -> None:
    folder = speaker_folder(tmp_path / "s")
    (folder / remove).unlink()
    with pytest.raises(ConfigError, match=re.escape(message)) as err:
        open_folder(folder)
    assert str(folder) in str(err.value)


def test_a_missing_folder_names_the_flag(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--folder"):
        open_folder(tmp_path / "nope")


def _source_with(tmp_path: Path, *names: str) -> SpeakerSource:
    folder = speaker_folder(tmp_path / "s", names)
    for i, name in enumerate(names):  # mtimes in the order given
        os.utime(folder / name, (1_700_000_000 + i * 60, 1_700_000_000 + i * 60))
    return open_folder(folder)


def test_checkpoints_are_listed_by_step_with_epoch_and_date(tmp_path: Path) -> None:
    source = _source_with(tmp_path, "v_e10_s2000.safetensors", "v_e2_s300.safetensors", "G_x.safetensors")
    assert [(c.name, c.epoch, c.step) for c in source.checkpoints] == [
        ("G_x.safetensors", None, None),
        ("v_e2_s300.safetensors", 2, 300),
        ("v_e10_s2000.safetensors", 10, 2000),
    ]
    line = source.checkpoints[2].describe()
    assert line.startswith("v_e10_s2000.safetensors  step 2000  ")
    assert source.checkpoints[2].modified.strftime("%Y-%m-%d %H:%M") in line
    assert line.endswith(" MB")


def test_the_only_checkpoint_is_chosen_without_asking(tmp_path: Path) -> None:
    source = _source_with(tmp_path, "v_e1_s10.safetensors")
    assert choose_checkpoint(source).name == "v_e1_s10.safetensors"


def test_several_checkpoints_and_no_choice_names_the_flag_and_lists_them(tmp_path: Path) -> None:
    source = _source_with(tmp_path, "v_e1_s10.safetensors", "v_e2_s20.safetensors")
    with pytest.raises(HayakoeError) as err:
        choose_checkpoint(source)
    message = str(err.value)
    assert "--checkpoint" in message
    assert "v_e1_s10.safetensors, v_e2_s20.safetensors" in message
    assert "\n" not in message


def test_a_checkpoint_is_chosen_by_name_stem_or_path(tmp_path: Path) -> None:
    source = _source_with(tmp_path, "v_e1_s10.safetensors", "v_e2_s20.safetensors")
    assert choose_checkpoint(source, "v_e2_s20.safetensors").step == 20
    assert choose_checkpoint(source, "v_e1_s10").step == 10
    assert choose_checkpoint(source, source.folder / "v_e2_s20.safetensors").step == 20


def test_a_chosen_checkpoint_that_is_not_in_the_folder_is_refused(tmp_path: Path) -> None:
    source = _source_with(tmp_path, "v_e1_s10.safetensors", "v_e2_s20.safetensors")
    other = speaker_folder(tmp_path / "other", ("v_e2_s20.safetensors",))
    for wanted in ("v_e3_s30.safetensors", other / "v_e2_s20.safetensors"):
        with pytest.raises(HayakoeError, match=r"--checkpoint .* is not in .*v_e1_s10"):
            choose_checkpoint(source, wanted)


@pytest.mark.parametrize(
    ("label", "name"),
    [
        ("Tsukuyomi Chan_v2", "tsukuyomi-chan-v2"),
        ("amitaro", "amitaro"),
        ("--Café  Voice--", "cafe-voice"),
        ("x" * 80, "x" * 63),
    ],
)
def test_default_name_is_the_label_lower_cased_and_hyphenated(label: str, name: str) -> None:
    source = SpeakerSource(folder=Path("/x"), label=label, checkpoints=())
    assert default_name(source) == name


def test_a_label_with_nothing_usable_asks_for_a_name() -> None:
    source = SpeakerSource(folder=Path("/x"), label="つくよみちゃん", checkpoints=())
    with pytest.raises(HayakoeError, match="--name"):
        default_name(source)
