"""Speaker.generate(): pauses between segments, bad arguments, blank text, unprepared speakers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hayakoe import TTS
from hayakoe_core.audio import peak_of, to_pcm16
from hayakoe_core.bert.extractor import BertFeatureExtractor
from hayakoe_core.errors import ArgumentError, HayakoeError
from hayakoe_core.pauses import join_with_pauses, pause_targets, predicted_pauses
from hayakoe_core.speaker import Speaker
from hayakoe_core.synthesis import SynthesisInputs, SynthesisParams
from hayakoe_core.text.frontend import TextFrontend
from hayakoe_core.text.sentences import split_sentences
from tests.support.repo import TINY_BERT, make_repo

QUIET = {"noise": 0.0, "noise_w": 0.0}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return make_repo(tmp_path_factory.mktemp("repo"))


@pytest.fixture(scope="module")
def speaker(repo, tmp_path_factory) -> Speaker:
    tts = TTS("cpu", cache_dir=tmp_path_factory.mktemp("cache")).load("tiny", source=str(repo))
    return tts.prepare().speakers["tiny"]


def _whole_text_reference(speaker: Speaker, text: str) -> np.ndarray:
    """What generate() did before long text was windowed: each sentence synthesised alone (BERT
    batched), pauses from one duration-predictor run over the whole text."""
    frontend = TextFrontend()
    bert = BertFeatureExtractor.from_source_root(TINY_BERT)
    params = SynthesisParams(style_vec=speaker._styles[0], noise_scale=0.0, noise_scale_w=0.0)

    def inputs(unit, features):
        return SynthesisInputs.build(unit.phone_ids, unit.tone_ids, unit.language_ids, features, params)

    units = [frontend.preprocess(s) for s in split_sentences(text)]
    features = bert.features_batch([(u.bert_text, u.word2ph_blank) for u in units])
    pieces = [speaker.model.synthesize(inputs(u, f)).audio for u, f in zip(units, features, strict=True)]
    whole = frontend.preprocess(text)
    durations = speaker.model.predict_durations(
        inputs(whole, bert.features(whole.bert_text, whole.word2ph_blank))
    )
    pauses = predicted_pauses(whole.phone_ids, durations, speaker.config.data.hop_length, speaker.sample_rate)
    return join_with_pauses(pieces, pause_targets(len(pieces), pauses), speaker.sample_rate)


@pytest.mark.parametrize(
    "text",
    ["こんにちは。さようなら。", "えっ!?本当に？", "はい。いいえ！どうして？", "一行目\n二行目。三行目"],
)
def test_short_text_pauses_are_the_whole_text_prediction(speaker: Speaker, text: str) -> None:
    reference = _whole_text_reference(speaker, text)
    expected = to_pcm16(reference, peak_of(reference))
    got = speaker.generate(text, **QUIET).data
    assert len(got) == len(expected)
    assert np.abs(got.astype(int) - expected).max() <= 1


def test_long_sentence_is_synthesised_in_segments(speaker: Speaker) -> None:
    """A 300-character sentence without a mark is cut hard: its parts are joined with no pause."""
    text = "あいうえお" * 60
    audio = speaker.generate(text, **QUIET)
    parts = [speaker.generate(p, **QUIET).data for p in ("あいうえお" * 20,) * 3]
    assert len(audio.data) == sum(len(p) for p in parts)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"speed": 0}, r"speed must be a finite number above 0 .*got 0"),
        ({"speed": -1.0}, r"speed must be .*got -1\.0"),
        ({"speed": math.nan}, r"speed must be .*got nan"),
        ({"speed": math.inf}, r"speed must be .*got inf"),
        ({"sdp_ratio": 1.5}, r"sdp_ratio must be from 0 to 1, got 1\.5"),
        ({"sdp_ratio": math.nan}, r"sdp_ratio must be from 0 to 1, got nan"),
        ({"noise": -0.1}, r"noise must be a finite number, 0 or more, got -0\.1"),
        ({"noise": math.nan}, r"noise must be .*got nan"),
        ({"noise_w": math.inf}, r"noise_w must be a finite number, 0 or more, got inf"),
        ({"style_weight": math.nan}, r"style_weight must be a finite number, got nan"),
    ],
)
def test_bad_arguments_are_one_line_errors(speaker: Speaker, kwargs: dict, message: str) -> None:
    with pytest.raises(ArgumentError, match=message) as err:
        speaker.generate("はい。", **kwargs)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("text", ["", "   ", " \n\t\u3000", "@#&*"])
def test_text_with_nothing_to_read_gives_empty_audio(speaker: Speaker, text: str) -> None:
    audio = speaker.generate(text)
    assert audio.data.shape == (0,) and audio.duration == 0.0


def test_speakers_before_prepare_say_what_to_do(repo, tmp_path) -> None:
    tts = TTS("cpu", cache_dir=tmp_path).load("tiny", source=str(repo))
    with pytest.raises(
        HayakoeError, match=r"speaker 'tiny' is loaded but not prepared: call tts\.prepare\(\)"
    ):
        tts.speakers["tiny"]
    with pytest.raises(KeyError):  # what upstream raised, for code that catches it
        tts.speakers["tiny"]
    with pytest.raises(HayakoeError, match=r"no speaker 'other'.*tts\.load\('other', source=\.\.\.\)"):
        tts.speakers["other"]
    assert "tiny" not in tts.speakers and tts.speakers.get("tiny") is None and len(tts.speakers) == 0
    tts.prepare()
    assert list(tts.speakers) == ["tiny"] and "tiny" in tts.speakers
    with pytest.raises(HayakoeError, match=r"no speaker 'other' \(prepared: tiny\)"):
        tts.speakers["other"]
