"""Bad input to ``hayakoe publish`` and ``hayakoe.publish()``: each case is refused with one line
naming the problem, a non-zero exit and no traceback, before anything reaches the destination.

Every case runs through both surfaces: the CLI in-process (click's runner, so an exception that
is not a :class:`HayakoeError` shows up as itself rather than an exit) and the Python API. A
handful also run as real subprocesses (:data:`SUBPROCESS`), where "no traceback on stderr" is
proven as a user sees it. After each refusal everything a publish could touch is compared with
a snapshot taken before it: the whole working folder (the destination when it is local, the
source folder, ``.env`` and its mode, where ``.verify_audio`` would go), every object in the
S3 bucket, and the Hub repo's refs and files together with the absence of any write request.

The destinations are real: a local folder, SeaweedFS on loopback and the project's Hub test
server, with hostile listings crafted on the servers themselves.
"""

from __future__ import annotations

import json
import pickle
import stat
import subprocess
import sys
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from hayakoe_core.cli import cli
from hayakoe_core.errors import HayakoeError
from hayakoe_core.publish.api import publish
from tests.publish.speakers import edit_config, save_tensors, speaker_folder, tiny_tensors
from tests.publish.test_validate import BROKEN, _Planted
from tests.support.faultproxy import Fault
from tests.support.hub_fixtures import OTHER_TOKEN, READ_TOKEN
from tests.support.mounts import read_only
from tests.support.repo import CHECKPOINT, TINY_BERT, make_repo

ENV_LINE = "HAYAKOE_T_UNRELATED='kept'\n"
_WRITES = ("POST", "PUT", "DELETE", "PATCH")


@dataclass
class World:
    """One case's surroundings: a good speaker folder, a local destination, a ``.env``, and
    the publish answers the case changes (``answers``) plus snapshots of remote destinations."""

    root: Path
    request: pytest.FixtureRequest
    monkeypatch: pytest.MonkeyPatch
    answers: dict[str, Any] = field(default_factory=dict)
    remote: list[Callable[[], Any]] = field(default_factory=list)

    @property
    def folder(self) -> Path:
        return self.root / "spk"

    @property
    def dest(self) -> Path:
        return self.root / "voices"

    def fixture(self, name: str) -> Any:
        return self.request.getfixturevalue(name)

    def s3(self, url_suffix: str = "team/voices") -> str:
        """Point the answers at a fresh bucket on SeaweedFS; its objects join the snapshot."""
        self.fixture("s3_env")
        bucket, admin = self.fixture("s3_bucket"), self.fixture("s3_admin")
        self.remote.append(lambda: _bucket_snapshot(admin, bucket))
        self.answers["to"] = f"s3://{bucket}/{url_suffix}"
        return bucket

    def hub(self) -> str:
        """Point the answers at a fresh repo on the Hub test server, which joins the snapshot."""
        hub, repo = self.fixture("hub"), self.fixture("hub_repo")
        self.remote.append(lambda: _hub_snapshot(hub, repo))
        self.answers["to"] = f"hf://{repo}"
        return repo


def _bucket_snapshot(admin: Any, bucket: str) -> dict[str, Any]:
    objects = {}
    for page in admin.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            objects[obj["Key"]] = admin.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
    uploads = admin.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return {"objects": objects, "uploads": [u["Key"] for u in uploads]}


def _hub_snapshot(hub: Any, repo: str) -> dict[str, Any]:
    meta = hub.store.repo("model", repo)
    writes = [(m, p) for m, p in hub.requests if m in _WRITES]
    if meta is None:
        return {"repo": None, "writes": writes}
    trees = {branch: hub.store.commit(sha)["files"] for branch, sha in meta["branches"].items()}
    return {"repo": meta, "trees": trees, "writes": writes}


