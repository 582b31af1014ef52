"""Runtime API parity with upstream hayakoe 1.3.1: results, parameters, timings, streams, threads."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import itertools
import json
import shutil
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile

import hayakoe
from hayakoe import TTS, AudioResult, Lang, PhonemeTiming, streaming_wav_header
from hayakoe_core.audio import to_pcm16
from hayakoe_core.errors import ArgumentError, HayakoeError
from hayakoe_core.speaker import Speaker
from hayakoe_core.style import UnknownStyleError
from hayakoe_core.synthesis import SynthesisInputs, SynthesisParams
from hayakoe_core.tts import DEFAULT_SOURCE
from hayakoe_core.utterance import FIRST_WINDOW_FRAMES, Piece, Utterance
from tests.backend_torch.goldens import golden_inputs
from tests.support.bert_fp32 import save_random_fp32_bert
from tests.support.hub_fixtures import USER
from tests.support.repo import CHECKPOINT, FIXTURES, TINY, make_repo, publish

QUIET = {"noise": 0.0, "noise_w": 0.0}
UPSTREAM_PITCH = np.load(FIXTURES / "runtime" / "upstream_pitch.npz")
#: upstream's streaming_wav_header(44100)
UPSTREAM_HEADER = (
    b"RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00D\xac\x00\x00\x88X\x01\x00\x02\x00\x10\x00"
    b"data\xff\xff\xff\xff"
)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    return make_repo(tmp_path_factory.mktemp("repo"), ("tiny", "other"))


@pytest.fixture(scope="module")
def tts(repo, tmp_path_factory) -> TTS:
    cache = tmp_path_factory.mktemp("cache")
    return (
        TTS("cpu", cache_dir=cache).load("tiny", source=str(repo)).load("other", source=str(repo)).prepare()
    )


@pytest.fixture(scope="module")
def speaker(tts) -> Speaker:
    return tts.speakers["tiny"]


@pytest.fixture(scope="module")
def torch_speaker(repo, tmp_path_factory) -> Speaker:
    tts = TTS("cpu", backend="torch", cache_dir=tmp_path_factory.mktemp("cache"))
    return tts.load("tiny", source=str(repo)).prepare().speakers["tiny"]


def test_exports_upstreams_names_and_imports_quickly() -> None:
    assert {"TTS", "AudioResult", "PhonemeTiming", "Speaker", "Lang", "streaming_wav_header"} <= set(
        hayakoe.__all__
    )

    def loaded(statement: str, modules: tuple[str, ...]) -> list[str]:
        """Which of ``modules`` a fresh interpreter has imported after ``statement``."""
        code = (
            f"import json, sys; {statement}; print(json.dumps([m for m in {modules!r} if m in sys.modules]))"
        )
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        return json.loads(run.stdout)

    assert loaded("import hayakoe", ("numpy", "onnxruntime", "torch")) == []
    # TTS's own module is light too: the backends' runtimes load only in prepare()
    assert loaded("from hayakoe import TTS", ("onnxruntime", "torch", "hayakoe_core.tts")) == [
        "hayakoe_core.tts"
    ]


def test_peak_normalisation_is_upstreams() -> None:
    samples = np.array([0.5, -0.25, 0.1, 0.3333, -0.5, 0.49999, 0.0001, -0.00001, 0.123456, -0.7], np.float32)
    expected = [23405, -11702, 4681, 15601, -23405, 23404, 4, 0, 5778, -32767]
    assert to_pcm16(samples, float(np.abs(samples).max())).tolist() == expected
    assert to_pcm16(np.zeros(3, np.float32), 0.0).tolist() == [0, 0, 0]


def test_result_bytes_wav_and_float_view(speaker: Speaker, tmp_path: Path) -> None:
    audio = speaker.generate("こんにちは。さようなら。", **QUIET)
    assert isinstance(audio, AudioResult) and audio.data.dtype == np.int16 and audio.timings is None
    assert np.abs(audio.data).max() == 32767
    assert audio.pcm_bytes() == audio.data.astype("<i2").tobytes()
    with wave.open(io.BytesIO(audio.to_bytes())) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, audio.sr)
        assert wav.getnframes() == len(audio.data) and wav.readframes(len(audio.data)) == audio.pcm_bytes()
    saved, sr = soundfile.read(str(audio.save(tmp_path / "out.wav")), dtype="float32")
    assert sr == audio.sr
    np.testing.assert_array_equal(saved, audio.as_float32())
    assert audio.duration == pytest.approx(len(audio.data) / audio.sr)


def test_save_writes_wav_unless_the_suffix_names_another_format(speaker: Speaker, tmp_path: Path) -> None:
    """Upstream's ``save`` writes a WAV whatever the name; ours too, unless the suffix names
    another format soundfile writes."""
    audio = speaker.generate("こんにちは。", **QUIET)
    for name in ("out", "x.tmp", "out.wav", "deeper/folder/OUT.WAV"):
        path = audio.save(tmp_path / name)
        assert path == tmp_path / name and path.read_bytes() == audio.to_bytes()  # no suffix added
    for name, (form, subtype) in {"out.flac": ("FLAC", "PCM_16"), "out.ogg": ("OGG", "VORBIS")}.items():
        info = soundfile.info(str(audio.save(tmp_path / name)))
        assert (info.format, info.subtype, info.samplerate, info.frames) == (
            form,
            subtype,
            audio.sr,
            len(audio.data),
        )
    np.testing.assert_array_equal(soundfile.read(str(tmp_path / "out.flac"), dtype="int16")[0], audio.data)
    floats = audio.save(tmp_path / "float.wav", subtype="FLOAT")
    assert soundfile.info(str(floats)).subtype == "FLOAT"
    assert soundfile.info(str(audio.save(tmp_path / "named", format="flac"))).format == "FLAC"
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]  # no temporary files left


@pytest.mark.parametrize("key", ["1.0_1.0", "1.2_1.0", "1.0_1.5", "0.8_0.7"])
def test_pitch_and_intonation_match_upstreams_world_round_trip(speaker: Speaker, key: str) -> None:
    pitch, intonation = map(float, key.split("_"))
    got = speaker.generate(
        "今日はいい天気ですね。", pitch_scale=pitch, intonation_scale=intonation, **QUIET
    ).data
    expected = UPSTREAM_PITCH[key]
    assert len(got) == len(expected)
    assert np.abs(got.astype(int) - expected).max() <= 1  # the model's float output may differ by 1e-7


def test_parameters_change_the_output_as_upstreams_do(speaker: Speaker) -> None:
    text = "今日はいい天気ですね。"
    base = speaker.generate(text, **QUIET)
    assert len(speaker.generate(text, speed=1.5, **QUIET).data) > len(base.data)
    assert len(speaker.generate(text, speed=0.5, **QUIET).data) < len(base.data)
    assert not np.array_equal(speaker.generate(text, sdp_ratio=1.0, **QUIET).data, base.data)
    assert not np.array_equal(speaker.generate(text, style="Happy", **QUIET).data, base.data)
    assert np.array_equal(speaker.generate(text, style="Happy", style_weight=0.0, **QUIET).data, base.data)
    assert np.array_equal(speaker.generate(text, lang="JP", **QUIET).data, base.data)
    assert np.array_equal(speaker.generate(text, lang=Lang.JA, speaker_id=0, **QUIET).data, base.data)
    noisy = [speaker.generate(text, noise=0.6, noise_w=0.0).data for _ in range(2)]
    assert not np.array_equal(noisy[0], noisy[1])
    batched = speaker.generate("はい。いいえ。", **QUIET)
    single = speaker.generate("はい。いいえ。", batch_bert=False, **QUIET)
    assert len(batched.data) == len(single.data)


def test_noise_w_varies_durations_through_the_stochastic_predictor_only(speaker: Speaker) -> None:
    text = "今日はいい天気ですね。"

    def lengths(sdp_ratio: float, noise_w: float, draws: int) -> set[int]:
        return {
            len(speaker.generate(text, sdp_ratio=sdp_ratio, noise=0.0, noise_w=noise_w).data)
            for _ in range(draws)
        }

    assert len(lengths(1.0, 0.0, 3)) == 1  # no duration noise: the same durations every time
    assert len(lengths(1.0, 1.0, 8)) > 1  # noise on the SDP's durations
    dp_only = [speaker.generate(text, sdp_ratio=0.0, noise=0.0, noise_w=w).data for w in (0.0, 1.0, 2.0)]
    assert all(np.array_equal(d, dp_only[0]) for d in dp_only)  # the deterministic predictor ignores it


#: generate() arguments meaning each golden case's inputs (tests/fixtures/model/tiny/golden/README.md)
GOLDEN_CALLS = {
    "case0_T7": {"sdp_ratio": 0.0},
    "case1_T23": {"style": "Happy", "speed": 1.3, "sdp_ratio": 0.0},
    "case2_T61": {"style": "Sad", "style_weight": 0.7, "sdp_ratio": 0.0},
    "case3_T23_sdp": {"speed": 1.3, "sdp_ratio": 0.5, "style": "Happy"},
    "case4_T3": {"style": "Angry", "sdp_ratio": 0.0},
}


@pytest.mark.parametrize("case", sorted(GOLDEN_CALLS))
def test_generate_hands_the_backend_the_golden_cases_parameters(
    case: str, torch_speaker: Speaker, monkeypatch
) -> None:
    """The goldens were made by upstream from these generate() arguments; ours must pass the
    backend the same style vector and scalars, which on the goldens' phones give their audio."""
    golden = np.load(TINY / "golden" / f"{case}.npz")
    model = torch_speaker.model
    handed: list[SynthesisInputs] = []
    synthesize = model.synthesize
    monkeypatch.setattr(model, "synthesize", lambda inputs: handed.append(inputs) or synthesize(inputs))
    torch_speaker.generate("はい。", noise=0.0, noise_w=0.0, **GOLDEN_CALLS[case])
    (params,) = handed
    expected = golden_inputs(golden)
    np.testing.assert_array_equal(params.style_vec, expected.style_vec)
    scalars = ("sid", "length_scale", "sdp_ratio", "noise_scale", "noise_scale_w")
    assert [np.float32(getattr(params, n)) for n in scalars] == [getattr(expected, n) for n in scalars]
    text_inputs = {n: getattr(expected, n) for n in ("x", "tone", "language", "bert")}
    result = synthesize(dataclasses.replace(params, **text_inputs))
    np.testing.assert_array_equal(result.durations, golden["durations_infer"])
    np.testing.assert_allclose(result.audio, golden["audio"][0, 0], atol=1e-5, rtol=0)


