"""The plugin registry: loads plugins from entry points and routes every hook call.

Loading is tolerant: a plugin that fails to import or declares nonsense is recorded as a failure
(shown by ``hayakoe plugins``) and the others keep working. Two plugins claiming one scheme or
backend are both refused for it, with a message naming both. ``HAYAKOE_DISABLE_PLUGINS`` (names
separated by commas) skips plugins by entry-point name: that is how a user replaces a built-in.

The CLI, the publish flow and the runtime all go through :func:`get_registry`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from hayakoe_core import hookspecs
from hayakoe_core.errors import PluginError, UrlError
from hayakoe_core.paths import safe_name, safe_relpath
from hayakoe_core.types import BackendInfo, DestinationInfo, Target

ENTRY_POINT_GROUP = "hayakoe"
DISABLE_ENV = "HAYAKOE_DISABLE_PLUGINS"

# What the root distribution's extras install, so a missing built-in is a clear instruction.
# This is knowledge of our own packaging, not an import of any plugin.
_DESTINATION_EXTRAS = {"hf": "hf", "s3": "s3", "file": None}
_BACKEND_EXTRAS = {"onnx": "cpu", "torch": "gpu"}
_STORAGE_HOOKS = (
    "hayakoe_upload",
    "hayakoe_fetch",
    "hayakoe_list_speakers",
    "hayakoe_read_readme",
    "hayakoe_delete_speaker",
)


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
        if name in _BACKEND_EXTRAS:
            raise PluginError(
                f"the {name} backend is not installed: pip install 'hayakoe[{_BACKEND_EXTRAS[name]}]'"
            )
        known = ", ".join(sorted(self._usable("backend"))) or "none"
        raise PluginError(f"unknown backend {name!r} (installed backends: {known})")

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
            if scheme in _DESTINATION_EXTRAS and scheme not in self.schemes():
                extra = _DESTINATION_EXTRAS[scheme]
                how = f"pip install 'hayakoe[{extra}]'" if extra else "reinstall hayakoe"
                raise PluginError(f"{scheme}:// needs the {_LABELS[scheme]} destination: {how}")
        accepted = ", ".join(f"{s}://" for s in self.schemes()) or "none installed"
        raise UrlError(
            f"no installed destination accepts {url!r} (accepted: {accepted}; "
            "plain paths must start with /, ./ or ../)"
        )

    def destination(self, target: Target) -> DestinationInfo:
        """The declaration of the plugin that owns ``target``."""
        return self._owner(target.plugin).declaration  # type: ignore[return-value]

    def has(self, target: Target, hook: str) -> bool:
        """Whether the plugin owning ``target`` implements ``hook`` (e.g. ``"hayakoe_upload"``)."""
        return hook in self._owner(target.plugin).hooks

    def call(self, target: Target, hook: str, **kwargs: Any) -> Any:
        """Call ``hook`` on the destination plugin that owns ``target`` only."""
        record = self._owner(target.plugin)
        return self._call_on(record, hook, f"{target.scheme}://", target=target, **_checked_paths(kwargs))

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
        if "hayakoe_load_bert" not in record.hooks:
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
        """Write backend ``backend``'s file set for one speaker into ``out_dir`` (see the hookspec)."""
        record = self._backend_record(backend)
        return self._call_on(
            record,
            "hayakoe_prepare_files",
            f"the {backend} backend",
            speaker_source=speaker_source,
            checkpoint=checkpoint,
            out_dir=out_dir,
            cache_dir=cache_dir,
            progress=progress,
        )

    def _owner(self, name: str) -> PluginRecord:
        for record in self.records:
            if record.name == name and record.kind == "destination" and record.plugin is not None:
                return record
        raise PluginError(f"destination plugin {name!r} is not loaded")

    def _call_on(self, record: PluginRecord, hook: str, what: str, **kwargs: Any) -> Any:
        """Call ``hook`` on ``record``'s plugin alone; :class:`PluginError` if it lacks the hook."""
        if hook not in record.hooks:
            verb = hook.removeprefix("hayakoe_").replace("_", " ")
            raise PluginError(f"{what} (plugin '{record.name}') does not support {verb}")
        others = [p for p in self.pm.get_plugins() if p is not record.plugin]
        return self.pm.subset_hook_caller(hook, remove_plugins=others)(**kwargs)


def _checked_paths(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Refuse unsafe remote paths before any plugin sees them (the hookspecs promise this)."""
    checked = dict(kwargs)
    if "prefix" in checked:
        checked["prefix"] = safe_relpath(checked["prefix"], allow_empty=True)
    if "path" in checked:
        checked["path"] = safe_relpath(checked["path"])
    if "repo_folder" in checked:
        checked["repo_folder"] = safe_relpath(checked["repo_folder"])
    if "name" in checked:
        checked["name"] = safe_name(checked["name"])
    return checked


_LABELS = {"hf": "HuggingFace Hub", "s3": "S3", "file": "local folder"}
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_BARE_HF_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(@[^\s]+)?$")


def _guess_scheme(url: str) -> str | None:
    """The scheme a URL is written in, counting HF's bare and https forms as ``hf``."""
    if url.startswith(("https://huggingface.co/", "https://hf.co/")) or _BARE_HF_RE.match(url):
        return "hf"
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
