"""``TTS``: load speakers from any destination and synthesise (ARCHITECTURE §7).

    tts = TTS(device="cpu").load("tsukuyomi", source="s3://bucket/voices").prepare()
    tts.speakers["tsukuyomi"].generate("こんにちは。").save("out.wav")

Sources are parsed and fetched by destination plugins through the registry; the speaker's files
are loaded by the backend plugin for the device (``cpu`` → ``onnx``, ``cuda`` → ``torch``, or
``backend=`` to force one). ``device="cpu"`` needs only the ONNX plugin and never imports torch.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from hayakoe_core.bert.extractor import BertFeatureExtractor
from hayakoe_core.bert.source import fetch_bert_root
from hayakoe_core.errors import (
    CacheError,
    HayakoeError,
    NotFoundError,
    SourceNotFoundError,
    UnreachableError,
)
from hayakoe_core.fetching import Fetcher, cache_root
from hayakoe_core.paths import safe_name, speaker_prefix
from hayakoe_core.progress import default_progress
from hayakoe_core.registry import Capability, Registry, Store, get_registry
from hayakoe_core.speaker import Speaker, Speakers
from hayakoe_core.synthesis import BertFeatures, Compilable
from hayakoe_core.text.frontend import TextFrontend
from hayakoe_core.text.user_dict import UserDictionary

DEFAULT_BERT_SOURCE = "hf://lemondouble/hayakoe"
BERT_SOURCE_ENV = "HAYAKOE_BERT_SOURCE"
#: Where ``load(name)`` looks without a source: ``$HAYAKOE_SOURCE``, else upstream's official repo.
SOURCE_ENV = "HAYAKOE_SOURCE"
DEFAULT_SOURCE = "hf://lemondouble/hayakoe"
#: The backend each device kind uses unless ``TTS(backend=...)`` names another.
DEFAULT_BACKENDS = {"cpu": "onnx", "cuda": "torch"}
# Used instead when the device's default is not installed, first installed first. OpenVINO is not
# the CPU default: it keeps ~85 MiB per distinct utterance length it has run (full-size speaker),
# so a long-running process grows past upstream's memory (README, "OpenVINO backend").
_FALLBACK_BACKENDS = {"cpu": ("openvino",), "cuda": ()}
_WARMUP_TEXT = "テスト。"


class TTS:
    """Speakers loaded from destinations, sharing one cache, one BERT and one text frontend.

    ``device``: ``"cpu"`` or ``"cuda"`` (``"cuda:N"`` too). ``cache_dir``: the cache root (else
    ``$HAYAKOE_CACHE``, else ``./hayakoe_cache``). ``bert_source``: where the shared BERT comes from
    (else the first speaker source that holds one, else ``$HAYAKOE_BERT_SOURCE``, else upstream's
    public ``hf://lemondouble/hayakoe``). ``hf_token``: token for ``hf://`` sources (else
    ``HF_TOKEN``). ``backend``: any installed backend (``"onnx"``, ``"openvino"``, ``"torch"``)
    whatever the device; default: ``onnx`` for ``cpu`` (``openvino`` when only it is installed),
    ``torch`` for ``cuda``. ``offline``: ask no
    remote store, load what is cached (local folders are read as usual); ``HF_HUB_OFFLINE=1`` does
    the same for ``hf://`` sources only.
    """

    def __init__(
        self,
        device: str = "cpu",
        *,
        cache_dir: str | Path | None = None,
        bert_source: str | None = None,
        hf_token: str | None = None,
        backend: str | None = None,
        offline: bool = False,
    ) -> None:
        kind = device.split(":", 1)[0]
        if kind not in DEFAULT_BACKENDS:
            raise HayakoeError(f"unknown device {device!r}: use 'cpu' or 'cuda'")
        self._registry: Registry = get_registry()
        self.device = device
        self.backend = backend or self._default_backend(kind)
        self.cache_dir = cache_root(cache_dir)
        self.bert_source = bert_source
        self.offline = offline
        self._hf_token = hf_token
        self._sources: dict[str, Store] = {}
        self.speakers = Speakers(lambda: self._sources)
        self._user_dict = UserDictionary()
        self._frontend = TextFrontend(self._user_dict)
        self._bert: BertFeatures | None = None
        self._lock = threading.RLock()  # load() and prepare() from several threads

    def __repr__(self) -> str:
        return f"TTS(device={self.device!r}, backend={self.backend!r}, speakers={list(self._sources)})"

    def load(self, name: str, *, source: str | None = None) -> TTS:
        """Register speaker ``name`` from ``source`` (a destination URL; without one
        ``$HAYAKOE_SOURCE``, else upstream's official ``hf://lemondouble/hayakoe``); nothing is
        fetched yet. Thread-safe."""
        store = self._store(source or os.environ.get(SOURCE_ENV) or DEFAULT_SOURCE)
        with self._lock:
            self._sources[safe_name(name)] = store
        return self

    def add_word(self, surface: str, reading: str, accent: int = 0) -> TTS:
        """Read ``surface`` as ``reading`` (kana) with the pitch falling after mora ``accent``."""
        self._user_dict.add_word(surface, reading, accent)
        return self

    def prepare(self, *, warmup: bool = False, compile: bool = False) -> TTS:
        """Fetch and load every speaker registered with :meth:`load` and not prepared yet, and the
        shared BERT. ``warmup``: synthesise a short text with each new speaker, so that the first
        real call is not the slow one. ``compile``: ``torch.compile`` the synthesizer of each new
        speaker and the shared FP32 BERT on CUDA (torch backend), as upstream does; ignored on
        the CPU. Thread-safe: concurrent calls prepare each speaker once."""
        with self._lock:
            return self._prepare(warmup, compile)

    def _prepare(self, warmup: bool, compile: bool) -> TTS:
        info = self._registry.backend(self.backend)
        if self.device.split(":", 1)[0] not in info.devices:
            raise HayakoeError(
                f"the {self.backend} backend runs on {', '.join(info.devices)}, not {self.device!r}"
            )
        fetcher = self._fetcher()
        pending = {n: t for n, t in self._sources.items() if n not in self.speakers}
        folders = {name: self._fetch_speaker(fetcher, name, t) for name, t in pending.items()}
        if self._bert is None:
            self._bert = self._load_bert(fetcher)
        compiling = compile and self.device.startswith("cuda")
        if compiling and isinstance(self._bert, Compilable):
            self._bert.compile()
        for name, folder in folders.items():
            model = self._registry.load_runtime(
                self.backend, folder, self.device, cache_dir=self.cache_dir / "derived" / self.backend
            )
            if compiling and isinstance(model, Compilable):
                model.compile()
            speaker = Speaker(name, model, folder, self._frontend, self._bert)
            if warmup:
                speaker.generate(_WARMUP_TEXT)
            self.speakers.add(speaker)
        return self

    def pre_download(self, device: str | None = None) -> TTS:
        """Fetch every registered speaker's files and the BERT for ``device`` without loading any
        model (no onnxruntime or torch needed): a build step for container images."""
        kind = (device or self.device).split(":", 1)[0]
        backend = (
            self.backend if device is None or kind not in DEFAULT_BACKENDS else self._default_backend(kind)
        )
        fetcher = self._fetcher()
        for name, store in self._sources.items():
            self._fetch_speaker(fetcher, name, store, backend)
        self._bert_root(fetcher, with_fp32=kind == "cuda")
        return self

    # --- internals ----------------------------------------------------------------------------

    def _default_backend(self, kind: str) -> str:
        """The device's default backend, else the first installed fallback (else the default,
        whose absence :meth:`prepare` reports with the extra to install)."""
        installed = {b.name for b in self._registry.backends()}
        preferred = (DEFAULT_BACKENDS[kind], *_FALLBACK_BACKENDS[kind])
        return next((name for name in preferred if name in installed), preferred[0])

    def _store(self, url: str) -> Store:
        target = self._registry.parse_url(url)
        if target.scheme == "hf" and self._hf_token:
            target = dataclasses.replace(target, credential=self._hf_token)
        return self._registry.open(target)

    def _fetcher(self) -> Fetcher:
        return Fetcher(
            self.cache_dir,
            offline=self.offline,
            progress=default_progress(),
            backends=self._registry.backends(),
        )

    def _fetch_speaker(self, fetcher: Fetcher, name: str, store: Store, backend: str | None = None) -> Path:
        folder = self._registry.backend(backend or self.backend).repo_folder
        try:
            return fetcher.fetch(store, speaker_prefix(folder, name)).path
        except SourceNotFoundError:
            raise
        except NotFoundError:
            if fetcher.offline or not store.supports(Capability.LIST):
                raise
            there = store.list_speakers()
            listing = "; ".join(f"{f}/: {', '.join(n)}" for f, n in there.items()) or "none"
            raise NotFoundError(
                f"speaker {name!r} is not at {store.url} under {folder}/ (speakers there: {listing})"
            ) from None

    def _bert_candidates(self) -> Iterator[tuple[Store, bool]]:
        """Where the BERT may come from, in order, each marked whether it must be there.

        A generator, so a fallback is parsed only when reached: a speaker source holding the BERT
        needs no plugin for the default's scheme.
        """
        if self.bert_source:
            yield self._store(self.bert_source), True
            return
        for store in {s.url: s for s in self._sources.values()}.values():
            yield store, False
        yield self._store(os.environ.get(BERT_SOURCE_ENV) or DEFAULT_BERT_SOURCE), True

    def _bert_root(self, fetcher: Fetcher, with_fp32: bool) -> Path:
        for store, required in self._bert_candidates():
            try:
                return fetch_bert_root(fetcher, store, with_fp32=with_fp32)
            except NotFoundError as exc:
                if required:
                    raise self._bert_error(exc, store, required) from exc
            except (UnreachableError, CacheError) as exc:
                raise self._bert_error(exc, store, required) from exc
        raise AssertionError("the last BERT candidate is always required")

    def _bert_error(self, exc: HayakoeError, store: Store, required: bool) -> HayakoeError:
        """``exc`` (same type) saying that it was the shared BERT being fetched, and from where."""
        if self.bert_source:
            why = f"the shared BERT was being fetched from {store.url} (bert_source)"
        elif not required:
            why = f"the shared BERT was being fetched from {store.url}, a speaker's source"
        else:
            why = (
                f"the shared BERT was being fetched from {store.url}, as the speakers' sources hold "
                f"none; pass bert_source= (--bert-source, {BERT_SOURCE_ENV}) to fetch it from elsewhere"
            )
        return type(exc)(f"{why}: {exc}")

    def _load_bert(self, fetcher: Fetcher) -> BertFeatures:
        root = self._bert_root(fetcher, with_fp32=self.device.startswith("cuda"))
        own = self._registry.load_bert(self.backend, root, self.device)
        if own is not None:
            return own
        return BertFeatureExtractor.from_source_root(
            root, optimized_cache=self.cache_dir / "derived" / "bert"
        )
