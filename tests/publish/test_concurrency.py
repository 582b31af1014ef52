"""Publishers racing each other, and loaders racing a publisher, on every built-in destination.

* Two publishers of **different** speakers to one destination: both stage, then both promote at
  once (a barrier in the pipeline's ``note`` callback, which it calls just before each promote).
  One wins; the other meets the conflict, re-reads the destination, regenerates the README and
  promotes again: both succeed and the README lists both.
* Two publishers of **the same** speaker: one wins, the other stops with a one-line
  :class:`ConflictError` saying nothing of it was made visible and that running it again is safe;
  the live folder is the winner's, whole.
* One publisher alternating two versions of a speaker while ten loaders fetch it in a loop, each
  time into an empty cache, through the same :class:`Fetcher` call ``TTS.load().prepare()``
  makes: every load is one version whole (every file hashed against that version's manifest).

Local publishers race as processes of their own (spawned), contending for the destination's
lock as two users' would; on S3 (the lease) and the Hub (the compare-and-swap commit) the
exclusion lives at the server, so threads do, and a barrier action can set the in-process Hub
test server's fault rules as they are let go. The pipeline is the real one except that the
backends' files are the tiny ONNX graphs as they are (:class:`PreparedPipeline`): exporting and
the parity check have their own tests and would make twenty rounds take many minutes.

The default suite runs one round of each; ``-m slow`` runs :data:`SOAK_ROUNDS` rounds of each.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hayakoe_core.errors import ConflictError
from hayakoe_core.fetching import Fetcher
from hayakoe_core.layout import MANIFEST
from hayakoe_core.manifest import Manifest, sha256_file
from hayakoe_core.paths import speaker_prefix
from hayakoe_core.publish.pipeline import Pipeline
from hayakoe_core.publish.plan import Receipt
from hayakoe_core.publish.source import CONFIG, STYLE_VECTORS
from hayakoe_core.registry import Capability, Store, get_registry
from tests.publish.speakers import speaker_folder
from tests.publish.test_pipeline import plan_for
from tests.support.hubserver import FaultRule, HubServer

QUICK_ROUNDS = 1
SOAK_ROUNDS = 20
LOADERS = 10
#: No round may take longer than this (seconds): a hang fails the test instead of stalling it.
ROUND_LIMIT = 120
Files = dict[str, str]  # relpath → sha256

pytestmark = pytest.mark.usefixtures("isolated")
ROUNDS = pytest.mark.parametrize(
    "rounds", [QUICK_ROUNDS, pytest.param(SOAK_ROUNDS, marks=pytest.mark.slow)], ids=["quick", "soak"]
)


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three speaker folders with the tiny graphs at the top, each with other style vectors."""
    root = tmp_path_factory.mktemp("versions")
    folders = []
    for n in range(3):
        folder = speaker_folder(root / f"v{n}", graphs=True)
        vectors = np.load(folder / STYLE_VECTORS)
        np.save(folder / STYLE_VECTORS, vectors + np.float32(0.01 * n))
        folders.append(folder)
    return folders


class PreparedPipeline(Pipeline):
    """The real pipeline (inspect, BERT, manifests, README, stage, promote and its conflict
    handling), with the ONNX files taken from the speaker folder as they are: no export, no
    parity check, and no validation of the (known good) source, which imports torch: seconds in
    each new publishing process."""

    def validate(self, *, probe: bool = True) -> None:
        pass

    def _prepare_backends(self, tree: Path) -> None:
        out = tree / speaker_prefix("onnx", self.plan.name)
        out.mkdir(parents=True)
        for f in (self.source.config, self.source.style_vectors, *self.source.onnx_graphs):
            shutil.copy2(f, out / f.name)


def publish(folder: Path, url: str, name: str, tmp: Path, *, note=None, overwrite: bool = False) -> Receipt:
    plan = plan_for(folder, tmp, tmp, name=name, verify=False, overwrite=overwrite)
    plan = dataclasses.replace(plan, destination=url)
    return PreparedPipeline(plan, note=note).run()


def version_files(folder: Path) -> Files:
    """The files a published speaker folder of this version holds, by sha256 (manifest aside)."""
    names = (CONFIG, STYLE_VECTORS, "synthesizer.onnx", "duration_predictor.onnx")
    return {n: sha256_file(folder / n) for n in names}


