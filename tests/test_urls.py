"""Every destination URL form of ARCHITECTURE §4, parsed through the registry."""

from pathlib import Path

import pytest

from hayakoe_core.errors import PluginError, UnsafePathError, UrlError
from hayakoe_core.registry import Registry, get_registry

CWD = Path.cwd()

VALID = [
    # url, plugin, location, prefix, revision, canonical url
    ("org/repo", "hf", "org/repo", "", "main", "hf://org/repo"),
    ("org/repo@dev", "hf", "org/repo", "", "dev", "hf://org/repo@dev"),
    ("hf://org/repo", "hf", "org/repo", "", "main", "hf://org/repo"),
    ("hf://org/my.repo-1@v1.0", "hf", "org/my.repo-1", "", "v1.0", "hf://org/my.repo-1@v1.0"),
    ("hf://org/repo@refs/pr/1", "hf", "org/repo", "", "refs/pr/1", "hf://org/repo@refs/pr/1"),
    ("https://huggingface.co/org/repo", "hf", "org/repo", "", "main", "hf://org/repo"),
    ("https://huggingface.co/org/repo/", "hf", "org/repo", "", "main", "hf://org/repo"),
    ("https://huggingface.co/org/repo/tree/dev", "hf", "org/repo", "", "dev", "hf://org/repo@dev"),
    (
        "https://huggingface.co/org/repo/tree/refs%2Fpr%2F2",
        "hf", "org/repo", "", "refs/pr/2", "hf://org/repo@refs/pr/2",
    ),
    ("s3://bucket", "s3", "bucket", "", None, "s3://bucket"),
    ("s3://my.bucket-1/voices", "s3", "my.bucket-1", "voices", None, "s3://my.bucket-1/voices"),
    ("s3://bucket/a/b/", "s3", "bucket", "a/b", None, "s3://bucket/a/b"),
    ("file:///srv/voices", "local", "/srv/voices", "", None, "file:///srv/voices"),
    ("file://localhost/srv/v%20x", "local", "/srv/v x", "", None, "file:///srv/v%20x"),
    ("/srv/voices", "local", "/srv/voices", "", None, "file:///srv/voices"),
    ("/srv/voices/../other", "local", "/srv/other", "", None, "file:///srv/other"),
    ("./rel/path", "local", str(CWD / "rel/path"), "", None, (CWD / "rel/path").as_uri()),
    ("../up", "local", str(CWD.parent / "up"), "", None, (CWD.parent / "up").as_uri()),
]

INVALID = [
    # url, error type, fragment of the one-line message
    ("", UrlError, "empty"),
    ("voices", UrlError, "accepted: file://, hf://, s3://"),
    ("org/repo/extra", UrlError, "accepted: file://, hf://, s3://"),
    ("gs://bucket/x", UrlError, "accepted: file://, hf://, s3://"),
    ("hf://org", UrlError, "not a HuggingFace repo id"),
    ("hf://org/repo@", UrlError, "empty revision"),
    ("hf://org/../x", UrlError, "not a HuggingFace repo id"),
    ("https://huggingface.co/org/repo/blob/main/x", UrlError, "tree/<revision>"),
    ("s3://Bad_Bucket", UrlError, "not a valid bucket name"),
    ("s3://ab", UrlError, "not a valid bucket name"),
    ("s3://bucket/../x", UnsafePathError, "'..'"),
    ("s3://bucket/a\\b", UnsafePathError, "backslash"),
    ("file://server/share", UrlError, "no host"),
]


@pytest.mark.parametrize(("url", "plugin", "location", "prefix", "revision", "canonical"), VALID)
def test_valid_forms(url, plugin, location, prefix, revision, canonical):
    registry = get_registry()
    target = registry.parse_url(url)
    assert (target.plugin, target.location, target.prefix, target.revision) == (
        plugin, location, prefix, revision,
    )
    assert target.url == canonical
    assert registry.parse_url(target.url) == target


@pytest.mark.parametrize(("url", "error", "fragment"), INVALID)
def test_invalid_forms(url, error, fragment):
    with pytest.raises(error) as info:
        get_registry().parse_url(url)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("url", "package"),
    [("s3://bucket/x", "hayakoe_dest_s3"), ("hf://org/repo", "hayakoe_dest_hf"),
     ("org/repo", "hayakoe_dest_hf"), ("https://huggingface.co/org/repo", "hayakoe_dest_hf")],
)
def test_uninstalled_scheme_names_this_projects_plugin(url, package, monkeypatch):
    monkeypatch.setenv("HAYAKOE_DISABLE_PLUGINS", "hf,s3")
    registry = Registry()
    registry.load_entry_points()
    with pytest.raises(PluginError, match=rf"-m pip install -e \S*/plugins/{package}$"):
        registry.parse_url(url)
