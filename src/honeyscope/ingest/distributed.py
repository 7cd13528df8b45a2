"""Ingest spread over a Spark cluster's workers, committed by the driver into one store.

:func:`ingest_on_spark` is :func:`honeyscope.ingest.run.ingest` with the parsing moved to Spark:

* the **driver** expands the inputs, takes the store's lock, and skips every input whose bytes
  were ingested before (the same sha256 + length rule as ``run.py``);
* each remaining raw-log input becomes one Spark **task**: the worker opens the file (a shared
  filesystem is assumed: the same path on the driver and every worker; on the test cluster a
  local path), reads it in blocks whatever its compression, parses each block with
  :func:`honeyscope.ingest.parse.parse_block` and writes the Parquet parts into the store's
  ``staging/<transaction>/`` directory, named exactly as a local ingest names them;
* the driver then **commits** each input through :class:`~honeyscope.store.store.Transaction`:
  the parts move into ``packets/`` and ``rejects/`` and the manifest is replaced atomically, so
  the manifest stays the single source of truth and nothing is visible before it is replaced
  (a killed run leaves only staging files, swept by the next ingest).

Inputs a cluster gains nothing from go the local way, in the driver, through ``run.py`` itself:
the bundled data set's CSV layouts (read whole), and files that have grown since their last
ingest (only the new lines are read). Standard input cannot be shipped to workers.

The store is a local path (the directory the workers write into); the result is the same
:class:`~honeyscope.ingest.run.Ledger` a local ingest returns, and the store holds the same rows
and ledger as a local ingest of the same files (tested on a standalone cluster).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from honeyscope.ingest import run, sources
from honeyscope.store.store import Store, Transaction

#: A way to run tasks: ``mapper(fn, tasks) -> results`` in task order (Spark, or plain ``map``).
Mapper = Callable[[Callable[[dict], dict], list[dict]], list[dict]]


@dataclass
class _Pending:
    """An input the workers parse: its driver-side facts and its open transaction."""

    inp: sources.Input
    size: int
    sha256: str
    tx: Transaction


def parse_file_task(task: dict[str, Any]) -> dict[str, Any]:
    """Worker: parse one raw-log file into ``staging/<tx>/`` of the store; return what the
    driver needs to commit it (parts, counts, lines, bytes read). Runs anywhere the file and
    the store's directory are reachable at the same paths."""
    from datetime import datetime

    from honeyscope.ingest.parse import ParseContext

    store_path = Path(task["store"])
    # a Transaction only needs the store's path to stage; the driver holds the real Store
    tx = Transaction(SimpleNamespace(path=store_path), id=task["tx"])  # type: ignore[arg-type]
    inp = sources.Input(task["name"], Path(task["path"]))
    reader = sources.Reader(inp)
    try:
        head = reader.head()
        kind = sources.kind_of(head)
        ctx = ParseContext(
            source=inp.name,
            reference_time=datetime.fromisoformat(task["reference_time"]),
            year=task["year"], tz=task["tz"], sensor=task["sensor"] or run.default_sensor(inp),
        )
        line = 1
        for block in reader.blocks(task["block_size"]):
            res, n = run.parse_block(block, line, ctx)  # the same block parse as a local ingest
            tx.add(res.rows, res.rejects)
            line += n
        return {
            "kind": kind, "compression": reader.compression, "lines": line - 1,
            "end_byte": reader.raw_bytes_read, "content_read": reader.content_read,
            "parts": tx.parts,
            "reject_parts": tx.reject_parts, "rows": tx.rows, "rejected": tx.rejected,
            "hosts": tx.hosts,
        }
    finally:
        reader.close()


