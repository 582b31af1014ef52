"""The ONNX backend passes the backend conformance suite."""

from hayakoe_core.testing import BackendConformance
from tests.support.backends import TinySpeaker, UpstreamOnnxGraphs


class TestOnnxBackend(TinySpeaker, UpstreamOnnxGraphs, BackendConformance):
    backend = "onnx"
