"""Inputs: paths, directories, globs and stdin, opened whatever their compression, read in blocks.

Compression (gzip, bzip2, xz, zstd) and kind (raw log lines, marx CSV, marx-geo CSV) are recognised by
content, never by name. Decompression is streamed member after member with bounded output, and damage
(a truncated or corrupt archive) ends the input's text where it occurs instead of raising: the lines
before it are kept and :attr:`Reader.damage` says what happened and where.
"""

from __future__ import annotations

import bz2
import fnmatch
import glob
import hashlib
import lzma
import os
import re
import stat
import sys
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import numpy as np
import pyarrow as pa

BLOCK = 8 * 1024 * 1024  # bytes of decompressed text per parse block (measured: 8 MiB is faster
# and leaner than 32 or 64 MiB, and 4 MiB no better)
HASH_CHUNK = 8 * 1024 * 1024
#: raw bytes read at a time, and the most decompressed bytes one step may produce (memory bound)
RAW_CHUNK = 256 * 1024
OUT_CHUNK = 1024 * 1024

MAGIC = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
}

#: Binary formats refused as inputs (first bytes → name).
BINARY_MAGIC = {
    b"PAR1": "Parquet",
    b"\x7fELF": "ELF executable",
    b"PK\x03\x04": "zip archive",
    b"SQLite format 3\x00": "SQLite database",
    b"\x89PNG": "PNG image",
    b"%PDF": "PDF document",
    b"ARROW1": "Arrow file",
}

#: Files a directory scan leaves out unless ``--include`` names them: not logs.
DEFAULT_SKIP = ("*.md", "*.rst", "*.html", "*.htm", "*.parquet", "*.png", "*.jpg", "*.svg", "*.pdf",
                "*.py", "*.toml", "*.yml", "*.yaml", "*.json")


class InputError(ValueError):
    """An input that cannot be read at all (a symlink loop, a socket...)."""


@dataclass
class Input:
    """One input: a file path, or ``-`` for standard input."""

    name: str  # as shown and stored in ``source``: the path as given (resolved), or "-"
    path: Path | None  # None for stdin
    explicit: bool = True  # named on the command line (not found in a directory)
    stream: bool = False  # a FIFO or character device: read once, like stdin (no size, no seek)

    @property
    def is_stdin(self) -> bool:
        return self.path is None

    @property
    def seekable(self) -> bool:
        return self.path is not None and not self.stream

    def mtime(self) -> datetime:
        if self.path is None or self.stream:
            return datetime.now(UTC)
        return datetime.fromtimestamp(self.path.stat().st_mtime, UTC)


