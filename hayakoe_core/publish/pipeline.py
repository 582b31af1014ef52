"""The publish pipeline: carry out a :class:`~hayakoe_core.publish.plan.Plan`, never asking anything.

In the seed's order (ARCHITECTURE §6):

1. **validate** the source (config, style vectors, the checkpoint's header per backend) and the
   destination (its plugin can publish, credentials, reachable and writable) — nothing written;
2. **inspect** the destination: its state, speakers, this speaker's live manifests, README and
   BERT; a speaker already there needs ``overwrite`` (also when the destination holds the other
   backend of this speaker from another checkpoint);
3. **build** the repo tree locally: each backend's files (the ONNX export cached and reused, or
   top-level graphs reused), the **parity** check of ONNX against the checkpoint, manifests, the
   shared BERT when the destination lacks it or holds another, the README;
4. **stage** it through the destination plugin, **verify** it from the staged URL in a clean
   process per backend — meanwhile the store does, in a thread, what it can of the promote
   unseen by readers (``prepare_promote``; S3 pre-copies the files to their live keys) — and
   only then **promote** it (compare-and-swap against the state read in step 2). A conflict
   re-reads the destination, regenerates the README and retries, bounded; the same speaker
   changed meanwhile is an error, not an overwrite. Any failure or interrupt stops the work
   ahead and discards the staging area: the live destination is untouched.

A destination that can only upload is published by upload, then verified, and the receipt says
so. ``dry_run`` builds the whole tree (so the receipt lists every file's size and sha256) and
stops before anything reaches the destination.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from hayakoe_core.errors import ConflictError, HayakoeError, Interrupted, UnreachableError
from hayakoe_core.fetching import Fetcher, cache_root
from hayakoe_core.layout import MANIFEST, README, local_files, speakers_from_paths
from hayakoe_core.manifest import BertRef, Manifest, build_manifest, sha256_file, write_manifest
from hayakoe_core.paths import speaker_prefix
from hayakoe_core.progress import NullProgress, Progress, interruptible
from hayakoe_core.publish import bert as shared_bert
from hayakoe_core.publish import ledger
from hayakoe_core.publish.ahead import Ahead
from hayakoe_core.publish.parity import check_parity
from hayakoe_core.publish.plan import FileRecord, Plan, Receipt
from hayakoe_core.publish.readme import BEGIN, ReadmeAction, ReadmePolicy, decide_readme, render_readme
from hayakoe_core.publish.source import CONFIG, STYLE_VECTORS, SpeakerSource, open_folder
from hayakoe_core.publish.validate import validate_source
from hayakoe_core.publish.verify import verify_speaker
from hayakoe_core.registry import Capability, Registry, Store, get_registry
from hayakoe_core.tts import BERT_SOURCE_ENV, DEFAULT_BERT_SOURCE
from hayakoe_core.types import BackendInfo, DestinationState, Staging, new_staging_id

#: How many times a promote is retried after a conflict, and the longest wait for a busy
#: destination (one that moved is re-read at once).
PROMOTE_ATTEMPTS = 6
_MAX_WAIT = 16.0

Note = Callable[[str], None]


class VerificationError(HayakoeError):
    """The staged speaker did not load or speak; nothing was made visible."""


@dataclass(frozen=True)
class Inspection:
    """What the destination holds, read before anything is written.

    ``state`` is ``None`` for a destination that cannot stage (upload only). ``live`` maps each
    repo folder holding this speaker to its manifest (``None`` for a legacy folder without one).
    ``readme`` is the current README.md; ``bert`` the digest of the BERT it holds (``None``: none,
    or not recorded).
    """

    url: str
    state: DestinationState | None
    listing: dict[str, list[str]]
    live: dict[str, Manifest | None]
    readme: str | None
    bert: str | None

    def replaced(self, plan: Plan, registry: Registry) -> list[str]:
        """The speaker folders this publish replaces (``onnx/speakers/<name>``, …)."""
        return [
            speaker_prefix(folder, plan.name)
            for folder in (registry.backend(b).repo_folder for b in plan.backends)
            if folder in self.live
        ]

    def mismatched(self, plan: Plan, registry: Registry) -> list[str]:
        """Folders of this speaker for backends *not* published now whose manifest names another
        checkpoint: after this publish the destination would serve two different models."""
        chosen = {registry.backend(b).repo_folder for b in plan.backends}
        return [
            speaker_prefix(folder, plan.name)
            for folder, manifest in sorted(self.live.items())
            if folder not in chosen
            and (manifest is None or manifest.checkpoint_sha256 != plan.checkpoint_sha256)
        ]


def inspect_destination(store: Store, name: str, registry: Registry) -> Inspection:
    """Read what a publish of speaker ``name`` to ``store`` needs to know (no writes)."""
    state = store.read_state() if store.supports(Capability.PUBLISH) else None
    listing = store.list_speakers() if store.supports(Capability.LIST) else {}
    live: dict[str, Manifest | None] = {}
    for folder, names in listing.items():
        if name in names:
            raw = store.read_file(f"{speaker_prefix(folder, name)}/{MANIFEST}")
            where = f"{store.url}/{speaker_prefix(folder, name)}/{MANIFEST}"
            live[folder] = None if raw is None else Manifest.parse(raw, where)
    return Inspection(store.url, state, listing, live, store.read_readme(), shared_bert.held_by(store))


# --- the pipeline ----------------------------------------------------------------------------------


class Pipeline:
    """One publish. Build it with a plan, then :meth:`run` it (once)."""

    def __init__(
        self,
        plan: Plan,
        *,
        registry: Registry | None = None,
        progress: Progress | None = None,
        note: Note | None = None,
    ) -> None:
        self.plan = plan
        self.registry = registry or get_registry()
        self.progress = progress or NullProgress()
        self.note = note or (lambda _text: None)
        self.store = self.registry.open(plan.destination)
        self.receipt = Receipt(plan)
        self.infos = {b: self.registry.backend(b) for b in plan.backends}
        self.source: SpeakerSource = open_folder(plan.folder)

    # --- steps 1 and 2 ---------------------------------------------------------------------------

    def validate(self, *, probe: bool = True) -> None:
        """Check the source and the destination (``probe``: that it is writable, by writing and
        removing a probe where the plugin needs to); writes nothing that stays."""
        with self.receipt.phase("validate"):
            validate_source(
                self.plan.folder, self.plan.checkpoint, self.plan.backends,
                name=self.plan.name, registry=self.registry,
            )  # fmt: skip
            if not (self.store.supports(Capability.PUBLISH) or self.store.supports(Capability.UPLOAD)):
                raise HayakoeError(
                    f"{self.store.url}: the {self.store.info.name} destination cannot be published to "
                    "(its plugin implements neither staging nor upload)"
                )
            if probe and self.store.supports(Capability.PROBE):
                self.store.probe()

    def inspect(self) -> Inspection:
        """Read the destination (no writes)."""
        with self.receipt.phase("inspect"):
            return inspect_destination(self.store, self.plan.name, self.registry)

    def taken(self, inspection: Inspection) -> list[str]:
        """Speaker folders this publish would replace, or leave beside a model from another
        checkpoint: each needs ``plan.overwrite``."""
        return [
            *inspection.replaced(self.plan, self.registry),
            *inspection.mismatched(self.plan, self.registry),
        ]

    def answer(self, *, overwrite: bool | None = None, readme: ReadmePolicy | None = None) -> None:
        """Record answers the interactive layer got after :meth:`inspect` (the plan is frozen)."""
        changes = {k: v for k, v in (("overwrite", overwrite), ("readme", readme)) if v is not None}
        self.plan = replace(self.plan, **changes)
        self.receipt.plan = self.plan

    def readme(self, inspection: Inspection) -> tuple[str, ReadmeAction | None]:
        """The README this publish would leave and the decision (``None``: it differs from one
        hayakoe did not write and ``plan.readme`` does not say what to do — ask the user)."""
        folders = [info.repo_folder for info in self.infos.values()]
        listing = _with_speaker(inspection.listing, folders, self.plan.name)
        new = render_readme(
            self.store.url, listing, self.registry.backends(), bert=True,
            license=self.plan.license, existing=inspection.readme,
        )  # fmt: skip
        action = decide_readme(inspection.readme, new, self.plan.readme)
        if action is None and BEGIN in (inspection.readme or ""):
            action = "update"  # hayakoe's own card: the user's text outside the block is kept
        return new, action

    # --- step 3: the local tree ------------------------------------------------------------------

    def build(self, tree: Path, inspection: Inspection) -> tuple[shared_bert.BertBundle | None, BertRef]:
        """Lay the repo tree out in ``tree``: speaker folders with manifests, the BERT when it must
        be staged, the README. Returns the BERT bundle to stage (``None``: keep the destination's)
        and the reference every manifest records."""
        graphs = self._prepare_backends(tree)
        if graphs is not None:
            with self.receipt.phase("parity"):
                self.note("parity: running the ONNX graphs and the checkpoint on fixed inputs")
                report = check_parity(
                    self.plan.folder, self.plan.checkpoint, graphs, registry=self.registry
                )
                self.note(
                    f"parity: {report.cases} cases agree "
                    f"(max audio difference {report.max_audio_diff:.2g})"
                )
        with self.receipt.phase("bert"):
            bundle, ref = self._bert(inspection)
            if bundle is not None:
                bundle.write_into(tree)
        with self.receipt.phase("hashing"):
            self.note("hashing: the sha256 of every file, into each speaker's manifest")
            for backend, info in self.infos.items():
                folder = tree / speaker_prefix(info.repo_folder, self.plan.name)
                manifest = build_manifest(folder, self.plan.name, backend, self.plan.checkpoint_sha256, ref)
                write_manifest(folder, manifest)
        self.receipt.bert = ref
        self._write_readme(tree, inspection)
        return bundle, ref

    def _prepare_backends(self, tree: Path) -> list[Path] | None:
        """Each backend's file set under ``tree``; the ONNX graphs to check for parity, if any."""
        graphs: list[Path] | None = None
        with self.receipt.phase("export"):
            for backend, info in self.infos.items():
                out = tree / speaker_prefix(info.repo_folder, self.plan.name)
                self.note(f"export: the {backend} files of {self.plan.name}")
                if backend == "onnx" and self.source.onnx_graphs:
                    self.note(f"onnx: reusing {', '.join(g.name for g in self.source.onnx_graphs)} "
                              f"from {self.source.folder} (after the parity check)")  # fmt: skip
                    written = _copy_files(
                        [self.source.config, self.source.style_vectors, *self.source.onnx_graphs], out
                    )
                else:
                    written = self.registry.prepare_files(
                        backend,
                        speaker_source=self.plan.folder,
                        checkpoint=self.plan.checkpoint,
                        out_dir=out,
                        cache_dir=self.source.export_cache(cache_root()),
                        progress=self.progress,
                    )
                if backend == "onnx":
                    graphs = [p for p in written if p.name not in (CONFIG, STYLE_VECTORS)]
        return graphs

    def _bert(self, inspection: Inspection) -> tuple[shared_bert.BertBundle | None, BertRef]:
        """The BERT to stage (``None``: the destination's own is kept) and its reference."""
        named = self.plan.bert_source or _environment_bert()
        if named is None and inspection.bert is not None:
            self.note(f"BERT: keeping the one at {self.store.url} ({inspection.bert[:12]})")
            return None, BertRef(self.store.url, self.store.target.revision, inspection.bert)
        source = self.registry.open(named or DEFAULT_BERT_SOURCE)
        self.note(f"BERT: from {source.url}")
        fetcher = Fetcher(cache_root(), progress=self.progress)
        bundle = shared_bert.load_bundle(source, fetcher, with_fp32="torch" in self.plan.backends)
        if bundle.sha256 == inspection.bert:
            self.note(f"BERT: the destination already holds this one ({bundle.sha256[:12]}): not sent")
            return None, bundle.ref()
        return bundle, bundle.ref()

    def _write_readme(self, tree: Path, inspection: Inspection, *, refresh: bool = False) -> ReadmeAction:
        """Put the README into ``tree`` when this publish writes one; returns the decision.
        ``refresh`` (after a conflict) writes it even when unchanged, over any staged older one."""
        new, action = self.readme(inspection)
        if action is None:
            raise HayakoeError(
                f"README.md at {self.store.url} was not written by hayakoe and differs from the "
                "generated one: pass --readme update (your text is kept outside the generated "
                "block) or --readme keep"
            )
        if action in ("create", "update") or (refresh and action == "unchanged"):
            (tree / README).write_text(new, encoding="utf-8")
        self.note(f"README: {action}")
        return action

    # --- step 4: stage → verify → promote --------------------------------------------------------

    def run(self, *, dry_run: bool = False) -> Receipt:
        """Validate, inspect and carry the plan out (see the module docstring)."""
        self.validate(probe=not dry_run)
        return self.execute(self.inspect(), dry_run=dry_run)

    def execute(self, inspection: Inspection, *, dry_run: bool = False) -> Receipt:
        """Everything after :meth:`validate` and :meth:`inspect`; returns the receipt."""
        taken = self.taken(inspection)
        if taken and not self.plan.overwrite:
            raise HayakoeError(
                f"{self.plan.name!r} is already published at {self.store.url} ({', '.join(taken)}): "
                "pass --overwrite to replace it"
            )
        with _workspace() as tree:
            bundle, _ = self.build(tree, inspection)
            files = [_record(f.relpath, f.path) for f in local_files(tree)]
            if dry_run:
                self.receipt.files = files
                return self.receipt
            if not self.store.supports(Capability.PUBLISH):
                return self._upload_then_verify(tree, files)
            unchanged = self._drop_unchanged(tree, inspection)
            if not any(tree.iterdir()):
                self._sweep_abandoned()
                return self._nothing_changed(inspection, files)
            digests = {f.path: f.sha256 for f in files}
            staging, state = self._publish(tree, inspection, digests, bert_staged=bundle is not None)
            self._sweep_abandoned()
            self.receipt.state = str(state)
            self.receipt.files = [
                replace(f, transfer=_transfer(f.path, unchanged, staging)) for f in files
            ]
        return self.receipt

    def _publish(
        self, tree: Path, inspection: Inspection, digests: dict[str, str], *, bert_staged: bool
    ) -> tuple[Staging, DestinationState]:
        """Stage, verify, promote and discard, with Ctrl-C stopping transfers at their next chunk
        and the staging area recorded in the ledger until it is discarded. A failure's message
        says how far the publish got and that running it again is safe."""
        staging_id = new_staging_id()
        record = ledger.open_record(self.store.url, staging_id)
        outer = self.progress
        discarded = False
        try:
            with interruptible(outer) as self.progress:
                with _explained(self.store.url, "staging"):
                    staging = self._stage(tree, staging_id, digests)
                ahead = self._start_ahead(staging)
                failure: BaseException | None = None
                try:
                    with _explained(self.store.url, "verifying"):
                        self._verify(staging, bert_staged=bert_staged)
                    with _explained(self.store.url, "promoting"):
                        state = self._promote(staging, inspection, tree, ahead)
                except BaseException as exc:
                    failure = exc
                    raise
                finally:
                    if _is_interrupt(failure):
                        self.note(f"interrupted: removing the staging area at {self.store.url} "
                                  "(Ctrl-C again leaves that to the next publish)")  # fmt: skip
                    if ahead is not None:
                        ahead.cancel()  # before the discard, which undoes what it did
                    with self.receipt.phase("discard"):
                        discarded = self._discard(staging, failure)
        finally:
            self.progress = outer
            if discarded:
                record.remove()
            else:
                record.close()  # the next publish from here discards it (see ledger)
        return staging, state

    def _discard(self, staging: Staging, failure: BaseException | None) -> bool:
        """Remove the staging area after the promote (or after ``failure``); whether it is gone.

        After a failure the staging area may stay: it is recorded in the ledger, so the next
        publish from here discards it. A removal that fails too (the same unreachable store, most
        often) must not hide the failure the user needs to read; a second Ctrl-C stops it."""
        if failure is None:
            with _explained(self.store.url, "discarding"):
                self.store.discard(staging)
            return True
        try:
            self.store.discard(staging)
        except HayakoeError:
            return False
        return True

    def _sweep_abandoned(self) -> None:
        """Discard the staging areas publishers from this machine left at this destination when
        they died (best effort: what is not removed now is tried again next time)."""
        for record in ledger.abandoned(self.store.url):
            try:
                self.store.discard(Staging(record.staging_id, "", DestinationState("")))
            except HayakoeError as exc:
                self.note(f"cleanup: staging {record.staging_id} left by a crashed publish stays: {exc}")
                continue
            self.note(f"cleanup: removed staging {record.staging_id} left by a crashed publish")
            record.remove()

    def _drop_unchanged(self, tree: Path, inspection: Inspection) -> set[str]:
        """Take out of ``tree`` every speaker folder whose live copy has the very same files, the
        same checkpoint and the same BERT (by its manifest): there is nothing to stage for it.
        Returns the repo paths taken out."""
        dropped: set[str] = set()
        for info in self.infos.values():
            folder = tree / speaker_prefix(info.repo_folder, self.plan.name)
            new = Manifest.read(folder)
            live = inspection.live.get(info.repo_folder)
            if live is None or new is None or _manifest_key(live) != _manifest_key(new):
                continue
            if (live.bert and live.bert.sha256) != (new.bert and new.bert.sha256):
                continue
            prefix = speaker_prefix(info.repo_folder, self.plan.name)
            dropped |= {f"{prefix}/{f.relpath}" for f in local_files(folder)}
            shutil.rmtree(folder)
            self.note(f"{prefix}: live already, unchanged")
        for empty in sorted((p for p in tree.rglob("*") if p.is_dir()), reverse=True):
            if not any(empty.iterdir()):
                empty.rmdir()
        return dropped

    def _nothing_changed(self, inspection: Inspection, files: list[FileRecord]) -> Receipt:
        """Everything is live already: nothing to stage or promote; the live copy is verified."""
        self.note(f"{self.store.url} already holds exactly this: nothing to send")
        if self.plan.verify:
            self._check(self.store.url, self.store.url)
        self.receipt.state = str(inspection.state)
        self.receipt.files = [replace(f, transfer="unchanged") for f in files]
        return self.receipt

    def _stage(self, tree: Path, staging_id: str, digests: dict[str, str] | None = None) -> Staging:
        with self.receipt.phase("stage"):
            self.note(f"staging at {self.store.url} (not visible to readers yet)")
            return self.store.stage(tree, staging_id, self.progress, digests)

    def _start_ahead(self, staging: Staging) -> Ahead | None:
        """Start the store's work ahead of the promote, to overlap the verification (none when
        nothing is verified, or the store has no such work)."""
        if not (self.plan.verify and self.store.supports(Capability.PREPARE_PROMOTE)):
            return None
        self.note(f"precopy: preparing the promote at {self.store.url} while verifying (unseen by readers)")
        return Ahead(self.store, staging)

    def _finish_ahead(self, ahead: Ahead) -> None:
        """Wait for the work ahead of the promote (inside the promote's time: any wait is the
        promote's) and count its own time as phase ``precopy``."""
        if ahead.running:
            self.note("precopy: waiting for the store to finish preparing the promote")
        failed = ahead.wait()
        self.receipt.add_time("precopy", ahead.seconds)
        if failed is not None:
            self.note(f"precopy: not finished ({failed}); the promote does that work itself")

    def _verify(self, staging: Staging, *, bert_staged: bool) -> None:
        if not self.plan.verify:
            self.receipt.unverified = True
            self.note("verification skipped (--no-verify): the receipt says unverified")
            return
        bert_source = staging.url if bert_staged else self.store.url
        self._check(staging.url, bert_source)

    def _check(self, source: str, bert_source: str) -> None:
        with self.receipt.phase("verify"):
            for backend, info in self.infos.items():
                device = _verify_device(info)
                self.note(f"verify: loading {self.plan.name} with {backend} on {device} in a clean process")
                result = verify_speaker(
                    source, self.plan.name, backend=backend, device=device,
                    verify_dir=self.plan.verify_dir, bert_source=bert_source,
                )  # fmt: skip
                self.receipt.verification.append(result)
                if result.unreachable:  # the store failed, not the speaker: running again may pass
                    raise UnreachableError(
                        f"verification of {self.plan.name} ({backend} on {device}) could not load the "
                        f"staged copy: {result.reason}"
                    )
                if not result.ok:
                    raise VerificationError(
                        f"verification of {self.plan.name} ({backend} on {device}) failed: {result.reason}; "
                        f"nothing was made visible at {self.store.url}"
                    )
                self.note(f"verify: {result.wav} — {result.duration:.2f} s at {result.sample_rate} Hz")

    def _promote(
        self, staging: Staging, inspection: Inspection, tree: Path, ahead: Ahead | None
    ) -> DestinationState:
        """Promote once ``ahead`` (the store's work ahead) ended, re-reading and retrying on
        conflicts (bounded)."""
        expected = inspection.state
        assert expected is not None
        with self.receipt.phase("promote"):
            if ahead is not None:
                self._finish_ahead(ahead)
            for attempt in range(1, PROMOTE_ATTEMPTS + 1):
                try:
                    self.note(f"promote: making {self.plan.name} live at {self.store.url}")
                    return self.store.promote(staging, expected, self.progress)
                except ConflictError as conflict:
                    if attempt == PROMOTE_ATTEMPTS:
                        raise ConflictError(
                            f"{self.store.url} kept changing while publishing ({conflict}); "
                            "nothing of this publish was made visible: run the command again"
                        ) from None
                    if conflict.busy:  # another promote is running: give it time
                        time.sleep(min(_MAX_WAIT, 0.5 * 2**attempt))
                        continue
                    # It moved (another publish finished): re-read it now; waiting would only give
                    # a third publisher time to move it again.
                    self.note(f"promote: {self.store.url} changed meanwhile; re-reading it")
                    fresh = inspect_destination(self.store, self.plan.name, self.registry)
                    self._refuse_if_speaker_changed(inspection, fresh)
                    staging = self._restage_readme(tree, staging, fresh)
                    inspection, expected = fresh, fresh.state
                    assert expected is not None
        raise AssertionError("unreachable")

    def _restage_readme(self, tree: Path, staging: Staging, fresh: Inspection) -> Staging:
        """Regenerate the README from the destination as it is now and stage it again (same id)."""
        scratch = tree.parent / f"{tree.name}-readme"
        scratch.mkdir()
        try:
            self._write_readme(scratch, fresh, refresh=True)
            if (scratch / README).is_file():
                shutil.copy2(scratch / README, tree / README)
                return self._stage(scratch, staging.id)
            return staging
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _refuse_if_speaker_changed(self, before: Inspection, now: Inspection) -> None:
        ours = {i.repo_folder for i in self.infos.values()}
        changed = [
            speaker_prefix(folder, self.plan.name)
            for folder in sorted(ours | set(before.live) | set(now.live))
            if (folder in before.live) != (folder in now.live)
            or _manifest_key(before.live.get(folder)) != _manifest_key(now.live.get(folder))
        ]
        if changed:
            raise ConflictError(
                f"{', '.join(changed)} at {self.store.url} was changed by someone else while publishing; "
                "nothing of this publish was made visible: check the destination, then run the command again"
            )

    def _upload_then_verify(self, tree: Path, files: list[FileRecord]) -> Receipt:
        """For a destination that cannot stage: upload (live at once), then verify what is live."""
        self.note(f"{self.store.url} cannot stage: uploading first, verifying afterwards")
        with self.receipt.phase("upload"):
            self.store.upload(tree, progress=self.progress)
        self.receipt.files = [replace(f, transfer="sent") for f in files]
        self.receipt.state = "uploaded (this destination cannot stage)"
        self.receipt.unverified = True  # it was visible before it was verified
        if self.plan.verify:
            try:
                self._check(self.store.url, self.store.url)
            except VerificationError as failed:
                raise VerificationError(
                    f"{failed.args[0].split('; nothing was made')[0]}; this destination cannot stage, "
                    f"so it IS live at {self.store.url}: publish a working checkpoint over it"
                ) from None
        return self.receipt


def publish_plan(
    plan: Plan,
    *,
    dry_run: bool = False,
    registry: Registry | None = None,
    progress: Progress | None = None,
    note: Note | None = None,
) -> Receipt:
    """Carry out ``plan`` (see the module docstring) and return the receipt."""
    return Pipeline(plan, registry=registry, progress=progress, note=note).run(dry_run=dry_run)


# --- helpers -----------------------------------------------------------------------------------------


def _environment_bert() -> str | None:
    return os.environ.get(BERT_SOURCE_ENV) or None


def _verify_device(info: BackendInfo) -> str:
    """The device a backend is verified on: its default, but CUDA only where there is one."""
    device = info.devices[0]
    if device.startswith("cuda") and not _cuda_available():
        return "cpu"
    return device


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def _manifest_key(manifest: Manifest | None) -> tuple | None:
    if manifest is None:
        return None
    return manifest.checkpoint_sha256, tuple(sorted((k, v.sha256) for k, v in manifest.files.items()))


def _with_speaker(listing: dict[str, list[str]], folders: list[str], name: str) -> dict[str, list[str]]:
    paths = [f"{f}/speakers/{n}/x" for f, names in listing.items() for n in names]
    return speakers_from_paths([*paths, *(f"{f}/speakers/{name}/x" for f in folders)])


def _copy_files(files: list[Path], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy2(f, out / f.name)) for f in files]


