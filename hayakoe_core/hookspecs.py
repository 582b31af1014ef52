"""Every hook a hayakoe plugin can implement: the whole plugin surface in one module.

A plugin is a module registered in the ``hayakoe`` entry-point group, e.g. in its pyproject.toml::

    [project.entry-points.hayakoe]
    zip = "hayakoe_dest_zip.plugin"

It implements hooks with ``@hayakoe_core.hookspecs.hookimpl``. There are two kinds of plugin:

* **Destinations** declare themselves with :func:`hayakoe_destination` and own URL schemes. They
  implement :func:`hayakoe_parse_url` plus any of the storage hooks: reading (fetch, read_file,
  list_speakers), writing (delete_speaker, upload) and the publishing contract (read_state,
  stage, prepare_promote, promote, discard, cleanup, unlock) with its helpers (probe,
  find_credentials). A plugin that implements only some is fine: callers hold a
  :class:`~hayakoe_core.registry.Store` for a URL and ask it what the plugin supports (a
  fetch-only destination loads speakers but cannot be published to; an upload-only one is
  published to without a staged verification).
* **Backends** declare themselves with :func:`hayakoe_backend` and own one top-level folder of the
  repo layout (``onnx/`` or ``pytorch/``). They implement :func:`hayakoe_prepare_files` and
  :func:`hayakoe_load_runtime`, and may implement :func:`hayakoe_load_bert`.

Apart from the declarations and :func:`hayakoe_parse_url`, which every plugin is asked, the
registry calls a hook **only on the plugin that owns the target or backend** (the one whose
``Target.plugin`` or ``BackendInfo.name`` matches), so implementations never check ownership.

Publishing (ARCHITECTURE §6, step 9) is three steps, so that nothing becomes visible before it is
proven to load and nothing live is lost or half-replaced::

    staging = stage(target, tree, new_staging_id(), progress)   # hidden; staging.url loads
    ... verify: load the speakers from staging.url in a clean process ...
    ... meanwhile, in a thread: prepare_promote(target, staging, progress)  (optional) ...
    state = promote(target, staging, staging.base, progress)    # compare-and-swap, exclusive
    discard(target, staging)

A promote whose expected state is stale raises :class:`~hayakoe_core.errors.ConflictError`
having changed nothing; the caller re-reads (:func:`hayakoe_read_state`), refreshes what depends
on the destination (the README) by staging it again under the same id, and retries.

Remote paths: every ``prefix``, ``name`` or remote file path a hook receives has already been
checked by core (no ``..``, no absolute part, no backslash). Paths a plugin reads back *from* a
store (listings) must be checked by the plugin with :func:`hayakoe_core.paths.safe_relpath`
before anything is written locally.

Errors a user can cause (bad credentials, missing bucket or repo, no permission) are raised as
:class:`hayakoe_core.errors.HayakoeError` subclasses with a one-line message that names the
variable or setting to fix and never contains a secret, nor does any exception chained to it
(:func:`hayakoe_core.errors.scrub`). A missing bucket, repo, revision or folder is a
:class:`~hayakoe_core.errors.SourceNotFoundError`.

Network: every request has the connect and read timeouts of :func:`hayakoe_core.network.timeouts`
and a bounded number of attempts; a store that cannot be reached or does not answer in time is an
:class:`~hayakoe_core.errors.UnreachableError` (the runtime then serves its cache).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import timedelta

    from hayakoe_core.progress import Progress
    from hayakoe_core.synthesis import BertFeatures, SpeakerModel
    from hayakoe_core.types import BackendInfo, DestinationInfo, DestinationState, Staging, Target

PROJECT = "hayakoe"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- declarations -------------------------------------------------------------------------------


@hookspec
def hayakoe_destination() -> DestinationInfo:
    """Declare a destination plugin: its name, the URL schemes it owns and its extra.

    Called once per plugin when the registry loads. Two plugins claiming one scheme are both
    refused for that scheme, with a message naming both (disable one with ``HAYAKOE_DISABLE_PLUGINS``).

    Declare the environment variables the plugin reads as ``settings`` (address parts,
    credentials, options) so that ``hayakoe publish`` can prompt for them and keep them in
    ``.env`` without knowing the plugin.

    Example::

        @hookimpl
        def hayakoe_destination():
            return DestinationInfo(
                name="gcs",
                schemes=("gs",),
                description="Google Cloud Storage",
                settings=(
                    Setting("HAYAKOE_GCS_BUCKET", "bucket", role="address", required=True),
                    Setting("GOOGLE_APPLICATION_CREDENTIALS", "service account key file"),
                ),
                url_template="gs://{HAYAKOE_GCS_BUCKET}",
            )
    """


@hookspec
def hayakoe_backend() -> BackendInfo:
    """Declare a backend plugin: its name, the repo folder it owns, the devices it runs on.

    Called once per plugin when the registry loads. Two plugins claiming one backend name are both
    refused, with a message naming both.

    Example::

        @hookimpl
        def hayakoe_backend():
            return BackendInfo(name="onnx", repo_folder="onnx", devices=("cpu",), extra="cpu")
    """


# --- destinations -------------------------------------------------------------------------------


@hookspec(firstresult=True)
def hayakoe_parse_url(url: str) -> Target | None:
    """Return a :class:`~hayakoe_core.types.Target` if this plugin owns ``url``, else ``None``.

    Asked of every destination plugin in turn; the first that answers owns the URL. Return
    ``None`` for URLs of other schemes; raise :class:`~hayakoe_core.errors.UrlError` for a URL of
    your scheme that is malformed (say what the right form is). Must not touch the network.
    """


@hookspec(firstresult=True)
def hayakoe_upload(target: Target, local_dir: Path, prefix: str, progress: Progress) -> None:
    """Send the staged tree ``local_dir`` (laid out like a repo) to ``<target>/<prefix>/``.

    ``prefix`` is relative to ``target.prefix`` (join with :meth:`Target.join`; usually empty).
    Every file under ``local_dir`` is written to the same relative path. Each speaker folder in
    the tree (``<repo folder>/speakers/<name>/``, see
    :func:`hayakoe_core.layout.speaker_dirs`) **replaces** the remote folder of that name
    entirely: remote files missing from the staged folder are removed. Everything else at the
    destination (other speakers, files not in the tree) is left alone.

    Readers must never see a half-written speaker where the store allows it (local: the staged
    folder is swapped in by renames; HF: one commit for the whole upload); where it does not
    (S3), each speaker's ``manifest.json`` is written after its other files and stale files are
    removed last, so a reader that trusts the manifest never sees a mix. Speaker folders are
    sent before loose files such as ``README.md``. Report bytes sent on ``progress``. On failure,
    raise; previous content stays intact where the store allows it.
    """


@hookspec(firstresult=True)
def hayakoe_fetch(target: Target, prefix: str, cache_dir: Path, progress: Progress) -> Path:
    """Make the files under ``<target>/<prefix>/`` available locally and return that folder.

    ``cache_dir`` is a folder reserved for this target by the caller (it may hold an earlier
    fetch); a plugin that reads files in place returns their folder and ignores it. Downloads
    are atomic per file (temporary name, then rename) and files already present and unchanged
    are not downloaded again; a file that is missing or changed locally is
    downloaded again (the runtime removes a damaged file and calls fetch once more to repair it).
    The caller holds an exclusive lock on ``cache_dir`` meanwhile, so the plugin may remove what
    its own killed downloads left there. Report bytes on ``progress`` from the loop that moves
    them: on Ctrl-C a bar's ``advance`` raises :class:`~hayakoe_core.errors.Interrupted`, which
    must propagate. Raise :class:`~hayakoe_core.errors.NotFoundError` if nothing exists under the
    prefix.
    """


@hookspec(firstresult=True)
def hayakoe_read_file(target: Target, path: str) -> bytes | None:
    """The bytes of the small file ``<target>/<path>``, or ``None`` if it does not exist.

    One request, no caching: the runtime reads a speaker's ``manifest.json`` this way to decide
    whether its cached copy is current before fetching anything.
    """


@hookspec(firstresult=True)
def hayakoe_list_speakers(target: Target) -> dict[str, list[str]]:
    """Speakers present at the target, by repo folder: ``{"onnx": ["a", "b"], "pytorch": ["a"]}``.

    A speaker is a folder ``<repo folder>/speakers/<name>/`` holding at least one file. Names are
    sorted. An empty or missing destination returns ``{}``.
    """


@hookspec(firstresult=True)
def hayakoe_delete_speaker(target: Target, repo_folder: str, name: str) -> bool:
    """Remove ``<target>/<repo_folder>/speakers/<name>/`` and nothing else.

    Returns ``True`` if something was removed, ``False`` if the speaker was not there.
    """


# --- publishing -------------------------------------------------------------------------------


@hookspec(firstresult=True)
def hayakoe_read_state(target: Target) -> DestinationState:
    """The destination's state now, for a later :func:`hayakoe_promote` to compare against.

    One cheap request. A destination nobody promoted to yet answers ``DestinationState("")``.
    """


@hookspec(firstresult=True)
def hayakoe_stage(
    target: Target, local_dir: Path, staging_id: str, progress: Progress, digests: Mapping[str, str]
) -> Staging:
    """Put the repo tree ``local_dir`` where readers of the live location do not see it.

    ``local_dir`` is laid out like a repo (ARCHITECTURE §5): speaker folders
    (``<repo folder>/speakers/<name>/``), loose files such as ``README.md``, maybe the shared BERT.
    Read the destination's state **first** and return it as ``Staging.base``. Put the tree under
    ``staging_id`` (HF: a branch of the target repo; S3: a hidden prefix such as
    ``<prefix>/.hayakoe/staging/<id>/``; a folder: a hidden folder beside the live ones). If a
    staging area with this id exists already, add the tree to it: its speaker folders replace
    the staged ones, other files are written over (the caller refreshes the README this way).

    ``Staging.url`` must load: ``TTS().load(name, source=staging.url)`` finds every staged speaker
    folder there. Shared files not in the tree (an unchanged BERT) need not be visible there:
    callers name the BERT source explicitly when verifying.

    Nothing is sent twice: a file whose content the destination already holds (live or staged)
    is made from those bytes, not sent again, and reported in ``Staging.transfers`` as
    ``"reused"`` (or ``"unchanged"`` when the live file is identical and promote has nothing to
    do); others are ``"sent"``. ``digests`` holds the sha256 the caller has just computed of
    files of the tree (repo path → hex): a plugin that needs a file's sha256 takes it from there
    rather than reading the file again (it hashes a file not named). Report bytes sent on
    ``progress``. On failure raise; the live location is untouched and the partial staging area
    is removed where possible (else :func:`hayakoe_cleanup` finds it).

    Example::

        staging = store.stage(tree, new_staging_id(), progress)
        TTS().load("tsukuyomi", source=staging.url).prepare()   # the staged copy
    """


@hookspec(firstresult=True)
def hayakoe_promote(
    target: Target, staging: Staging, expected: DestinationState, progress: Progress
) -> DestinationState:
    """Make the staged speakers and loose files live, if the destination is still ``expected``.

    Each staged speaker folder replaces the live folder of that name **whole** (live files the
    staged folder lacks are removed); loose files are written over; other speakers and files are
    untouched. Bytes sent at staging are not sent again. Promotes of one destination are
    exclusive and never interleave; the plugin's docstring states its mechanism and how a
    publisher that dies while holding it is recovered from (expiry, roll-forward).

    If the destination is not in state ``expected`` (someone promoted meanwhile), or another
    promote holds it, raise :class:`~hayakoe_core.errors.ConflictError` (``busy=True`` for the
    latter) having changed nothing a reader can see. Returns the new state. The staging area is
    left for :func:`hayakoe_discard`.
    """


@hookspec(firstresult=True)
def hayakoe_prepare_promote(target: Target, staging: Staging, progress: Progress) -> None:
    """Do ahead of :func:`hayakoe_promote`, while the caller verifies ``staging``, the part of
    promoting it that readers of the live location cannot see, so that the promote itself is
    short.

    Optional: a store whose promote is cheap already (a rename, a commit) implements nothing.
    S3 copies each staged file into a multipart upload at its live key, which promote then
    completes instead of copying. Nothing a reader sees may change. Promote must be correct
    whether this ran, ran partly, failed or was cancelled: it uses only what it finds complete
    and still matching the staging area (files restaged since are not), and does the rest as
    it would have. :func:`hayakoe_discard` undoes whatever this left, and
    :func:`hayakoe_cleanup` what the one of a crashed publisher left.

    Called in a thread of its own; report bytes on ``progress``: the caller cancels it by
    making a bar's ``advance`` raise :class:`~hayakoe_core.errors.Interrupted`, which must
    propagate. A failure is not the publish's: the caller notes it and promotes anyway.

    Example::

        staging = store.stage(tree, new_staging_id(), progress)
        worker = threading.Thread(target=store.prepare_promote, args=(staging, progress))
        worker.start(); verify(staging.url); worker.join()
        store.promote(staging, staging.base, progress)
    """


@hookspec(firstresult=True)
def hayakoe_discard(target: Target, staging: Staging) -> None:
    """Remove a staging area. Idempotent (a missing one is fine); never touches the live location."""


@hookspec(firstresult=True)
def hayakoe_cleanup(target: Target, older_than: timedelta, dry_run: bool) -> list[str]:
    """Find what crashed publishes left behind and remove it unless ``dry_run``.

    That is every staging area whose id is older than ``older_than`` (see
    :func:`hayakoe_core.types.staging_created`) and store-specific debris of the same age (S3:
    incomplete multipart uploads under the target). Returns one line per thing found, e.g.
    ``"staging 20261129T101500Z-1a2b3c4d5e6f (3 speakers)"``. Live content is never touched.
    """


@hookspec(firstresult=True)
def hayakoe_unlock(target: Target) -> str | None:
    """Break the exclusive state that makes promotes exclusive (a lock file, a lease), whatever
    its age. Called only when a user asks for it explicitly (``--force-unlock``), after a
    publisher died holding it and the documented expiry is too far away. Returns what was broken
    (one line), or ``None`` if nothing was held."""


@hookspec(firstresult=True)
def hayakoe_probe(target: Target) -> None:
    """Check cheaply that the destination can be published to: credentials present, store
    reachable, writes allowed (a probe object under a hidden path may be written and removed;
    nothing a reader sees changes). Raise a :class:`~hayakoe_core.errors.HayakoeError` naming the
    variable or setting to fix; :class:`~hayakoe_core.errors.UnreachableError` when the store
    cannot be reached."""


@hookspec(firstresult=True)
def hayakoe_find_credentials(target: Target) -> str | None:
    """Where the store client's own credential chain finds credentials for ``target`` right now
    (``"HF_TOKEN"``, ``"saved login"``, ``"AWS profile work"``, ``"environment"``), or ``None``
    when it finds none. Never the secret itself; no network. Publishing asks for the declared
    credential settings only when this is ``None``."""


# --- backends -----------------------------------------------------------------------------------


@hookspec(firstresult=True)
def hayakoe_prepare_files(
    speaker_source: Path, checkpoint: Path, out_dir: Path, cache_dir: Path, progress: Progress
) -> list[Path]:
    """Write this backend's file set for one speaker into the empty folder ``out_dir``.

    ``speaker_source`` holds config.json and style_vectors.npy; ``checkpoint`` is the chosen
    ``*.safetensors``. ``cache_dir`` is a folder the caller reserves for this backend's derived
    files (publishing passes ``<dataset>/onnx/`` for datasets, ``<cache root>/exports/`` for other
    folders); a backend keeps there whatever lets it skip work next time and must never reuse
    anything made from another checkpoint, config or version of itself. The torch backend copies
    the checkpoint; the ONNX backend exports synthesizer.onnx and duration_predictor.onnx (or
    reuses a cached export of the same checkpoint, config and exporter version). Returns the files
    written.

    Example::

        @hookimpl
        def hayakoe_prepare_files(speaker_source, checkpoint, out_dir, cache_dir, progress):
            out_dir.mkdir(parents=True, exist_ok=True)
            return [Path(shutil.copy2(checkpoint, out_dir / checkpoint.name))]
    """


@hookspec(firstresult=True)
def hayakoe_load_bert(bert_root: Path, device: str) -> BertFeatures | None:
    """A BERT feature extractor of this backend's own for ``device``, or ``None`` to use core's.

    ``bert_root`` is a BERT source root (``bert/tokenizer/``, ``onnx/bert/q8/``, and
    ``pytorch/bert/fp32/`` when it was published). Core's default is the int8 ONNX BERT on CPU;
    the torch backend returns its FP32 BERT for ``cuda`` when ``pytorch/bert/fp32/`` exists.
    """


@hookspec(firstresult=True)
def hayakoe_load_runtime(speaker_dir: Path, device: str, cache_dir: Path | None) -> SpeakerModel:
    """Load the speaker in ``speaker_dir`` (this backend's file set) for synthesis on ``device``.

    ``cache_dir`` is a folder of the runtime's cache reserved for this backend, where it may keep
    files derived from the speaker's (e.g. optimised graphs) to load faster next time; ``None``
    means keep nothing.

    Raise :class:`~hayakoe_core.errors.ConfigError` naming the file when the set is incomplete
    or inconsistent, and :class:`~hayakoe_core.errors.HayakoeError` when ``device`` is not
    available (e.g. ``cuda`` without CUDA).
    """


@hookspec(firstresult=True)
def hayakoe_check_files(speaker_source: Path, checkpoint: Path) -> None:
    """Check, cheaply and without writing anything, that :func:`hayakoe_prepare_files` can make
    this backend's file set from ``speaker_source`` and ``checkpoint``.

    Called by publishing before anything is written anywhere, with the same arguments
    ``prepare_files`` will get. Read headers, not weights (a full-size checkpoint is 250 MB): the
    torch backend compares the checkpoint's safetensors header with the model ``config.json``
    implies. Return ``None`` when the files will do; raise
    :class:`~hayakoe_core.errors.ConfigError` naming the file (and key) and the fix when not, or
    :class:`~hayakoe_core.errors.PluginError` when something this backend needs to prepare files
    is not installed. Optional: a backend without it is checked only when it prepares files.

    Example::

        @hookimpl
        def hayakoe_check_files(speaker_source, checkpoint):
            if checkpoint.stat().st_size == 0:
                raise ConfigError(f"{checkpoint}: empty checkpoint; copy it again")
    """
