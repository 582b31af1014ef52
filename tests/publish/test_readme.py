"""The destination's README: generated card, merge with the user's text, decision and diff."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from huggingface_hub import ModelCard
from rich.console import Console

from hayakoe_core.errors import HayakoeError
from hayakoe_core.publish.readme import (
    BEGIN,
    END,
    decide_readme,
    diff_renderable,
    readme_diff,
    render_readme,
)
from hayakoe_core.registry import get_registry
from hayakoe_core.types import BackendInfo
from tests.support.repo import make_repo

URL = "hf://org/voices"
BACKENDS = get_registry().backends()
BOTH = {"onnx": ["amitaro", "tsukuyomi"], "pytorch": ["tsukuyomi", "zundamon"]}


def _render(listing=BOTH, *, bert: bool = True, **kwargs) -> str:
    return render_readme(URL, listing, BACKENDS, bert=bert, **kwargs)


def _code_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_front_matter_is_what_the_hub_accepts() -> None:
    data = ModelCard(_render()).data.to_dict()
    assert data == {
        "library_name": "hayakoe",
        "pipeline_tag": "text-to-speech",
        "language": ["ja"],
        "tags": ["hayakoe", "text-to-speech", "tts", "style-bert-vits2", "japanese"],
        "license": "other",
    }
    assert ModelCard(_render(license="cc-by-nc-4.0")).data.license == "cc-by-nc-4.0"


@pytest.mark.parametrize("bad", ["MIT", "my license", "", "a" * 70])
def test_a_license_the_hub_would_refuse_names_the_flag(bad: str) -> None:
    with pytest.raises(HayakoeError, match="--license"):
        _render(license=bad)


def test_each_speaker_gets_its_backends_and_exact_load_lines() -> None:
    text = _render()
    assert "| `amitaro` | ✓ | — |" in text
    assert "| `tsukuyomi` | ✓ | ✓ |" in text
    assert "| `zundamon` | — | ✓ |" in text
    amitaro, tsukuyomi, zundamon, container = _code_blocks(text)
    bert = f'bert_source="{URL}"'
    assert f'tts = TTS(device="cpu", {bert}).load("amitaro", source="{URL}").prepare()' in amitaro
    assert "cuda" not in amitaro  # ONNX only: never a GPU line
    assert f'tts = TTS(device="cuda", {bert}).load("tsukuyomi", source="{URL}").prepare()' in tsukuyomi
    assert f'# CPU (ONNX): tts = TTS(device="cpu", {bert}).load("tsukuyomi"' in tsukuyomi
    assert f'tts = TTS(device="cuda", {bert}).load("zundamon", source="{URL}").prepare()' in zundamon
    assert container.splitlines()[2:] == [
        "(",
        f'    TTS(device="cuda", {bert})',
        f'    .load("tsukuyomi", source="{URL}")',
        f'    .load("zundamon", source="{URL}")',
        '    .pre_download(device="cuda")',
        ")",
        "(",
        f'    TTS(device="cpu", {bert})',
        f'    .load("amitaro", source="{URL}")',
        f'    .load("tsukuyomi", source="{URL}")',
        '    .pre_download(device="cpu")',
        ")",
    ]


def test_bert_source_only_when_the_destination_holds_the_bert() -> None:
    text = _render(bert=False)
    assert "bert_source=\"" not in text
    assert 'TTS(device="cpu").load("amitaro"' in text


def test_the_card_is_written_in_four_languages() -> None:
    text = _render()
    for heading in ("## 한국어", "## English", "## 日本語", "## 中文"):
        assert heading in text
    assert text.count(f'`bert_source="{URL}"`') == 4


def test_a_backend_that_is_not_the_device_default_is_named_and_unknown_folders_listed() -> None:
    other = BackendInfo(name="openvino", repo_folder="openvino", devices=("cpu",))
    text = render_readme(URL, {"openvino": ["a"], "mystery": ["a"]}, [*BACKENDS, other], bert=False)
    assert 'TTS(device="cpu", backend="openvino").load("a"' in text
    assert "| speaker | CPU (openvino) | mystery/ |" in text


def test_the_load_lines_work_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The card's code for a local destination runs unchanged and speaks."""
    repo = make_repo(tmp_path / "voices", bert=True)
    url = get_registry().parse_url(str(repo)).url
    text = render_readme(url, {"onnx": ["tiny"]}, BACKENDS, bert=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HAYAKOE_CACHE", str(tmp_path / "cache"))
    for code in _code_blocks(text):
        exec(compile(code, "README.md", "exec"), {})
    assert (tmp_path / "tiny.wav").stat().st_size > 44


# --- updating ----------------------------------------------------------------------------------------

USER_README = """---
# the user's comment
license: mit
datasets:
- my/corpus
tags:
- mine
---
# My voices

Intro the user wrote.

{block}
## Credits

Thanks to everyone.
"""


def test_an_update_keeps_the_users_text_and_keys_and_replaces_the_block() -> None:
    old_block = f"{BEGIN}\nold generated text\n{END}\n"
    existing = USER_README.format(block=old_block)

    text = _render(existing=existing)

    kept_keys = "---\n# the user's comment\nlicense: mit\ndatasets:\n- my/corpus\n"
    assert text.startswith(kept_keys + "tags:\n- hayakoe\n")
    assert "# My voices\n\nIntro the user wrote.\n\n" + BEGIN in text
    assert END + "\n\n## Credits\n\nThanks to everyone.\n" in text
    assert "old generated text" not in text
    assert "- mine" not in text  # tags are hayakoe's
    assert ModelCard(text).data.license == "mit"  # kept: no --license given
    assert ModelCard(_render(existing=existing, license="apache-2.0")).data.license == "apache-2.0"


def test_rendering_again_from_the_result_changes_nothing() -> None:
    first = _render(existing=USER_README.format(block=""))
    assert _render(existing=first) == first
    assert decide_readme(first, _render(existing=first)) == "unchanged"


def test_a_readme_without_a_block_gets_one_appended() -> None:
    existing = "# Upstream card\n\nSome text.\n"
    text = _render(existing=existing)
    assert text.startswith("---\nlibrary_name: hayakoe\n")
    assert "---\n# Upstream card\n\nSome text.\n\n" + BEGIN in text
    assert text.endswith(END + "\n")


@pytest.mark.parametrize(
    "body",
    [f"{BEGIN}\nno end\n", f"{END}\n{BEGIN}\n", f"{BEGIN}\n{END}\n{BEGIN}\n{END}\n"],
    ids=["no-end", "reversed", "twice"],
)
def test_a_damaged_block_is_an_error_not_a_guess(body: str) -> None:
    with pytest.raises(HayakoeError, match="--readme keep"):
        _render(existing=f"# Mine\n{body}")


# --- the decision and the diff -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("existing", "new", "policy", "action"),
    [
        (None, "x", None, "create"),
        (None, "x", "create", "create"),
        (None, "x", "update", "create"),
        (None, "x", "keep", "keep"),
        ("x\n", "x", None, "unchanged"),
        ("x\n", "x", "update", "unchanged"),
        ("x", "y", None, None),
        ("x", "y", "update", "update"),
        ("x", "y", "create", "keep"),
        ("x", "y", "keep", "keep"),
    ],
)
def test_decide_readme(existing: str | None, new: str, policy, action) -> None:
    assert decide_readme(existing, new, policy) == action


def test_the_diff_shows_what_changes_and_renders_with_rich() -> None:
    old = _render({"onnx": ["amitaro"]})
    new = _render({"onnx": ["amitaro", "tsukuyomi"]})
    diff = readme_diff(old, new)
    assert diff.startswith("--- README.md (destination)\n+++ README.md (after this publish)\n")
    assert "+| `tsukuyomi` | ✓ |\n" in diff
    assert readme_diff(new, new) == ""

    console = Console(record=True, width=200, color_system=None)
    console.print(diff_renderable(diff, max_lines=5))
    shown = console.export_text()
    assert "--- README.md (destination)" in shown
    assert f"… {len(diff.splitlines()) - 5} more lines" in shown
