"""Pure training library for per-codec VMAF predictors.

Nothing here imports ``console``: the same functions serve the headless batch, the
operator console and (later) a cluster executor.
"""
