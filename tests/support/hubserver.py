"""A Hugging Face Hub-compatible HTTP server for tests, standard library only.

The real ``huggingface_hub`` client (2.4.0, ``HF_HUB_DISABLE_XET=1``) talks to it over
``http://127.0.0.1:PORT``: whoami, repo create/delete/settings/info, tree listing (paginated),
paths-info, refs, commits, branches, validate-yaml, preupload, LFS batch + signed PUT + verify,
ndjson commits (copies too: ``lfsFile`` of an object the repo holds) and ``resolve`` downloads
(HEAD/GET, ranges). Xet routes answer 501 with a hint. As on the Hub, a commit whose
``parentCommit`` is not the branch head gets 412, and a commit to a repo while another commit to
it is running gets 409 ("Another commit operation is in progress…").

State lives on disk under ``root`` and survives restarts::

    blobs/<sha256>                          file contents, shared by every repo
    repos/<type>s/<ns>/<name>/repo.json     {"private", "branches": {name: sha}, "lfs": [sha256…]}
    commits/<sha>.json                      {"id", "repo", "parents", "title", "message", "date",
                                             "author", "files": {path: entry}}

Auth: ``tokens`` maps a bearer token to ``(user, role)`` with role ``"read"`` or ``"write"``;
``orgs`` maps an organisation to its members. Users write only to their own or their orgs'
namespaces. Error answers carry ``X-Error-Code`` / ``X-Error-Message`` as the Hub does.

In-process::

    with HubServer(tmp_path, tokens={"tok": ("alice", "write")}) as hub:
        hub.url, hub.requests, hub.set_faults([FaultRule("resolve", "500")])

As a command: ``python -m tests.support.hubserver --port 0 --root DIR --token tok=alice:write``
prints the base URL and serves until interrupted.
"""

from __future__ import annotations

import argparse
import base64
import codecs
import contextlib
import fnmatch
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode

DEFAULT_LFS_THRESHOLD = 10 * 1024 * 1024
DEFAULT_PAGE_SIZE = 1000
INVALID_CREDENTIALS = "Invalid credentials in Authorization header"
# What the Hub answers to a commit whose parentCommit is not the head (412), and to a commit
# while another commit to the same repo is running (409).
PARENT_MOVED = "A commit has happened since. Please refresh and try again."
COMMIT_IN_PROGRESS = "Another commit operation is in progress for this repository. Please try again later."
GITATTRIBUTES = "".join(
    f"{pattern} filter=lfs diff=lfs merge=lfs -text\n"
    for pattern in (
        "*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.ftz", "*.gz", "*.h5", "*.joblib",
        "*.lfs.*", "*.mlmodel", "*.model", "*.msgpack", "*.npy", "*.npz", "*.onnx", "*.ot",
        "*.parquet", "*.pb", "*.pickle", "*.pkl", "*.pt", "*.pth", "*.rar", "*.safetensors",
        "saved_model/**/*", "*.tar.*", "*.tar", "*.tflite", "*.tgz", "*.wasm", "*.xz", "*.zip",
        "*.zst", "*tfevents*",
    )
)  # fmt: skip
_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
_DOWNLOAD_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
_SHA_RE = re.compile(r"^[0-9a-f]{40}$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][\w.-]*$")
_CHUNK = 1 << 20


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def git_blob_oid(data: bytes) -> str:
    """The git object id of a blob holding ``data``: ``sha1(b"blob <len>\\0" + data)``."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    tmp.write_text(json.dumps(obj, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def _clean_repo_path(path: str) -> str:
    """A repo file path as commits accept it; :class:`HubError` 400 for unsafe ones."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not parts or ".." in parts or ".git" in parts or "\\" in path:
        raise HubError(400, "BadRequest", f"Invalid path in repository: {path!r}")
    return "/".join(parts)


