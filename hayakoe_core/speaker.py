"""A loaded speaker: text in, audio out (ARCHITECTURE §7, §8)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hayakoe_core.audio import Audio
from hayakoe_core.pauses import join_with_pauses, pause_targets, predicted_pauses
from hayakoe_core.style import load_style_vectors, style_vector
from hayakoe_core.synthesis import BertFeatures, SpeakerModel, SynthesisInputs
from hayakoe_core.text.frontend import TextFrontend, TextUnit
from hayakoe_core.text.sentences import split_sentences

STYLE_VECTORS = "style_vectors.npy"


class Speaker:
    """One speaker's model with the shared text frontend and BERT. Made by ``TTS.prepare()``."""

    def __init__(
        self,
        name: str,
        model: SpeakerModel,
        folder: Path,
        frontend: TextFrontend,
        bert: BertFeatures,
    ) -> None:
        self.name = name
        self.model = model
        self.config = model.config
        self.folder = folder
        self._frontend = frontend
        self._bert = bert
        self._styles = load_style_vectors(folder / STYLE_VECTORS, self.config)

    @property
    def styles(self) -> list[str]:
        """Style names this speaker knows."""
        return list(self.config.data.style2id or {"Neutral": 0})

    @property
    def sample_rate(self) -> int:
        return self.config.data.sampling_rate

    def generate(
        self,
        text: str,
        style: str = "Neutral",
        style_weight: float = 1.0,
        speed: float = 1.0,
        sdp_ratio: float = 0.2,
        noise: float = 0.6,
        noise_w: float = 0.8,
    ) -> Audio:
        """Synthesise ``text``. ``speed`` scales durations (bigger = slower, upstream's
        ``length_scale``); ``sdp_ratio`` mixes the stochastic duration predictor in; ``noise`` and
        ``noise_w`` scale the prior and duration noise. Long text is split into sentences, each
        synthesised separately, and joined with pauses from the duration predictor (80 ms at least).
        """
        params = {
            "style_vec": style_vector(self._styles, self.config, style, style_weight),
            "length_scale": speed,
            "sdp_ratio": sdp_ratio,
            "noise_scale": noise,
            "noise_scale_w": noise_w,
        }
        sentences = split_sentences(text)
        texts = sentences if len(sentences) > 1 else [text]
        units = [self._frontend.preprocess(t) for t in texts]
        if len(units) == 1:
            berts = [self._bert.features(units[0].bert_text, units[0].word2ph_blank)]
        else:
            berts = self._bert.features_batch([(u.bert_text, u.word2ph_blank) for u in units])
        pieces = [
            self.model.synthesize(_inputs(unit, bert, params)).audio
            for unit, bert in zip(units, berts, strict=True)
        ]
        if len(pieces) == 1:
            audio = pieces[0]
        else:
            pauses = pause_targets(len(pieces), self._pauses(text, params))
            audio = join_with_pauses(pieces, pauses, self.sample_rate)
        return Audio(np.clip(audio, -1.0, 1.0).astype(np.float32, copy=False), self.sample_rate)

    def _pauses(self, text: str, params: dict) -> list[float] | None:
        """Pause after each sentence from the duration predictor over the whole text, if any."""
        whole = self._frontend.preprocess(text)
        durations = self.model.predict_durations(
            _inputs(whole, self._bert.features(whole.bert_text, whole.word2ph_blank), params)
        )
        if durations is None:
            return None
        return predicted_pauses(whole.phone_ids, durations, self.config.data.hop_length, self.sample_rate)


def _inputs(unit: TextUnit, bert: np.ndarray, params: dict) -> SynthesisInputs:
    return SynthesisInputs(
        x=np.asarray(unit.phone_ids, dtype=np.int64),
        tone=np.asarray(unit.tone_ids, dtype=np.int64),
        language=np.asarray(unit.language_ids, dtype=np.int64),
        bert=bert,
        **params,
    )