def test_batch_bert_false_runs_bert_per_sentence(speaker: Speaker, monkeypatch) -> None:
    text = "こんにちは。さようなら。また明日。"
    batches: list[int] = []  # texts per encoder call (``features`` is a batch of one)
    real = speaker._bert.features_batch

    def counting(items):
        batches.append(len(items))
        return real(items)

    monkeypatch.setattr(speaker._bert, "features_batch", counting)
    speaker.generate(text, **QUIET)
    assert 3 in batches  # the three sentences in one call
    batches.clear()
    speaker.generate(text, batch_bert=False, **QUIET)
    assert set(batches) == {1} and len(batches) >= 3  # one call per sentence (and the pauses')


@pytest.mark.parametrize(
    ("kwargs", "message", "upstreams"),
    [  # upstreams: the type upstream 1.3.1 raises, which code written against it catches
        ({"lang": "EN"}, r"lang 'EN' is not supported: only Japanese", NotImplementedError),
        ({"lang": "ZH"}, r"lang 'ZH' is not supported", NotImplementedError),
        ({"lang": "XX"}, r"lang 'XX' is not supported", ValueError),  # not in upstream's enum
        ({"style": "Joy"}, r"unknown style 'Joy'; this speaker has: Neutral, Happy, Sad, Angry", ValueError),
        ({"speaker_id": 1}, r"speaker_id 1 is out of range: 'tiny' has 1 speaker \(0\.\.0\)", ArgumentError),
        ({"speaker_id": -1}, r"speaker_id -1 is out of range", ArgumentError),
        ({"pitch_scale": 0.0}, r"pitch_scale must be a finite number above 0", ArgumentError),
        (
            {"intonation_scale": float("nan")},
            r"intonation_scale must be a finite number above 0",
            ArgumentError,
        ),
    ],
)
def test_bad_arguments(speaker: Speaker, kwargs: dict, message: str, upstreams: type[Exception]) -> None:
    for call in (speaker.generate, speaker.stream):  # a stream checks when made, not on first next()
        with pytest.raises(ArgumentError, match=message) as caught:
            call("はい。", **kwargs)
        assert isinstance(caught.value, upstreams)
        assert str(caught.value) == caught.value.args[0] and "\n" not in str(caught.value)  # one line