def _transfer(relpath: str, unchanged: set[str], staging: Staging) -> str:
    return "unchanged" if relpath in unchanged else staging.transfer(relpath) or "sent"


def _record(relpath: str, path: Path) -> FileRecord:
    """The receipt's record of one file of the tree (how it travels is filled in later)."""
    return FileRecord(relpath, path.stat().st_size, sha256_file(path))


_PHASE_OUTCOME = {
    "staging": "nothing of this publish is visible",
    "verifying": "nothing of this publish was made visible",
    "promoting": "the destination shows the old or the new speakers whole (a cut-off promote is "
    "finished by the next publish)",
    "discarding": "the new speakers are live and whole; the next publish from here removes the "
    "staging area",
}


def _is_interrupt(failure: BaseException | None) -> bool:
    """Whether ``failure`` is Ctrl-C (in the main thread, or as a worker met it)."""
    return isinstance(failure, (KeyboardInterrupt, Interrupted))


@contextmanager
def _explained(url: str, phase: str) -> Iterator[None]:
    """Let a failure's one line say where the publish stopped, what readers of ``url`` see, and
    that the same command can be run again (messages that say so already are left alone)."""
    try:
        yield
    except VerificationError:
        raise  # the speaker itself failed: running again would fail again
    except HayakoeError as exc:
        text = str(exc)
        if exc.args and "again" not in text:
            exc.args = (
                f"{text} (while {phase} at {url}); {_PHASE_OUTCOME[phase]}: "
                "running the same command again is safe",
                *exc.args[1:],
            )
        raise


@contextmanager
def _workspace() -> Iterator[Path]:
    """A scratch folder for the tree, on the cache's filesystem (hard links from the cache work)."""
    root = cache_root() / "publish"
    root.mkdir(parents=True, exist_ok=True)
    tree = Path(tempfile.mkdtemp(prefix="tree-", dir=root))
    try:
        yield tree
    finally:
        shutil.rmtree(tree, ignore_errors=True)
