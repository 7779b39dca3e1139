"""Names from corpora as people see them: cut to a sane length, never altered in the report.

A corpus can carry a 100,000-character ``src`` or a path nested fifty folders deep; printed
whole it floods the log and pushes every console column off screen. Human output shows the
head and tail around an ellipsis, so two long names that differ at either end stay apart.
"""

from __future__ import annotations

NAME_LIMIT = 48
PATH_LIMIT = 96
DETAIL_LIMIT = 120
ELLIPSIS = "…"


def clip(text: str, limit: int = NAME_LIMIT) -> str:
    """``text`` if it fits in ``limit`` characters, else its head, an ellipsis and its tail."""
    if len(text) <= limit:
        return text
    if limit < 8:
        return text[: max(0, limit - 1)] + ELLIPSIS
    tail = (limit - 1) // 3
    return text[: limit - 1 - tail] + ELLIPSIS + text[len(text) - tail :]


def clip_path(path: str) -> str:
    return clip(path, PATH_LIMIT)