def test_styles_by_attribute(speaker: Speaker) -> None:
    assert speaker.styles == ["Neutral", "Happy", "Sad", "Angry"] and speaker.styles.Happy == "Happy"
    assert "Sad" in speaker.styles and not hasattr(speaker.styles, "Joy")
    with pytest.raises(UnknownStyleError, match=r"unknown style 'Joy'; this speaker has: Neutral, Happy"):
        speaker.styles.Joy  # noqa: B018
    with pytest.raises(HayakoeError, match="unknown style 'Joy'") as caught:
        speaker.generate("はい。", style="Joy")
    assert isinstance(caught.value, ValueError)  # what upstream's generate raises


@pytest.mark.parametrize("backend", ["torch", "onnx-reexported"])
def test_timings_cover_the_audio_across_sentence_gaps(backend, torch_speaker, repo, tmp_path) -> None:
    if backend == "torch":
        speaker = torch_speaker
    else:  # hayakoe's exporter gives the synthesizer a durations output
        from hayakoe_backend_onnx.export import export_onnx

        folder = repo / "onnx" / "speakers" / "tiny"
        exported = tmp_path / "repo" / "onnx" / "speakers" / "tiny"
        export_onnx(repo / "pytorch" / "speakers" / "tiny", exported)
        for name in ("config.json", "style_vectors.npy"):
            (exported / name).write_bytes((folder / name).read_bytes())
        tts = TTS("cpu", cache_dir=tmp_path / "cache", bert_source=str(repo))
        speaker = tts.load("tiny", source=str(tmp_path / "repo")).prepare().speakers["tiny"]
    audio = speaker.generate("はい。いいえ。", with_timing=True, **QUIET)
    timings = audio.timings
    assert timings and all(isinstance(t, PhonemeTiming) for t in timings)
    assert timings[0].start == 0.0 and timings[-1].end == pytest.approx(audio.duration, abs=1e-9)
    assert [t.phoneme for t in timings if t.phoneme != "_"] == ["h", "a", "i", ".", "i", "i", "e", "."]
    # contiguous within each sentence; the one jump is the pause between the sentences
    jumps = [b.start - a.end for a, b in itertools.pairwise(timings) if abs(b.start - a.end) > 1e-9]
    assert len(jumps) == 1 and jumps[0] >= 0.08 - 1e-9


