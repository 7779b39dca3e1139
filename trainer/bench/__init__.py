"""The benchmark: whole runs timed as processes, printed as ratios (``python -m trainer.bench``).

The top layer, beside the entry points: it measures every other layer and nothing imports it.
"""
