"""Live ingest: batches of lines that arrive while honeyscope runs (``collect``, ``ingest --follow``),
parsed and committed to the store through the same transaction as ``ingest``.

A batch is committed as one input record of the manifest: readers see whole batches or nothing, and
the record names the bytes it covers (a spool segment's offsets, or a followed file's), so that a
restart after a ``kill -9`` starts exactly where the last commit ended.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, wait
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numba as nb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from honeyscope.ingest import sources
from honeyscope.store.store import Store, Transaction


class LiveTotals:
    """What collect's and follow's stats dataclasses share: the counts a commit adds, the reject
    total, and their JSON form."""

    lines: int
    rows: int
    rejected: dict[str, int]
    hosts: dict[str, int]
    commits: int
    last_commit: str | None

    def add_commit(self, rec: dict[str, Any], lines: int) -> None:
        """Count one committed batch: its manifest record ``rec`` and the ``lines`` it covered."""
        self.lines += lines
        self.rows += rec["rows"]
        for k, v in rec["rejected"].items():
            self.rejected[k] = self.rejected.get(k, 0) + v
        for k, v in rec["hosts"].items():
            self.hosts[k] = self.hosts.get(k, 0) + v
        self.commits += 1
        self.last_commit = rec["committed"]

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"rejected_total": self.rejected_total}  # type: ignore[call-overload]


# RFC 5424: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [BOM]MSG. The parser reads
# RFC 3164 and RFC 3339-stamped BSD framings, so a 5424 header is rewritten to "<PRI>TIMESTAMP HOST APP: MSG"
# (a NILVALUE host is left out, a NILVALUE app too, or becomes "kernel:" when both are nil, so that the
# parser sees a tag and no host; the structured data is dropped).
_SD = r"(?:-|(?:\[(?:[^\]\\]|\\.)*\])+)"
_RFC5424 = (r"^(<\d{1,3}>)1 (\S+) (\S+) (\S+) \S+ \S+ " + _SD + r"(?: |$)(?:\x{FEFF})?")


def normalise(lines: pa.Array) -> pa.Array:
    """RFC 5424 headers rewritten to a framing the parser reads (vectorised; others untouched)."""
    s = pl.Series("m", lines).cast(pl.String)
    is5424 = s.str.contains(r"^<\d{1,3}>1 ")
    if not is5424.any():
        return lines
    out = (
        s.str.replace(_RFC5424, "${1}${2} ${3} ${4}: ")
        .str.replace(r"^(<\d{1,3}>\S+) - -: ", "${1} kernel: ")  # neither: a tag marks "no host"
        .str.replace(r"^(<\d{1,3}>\S+) - ", "${1} ")  # no host
        .str.replace(r"^(<\d{1,3}>\S+ \S+) -: ", "${1} ")  # no app name
    )
    return pl.select(pl.when(is5424).then(out).otherwise(s)).to_series().to_arrow()


#: The sensor given to the parser for host-less lines of a batch with senders; replaced afterwards by
#: the sender of each such line (one parse per block, however many senders it mixes).
_BY_SENDER = "\x00sender"


def parse_batch(
    lines: pa.Array,
    first_line: int,
    *,
    source: str,
    sensor: str,
    senders: pa.Array | None = None,
    tz: str = "UTC",
    year: int | None = None,
    reference: datetime | None = None,
) -> list[tuple[pa.Table, pa.Table]]:
    """Parse ``lines`` (numbered from ``first_line``). The sensor of a line without a syslog host is
    its sender when ``senders`` (one per line; '' for none) is given, else ``sensor``."""
    from honeyscope.ingest.parse import ParseContext, parse_block

    ref = reference or datetime.now(UTC)
    lines = normalise(lines)
    fill = sensor if senders is None else _BY_SENDER
    res = parse_block(lines, first_line, ParseContext(source=source, reference_time=ref, year=year, tz=tz,
                                                      sensor=fill))
    if senders is None:
        return [(res.rows, res.rejects)]
    named = pc.if_else(pc.equal(senders, ""), pa.scalar(sensor), senders)
    return [(_by_sender(res.rows, named, first_line), _by_sender(res.rejects, named, first_line))]


def _by_sender(t: pa.Table, named: pa.Array, first_line: int) -> pa.Table:
    """Host-less rows (host = the placeholder) get the sender of their line."""
    if not t.num_rows:
        return t
    i = t.schema.get_field_index("host")
    host = t.column(i)
    idx = pc.subtract(t.column("line").cast(pa.int64()), first_line)
    who = named.take(idx.combine_chunks() if isinstance(idx, pa.ChunkedArray) else idx)
    fixed = pc.if_else(pc.equal(host, _BY_SENDER), who.cast(host.type), host)
    return t.set_column(i, t.schema.field(i), fixed)


def split_senders(block: bytes) -> tuple[pa.Array, pa.Array]:
    """A spool block (``SENDER\\tMESSAGE`` lines) as its messages and their senders ('' when a line
    has no tab), lines cut as :func:`sources.lines_array` cuts them (a CR before the newline dropped,
    invalid UTF-8 replaced): one compiled pass over the block's bytes."""
    if not block.isascii():
        try:
            block.decode("utf-8")
        except UnicodeDecodeError:
            block = block.decode("utf-8", "replace").encode("utf-8")
    m_data, m_off, s_data, s_off = _split_lines_at_tab(np.frombuffer(block, np.uint8))
    n = len(m_off) - 1
    return (pa.LargeStringArray.from_buffers(n, pa.py_buffer(m_off), pa.py_buffer(m_data)),
            pa.LargeStringArray.from_buffers(n, pa.py_buffer(s_off), pa.py_buffer(s_data)))


