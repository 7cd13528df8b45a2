"""The Python API. The CLI is a thin layer over these functions.

>>> import honeyscope
>>> ledger = honeyscope.ingest(["/var/log/kern.log*"], "store")      # doctest: +SKIP
>>> honeyscope.open_store("store").polars()                          # doctest: +SKIP
>>> t = honeyscope.open_packets(["store"])     # an Ibis table        # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ibis
import pandas as pd

from honeyscope.analyse import engine as _engine
from honeyscope.store.store import Store, is_store

__all__ = ["ingest", "open_packets", "open_store", "resolve_store", "verify_store"]


def ingest(inputs: Sequence[str] | str, store: str | Path, **options: Any):
    """Ingest inputs (files, directories, globs, ``-``) into the store at ``store``.

    Options: ``year``, ``tz``, ``sensor``, ``workers``, ``wait``, ``progress``. Returns the
    :class:`~honeyscope.ingest.run.Ledger` of this run.
    """
    from honeyscope.ingest.run import ingest as _ingest

    if isinstance(inputs, str | Path):
        inputs = [str(inputs)]
    return _ingest([str(i) for i in inputs], store, **options)


class StoreHandle(Store):
    """A store opened for reading: the packet table as Arrow, polars, pandas or Ibis."""

    def arrow(self, columns: list[str] | None = None):
        return self.table(columns)

    def polars(self, columns: list[str] | None = None):
        import polars as pl

        return pl.from_arrow(self.table(columns))

    def pandas(self, columns: list[str] | None = None):
        """The packets as pandas; ports, ICMP codes and other integers as nullable integers."""
        from honeyscope.store.frames import to_pandas

        return to_pandas(self.table(columns))

    def packets(self, engine: str = _engine.DEFAULT_ENGINE) -> ibis.Table:
        return _engine.packets_from_files(_engine.connect(engine), self.packet_files())


def open_store(path: str | Path) -> StoreHandle:
    """Open an existing store (see README, "The store")."""
    return StoreHandle(path)


def verify_store(path: str | Path, *, repair: bool = False):
    """Check every part of the store at ``path`` against its manifest (present, readable, schema,
    row counts); with ``repair``, move each damaged input aside (``STORE/damaged/``) so its logs can
    be ingested again. Returns a :class:`~honeyscope.store.verify.VerifyResult`."""
    from honeyscope.store import verify as _verify

    return _verify.repair(path) if repair else _verify.verify(path)


_TEMP_STORES: dict[tuple, Path] = {}


def resolve_store(
    sources: Sequence[str | Path] | str | Path,
    *,
    year: int | None = None,
    tz: str = "UTC",
    sensor: str | None = None,
    progress: Any = None,
) -> Store:
    """The store named by ``sources``: a store directory as is, or data files (raw logs, marx CSV)
    ingested on the fly into a temporary store that lives as long as this process."""
    if isinstance(sources, str | Path):
        sources = [sources]
    srcs = [str(s) for s in sources]
    if len(srcs) == 1 and is_store(srcs[0]):
        return Store(srcs[0])
    for s in srcs:
        if Path(s).is_dir() and is_store(s):
            raise ValueError(f"{s} is a store: give it alone, not mixed with other sources")
    key = (tuple(srcs), year, tz, sensor)
    if key not in _TEMP_STORES:
        tmp = Path(tempfile.mkdtemp(prefix="honeyscope-"))
        atexit.register(shutil.rmtree, tmp, True)
        # live=False: every line, even a live log's unterminated last one (no next ingest here)
        led = ingest(srcs, tmp / "store", year=year, tz=tz, sensor=sensor, progress=progress,
                     live=False)
        if led.errors():  # a damaged or refused input: the analysis would be of part of the data
            raise ValueError("; ".join(led.errors())
                             + " (`honeyscope ingest` keeps the readable part in a store)")
        _TEMP_STORES[key] = tmp / "store"
    return Store(_TEMP_STORES[key])


def remote_packet_files(url: str) -> list[str]:
    """The committed Parquet files of a store at ``url`` (``s3://``, ``hdfs://``, ``file://``...)."""
    import json

    from pyarrow import fs

    filesystem, root = fs.FileSystem.from_uri(url.rstrip("/"))
    with filesystem.open_input_stream(f"{root}/manifest.json") as f:
        manifest = json.loads(f.read())
    base = url.rstrip("/")
    return [f"{base}/{p}" for i in manifest["inputs"] for p in i["parts"]]


def open_packets(
    sources: Sequence[str | Path] | str | Path,
    *,
    engine: str = _engine.DEFAULT_ENGINE,
    year: int | None = None,
    tz: str = "UTC",
    sensor: str | None = None,
    con: ibis.BaseBackend | None = None,
) -> ibis.Table:
    """The canonical packet table of a store directory or of data files, as an Ibis table on
    ``engine`` (DuckDB in-process by default; ``spark://HOST:PORT`` or ``local[N]`` for Spark)."""
    if con is None:
        con = _engine.connect(engine)
    elif getattr(con, "name", "") == "duckdb":
        con.raw_sql("SET TimeZone = 'UTC'")  # days are UTC days on a connection we were given too
    srcs = [str(s) for s in ([sources] if isinstance(sources, str | Path) else sources)]
    if len(srcs) == 1 and "://" in srcs[0]:
        # a store on an object store / HDFS, read where it lies by the engine itself; the
        # manifest (read through pyarrow's filesystems) names the committed files, as locally
        return _engine.packets_from_files(con, remote_packet_files(srcs[0]))
    store = resolve_store(srcs, year=year, tz=tz, sensor=sensor)
    from honeyscope.store.frames import require_packets

    require_packets(store)  # no packet at all: one sentence (lines read, rejected), not empty answers
    return _engine.packets_from_files(con, store.packet_files())


def packets_of(source: Any, *, engine: str = _engine.DEFAULT_ENGINE) -> ibis.Table:
    """An Ibis packet table as is, or the table of a store / data files (see :func:`open_packets`)."""
    if isinstance(source, ibis.Table):
        return source
    return open_packets(source, engine=engine)


def _analysis(module: str, name: str):
    def run(source: Any, *args: Any, engine: str = _engine.DEFAULT_ENGINE, **kwargs: Any):
        import importlib

        fn = getattr(importlib.import_module(f"honeyscope.analyse.{module}"), name)
        from honeyscope.store.frames import restore_ints

        result = fn(packets_of(source, engine=engine), *args, **kwargs)
        result = result.execute() if isinstance(result, ibis.Expr) else result
        return restore_ints(result) if isinstance(result, pd.DataFrame) else result

    run.__name__ = name
    run.__qualname__ = name
    run.__doc__ = (
        f"``honeyscope.analyse.{module}.{name}`` on SOURCE: an Ibis packet table, a store directory, "
        "or data files. Returns a pandas DataFrame."
    )
    return run


#: Analyses of the Python API, by name: (module in honeyscope.analyse, function).
ANALYSES = {
    "summary": ("explore", "summary"),
    "count": ("explore", "count"),
    "daily": ("explore", "daily"),
    "ports": ("explore", "ports"),
    "port_sources": ("explore", "port_sources"),
    "enrich": ("enrich", "enrich"),
    "compare_sensors": ("fleet", "compare_sensors"),
    "fair_daily": ("fleet", "fair_daily"),
    "source_profiles": ("fleet", "source_profiles"),
    "source_timeline": ("fleet", "source_timeline"),
    "scans": ("scans", "scans"),
    "events": ("events", "events"),
    "health": ("health", "health"),
    "completeness": ("health", "completeness"),
    "gaps": ("health", "gaps"),
    "capping": ("health", "capping"),
    "anomalies": ("trends", "anomalies"),
    "rise_test": ("trends", "rise_test"),
    "first_probe": ("survival", "first_probe"),
    "new_source_intervals": ("survival", "new_source_intervals"),
    "new_sources_fleet": ("survival", "new_sources_fleet"),
}

for _name, (_module, _fn) in ANALYSES.items():
    globals()[_name] = _analysis(_module, _fn)
    __all__.append(_name)
