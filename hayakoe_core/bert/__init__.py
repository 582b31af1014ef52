"""BERT features for the synthesizer, on the CPU without torch or transformers.

``BertFeatureExtractor.from_source_root(root).features(bert_text, word2ph_blank)`` → float32
``[1024, n_phones]``. onnxruntime is imported only when an extractor is built.
"""

from hayakoe_core.bert.expand import expand_to_phones
from hayakoe_core.bert.extractor import BertFeatureExtractor, EncodedBatch, TokenEncoder
from hayakoe_core.bert.tokenizer import CharTokenizer, TokenBatch

__all__ = [
    "BertFeatureExtractor",
    "CharTokenizer",
    "EncodedBatch",
    "TokenBatch",
    "TokenEncoder",
    "expand_to_phones",
]