@nb.njit(cache=True, nogil=True, boundscheck=False)
def _split_lines_at_tab(data):  # pragma: no cover - compiled
    n = len(data)
    lines = 0
    for i in range(n):
        if data[i] == 10:
            lines += 1
    if n and data[n - 1] != 10:
        lines += 1
    m_data = np.empty(n, np.uint8)
    s_data = np.empty(n, np.uint8)
    m_off = np.zeros(lines + 1, np.int64)
    s_off = np.zeros(lines + 1, np.int64)
    m = s = line = a = 0
    while a < n:
        b = a
        while b < n and data[b] != 10:
            b += 1
        e = b
        if b < n and e > a and data[e - 1] == 13:  # CR-LF
            e -= 1
        t = a
        while t < e and data[t] != 9:
            t += 1
        if t == e:  # no tab: all message, no sender
            t = a
            rest = a
        else:
            rest = t + 1
        for k in range(a, t):
            s_data[s] = data[k]
            s += 1
        for k in range(rest, e):
            m_data[m] = data[k]
            m += 1
        line += 1
        m_off[line] = m
        s_off[line] = s
        a = b + 1
    return m_data[:m], m_off, s_data[:s], s_off


_watching = False


def _watch_parent() -> None:
    """In a worker process: exit when the parent is gone (a kill -9 of collect must not leave its
    workers behind, blocked forever on their task queue)."""
    global _watching
    import multiprocessing
    import os
    import threading
    import time

    if _watching or multiprocessing.parent_process() is None:
        return
    _watching = True
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="watch-parent").start()


#: Benchmarks only (``bench_collect.py --parse-ceiling``): names a file of spool lines whose parse, done
#: once, stands in for the parse of every block (its rows repeated, numbered as the block's lines): what
#: collect reaches when parsing costs next to nothing. Never set in real use.
CEILING_ENV = "HONEYSCOPE_BENCH_PARSE_CEILING"
_ceiling: tuple[pa.Table, pa.Table] | None = None


