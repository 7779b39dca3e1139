"""Workers that never outlive the process that started them.

Pool workers are children of the fork server, not of the batch or console, so nothing else would
tell them their parent is gone: each one watches the parent's pid and exits when it disappears,
however it died (SIGKILL included).
"""

from __future__ import annotations

import os
import select
import threading
import time

PARENT_POLL_SECONDS = 0.5


def exit_when_parent_dies(parent_pid: int) -> None:
    """In a worker: a daemon thread that ends this process as soon as ``parent_pid`` is gone."""
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="parent-watch", daemon=True).start()


def _watch_parent(parent_pid: int) -> None:
    try:
        pidfd = os.pidfd_open(parent_pid)  # Linux 5.3+: readable once the process has exited
    except ProcessLookupError:
        os._exit(1)
    except (AttributeError, OSError):
        pidfd = None
    if pidfd is not None:
        select.select([pidfd], [], [])
        os._exit(1)
    while True:  # elsewhere: poll the pid
        try:
            os.kill(parent_pid, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:
            pass  # exists, owned by someone else
        time.sleep(PARENT_POLL_SECONDS)
