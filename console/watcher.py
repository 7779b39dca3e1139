"""Watch corpus roots for *.jsonl changes, debounced, off the UI thread.

A watchdog observer reports created, modified, moved and deleted files; paths collect until the
roots have been quiet for ``debounce_s``, then ``on_change`` gets them once. A root that does
not exist yet is checked every second and watched as soon as it appears.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

ROOT_POLL_SECONDS = 1.0


def _is_corpus_file(path: str) -> bool:
    return path.endswith(".jsonl")


class _Collector(FileSystemEventHandler):
    def __init__(self, watcher: CorpusWatcher) -> None:
        self._watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        """Note each ``*.jsonl`` an event names that the watcher wants (both ends of a move); folders are ignored."""
        if event.is_directory:
            return
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            path = raw.decode() if isinstance(raw, bytes) else raw
            if path and _is_corpus_file(path) and self._watcher.wants(path):
                self._watcher.note(path)


class CorpusWatcher:
    """The corpus roots and named files, watched from ``start()`` to ``stop()``; see the module.

    Parameters
    ----------
    roots : iterable of Path
        Folders watched recursively for ``*.jsonl``; one that does not exist yet is watched once it appears.
    files : iterable of Path
        Corpus files named one by one; their folders are watched, not recursively.
    on_change : callable
        Called from the debounce thread with the set of changed paths, once a burst has gone quiet.
    debounce_s : float
        Seconds without an event before a burst is handed on.
    """

    def __init__(
        self,
        roots: Iterable[Path],
        files: Iterable[Path],
        on_change: Callable[[set[str]], None],
        debounce_s: float = 0.5,
    ) -> None:
        self._roots = [Path(r) for r in roots]
        self._files = {str(Path(f)) for f in files}
        self._on_change = on_change
        self._debounce_s = debounce_s
        self._observer = Observer()
        self._handler = _Collector(self)
        self._watched: set[str] = set()
        self._pending: set[str] = set()
        self._last_event = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="corpus-debounce", daemon=True)

    def wants(self, path: str) -> bool:
        """Whether ``path`` is a named file or lies under a watched root (the observer sees its whole folder)."""
        return path in self._files or any(path.startswith(f"{root}/") for root in self._watched)

    def note(self, path: str) -> None:
        """Add a changed path to the burst and restart its quiet period."""
        with self._lock:
            self._pending.add(path)
            self._last_event = time.monotonic()

    def start(self) -> None:
        """Watch the named files' folders and the roots that exist, then start the debounce thread."""
        for path in self._files:
            parent = str(Path(path).parent)
            if Path(parent).is_dir():
                self._observer.schedule(self._handler, parent, recursive=False)
        self._watch_new_roots()
        self._observer.start()
        self._thread.start()

    def stop(self) -> None:
        """Stop both threads, waiting at most 5 s for each, so that a stuck observer cannot hold the exit."""
        self._stop.set()
        self._observer.stop()
        if self._observer.is_alive():
            self._observer.join(timeout=5)
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    @property
    def watched_roots(self) -> list[str]:
        """The roots watched so far (a missing root joins when it appears)."""
        return sorted(self._watched)

    def _watch_new_roots(self) -> list[str]:
        appeared = []
        for root in self._roots:
            key = str(root)
            if key not in self._watched and root.is_dir():
                self._observer.schedule(self._handler, key, recursive=True)
                self._watched.add(key)
                appeared.append(key)
        return appeared

    def _run(self) -> None:
        next_root_poll = time.monotonic() + ROOT_POLL_SECONDS
        while not self._stop.wait(min(0.05, self._debounce_s / 4)):
            now = time.monotonic()
            if now >= next_root_poll:
                next_root_poll = now + ROOT_POLL_SECONDS
                for root in self._watch_new_roots():
                    for path in Path(root).rglob("*.jsonl"):
                        self.note(str(path))
            with self._lock:
                ready = self._pending and now - self._last_event >= self._debounce_s
                batch, self._pending = (self._pending, set()) if ready else (set(), self._pending)
            if batch:
                self._on_change(batch)
