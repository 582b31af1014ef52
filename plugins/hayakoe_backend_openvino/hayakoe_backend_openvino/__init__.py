"""hayakoe backend plugin: upstream's ONNX speaker graphs (the ``onnx/`` folder) run by OpenVINO."""