def full_snapshot(root: Path, skip: Path) -> dict[str, Any]:
    """Every folder and file under ``root`` (hidden ones too) with its mode, and each file's bytes."""
    seen: dict[str, Any] = {}
    for path in sorted(root.rglob("*")):
        if path == skip or skip in path.parents:
            continue
        mode = stat.S_IMODE(path.lstat().st_mode)
        seen[path.relative_to(root).as_posix()] = (mode, path.read_bytes() if path.is_file() else None)
    return seen


# --- the cases -------------------------------------------------------------------------------------

Setup = Callable[[World], None]


def _only_checkpoint(make: Callable[[Path], str]) -> Setup:
    """The folder's one checkpoint replaced by a broken one (see test_validate.BROKEN)."""

    def setup(world: World) -> None:
        (world.folder / CHECKPOINT.name).unlink()
        make(world.folder / "broken_e1_s1.safetensors")

    return setup


def _pickled_style_vectors(world: World) -> None:
    array = np.empty((4, 256), dtype=object)
    array[0, 0] = _Planted(world.root.parent / f"{world.root.name}-pickle-ran")
    np.save(world.folder / "style_vectors.npy", array, allow_pickle=True)


def _graphs_of_another_checkpoint(world: World) -> None:
    speaker_folder(world.folder, graphs=True)  # graphs exported from the tiny checkpoint
    tensors = tiny_tensors()
    tensors["dec.conv_post.weight"] = tensors["dec.conv_post.weight"] * np.float32(1.01)
    save_tensors(world.folder / CHECKPOINT.name, tensors)
    world.answers["backend"] = "cpu"


def _published(world: World, edit: Callable[[dict], None] | None = None, raw: bytes | None = None) -> None:
    """A local destination that holds ``tiny`` (with a manifest), whose manifest is then broken."""
    make_repo(world.dest, manifest=True)
    target = world.dest / "onnx/speakers/tiny/manifest.json"
    if edit is not None:
        doc = json.loads(target.read_text())
        edit(doc)
        raw = json.dumps(doc).encode()
    assert raw is not None
    target.write_bytes(raw)
    world.answers.update(name="tiny", overwrite=True)


def _hub_crafted(world: World, path: str) -> None:
    repo = world.hub()
    hub = world.fixture("hub")
    from huggingface_hub import HfApi

    HfApi().create_repo(repo, private=True)
    hub.add_commit(repo, {path: b"x", "onnx/speakers/ok/config.json": b"{}"})
    hub.clear_log()


def _s3_crafted(world: World, key: str, shown: bytes) -> None:
    """SeaweedFS normalises keys (``//`` → ``/``) and refuses ``..``, as a well-behaved store
    should; a hostile one is the real server behind a proxy that rewrites ``key`` in its answers
    (only its last ``len(shown)`` bytes, to ``shown``)."""
    bucket = world.s3()
    world.fixture("s3_admin").put_object(Bucket=bucket, Key=key, Body=b"x")
    proxy = world.fixture("s3_proxy")
    proxy.set_fault(Fault.rewrite(key[-len(shown) :].encode(), shown))


def _set_env(world: World, **values: str | None) -> None:
    for name, value in values.items():
        if value is None:
            world.monkeypatch.delenv(name, raising=False)
        else:
            world.monkeypatch.setenv(name, value)


def _s3_with(world: World, **values: str | None) -> None:
    world.s3()
    _set_env(world, **values)


def _hub_with_token(world: World, token: str | None) -> None:
    world.hub()
    _set_env(world, HF_TOKEN=token)


def _read_only_folder(world: World) -> None:
    world.dest.mkdir()
    mounted = ExitStack()
    mounted.enter_context(read_only(world.dest))
    world.request.addfinalizer(mounted.close)


def _answers(**answers: Any) -> Setup:
    return lambda world: world.answers.update(answers)


def _edit(edit: Callable[[dict], None]) -> Setup:
    return lambda world: edit_config(world.folder, edit)


def _unlink(name: str) -> Setup:
    return lambda world: (world.folder / name).unlink()


def _write(name: str, data: bytes) -> Setup:
    return lambda world: (world.folder / name).write_bytes(data)