def ingest_distributed(
    inputs: Iterable[str],
    store: str | Path | Store,
    mapper: Mapper,
    *,
    year: int | None = None,
    tz: str = "UTC",
    sensor: str | None = None,
    wait: float | None = 0,
    block_size: int = sources.BLOCK,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> run.Ledger:
    """Ingest ``inputs`` into ``store`` with the raw-log files parsed by ``mapper`` (see the
    module doc); :func:`ingest_on_spark` passes Spark, tests may pass ``map``."""
    run.check_options(year, None, sensor, tz)
    st = store if isinstance(store, Store) else Store(store, create=True)
    resolved = sources.expand(inputs, skip=[st.path], include=include, exclude=exclude)
    if any(i.path is None for i in resolved):
        raise ValueError("standard input cannot be spread over a cluster: ingest it locally")
    ledger = run.Ledger(store=str(st.path))
    t0 = time.perf_counter()
    options = {"year": year, "tz": tz, "sensor": sensor}
    with st.lock(wait=wait):
        pending: list[_Pending] = []
        local: list[sources.Input] = []
        entries: dict[str, run.InputLedger] = {}
        in_this_run: set[str] = set()
        keys: dict[int, set[str]] = {}
        for e in st.records:
            k = e.content_key()
            if k is not None:
                keys.setdefault(k[0], set()).add(k[1])
        for inp in resolved:
            assert inp.path is not None
            size = inp.path.stat().st_size
            if not inp.seekable:
                local.append(inp)
                continue
            scanned = sources.scan(inp, keys)  # content, not bytes: as run.py
            digest = scanned.sha256
            if not scanned.damaged and (digest in in_this_run or digest in keys.get(scanned.size, ())):
                # the same text in the store, or twice among these inputs: once only
                entries[inp.name] = run.InputLedger(inp.name, "skipped: already ingested")
                continue
            in_this_run.add(digest)
            with _opened(inp) as reader:
                head = reader.head()
                kind = sources.kind_of(head)
            if (scanned.prefix or scanned.damaged or kind != "log" or size == 0
                    or sources.binary_kind(head)):
                # grown or rotated texts, damaged archives, CSVs, refusals: the local path
                local.append(inp)
                continue
            pending.append(_Pending(inp, scanned.size, digest, st.begin()))
        try:
            tasks = [
                {"store": str(st.path), "tx": p.tx.id, "name": p.inp.name, "path": str(p.inp.path),
                 "reference_time": p.inp.mtime().isoformat(), "block_size": block_size, **options}
                for p in pending
            ]
            results = mapper(parse_file_task, tasks) if tasks else []
            for p, res in zip(pending, results, strict=True):
                entries[p.inp.name] = _commit(st, p, res, options)
        except BaseException:
            for p in pending:
                p.tx.abort()
            raise
    if local:  # the local path takes the lock itself
        for e in run.ingest([str(i.path) for i in local], st, year=year, tz=tz, sensor=sensor,
                            wait=wait, block_size=block_size).inputs:
            entries[e.source] = e
    ledger.inputs = [entries[i.name] for i in resolved]
    ledger.seconds = time.perf_counter() - t0
    return ledger


class _opened:
    """``with _opened(inp) as reader``: a Reader closed on exit."""

    def __init__(self, inp: sources.Input) -> None:
        self.reader = sources.Reader(inp)

    def __enter__(self) -> sources.Reader:
        return self.reader

    def __exit__(self, *exc: object) -> None:
        self.reader.close()


def _commit(st: Store, p: _Pending, res: dict[str, Any], options: dict) -> run.InputLedger:
    """Commit one parsed input (driver): the record ``run.py`` writes, from the worker's result."""
    tx = p.tx
    tx.parts, tx.reject_parts = list(res["parts"]), list(res["reject_parts"])
    tx.rows, tx.rejected, tx.hosts = res["rows"], dict(res["rejected"]), dict(res["hosts"])
    # (a worker running an older honeyscope does not say how much text it read: all of it)
    end_byte, end = res["end_byte"], res.get("content_read", p.size)
    assert p.inp.path is not None
    # (p.size, p.sha256: the decompressed text's length and digest, from the driver's scan)
    content_sha = p.sha256 if end == p.size else sources.content_digest(p.inp, end)
    raw_sha = content_sha if res["compression"] is None else sources.file_digest(p.inp.path)
    t0 = time.perf_counter()
    tx.commit({
        "source": p.inp.name, "kind": res["kind"], "compression": res["compression"],
        "start_byte": 0, "end_byte": end_byte, "sha256": raw_sha, "content_start": 0,
        "content_bytes": end, "content_sha256": content_sha, "start_line": 1,
        "end_line": res["lines"], "lines": res["lines"], "options": options,
    })
    entry = run.InputLedger(p.inp.name, "added", kind=res["kind"],
                            compression=res["compression"], lines=res["lines"])
    return run.counted(entry, tx, t0, end_byte)


def spark_mapper(master: str, conf: dict[str, str] | None = None) -> Mapper:
    """Run tasks on Spark at ``master``: one task per input, results collected in order."""
    from honeyscope.analyse import spark as hs_spark

    def mapper(fn: Callable[[dict], dict], tasks: list[dict]) -> list[dict]:
        con = hs_spark.connect(master, conf=conf)
        sc = con._session.sparkContext
        return sc.parallelize(tasks, numSlices=len(tasks)).map(fn).collect()

    return mapper


def ingest_on_spark(
    inputs: Sequence[str] | str,
    store: str | Path | Store,
    master: str,
    *,
    conf: dict[str, str] | None = None,
    **options: Any,
) -> run.Ledger:
    """Ingest ``inputs`` into ``store`` with the parsing spread over the Spark cluster at
    ``master`` (``spark://HOST:PORT`` or ``local[N]``); options as :func:`ingest_distributed`
    (``year``, ``tz``, ``sensor``, ``wait``, ``block_size``)."""
    if isinstance(inputs, str | Path):
        inputs = [str(inputs)]
    return ingest_distributed([str(i) for i in inputs], store, spark_mapper(master, conf),
                              **options)
