"""Run: orchestration. The training engine and its parts (job book, dispatcher, final trainer), the
batch, the CLI, configuration, stop signals, the run log and the benchmark.

The top of the stack: may import every other package; nothing in ``trainer`` imports it.
"""