def test_timings_need_a_durations_output(speaker: Speaker) -> None:
    with pytest.raises(HayakoeError, match=r"cannot report timings.*re-export it") as caught:
        speaker.generate("はい。", with_timing=True)
    assert isinstance(caught.value, RuntimeError)  # what upstream raises


def test_first_sentence_in_windows_equals_it_whole(speaker: Speaker, torch_speaker: Speaker) -> None:
    text = "今日はとても良い天気なので、公園まで歩いて行きましょう。明日は雨です。"
    for each in (speaker, torch_speaker):
        params = SynthesisParams(style_vec=each._styles[0], noise_scale=0.0, noise_scale_w=0.0)

        def pieces(windows: bool, each=each, params=params) -> list:
            utterance = Utterance(
                text, frontend=each._frontend, bert=each._bert, model=each.model, params=params
            )
            return list(utterance.pieces(first_in_windows=windows))

        whole, windowed = pieces(False), pieces(True)
        assert len(windowed) > len(whole)  # the first sentence came in several windows
        np.testing.assert_allclose(
            np.concatenate([p.audio for p in windowed]), np.concatenate([p.audio for p in whole]), atol=1e-5
        )


def test_stream_yields_segments_with_their_pauses(speaker: Speaker) -> None:
    text = "こんにちは。さようなら。また明日。"
    chunks = list(speaker.stream(text, **QUIET))
    whole = speaker.generate(text, batch_bert=False, **QUIET)
    assert sum(len(c.data) for c in chunks) == len(whole.data)
    assert all(c.sr == whole.sr and c.data.dtype == np.int16 for c in chunks)
    assert list(speaker.stream("  ", **QUIET)) == []


