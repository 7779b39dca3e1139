"""Ingest: corpus files -> accepted rows as columns, every rejected row counted with its reason.

Discovery, parsing, the column table, per-frame clips, the live (appended-to) corpus, and the
synthetic and demo corpora. May import ``core`` only.
"""
