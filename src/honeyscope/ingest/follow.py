"""``honeyscope ingest --follow FILE...``: tail files like ``tail -F`` into the store, across logrotate.

Each file is polled (every ``interval`` seconds); whole lines read are committed in batches every
``commit_every`` seconds or ``commit_lines`` lines, each batch one input record of the manifest with
the same fields as a file ingest's (source, byte and line range, sha256 of the file's bytes up to the
batch's end), so a restart (or a later ``honeyscope ingest`` of the file) goes on from the last commit.
An unterminated last line waits for its newline.

Rotation, each logrotate mode:

* **rename + create** (and compression of the renamed file): the path names a new inode; the old
  one is read to its end through the descriptor held open (even once compressed and deleted), for
  ``grace`` seconds in case the writer has not reopened yet, then the new file is read from its start.
* **copytruncate**: the file shrinks, or its first bytes change. The lines written between the last
  read and the truncation are in the copy: the rotated sibling (``FILE.1``, ``FILE-20240601``,
  compressed or not) whose first bytes hash as what was read is read from there on. Lines written
  between logrotate's copy and its truncation are lost by logrotate itself (a known limit of the mode).

A file rotated while nothing followed it is caught up at the next start from its newest rotated
siblings. Two rotations between two polls would skip the file in between (polls are 0.1 s apart).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from honeyscope.ingest import live, sources
from honeyscope.store.store import Store

#: Bytes read from one file per poll at most (memory stays bounded whatever the file's size).
READ_CHUNK = 8 * 1024 * 1024
#: Bytes of a file's start compared at each poll to notice a copytruncate the size does not show.
HEAD = 4096


@dataclass
class FollowStats(live.LiveTotals):
    store: str
    files: int = 0
    lines: int = 0
    rows: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    hosts: dict[str, int] = field(default_factory=dict)
    commits: int = 0
    rotations: int = 0
    truncations: int = 0
    lost: int = 0  # bytes a copytruncate removed that no rotated copy held
    last_commit: str | None = None
    seconds: float = 0.0


@dataclass
class _Gen:
    """One inode of a followed path, read from ``start`` on."""

    fd: int
    ino: int
    offset: int = 0  # bytes of whole lines taken (hashed)
    committed: int = 0  # byte offset of the last commit
    line: int = 1  # number of the next line
    committed_line: int = 1
    hash: Any = field(default_factory=hashlib.sha256)
    tail: bytes = b""  # an unterminated last line
    head: bytes = b""
    pending: list[bytes] = field(default_factory=list)
    pending_lines: int = 0
    rotated_at: float | None = None  # when the path stopped naming this inode
    quiet_since: float | None = None


class _File:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = str(path)
        self.cur: _Gen | None = None
        self.old: list[_Gen] = []


class Follower:
    def __init__(
        self,
        store: str | Path,
        files: list[str],
        *,
        commit_every: float = 5.0,
        commit_lines: int = 200_000,
        interval: float = 0.1,
        grace: float = 1.0,
        sensor: str | None = None,
        tz: str = "UTC",
        year: int | None = None,
        status: Callable[[FollowStats], None] | None = None,
    ) -> None:
        if not files:
            raise ValueError("give at least one file to follow")
        if commit_every <= 0:
            raise ValueError("--commit-every must be a positive number of seconds")
        self.files = [_File(Path(os.path.abspath(f))) for f in files]
        for f in self.files:
            if f.path.is_dir():
                raise ValueError(f"--follow takes files, not directories: {f.path}")
        self.store_path = Path(store)
        self.commit_every, self.commit_lines = commit_every, commit_lines
        self.interval, self.grace = interval, grace
        self.sensor, self.tz, self.year = sensor, tz, year
        self.status = status
        self.stats = FollowStats(store=str(self.store_path), files=len(self.files))
        self._stop = threading.Event()
        self._due = threading.Event()
        self._lock = threading.Lock()  # polls and commits both touch the files' state
        self._error: BaseException | None = None

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> FollowStats:
        t0 = time.monotonic()
        st = Store(self.store_path, create=True)
        handlers = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                handlers[sig] = signal.signal(sig, lambda *_: self._stop.set())
        committer = None
        try:
            with st.lock(wait=0):
                live.parse_block_job(b"-\n", 1, "-", "-", False, "UTC", None)  # the parser's imports, now
                for f in self.files:
                    self._catch_up_rotated(st, f)
                    self._open(st, f)
                # commits run beside the polls, so that a slow commit never makes a poll miss a rotation
                committer = threading.Thread(target=self._committer, args=(st,), daemon=True)
                committer.start()
                while not self._stop.is_set():
                    with self._lock:
                        for f in self.files:
                            self._poll(f)
                    if self._waiting() >= self.commit_lines:
                        self._due.set()
                    if self.status:
                        self.status(self.stats)
                    self._stop.wait(self.interval)
                with self._lock:
                    for f in self.files:  # the last read, rotated files' last lines included
                        self._poll(f)
                self._due.set()
                committer.join()
                if self._error is not None:
                    raise self._error
                self._commit(st)
                if self.status:
                    self.status(self.stats)
        finally:
            self._stop.set()
            self._due.set()
            for sig, h in handlers.items():
                signal.signal(sig, h)
            for f in self.files:
                for g in [*f.old, f.cur]:
                    if g:
                        with contextlib.suppress(OSError):
                            os.close(g.fd)
        self.stats.seconds = time.monotonic() - t0
        return self.stats

    def _waiting(self) -> int:
        return sum(g.pending_lines for f in self.files for g in [*f.old, f.cur] if g)

    def _committer(self, st: Store) -> None:
        try:
            while not self._stop.is_set():
                self._due.wait(self.commit_every)
                self._due.clear()
                if not self._stop.is_set():
                    self._commit(st)
        except BaseException as e:  # stops the run; run() raises it
            self._error = e
            self._stop.set()

    # -- opening, resuming ---------------------------------------------------------------------
    def _open(self, st: Store | None, f: _File) -> None:
        try:
            fd = os.open(f.path, os.O_RDONLY)
        except FileNotFoundError:
            return  # like tail -F: wait for it
        ino = os.fstat(fd).st_ino
        g = _Gen(fd=fd, ino=ino)
        if st is not None:
            self._resume(st, f, g)
        f.cur = g

    def _resume(self, st: Store, f: _File, g: _Gen) -> None:
        """Start after the last batch committed from this file's current content, if any."""
        size = os.fstat(g.fd).st_size
        best = None
        mine = [e for e in st.records
                if e.source == f.name and e.compression is None and 0 < (e.end_byte or 0) <= size]
        for e in sorted(mine, key=lambda e: -(e.end_byte or 0)):
            if sources.file_digest(f.path, e.end_byte) == e.sha256:
                best = e
                break
        if best is None or best.end_byte is None or best.end_line is None:
            return
        end = best.end_byte
        pos = 0
        while pos < end:
            chunk = os.pread(g.fd, min(sources.HASH_CHUNK, end - pos), pos)
            if not chunk:
                break
            g.hash.update(chunk)
            if len(g.head) < HEAD:
                g.head += chunk[: HEAD - len(g.head)]
            pos += len(chunk)
        g.offset = g.committed = end
        g.line = g.committed_line = best.end_line + 1

    def _catch_up_rotated(self, st: Store, f: _File) -> None:
        """The file was rotated while nothing followed it: the rest of the generation last committed
        is in a rotated sibling (the newest two are looked at), read from where the commit ended."""
        recs = sorted((e for e in st.records if e.source == f.name and e.compression is None
                       and (e.end_byte or 0) > 0 and e.end_line is not None),
                      key=lambda e: -(e.end_byte or 0))
        if not recs:
            return
        for cand in _siblings(f.path)[:2]:
            for e in recs:
                end, line = int(e.end_byte or 0), int(e.end_line or 0) + 1
                rest = _rest_of(cand, end, _Digest(e.sha256))
                if rest is None:
                    continue
                if rest:
                    g = _Gen(fd=-1, ino=-1, offset=end, committed=end, line=line, committed_line=line)
                    g.hash = _prefix_hash(cand, end)
                    self._take(g, rest, final=True)
                    self._commit_gen(st, f, g)
                    self.stats.rotations += 1
                break

    # -- reading -------------------------------------------------------------------------------
    def _take(self, g: _Gen, data: bytes, final: bool = False) -> None:
        """Add read bytes: whole lines become pending; an unterminated rest waits (unless final)."""
        data = g.tail + data
        cut = len(data) if final else data.rfind(b"\n") + 1
        whole, g.tail = data[:cut], data[cut:]
        if not whole:
            return
        g.hash.update(whole)
        if len(g.head) < HEAD:
            g.head += whole[: HEAD - len(g.head)]
        g.offset += len(whole)
        g.pending.append(whole)
        n = live.line_count(whole)
        g.pending_lines += n
        g.line += n

    def _read(self, g: _Gen) -> bool:
        """Read what was appended; True if anything was."""
        pos = g.offset + len(g.tail)
        got = False
        while True:
            chunk = os.pread(g.fd, READ_CHUNK, pos)
            if not chunk:
                return got
            got = True
            pos += len(chunk)
            self._take(g, chunk)
            if len(chunk) < READ_CHUNK:
                return got

    def _poll(self, f: _File) -> None:
        now = time.monotonic()
        for g in list(f.old):  # rotated away: read to the end, then let go after a quiet grace time
            if g.quiet_since == -1.0:  # done (a truncated inode's new content is another generation)
                continue
            if self._read(g):
                g.quiet_since = now
            elif now - (g.quiet_since or now) >= self.grace or self._stop.is_set():
                self._take(g, b"", final=True)  # the writer has moved on: its last line is whole
                g.quiet_since = -1.0  # done: committed and closed by _commit
        if f.cur is None:
            self._open(None, f)
            if f.cur is None:
                return
        g = f.cur
        try:
            ino = os.stat(f.path).st_ino
        except FileNotFoundError:
            ino = None
        if ino != g.ino:  # renamed away (and maybe compressed): keep reading the old inode
            self._read(g)
            g.rotated_at = g.quiet_since = now
            f.old.append(g)
            f.cur = None
            self.stats.rotations += 1
            if ino is not None:
                self._open(None, f)
                if f.cur is not None:
                    self._read(f.cur)
            return
        if self._truncated(g):
            if not self._recover_copy(f, g):
                return  # the copy is not complete yet (being compressed?): try again next poll
            self.stats.truncations += 1
            return
        self._read(g)

    def _truncated(self, g: _Gen) -> bool:
        size = os.fstat(g.fd).st_size
        if size < g.offset + len(g.tail):
            return True
        return bool(g.head) and os.pread(g.fd, len(g.head), 0) != g.head

    def _recover_copy(self, f: _File, g: _Gen) -> bool:
        """After a copytruncate: read the rest of what we had from the rotated copy, then start
        this inode over as a new file. False while no copy can be read yet (retried, up to 30 s)."""
        for cand in _siblings(f.path):
            rest = _rest_of(cand, g.offset, g.hash)
            if rest is not None:
                self._take(g, rest[len(g.tail):] if rest.startswith(g.tail) else rest, final=True)
                break
        else:
            g.rotated_at = g.rotated_at or time.monotonic()
            if time.monotonic() - g.rotated_at < 30 and not self._stop.is_set():
                return False
            self.stats.lost += len(g.tail)
            g.tail = b""
        # what was read is committed as the old content; the truncated file starts over
        g.quiet_since = -1.0
        f.old.append(g)
        f.cur = _Gen(fd=os.dup(g.fd), ino=g.ino)
        return True

    # -- committing ----------------------------------------------------------------------------
    def _commit(self, st: Store) -> None:
        with self._lock:
            gens = [(f, g) for f in self.files for g in [*f.old, f.cur] if g is not None and g.pending]
        for f, g in gens:
            self._commit_gen(st, f, g)
        with self._lock:
            for f in self.files:
                for g in [g for g in f.old if g.quiet_since == -1.0 and not g.pending]:
                    f.old.remove(g)
                    with contextlib.suppress(OSError):
                        os.close(g.fd)

    def _commit_gen(self, st: Store, f: _File, g: _Gen) -> None:
        with self._lock:  # take what is pending; polls go on adding to the next batch meanwhile
            blocks, lines = g.pending, g.pending_lines
            g.pending, g.pending_lines = [], 0
            start, end, first = g.committed, g.offset, g.committed_line
            sha = g.hash.copy().hexdigest()
        if not blocks:
            return
        rec = live.commit_blocks(st, blocks, first, {
            "source": f.name, "kind": "log", "compression": None,
            "start_byte": start, "end_byte": end, "sha256": sha,
            "options": {"year": self.year, "tz": self.tz, "sensor": self.sensor}, "follow": True,
        }, sensor=self.sensor or f.path.name, tz=self.tz, year=self.year)
        with self._lock:
            g.committed, g.committed_line = end, first + lines
        self.stats.add_commit(rec, lines)


