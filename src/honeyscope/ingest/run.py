"""Ingest: inputs → parsed blocks → the store, one input committed at a time, with a ledger.

* An input whose bytes were ingested before (same sha256) adds nothing; a file that has grown since
  (its committed prefix is unchanged) adds only its new lines, numbered on from where it stopped.
* Raw log lines are parsed in blocks by :func:`honeyscope.ingest.parse.parse_block`, on a pool of worker
  processes when the input is large, so that ingest uses every core; memory is bounded by the block
  size times the blocks in flight.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from honeyscope.ingest import seed_csv, sources
from honeyscope.parallel import process_pool
from honeyscope.store.store import Store

if TYPE_CHECKING:
    from honeyscope.ingest.parse import ParseContext, ParseResult

Progress = Callable[[int, int], None]  # (raw bytes consumed so far in this run, lines so far)


@dataclass
class InputLedger:
    source: str
    status: str  # "added", "grown", "skipped: already ingested", "skipped: no new lines"
    kind: str = ""
    compression: str | None = None
    lines: int = 0
    rows: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    hosts: dict[str, int] = field(default_factory=dict)
    bytes: int = 0
    seconds: float = 0.0
    #: rows kept with an auxiliary field left null, by warning ("bad icmp_id": n)
    warnings: dict[str, int] = field(default_factory=dict)


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "lines": self.lines,
            "rows": self.rows,
            "rejected": self.rejected(),
            "rejected_total": sum(self.rejected().values()),
            "hosts": self.hosts(),
            "warnings": self._totals("warnings"),
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "inputs": [asdict(i) for i in self.inputs],
        }


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
    from honeyscope.ingest.parse import parse_block

    arr = sources.lines_array(block)
    return parse_block(arr, first_line, ctx), len(arr)


def ingest(
    inputs: Iterable[str],
    store: str | Path | Store,
    *,
    year: int | None = None,
    tz: str = "UTC",
    sensor: str | None = None,
    workers: int | None = None,
    wait: float | None = 0,
    progress: Progress | None = None,
    block_size: int = sources.BLOCK,
) -> Ledger:
    """Ingest ``inputs`` (paths, directories, globs, ``-``) into ``store`` (created if needed)."""
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {tz!r} (use an IANA name such as UTC or Europe/Paris)"
        ) from None
    resolved = sources.expand(inputs)
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

    pool: ProcessPoolExecutor | None = None
    try:
        with st.lock(wait=wait):
            # the offline enrichment database this honeyscope queries the store with, by name and
            # build date (written with the next commit)
            from honeyscope.analyse.enrich import geo_meta

            st.meta["enrichment"] = geo_meta()
            for inp in resolved:
                entry, pool = _ingest_one(
                    st, inp, year=year, tz=tz, sensor=sensor, workers=workers, pool=pool,
                    block_size=block_size, tick=tick,
                )
                ledger.inputs.append(entry)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    ledger.seconds = time.perf_counter() - t0
    return ledger


def _ingest_one(
    st: Store,
    inp: sources.Input,
    *,
    year: int | None,
    tz: str,
    sensor: str | None,
    workers: int,
    pool: ProcessPoolExecutor | None,
    block_size: int,
    tick: Callable[[int, int], None],
) -> tuple[InputLedger, ProcessPoolExecutor | None]:
    t0 = time.perf_counter()
    start_byte, start_line = 0, 1
    prev_kind = None
    size = None
    full_hash = None
    if inp.path is not None:
        size = inp.path.stat().st_size
        full_hash = sources.file_digest(inp.path)
        if any(e["sha256"] == full_hash and e["end_byte"] == size for e in st.inputs):
            tick(size, 0)
            return InputLedger(inp.name, "skipped: already ingested", bytes=0), pool
        same_path = [e for e in st.inputs if e["source"] == inp.name and e.get("compression") is None]
        if same_path:
            last = max(same_path, key=lambda e: e["end_byte"])
            if last["end_byte"] < size and sources.file_digest(inp.path, last["end_byte"]) == last["sha256"]:
                start_byte, start_line = last["end_byte"], last["end_line"] + 1
                prev_kind = last["kind"]

    reader = sources.Reader(inp, start=start_byte)
    tx = st.begin()
    entry = InputLedger(inp.name, "grown" if start_byte else "added")
    entry.compression = reader.compression
    try:
        head = reader.head()
        entry.kind = prev_kind or sources.kind_of(head)
        reference = inp.mtime()
        line_no = start_line
        if entry.kind in ("marx", "marx-geo"):
            data = reader.read_all()
            if start_byte:  # a grown CSV: its header, then the new lines
                with open(inp.path, "rb") as f:  # type: ignore[arg-type]
                    data = f.readline() + data
            else:
                line_no = 2  # the header is line 1
            res = seed_csv.read_seed_csv(
                data, source=inp.name, tz=tz, sensor=sensor, first_line=line_no
            )
            tx.add(res.rows, res.rejects)
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
            live = (inp.path is not None and reader.compression is None
                    and time.time() - inp.path.stat().st_mtime < LIVE_SECONDS)
            size_left = None if size is None else size - start_byte
            pool, n = _parse_blocks(reader, ctx, line_no, tx, workers, pool,
                                    split_size(size_left, workers, block_size), tick, hold_tail=live)
            entry.lines = n
            entry.warnings = dict(ctx.state.pop("warnings", {}))
            line_no += n
        end_byte = start_byte + reader.raw_bytes_read - reader.held
        if inp.path is None:
            sha = reader.sha256.hexdigest()
            if any(e["sha256"] == sha and e["end_byte"] == end_byte for e in st.inputs):
                tx.abort()
                entry.status = "skipped: already ingested"
                entry.lines = 0
                return _counted(entry, None, t0, 0), pool
        elif end_byte == size:
            sha = full_hash
        else:  # the file grew while we read it
            sha = sources.file_digest(inp.path, end_byte)
        if entry.lines == 0 and start_byte:
            tx.abort()
            entry.status = "skipped: no new lines"
            return _counted(entry, None, t0, 0), pool
        tx.commit(
            {
                "source": inp.name,
                "kind": entry.kind,
                "compression": reader.compression,
                "start_byte": start_byte,
                "end_byte": end_byte,
                "sha256": sha,
                "start_line": start_line,
                "end_line": line_no - 1,
                "lines": entry.lines,
                "options": {"year": year, "tz": tz, "sensor": sensor},
            }
        )
        return _counted(entry, tx, t0, end_byte - start_byte), pool
    except BaseException:
        tx.abort()
        raise
    finally:
        reader.close()


def _counted(entry: InputLedger, tx: Any, t0: float, nbytes: int) -> InputLedger:
    """Fill ``entry`` from the committed transaction ``tx`` (None: nothing was added)."""
    if tx is not None:
        entry.rows = tx.rows
        entry.rejected = dict(tx.rejected)
        entry.hosts = dict(tx.hosts)
    entry.bytes = nbytes
    entry.seconds = time.perf_counter() - t0
    return entry


def _parse_blocks(
    reader: sources.Reader,
    ctx: ParseContext,
    first_line: int,
    tx: Any,
    workers: int,
    pool: ProcessPoolExecutor | None,
    block_size: int,
    tick: Callable[[int, int], None],
    hold_tail: bool = False,
) -> tuple[ProcessPoolExecutor | None, int]:
    """Parse every block of ``reader`` into ``tx``; returns the pool (kept for the next input) and
    the number of lines. Blocks run on worker processes when there are several and the parse is
    stateless (no ``--year``, whose December→January rollover needs the blocks in order)."""
    blocks = reader.blocks(block_size, hold_tail=hold_tail)
    first = next(blocks, None)
    if first is None:
        return pool, 0
    second = next(blocks, None)
    line = first_line
    last_raw = 0

    def account(res: ParseResult, n: int) -> None:
        nonlocal line, last_raw
        tx.add(res.rows, res.rejects)
        warn = ctx.state.setdefault("warnings", {})
        for k, v in res.warnings.items():
            warn[k] = warn.get(k, 0) + v
        line += n
        raw = reader.raw_bytes_read
        tick(raw - last_raw, n)
        last_raw = raw

    if second is None or workers <= 1 or ctx.year is not None:
        for block in itertools.chain((first,), () if second is None else (second,), blocks):
            account(*_parse_job(block, line, ctx))
        return pool, line - first_line

    if pool is None:
        pool = process_pool(workers)
    in_flight: list[Future[tuple[ParseResult, int]]] = []
    next_line = first_line
    for block in itertools.chain((first, second), blocks):  # lazily: never the whole input
        # line numbers of a block are known before it is parsed: count its newlines
        n = block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
        in_flight.append(pool.submit(_parse_job, block, next_line, ctx))
        next_line += n
        while len(in_flight) > workers:
            account(*in_flight.pop(0).result())
    for fut in in_flight:
        account(*fut.result())
    return pool, line - first_line