def _ceiling_parse(msgs: pa.Array, first_line: int) -> tuple[pa.Table, pa.Table]:
    global _ceiling
    if _ceiling is None:
        m, w = split_senders(Path(os.environ[CEILING_ENV]).read_bytes())
        (rows, rejects), = parse_batch(m, 1, source="sample", sensor="sample", senders=w)
        _ceiling = rows, rejects.slice(0, 0)
    rows, no_rejects = _ceiling
    n = len(msgs)
    out = rows.take(pa.array(np.arange(n, dtype=np.int64) % max(rows.num_rows, 1)))
    i = out.schema.get_field_index("line")
    return out.set_column(i, out.schema.field(i), pa.array(np.arange(first_line, first_line + n),
                                                           out.schema.field(i).type)), no_rejects


def warm_up(delay: float = 0.0) -> None:
    """The parser's imports (and, in a worker, the parent watch), before lines wait for them."""
    _watch_parent()
    parse_block_job(b"-\t-\n", 1, "-", "-", True, "UTC", None)
    if delay:
        import time

        time.sleep(delay)  # keeps this worker busy so that the next warm-up goes to another one


def parse_block_job(block: bytes, first_line: int, source: str, sensor: str, senders: bool, tz: str,
                    year: int | None) -> list[tuple[pa.Table, pa.Table]]:
    """One block of whole lines parsed (in a worker process, or here)."""
    _watch_parent()
    if senders:
        msgs, who = split_senders(block)
    else:
        msgs, who = sources.lines_array(block), None
    if _CEILING:
        return [_ceiling_parse(msgs, first_line)]
    return parse_batch(msgs, first_line, source=source, sensor=sensor, senders=who, tz=tz, year=year)


_CEILING = bool(os.environ.get(CEILING_ENV))


def line_count(block: bytes) -> int:
    return block.count(b"\n") + (0 if not block or block.endswith(b"\n") else 1)


@dataclass
class _StagingOnly:
    """What a transaction needs of its store to stage files: the path (no manifest read per block)."""

    path: Path


#: Where a block is read from instead of being passed as bytes: (file, start byte, end byte).
Span = tuple[str, int, int]


def read_span(span: Span) -> bytes:
    path, start, end = span
    with open(path, "rb") as f:
        f.seek(start)
        return f.read(end - start)


def _cpu_clock() -> Callable[[], float]:
    """CPU time of the work done here: the whole process in a worker process (one job at a time, and
    the parser's own threads count), this thread's in the caller's process (other threads work too)."""
    import multiprocessing
    import time

    return time.process_time if multiprocessing.parent_process() is not None else time.thread_time


def stage_block_job(store_path: str, tx_id: str, seq: int, block: bytes | Span, first_line: int, source: str,
                    sensor: str, senders: bool, tz: str, year: int | None) -> dict[str, Any]:
    """One block of whole lines (or the span of a file holding them: the worker reads it itself, the
    bytes do not travel) parsed and written as Parquet into the staging directory of the transaction
    ``tx_id`` (in a worker process, or here): the block's transaction (``tx``: its files and counts,
    for :meth:`Transaction.merge`), with the CPU seconds of reading and parsing (``cpu_parse``) and
    of the Parquet files (``cpu_stage``)."""
    clock = _cpu_clock()
    c0 = clock()
    if not isinstance(block, bytes):
        block = read_span(block)
    tx = Transaction(_StagingOnly(Path(store_path)), id=tx_id).block(seq)  # type: ignore[arg-type]
    parsed = parse_block_job(block, first_line, source, sensor, senders, tz, year)
    c1 = clock()
    for rows, rejects in parsed:
        tx.add(rows, rejects)
    c2 = clock()
    return {"tx": tx, "cpu_parse": c1 - c0, "cpu_stage": c2 - c1}


