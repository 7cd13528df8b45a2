"""Ingest: inputs → parsed blocks → the store, one input committed at a time, with a ledger.

* An input whose bytes were ingested before (same sha256) adds nothing; a file that has grown since
  (its committed prefix is unchanged) adds only its new lines, numbered on from where it stopped.
* Raw log lines are parsed in blocks by :func:`honeyscope.ingest.parse.parse_block` and each block's
  Parquet files staged, on a pool of worker threads when the input is large, so that ingest uses
  every core (the parser's compiled and columnar steps and the Parquet writer release the GIL; a
  thread costs no process start and no re-import, and cannot outlive the ingest); memory is bounded
  by the block size times the blocks in flight. Blocks are numbered, staged and counted in order.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from honeyscope.ingest import sources
from honeyscope.store.store import ContentIndex, Store, Transaction

if TYPE_CHECKING:
    from honeyscope.ingest.parse import ParseContext, ParseResult

Progress = Callable[[int, int], None]  # (raw bytes consumed so far in this run, lines so far)


@dataclass
class InputLedger:
    source: str
    status: str  # "added", "grown", "skipped: already ingested", "skipped: no new lines",
    # "skipped: empty", "skipped: no complete line" (only an unterminated line, held),
    # "skipped: <why not a log>" (a directory's binary file), "refused: <why>", "failed: <why>"
    kind: str = ""
    compression: str | None = None
    lines: int = 0
    rows: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    hosts: dict[str, int] = field(default_factory=dict)
    bytes: int = 0
    seconds: float = 0.0
    #: rows kept with an auxiliary field left null, by warning ("bad icmp_id": n)
    field_warnings: dict[str, int] = field(default_factory=dict)
    years: dict[str, int] = field(default_factory=dict)  # rows per year of their time
    sensor_years: dict[str, dict[str, int]] = field(default_factory=dict)  # when sensors differ
    first: str | None = None  # time of the earliest / latest row (ISO, UTC)
    last: str | None = None
    held: int = 0  # unterminated last lines left for the next ingest (a live log)
    error: str | None = None  # damage or refusal: the run exits non-zero naming the input

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass
class Ledger:
    store: str
    inputs: list[InputLedger] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def lines(self) -> int:
        return sum(i.lines for i in self.inputs)

    @property
    def rows(self) -> int:
        return sum(i.rows for i in self.inputs)

    @property
    def bytes(self) -> int:
        return sum(i.bytes for i in self.inputs)

    def _totals(self, attr: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for i in self.inputs:
            for k, v in getattr(i, attr).items():
                out[k] = out.get(k, 0) + v
        return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))

    def rejected(self) -> dict[str, int]:
        """Lines rejected, by reason, most first."""
        return self._totals("rejected")

    def hosts(self) -> dict[str, int]:
        """Rows added, per sensor, most first."""
        return self._totals("hosts")

    def errors(self) -> list[str]:
        """One line per input that was damaged, refused or could not be read."""
        return [f"{i.source}: {i.error}" for i in self.inputs if i.error]

    def warnings(self) -> list[str]:
        """Inputs of this ingest placed in different years, or leaving months between them."""
        return year_warnings(self.inputs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "lines": self.lines,
            "rows": self.rows,
            "rejected": self.rejected(),
            "rejected_total": sum(self.rejected().values()),
            "hosts": self.hosts(),
            "field_warnings": self._totals("field_warnings"),
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "held": sum(i.held for i in self.inputs),
            "errors": self.errors(),
            "warnings": self.warnings(),
            "inputs": [asdict(i) for i in self.inputs],
        }


#: Inputs of one ingest whose rows are further apart than this are warned about.
GAP_DAYS = 60


def year_warnings(inputs: list[InputLedger]) -> list[str]:
    """Warnings for inputs of one ingest that ended up in different years, or with a gap of more
    than :data:`GAP_DAYS` days between them (a year-less log dated by a fresh mtime)."""
    from datetime import datetime

    dated = [i for i in inputs if i.first and i.last]
    out: list[str] = []
    main = {i.source: max(i.years, key=lambda y: i.years[y]) for i in dated if i.years}
    if len(set(main.values())) > 1:
        by: dict[str, list[str]] = {}
        for src, y in main.items():
            by.setdefault(y, []).append(src)
        out.append("inputs placed in different years: " + "; ".join(
            f"{y}: {len(v)} input{'s' * (len(v) > 1)} ({Path(v[0]).name}{', ...' * (len(v) > 1)})"
            for y, v in sorted(by.items())) + " (check --year / the files' dates)")
    spans = sorted((datetime.fromisoformat(i.first), datetime.fromisoformat(i.last), i.source)
                   for i in dated)
    if spans:
        end, end_src = spans[0][1], spans[0][2]
        for a, b, src in spans[1:]:
            if (a - end).days > GAP_DAYS:
                out.append(f"a gap of {(a - end).days} days between inputs: {Path(end_src).name} "
                           f"ends {end:%Y-%m-%d}, {Path(src).name} starts {a:%Y-%m-%d}")
            if b > end:
                end, end_src = b, src
    return out


#: A plain file modified less than this many seconds ago is taken to be a log being written.
LIVE_SECONDS = 60


#: Inputs smaller than twice this are parsed as one block, in this process (no pool start-up).
MIN_SPLIT = 1024 * 1024


def split_size(size: int | None, workers: int, block_size: int) -> int:
    """The block size for an input of ``size`` bytes: the usual blocks for a big input, and for a
    mid-sized one (a sensor's daily log: a few MB, less than two blocks) about one block per
    worker, so that every core parses even when the fleet's files are small."""
    if size is None or workers <= 1 or size >= 2 * block_size or size < 2 * MIN_SPLIT:
        return block_size
    return max(MIN_SPLIT, -(-size // workers))


def default_sensor(inp: sources.Input) -> str:
    """The sensor of lines that carry no host, without --sensor: the input's file name."""
    return "stdin" if inp.path is None else inp.path.name


def _parse_job(block: bytes, first_line: int, ctx: ParseContext) -> tuple[ParseResult, int]:
    from honeyscope.ingest.parse import parse_bytes

    return parse_bytes(block, first_line, ctx)


def check_options(year: int | None, workers: int | None, sensor: str | None, tz: str) -> None:
    """A one-line ValueError for an option no ingest can use."""
    if year is not None and not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(f"--year {year}: give a year between {MIN_YEAR} and {MAX_YEAR}")
    if workers is not None and workers < 1:
        raise ValueError(f"--workers {workers}: give at least 1")
    if sensor is not None and (not sensor.strip() or not sensor.isprintable()):
        raise ValueError("--sensor: give a non-empty name of printable characters")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {tz!r} (use an IANA name such as UTC or Europe/Paris)"
        ) from None


#: --year accepts these: the years a packet's time may have (the parser rejects stamps outside them)
MIN_YEAR, MAX_YEAR = 1970, 2099


def ingest(
    inputs: Iterable[str | Path] | str | Path,
    store: str | Path | Store,
    *,
    year: int | None = None,
    tz: str = "UTC",
    sensor: str | None = None,
    workers: int | None = None,
    wait: float | None = 0,
    progress: Progress | None = None,
    block_size: int = sources.BLOCK,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    live: bool = True,
) -> Ledger:
    """Ingest ``inputs`` (paths, directories, globs, ``-``) into ``store`` (created if needed).

    ``include``/``exclude``: globs for the files of a directory (see :func:`sources.expand`);
    ``live=False`` reads every line of every input, even the unterminated last line of a file
    being written (an analysis of files ingested on the fly: there is no next ingest)."""
    check_options(year, workers, sensor, tz)
    if not 1 <= block_size <= MAX_BLOCK:
        raise ValueError(f"block_size {block_size}: give 1 byte to {MAX_BLOCK >> 20} MiB")
    with _system_memory_pool():
        return _ingest(inputs, store, year=year, tz=tz, sensor=sensor, workers=workers, wait=wait,
                       progress=progress, block_size=block_size, include=include, exclude=exclude,
                       live=live)


#: the largest block an ingest parses at once (its string columns' offsets are 32-bit)
MAX_BLOCK = 1 << 30

_pool_lock = threading.Lock()
_pool_users = 0
_pool_before: Any = None


@contextlib.contextmanager
def _system_memory_pool() -> Iterator[None]:
    """Arrow's default pool is the C library's while any ingest of this process runs, then what it
    was before: Arrow's own allocator (mimalloc) takes fresh huge pages for the blocks' tables and
    Parquet pages and the kernel zeroes each, 10% of an ingest's CPU; the C library's serves freed
    ones again. Counted, so that ingests overlapping on threads restore it once, after the last."""
    global _pool_users, _pool_before
    import pyarrow as pa

    with _pool_lock:
        if _pool_users == 0:
            _pool_before = pa.default_memory_pool()
            pa.set_memory_pool(pa.system_memory_pool())
        _pool_users += 1
    try:
        yield
    finally:
        with _pool_lock:
            _pool_users -= 1
            if _pool_users == 0:
                pa.set_memory_pool(_pool_before)


def _ingest(
    inputs: Iterable[str | Path] | str | Path,
    store: str | Path | Store,
    *,
    year: int | None,
    tz: str,
    sensor: str | None,
    workers: int | None,
    wait: float | None,
    progress: Progress | None,
    block_size: int,
    include: Iterable[str],
    exclude: Iterable[str],
    live: bool,
) -> Ledger:
    inputs = [str(inputs)] if isinstance(inputs, str | Path) else [str(i) for i in inputs]
    store_path = store.path if isinstance(store, Store) else Path(store)
    resolved = sources.expand(inputs, skip=[store_path], include=include, exclude=exclude)
    st = store if isinstance(store, Store) else Store(store, create=True)
    ledger = Ledger(store=str(st.path))
    t0 = time.perf_counter()
    workers = sources.default_workers() if workers is None else workers
    done_bytes = 0
    done_lines = 0

    def tick(nbytes: int, nlines: int) -> None:
        nonlocal done_bytes, done_lines
        done_bytes += nbytes
        done_lines += nlines
        if progress:
            progress(done_bytes, done_lines)

    pool: ThreadPoolExecutor | None = None
    try:
        with st.lock(wait=wait):
            # the offline enrichment database this honeyscope queries the store with, by name and
            # build date (written with the next commit)
            from honeyscope.geo import geo_meta

            st.meta["enrichment"] = geo_meta()
            # (the manifest written about once a second, not at every input: see Store.grouped)
            with st.grouped():
                for inp in resolved:
                    try:
                        entry, pool = _ingest_one(
                            st, inp, year=year, tz=tz, sensor=sensor, workers=workers, pool=pool,
                            block_size=block_size, tick=tick, live=live,
                        )
                    except OSError as e:  # an input that cannot be read: noted, the others go on
                        entry = InputLedger(inp.name, f"failed: {e.strerror or e}",
                                            error=f"cannot be read: {e.strerror or e}")
                    ledger.inputs.append(entry)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    ledger.seconds = time.perf_counter() - t0
    return ledger


def _damage_reject(inp: sources.Input, reader: sources.Reader, line: int, sensor: str) -> Any:
    import pyarrow as pa

    from honeyscope import schema

    dmg = reader.damage
    assert dmg is not None
    text = dmg.text(reader.compression)
    if reader.damaged_tail:
        text += "; the line it cut: " + reader.damaged_tail[:512].decode("utf-8", "replace")
    return pa.table({
        "source": [inp.name], "line": pa.array([line], pa.uint32()), "reason": [dmg.reason],
        "text": [text], "host": [sensor], "time": pa.nulls(1, schema.TIME_TYPE),
    }).cast(schema.REJECT_SCHEMA)


def _ingest_one(
    st: Store,
    inp: sources.Input,
    *,
    year: int | None,
    tz: str,
    sensor: str | None,
    workers: int,
    pool: ThreadPoolExecutor | None,
    block_size: int,
    tick: Callable[[int, int], None],
    live: bool = True,
) -> tuple[InputLedger, ThreadPoolExecutor | None]:
    t0 = time.perf_counter()
    start, start_line = 0, 1
    prev_kind = None
    size = None
    scanned = None
    if inp.seekable:
        assert inp.path is not None
        size = inp.path.stat().st_size
        # content, not bytes on disk: the decompressed text, and the longest committed text it
        # starts with (a grown log, or a rotated one under another name and compression)
        index = st.content_index()
        keys, by_key = index.lengths, index.by_key
        # (nothing committed can be the text of an unseen plain file or its start: it is hashed as
        # it is read for parsing, not by a pass of its own before)
        if not _unseen(inp, size, index):
            records = st.records
            scanned = sources.scan(inp, keys)
            if (not scanned.damaged and (scanned.size, scanned.sha256) in by_key) or any(
                e.compression is not None and e.content_sha256 is None
                and e.sha256 == scanned.raw_sha256 and e.end_byte == size for e in records
            ):
                tick(size, 0)
                return InputLedger(inp.name, "skipped: already ingested", bytes=0), pool
            if scanned.prefix:
                last = max((e for k, e in by_key.items() if k[0] == scanned.prefix),
                           key=lambda e: e.end_line or 0)
                start, start_line, prev_kind = scanned.prefix, (last.end_line or 0) + 1, last.kind

    plain = scanned is not None and scanned.compression is None
    # a plain file hashed by the scan is not hashed again while parsed
    reader = sources.Reader(inp, start=start if plain else 0, skip=0 if plain else start,
                            hash_raw=not plain)
    tx = st.begin()
    entry = InputLedger(inp.name, "grown" if start else "added")
    entry.compression = reader.compression
    stats = _Stats()
    try:
        head = reader.head()
        bad = sources.binary_kind(head) if not start else None
        if bad is not None:
            tx.abort()
            if inp.explicit:
                entry.status, entry.error = f"refused: {bad}", f"refused: {bad}, not log text"
            else:
                entry.status = f"skipped: {bad}"
            tick(size or 0, 0)
            return _counted(entry, None, t0, 0), pool
        entry.kind = prev_kind or sources.kind_of(head)
        reference = inp.mtime()
        line_no = start_line
        if entry.kind in ("marx", "marx-geo"):
            data = reader.read_all()
            if start:  # a grown CSV: its header, then the new lines
                hr = sources.Reader(inp)
                try:
                    h = hr.head()
                finally:
                    hr.close()
                data = h[: h.find(b"\n") + 1] + data
            else:
                line_no = 2  # the header is line 1
            from honeyscope.ingest import seed_csv

            res = seed_csv.read_seed_csv(
                data, source=inp.name, tz=tz, sensor=sensor, first_line=line_no
            )
            tx.add(res.rows, res.rejects)
            stats.add(res.rows)
            entry.lines = res.lines
            line_no += res.lines
            tick(reader.raw_bytes_read, res.lines)
        else:
            from honeyscope.ingest.parse import ParseContext

            # lines without a syslog host get --sensor, else the input's own name: never null
            ctx = ParseContext(source=inp.name, reference_time=reference, year=year, tz=tz,
                               sensor=sensor or default_sensor(inp))
            # a plain file written to within the last minute is live: its unterminated last line
            # is left for the next ingest rather than parsed half-written
            hold = (live and inp.seekable and reader.compression is None
                    and time.time() - inp.path.stat().st_mtime < LIVE_SECONDS)  # type: ignore[union-attr]
            size_left = None if size is None else size - start
            pool, n = _parse_blocks(reader, ctx, line_no, tx, workers, pool,
                                    split_size(size_left, workers, block_size), tick, hold_tail=hold,
                                    stats=stats, size=size_left)
            entry.lines = n
            entry.field_warnings = dict(ctx.state.pop("warnings", {}))
            line_no += n
            entry.held = 1 if reader.held else 0
            if reader.damage is not None:
                tx.add(_empty_rows(), _damage_reject(inp, reader, line_no, ctx.sensor or ""))
                entry.lines += 1
        end = reader.content_read - reader.held - reader.unread_tail
        if reader.damage is not None:
            entry.error = f"{reader.damage.text(reader.compression)}; the lines before it are kept"
            if (end, sources.content_digest(inp, end) if scanned is None or end != scanned.size
                    else scanned.sha256) in st.content_index().by_key:
                # the readable part was committed before: said again, not added again
                tx.abort()
                entry.status, entry.lines = "skipped: already ingested (damaged)", 0
                return _counted(entry, None, t0, 0), pool
        if entry.lines == 0 and end == 0:
            # nothing to add nor to know again: no record (an empty text is not "already
            # ingested" because another empty input was)
            tx.abort()
            entry.status = "skipped: no complete line" if reader.held else "skipped: empty"
            return _counted(entry, None, t0, 0), pool
        if scanned is None:  # stdin, a FIFO: the same text as a committed input adds nothing
            sha = reader.content_sha256 if not reader.held else None
            if sha is not None and (end, sha) in st.content_index().by_key:
                tx.abort()
                entry.status = "skipped: already ingested"
                entry.lines = 0
                return _counted(entry, None, t0, 0), pool
        if entry.lines == 0 and start:
            tx.abort()
            entry.status = "skipped: no new lines"
            entry.held = 1 if reader.held else 0
            return _counted(entry, None, t0, 0), pool
        if scanned is not None and end == scanned.size:
            content_sha = scanned.sha256
        elif reader.content_sha256 is not None and end == reader.content_read:
            content_sha = reader.content_sha256
        else:  # the file grew while we read it, or ends in a line held back or cut by damage
            content_sha = sources.content_digest(inp, end)
        if reader.compression is None:
            end_byte, raw_sha = end, content_sha
        else:
            end_byte, raw_sha = reader.raw_bytes_read, reader.sha256.hexdigest()
        tx.commit(
            {
                "source": inp.name,
                "kind": entry.kind,
                "compression": reader.compression,
                "start_byte": start if plain else 0,
                "end_byte": end_byte,
                "sha256": raw_sha,
                "content_start": start,
                "content_bytes": end,
                "content_sha256": content_sha,
                "first_line_sha256": sources.first_line_digest(
                    head if not start else sources.text_head(inp)),
                "start_line": start_line,
                "end_line": line_no - 1,
                "lines": entry.lines,
                "options": {"year": year, "tz": tz, "sensor": sensor},
            }
        )
        stats.fill(entry)
        return _counted(entry, tx, t0, end_byte - (start if plain else 0)), pool
    except BaseException:
        tx.abort()
        raise
    finally:
        reader.close()


def _unseen(inp: sources.Input, size: int, index: ContentIndex) -> bool:
    """Whether a file of ``size`` bytes can be neither a committed text nor a committed text grown,
    known without reading it whole: a new store; a plain file shorter than every committed text
    (an empty one, in a store written before those were no longer recorded, does not count);
    or a text whose first line is no committed text's. Else the file is scanned (decompressed and
    hashed) before it is parsed."""
    assert inp.path is not None
    if index.unkeyed:
        return False
    if index.shortest is None:
        return True
    if sources.compression_of(sources.raw_head(inp.path)) is None and index.shortest > size:
        return True
    if index.no_first_line:  # (records of an older store: their first lines are not known)
        return False
    head = sources.text_head(inp)
    return not head or sources.first_line_digest(head) not in index.first_lines


def _empty_rows() -> Any:
    from honeyscope import schema

    return schema.empty()


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class _Stats:
    """Rows per sensor and year, and the first and last time, of one input (for the ledger)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, int], int] = {}
        self.first: Any = None
        self.last: Any = None

    def add(self, rows: Any, runs: list[tuple[int, str | None, int]] | None = None) -> None:
        """Count ``rows``; ``runs``: their (month since 1970-01, host, rows) when known (rows in
        the store's order, :data:`honeyscope.ingest.parse_fast.Layout`): no grouping then."""
        import numpy as np
        import pyarrow as pa

        if not rows.num_rows:
            return
        t = rows.column("time")
        if runs is not None:  # (every row of such a table has a time; pyarrow.compute not loaded)
            a = t.combine_chunks()
            us = np.frombuffer(a.buffers()[1], np.int64, len(a), a.offset * 8)
            self._span(int(us.min()), int(us.max()))
            for month, host, n in runs:
                key = (host or "", 1970 + month // 12)
                self.counts[key] = self.counts.get(key, 0) + n
            return
        import pyarrow.compute as pc

        # (as microseconds: a timestamp's as_py imports pandas, 0.12 s of a small ingest)
        mm = pc.min_max(pc.cast(t, pa.int64()))
        if mm["min"].as_py() is None:
            return
        self._span(mm["min"].as_py(), mm["max"].as_py())
        # (counted with numpy: Table.group_by loads pyarrow's dataset module and pandas, 0.15 s)
        host = pc.fill_null(rows.column("host"), "").combine_chunks().dictionary_encode()
        year = pc.year(t).combine_chunks()
        known = year.is_valid().to_numpy(zero_copy_only=False)
        key = (host.indices.to_numpy(zero_copy_only=False).astype(np.int64) * 100_000
               + pc.fill_null(year, 0).to_numpy(zero_copy_only=False).astype(np.int64))[known]
        names = host.dictionary.to_pylist()
        for k, n in zip(*np.unique(key, return_counts=True), strict=True):
            h, y = names[int(k) // 100_000], int(k) % 100_000
            self.counts[(h, y)] = self.counts.get((h, y), 0) + int(n)

    def _span(self, lo_us: int, hi_us: int) -> None:
        lo, hi = (_EPOCH + timedelta(microseconds=v) for v in (lo_us, hi_us))
        self.first = lo if self.first is None else min(self.first, lo)
        self.last = hi if self.last is None else max(self.last, hi)

    def merge(self, other: _Stats) -> None:
        for k, n in other.counts.items():
            self.counts[k] = self.counts.get(k, 0) + n
        if other.first is not None:
            self.first = other.first if self.first is None else min(self.first, other.first)
            self.last = other.last if self.last is None else max(self.last, other.last)

    def fill(self, entry: InputLedger) -> None:
        years: dict[str, int] = {}
        per: dict[str, dict[str, int]] = {}
        for (h, y), n in sorted(self.counts.items()):
            years[str(y)] = years.get(str(y), 0) + n
            per.setdefault(h, {})[str(y)] = n
        entry.years = years
        if len({tuple(v) for v in per.values()}) > 1:  # sensors placed in different years
            entry.sensor_years = per
        if self.first is not None:
            entry.first = self.first.isoformat()
            entry.last = self.last.isoformat()


def _counted(entry: InputLedger, tx: Any, t0: float, nbytes: int) -> InputLedger:
    """Fill ``entry`` from the committed transaction ``tx`` (None: nothing was added)."""
    if tx is not None:
        entry.rows = tx.rows
        entry.rejected = dict(tx.rejected)
        entry.hosts = dict(tx.hosts)
    entry.bytes = nbytes
    entry.seconds = time.perf_counter() - t0
    return entry


def parse_block(block: bytes, first_line: int, ctx: ParseContext) -> tuple[ParseResult, int]:
    """One block of lines parsed as a local ingest parses it (rows, rejects; lines in the block):
    the step a distributed ingest's workers run (rows in line order)."""
    from honeyscope.ingest.parse import parse_block

    arr = sources.lines_array(block)
    return parse_block(arr, first_line, ctx), len(arr)


def counted(entry: InputLedger, tx: Any, t0: float, nbytes: int) -> InputLedger:
    """``entry`` filled from the committed transaction ``tx`` (None: nothing was added), its
    bytes and seconds: the ledger step after a commit, local or distributed."""
    return _counted(entry, tx, t0, nbytes)


@dataclass
class _Staged:
    """One block parsed and its files staged (by :func:`_stage_job`): what it adds, in block order."""

    tx: Transaction  # the block's transaction: its files and counts
    warnings: dict[str, int]
    stats: _Stats
    lines: int


def _stage_job(tx: Transaction, block: bytes, first_line: int, ctx: ParseContext) -> _Staged:
    """Parse a block and stage its rows and rejects as Parquet in ``tx`` (a worker thread's job)."""
    res, n = _parse_job(block, first_line, ctx)
    tx.add(res.rows, res.rejects, layout=res.layout)
    stats = _Stats()
    stats.add(res.rows, None if res.layout is None else res.layout[2])
    return _Staged(tx, res.warnings, stats, n)


def _parse_blocks(
    reader: sources.Reader,
    ctx: ParseContext,
    first_line: int,
    tx: Transaction,
    workers: int,
    pool: ThreadPoolExecutor | None,
    block_size: int,
    tick: Callable[[int, int], None],
    hold_tail: bool = False,
    stats: _Stats | None = None,
    size: int | None = None,
) -> tuple[ThreadPoolExecutor | None, int]:
    """Parse and stage every block of ``reader`` into ``tx``; returns the pool (kept for the next
    input) and the number of lines. Blocks run on worker threads when there are several and the
    parse is stateless (no ``--year``, whose December→January rollover needs the blocks in order);
    each worker parses a block and writes its files, the blocks are added to ``tx`` in order.
    ``size``: the bytes left to read when known (a file's size; a compressed log's text is
    longer): an input longer than a block starts its first block before reading the second."""
    blocks = reader.blocks(block_size, hold_tail=hold_tail)
    first = next(blocks, None)
    if first is None:
        return pool, 0
    # (whether there is a second block is known without reading it: the first one is parsed
    # while the second is read)
    sure = size is not None and size > block_size
    second = None if sure else next(blocks, None)
    line = first_line
    last_raw = 0
    seq = itertools.count(1)

    def account(done: _Staged) -> None:
        nonlocal line, last_raw
        tx.merge(done.tx)
        warn = ctx.state.setdefault("warnings", {})
        for k, v in done.warnings.items():
            warn[k] = warn.get(k, 0) + v
        if stats is not None:
            stats.merge(done.stats)
        line += done.lines
        raw = reader.raw_bytes_read
        tick(raw - last_raw, done.lines)
        last_raw = raw

    todo = itertools.chain((first,), () if second is None else (second,), blocks)  # lazily
    if (second is None and not sure) or workers <= 1 or ctx.year is not None:
        for block in todo:
            account(_stage_job(tx.block(next(seq)), block, line, ctx))
        return pool, line - first_line

    if pool is None:
        pool = ThreadPoolExecutor(workers, thread_name_prefix="honeyscope-parse")
    in_flight: list[Future[_Staged]] = []
    next_line = first_line
    from honeyscope.ingest.parse_fast import count_lines
    first = second = None  # (a block is held by its job only)
    try:
        for block in todo:
            # line numbers of a block are known before it is parsed: count its newlines
            n = count_lines(block)
            # each block parses with the context as it is now (its own copy: no state shared)
            job_ctx = dataclasses.replace(ctx, state=copy.deepcopy(ctx.state))
            in_flight.append(pool.submit(_stage_job, tx.block(next(seq)), block, next_line, job_ctx))
            next_line += n
            while len(in_flight) > workers:
                account(in_flight.pop(0).result())
        while in_flight:
            account(in_flight.pop(0).result())
    except BaseException:
        # no block still writing into the staging directory the caller is about to remove
        for fut in in_flight:
            fut.cancel()
        wait(in_flight)
        raise
    return pool, line - first_line
