"""PyTorch speaker runtime: a loaded JP-Extra synthesizer behind core's ``SpeakerModel``.

Imports torch at module import; plugin code should import this module only when a torch
speaker is actually loaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from hayakoe_backend_torch.checkpoint import find_checkpoint, load_synthesizer
from hayakoe_backend_torch.model import InferResult, JPExtraSynthesizer
from hayakoe_core.speaker_config import SpeakerConfig
from hayakoe_core.synthesis import (
    BERT_DIM,
    STYLE_DIM,
    Latent,
    SynthesisInputs,
    SynthesisResult,
    decoder_context_frames,
)


class TorchSpeaker:
    """A speaker folder (config.json + checkpoint) loaded into :class:`JPExtraSynthesizer`.

    Implements :class:`hayakoe_core.synthesis.SpeakerModel` and
    :class:`~hayakoe_core.synthesis.WindowedDecoding`. Every call runs under
    ``torch.inference_mode()``; batch size is 1.
    """

    def __init__(self, config: SpeakerConfig, model: JPExtraSynthesizer, device: torch.device) -> None:
        self.config = config
        self.model = model
        self.device = device
        self._context = decoder_context_frames(config)
        self._compiled = False

    def compile(self) -> None:
        """``torch.compile`` the decoder, the flow and the text encoder (where most time goes),
        once; worth it on CUDA for long-running servers, the first calls being slow."""
        if self._compiled:
            return
        for name in ("dec", "flow", "enc_p"):
            setattr(self.model, name, torch.compile(getattr(self.model, name)))
        self._compiled = True

    @classmethod
    def load(
        cls,
        speaker_dir: str | Path,
        device: str | torch.device = "cpu",
        *,
        checkpoint: Path | None = None,
    ) -> TorchSpeaker:
        """Load ``speaker_dir/config.json`` and ``checkpoint`` (default: the folder's
        newest ``*.safetensors``). Raises :class:`ConfigError` for a bad config/checkpoint."""
        speaker_dir = Path(speaker_dir)
        config = SpeakerConfig.from_file(speaker_dir / "config.json")
        path = checkpoint if checkpoint is not None else find_checkpoint(speaker_dir)
        device = torch.device(device)
        return cls(config, load_synthesizer(config, path, device), device)

    def synthesize(self, inputs: SynthesisInputs) -> SynthesisResult:
        with torch.inference_mode():
            result = self._infer(inputs)
        return SynthesisResult(
            audio=_numpy(result.audio[0, 0]),
            durations=_numpy(result.durations.w_ceil[0, 0]),
        )

    def encode(self, inputs: SynthesisInputs) -> Latent:
        """Synthesis up to the decoder: the masked latent and the speaker conditioning."""
        with torch.inference_mode():
            result = self.model.infer(**self._feeds(inputs), decode=False)
        state = (result.z * result.y_mask, result.durations.g)
        return Latent(frames=state[0].shape[2], durations=_numpy(result.durations.w_ceil[0, 0]), state=state)

    def decode(self, latent: Latent, start: int, end: int) -> np.ndarray:
        """Audio float32 of latent frames ``start..end``, decoded with enough context either side."""
        z, g = latent.state
        first, last = max(0, start - self._context), min(latent.frames, end + self._context)
        with torch.inference_mode():
            audio = self.model.dec(z[:, :, first:last], g)[0, 0]
        spf = self.config.samples_per_frame
        return _numpy(audio[(start - first) * spf : (end - first) * spf])

    def predict_durations(self, inputs: SynthesisInputs) -> np.ndarray:
        with torch.inference_mode():
            feeds = self._feeds(inputs)
            del feeds["noise_scale"]
            return _numpy(self.model.predict_durations(**feeds).w_ceil[0, 0])

    def trace(self, inputs: SynthesisInputs) -> dict[str, np.ndarray]:
        """Golden-named tensors of one synthesis (shapes as in the golden files, batch axis
        kept), plus ``durations_predict`` from a separate :meth:`predict_durations` run."""
        with torch.inference_mode(), _capture(self.model) as captured:
            result = self._infer(inputs)
        dur = result.durations
        named = {
            "g": dur.g,
            "enc_x": dur.text.x,
            "m_p": dur.text.m_p,
            "logs_p": dur.text.logs_p,
            "x_mask": dur.text.x_mask,
            "logw_dp": dur.logw_dp,
            "logw_sdp": dur.logw_sdp,
            "logw": dur.logw,
            "w": dur.w,
            "w_ceil": dur.w_ceil,
            "y_lengths": result.y_lengths,
            "y_mask": result.y_mask,
            "attn": result.attn,
            "m_p_expanded": result.m_p_expanded,
            "logs_p_expanded": result.logs_p_expanded,
            "z_p": result.z_p,
            "z": result.z,
            "audio": result.audio,
            **captured,
        }
        out = {name: _numpy(t) for name, t in named.items()}
        out["durations"] = out["durations_infer"] = out["w_ceil"][0, 0]
        out["durations_predict"] = self.predict_durations(inputs)
        return out

    def _infer(self, inputs: SynthesisInputs) -> InferResult:
        return self.model.infer(**self._feeds(inputs))

    def _feeds(self, inputs: SynthesisInputs) -> dict[str, torch.Tensor]:
        """Batch-1 tensors on the model's device, named as :meth:`JPExtraSynthesizer.infer`
        takes them."""
        t = len(inputs.x)
        if inputs.bert.shape != (BERT_DIM, t) or inputs.style_vec.shape != (STYLE_DIM,):
            raise ValueError(
                f"bert must be [{BERT_DIM}, {t}] and style_vec [{STYLE_DIM}]; got "
                f"{list(inputs.bert.shape)} and {list(inputs.style_vec.shape)}"
            )

        def ids(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.asarray(a, dtype=np.int64), device=self.device).view(1, t)

        def floats(a: np.ndarray | float) -> torch.Tensor:
            return torch.as_tensor(np.asarray(a, dtype=np.float32), device=self.device)

        return {
            "x": ids(inputs.x),
            "x_lengths": torch.tensor([t], dtype=torch.int64, device=self.device),
            "sid": torch.tensor([inputs.sid], dtype=torch.int64, device=self.device),
            "tone": ids(inputs.tone),
            "language": ids(inputs.language),
            "bert": floats(inputs.bert).unsqueeze(0),
            "style_vec": floats(inputs.style_vec).unsqueeze(0),
            "noise_scale": floats(inputs.noise_scale).view(1),
            "length_scale": floats(inputs.length_scale).view(1),
            "noise_scale_w": floats(inputs.noise_scale_w).view(1),
            "sdp_ratio": floats(inputs.sdp_ratio).view(1),
        }


@contextmanager
def _capture(model: JPExtraSynthesizer) -> Iterator[dict[str, torch.Tensor]]:
    """Hook module boundaries that :class:`InferResult` does not expose: ``enc_in``,
    ``flow_steps`` (in application order, stacked), ``dec_in``, ``dec_conv_pre`` and
    ``dec_ups_<i>``. The dict is complete once the block's inference has run."""
    captured: dict[str, torch.Tensor] = {}
    steps: list[torch.Tensor] = []

    def keep_input(name: str):
        return lambda _module, args: captured.__setitem__(name, args[0])

    def keep_output(name: str):
        return lambda _module, _args, out: captured.__setitem__(name, out)

    handles = [
        model.enc_p.encoder.register_forward_pre_hook(keep_input("enc_in")),
        model.dec.register_forward_pre_hook(keep_input("dec_in")),
        model.dec.conv_pre.register_forward_hook(keep_output("dec_conv_pre")),
    ]
    handles += [up.register_forward_hook(keep_output(f"dec_ups_{i}")) for i, up in enumerate(model.dec.ups)]
    handles += [
        step.register_forward_hook(lambda _m, _a, out: steps.append(out)) for step in model.flow.flows
    ]
    try:
        yield captured
        captured["flow_steps"] = torch.stack(steps)
    finally:
        for handle in handles:
            handle.remove()


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()
