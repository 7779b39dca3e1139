"""Outputs: what a run tells people and CI (report.json and its reader, JUnit XML, Markdown summary,
one-line descriptions of events and verdicts). Writes nothing to the model directory.

May import every package above it except ``run``.
"""
