"""Conformance runners: compare this implementation with upstream's golden data.

``python -m hayakoe_core.conformance {model,g2p,bert} ...``; each subcommand lives in its own
module (``model.py``, ``g2p.py``, ``bert.py``) exposing a click command named ``command``.
"""
