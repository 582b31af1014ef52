"""The registry: tolerant loading, conflicts, disabling, validation, routing to owners."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hayakoe_core.errors import PluginError, UnsafePathError
from hayakoe_core.hookspecs import hookimpl
from hayakoe_core.registry import Capability, Registry, get_registry
from hayakoe_core.types import BackendInfo, DestinationInfo, Target
from tests.support.distributions import fake_distribution

MEMO_PLUGIN = """
    from hayakoe_core.hookspecs import hookimpl
    from hayakoe_core.types import DestinationInfo, Target

    @hookimpl
    def hayakoe_destination():
        return DestinationInfo(name="memo", schemes=("memo",))

    @hookimpl
    def hayakoe_parse_url(url):
        if url.startswith("memo://"):
            return Target(plugin="memo", scheme="memo", url=url, location=url[7:])
"""


@pytest.fixture
def site(tmp_path, monkeypatch) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    return site


def loaded() -> Registry:
    registry = Registry()
    registry.load_entry_points()
    return registry


def test_broken_plugin_is_reported_and_others_work(site):
    fake_distribution(site, "hayakoe-broken", {"broken": "hayakoe_broken_mod"},
                      {"hayakoe_broken_mod": "raise RuntimeError('boom at import')"})
    registry = loaded()
    broken = [r for r in registry.records if r.name == "broken"]
    assert broken and "boom at import" in broken[0].error
    assert broken[0].distribution == "hayakoe-broken"
    assert registry.parse_url("s3://bucket").plugin == "s3"


def test_third_party_entry_point_plugin_is_used(site):
    fake_distribution(site, "hayakoe-memo", {"memo": "hayakoe_memo_mod"},
                      {"hayakoe_memo_mod": MEMO_PLUGIN})
    registry = loaded()
    assert "memo" in registry.schemes()
    assert registry.parse_url("memo://x").plugin == "memo"


def test_two_plugins_claiming_a_scheme_are_refused_naming_both(site):
    clone = MEMO_PLUGIN.replace('name="memo"', 'name="memo2"')
    fake_distribution(site, "hayakoe-memo", {"memo": "hayakoe_memo_mod"},
                      {"hayakoe_memo_mod": MEMO_PLUGIN})
    fake_distribution(site, "hayakoe-memo2", {"memo2": "hayakoe_memo2_mod"},
                      {"hayakoe_memo2_mod": clone})
    registry = loaded()
    with pytest.raises(PluginError, match="'memo' and 'memo2'"):
        registry.parse_url("memo://x")
    assert any("memo://" in c for c in registry.conflicts)
    assert "memo" not in registry.schemes()
    assert registry.parse_url("s3://bucket").plugin == "s3"


def test_disable_env_lets_a_replacement_take_a_scheme(site, monkeypatch):
    replacement = MEMO_PLUGIN.replace('"memo"', '"file"').replace('("memo",)', '("file",)')
    replacement = replacement.replace('url.startswith("memo://")', 'url.startswith("/")')
    fake_distribution(site, "my-local", {"mylocal": "my_local_mod"}, {"my_local_mod": replacement})
    assert any("file://" in c for c in loaded().conflicts)
    monkeypatch.setenv("HAYAKOE_DISABLE_PLUGINS", "local")
    registry = loaded()
    assert registry.conflicts == []
    assert registry.parse_url("/srv/x").plugin == "file"
    assert "local" not in {r.name for r in registry.records}


class _Backend:
    def __init__(self, name: str):
        self.name = name

    @hookimpl
    def hayakoe_backend(self):
        return BackendInfo(name="onnx", repo_folder="onnx", devices=("cpu",))

    @hookimpl
    def hayakoe_load_runtime(self, speaker_dir, device):
        return (self.name, speaker_dir, device)


def test_backend_conflict_and_routing():
    registry = Registry()
    registry.register(_Backend("first"), name="first")
    assert registry.load_runtime("onnx", Path("/x"), "cpu") == ("first", Path("/x"), "cpu")
    registry.register(_Backend("second"), name="second")
    with pytest.raises(PluginError, match="'first' and 'second'"):
        registry.load_runtime("onnx", Path("/x"))


class _DeclarationOnly:
    @hookimpl
    def hayakoe_backend(self):
        return BackendInfo(name="bare", repo_folder="bare", devices=("cpu",))


def test_backend_without_a_hook_is_a_clear_error():
    registry = Registry()
    registry.register(_DeclarationOnly(), name="bare")
    with pytest.raises(PluginError, match=r"the bare backend .* does not support load runtime"):
        registry.load_runtime("bare", Path("/x"))
    with pytest.raises(PluginError, match="does not support prepare files"):
        registry.prepare_files("bare", speaker_source=Path("/x"), checkpoint=Path("/x"),
                               out_dir=Path("/y"), cache_dir=Path("/z"), progress=None)
    assert registry.load_bert("bare", Path("/x"), "cpu") is None


def test_missing_backend_names_this_projects_plugin():
    registry = Registry()
    with pytest.raises(PluginError, match=r"-m pip install -e \S*/plugins/hayakoe_backend_onnx$"):
        registry.backend("onnx")
    with pytest.raises(PluginError, match=r"-m pip install -e \S*/plugins/hayakoe_backend_torch$"):
        registry.load_runtime("torch", Path("/x"))
    with pytest.raises(PluginError, match="unknown backend 'tpu'"):
        registry.backend("tpu")


class _Misspelt:
    @hookimpl
    def hayakoe_destination(self):
        return DestinationInfo(name="typo", schemes=("typo",))

    @hookimpl
    def hayakoe_parse_ulr(self, url):
        return None


class _BadDeclaration:
    @hookimpl
    def hayakoe_destination(self):
        return {"name": "dict", "schemes": ["dict"]}


class _BothKinds:
    @hookimpl
    def hayakoe_destination(self):
        return DestinationInfo(name="x", schemes=("x",))

    @hookimpl
    def hayakoe_backend(self):
        return BackendInfo(name="x", repo_folder="x", devices=("cpu",))


@pytest.mark.parametrize(
    ("plugin", "fragment"),
    [(_Misspelt(), "hayakoe_parse_ulr"), (_BadDeclaration(), "DestinationInfo"),
     (_BothKinds(), "exactly one")],
)
def test_invalid_plugins_are_recorded_not_registered(plugin, fragment):
    registry = Registry()
    record = registry.register(plugin, name="bad")
    assert fragment in record.error
    assert not registry.pm.get_plugins()
    assert registry.schemes() == []


class _FetchOnly:
    @hookimpl
    def hayakoe_destination(self):
        return DestinationInfo(name="ro", schemes=("ro",))

    @hookimpl
    def hayakoe_parse_url(self, url):
        return Target(plugin="ro", scheme="ro", url=url, location="") if url == "ro://" else None

    @hookimpl
    def hayakoe_read_file(self, target, path):
        return f"{target.url}|{path}".encode()

    @hookimpl
    def hayakoe_read_state(self, target):
        return "not a DestinationState"


def test_store_reaches_only_the_owner_and_unsupported_hooks_are_clear():
    registry = Registry()
    registry.register(_FetchOnly(), name="ro")
    store = registry.open("ro://")
    assert store.target == registry.parse_url("ro://") and store.info.name == "ro"
    assert store.supports(Capability.READ_FILE)
    assert not store.supports(Capability.UPLOAD) and not store.supports(Capability.PUBLISH)
    assert store.read_file("a/./b") == b"ro://|a/b"
    with pytest.raises(PluginError, match="does not support upload"):
        store.upload(Path("."))
    with pytest.raises(PluginError, match="returned str from read_state, not DestinationState"):
        store.read_state()
    for bad in ("../x", "/etc/passwd", "a\\b"):
        with pytest.raises(UnsafePathError):
            store.read_file(bad)
    # the built-in local destination through the process registry: only its owner answers
    nowhere = Target(plugin="local", scheme="file", url="file:///nowhere", location="/nowhere")
    other = get_registry().open(nowhere)
    assert other.list_speakers() == {}


def test_a_misspelt_hook_name_in_core_is_a_bug_with_a_traceback():
    registry = Registry()
    record = registry.register(_FetchOnly(), name="ro")
    with pytest.raises(AttributeError):
        registry._call_on(record, "hayakoe_raed_file", "ro://", target=None, path="x")


def test_cli_lists_broken_plugin_and_keeps_working(site):
    fake_distribution(site, "hayakoe-broken", {"broken": "hayakoe_broken_mod"},
                      {"hayakoe_broken_mod": "import does_not_exist_anywhere"})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *sys.path])}
    out = subprocess.run([sys.executable, "-m", "hayakoe", "plugins", "--json"],
                         capture_output=True, text=True, env=env, check=True).stdout
    records = {r["name"]: r for r in json.loads(out)["plugins"]}
    assert "does_not_exist_anywhere" in records["broken"]["error"]
    assert records["local"]["error"] is None
    assert records["s3"]["schemes"] == ["s3"]
    assert records["onnx"]["repo_folder"] == "onnx"
    assert records["torch"]["repo_folder"] == "pytorch"
    table = subprocess.run([sys.executable, "-m", "hayakoe", "plugins"], capture_output=True,
                           text=True, env={**env, "COLUMNS": "200"}, check=True).stdout
    assert "broken" in table and "error" in table


class _Reader:
    """A backend that runs another backend's files (declares ``files_from``)."""

    def __init__(self, folder: str, owner: str) -> None:
        self.folder, self.owner = folder, owner

    @hookimpl
    def hayakoe_backend(self):
        return BackendInfo(name="reader", repo_folder=self.folder, devices=("cpu",), files_from=self.owner)

    @hookimpl
    def hayakoe_load_runtime(self, speaker_dir, device, cache_dir):
        return speaker_dir