def _style(array: np.ndarray) -> Setup:
    return lambda world: np.save(world.folder / "style_vectors.npy", array)


#: case id → (what to do to the world, a piece of the one-line error)
CASES: dict[str, tuple[Setup, str]] = {
    # the speaker folder
    "folder-missing": (lambda w: w.answers.update(folder=w.root / "nowhere"), "no such folder"),
    "folder-is-a-file": (lambda w: w.answers.update(folder=w.folder / "config.json"), "is a file"),
    "config-missing": (_unlink("config.json"), "config.json is missing"),
    "config-empty": (_write("config.json", b""), "not valid JSON"),
    "config-corrupt": (_write("config.json", b"{nope"), "not valid JSON"),
    "config-not-an-object": (_write("config.json", b"[1, 2]"), "config.json"),
    "config-not-jp-extra": (_edit(lambda raw: raw.update(version="2.4.1")), "not a JP-Extra model"),
    "config-jp-extra-off": (_edit(lambda raw: raw["data"].update(use_jp_extra=False)), "use_jp_extra"),
    "style-vectors-missing": (_unlink("style_vectors.npy"), "style_vectors.npy is missing"),
    "style-vectors-rows": (_style(np.zeros((3, 256), np.float32)), "3 style vectors but config.json says"),
    "style-vectors-dtype": (_style(np.zeros((4, 256), np.int32)), "int32, expected float32"),
    "style-vectors-pickle": (_pickled_style_vectors, "cannot read style vectors"),
    "style-vectors-raw-pickle": (
        _write("style_vectors.npy", pickle.dumps({"a": 1})),
        "cannot read style vectors",
    ),
    **{f"checkpoint-{case}": (_only_checkpoint(make), needle) for case, (make, needle) in BROKEN.items()},
    "checkpoint-none": (_unlink(CHECKPOINT.name), "no *.safetensors checkpoint"),
    "two-checkpoints-no-choice": (
        lambda w: speaker_folder(w.folder, (CHECKPOINT.name, "tiny_e2_s20.safetensors")),
        "choose one with --checkpoint",
    ),
    "checkpoint-not-in-folder": (
        _answers(checkpoint="nope.safetensors"),
        "--checkpoint nope.safetensors is not in",
    ),
    "checkpoint-outside-folder": (
        lambda w: w.answers.update(checkpoint=str(CHECKPOINT)),
        "is not in",
    ),
    "onnx-graphs-of-another-checkpoint": (_graphs_of_another_checkpoint, "disagree"),
    # the speaker name
    **{
        f"name-{label}": (_answers(name=name), "invalid speaker name")
        for label, name in {
            "dotdot": "..",
            "slash": "a/b",
            "fullwidth": "Ａ",
            "empty": "",
            "200-chars": "a" * 200,
            "leading-hyphen": "-lead",
            "uppercase": "Tiny",
            "space": "my voice",
        }.items()
    },
    # the destination URL
    "url-s3-no-bucket": (_answers(to="s3://"), "is not a valid bucket name"),
    "url-s3-bad-bucket": (_answers(to="s3://Bad_Bucket"), "'Bad_Bucket' is not a valid bucket name"),
    "url-s3-dotdot-prefix": (_answers(to="s3://voices/a/../b"), "contains '..'"),
    "url-hf-no-repo": (_answers(to="hf://a"), "is not a HuggingFace repo id"),
    "url-hf-empty-revision": (_answers(to="hf://a/b/c@"), "empty revision"),
    "url-hf-commit": (
        lambda w: (w.hub(), w.answers.update(to=f"{w.answers['to']}@{'0123abcd' * 5}")),
        "names a commit",
    ),
    "url-file-relative": (_answers(to="file://relative/path"), "write file:///abs/path"),
    "url-unknown-scheme": (_answers(to="gopher://host/voices"), "no installed destination accepts"),
    "url-empty": (_answers(to=""), "no destination: pass --to URL"),
    "to-a-file": (
        lambda w: (w.root.joinpath("afile").write_text("x"), w.answers.update(to=str(w.root / "afile"))),
        "is a file, not a folder",
    ),
    "to-under-a-file": (
        lambda w: (w.root.joinpath("afile").write_text("x"), w.answers.update(to=str(w.root / "afile/sub"))),
        "cannot write to",
    ),
    "to-read-only-folder": (_read_only_folder, "cannot write to"),
    # S3 credentials and endpoint, against SeaweedFS
    "s3-wrong-secret": (
        lambda w: _s3_with(w, AWS_SECRET_ACCESS_KEY="wrong-secret-value"),
        "AWS_SECRET_ACCESS_KEY",
    ),
    "s3-unknown-key": (
        lambda w: _s3_with(w, AWS_ACCESS_KEY_ID="TUNKNOWNKEY00000000"),
        "does not know this access key",
    ),
    "s3-no-credentials": (
        lambda w: _s3_with(w, AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None),
        "no complete AWS credentials",
    ),
    "s3-read-only-credentials": (
        lambda w: _s3_with(
            w,
            AWS_ACCESS_KEY_ID=w.fixture("s3_server").reader_key,
            AWS_SECRET_ACCESS_KEY=w.fixture("s3_server").reader_secret,
        ),
        "access denied",
    ),
    "s3-endpoint-without-scheme": (
        lambda w: _s3_with(w, AWS_ENDPOINT_URL_S3=w.fixture("s3_server").url.removeprefix("http://")),
        "AWS_ENDPOINT_URL_S3=",
    ),
    "s3-missing-bucket": (
        lambda w: (w.fixture("s3_env"), w.answers.update(to="s3://no-such-bucket-hayakoe/x")),
        "bucket 'no-such-bucket-hayakoe' does not exist",
    ),
    # Hub credentials, against the Hub test server
    "hf-wrong-token": (lambda w: _hub_with_token(w, "hf_not_a_token_anyone_issued"), "rejected the token"),
    "hf-no-token": (lambda w: _hub_with_token(w, None), "no Hugging Face token"),
    "hf-read-token": (lambda w: _hub_with_token(w, READ_TOKEN), "can only read"),
    "hf-someone-elses-namespace": (lambda w: _hub_with_token(w, OTHER_TOKEN), "cannot write to 'alice'"),
    # hostile or broken destinations
    "s3-listing-dotdot": (
        lambda w: _s3_crafted(w, "team/voices/onnx/speakers/a/__/__/__/x", b"../../../x"),
        "contains '..'",
    ),
    "s3-listing-absolute": (lambda w: _s3_crafted(w, "team/voices/_etc/passwd", b"//etc/passwd"), "absolute"),
    "hf-listing-dotdot": (lambda w: _hub_crafted(w, "onnx/speakers/a/../../../escaped"), "contains '..'"),
    "hf-listing-absolute": (lambda w: _hub_crafted(w, "/onnx/speakers/abs/config.json"), "absolute"),
    "manifest-corrupt": (lambda w: _published(w, raw=b"{not json"), "not a valid speaker manifest"),
    "manifest-newer-version": (
        lambda w: _published(w, edit=lambda doc: doc.update(version=99)),
        "manifest version 99 is newer",
    ),
    "local-state-corrupt": (
        lambda w: (
            make_repo(w.dest),
            (w.dest / ".hayakoe").mkdir(),
            (w.dest / ".hayakoe/state.json").write_text("{broken"),
        ),
        "state.json is unreadable",
    ),
}

