"""Walk the nested JSON-like sections of a report without a type checker's ``ignore``.

Report sections come back from ``report.json`` (or from a run that may not have written one of them)
as plain objects: any level can be missing, ``None`` or another type. These helpers give every
reader the same forgiving answer (an empty mapping, an empty list, ``None``) instead of each one
chaining ``(x or {}).get(...)`` and silencing the checker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

EMPTY: Mapping[str, Any] = {}


def section(value: object, *keys: str) -> Mapping[str, Any]:
    """The mapping at ``keys`` inside ``value``; empty where a step is missing or not a mapping."""
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value if isinstance(value, Mapping) else EMPTY


def entries(value: object, *keys: str) -> list[Mapping[str, Any]]:
    """The mappings in the list at ``keys`` inside ``value`` (anything else in the list is left out)."""
    *head, last = keys
    found = section(value, *head).get(last)
    if not isinstance(found, Sequence) or isinstance(found, str):
        return []
    return [item for item in found if isinstance(item, Mapping)]


def strings(value: object, *keys: str) -> list[str]:
    """The list of texts at ``keys`` inside ``value`` (empty if missing), each as ``str``."""
    *head, last = keys
    found = section(value, *head).get(last)
    if not isinstance(found, Sequence) or isinstance(found, str):
        return []
    return [str(item) for item in found]


def number(value: object) -> float | None:
    """``value`` as a float, or None where it is missing or not a number (bool is not a number)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
