"""``hayakoe.publish(...)``: the whole publish from Python, for notebooks and CI scripts.

The same flow as ``hayakoe publish`` without a single question: every answer is an argument,
a missing one is a one-line :class:`~hayakoe_core.errors.HayakoeError` naming it.
"""

from __future__ import annotations

from pathlib import Path

from hayakoe_core.progress import Progress
from hayakoe_core.publish.pipeline import Note, publish_plan
from hayakoe_core.publish.plan import Receipt
from hayakoe_core.publish.readme import ReadmePolicy
from hayakoe_core.publish.request import Answers, BackendChoice, make_plan
from hayakoe_core.publish.verify import DEFAULT_VERIFY_DIR


def publish(
    folder: str | Path | None = None,
    *,
    to: str | None = None,
    name: str | None = None,
    backend: BackendChoice = "both",
    checkpoint: str | Path | None = None,
    dataset: str | None = None,
    data_root: str | Path | None = None,
    bert_source: str | None = None,
    license: str | None = None,
    readme: ReadmePolicy | None = None,
    overwrite: bool = False,
    verify: bool = True,
    verify_dir: str | Path = DEFAULT_VERIFY_DIR,
    dry_run: bool = False,
    progress: Progress | None = None,
    note: Note | None = None,
) -> Receipt:
    """Publish the speaker in ``folder`` (or ``dataset`` under ``data_root``) to ``to``.

    ``to`` defaults to the destination the environment names (``HAYAKOE_HF_REPO``,
    ``HAYAKOE_S3_BUCKET`` + ``HAYAKOE_S3_PREFIX``, ``HAYAKOE_LOCAL_PATH``); ``backend`` is
    ``"cpu"`` (ONNX files), ``"gpu"`` (PyTorch files) or ``"both"``. Returns the receipt: every
    file with its size, sha256 and whether it was sent, the BERT, the verification per backend
    and the time of each phase. ``note`` receives one line per step.

    Example::

        from hayakoe import publish
        receipt = publish("exports/tsukuyomi", to="s3://voices/prod", name="tsukuyomi")
        print(receipt.state, [v.wav for v in receipt.verification])
    """
    answers = Answers(
        folder=folder, dataset=dataset, data_root=data_root, checkpoint=checkpoint, name=name,
        backend=backend, to=to, bert_source=bert_source, license=license, readme=readme,
        overwrite=overwrite, verify=verify, verify_dir=verify_dir,
    )  # fmt: skip
    return publish_plan(make_plan(answers), dry_run=dry_run, progress=progress, note=note)