#: Cases click itself refuses while parsing the command line: a usage error, exit status 2.
USAGE = {"folder-is-a-file"}

#: Cases found after the summary and the first progress lines were shown (the parity check
#: needs the graphs and the checkpoint run): their error is still one line, the last.
LATE = {"onnx-graphs-of-another-checkpoint"}

#: Cases also run as a real ``python -m hayakoe publish`` process.
SUBPROCESS = (
    "config-corrupt", "checkpoint-truncated", "name-uppercase", "url-s3-bad-bucket",
    "s3-endpoint-without-scheme", "hf-wrong-token", "manifest-newer-version",
)  # fmt: skip


# --- running them ------------------------------------------------------------------------------------


@pytest.fixture
def world(
    tmp_path: Path, cache: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> World:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HAYAKOE_CACHE", str(cache))
    monkeypatch.setenv("HAYAKOE_ENV_FILE", str(tmp_path / ".env"))
    monkeypatch.setenv("HAYAKOE_T_UNRELATED", "kept")  # what the .env holds: loading it changes nothing
    for name in ("HAYAKOE_HF_REPO", "HAYAKOE_S3_BUCKET", "HAYAKOE_LOCAL_PATH", "HAYAKOE_BERT_SOURCE"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / ".env").write_text(ENV_LINE)
    (tmp_path / ".env").chmod(0o600)
    speaker_folder(tmp_path / "spk")
    return World(tmp_path, request, monkeypatch)


def prepared(world: World, case: str) -> tuple[dict[str, Any], Callable[[], Any]]:
    setup, _ = CASES[case]
    setup(world)
    answers = {"folder": world.folder, "to": str(world.dest), "bert_source": str(TINY_BERT), **world.answers}

    def snapshot() -> Any:
        return full_snapshot(world.root, world.root / "cache"), [take() for take in world.remote]

    return answers, snapshot


def cli_args(answers: dict[str, Any]) -> list[str]:
    args = ["publish", "--yes"]
    for key, value in answers.items():
        if isinstance(value, bool):
            args += [f"--{key}"] if value else []
        else:
            args += [f"--{key.replace('_', '-')}", str(value)]
    return args


def assert_refusal(stdout: str, stderr: str, case: str) -> None:
    """Nothing on stdout; on stderr one ``Error:`` line, the last. Cases that fail before the
    summary (all but :data:`LATE`) print that line alone."""
    assert stdout == ""
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    errors = [line for line in lines if line.startswith("Error: ")]
    assert errors == lines[-1:], stderr
    if case not in LATE:
        assert len(lines) == 1, stderr
    assert_one_line(errors[0], CASES[case][1])


def assert_one_line(line: str, needle: str) -> None:
    assert "\n" not in line.strip(), line
    assert needle in line, line
    assert len(line) < 400, f"{len(line)} characters: {line}"


@pytest.mark.parametrize("case", CASES)
def test_cli_refuses(world: World, case: str) -> None:
    answers, snapshot = prepared(world, case)
    before = snapshot()

    result = CliRunner().invoke(cli, cli_args(answers))

    assert isinstance(result.exception, SystemExit), result.exception  # not an escaped exception
    assert result.exit_code == (2 if case in USAGE else 1), (result.exit_code, result.stderr)
    assert_refusal(result.stdout, result.stderr, case)
    assert snapshot() == before
    assert not list(world.root.parent.glob(f"{world.root.name}-pickle-ran"))


@pytest.mark.parametrize(
    "case", [pytest.param(c, marks=pytest.mark.slow) if c in LATE else c for c in CASES]
)  # the CLI runs the late cases by default; once is enough for the default suite
def test_api_refuses(world: World, case: str) -> None:
    answers, snapshot = prepared(world, case)
    before = snapshot()

    with pytest.raises(HayakoeError) as err:
        publish(**answers)

    assert_one_line(str(err.value), CASES[case][1])
    assert snapshot() == before


@pytest.mark.parametrize("case", SUBPROCESS)
def test_a_real_process_prints_one_line(world: World, case: str) -> None:
    answers, snapshot = prepared(world, case)
    before = snapshot()

    run = subprocess.run(
        [sys.executable, "-m", "hayakoe", *cli_args(answers)], capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=120, cwd=world.root,
    )  # fmt: skip

    assert run.returncode == 1, run.stderr
    assert_refusal(run.stdout, run.stderr, case)
    assert snapshot() == before
