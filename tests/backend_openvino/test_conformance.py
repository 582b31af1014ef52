"""The OpenVINO backend passes the backend conformance suite (onnx/ files, prepared by onnx)."""

from hayakoe_core.testing import BackendConformance
from tests.support.backends import TinySpeaker, UpstreamOnnxGraphs


class TestOpenVinoBackend(TinySpeaker, UpstreamOnnxGraphs, BackendConformance):
    backend = "openvino"
