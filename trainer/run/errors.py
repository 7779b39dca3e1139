"""The run layer's own exceptions, in a module of their own so every other run module can raise them."""

from __future__ import annotations


class ConfigError(Exception):
    """A usage or configuration problem: exit code 2 with this message."""


class InternalError(Exception):
    """An unexpected exception ended the run; the report and the log (with the traceback) were written."""


class OutOfMemory(Exception):
    """The run needed more memory than it may have (its guard stopped it, or an allocation failed): exit 2,
    one line naming the stage and the size; the report holds what was judged before."""
