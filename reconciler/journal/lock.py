"""One run per journal: a second run on the same output would corrupt both tables.

The lock is the operating system's (``flock`` on POSIX, ``LockFileEx`` on Windows, through
filelock) on ``JOURNAL.lock``, so the kernel releases it when the process dies, ``kill -9`` included.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from filelock import FileLock, Timeout

from reconciler.errors import UsageError


class JournalBusy(UsageError):
    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(f"{path}: another reconciler run is using this journal (same output file?); "
                         "wait for it to finish or choose another --output")


class StateBusy(UsageError):
    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(f"{path}: another reconciler run is using this state (the same nightly job twice?); "
                         "wait for it to finish")


class JournalLock:
    """The held lock of one journal (or state); ``close`` releases it."""

    def __init__(self, journal: Path, busy: type[UsageError] = JournalBusy) -> None:
        self.path = lock_path(journal)
        # Not thread-local: a run may open its journal on one thread and finish on another.
        self._lock = FileLock(self.path, timeout=0, thread_local=False)
        try:
            self._lock.acquire()
        except Timeout:
            raise busy(journal) from None

    def remove_file(self) -> None:
        """Delete the lock file while the lock is still held, so that no second run locks a new one meanwhile."""
        with contextlib.suppress(PermissionError):  # Windows: an open file cannot go; filelock removes it on release
            self.path.unlink(missing_ok=True)

    def close(self) -> None:
        """Release the lock; a run that ends leaves no lock file behind."""
        self.remove_file()
        self._lock.release()


def lock_path(journal: Path) -> Path:
    return journal.with_name(journal.name + ".lock")
