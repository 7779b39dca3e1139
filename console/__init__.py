"""Textual operator console over the trainer engine; ``--batch`` is the same engine headless."""
