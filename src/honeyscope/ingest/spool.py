"""The collect spool: received lines, appended and fsync'd before they count as received.

Layout: ``SPOOL/seg-NNNNNNNN.log`` files of ``SENDER<TAB>MESSAGE`` lines, appended only, a new
segment once one passes :data:`SEGMENT_BYTES`; ``SPOOL/.lock`` is held (flock) by the one collect
using it. What the store has committed of a segment is written in the same manifest commit as the
rows (the input record's ``spool`` field), so commit and offset are one atomic step; a segment that
is committed whole and is not the one being written is deleted.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import uuid
from pathlib import Path

from honeyscope.store.store import fsync_dir

SEGMENT_BYTES = 64 * 1024 * 1024
_NAME = "seg-{:08d}.log"


class SpoolBusyError(RuntimeError):
    pass


class Spool:
    def __init__(self, directory: str | Path, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.segment_bytes = segment_bytes
        self._lock = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(self._lock)
            if e.errno in (errno.EAGAIN, errno.EACCES):
                raise SpoolBusyError(f"another collect is using the spool {self.dir}") from None
            raise
        idf = self.dir / ".id"
        if not idf.is_file():
            tmp = self.dir / ".id.tmp"
            tmp.write_text(uuid.uuid4().hex)
            os.replace(tmp, idf)
        self.id = idf.read_text().strip()  # names this spool in the store's records
        segs = self.segments()
        if not segs:
            (self.dir / _NAME.format(1)).touch()
            segs = self.segments()
        self.current = segs[-1]
        self._recover(self.current)
        self._fd = os.open(self.dir / self.current, os.O_WRONLY | os.O_APPEND)
        self.size = os.fstat(self._fd).st_size

    def segments(self) -> list[str]:
        return sorted(p.name for p in self.dir.glob("seg-*.log"))

    def _recover(self, name: str) -> None:
        """Cut a line that a kill left half-written at the end of the segment being written."""
        path = self.dir / name
        size = path.stat().st_size
        if not size:
            return
        with open(path, "rb+") as f:
            pos = size
            while pos > 0:
                start = max(0, pos - 65536)
                f.seek(start)
                chunk = f.read(pos - start)
                nl = chunk.rfind(b"\n")
                if nl >= 0:
                    cut = start + nl + 1
                    break
                pos = start
            else:
                cut = 0
            if cut != size:
                f.truncate(cut)
                os.fsync(f.fileno())

    def append(self, data: bytes) -> tuple[str, int]:
        """Append whole lines and fsync; returns (segment, its durable size). Rolls to a new segment
        once this one is full."""
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        os.fsync(self._fd)
        self.size += len(data)
        seg, size = self.current, self.size
        if self.size >= self.segment_bytes:
            os.close(self._fd)
            self.current = _NAME.format(int(self.current[4:12]) + 1)
            self._fd = os.open(self.dir / self.current, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            self.size = 0
            fsync_dir(self.dir)
        return seg, size

    def read(self, name: str, start: int, end: int) -> bytes:
        with open(self.dir / name, "rb") as f:
            f.seek(start)
            return f.read(end - start)

    def size_of(self, name: str) -> int:
        return (self.dir / name).stat().st_size

    def remove(self, name: str) -> None:
        if name != self.current:
            (self.dir / name).unlink(missing_ok=True)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)
        with contextlib.suppress(OSError):
            os.close(self._lock)