def test_stream_wav_is_one_playable_file(speaker: Speaker) -> None:
    parts = list(speaker.stream_wav("こんにちは。さようなら。", **QUIET))
    assert parts[0] == UPSTREAM_HEADER == streaming_wav_header(44100)
    with wave.open(io.BytesIO(b"".join(parts))) as wav:
        played = wav.readframes(10**9)
    assert played == b"".join(parts[1:]) and len(played) > 0
    assert list(speaker.stream_wav("")) == [UPSTREAM_HEADER]


def test_a_stream_holds_the_lock_until_closed(speaker: Speaker) -> None:
    stream = speaker.stream("こんにちは。さようなら。", **QUIET)
    assert not speaker._lock.locked()
    next(stream)
    assert speaker._lock.locked()
    stream.close()
    assert not speaker._lock.locked()


def test_four_threads_on_two_speakers(tts: TTS) -> None:
    results: dict[tuple[str, int], AudioResult] = {}

    def work(name: str, i: int) -> None:
        results[name, i] = tts.speakers[name].generate("今日はいい天気ですね。", **QUIET)

    threads = [threading.Thread(target=work, args=(n, i)) for n in ("tiny", "other") for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert len(results) == 4
    first = results["tiny", 0].data
    assert all(np.array_equal(r.data, first) for r in results.values())  # same files, no noise


def test_async_api_and_many_waiting_streams(speaker: Speaker) -> None:
    async def main() -> None:
        single = await speaker.agenerate("はい。", **QUIET)
        assert len(single.data) > 0

        async def consume(i: int) -> int:
            return sum([len(c.data) async for c in speaker.astream("はい。いいえ。", **QUIET)])

        lengths = await asyncio.wait_for(asyncio.gather(*(consume(i) for i in range(12))), timeout=600)
        assert len(set(lengths)) == 1
        stream = speaker.astream_wav("こんにちは。さようなら。また明日。", **QUIET)
        assert await stream.__anext__() == UPSTREAM_HEADER
        await stream.__anext__()
        assert speaker._lock.locked()
        await stream.aclose()
        assert not speaker._lock.locked()

    asyncio.run(main())


def test_load_defaults_to_hayakoe_source(repo, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HAYAKOE_SOURCE", str(repo))
    tts = TTS("cpu", cache_dir=tmp_path).load("tiny").prepare()
    first = tts.speakers["tiny"]
    tts.load("other").prepare(warmup=True)
    assert tts.speakers["tiny"] is first and list(tts.speakers) == ["tiny", "other"]


def test_prepare_from_several_threads_prepares_each_speaker_once(repo, tmp_path) -> None:
    tts = TTS("cpu", cache_dir=tmp_path).load("tiny", source=str(repo))
    seen: list[Speaker] = []

    def prepare() -> None:
        seen.append(tts.prepare().speakers["tiny"])

    threads = [threading.Thread(target=prepare) for _ in range(3)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert len(seen) == 3 and all(s is seen[0] for s in seen) and time.monotonic() - start < 300


def sentences_decoded_whole(speaker: Speaker, text: str) -> list[Piece]:
    """The float audio ``speaker.stream(text, **QUIET)`` is made from, each sentence decoded whole."""
    params = SynthesisParams(style_vec=speaker._styles[0], noise_scale=0.0, noise_scale_w=0.0)
    utterance = Utterance(
        text,
        frontend=speaker._frontend,
        bert=speaker._bert,
        model=speaker.model,
        params=params,
        batch_bert=False,
    )
    return list(utterance.pieces(first_in_windows=False))


def upstreams_stream(speaker: Speaker, text: str) -> list[np.ndarray]:
    """What upstream 1.3.1's ``stream(text, **QUIET)`` yields for this model's output: each
    sentence decoded whole, as float, scaled by the running peak of the sentences so far
    (``(audio / peak * 32767).astype(int16)``) after its pause of silence."""
    running, chunks = 0.0, []
    for piece in sentences_decoded_whole(speaker, text):
        running = max(running, float(np.abs(piece.audio).max()))
        pcm = (piece.audio / running * 32767).astype(np.int16)
        chunks.append(np.concatenate([np.zeros(piece.gap, np.int16), pcm]))
    return chunks


STREAMED = "こんにちは。はい。いいえ。あ。"


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_stream_after_its_first_window_is_upstreams_running_peak_scaling(
    backend: str, speaker: Speaker, torch_speaker: Speaker
) -> None:
    """Upstream keeps one running peak over a stream: a sentence quieter than an earlier one is
    not scaled up to full scale, so sentences keep their relative loudness. Every sample after
    the first window is upstream's (within one step: windows decode the same floats to ~1e-6)."""
    each = speaker if backend == "onnx" else torch_speaker
    chunks = list(each.stream(STREAMED, **QUIET))
    expected = upstreams_stream(each, STREAMED)
    own = [float(np.abs(c).max()) for c in expected]
    assert any(p < max(own[:i]) for i, p in enumerate(own) if i), "no sentence quieter than an earlier one"
    assert [len(c.data) for c in chunks[-len(expected) + 1 :]] == [len(c) for c in expected[1:]]
    got, want = (np.concatenate(a).astype(int) for a in ([c.data for c in chunks], expected))
    first = FIRST_WINDOW_FRAMES * each.config.samples_per_frame
    assert len(got) == len(want) and len(expected[0]) > first  # the first sentence came in two windows
    assert np.abs(got[first:] - want[first:]).max() <= 1


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_stream_first_window_is_at_the_decoders_level(
    backend: str, speaker: Speaker, torch_speaker: Speaker
) -> None:
    """The first window comes before the first sentence's peak is known: it is scaled with float
    1.0 as full scale, i.e. upstream's samples times that sentence's peak (<= 1): never louder."""
    each = speaker if backend == "onnx" else torch_speaker
    window = next(iter(each.stream(STREAMED, **QUIET))).data.astype(int)
    audio = sentences_decoded_whole(each, STREAMED)[0].audio
    first = FIRST_WINDOW_FRAMES * each.config.samples_per_frame
    assert len(window) == first
    assert np.abs(window - (audio[:first] * 32767).astype(np.int16)).max() <= 1
    upstreams = upstreams_stream(each, STREAMED)[0][:first].astype(int)
    peak = float(np.abs(audio).max())
    assert peak < 1.0 and np.abs(window - upstreams * peak).max() <= 2
    assert np.all(np.abs(window) <= np.abs(upstreams) + 1)


@pytest.fixture
def compiled(monkeypatch) -> list[object]:
    """Everything handed to ``torch.compile``, which gives it back as it is (compiling needs a
    GPU and a toolchain; what matters here is what the runtime asks to compile)."""
    import torch

    handed: list[object] = []
    monkeypatch.setattr(torch, "compile", lambda module, *args, **kwargs: handed.append(module) or module)
    return handed


def test_warmup_once_per_new_speaker_and_no_compile_on_cpu(repo, tmp_path, monkeypatch, compiled) -> None:
    spoken: list[str] = []
    generate = Speaker.generate

    def recording(self: Speaker, text: str, **kwargs) -> AudioResult:
        spoken.append(self.name)
        return generate(self, text, **kwargs)

    monkeypatch.setattr(Speaker, "generate", recording)
    tts = TTS("cpu", backend="torch", cache_dir=tmp_path).load("tiny", source=str(repo))
    tts.prepare(warmup=True, compile=True)
    assert spoken == ["tiny"] and compiled == []
    tts.load("other", source=str(repo)).prepare(warmup=True).prepare(warmup=True)
    assert spoken == ["tiny", "other"]


def test_compile_on_cuda_compiles_each_new_speaker_and_the_shared_bert(
    tmp_path, monkeypatch, compiled
) -> None:
    """As upstream, ``prepare(compile=True)`` on CUDA compiles the synthesizer (decoder, flow,
    text encoder) of each new speaker and the shared FP32 BERT, once. No GPU here: the CUDA
    path runs with its models on the CPU."""
    pytest.importorskip("transformers")
    import torch

    from hayakoe_backend_torch.bert_fp32 import TorchBertEncoder
    from hayakoe_backend_torch.runtime import TorchSpeaker

    repo = make_repo(tmp_path / "repo", ("tiny", "other"))
    save_random_fp32_bert(repo / "pytorch" / "bert" / "fp32")
    load, init = TorchSpeaker.load.__func__, TorchBertEncoder.__init__
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(
        TorchSpeaker, "load", classmethod(lambda cls, folder, device: load(cls, folder, "cpu"))
    )
    monkeypatch.setattr(TorchBertEncoder, "__init__", lambda self, folder, device: init(self, folder, "cpu"))
    tts = TTS("cuda", cache_dir=tmp_path / "cache").load("tiny", source=str(repo)).prepare(compile=True)
    tiny = tts.speakers["tiny"]
    bert = tiny._bert.encoder
    assert isinstance(bert, TorchBertEncoder) and isinstance(tiny.model, TorchSpeaker)

    def synthesizer(speaker: Speaker) -> list[object]:
        return [speaker.model.model.dec, speaker.model.model.flow, speaker.model.model.enc_p]

    assert compiled == [bert._encoder, *synthesizer(tiny)]
    tts.load("other", source=str(repo)).prepare(compile=True)  # the BERT is compiled already
    assert compiled == [bert._encoder, *synthesizer(tiny), *synthesizer(tts.speakers["other"])]
    before = list(compiled)
    tiny.model.compile()
    tts.prepare(compile=True)
    assert compiled == before  # each once
    assert len(tiny.generate("はい。", **QUIET).data) > 0


@pytest.fixture
def official_repo(hub, monkeypatch) -> Iterator[str]:
    """Upstream's official speaker repo, on the test Hub (the test user may write it); removed after."""
    repo_id = DEFAULT_SOURCE.removeprefix("hf://")
    monkeypatch.setitem(hub.orgs, repo_id.split("/")[0], {USER})
    yield repo_id
    hub.store.delete_repo("model", repo_id)


def test_load_without_any_source_uses_upstreams_repo(official_repo, hub, tmp_path, monkeypatch) -> None:
    publish(make_repo(tmp_path / "repo", manifest=True), f"hf://{official_repo}")
    monkeypatch.delenv("HAYAKOE_SOURCE", raising=False)
    hub.clear_log()
    tts = TTS("cpu", cache_dir=tmp_path / "cache").load("tiny").prepare()  # the BERT from there too
    assert len(tts.speakers["tiny"].generate("はい。", **QUIET).data) > 0
    assert hub.requests and all(official_repo in path for _, path in hub.requests)


def test_speaker_id_selects_a_speaker_of_a_multi_speaker_model(tmp_path) -> None:
    """The tiny model made two-speaker: a second row in the speaker embedding (torch backend)."""
    from safetensors.numpy import load_file, save_file

    repo = make_repo(tmp_path / "repo")
    folder = repo / "pytorch" / "speakers" / "duo"
    folder.mkdir()
    config = json.loads((TINY / "config.json").read_text())
    config["data"] |= {"n_speakers": 2, "spk2id": {"tiny": 0, "twin": 1}}
    (folder / "config.json").write_text(json.dumps(config))
    shutil.copy2(TINY / "style_vectors.npy", folder / "style_vectors.npy")
    weights = load_file(str(CHECKPOINT))
    weights["emb_g.weight"] = np.concatenate([weights["emb_g.weight"], -weights["emb_g.weight"]])
    save_file(weights, str(folder / CHECKPOINT.name))
    tts = TTS("cpu", backend="torch", cache_dir=tmp_path / "cache").load("duo", source=str(repo)).prepare()
    duo = tts.speakers["duo"]
    first, second = (duo.generate("はい。", speaker_id=i, **QUIET).data for i in (0, 1))
    assert not np.array_equal(first, second)
    assert np.array_equal(duo.generate("はい。", speaker_id=0, **QUIET).data, first)
    with pytest.raises(ArgumentError, match=r"speaker_id 2 is out of range: 'duo' has 2 speakers \(0\.\.1\)"):
        duo.generate("はい。", speaker_id=2)
