"""Pure training library for per-codec VMAF predictors. Nothing here imports ``console``.

Packages, lowest first; a package imports only from packages above it in this list:

- ``core``      codecs, the 14 model inputs, the ADR-0303 gate, atomic writes, display, seeds, versions
- ``ingest``    corpus discovery, parsing with a rejection ledger, clips, the live corpus, synthetic data
- ``learning``  profiles, folds, metrics, the linear baseline, the MLP, tasks, results, events
- ``executors`` where tasks run: the local process pool (with its parent watch) or a Dask cluster
- ``shipping``  ONNX export and checks, model cards, promotion (plan, lock, backup, apply), stubs
- ``outputs``   the report and its reader, JUnit XML, the Markdown summary, human descriptions
- ``run``       the engine (job book, dispatcher, final trainer), batch, CLI, config, shutdown, log, bench

Top-level modules are entry points only: ``python -m trainer``, ``python -m trainer.stubs``,
``python -m trainer.bench``.
"""
