"""Japanese text frontend: normalisation, G2P, tones, word2ph, ids, sentences, user dictionary.

Entry points: :class:`hayakoe_core.text.frontend.TextFrontend` (text -> :class:`TextUnit`),
:func:`hayakoe_core.text.sentences.split_sentences` and
:class:`hayakoe_core.text.user_dict.UserDictionary`. Heavy dependencies (pyopenjtalk, num2words,
e2k) are imported on first use, never at import time.
"""
