"""Helpers for the S3 destination tests: hook calls through the registry, a recording Progress,
the requests the plugin makes, the objects under a target."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from hayakoe_core.progress import Bar
from hayakoe_core.registry import get_registry
from hayakoe_core.types import Target
from hayakoe_dest_s3.client import make_client


def call(target: Target, method: str, **kwargs: object) -> object:
    """Call a :class:`~hayakoe_core.registry.Store` method for ``target``, as the CLI and the
    runtime do (e.g. ``call(target, "fetch", prefix=…, cache_dir=…, progress=…)``)."""
    return getattr(get_registry().open(target), method)(**kwargs)


class RecordingProgress:
    """A Progress that keeps each bar's total and the sum of its advances."""

    def __init__(self) -> None:
        self.bars: list[dict[str, object]] = []
        self._lock = threading.Lock()

    @contextmanager
    def bar(self, description: str, total: int | None, unit: str = "bytes") -> Iterator[Bar]:
        record = {"description": description, "total": total, "unit": unit, "done": 0}
        self.bars.append(record)
        lock = self._lock

        class _Bar:
            def advance(self, amount: int) -> None:
                with lock:
                    record["done"] += amount  # type: ignore[operator]

        yield _Bar()

    def done(self, starts_with: str) -> int:
        """Bytes reported on the bars whose description starts with ``starts_with``."""
        return sum(int(b["done"]) for b in self.bars if str(b["description"]).startswith(starts_with))


@contextmanager
def watching(event: str, handler: Callable[..., None]) -> Iterator[None]:
    """Call ``handler`` on every botocore ``event`` (e.g. ``"before-send.s3"``) of the plugin's
    S3 client (for the current environment) inside the block; a test's own clients are not
    watched."""
    events = make_client().meta.events
    unique_id = f"hayakoe-test-{id(handler)}"
    events.register(event, handler, unique_id=unique_id)
    try:
        yield
    finally:
        events.unregister(event, unique_id=unique_id)


@contextmanager
def plugin_requests() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every request the plugin's S3 client makes inside the block, as (operation, parameters)."""
    calls: list[tuple[str, dict[str, Any]]] = []
    lock = threading.Lock()

    def record(params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        with lock:
            calls.append((model.name, dict(params)))

    with watching("provide-client-params.s3", record):
        yield calls


def objects(s3_admin: Any, target: Target, *, hidden: bool = False) -> dict[str, bytes]:
    """Every object under the target, by path relative to it, with its bytes; publishing's own
    objects (``.hayakoe/``) only when ``hidden``."""
    found = {}
    start = f"{target.prefix}/" if target.prefix else ""
    for page in s3_admin.get_paginator("list_objects_v2").paginate(Bucket=target.location, Prefix=start):
        for obj in page.get("Contents", []):
            rel = obj["Key"][len(start) :]
            if hidden or ".hayakoe" not in rel.split("/"):
                body = s3_admin.get_object(Bucket=target.location, Key=obj["Key"])["Body"].read()
                found[rel] = body
    return found
