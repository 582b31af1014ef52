"""Long text synthesises in bounded memory, in a child process whose address space is capped.

OpenJTalk's frontend crashes the process (SIGSEGV) on one input of about 2,700 characters or more,
and whole-text pause prediction grew memory quadratically (8 GB at 2,000 characters with the tiny
model). The child runs ``generate()`` under ``RLIMIT_AS`` and reports the longest text the frontend
was ever given. The 20,000-character cases are slow (about a minute each on 2 busy cores):
``pytest -m slow tests/runtime/test_long_text.py``.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile

from hayakoe_core.utterance import WINDOW_CHARS
from tests.support.repo import make_repo

#: Address-space cap for the child: python + onnxruntime + the tiny models reserve about 1.9 GiB
#: of address space (mostly thread arenas, little of it resident) whatever the text's length.
ADDRESS_SPACE = 3 * 1024**3
PROSE = (
    "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。"
    "何でも薄暗いじめじめした所で、ニャーニャー泣いていた事だけは記憶している。"
    "吾輩はここで始めて人間というものを見た。しかもあとで聞くとそれは書生という人間中で"
    "一番獰悪な種族であったそうだ。この書生というのは時々我々を捕えて煮て食うという話である。"
    "しかしその当時は何という考もなかったから別段恐しいとも思わなかった。\n"
)
CHILD = """
import json, sys
import numpy as np
from hayakoe import TTS
from hayakoe_core.text.openjtalk import OpenJTalk

longest = 0
run_frontend = OpenJTalk.run_frontend
def recording(self, text):
    global longest
    longest = max(longest, len(text))
    return run_frontend(self, text)
OpenJTalk.run_frontend = recording

repo, cache, text = sys.argv[1], sys.argv[2], sys.stdin.read()
speaker = TTS("cpu", cache_dir=cache).load("tiny", source=repo).prepare().speakers["tiny"]
audio = speaker.generate(text)
print(json.dumps({
    "seconds": audio.duration,
    "finite": bool(np.isfinite(audio.data).all()),
    "longest_frontend_input": longest,
}))
"""


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo(tmp_path_factory.mktemp("repo"))


def _cap_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def _generate_in_capped_child(repo: Path, cache: Path, text: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(repo), str(cache)],
        input=text,
        capture_output=True,
        text=True,
        preexec_fn=_cap_address_space,
        timeout=900,
    )
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def prose(chars: int) -> str:
    return (PROSE * (chars // len(PROSE) + 1))[:chars]


def _check(report: dict, chars: int, min_seconds_per_char: float) -> None:
    assert report["finite"]
    assert report["seconds"] >= chars * min_seconds_per_char
    # normalisation reads these texts at most one character per character
    assert report["longest_frontend_input"] <= WINDOW_CHARS


@pytest.mark.parametrize(
    ("text", "min_seconds_per_char"),
    [(prose(3_000), 0.004), ("あ" * 3_000, 0.0005)],
    ids=["prose-3k", "a-3k"],
)
def test_past_the_frontend_crash_length(repo, tmp_path, text, min_seconds_per_char):
    """3,000 characters: past the length that crashes OpenJTalk when sent whole."""
    _check(_generate_in_capped_child(repo, tmp_path, text), len(text), min_seconds_per_char)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("text", "min_seconds_per_char"),
    [(prose(20_000), 0.004), ("あ" * 20_000, 0.0005)],
    ids=["prose-20k", "a-20k"],
)
def test_twenty_thousand_characters(repo, tmp_path, text, min_seconds_per_char):
    _check(_generate_in_capped_child(repo, tmp_path, text), len(text), min_seconds_per_char)


def test_hayakoe_say_reads_three_thousand_a(repo, tmp_path):
    """The command line the crash was first seen through: 3,000 × 「あ」, no punctuation."""
    out = tmp_path / "out.wav"
    done = subprocess.run(
        [sys.executable, "-m", "hayakoe", "say", "あ" * 3_000, "--source", str(repo), "--speaker", "tiny",
         "--cache-dir", str(tmp_path / "cache"), "-o", str(out)],
        capture_output=True, text=True, preexec_fn=_cap_address_space, timeout=900,
    )
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    info = soundfile.info(str(out))
    assert info.frames / info.samplerate >= 3_000 * 0.0005
