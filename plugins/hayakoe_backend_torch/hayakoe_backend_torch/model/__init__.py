"""PyTorch implementation of the Style-Bert-VITS2 JP-Extra synthesizer (inference only)."""

from hayakoe_backend_torch.model.synthesizer import (
    DurationResult,
    InferResult,
    JPExtraSynthesizer,
)

__all__ = ["DurationResult", "InferResult", "JPExtraSynthesizer"]
