"""Learning: what a model is and how it is judged (profiles, folds, metrics, baseline, MLP, tasks, results).

Tasks are plain functions of plain data, runnable in any process. May import ``core`` and ``ingest``.
"""