def _is_journald_json(path: Path) -> bool:
    """A ``journalctl -o json`` export (one JSON record a line, with journald's fields)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return head.lstrip().startswith(b"{") and b'"__REALTIME_TIMESTAMP"' in head


def _is_store_dir(d: Path) -> bool:
    m = d / "manifest.json"
    if not m.is_file():
        return False
    try:
        with open(m, "rb") as f:
            return b"honeyscope-store" in f.read(4096) or (d / "packets").is_dir()
    except OSError:
        return True


def _matches(f: Path, base: Path, globs: Iterable[str]) -> bool:
    rel = f.relative_to(base).as_posix() if f.is_relative_to(base) else f.name
    return any(fnmatch.fnmatch(f.name, g) or fnmatch.fnmatch(rel, g) for g in globs)


def _walk(d: Path, skip: set[Path], include: tuple[str, ...], exclude: tuple[str, ...]) -> list[Path]:
    """The log files of a directory (recursive, sorted): no hidden files, no store (the target
    store or any other), no file a default or ``exclude`` glob matches unless ``include`` names it."""
    found: list[Path] = []
    for root, dirs, files in os.walk(d, followlinks=False):
        r = Path(root)
        dirs[:] = sorted(x for x in dirs if not x.startswith(".")
                         and (r / x).resolve() not in skip and not _is_store_dir(r / x))
        for name in files:
            f = r / name
            if name.startswith(".") or not f.is_file():
                continue
            if exclude and _matches(f, d, exclude):
                continue
            not_log = name == "fleet.json" or (_matches(f, d, DEFAULT_SKIP) and not (
                name.endswith(".json") and _is_journald_json(f)))
            if not_log and not (include and _matches(f, d, include)):
                continue
            found.append(f)
    return sorted(found)


def _check_path(spec: str, p: Path) -> bool:
    """True for a stream (FIFO, character device); raises a one-line error for what cannot be read."""
    try:
        st = p.stat()
    except OSError as e:
        if e.errno == 40:  # ELOOP
            raise InputError(f"{spec}: symbolic link loop") from None
        if p.is_symlink():
            raise InputError(f"{spec}: broken symbolic link") from None
        raise InputError(f"{spec}: {e.strerror}") from None
    if stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode):
        return True
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{spec}: not a regular file, directory, FIFO or character device")
    if not os.access(p, os.R_OK):
        raise InputError(f"{spec}: permission denied")
    return False


def expand(specs: Iterable[str], *, skip: Iterable[str | Path] = (), include: Iterable[str] = (),
           exclude: Iterable[str] = ()) -> list[Input]:
    """Files, directories (recursive, sorted, logs only: see :func:`_walk`), globs and ``-``; a spec
    that matches nothing is an error. ``skip``: directories never entered (the target store)."""
    out: list[Input] = []
    seen: set[str] = set()
    skipped = {Path(s).resolve() for s in skip}
    inc, exc = tuple(include), tuple(exclude)
    for spec in specs:
        if spec == "-":
            out.append(Input("-", None))
            continue
        p = Path(spec)
        streams: set[Path] = set()
        if p.is_dir():
            if p.resolve() in skipped or _is_store_dir(p):
                raise InputError(f"{spec}: is a honeyscope store, not an input")
            found = _walk(p, skipped, inc, exc)
            explicit = False
        elif os.path.lexists(p):
            if _check_path(spec, p):
                streams.add(p)
            found, explicit = [p], True
        else:
            found = sorted(Path(f) for f in glob.glob(spec, recursive=True) if Path(f).is_file())
            if not found:
                raise FileNotFoundError(f"no such file, directory or glob match: {spec}")
            explicit = True
        for f in found:
            key = str(f.resolve())
            if key not in seen:
                seen.add(key)
                out.append(Input(key, f.resolve(), explicit=explicit, stream=f in streams))
    return out


def compression_of(head: bytes) -> str | None:
    """The compression of a stream starting with ``head``; a file starting with a magic number
    whose header is not valid for that format (a text file that happens to begin with the gzip
    magic bytes) is text."""
    for magic, name in MAGIC.items():
        if head.startswith(magic):
            if name == "gzip" and (len(head) < 4 or head[2] != 8 or head[3] & 0xE0):
                return None  # gzip: method 8 (deflate) and no reserved flag bit
            if name == "bzip2" and (len(head) < 10 or head[3:4] not in b"123456789"
                                    or head[4:10] not in (b"\x31\x41\x59\x26\x53\x59",
                                                          b"\x17\x72\x45\x38\x50\x90")):
                return None
            return name
    return None


def binary_kind(head: bytes) -> str | None:
    """Why a decompressed head is not log text (a binary format, only NUL bytes, control bytes),
    or None for text."""
    for magic, name in BINARY_MAGIC.items():
        if head.startswith(magic):
            return f"{name} file"
    if not head:
        return None
    if not head.strip(b"\x00"):
        return "binary data (only NUL bytes)"
    # (a log cut by a crash can hold a run of NUL bytes where blocks were never written: such runs
    # are not counted; a binary format's NULs are scattered among its other bytes)
    rest = _NUL_RUN.sub(b"", head)
    odd = sum(rest.count(bytes([b])) for b in _NOT_TEXT)
    if odd > max(8, len(rest) // 100):
        return "binary data (control bytes)"
    return None


#: runs of NUL bytes not counted by binary_kind (a hole a crash left in a log)
_NUL_RUN = re.compile(rb"\x00{64,}")
#: bytes no log text holds (TAB, LF, VT, FF, CR and ESC of colour codes are text): random bytes are
#: about 11% of these, a binary format's records more; a log line, none
_NOT_TEXT = (0, *range(1, 9), *range(14, 27), *range(28, 32), 127)


def file_digest(path: Path, upto: int | None = None) -> str:
    """sha256 of the first ``upto`` bytes of a file (all of it by default)."""
    h = hashlib.sha256()
    left = upto
    with open(path, "rb") as f:
        while left is None or left > 0:
            chunk = f.read(HASH_CHUNK if left is None else min(HASH_CHUNK, left))
            if not chunk:
                break
            h.update(chunk)
            if left is not None:
                left -= len(chunk)
    return h.hexdigest()


@dataclass
class Damage:
    """Where the decompression of an input stopped: ``reason`` (``truncated archive`` or
    ``corrupt archive``), ``offset`` (the byte of the compressed file it was detected at) and
    ``detail`` (the decompressor's word)."""

    reason: str
    offset: int
    detail: str = ""

    def text(self, compression: str | None) -> str:
        what = f"{compression} " if compression else ""
        where = (f"{what}data cut at byte {self.offset:,}" if self.reason == "truncated archive"
                 else f"{what}data unreadable after byte {self.offset:,}")
        return f"{self.reason}: {where}" + (f" ({self.detail})" if self.detail else "")


class _Codec:
    """One member (gzip) / stream (bzip2, xz) / frame (zstd) at a time, with bounded output."""

    ZSTD_FEED = 4096  # zstd has no output bound: feed it little at a time
    FEED = 16384

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.reset()

    def reset(self) -> None:
        k = self.kind
        if k == "gzip":
            self.d = zlib.decompressobj(31)
        elif k == "bzip2":
            self.d = bz2.BZ2Decompressor()
        elif k == "xz":
            self.d = lzma.LZMADecompressor()
        else:
            import zstandard

            self.d = zstandard.ZstdDecompressor().decompressobj()
        self.started = False

    @property
    def eof(self) -> bool:
        return bool(self.d.eof)

    @property
    def more(self) -> bool:
        """Output is pending without new input."""
        if self.kind in ("bzip2", "xz"):
            return not self.d.eof and not self.d.needs_input
        return False

    def step(self, data: bytes) -> tuple[bytes, bytes]:
        """(output, input left over) of feeding ``data``."""
        self.started = self.started or bool(data)
        # fed a little at a time, so that damage is located to within FEED bytes
        feed = self.ZSTD_FEED if self.kind == "zstd" else self.FEED
        head, rest = data[:feed], data[feed:]
        if self.kind == "gzip":
            snap = self.d.copy()
            try:
                out = self.d.decompress(head, OUT_CHUNK)
            except zlib.error as e:  # again in small steps from before: keep what decompresses
                self.d, got, at = snap, [], 0
                try:
                    while at < len(head):
                        got.append(self.d.decompress(head[at: at + 256], OUT_CHUNK))
                        at += 256
                except zlib.error:
                    pass
                raise _Partial(b"".join(got), at, e) from None
            return out, (self.d.unused_data + rest if self.d.eof else self.d.unconsumed_tail + rest)
        if self.kind in ("bzip2", "xz"):
            if self.d.eof:
                return b"", data
            out = self.d.decompress(head, OUT_CHUNK)
            return out, (self.d.unused_data + rest if self.d.eof else rest)
        out = self.d.decompress(head)
        return out, (self.d.unused_data + rest if self.d.eof else rest)


class _Partial(Exception):
    """A decompression error, with the output salvaged before it and where it was found."""

    def __init__(self, out: bytes, at: int, error: BaseException) -> None:
        super().__init__(str(error))
        self.out, self.at, self.error = out, at, error


def _codec_errors() -> tuple[type[BaseException], ...]:
    errs: list[type[BaseException]] = [zlib.error, OSError, EOFError, lzma.LZMAError, ValueError]
    try:
        import zstandard

        errs.append(zstandard.ZstdError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errs)


class Reader:
    """Decompressed bytes of an input, from a byte offset of the raw (plain) file, or skipping the
    first ``skip`` bytes of the decompressed text; hashes what it reads (the raw bytes, and the
    decompressed text when it reads from the start).

    A damaged archive does not raise: its text ends where the damage is, :attr:`damage` says
    what and where, and :attr:`damaged_tail` holds the cut line it ended in (not yielded).
    """

    held: int = 0  # bytes of an unterminated last line that blocks(hold_tail=True) left unread
    damage: Damage | None = None
    damaged_tail: bytes = b""  # (the start of) the line a damage cut, not yielded
    unread_tail: int = 0  # its length

    def __init__(self, inp: Input, start: int = 0, skip: int = 0, *, hash_raw: bool = True) -> None:
        """``hash_raw=False``: the raw bytes are not hashed (:attr:`sha256` and, for a plain input,
        :attr:`content_sha256` are then unknown): for a caller that has their digest already."""
        self.input = inp
        self.hash_raw = hash_raw
        raw: IO[bytes]
        if inp.path is None:
            raw = sys.stdin.buffer
        else:
            raw = open(inp.path, "rb")
            if start:
                raw.seek(start)
        self._raw = raw
        self._hash = hashlib.sha256()
        self._count = 0
        self._peeked = self._raw_read_n(16)
        self.compression = compression_of(self._peeked)
        if start and self.compression:
            raise ValueError(f"{inp.name}: cannot resume inside a compressed input")
        self.start = start
        # (the text of a plain file is its bytes: their hash serves for both)
        self._content = hashlib.sha256() if start == 0 and self.compression else None
        self.content_read = start  # decompressed bytes produced (counting ``start``)
        self._chunks = self._decompressed()
        self._pending = b""
        self._eof = False
        self.long_lines = 0
        if skip:
            left = skip
            while left > 0:
                chunk = self._next_chunk()
                if not chunk:
                    break
                if len(chunk) > left:
                    self._pending = chunk[left:]
                    chunk = chunk[:left]
                left -= len(chunk)

    # -- raw side ---------------------------------------------------------------------------
    def _raw_read_n(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            b = self._raw.read(n - len(out))
            if not b:
                break
            out += b
        return out

    def _raw_read(self) -> bytes:
        if self._peeked:
            data, self._peeked = self._peeked + self._raw.read(RAW_CHUNK), b""
        else:
            data = self._raw.read(RAW_CHUNK)
        if self.hash_raw:
            self._hash.update(data)
        self._count += len(data)
        return data

    @property
    def raw_bytes_read(self) -> int:
        return self._count

    @property
    def sha256(self) -> hashlib._Hash:
        return self._hash

    @property
    def content_sha256(self) -> str | None:
        """sha256 of the decompressed text produced so far (from its start), if read from it."""
        if self.compression is None:
            return self._hash.hexdigest() if self.start == 0 and self.hash_raw else None
        return None if self._content is None else self._content.hexdigest()

    # -- decompressed side ------------------------------------------------------------------
    def _decompressed(self) -> Iterator[bytes]:
        if self.compression is None:
            while True:
                data = self._raw_read()
                if not data:
                    return
                yield data
        codec = _Codec(self.compression)
        errors = _codec_errors()
        data = b""
        while True:
            if not data and not codec.more:
                data = self._raw_read()
                if not data:
                    if codec.started and not codec.eof:
                        self.damage = Damage("truncated archive", self._count,
                                             "unexpected end of file")
                    return
            if codec.eof:  # a member ended: another one, zero padding, or trailing garbage
                if data.startswith(next(m for m, k in MAGIC.items() if k == self.compression)):
                    codec.reset()
                elif not data.strip(b"\x00"):
                    data = b""
                    continue
                else:
                    self.damage = Damage("corrupt archive", self._count - len(data),
                                         "data after the end of the compressed stream")
                    return
            try:
                out, data = codec.step(data)
            except _Partial as p:
                if p.out:
                    yield p.out
                self.damage = Damage("corrupt archive", self._count - len(data) + p.at,
                                     str(p.error).splitlines()[0][:120])
                return
            except errors as e:
                self.damage = Damage("corrupt archive", self._count - len(data),
                                     str(e).splitlines()[0][:120] if str(e) else type(e).__name__)
                return
            if out:
                yield out

    def _next_chunk(self) -> bytes:
        if self._eof:
            return b""
        chunk = next(self._chunks, b"")
        if not chunk:
            self._eof = True
            return b""
        if self._content is not None:
            self._content.update(chunk)
        self.content_read += len(chunk)
        return chunk

    def _read(self, n: int) -> bytes:
        """The next ``n`` decompressed bytes (fewer at the end, b"" after it); copied once: only
        the last piece read is cut, its rest kept for the next read."""
        pending = self._pending
        if len(pending) >= n:
            self._pending = pending[n:]
            return pending[:n]
        if self.compression is None and not self._peeked and not self._eof:
            # plain text: what is missing in one read, hashed as it comes (no chunks to join)
            want = n - len(pending)
            data = self._raw.read(want if want < 1 << 31 else -1)  # (read(n) allocates n bytes)
            if self.hash_raw:
                self._hash.update(data)
            self._count += len(data)
            self.content_read += len(data)
            if not data:
                self._eof = True
            self._pending = b""
            return pending + data if pending else data
        parts, got = [pending], len(pending)
        self._pending = b""
        while got < n:
            chunk = self._next_chunk()
            if not chunk:
                break
            if got + len(chunk) > n:
                k = n - got
                chunk, self._pending = chunk[:k], chunk[k:]
            parts.append(chunk)
            got += len(chunk)
        return b"".join(parts)

    def head(self, n: int = 65536) -> bytes:
        """The first ``n`` decompressed bytes, kept for the following reads."""
        while len(self._pending) < n:
            chunk = self._next_chunk()
            if not chunk:
                break
            self._pending += chunk
        return self._pending[:n]

    def read_all(self) -> bytes:
        data = self._read(1 << 62)
        return data

    def blocks(self, size: int = BLOCK, hold_tail: bool = False) -> Iterator[bytes]:
        """Blocks of whole lines, line ends normalised (CR-LF and a lone CR end a line, as LF).

        A line longer than the parser's limit is cut as it streams (its first bytes kept, enough
        for the parser to reject it as ``line too long``; the rest skipped unread into memory), so
        memory stays bounded by the block size whatever the input. The last line may lack its
        newline; with ``hold_tail`` such a line is not yielded (a log being written: the rest of the
        line comes later) and its length is kept in :attr:`held`. In a damaged archive the line the
        damage cut is not yielded either: it is kept in :attr:`damaged_tail`."""
        from honeyscope.ingest.parse_rules import MAX_LINE_BYTES

        cut_at = MAX_LINE_BYTES + 1
        carry, carry_len = b"", 0  # the unterminated line so far, its true length
        skipping = False
        cr = b""  # a CR at the end of a chunk: its LF may start the next one
        while True:
            chunk = self._read(size)
            if not chunk:
                tail, tail_len = carry, carry_len
                if hold_tail and tail_len:  # the unterminated rest held back
                    self.held = tail_len + len(cr)
                    return
                if self.damage is not None and tail_len:
                    self.damaged_tail, self.unread_tail = tail, tail_len
                    return
                if tail or cr:
                    yield tail + (b"\n" if cr else b"")
                return
            if cr:
                chunk, cr = cr + chunk, b""
            if chunk.endswith(b"\r"):
                chunk, cr = chunk[:-1], b"\r"
            if b"\r" in chunk:
                chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if skipping:
                nl = chunk.find(b"\n")
                if nl < 0:
                    carry_len += len(chunk)
                    continue
                chunk = chunk[nl:]  # its newline ends the cut line
                skipping = False
            cut = chunk.rfind(b"\n")  # (the carry holds no newline)
            if cut < 0:
                carry_len += len(chunk)
                carry += chunk
            else:
                # the block is copied once: the carry and the chunk up to its last newline
                yield b"".join((carry, memoryview(chunk)[: cut + 1])) if carry or cut + 1 < len(chunk) \
                    else chunk
                carry = chunk[cut + 1:]
                carry_len = len(carry)
            if len(carry) > cut_at:
                carry = carry[:cut_at]
                skipping = True
                self.long_lines += 1

    def close(self) -> None:
        if self.input.path is not None:
            self._raw.close()


def content_digest(inp: Input, upto: int | None = None) -> str:
    """sha256 of the first ``upto`` bytes of an input's decompressed text (all of it by default)."""
    if inp.path is not None and upto is not None and compression_of(raw_head(inp.path)) is None:
        return file_digest(inp.path, upto)
    r = Reader(inp)
    h = hashlib.sha256()
    left = upto
    try:
        while left is None or left > 0:
            chunk = r._read(HASH_CHUNK)
            if not chunk:
                break
            if left is not None:
                chunk = chunk[:left]
                left -= len(chunk)
            h.update(chunk)
    finally:
        r.close()
    return h.hexdigest()


#: the most of a text's first line :func:`first_line_digest` reads
FIRST_LINE_MAX = 65536


def first_line_digest(head: bytes) -> str:
    """sha256 of the first line of a text (with its newline; its first :data:`FIRST_LINE_MAX`
    bytes if longer) given its first :data:`FIRST_LINE_MAX` bytes or all of it: a text that
    starts with another one, on a line end, has its first line."""
    end = head.find(b"\n", 0, FIRST_LINE_MAX) + 1
    return hashlib.sha256(head[:end or FIRST_LINE_MAX]).hexdigest()


def text_head(inp: Input, n: int = FIRST_LINE_MAX) -> bytes:
    """The first ``n`` bytes of an input's decompressed text (fewer where it is shorter or
    damaged before)."""
    r = Reader(inp, hash_raw=False)
    try:
        return r.head(n)
    finally:
        r.close()


def raw_head(path: Path, n: int = 16) -> bytes:
    """The first ``n`` bytes of a file as stored (its compression's magic number)."""
    with open(path, "rb") as f:
        return f.read(n)


@dataclass
class Scan:
    """One pass over an input's decompressed text (see :func:`scan`)."""

    size: int  # decompressed bytes
    sha256: str  # of all of them
    prefix: int  # the longest ``lengths`` whose prefix digest matched, ending at a line end (0: none)
    damaged: bool
    raw_sha256: str  # of the file's bytes
    compression: str | None


def scan(inp: Input, prefixes: dict[int, set[str]]) -> Scan:
    """Digest an input's decompressed text, and find the longest of the committed contents
    ``prefixes`` (length → digests of committed texts of that length) that it starts with, on a
    line boundary. Streams: memory is one chunk."""
    r = Reader(inp)
    # a plain file's text is its bytes: one digest serves for both (the file is hashed once)
    r.hash_raw = r.compression is not None
    lengths = sorted(n for n in prefixes if n > 0)
    h = hashlib.sha256()
    pos = 0
    best = 0
    li = 0
    try:
        while True:
            chunk = r._read(HASH_CHUNK)
            if not chunk:
                break
            end = pos + len(chunk)
            view, done = memoryview(chunk), 0  # (the hash advances once through the chunk)
            while li < len(lengths) and lengths[li] <= end:
                n = lengths[li]
                k = n - pos
                h.update(view[done:k])
                done = k
                if chunk[k - 1:k] == b"\n" and h.copy().hexdigest() in prefixes[n]:
                    best = n
                li += 1
            h.update(view[done:])
            pos = end
    finally:
        r.close()
    digest = h.hexdigest()
    return Scan(pos, digest, best, r.damage is not None, r.sha256.hexdigest() if r.hash_raw else digest,
                r.compression)


def kind_of(head: bytes) -> str:
    """``marx`` / ``marx-geo`` for the data set's CSV layouts, else ``log``."""
    if b"," not in head.split(b"\n", 1)[0]:  # no CSV header (the CSV reader loads polars: not needed)
        return "log"
    from honeyscope.ingest import seed_csv

    return seed_csv.sniff(head) or "log"


def count_lines(block: bytes) -> int:
    """The lines of a block: its newlines, and an unterminated last line (``bytes.count`` is three
    times slower than numpy on a block)."""
    if not block:
        return 0
    return int(np.count_nonzero(np.frombuffer(block, np.uint8) == 10)) + (not block.endswith(b"\n"))


def lines_array(block: bytes) -> pa.LargeStringArray:
    """A block of text as an Arrow array of its lines (newline and CR-LF's CR removed).

    Invalid UTF-8 is replaced (U+FFFD) so that no input byte sequence can break the parser.
    """
    # (ASCII text, the usual log, is valid UTF-8 as it is: no decoding; a CR is rare: looked for first)
    text = block if block.isascii() else block.decode("utf-8", "replace").encode("utf-8")
    if b"\r" in text:
        text = text.replace(b"\r\n", b"\n")
    if not text:
        return pa.array([], pa.large_string())
    nl = np.flatnonzero(np.frombuffer(text, dtype=np.uint8) == 10)
    n = len(nl) + (not text.endswith(b"\n"))
    # line i ends at its newline nl[i], less the i newlines before it that the data leaves out
    offsets = np.empty(n + 1, np.int64)
    offsets[0] = 0
    offsets[1: len(nl) + 1] = nl - np.arange(len(nl))
    if n > len(nl):
        offsets[n] = len(text) - len(nl)
    data = text.replace(b"\n", b"")
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))
