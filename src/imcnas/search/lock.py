"""One writer per study: an exclusive lock file in the study folder (``filelock``: ``flock`` on POSIX), held
while a :class:`~imcnas.search.study.Study` is open. The operating system drops it when the process dies, so
a killed search never leaves a stale lock behind."""
from __future__ import annotations

import os
import socket
from pathlib import Path

from filelock import FileLock, Timeout

from imcnas.errors import ConfigError

LOCK_FILE = ".imcnas.lock"


class StudyLock:
    """An exclusive, non-blocking lock on ``out_dir``."""

    def __init__(self, out_dir: str | Path) -> None:
        self.path = Path(out_dir) / LOCK_FILE
        self._lock = FileLock(str(self.path), timeout=0)
        self._info = Path(out_dir) / (LOCK_FILE + ".owner")

    def acquire(self) -> "StudyLock":
        """Take the lock or raise a one-line ConfigError naming the process that holds it."""
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            owner = self._info.read_text().strip() if self._info.exists() else "another process"
            raise ConfigError(f"{self.path.parent}: the study is being written by {owner}; wait for it to end "
                              "or choose another --out (one writer per study)") from None
        self._info.write_text(f"imcnas pid {os.getpid()} on {socket.gethostname()}\n")
        return self

    def release(self) -> None:
        """Release the lock (idempotent)."""
        if self._lock.is_locked:
            self._lock.release(force=True)

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._lock.is_locked