class _Writer:
    @hookimpl
    def hayakoe_backend(self):
        return BackendInfo(name="writer", repo_folder="graphs", devices=("cpu",))

    @hookimpl
    def hayakoe_prepare_files(self, speaker_source, checkpoint, out_dir, cache_dir, progress):
        return [out_dir / "made-by-writer"]


def test_files_from_routes_prepare_to_the_owner(tmp_path):
    registry = Registry()
    registry.register(_Writer(), "writer")
    registry.register(_Reader("graphs", "writer"), "reader")
    assert registry.files_owner("reader").name == "writer"
    kwargs = dict(speaker_source=tmp_path, checkpoint=tmp_path / "c", out_dir=tmp_path, cache_dir=tmp_path)
    made = registry.prepare_files("reader", progress=None, **kwargs)
    assert made == [tmp_path / "made-by-writer"]


@pytest.mark.parametrize(
    ("folder", "owner", "message"),
    [("other", "writer", "declares repo folder 'other'"), ("graphs", "nobody", "unknown backend 'nobody'")],
)
def test_files_from_mismatch_is_a_clear_error(folder, owner, message):
    registry = Registry()
    registry.register(_Writer(), "writer")
    registry.register(_Reader(folder, owner), "reader")
    with pytest.raises(PluginError, match=message):
        registry.files_owner("reader")
