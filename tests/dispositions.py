"""Children whose signal dispositions the test sets, not the shell that started the suite.

Ignored signals survive ``exec``: under ``nohup`` (SIGHUP ignored) or in a background job of a
non-interactive shell (SIGINT ignored) every process the suite starts would inherit that, and a
test that sends such a signal would test the wrong thing. ``python_argv`` starts Python through a
tiny launcher that sets SIGHUP and SIGINT first (default, or ignored where a test means it), and
optionally makes stdin the controlling terminal of a new session, as a terminal emulator or sshd
starts a shell (closing the pty's master then hangs that session up).
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Collection
from pathlib import Path

RESET = (signal.SIGHUP, signal.SIGINT)

_LAUNCHER = ("import fcntl, os, signal, sys, termios\n"
             "ignored, ctty = {ignored!r}, {ctty!r}\n"
             "for signum in {reset!r}:\n"
             "    signal.signal(signum, signal.SIG_IGN if signum in ignored else signal.SIG_DFL)\n"
             "if ctty:\n"
             "    os.setsid(); fcntl.ioctl(0, termios.TIOCSCTTY, 0)\n"
             "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])\n")


def python_argv(*args: str, ignored: Collection[int] = (), controlling_tty: bool = False) -> list[str]:
    """``[python, *args]`` with SIGHUP and SIGINT at their default, except those in ``ignored``."""
    code = _LAUNCHER.format(ignored=sorted(int(s) for s in ignored), ctty=controlling_tty,
                            reset=[int(s) for s in RESET])
    return [sys.executable, "-c", code, *args]


def disposition(pid: int, signum: int) -> str:
    """'ignored', 'caught' or 'default': what ``pid`` does with ``signum`` now (from /proc)."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    fields = dict(line.split(":\t", 1) for line in status if ":\t" in line)
    bit = 1 << (signum - 1)
    if int(fields["SigIgn"], 16) & bit:
        return "ignored"
    return "caught" if int(fields["SigCgt"], 16) & bit else "default"
