"""Executors: where tasks run. A local fork-server process pool whose workers die with their parent,
a Dask cluster, and the host that creates, replaces and kills either one.

May import ``core``, ``ingest`` and ``learning``.
"""
