"""Shipping: everything that writes the model directory (ONNX export and checks, cards, promotion
plan, lock, backup and apply, stubs).

May import ``core``, ``ingest``, ``learning`` and ``executors``.
"""
