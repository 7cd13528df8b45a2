"""Inputs: paths, directories, globs and stdin, opened whatever their compression, read in blocks.

Compression (gzip, bzip2, xz, zstd) and kind (raw log lines, marx CSV, marx-geo CSV) are recognised by
content, never by name.
"""

from __future__ import annotations

import bz2
import glob
import gzip
import hashlib
import io
import lzma
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import numpy as np
import pyarrow as pa

from honeyscope.ingest import seed_csv

BLOCK = 8 * 1024 * 1024  # bytes of decompressed text per parse block (measured: 8 MiB is faster
# and leaner than 32 or 64 MiB, and 4 MiB no better)
HASH_CHUNK = 8 * 1024 * 1024

MAGIC = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
}


@dataclass
class Input:
    """One input: a file path, or ``-`` for standard input."""

    name: str  # as shown and stored in ``source``: the path as given (resolved), or "-"
    path: Path | None  # None for stdin

    @property
    def is_stdin(self) -> bool:
        return self.path is None

    def mtime(self) -> datetime:
        if self.path is None:
            return datetime.now(UTC)
        return datetime.fromtimestamp(self.path.stat().st_mtime, UTC)


def expand(specs: Iterable[str]) -> list[Input]:
    """Files, directories (recursive, sorted), globs and ``-``; a spec that matches nothing is an error."""
    out: list[Input] = []
    seen: set[str] = set()
    for spec in specs:
        if spec == "-":
            out.append(Input("-", None))
            continue
        p = Path(spec)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
        elif p.is_file():
            found = [p]
        else:
            found = sorted(Path(f) for f in glob.glob(spec, recursive=True) if Path(f).is_file())
            if not found:
                raise FileNotFoundError(f"no such file, directory or glob match: {spec}")
        for f in found:
            key = str(f.resolve())
            if key not in seen:
                seen.add(key)
                out.append(Input(key, f.resolve()))
    return out


def compression_of(head: bytes) -> str | None:
    for magic, name in MAGIC.items():
        if head.startswith(magic):
            return name
    return None


def _decompressing(raw: IO[bytes], kind: str | None) -> IO[bytes]:
    if kind == "gzip":
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    if kind == "bzip2":
        return bz2.BZ2File(raw)  # type: ignore[return-value]
    if kind == "xz":
        return lzma.LZMAFile(raw)  # type: ignore[return-value]
    if kind == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)  # type: ignore[return-value]
    return raw


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


class Reader:
    """Decompressed bytes of an input, from a byte offset of the raw file; hashes what it reads.

    For stdin the raw bytes are hashed as they stream (the store decides at commit time whether the
    same content was ingested before).
    """

    def __init__(self, inp: Input, start: int = 0) -> None:
        self.input = inp
        raw: IO[bytes]
        if inp.path is None:
            raw = sys.stdin.buffer
        else:
            raw = open(inp.path, "rb")
            if start:
                raw.seek(start)
        self._raw = raw
        self._hashing = _HashingReader(raw)
        peek = self._hashing.peek(8)
        self.compression = compression_of(peek)
        if start and self.compression:
            raise ValueError(f"{inp.name}: cannot resume inside a compressed input")
        self._stream = _decompressing(self._hashing, self.compression)  # type: ignore[arg-type]
        self._pending = b""

    @property
    def raw_bytes_read(self) -> int:
        return self._hashing.count

    @property
    def sha256(self) -> hashlib._Hash:
        return self._hashing.hash

    def head(self, n: int = 65536) -> bytes:
        """The first ``n`` decompressed bytes, kept for the following reads."""
        while len(self._pending) < n:
            chunk = self._stream.read(n - len(self._pending))
            if not chunk:
                break
            self._pending += chunk
        return self._pending[:n]

    def read_all(self) -> bytes:
        data = self._pending + self._stream.read()
        self._pending = b""
        return data

    held: int = 0  # bytes of an unterminated last line that blocks(hold_tail=True) left unread

    def blocks(self, size: int = BLOCK, hold_tail: bool = False) -> Iterator[bytes]:
        """Blocks of whole lines. The last line may lack its newline; with ``hold_tail`` such a
        line is not yielded (a log being written: the rest of the line comes later) and its
        length is kept in :attr:`held`."""
        carry = self._pending
        self._pending = b""
        while True:
            chunk = self._stream.read(size)
            if not chunk:
                if hold_tail:  # whole lines out, the unterminated rest held back
                    cut = carry.rfind(b"\n") + 1
                    carry, self.held = carry[:cut], len(carry) - cut
                if carry:
                    yield carry
                return
            data = carry + chunk
            cut = data.rfind(b"\n")
            if cut < 0:
                carry = data
                continue
            yield data[: cut + 1]
            carry = data[cut + 1 :]

    def close(self) -> None:
        if self.input.path is not None:
            self._raw.close()


class _HashingReader(io.RawIOBase):
    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.hash = hashlib.sha256()
        self.count = 0
        self._peeked = b""

    def peek(self, n: int) -> bytes:
        while len(self._peeked) < n:
            b = self._raw.read(n - len(self._peeked))
            if not b:
                break
            self._peeked += b
        return self._peeked

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:  # type: ignore[override]
        n = len(buf)
        if self._peeked:
            data = self._peeked[:n]
            self._peeked = self._peeked[n:]
        else:
            data = self._raw.read(n)
        if not data:
            return 0
        self.hash.update(data)
        self.count += len(data)
        buf[: len(data)] = data
        return len(data)

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            parts = [self._peeked, self._raw.read()]
            self._peeked = b""
            data = b"".join(parts)
            self.hash.update(data)
            self.count += len(data)
            return data
        return super().read(n) or b""


def kind_of(head: bytes) -> str:
    """``marx`` / ``marx-geo`` for the data set's CSV layouts, else ``log``."""
    return seed_csv.sniff(head) or "log"


def lines_array(block: bytes) -> pa.LargeStringArray:
    """A block of text as an Arrow array of its lines (newline and CR-LF's CR removed).

    Invalid UTF-8 is replaced (U+FFFD) so that no input byte sequence can break the parser.
    """
    text = block.decode("utf-8", "replace").encode("utf-8").replace(b"\r\n", b"\n")
    if not text:
        return pa.array([], pa.large_string())
    nl = np.flatnonzero(np.frombuffer(text, dtype=np.uint8) == 10)
    ends = nl if text.endswith(b"\n") else np.append(nl, len(text))
    starts = np.concatenate(([0], nl + 1))[: len(ends)]
    offsets = np.concatenate(([0], np.cumsum(ends - starts))).astype(np.int64)
    data = text.replace(b"\n", b"")
    return pa.LargeStringArray.from_buffers(len(ends), pa.py_buffer(offsets), pa.py_buffer(data))


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))
