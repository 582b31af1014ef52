"""The plugin registry: loads plugins from entry points and routes every hook call.

Loading is tolerant: a plugin that fails to import or declares nonsense is recorded as a failure
(shown by ``hayakoe plugins``) and the others keep working. Two plugins claiming one scheme or
backend are both refused for it, with a message naming both. ``HAYAKOE_DISABLE_PLUGINS`` (names
separated by commas) skips plugins by entry-point name: that is how a user replaces a built-in.

The CLI, the publish flow and the runtime all go through :func:`get_registry`. They reach a
destination through one typed handle, :class:`Store` (``get_registry().open(url)``), whose
methods call the owning plugin's hooks; hook names appear nowhere else.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import Enum
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from hayakoe_core import hf_url, hookspecs
from hayakoe_core.errors import PluginError, UrlError, scrub
from hayakoe_core.install_hint import install_command
from hayakoe_core.layout import README
from hayakoe_core.paths import safe_name, safe_relpath, speaker_prefix
from hayakoe_core.progress import NullProgress, Progress
from hayakoe_core.types import BackendInfo, DestinationInfo, DestinationState, Staging, Target

ENTRY_POINT_GROUP = "hayakoe"
DISABLE_ENV = "HAYAKOE_DISABLE_PLUGINS"

# The distributions of the built-in plugins, so a missing one is a clear instruction. This is
# knowledge of our own packaging, not an import of any plugin.
_DESTINATION_DISTRIBUTIONS = {"hf": "hayakoe-dest-hf", "s3": "hayakoe-dest-s3", "file": "hayakoe-dest-local"}
_BACKEND_DISTRIBUTIONS = {
    "onnx": "hayakoe-backend-onnx",
    "torch": "hayakoe-backend-torch",
    "openvino": "hayakoe-backend-openvino",
}


class Capability(Enum):
    """What a destination can do; each needs the listed hooks (``Store.supports``)."""

    FETCH = ("hayakoe_fetch",)
    READ_FILE = ("hayakoe_read_file",)
    LIST = ("hayakoe_list_speakers",)
    DELETE = ("hayakoe_delete_speaker",)
    UPLOAD = ("hayakoe_upload",)
    #: the stage → verify → promote contract
    PUBLISH = ("hayakoe_read_state", "hayakoe_stage", "hayakoe_promote", "hayakoe_discard")
    #: work a promote can have done ahead, while the caller verifies (optional)
    PREPARE_PROMOTE = ("hayakoe_prepare_promote",)
    CLEANUP = ("hayakoe_cleanup",)
    UNLOCK = ("hayakoe_unlock",)
    PROBE = ("hayakoe_probe",)
    FIND_CREDENTIALS = ("hayakoe_find_credentials",)


class BackendCapability(Enum):
    """What a backend can do; each needs the listed hooks (``Registry.backend_supports``)."""

    PREPARE_FILES = ("hayakoe_prepare_files",)
    LOAD_RUNTIME = ("hayakoe_load_runtime",)
    #: a BERT of the backend's own (optional: core's ONNX BERT serves the others)
    LOAD_BERT = ("hayakoe_load_bert",)
    #: checking a source before preparing files (optional)
    CHECK_FILES = ("hayakoe_check_files",)


@dataclass
class PluginRecord:
    """One plugin as the registry saw it: what ``hayakoe plugins`` prints."""

    name: str
    distribution: str | None
    version: str | None
    module: str
    kind: str | None = None
    declaration: DestinationInfo | BackendInfo | None = None
    hooks: list[str] = field(default_factory=list)
    error: str | None = None
    plugin: ModuleType | object | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        decl = self.declaration
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "module": self.module,
            "kind": self.kind,
            "schemes": list(decl.schemes) if isinstance(decl, DestinationInfo) else None,
            "backend": decl.name if isinstance(decl, BackendInfo) else None,
            "repo_folder": decl.repo_folder if isinstance(decl, BackendInfo) else None,
            "extra": decl.extra if decl else None,
            "hooks": self.hooks,
            "error": self.error,
        }


class Registry:
    """Loaded plugins and the routing of hook calls to their owners."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.records: list[PluginRecord] = []
        # ("scheme" | "backend", key) -> every plugin that claims it; usable only when alone.
        self._claims: dict[tuple[str, str], list[PluginRecord]] = {}

    # --- loading ----------------------------------------------------------------------------

    def load_entry_points(self) -> None:
        """Import and register every plugin in the ``hayakoe`` entry-point group."""
        disabled = {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if ep.name in disabled:
                continue
            dist = ep.dist
            record = PluginRecord(
                name=ep.name,
                distribution=dist.name if dist else None,
                version=dist.version if dist else None,
                module=ep.value,
            )
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken third-party plugin must not break the rest
                record.error = f"failed to import {ep.value}: {type(exc).__name__}: {exc}"
                self.records.append(record)
                continue
            self._add(record, plugin)

    def register(
        self,
        plugin: ModuleType | object,
        name: str,
        distribution: str | None = None,
        version: str | None = None,
    ) -> PluginRecord:
        """Register a plugin object directly (tests and embedding); same checks as entry points."""
        record = PluginRecord(
            name=name,
            distribution=distribution,
            version=version,
            module=getattr(plugin, "__name__", type(plugin).__name__),
        )
        self._add(record, plugin)
        return record

    def _add(self, record: PluginRecord, plugin: ModuleType | object) -> None:
        self.records.append(record)
        try:
            self.pm.register(plugin, name=record.name)
            self.pm.check_pending()
        except (ValueError, pluggy.PluginValidationError) as exc:
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            record.error = f"invalid plugin: {exc}"
            return
        record.plugin = plugin
        record.hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
        try:
            self._declare(record, plugin)
        except Exception as exc:
            self.pm.unregister(plugin)
            record.plugin = None
            record.error = f"invalid declaration: {type(exc).__name__}: {exc}"

    def _declare(self, record: PluginRecord, plugin: ModuleType | object) -> None:
        destination = getattr(plugin, "hayakoe_destination", None)
        backend = getattr(plugin, "hayakoe_backend", None)
        if bool(destination) == bool(backend):
            raise TypeError("a plugin implements exactly one of hayakoe_destination, hayakoe_backend")
        if destination:
            decl = destination()
            if not isinstance(decl, DestinationInfo) or not decl.schemes:
                raise TypeError("hayakoe_destination must return a DestinationInfo with schemes")
            record.kind, record.declaration = "destination", decl
            for scheme in decl.schemes:
                self._claims.setdefault(("scheme", scheme), []).append(record)
        else:
            decl = backend()
            if not isinstance(decl, BackendInfo) or not decl.devices:
                raise TypeError("hayakoe_backend must return a BackendInfo with devices")
            record.kind, record.declaration = "backend", decl
            self._claims.setdefault(("backend", decl.name), []).append(record)

    # --- lookups ----------------------------------------------------------------------------

    @property
    def conflicts(self) -> list[str]:
        """One message per scheme or backend claimed by more than one plugin."""
        return [self._conflict(kind, key) for (kind, key), rs in self._claims.items() if len(rs) > 1]

    def _conflict(self, kind: str, key: str) -> str:
        names = [r.name for r in self._claims[(kind, key)]]
        what = f"{key}://" if kind == "scheme" else f"backend {key!r}"
        quoted = " and ".join(f"'{n}'" for n in names)
        return f"{what} is claimed by plugins {quoted}; disable all but one with {DISABLE_ENV}"

    def _claimant(self, kind: str, key: str) -> PluginRecord | None:
        """The one plugin owning ``key``; ``None`` if none; :class:`PluginError` if several."""
        claimants = self._claims.get((kind, key), [])
        if len(claimants) > 1:
            raise PluginError(self._conflict(kind, key))
        return claimants[0] if claimants else None

    def _usable(self, kind: str) -> dict[str, PluginRecord]:
        return {key: rs[0] for (k, key), rs in self._claims.items() if k == kind and len(rs) == 1}

    def schemes(self) -> list[str]:
        """URL schemes accepted by the installed destination plugins."""
        return sorted(self._usable("scheme"))

    def destinations(self) -> list[DestinationInfo]:
        """Declarations of the usable destination plugins, each once."""
        records = {id(r): r for r in self._usable("scheme").values()}.values()
        return [r.declaration for r in records]  # type: ignore[misc]

    def backends(self) -> list[BackendInfo]:
        """Declarations of the usable backends."""
        return [r.declaration for r in self._usable("backend").values()]  # type: ignore[misc]

    def backend(self, name: str) -> BackendInfo:
        """The declaration of backend ``name``; :class:`PluginError` naming the extra if absent."""
        return self._backend_record(name).declaration  # type: ignore[return-value]

    def _backend_record(self, name: str) -> PluginRecord:
        record = self._claimant("backend", name)
        if record is not None:
            return record
        if name in _BACKEND_DISTRIBUTIONS:
            how = install_command(_BACKEND_DISTRIBUTIONS[name])
            raise PluginError(f"the {name} backend is not installed: {how}")
        known = ", ".join(sorted(self._usable("backend"))) or "none"
        raise PluginError(f"unknown backend {name!r} (installed backends: {known})")

    def backend_supports(self, backend: str, capability: BackendCapability) -> bool:
        """Whether backend ``backend``'s own plugin implements every hook ``capability`` needs
        (a backend with ``files_from`` prepares nothing itself: ask :meth:`files_owner`'s)."""
        return _implements(self._backend_record(backend), capability)

    def parse_url(self, url: str) -> Target:
        """Parse ``url`` with the destination plugins; :class:`UrlError` if none accepts it."""
        url = url.strip()
        if not url:
            raise UrlError("empty destination URL")
        target = self.pm.hook.hayakoe_parse_url(url=url)
        if target is not None:
            if not isinstance(target, Target):
                raise PluginError(f"a plugin returned {type(target).__name__} for {url!r}")
            self._claimant("scheme", target.scheme)  # refuses a contested scheme
            return target
        scheme = _guess_scheme(url)
        if scheme is not None:
            self._claimant("scheme", scheme)
            if scheme in _DESTINATION_DISTRIBUTIONS and scheme not in self.schemes():
                how = install_command(_DESTINATION_DISTRIBUTIONS[scheme])
                raise PluginError(f"{scheme}:// needs the {_LABELS[scheme]} destination: {how}")
        accepted = ", ".join(f"{s}://" for s in self.schemes()) or "none installed"
        raise UrlError(
            f"no installed destination accepts {url!r} (accepted: {accepted}; "
            "plain paths must start with /, ./ or ../)"
        )

    def open(self, where: str | Target) -> Store:
        """The handle for the destination at ``where`` (a URL, or a parsed :class:`Target`)."""
        target = self.parse_url(where) if isinstance(where, str) else where
        return Store(self, self._owner(target.plugin), target)

    def load_runtime(
        self, backend: str, speaker_dir: Path, device: str = "cpu", cache_dir: Path | None = None
    ) -> Any:
        """Load a speaker folder with backend ``backend``; returns its ``SpeakerModel``."""
        record = self._backend_record(backend)
        return self._call_on(
            record,
            "hayakoe_load_runtime",
            f"the {backend} backend",
            speaker_dir=speaker_dir,
            device=device,
            cache_dir=cache_dir,
        )

    def load_bert(self, backend: str, bert_root: Path, device: str) -> Any:
        """The backend's own BERT extractor for ``device``, or ``None`` to use core's ONNX BERT."""
        record = self._backend_record(backend)
        if not _implements(record, BackendCapability.LOAD_BERT):
            return None
        return self._call_on(
            record, "hayakoe_load_bert", f"the {backend} backend", bert_root=bert_root, device=device
        )

    def prepare_files(
        self,
        backend: str,
        *,
        speaker_source: Path,
        checkpoint: Path,
        out_dir: Path,
        cache_dir: Path,
        progress: Any,
    ) -> list[Path]:
        """Write backend ``backend``'s file set for one speaker into ``out_dir`` (see the hookspec).

        A backend that declares ``files_from`` is prepared by that backend: its file set is the
        other's (the repo folders must agree).
        """
        owner = self.files_owner(backend)
        return self._call_on(
            self._backend_record(owner.name),
            "hayakoe_prepare_files",
            f"the {owner.name} backend",
            speaker_source=speaker_source,
            checkpoint=checkpoint,
            out_dir=out_dir,
            cache_dir=cache_dir,
            progress=progress,
        )

    def check_files(self, backend: str, *, speaker_source: Path, checkpoint: Path) -> bool:
        """Check that backend ``backend`` can prepare files from these (see the hookspec); raises
        what the backend raises. ``False`` when the backend has no such check, ``True`` when passed."""
        owner = self.files_owner(backend)
        record = self._backend_record(owner.name)
        if not _implements(record, BackendCapability.CHECK_FILES):
            return False
        self._call_on(
            record,
            "hayakoe_check_files",
            f"the {owner.name} backend",
            speaker_source=speaker_source,
            checkpoint=checkpoint,
        )
        return True

    def files_owner(self, backend: str) -> BackendInfo:
        """The backend that prepares ``backend``'s files: itself, or the one it names in
        ``files_from``; :class:`PluginError` when that one is missing or owns another folder."""
        info = self.backend(backend)
        if info.files_from is None:
            return info
        owner = self.backend(info.files_from)
        if owner.files_from is not None:
            raise PluginError(f"backend {backend!r} loads the files of {owner.name!r}, which prepares none")
        if owner.repo_folder != info.repo_folder:
            raise PluginError(
                f"backend {backend!r} declares repo folder {info.repo_folder!r} but loads the files "
                f"of {owner.name!r}, which live in {owner.repo_folder!r}"
            )
        return owner

    def _owner(self, name: str) -> PluginRecord:
        for record in self.records:
            if record.name == name and record.kind == "destination" and record.plugin is not None:
                return record
        raise PluginError(f"destination plugin {name!r} is not loaded")

    def _call_on(self, record: PluginRecord, hook: str, what: str, **kwargs: Any) -> Any:
        """Call ``hook`` on ``record``'s plugin alone; :class:`PluginError` if it lacks the hook.

        A ``hook`` that is not a hookspec is a bug in core: AttributeError, with its traceback.
        """
        caller = getattr(self.pm.hook, hook)
        if hook not in record.hooks:
            verb = hook.removeprefix("hayakoe_").replace("_", " ")
            raise PluginError(f"{what} (plugin '{record.name}') does not support {verb}")
        others = [p for p in self.pm.get_plugins() if p is not record.plugin]
        try:
            return self.pm.subset_hook_caller(caller.name, remove_plugins=others)(**kwargs)
        except Exception as exc:  # whatever a plugin lets through, no secret leaves in it
            target = kwargs.get("target")
            scrub(exc, [target.credential if isinstance(target, Target) else None])
            raise


class Store:
    """One destination, as callers use it: a method per storage hook, routed to the plugin that
    owns the URL (looked up once), remote paths checked before the plugin sees them.

    A method whose hook the plugin lacks raises :class:`PluginError` ("… does not support …");
    ask :meth:`supports` first where that is an expected case (a fetch-only destination).
    """

    def __init__(self, registry: Registry, record: PluginRecord, target: Target) -> None:
        self._registry, self._record, self.target = registry, record, target
        self.info: DestinationInfo = record.declaration  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Store({self.target.url!r}, plugin={self._record.name!r})"

    @property
    def url(self) -> str:
        return self.target.url

    def supports(self, capability: Capability) -> bool:
        """Whether the owning plugin implements every hook ``capability`` needs."""
        return _implements(self._record, capability)

    def _call(self, hook: str, **kwargs: Any) -> Any:
        return self._registry._call_on(
            self._record, hook, f"{self.target.scheme}://", target=self.target, **kwargs
        )

    # --- reading ------------------------------------------------------------------------------

    def fetch(self, prefix: str, cache_dir: Path, progress: Progress | None = None) -> Path:
        """A local folder holding ``<target>/<prefix>/`` (see ``hayakoe_fetch``)."""
        return self._call(
            "hayakoe_fetch",
            prefix=safe_relpath(prefix, allow_empty=True),
            cache_dir=cache_dir,
            progress=progress or NullProgress(),
        )

    def read_file(self, path: str) -> bytes | None:
        """The bytes of the small file ``<target>/<path>``, or ``None``."""
        return self._call("hayakoe_read_file", path=safe_relpath(path))

    def read_readme(self) -> str | None:
        """The text of the destination's ``README.md``, or ``None`` if it has none."""
        data = self.read_file(README)
        return None if data is None else data.decode("utf-8", errors="replace")

    def list_speakers(self) -> dict[str, list[str]]:
        """Speakers by repo folder: ``{"onnx": ["a"], "pytorch": ["a"]}``."""
        return self._call("hayakoe_list_speakers")

    # --- writing ------------------------------------------------------------------------------

    def delete_speaker(self, repo_folder: str, name: str) -> bool:
        """Remove ``<repo_folder>/speakers/<name>/`` only; whether something was there."""
        speaker_prefix(repo_folder, name)  # refuses unsafe parts before the plugin sees them
        return self._call("hayakoe_delete_speaker", repo_folder=repo_folder, name=name)

    def upload(self, local_dir: Path, prefix: str = "", progress: Progress | None = None) -> None:
        """Send the repo tree ``local_dir`` live in one step (no staging; see ``hayakoe_upload``)."""
        self._call(
            "hayakoe_upload",
            local_dir=local_dir,
            prefix=safe_relpath(prefix, allow_empty=True),
            progress=progress or NullProgress(),
        )

    # --- publishing ---------------------------------------------------------------------------

    def read_state(self) -> DestinationState:
        """The destination's state now (see ``hayakoe_read_state``)."""
        return self._checked(self._call("hayakoe_read_state"), DestinationState, "read_state")

    def stage(
        self,
        local_dir: Path,
        staging_id: str,
        progress: Progress | None = None,
        digests: Mapping[str, str] | None = None,
    ) -> Staging:
        """Stage the repo tree ``local_dir`` out of readers' sight (see ``hayakoe_stage``;
        ``digests``: sha256 of files of the tree already known, by repo path)."""
        staging = self._call(
            "hayakoe_stage",
            local_dir=local_dir,
            staging_id=safe_name(staging_id),
            progress=progress or NullProgress(),
            digests=dict(digests or {}),
        )
        return self._checked(staging, Staging, "stage")

    def promote(
        self, staging: Staging, expected: DestinationState, progress: Progress | None = None
    ) -> DestinationState:
        """Make ``staging`` live if the destination is still ``expected`` (see ``hayakoe_promote``)."""
        state = self._call(
            "hayakoe_promote", staging=staging, expected=expected, progress=progress or NullProgress()
        )
        return self._checked(state, DestinationState, "promote")

    def prepare_promote(self, staging: Staging, progress: Progress | None = None) -> bool:
        """Do ahead of :meth:`promote` what readers cannot see (see ``hayakoe_prepare_promote``);
        ``False`` when the plugin has nothing to do ahead."""
        if not self.supports(Capability.PREPARE_PROMOTE):
            return False
        self._call("hayakoe_prepare_promote", staging=staging, progress=progress or NullProgress())
        return True

    def discard(self, staging: Staging) -> None:
        """Remove a staging area (idempotent)."""
        self._call("hayakoe_discard", staging=staging)

    def cleanup(self, older_than: timedelta, *, dry_run: bool = False) -> list[str]:
        """Staging areas and other debris older than ``older_than``, removed unless ``dry_run``."""
        return self._call("hayakoe_cleanup", older_than=older_than, dry_run=dry_run)

    def unlock(self) -> str | None:
        """Break the destination's promote lock or lease (explicit user request only)."""
        return self._call("hayakoe_unlock")

    def probe(self) -> None:
        """Raise unless the destination can be published to (credentials, reachable, writable)."""
        self._call("hayakoe_probe")

    def find_credentials(self) -> str | None:
        """Where the store client finds credentials now (never the secret), or ``None``."""
        if not self.supports(Capability.FIND_CREDENTIALS):
            return None
        return self._call("hayakoe_find_credentials")

    def _checked(self, value: Any, kind: type, hook: str) -> Any:
        if not isinstance(value, kind):
            raise PluginError(
                f"plugin '{self._record.name}' returned {type(value).__name__} from {hook}, "
                f"not {kind.__name__}"
            )
        return value


def _implements(record: PluginRecord, capability: Capability | BackendCapability) -> bool:
    return all(hook in record.hooks for hook in capability.value)


_LABELS = {"hf": "HuggingFace Hub", "s3": "S3", "file": "local folder"}
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def _guess_scheme(url: str) -> str | None:
    """The scheme a URL is written in, counting HF's bare and https forms as ``hf``."""
    if hf_url.is_hf_url(url):
        return hf_url.SCHEME
    match = _SCHEME_RE.match(url)
    return match.group(1).lower() if match else None


_registry: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, loaded from entry points on first use."""
    global _registry
    if _registry is None:
        registry = Registry()
        registry.load_entry_points()
        _registry = registry
    return _registry


def reset_registry() -> None:
    """Forget the process-wide registry (tests, or after installing a plugin at run time)."""
    global _registry
    _registry = None
