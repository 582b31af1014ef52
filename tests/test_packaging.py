"""What each install pulls in, read from the installed packages' metadata."""

from importlib import metadata

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PLUGINS = {
    "hayakoe-dest-local": ("local", "hayakoe_dest_local.plugin"),
    "hayakoe-dest-hf": ("hf", "hayakoe_dest_hf.plugin"),
    "hayakoe-dest-s3": ("s3", "hayakoe_dest_s3.plugin"),
    "hayakoe-backend-onnx": ("onnx", "hayakoe_backend_onnx.plugin"),
    "hayakoe-backend-torch": ("torch", "hayakoe_backend_torch.plugin"),
    "hayakoe-backend-openvino": ("openvino", "hayakoe_backend_openvino.plugin"),
}


def closure(name: str, extras: frozenset[str] = frozenset()) -> set[str]:
    """Every distribution that ``pip install name[extras]`` pulls in (installed metadata)."""
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(canonicalize_name(name), extras)]
    while todo:
        dist, wanted = todo.pop()
        if (dist, wanted) in seen:
            continue
        seen.add((dist, wanted))
        for line in metadata.requires(dist) or []:
            req = Requirement(line)
            envs = [{"extra": e} for e in wanted] or [{"extra": ""}]
            if req.marker is None or any(req.marker.evaluate(env) for env in envs):
                todo.append((canonicalize_name(req.name), frozenset(req.extras)))
    return {dist for dist, _ in seen}


def test_base_install_is_light():
    pulled = closure("hayakoe")
    assert "hayakoe-dest-local" in pulled
    for heavy in ("torch", "onnxruntime", "boto3", "huggingface-hub", "transformers"):
        assert heavy not in pulled


def test_openvino_extra_pulls_no_torch():
    pulled = closure("hayakoe", frozenset({"openvino"}))
    assert "torch" not in pulled
    assert not any(d.startswith("hayakoe-backend-") and d != "hayakoe-backend-openvino" for d in pulled)


def test_cpu_extra_has_onnx_backend_and_no_torch():
    pulled = closure("hayakoe", frozenset({"cpu"}))
    assert {"hayakoe-backend-onnx", "onnxruntime"} <= pulled
    assert "torch" not in pulled
    assert "hayakoe-backend-torch" not in pulled


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("gpu", {"hayakoe-backend-torch", "torch"}),
        ("openvino", {"hayakoe-backend-openvino", "openvino", "onnxruntime"}),
        ("hf", {"hayakoe-dest-hf", "huggingface-hub"}),
        ("s3", {"hayakoe-dest-s3", "boto3"}),
        ("publish", {"hayakoe-backend-onnx", "hayakoe-backend-torch", "onnx", "hayakoe-dest-hf",
                     "hayakoe-dest-s3"}),
        ("all", {"hayakoe-backend-onnx", "hayakoe-backend-torch", "hayakoe-backend-openvino",
                 "hayakoe-dest-hf", "hayakoe-dest-s3"}),
    ],
)
def test_extras(extra, expected):
    assert expected <= closure("hayakoe", frozenset({extra}))


@pytest.mark.parametrize("dist", sorted(PLUGINS))
def test_plugins_depend_on_hayakoe_and_register_one_entry_point(dist):
    requires = {canonicalize_name(Requirement(r).name) for r in metadata.requires(dist) or []
                if "extra ==" not in r}
    assert "hayakoe" in requires
    assert not any(r.startswith("hayakoe-") for r in requires), "plugins never depend on each other"
    eps = [ep for ep in metadata.distribution(dist).entry_points if ep.group == "hayakoe"]
    assert [(ep.name, ep.value) for ep in eps] == [PLUGINS[dist]]


def test_only_onnx_export_extra_depends_on_torch_backend():
    export = {canonicalize_name(Requirement(r).name)
              for r in metadata.requires("hayakoe-backend-onnx") or [] if 'extra == "export"' in r}
    assert "hayakoe-backend-torch" in export