class Batch:
    """An input record being built: blocks of whole lines are parsed and staged as Parquet in the
    store's transaction (on ``pool`` when given, at most ``workers`` + 1 at once: the workers write
    the files, only their names and counts come back); :meth:`commit` makes them visible in one
    manifest write (the caller holds the store's lock)."""

    def __init__(self, store: Store, first_line: int, source: str, *, sensor: str, senders: bool = False,
                 tz: str = "UTC", year: int | None = None, pool: Executor | None = None,
                 workers: int = 1) -> None:
        self.tx = store.begin()
        self.store_path = str(store.path)
        self.first_line = self.next_line = first_line
        self.source, self.sensor, self.senders, self.tz, self.year = source, sensor, senders, tz, year
        self.pool, self.workers = pool, workers
        self.hash = hashlib.sha256()
        self.nbytes = 0
        self._blocks = 0
        self._in_flight: list[Future] = []
        self.cpu_parse = self.cpu_stage = 0.0  # CPU seconds of the blocks staged so far

    @property
    def lines(self) -> int:
        return self.next_line - self.first_line

    @property
    def blocks(self) -> int:
        return self._blocks

    @property
    def in_flight(self) -> list[Future]:
        """The blocks being parsed and staged on the pool."""
        return list(self._in_flight)

    @property
    def done(self) -> bool:
        """Every block added is parsed and staged: :meth:`commit` will not wait."""
        return all(f.done() for f in self._in_flight)

    def _add(self, staged: dict[str, Any]) -> None:
        self.cpu_parse += staged["cpu_parse"]
        self.cpu_stage += staged["cpu_stage"]
        self.tx.merge(staged["tx"])

    def add(self, block: bytes, span: Span | None = None) -> None:
        """Parse and stage ``block`` (whole lines). With ``span`` (where these bytes are in a file that
        stays as it is until the commit), a worker process reads them from there instead of being sent
        them."""
        if not block:
            return
        self.hash.update(block)
        self.nbytes += len(block)
        self._blocks += 1
        job: bytes | Span = span if span is not None and self.pool is not None else block
        args = (self.store_path, self.tx.id, self._blocks, job, self.next_line, self.source, self.sensor,
                self.senders, self.tz, self.year)
        self.next_line += line_count(block)
        if self.pool is None:
            self._add(stage_block_job(*args))
            return
        self._in_flight.append(self.pool.submit(stage_block_job, *args))
        while len(self._in_flight) > self.workers:
            self._add(self._in_flight.pop(0).result())

    def commit(self, record: dict[str, Any]) -> dict[str, Any]:
        """Commit ``record`` plus ``start_line``, ``end_line``, ``lines`` and the ``sha256`` of the
        bytes (unless ``record`` gives its own); returns the full record."""
        try:
            while self._in_flight:
                self._add(self._in_flight.pop(0).result())
            full = {"sha256": self.hash.hexdigest()} | record | {
                "start_line": self.first_line, "end_line": self.next_line - 1, "lines": self.lines}
            return self.tx.commit(full)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Drop the staged files (once the blocks being staged are written: none is left behind)."""
        for fut in self._in_flight:
            fut.cancel()
        wait(self._in_flight)
        self._in_flight = []
        self.tx.abort()


def commit_blocks(
    store: Store,
    blocks: Iterable[bytes],
    first_line: int,
    record: dict[str, Any],
    *,
    sensor: str,
    senders: bool = False,
    tz: str = "UTC",
    year: int | None = None,
    pool: Executor | None = None,
    workers: int = 1,
) -> dict[str, Any]:
    """Parse ``blocks`` (whole lines; ``SENDER\\tMESSAGE`` lines when ``senders``) and commit them as
    one input record (see :class:`Batch`)."""
    batch = Batch(store, first_line, record["source"], sensor=sensor, senders=senders, tz=tz, year=year,
                  pool=pool, workers=workers)
    try:
        for block in blocks:
            batch.add(block)
    except BaseException:
        batch.abort()
        raise
    return batch.commit(record)
