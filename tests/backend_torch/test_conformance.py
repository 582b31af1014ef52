"""The torch backend passes the backend conformance suite (on the CPU), upstream's checkpoints included."""

from hayakoe_core.testing import BackendConformance
from tests.support.backends import TinySpeaker, UpstreamCheckpoints


class TestTorchBackend(TinySpeaker, UpstreamCheckpoints, BackendConformance):
    backend = "torch"