def whole(folder: Path) -> Files:
    """The files of a fetched speaker folder, each hashed, after checking that they are exactly
    the ones its manifest lists with those hashes (the manifest is read first)."""
    manifest = Manifest.read(folder)
    assert manifest is not None, f"no manifest in {folder}"
    listed = {rel: entry.sha256 for rel, entry in manifest.files.items()}
    present = {
        p.relative_to(folder).as_posix(): sha256_file(p)
        for p in folder.rglob("*")
        if p.is_file() and p.name != MANIFEST and not p.relative_to(folder).as_posix().startswith(".")
    }
    assert present == listed, f"{folder} does not match its manifest: a mix of two publishes"
    return listed


def live_speaker(store: Store, name: str, cache: Path) -> Files:
    fetcher = Fetcher(cache, backends=get_registry().backends())
    return whole(fetcher.fetch(store, speaker_prefix("onnx", name)).path)


def no_staging_left(store: Store) -> None:
    if store.supports(Capability.CLEANUP):
        assert store.cleanup(timedelta(0), dry_run=True) == [], "a staging area was left behind"


@dataclass(frozen=True)
class Publisher:
    """One publish in a race: speaker ``name`` in the version at ``folder`` to ``url``."""

    folder: Path
    url: str
    name: str
    tmp: Path
    overwrite: bool = False


@dataclass(frozen=True)
class Outcome:
    """How a racing publish ended: its notes, and the error it stopped with (type name and
    message; ``None``: it succeeded)."""

    notes: list[str]
    error: tuple[str, str] | None = None


def publish_at_barrier(publisher: Publisher, barrier: Any) -> Outcome:
    """Publish, waiting on ``barrier`` just before the first promote (the pipeline notes
    "promote: …" right before it promotes)."""
    notes: list[str] = []

    def note(text: str) -> None:
        if text.startswith("promote:") and not any(n.startswith("promote:") for n in notes):
            barrier.wait()
        notes.append(text)

    p = publisher
    try:
        publish(p.folder, p.url, p.name, p.tmp, note=note, overwrite=p.overwrite)
    except Exception as exc:
        barrier.abort()  # the others must not wait for a publisher that stopped
        return Outcome(notes, (type(exc).__name__, str(exc)))
    return Outcome(notes)


def _in_process(publisher: Publisher, barrier: Any, results: Any, index: int) -> None:
    results.put((index, publish_at_barrier(publisher, barrier)))


def race(
    publishers: list[Publisher], *, processes: bool, then: Callable[[], None] | None = None
) -> list[Outcome]:
    """Run ``publishers`` at once, as threads or as processes of their own, all stopped just
    before promoting until every one got there; ``then`` runs (threads only) as they are let go."""
    if not processes:
        barrier = threading.Barrier(len(publishers), action=then, timeout=ROUND_LIMIT)
        with ThreadPoolExecutor(len(publishers)) as pool:
            futures = [pool.submit(publish_at_barrier, p, barrier) for p in publishers]
            return [f.result(timeout=ROUND_LIMIT) for f in futures]
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no lock or thread inherited
    barrier, results = context.Barrier(len(publishers), timeout=ROUND_LIMIT), context.Queue()
    children = [
        context.Process(target=_in_process, args=(p, barrier, results, i)) for i, p in enumerate(publishers)
    ]
    for child in children:
        child.start()
    try:
        outcomes = dict(results.get(timeout=ROUND_LIMIT) for _ in children)
    finally:
        for child in children:
            child.join(timeout=ROUND_LIMIT)
            if child.is_alive():
                child.kill()
    return [outcomes[i] for i in range(len(publishers))]


def by_process(url: str) -> bool:
    """Local publishers race as processes: the lock is theirs to contend for, as with users."""
    return url.startswith(("/", "file:"))


def hold_next_commit(url: str, request: pytest.FixtureRequest) -> Callable[[], None] | None:
    """On the Hub, keep the first promote commit "in progress" for a moment, so that the other
    one gets the Hub's real 409 (busy) rather than only the changed parent (412)."""
    if not url.startswith("hf://"):
        return None
    hub: HubServer = request.getfixturevalue("hub")
    return lambda: hub.set_faults([FaultRule("commit", "hold:0.5")])


# --- two speakers at once ------------------------------------------------------------------------


def race_different_speakers(url: str, versions: list[Path], tmp: Path, rounds: int, request) -> None:
    store = get_registry().open(url)
    publish(versions[0], url, "seed", tmp)
    published = ["seed"]
    for r in range(rounds):
        names = (f"a{r}", f"b{r}")
        publishers = [Publisher(v, url, name, tmp) for name, v in zip(names, versions[:2], strict=True)]
        outcomes = race(
            publishers, processes=by_process(url), then=hold_next_commit(url, request) if r % 2 else None
        )
        assert [o.error for o in outcomes] == [None, None]
        assert any("changed meanwhile" in n for o in outcomes for n in o.notes), (
            "the promotes did not overlap: no publisher met the conflict"
        )
        published += names
        assert store.list_speakers() == {"onnx": sorted(published)}
        readme = store.read_readme() or ""
        assert all(f'"{name}"' in readme for name in published), f"README misses one of {published}"
        for name, v in zip(names, versions[:2], strict=True):
            assert live_speaker(store, name, tmp / f"check-{r}-{name}") == version_files(v)
        no_staging_left(store)