class HubError(Exception):
    """An error answer: status, ``X-Error-Code`` (may be empty) and message."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = dict(headers or {})


@dataclass
class FaultRule:
    """Misbehave on the ``nth`` … ``nth + count - 1`` requests matching ``op`` (and ``method``).

    ``op`` is a route name (``resolve``, ``commit``, ``tree``, … see ``_ROUTES``) or ``"*"``;
    ``action`` is an HTTP status (``"500"``), ``"drop"`` (close without answering),
    ``"sleep:S"`` (wait S seconds, then answer normally), ``"busy"`` (the Hub's 409 for a commit
    while another one runs) or ``"hold:S"`` (commits: process it normally but stay "in progress"
    S seconds first, so that concurrent commits to the repo get that 409 for real).
    """

    op: str
    action: str
    nth: int = 1
    count: int = 1
    method: str | None = None
    seen: int = 0

    def matches(self, op: str, method: str) -> bool:
        """Count this request if it matches; True when the rule fires on it."""
        if self.op not in ("*", op) or (self.method and self.method != method):
            return False
        self.seen += 1
        return self.nth <= self.seen < self.nth + self.count


# --- storage ------------------------------------------------------------------------------------


class HubStore:
    """Repos, commits and blobs on disk; every write happens under ``lock``."""

    def __init__(self, root: Path, lfs_threshold: int) -> None:
        self.root = Path(root)
        self.lfs_threshold = lfs_threshold
        self.lock = threading.RLock()
        (self.root / "blobs").mkdir(parents=True, exist_ok=True)
        (self.root / "commits").mkdir(parents=True, exist_ok=True)

    def _repo_file(self, rtype: str, repo_id: str) -> Path:
        return self.root / "repos" / f"{rtype}s" / repo_id / "repo.json"

    def repo(self, rtype: str, repo_id: str) -> dict[str, Any] | None:
        path = self._repo_file(rtype, repo_id)
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    def save_repo(self, rtype: str, repo_id: str, meta: dict[str, Any]) -> None:
        _write_json(self._repo_file(rtype, repo_id), meta)

    def delete_repo(self, rtype: str, repo_id: str) -> None:
        shutil.rmtree(self._repo_file(rtype, repo_id).parent)

    def commit(self, sha: str) -> dict[str, Any]:
        return json.loads((self.root / "commits" / f"{sha}.json").read_text(encoding="utf-8"))

    def blob(self, sha256: str) -> Path:
        return self.root / "blobs" / sha256

    def put_blob(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        path = self.blob(sha256)
        if not path.exists():
            tmp = path.with_name(f".{sha256}.{secrets.token_hex(4)}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        return sha256

    def file_entry(self, data: bytes, lfs: bool) -> dict[str, Any]:
        """The commit-file entry for ``data``, storing its blob."""
        sha256 = self.put_blob(data)
        if not lfs:
            return {"sha256": sha256, "size": len(data), "oid": git_blob_oid(data)}
        return self.lfs_entry(sha256, len(data))

    @staticmethod
    def lfs_entry(sha256: str, size: int) -> dict[str, Any]:
        pointer = _lfs_pointer(sha256, size)
        return {
            "sha256": sha256,
            "size": size,
            "oid": git_blob_oid(pointer),
            "lfs": {"oid": sha256, "size": size, "pointerSize": len(pointer)},
        }

    def new_commit(
        self,
        repo_id: str,
        parent: str | None,
        files: dict[str, Any],
        title: str,
        message: str,
        author: str,
    ) -> str:
        """Write a commit object and return its sha (branch heads are moved by the caller)."""
        body = {
            "repo": repo_id,
            "parents": [parent] if parent else [],
            "title": title,
            "message": message,
            "date": _now(),
            "author": author,
            "files": files,
        }
        sha = hashlib.sha1(json.dumps(body, sort_keys=True).encode() + secrets.token_bytes(8)).hexdigest()
        _write_json(self.root / "commits" / f"{sha}.json", {"id": sha, **body})
        return sha

    def resolve(self, repo_id: str, meta: dict[str, Any], rev: str) -> str:
        """The commit sha ``rev`` (branch or sha of this repo) names; 404 RevisionNotFound."""
        if rev in meta["branches"]:
            return meta["branches"][rev]
        known = _SHA_RE.match(rev) and (self.root / "commits" / f"{rev}.json").is_file()
        if known and self.commit(rev)["repo"] == repo_id:
            return rev
        raise HubError(404, "RevisionNotFound", f"Invalid rev id: {rev}")


def _file_item(path: str, entry: Mapping[str, Any]) -> dict[str, Any]:
    """The tree-API entry of one file."""
    item = {"type": "file", "oid": entry["oid"], "size": entry["size"], "path": path}
    if "lfs" in entry:
        item["lfs"] = entry["lfs"]
    return item


def _tree_entries(files: Mapping[str, Any], under: str, recursive: bool) -> list[dict[str, Any]]:
    """Tree-API entries (files and folders) below ``under`` ("" = root)."""
    prefix = f"{under}/" if under else ""
    below = {p: e for p, e in files.items() if p.startswith(prefix)}
    folders: dict[str, list[str]] = {}
    entries: list[dict[str, Any]] = []
    for path, entry in sorted(below.items()):
        rest = path[len(prefix) :].split("/")
        for depth in range(1, len(rest)):
            folders.setdefault(prefix + "/".join(rest[:depth]), []).append(entry["oid"])
        if recursive or len(rest) == 1:
            entries.append(_file_item(path, entry))
    for folder, oids in sorted(folders.items()):
        if recursive or "/" not in folder[len(prefix) :]:
            oid = hashlib.sha1(("tree " + " ".join(oids)).encode()).hexdigest()
            entries.append({"type": "directory", "oid": oid, "size": 0, "path": folder})
    return entries


def _patterns_match(patterns: Iterable[str], path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(path if "/" in pat else name, pat.lstrip("/")) for pat in patterns)


def _lfs_patterns(gitattributes: str) -> list[str]:
    return [
        line.split()[0]
        for line in gitattributes.splitlines()
        if line.strip() and not line.startswith("#") and "filter=lfs" in line.split()[1:]
    ]


def _is_binary(sample: bytes, size: int) -> bool:
    if b"\0" in sample:
        return True
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=len(sample) >= size)
    except UnicodeDecodeError:
        return True
    return False


# --- HTTP ---------------------------------------------------------------------------------------

_T = r"(?P<t>models|datasets|spaces)"
_R = r"(?P<ns>[^/]+)/(?P<name>[^/]+)"
_P = r"(?:(?P<p>datasets|spaces)/)?"
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (m, re.compile(f"^{rx}$"), op)
    for m, rx, op in [
        ("GET", r"/api/whoami-v2", "whoami"),
        ("POST", r"/api/repos/create", "create_repo"),
        ("DELETE", r"/api/repos/delete", "delete_repo"),
        ("POST", r"/api/validate-yaml", "validate_yaml"),
        ("GET", r"/api/agent-harnesses", "agent_harnesses"),
        ("GET", rf"/api/{_T}/{_R}/xet-(?:read|write)-token/.*", "xet_token"),
        ("PUT", rf"/api/{_T}/{_R}/settings", "settings"),
        ("GET", rf"/api/{_T}/{_R}(?:/revision/(?P<rev>[^/]+))?", "info"),
        ("GET", rf"/api/{_T}/{_R}/tree/(?P<rev>[^/]+)(?:/(?P<path>.+))?", "tree"),
        ("POST", rf"/api/{_T}/{_R}/paths-info/(?P<rev>[^/]+)", "paths_info"),
        ("GET", rf"/api/{_T}/{_R}/refs", "refs"),
        ("GET", rf"/api/{_T}/{_R}/commits/(?P<rev>[^/]+)", "commits"),
        ("POST", rf"/api/{_T}/{_R}/branch/(?P<branch>[^/]+)", "create_branch"),
        ("DELETE", rf"/api/{_T}/{_R}/branch/(?P<branch>[^/]+)", "delete_branch"),
        ("POST", rf"/api/{_T}/{_R}/preupload/(?P<rev>[^/]+)", "preupload"),
        ("POST", rf"/api/{_T}/{_R}/commit/(?P<rev>[^/]+)", "commit"),
        ("POST", rf"/{_P}(?P<ns>[^/]+)/(?P<name>[^/]+)\.git/info/lfs/objects/batch", "lfs_batch"),
        ("PUT", rf"/_lfs/{_T}/{_R}/(?P<oid>[0-9a-f]{{64}})", "lfs_upload"),
        ("POST", rf"/_lfs/{_T}/{_R}/(?P<oid>[0-9a-f]{{64}})/verify", "lfs_verify"),
        ("HEAD", rf"/{_P}{_R}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve"),
        ("GET", rf"/{_P}{_R}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve"),
        ("GET", r"/_admin/log", "admin"),
        ("POST", r"/_admin/faults", "admin"),
    ]
]


@dataclass
class _Call:
    """One parsed request as handlers see it."""

    method: str
    params: dict[str, str]
    query: dict[str, list[str]]
    body: bytes
    user: str | None
    role: str | None
    headers: Any
    hold: float = 0.0

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"{}")
        except ValueError as exc:
            raise HubError(400, "BadRequest", f"invalid JSON body: {exc}") from exc

    @property
    def rtype(self) -> str:
        if "t" in self.params:
            return _TYPES[self.params["t"]]
        return {"datasets": "dataset", "spaces": "space"}.get(self.params.get("p") or "", "model")

    @property
    def repo_id(self) -> str:
        return f"{self.params['ns']}/{self.params['name']}"


@dataclass
class _Reply:
    status: int = 200
    body: Any = None  # JSON-able object, bytes, or a (path, start, end) file slice
    headers: dict[str, str] | None = None


class HubServer:
    """The test Hub: a threaded HTTP server over a :class:`HubStore`.

    ``tokens``: bearer token → ``(user, role)``; ``orgs``: org → members; ``lfs_threshold``:
    files at least this big must go through LFS; ``page_size``: entries per tree/commits page;
    ``faults``: initial :class:`FaultRule` list.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        tokens: Mapping[str, tuple[str, str]] | None = None,
        *,
        orgs: Mapping[str, Iterable[str]] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        lfs_threshold: int = DEFAULT_LFS_THRESHOLD,
        page_size: int = DEFAULT_PAGE_SIZE,
        faults: Iterable[FaultRule] = (),
    ) -> None:
        self.store = HubStore(Path(root), lfs_threshold)
        self.tokens = dict(tokens or {})
        self.orgs = {org: set(members) for org, members in (orgs or {}).items()}
        self.page_size = page_size
        self._faults = list(faults)
        self._log: list[tuple[str, str]] = []
        self._log_lock = threading.Lock()
        self._committing: set[tuple[str, str]] = set()  # repos with a commit running
        self._committing_lock = threading.Lock()
        secret_file = self.store.root / "secret"
        if not secret_file.exists():
            secret_file.write_bytes(secrets.token_bytes(32))
        self._secret = secret_file.read_bytes()
        self._httpd = ThreadingHTTPServer((host, port), _handler_class(self))
        self._httpd.daemon_threads = True
        self.url = f"http://{host}:{self._httpd.server_address[1]}"
        self._thread: threading.Thread | None = None

    # --- lifecycle, log, faults -------------------------------------------------------------

    def start(self) -> HubServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (if started) and close the listening socket."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def requests(self) -> list[tuple[str, str]]:
        """``(method, path)`` of every request so far (path without query, as sent)."""
        with self._log_lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self._log_lock:
            self._log.clear()

    def set_faults(self, rules: Iterable[FaultRule]) -> None:
        """Replace the fault rules (their counters start from zero)."""
        with self._log_lock:
            self._faults = list(rules)

    def _record(self, method: str, path: str, op: str) -> str | None:
        """Log the request; the action of the first fault rule that fires on it, if any."""
        with self._log_lock:
            self._log.append((method, path))
            return next((r.action for r in self._faults if r.matches(op, method)), None)

    # --- in-process helpers for tests -------------------------------------------------------

    def add_commit(
        self,
        repo_id: str,
        files: Mapping[str, bytes],
        *,
        branch: str = "main",
        rtype: str = "model",
        title: str = "seed",
    ) -> str:
        """Commit ``files`` (path → bytes) on ``branch`` of an existing repo, paths unchecked.

        For tests that need content the client refuses to send (e.g. ``..`` in a path).
        """
        with self.store.lock:
            meta = self._existing(rtype, repo_id)
            head = meta["branches"][branch]
            tree = dict(self.store.commit(head)["files"])
            for path, data in files.items():
                tree[path] = self.store.file_entry(data, lfs=len(data) >= self.store.lfs_threshold)
                if "lfs" in tree[path]:
                    meta["lfs"] = sorted({*meta["lfs"], tree[path]["sha256"]})
            meta["branches"][branch] = self.store.new_commit(repo_id, head, tree, title, "", "")
            self.store.save_repo(rtype, repo_id, meta)
            return meta["branches"][branch]

    # --- auth -------------------------------------------------------------------------------

    def _identify(self, authorization: str | None) -> tuple[str | None, str | None]:
        if not authorization:
            return None, None
        token = authorization.split(" ", 1)[-1].strip()
        if token not in self.tokens:
            raise HubError(401, "", INVALID_CREDENTIALS)
        return self.tokens[token]

    def _can_write_ns(self, user: str, ns: str) -> bool:
        return ns == user or user in self.orgs.get(ns, ())

    def _existing(self, rtype: str, repo_id: str) -> dict[str, Any]:
        meta = self.store.repo(rtype, repo_id)
        if meta is None:
            raise HubError(404, "RepoNotFound", f"Repository not found: {repo_id}")
        return meta

    def _readable(self, call: _Call) -> dict[str, Any]:
        """The repo's metadata if the caller may read it; RepoNotFound (401/404) otherwise."""
        meta = self.store.repo(call.rtype, call.repo_id)
        visible = meta is not None and (
            not meta["private"]
            or (call.user is not None and self._can_write_ns(call.user, call.params["ns"]))
        )
        if not visible:
            status = 401 if call.user is None else 404
            raise HubError(status, "RepoNotFound", f"Repository not found: {call.repo_id}")
        return meta  # type: ignore[return-value]

    def _writable(self, call: _Call) -> dict[str, Any]:
        if call.user is None:
            raise HubError(401, "RepoNotFound", f"Repository not found: {call.repo_id}")
        meta = self._readable(call)
        self._check_write(call, call.params["ns"])
        return meta

    def _check_write(self, call: _Call, ns: str) -> None:
        if call.role != "write" or not self._can_write_ns(call.user or "", ns):
            raise HubError(403, "", f"You don't have the rights to write to {ns} (token role: {call.role})")

    # --- handlers ---------------------------------------------------------------------------

    def h_whoami(self, call: _Call) -> _Reply:
        if call.user is None:
            raise HubError(401, "", "Invalid user token.")
        orgs = [{"name": o} for o, members in sorted(self.orgs.items()) if call.user in members]
        return _Reply(
            body={
                "type": "user",
                "name": call.user,
                "fullname": call.user,
                "email": f"{call.user}@example.invalid",
                "orgs": orgs,
                "auth": {
                    "type": "access_token",
                    "accessToken": {"displayName": "test", "role": call.role},
                },
            }
        )

    def h_agent_harnesses(self, call: _Call) -> _Reply:
        return _Reply(body={"standardEnvVars": [], "harnesses": {}})

    def h_xet_token(self, call: _Call) -> _Reply:
        raise HubError(501, "", "this test server has no Xet storage: set HF_HUB_DISABLE_XET=1")

    def h_validate_yaml(self, call: _Call) -> _Reply:
        content = call.json().get("content", "")
        if content.startswith("---") and content.count("\n---") < 1:
            error = {"message": "README.md metadata block (--- … ---) is not closed"}
            return _Reply(400, {"errors": [error], "warnings": []})
        return _Reply(body={"errors": [], "warnings": []})

    def _repo_url(self, rtype: str, repo_id: str) -> str:
        return f"{self.url}/{_DOWNLOAD_PREFIX[rtype]}{repo_id}"

    def h_create_repo(self, call: _Call) -> _Reply:
        body = call.json()
        if call.user is None:
            raise HubError(401, "", "You must be authenticated to create a repository")
        ns, name = body.get("organization") or call.user, str(body.get("name", ""))
        rtype = body.get("type") or "model"
        if rtype not in _DOWNLOAD_PREFIX or not _NAME_RE.match(name) or "--" in name:
            raise HubError(400, "BadRequest", f"invalid repository name or type: {name!r}")
        self._check_write(call, ns)
        repo_id = f"{ns}/{name}"
        private = body.get("visibility") == "private" or body.get("private") is True
        with self.store.lock:
            if self.store.repo(rtype, repo_id) is not None:
                message = f"You already created this {rtype} repo"
                return _Reply(
                    409,
                    {"error": message, "url": self._repo_url(rtype, repo_id)},
                    {"X-Error-Message": message},
                )
            files = {".gitattributes": self.store.file_entry(GITATTRIBUTES.encode(), lfs=False)}
            head = self.store.new_commit(repo_id, None, files, "initial commit", "", call.user)
            meta = {"private": private, "branches": {"main": head}, "lfs": [], "createdAt": _now()}
            self.store.save_repo(rtype, repo_id, meta)
        return _Reply(body={"url": self._repo_url(rtype, repo_id), "name": repo_id})

    def h_delete_repo(self, call: _Call) -> _Reply:
        body = call.json()
        if call.user is None:
            raise HubError(401, "RepoNotFound", "Repository not found")
        ns = body.get("organization") or call.user
        call.params.update(ns=ns, name=str(body.get("name", "")), t=f"{body.get('type') or 'model'}s")
        with self.store.lock:
            self._writable(call)
            self.store.delete_repo(call.rtype, call.repo_id)
        return _Reply(body={})

    def h_settings(self, call: _Call) -> _Reply:
        body = call.json()
        with self.store.lock:
            meta = self._writable(call)
            if "visibility" in body:
                meta["private"] = body["visibility"] == "private"
            elif "private" in body:
                meta["private"] = bool(body["private"])
            self.store.save_repo(call.rtype, call.repo_id, meta)
        return _Reply(body={})

    def h_info(self, call: _Call) -> _Reply:
        meta = self._readable(call)
        sha = self.store.resolve(call.repo_id, meta, call.params.get("rev") or "main")
        commit = self.store.commit(sha)
        blobs = call.query.get("blobs") == ["true"]
        siblings = []
        for path, entry in sorted(commit["files"].items()):
            sibling: dict[str, Any] = {"rfilename": path}
            if blobs:
                sibling.update(size=entry["size"], blobId=entry["oid"])
                if "lfs" in entry:
                    lfs = entry["lfs"]
                    sibling["lfs"] = {
                        "size": lfs["size"],
                        "sha256": lfs["oid"],
                        "pointerSize": lfs["pointerSize"],
                    }
            siblings.append(sibling)
        return _Reply(
            body={
                "id": call.repo_id,
                "author": call.params["ns"],
                "sha": sha,
                "private": meta["private"],
                "gated": False,
                "disabled": False,
                "createdAt": meta["createdAt"],
                "lastModified": commit["date"],
                "downloads": 0,
                "likes": 0,
                "tags": [],
                "siblings": siblings,
            }
        )

    def _page(self, call: _Call, items: list[Any], path: str) -> _Reply:
        """One page of ``items``, with a ``Link: <…>; rel="next"`` header when more follow."""
        start = int(call.query.get("cursor", ["0"])[0])
        end = start + self.page_size
        headers = {}
        if end < len(items):
            query = {k: v for k, v in call.query.items() if k != "cursor"}
            query["cursor"] = [str(end)]
            headers["Link"] = f'<{self.url}{path}?{urlencode(query, doseq=True)}>; rel="next"'
        return _Reply(body=items[start:end], headers=headers)

    def h_tree(self, call: _Call, raw_path: str) -> _Reply:
        meta = self._readable(call)
        commit = self.store.commit(self.store.resolve(call.repo_id, meta, call.params["rev"]))
        under = (call.params.get("path") or "").strip("/")
        recursive = call.query.get("recursive") == ["true"]
        if under in commit["files"]:
            entries = [_file_item(under, commit["files"][under])]
        else:
            entries = _tree_entries(commit["files"], under, recursive)
            if under and not entries:
                raise HubError(
                    404,
                    "EntryNotFound",
                    f"{under} does not exist on {call.params['rev']}",
                    {"X-Repo-Commit": commit["id"]},
                )
        return self._page(call, entries, raw_path)

    def h_paths_info(self, call: _Call) -> _Reply:
        meta = self._readable(call)
        commit = self.store.commit(self.store.resolve(call.repo_id, meta, call.params["rev"]))
        form = parse_qs(call.body.decode(), keep_blank_values=True)
        found = []
        for path in form.get("paths", []):
            path = path.strip("/")
            if path in commit["files"]:
                found.append(_file_item(path, commit["files"][path]))
            else:
                parent = path.rsplit("/", 1)[0] if "/" in path else ""
                found += [
                    e
                    for e in _tree_entries(commit["files"], parent, False)
                    if e["path"] == path and e["type"] == "directory"
                ]
        return _Reply(body=found)

    def h_refs(self, call: _Call) -> _Reply:
        meta = self._readable(call)
        branches = [
            {"name": name, "ref": f"refs/heads/{name}", "targetCommit": sha}
            for name, sha in sorted(meta["branches"].items())
        ]
        body: dict[str, Any] = {"branches": branches, "converts": [], "tags": []}
        if call.query.get("include_prs"):
            body["pullRequests"] = []
        return _Reply(body=body)

    def h_commits(self, call: _Call, raw_path: str) -> _Reply:
        meta = self._readable(call)
        sha: str | None = self.store.resolve(call.repo_id, meta, call.params["rev"])
        items = []
        while sha:
            commit = self.store.commit(sha)
            items.append(
                {
                    "id": sha,
                    "title": commit["title"],
                    "message": commit["message"],
                    "date": commit["date"],
                    "authors": [{"user": commit["author"]}],
                }
            )
            sha = commit["parents"][0] if commit["parents"] else None
        return self._page(call, items, raw_path)

    def h_create_branch(self, call: _Call) -> _Reply:
        start = call.json().get("startingPoint") or "main"
        branch = call.params["branch"]
        with self.store.lock:
            meta = self._writable(call)
            if branch in meta["branches"]:
                raise HubError(409, "", f"Reference already exists: refs/heads/{branch}")
            meta["branches"][branch] = self.store.resolve(call.repo_id, meta, start)
            self.store.save_repo(call.rtype, call.repo_id, meta)
        return _Reply(body={})

    def h_delete_branch(self, call: _Call) -> _Reply:
        branch = call.params["branch"]
        with self.store.lock:
            meta = self._writable(call)
            if branch == "main":
                raise HubError(403, "", "Cannot delete the default branch")
            if branch not in meta["branches"]:
                raise HubError(404, "RevisionNotFound", f"Invalid rev id: {branch}")
            del meta["branches"][branch]
            self.store.save_repo(call.rtype, call.repo_id, meta)
        return _Reply(body={})

    def h_preupload(self, call: _Call) -> _Reply:
        meta = self._writable(call)
        if call.query.get("create_pr"):
            raise HubError(400, "BadRequest", "this test server does not support pull requests")
        files = self.store.commit(self.store.resolve(call.repo_id, meta, call.params["rev"]))["files"]
        body = call.json()
        attributes = files.get(".gitattributes")
        lfs_patterns = _lfs_patterns(self.store.blob(attributes["sha256"]).read_text() if attributes else "")
        ignore_text = body.get("gitIgnore")
        if ignore_text is None and ".gitignore" in files:
            ignore_text = self.store.blob(files[".gitignore"]["sha256"]).read_text()
        ignored = [
            line.strip()
            for line in (ignore_text or "").splitlines()
            if line.strip() and not line.startswith("#")
        ]
        answers = []
        for item in body.get("files", []):
            path, size = item["path"], int(item["size"])
            sample = base64.b64decode(item.get("sample", ""))
            lfs = (
                size >= self.store.lfs_threshold
                or _is_binary(sample, size)
                or _patterns_match(lfs_patterns, path)
            )
            remote = files.get(path)
            oid = None if remote is None else (remote["sha256"] if lfs else remote["oid"])
            answers.append(
                {
                    "path": path,
                    "uploadMode": "lfs" if lfs else "regular",
                    "shouldIgnore": _patterns_match(ignored, path),
                    "oid": oid,
                }
            )
        return _Reply(body={"files": answers})

    def _lfs_sig(self, rtype: str, repo_id: str, oid: str, size: int) -> str:
        message = f"{rtype}/{repo_id}/{oid}/{size}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def h_lfs_batch(self, call: _Call) -> _Reply:
        body = call.json()
        meta = self._writable(call)
        if body.get("operation") != "upload":
            raise HubError(400, "BadRequest", "only the LFS upload operation is supported")
        objects = []
        for obj in body.get("objects", []):
            oid, size = str(obj["oid"]), int(obj["size"])
            item: dict[str, Any] = {"oid": oid, "size": size}
            if oid not in meta["lfs"] or not self.store.blob(oid).exists():
                sig = self._lfs_sig(call.rtype, call.repo_id, oid, size)
                # the address the client used (a fault proxy's), so uploads meet its faults too
                host = call.headers.get("Host")
                origin = f"http://{host}" if host else self.url
                base = f"{origin}/_lfs/{call.rtype}s/{call.repo_id}/{oid}"
                item["actions"] = {
                    "upload": {"href": f"{base}?{urlencode({'size': size, 'sig': sig})}"},
                    "verify": {"href": f"{base}/verify?{urlencode({'size': size, 'sig': sig})}"},
                }
            objects.append(item)
        return _Reply(body={"transfer": "basic", "objects": objects})

    def _check_sig(self, call: _Call) -> int:
        size = int(call.query.get("size", ["-1"])[0])
        expected = self._lfs_sig(call.rtype, call.repo_id, call.params["oid"], size)
        if not hmac.compare_digest(expected, call.query.get("sig", [""])[0]):
            raise HubError(403, "", "invalid or missing LFS signature")
        return size

    def h_lfs_upload(self, call: _Call) -> _Reply:
        size, oid = self._check_sig(call), call.params["oid"]
        if len(call.body) != size or hashlib.sha256(call.body).hexdigest() != oid:
            raise HubError(400, "BadRequest", "uploaded content does not match its oid and size")
        with self.store.lock:
            self.store.put_blob(call.body)
            meta = self._existing(call.rtype, call.repo_id)
            meta["lfs"] = sorted({*meta["lfs"], oid})
            self.store.save_repo(call.rtype, call.repo_id, meta)
        return _Reply(body={})

    def h_lfs_verify(self, call: _Call) -> _Reply:
        self._check_sig(call)
        meta = self._writable(call)
        if call.params["oid"] not in meta["lfs"]:
            raise HubError(404, "", f"LFS object {call.params['oid']} was not uploaded")
        return _Reply(body={"success": True})

    def h_commit(self, call: _Call) -> _Reply:
        if call.query.get("create_pr"):
            raise HubError(400, "BadRequest", "this test server does not support pull requests")
        lines = [json.loads(line) for line in call.body.decode().splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise HubError(400, "BadRequest", "commit payload must start with a header line")
        header, branch = lines[0]["value"], call.params["rev"]
        with self._commit_running(call), self.store.lock:
            meta = self._writable(call)
            if branch not in meta["branches"]:
                raise HubError(404, "RevisionNotFound", f"Invalid rev id: {branch}")
            head = meta["branches"][branch]
            parent = header.get("parentCommit")
            if parent and parent != head:
                raise HubError(412, "", PARENT_MOVED)
            files = dict(self.store.commit(head)["files"])
            for line in lines[1:]:
                self._apply(meta, files, line["key"], line["value"])
            sha = self.store.new_commit(
                call.repo_id,
                head,
                files,
                header.get("summary") or "commit",
                header.get("description") or "",
                call.user or "",
            )
            meta["branches"][branch] = sha
            self.store.save_repo(call.rtype, call.repo_id, meta)
        commit_url = f"{self._repo_url(call.rtype, call.repo_id)}/commit/{sha}"
        return _Reply(body={"commitOid": sha, "commitUrl": commit_url, "pullRequestUrl": None})

    @contextlib.contextmanager
    def _commit_running(self, call: _Call) -> Iterator[None]:
        """Mark a commit to the repo as running for the block (after ``call.hold`` seconds in
        that state); 409 if one is running already, as the Hub does."""
        key = (call.rtype, call.repo_id)
        with self._committing_lock:
            if key in self._committing:
                raise HubError(409, "", COMMIT_IN_PROGRESS)
            self._committing.add(key)
        try:
            time.sleep(call.hold)
            yield
        finally:
            with self._committing_lock:
                self._committing.discard(key)

    def _apply(self, meta: dict[str, Any], files: dict[str, Any], key: str, op: dict) -> None:
        """Apply one commit operation to ``files`` (in memory; nothing is saved on error)."""
        path = _clean_repo_path(op["path"])
        if key == "file":
            data = base64.b64decode(op["content"])
            if len(data) >= self.store.lfs_threshold:
                raise HubError(400, "BadRequest", f"{path} is too large for a regular file")
            files[path] = self.store.file_entry(data, lfs=False)
        elif key == "lfsFile":
            oid = op["oid"]
            if oid not in meta["lfs"]:
                raise HubError(422, "", f"LFS object {oid} for {path} was never uploaded")
            files[path] = self.store.lfs_entry(oid, self.store.blob(oid).stat().st_size)
        elif key == "deletedFile":
            if files.pop(path, None) is None:
                raise HubError(404, "EntryNotFound", f"A file with this name doesn't exist: {path}")
        elif key == "deletedFolder":
            doomed = [p for p in files if p.startswith(path + "/")]
            if not doomed:
                raise HubError(404, "EntryNotFound", f"A folder with this name doesn't exist: {path}")
            for p in doomed:
                del files[p]
        else:
            raise HubError(400, "BadRequest", f"unknown commit operation {key!r}")

    def h_resolve(self, call: _Call) -> _Reply:
        meta = self._readable(call)
        sha = self.store.resolve(call.repo_id, meta, call.params["rev"])
        entry = self.store.commit(sha)["files"].get(call.params["path"])
        if entry is None:
            raise HubError(404, "EntryNotFound", f"{call.params['path']} not found", {"X-Repo-Commit": sha})
        size = entry["size"]
        headers = {"X-Repo-Commit": sha, "Accept-Ranges": "bytes"}
        if "lfs" in entry:
            headers.update(
                {
                    "ETag": f'"{entry["sha256"]}"',
                    "X-Linked-Etag": f'"{entry["sha256"]}"',
                    "X-Linked-Size": str(size),
                }
            )
        else:
            headers["ETag"] = f'"{entry["oid"]}"'
        start, end, status = 0, size, 200
        ranged = re.fullmatch(r"bytes=(\d*)-(\d*)", call.headers.get("Range") or "")
        if ranged and call.method == "GET":
            first, last = ranged.groups()
            start = int(first) if first else max(0, size - int(last or 0))
            end = min(size, int(last) + 1) if first and last else size
            if start >= size and size > 0:
                headers["Content-Range"] = f"bytes */{size}"
                raise HubError(416, "", "Requested range not satisfiable", headers)
            status = 206
            headers["Content-Range"] = f"bytes {start}-{max(start, end - 1)}/{size}"
        return _Reply(status, (self.store.blob(entry["sha256"]), start, end), headers)

    def h_admin(self, call: _Call) -> _Reply:
        if call.method == "GET":
            return _Reply(body=[list(item) for item in self.requests])
        self.set_faults(FaultRule(**rule) for rule in call.json())
        return _Reply(body={})


def _handler_class(hub: HubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in separate writes

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._dispatch()

        do_HEAD = do_POST = do_PUT = do_DELETE = do_GET

        def _read_body(self) -> bytes:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                chunks = []
                while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _dispatch(self) -> None:
            raw_path, _, query = self.path.partition("?")
            body = self._read_body()
            route = next(
                ((op, m) for meth, rx, op in _ROUTES if meth == self.command
                 for m in [rx.match(raw_path)] if m),
                None,
            )  # fmt: skip
            op = route[0] if route else "unknown"
            action = hub._record(self.command, raw_path, op)
            if action == "drop":
                self.close_connection = True
                return
            if action and action.startswith("sleep:"):
                time.sleep(float(action.split(":", 1)[1]))
            try:
                if action and action.isdigit():
                    raise HubError(int(action), "", f"injected fault on {op}")
                if action == "busy":
                    raise HubError(409, "", COMMIT_IN_PROGRESS)
                if route is None:
                    raise HubError(404, "", f"no route for {self.command} {raw_path}")
                hold = float(action.split(":", 1)[1]) if action and action.startswith("hold:") else 0.0
                reply = self._call(op, route[1], query, body, raw_path, hold)
            except HubError as err:
                reply = _Reply(
                    err.status,
                    {"error": err.message},
                    {"X-Error-Message": err.message, **err.headers}
                    | ({"X-Error-Code": err.code} if err.code else {}),
                )
            self._send(reply)

        def _call(
            self, op: str, match: re.Match[str], query: str, body: bytes, raw_path: str, hold: float
        ) -> _Reply:
            user, role = hub._identify(self.headers.get("Authorization"))
            params = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
            call = _Call(self.command, params, parse_qs(query), body, user, role, self.headers, hold)
            handler = getattr(hub, f"h_{op}")
            return handler(call, raw_path) if op in ("tree", "commits") else handler(call)

        def _send(self, reply: _Reply) -> None:
            headers = {"X-Request-Id": secrets.token_hex(8), **(reply.headers or {})}
            body = reply.body
            if isinstance(body, tuple):
                path, start, end = body
                length = end - start
            else:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                headers.setdefault("Content-Type", "application/json")
                length = len(data)
            self.send_response(reply.status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(length))
            self.end_headers()
            if self.command == "HEAD":
                return
            if isinstance(body, tuple):
                with open(path, "rb") as f:
                    f.seek(start)
                    for chunk in iter(lambda: f.read(min(_CHUNK, end - f.tell())), b""):
                        self.wfile.write(chunk)
            else:
                self.wfile.write(data)

    return Handler


def _parse_token(text: str) -> tuple[str, tuple[str, str]]:
    token, _, rest = text.partition("=")
    user, _, role = rest.partition(":")
    if not token or not user:
        raise argparse.ArgumentTypeError(f"expected TOKEN=USER[:ROLE], got {text!r}")
    return token, (user, role or "write")


def main(argv: list[str] | None = None) -> None:
    """Run the server until interrupted; prints its base URL on the first line of stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, type=Path, help="state directory")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--token", action="append", type=_parse_token, default=[],
                        help="TOKEN=USER[:read|write], repeatable")  # fmt: skip
    parser.add_argument("--lfs-threshold", type=int, default=DEFAULT_LFS_THRESHOLD)
    parser.add_argument("--faults", default="[]", help="JSON list of fault rules")
    args = parser.parse_args(argv)
    hub = HubServer(
        args.root,
        dict(args.token),
        host=args.host,
        port=args.port,
        lfs_threshold=args.lfs_threshold,
        faults=[FaultRule(**rule) for rule in json.loads(args.faults)],
    )
    print(hub.url, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        hub._httpd.serve_forever()
    hub._httpd.server_close()


if __name__ == "__main__":
    main()
