"""Pure training library for per-codec VMAF predictors. Nothing here imports ``console``.

Packages, lowest first; a package imports only from packages above it in this list:

- ``core``      codecs, the 14 model inputs, the ADR-0303 gate, atomic writes, display, seeds, versions
- ``ingest``    corpus discovery, parsing with a rejection ledger, clips, the live corpus, synthetic data
- ``learning``  profiles, folds, metrics, the linear baseline, the MLP, tasks, results, events
- ``executors`` where tasks run: the local process pool (with its parent watch) or a Dask cluster
- ``engine``    the training engine: job book, dispatcher, final trainer, and the loops that drive them
- ``shipping``  ONNX export and checks, model cards, promotion (plan, lock, backup, apply), stubs
- ``outputs``   the report and its reader, JUnit XML, the Markdown summary, human descriptions
- ``run``       orchestration: the run service, batch, CLI, options and config, shutdown, log, promotion
- ``bench``     the benchmark (``python -m trainer.bench``); nothing imports it

The only top-level module is the entry point ``python -m trainer`` (``--write-stubs`` regenerates the stubs).
"""
