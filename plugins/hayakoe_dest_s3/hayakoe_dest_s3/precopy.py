"""Copying staged files to their live keys ahead of a promote, unseen by readers
(``hayakoe_prepare_promote``): what the publisher's verification of the staging area has time for.

Every staged file a promote will copy — not one staged as identical to the live file, not
``README.md`` (a promote conflict stages it again), not an empty one — gets a multipart upload at
its live key, carrying the file's sha256 as every object this plugin writes does
(:mod:`hayakoe_dest_s3.transfer`), into which the staged object is copied inside the store in
parts (``UploadPartCopy``, each only while the staged object still has the ETag it had when the
pre-copy began). A reader sees nothing of an upload until it is completed; a promote completes it
instead of copying (:mod:`hayakoe_dest_s3.promote`), which moves no bytes.

The staging area records the uploads (:mod:`hayakoe_dest_s3.live_uploads`) before opening them,
again before copying into them, and once all is copied; discard and cleanup abort what the record
names. A pre-copy that fails or is cancelled (a progress bar's ``advance`` raising) stops, leaving
a record that is not complete: the promote then copies every file, as without a pre-copy.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hayakoe_core.layout import README
from hayakoe_core.progress import Progress
from hayakoe_core.types import Target
from hayakoe_dest_s3 import live_uploads, transfer
from hayakoe_dest_s3.hidden import staging_folder
from hayakoe_dest_s3.live_uploads import Upload
from hayakoe_dest_s3.parallel import run_all
from hayakoe_dest_s3.staging import read_index, staged_files

_Part = tuple[Upload, int, int, int]  # upload, part number, first byte, last byte


def _parts(upload: Upload, size: int, part_bytes: int) -> list[_Part]:
    """The parts ``upload`` is copied in: ``part_bytes`` each, the last one shorter."""
    starts = range(0, size, part_bytes)
    return [(upload, n, first, min(size, first + part_bytes) - 1) for n, first in enumerate(starts, 1)]


def prepare(client: Any, target: Target, staging_id: str, progress: Progress) -> None:
    """Pre-copy the staging area ``staging_id`` (see the module docstring); bytes copied go to
    ``progress``."""
    bucket = target.location
    folder = staging_folder(target, staging_id)
    staged = staged_files(client, bucket, folder)
    index = read_index(client, bucket, folder)
    rels = [
        rel for rel, f in sorted(staged.items())
        if rel != README and f.size and rel in index and not index[rel].get("live_etag")
    ]  # fmt: skip
    live_uploads.abort(client, bucket, folder, target.prefix)  # an earlier pre-copy's, if any
    if not rels:
        return
    keys = [target.join(rel) for rel in rels]
    live_uploads.write(client, bucket, folder, keys, [], complete=False)
    opened: list[Upload] = []  # appended to from worker threads

    def open_one(rel: str) -> None:
        metadata = {transfer.SHA256_META: index[rel]["sha256"]}
        response = client.create_multipart_upload(Bucket=bucket, Key=target.join(rel), Metadata=metadata)
        opened.append(Upload(rel, target.join(rel), response["UploadId"], staged[rel].etag))

    run_all(open_one, rels)
    live_uploads.write(client, bucket, folder, keys, opened, complete=False)

    plan = {u.relpath: _parts(u, staged[u.relpath].size, transfer.COPY_PART_BYTES) for u in opened}
    etags: dict[tuple[str, int], str] = {}  # (relpath, part number) → the part's ETag
    total = sum(staged[rel].size for rel in rels)
    with progress.bar(f"pre-copy (inside the store, unseen until promote) → {target}", total) as bar:

        def copy_part(part: _Part) -> None:
            bar.advance(0)  # raises once cancelled: no part starts after that
            upload, number, first, last = part
            size = staged[upload.relpath].size
            response = client.upload_part_copy(
                Bucket=bucket, Key=upload.key, UploadId=upload.upload_id, PartNumber=number,
                CopySource={"Bucket": bucket, "Key": staged[upload.relpath].key},
                CopySourceIfMatch=upload.source_etag,
                **({} if last - first + 1 == size else {"CopySourceRange": f"bytes={first}-{last}"}),
            )  # fmt: skip
            etags[(upload.relpath, number)] = response["CopyPartResult"]["ETag"]
            bar.advance(last - first + 1)

        run_all(copy_part, [part for parts in plan.values() for part in parts])
    done = [
        replace(u, parts=tuple((n, etags[(u.relpath, n)]) for _, n, *_ in plan[u.relpath])) for u in opened
    ]
    live_uploads.write(client, bucket, folder, keys, done, complete=True)
