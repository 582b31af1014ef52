"""Publishing: the parts ``hayakoe publish`` is made of, one job per module.

* :mod:`.source` — what to publish: datasets and speaker folders, checkpoints, default name;
* :mod:`.validate` — checks on the source before anything is written anywhere;
* :mod:`.parity` — ONNX graphs and the PyTorch checkpoint agree on fixed inputs;
* :mod:`.readme` — the destination's four-language README (pure functions);
* :mod:`.envfile` — reading and saving credentials in ``.env``;
* :mod:`.verify` — loading a published speaker in a clean process (:mod:`.verify_child`)
  and checking its audio;
* :mod:`.plan` — the plan a publish carries out and the receipt it returns.

The pipeline never prompts: an interactive layer fills in a plan and the pipeline carries it out.
"""