@ROUNDS
def test_two_speakers_at_once_both_land(destination: str, versions, tmp_path: Path, request, rounds) -> None:
    race_different_speakers(destination, versions, tmp_path, rounds, request)


# --- one speaker twice at once -------------------------------------------------------------------


def race_same_speaker(url: str, versions: list[Path], tmp: Path, rounds: int, request) -> None:
    store = get_registry().open(url)
    publish(versions[2], url, "seed", tmp)
    for r in range(rounds):
        name, overwrite = f"s{r}", bool(r % 2)
        if overwrite:  # the speaker is live before the race, in a third version
            publish(versions[2], url, name, tmp)
        publishers = [Publisher(v, url, name, tmp, overwrite) for v in versions[:2]]
        then = hold_next_commit(url, request) if r % 4 >= 2 else None
        outcomes = race(publishers, processes=by_process(url), then=then)
        won = [i for i, o in enumerate(outcomes) if o.error is None]
        assert len(won) == 1, (
            f"round {r}: {len(won)} of two publishers of one speaker succeeded: "
            f"{[o.error for o in outcomes]}"
        )
        (lost,) = {0, 1} - set(won)
        kind, message = outcomes[lost].error
        assert kind == ConflictError.__name__, message
        assert "\n" not in message and f"onnx/speakers/{name}" in message
        assert "someone else" in message and "nothing of this publish was made visible" in message
        assert "run the command again" in message
        assert live_speaker(store, name, tmp / f"check-{r}") == version_files(versions[won[0]])
        assert f'"{name}"' in (store.read_readme() or "")
        no_staging_left(store)


@ROUNDS
def test_one_speaker_twice_at_once_one_wins(
    destination: str, versions, tmp_path: Path, request, rounds
) -> None:
    race_same_speaker(destination, versions, tmp_path, rounds, request)


# --- loaders while publishing --------------------------------------------------------------------


def load_while_publishing(url: str, versions: list[Path], tmp: Path, rounds: int) -> None:
    """Ten loaders fetch the speaker in a loop while one publisher replaces it ``rounds`` times.

    The publisher starts only once every loader has loaded (the old version) once, so loads
    overlap the publishes however the threads are scheduled; after the last publish each loader
    makes one more load, which must get the last version."""
    store = get_registry().open(url)
    old, new = version_files(versions[0]), version_files(versions[1])
    last = version_files(versions[rounds % 2])
    publish(versions[0], url, "tiny", tmp)
    done = threading.Event()
    deadline = time.monotonic() + ROUND_LIMIT * (rounds + 1)
    all_loading = threading.Barrier(LOADERS + 1, timeout=ROUND_LIMIT)

    def publisher() -> None:
        try:
            all_loading.wait()
            for r in range(rounds):
                publish(versions[(r + 1) % 2], url, "tiny", tmp, overwrite=True)
        finally:
            done.set()

    def load(cache: Path) -> Files:
        files = live_speaker(store, "tiny", cache)
        assert files in (old, new), "a load got files of neither version"
        shutil.rmtree(cache, ignore_errors=True)
        return files

    def loader(index: int) -> None:
        try:
            assert load(tmp / f"loader-{index}-first") == old, "a load before any publish got a new version"
        finally:
            all_loading.wait()
        count = 0
        while time.monotonic() < deadline:  # bounded even if the publisher hangs
            after, count = done.is_set(), count + 1
            files = load(tmp / f"loader-{index}-{count}")
            if after:
                assert files == last, "a load begun after the last publish got an older version"
                return
        raise AssertionError("the loader ran out of time")

    with ThreadPoolExecutor(LOADERS + 1) as pool:
        loads = [pool.submit(loader, i) for i in range(LOADERS)]
        published = pool.submit(publisher)
        published.result(timeout=max(1.0, deadline - time.monotonic()))
        for future in loads:
            future.result(timeout=ROUND_LIMIT)
    no_staging_left(store)


@ROUNDS
def test_loaders_see_one_version_whole(destination: str, versions, tmp_path: Path, rounds) -> None:
    load_while_publishing(destination, versions, tmp_path, rounds)
