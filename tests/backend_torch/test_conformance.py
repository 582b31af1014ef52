"""The torch backend passes the backend conformance suite (on the CPU)."""

from hayakoe_core.testing import BackendConformance
from tests.support.backends import TinySpeaker


class TestTorchBackend(TinySpeaker, BackendConformance):
    backend = "torch"
