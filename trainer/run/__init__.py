"""Run: orchestration. The run service both faces drive (engine, promotion, report, exit codes), the
training engine and its parts (job book, dispatcher, final trainer), the batch face, the CLI, the
option table and configuration, stop signals, the run log and the benchmark.

The top of the stack: may import every other package; nothing in ``trainer`` imports it.
"""