class _Digest:
    """A recorded sha256, compared like a hash object."""

    def __init__(self, hexdigest: str | None) -> None:
        self._hex = hexdigest or ""

    def hexdigest(self) -> str:
        return self._hex


def _prefix_hash(path: Path, upto: int) -> Any:
    """sha256 of the first ``upto`` decompressed bytes of ``path``, to be continued."""
    h = hashlib.sha256()
    reader = sources.Reader(sources.Input(str(path), path))
    try:
        left = upto
        for block in reader.blocks():
            h.update(block[:left])
            left -= min(left, len(block))
            if not left:
                break
    finally:
        reader.close()
    return h


def _siblings(path: Path) -> list[Path]:
    """Rotated copies of ``path`` (``path.1``, ``path.1.gz``, ``path-20240601``...), newest first."""
    base = path.name
    out = []
    with contextlib.suppress(OSError):
        for p in path.parent.iterdir():
            if p.name != base and p.name.startswith((base + ".", base + "-")) and p.is_file():
                out.append(p)
    return sorted(out, key=lambda p: p.stat().st_mtime, reverse=True)


def _rest_of(path: Path, offset: int, prefix_hash: Any) -> bytes | None:
    """The decompressed bytes of ``path`` after ``offset`` if its first ``offset`` bytes hash as
    ``prefix_hash``; None otherwise (or when it cannot be read whole, e.g. still being written)."""
    try:
        reader = sources.Reader(sources.Input(str(path), path))
        try:
            data = reader.read_all()
        finally:
            reader.close()
    except (OSError, EOFError, ValueError):
        return None
    if len(data) < offset or hashlib.sha256(data[:offset]).hexdigest() != prefix_hash.hexdigest():
        return None
    return data[offset:]


def follow(store: str | Path, files: list[str], **kw: Any) -> FollowStats:
    """Follow ``files`` into ``store`` until SIGTERM/SIGINT (see :class:`Follower`)."""
    return Follower(store, files, **kw).run()
