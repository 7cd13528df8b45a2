"""Where analyses run: an Ibis backend, DuckDB in-process by default.

Every analysis in :mod:`honeyscope.analyse` is an Ibis expression over the canonical packet table
(:mod:`honeyscope.schema`); this module only decides which engine evaluates it.
"""

from __future__ import annotations

import itertools
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

import ibis
import pyarrow as pa

from honeyscope import schema

DEFAULT_ENGINE = "duckdb"

#: DuckDB's memory limit per connection (``HONEYSCOPE_MEMORY_LIMIT`` overrides it, any size DuckDB
#: reads: ``4GB``, ``800MiB``). The large operators (hash aggregates and joins, sorts, windows)
#: spill to :data:`temp_directory` beyond it instead of growing: DuckDB's own default, 80 % of
#: RAM, let one fleet report of 10^7 packets reach 7.4 GB; each of the report's two processes
#: has its own connection, so this is per process.
MEMORY_LIMIT = "1GB"


def duckdb_settings() -> dict[str, str]:
    """The settings :func:`connect` gives a DuckDB connection."""
    return {
        "TimeZone": "UTC",  # days are UTC days, whatever the machine's zone
        "enable_progress_bar": "false",  # no bar of DuckDB's on stdout amid results
        "memory_limit": os.environ.get("HONEYSCOPE_MEMORY_LIMIT") or MEMORY_LIMIT,
        # spill files in the system's temporary directory, not ``.tmp`` in the working one
        "temp_directory": os.path.join(tempfile.gettempdir(), f"honeyscope-duckdb-{os.getpid()}"),
    }


def connect(engine: str = DEFAULT_ENGINE) -> ibis.BaseBackend:
    """An Ibis backend for ``engine``: ``duckdb`` (default, in-process), or a Spark master URL
    (``spark://HOST:PORT``, ``local[N]``) handled by :mod:`honeyscope.analyse.spark`."""
    if engine in ("duckdb", "", None):
        import duckdb

        con = ibis.duckdb.connect()
        for name, value in duckdb_settings().items():
            bad = ValueError(f"HONEYSCOPE_MEMORY_LIMIT={value!r} is not a size DuckDB reads "
                             "(e.g. 4GB, 800MiB)")
            if name == "memory_limit" and not re.fullmatch(r"[0-9.]+ ?[A-Za-z]*", value):
                raise bad
            try:
                con.raw_sql(f"SET {name} = '{value}'")
            except duckdb.Error as e:
                if name != "memory_limit":
                    raise
                raise bad from e
        return con
    if engine.startswith(("spark://", "local")):
        from honeyscope.analyse import spark  # optional dependency

        return spark.connect(engine)
    raise ValueError(f"unknown engine {engine!r}: use duckdb, spark://HOST:PORT or local[N]")


def is_spark(con: ibis.BaseBackend | None) -> bool:
    """Whether ``con`` is Spark (no unsigned integer types, regex ``split``, ...)."""
    return getattr(con, "name", "") == "pyspark"


def backend(t: ibis.Expr) -> ibis.BaseBackend:
    """The backend an expression runs on (the default one for in-memory tables only)."""
    return t._find_backend(use_default=True)


def memtable(con: ibis.BaseBackend | None, make: Callable[[], pa.Table]) -> ibis.Table:
    """An in-memory table of ``make()`` (a reference table: geo ranges, services) fit for
    ``con``: unsigned integers widened where the engine has none, one chunk per column (Spark's
    Arrow path takes no chunked arrays). Built once per process and kind of engine."""
    return _memtable(make, is_spark(con))


@cache
def _memtable(make: Callable[[], pa.Table], signed: bool) -> ibis.Table:
    t = make()
    if signed:
        from honeyscope.analyse.spark import spark_safe

        t = spark_safe(t)
    return ibis.memtable(t.combine_chunks())


def cache_table(expr: ibis.Table) -> ibis.Table:
    """``expr`` materialised on its engine (a temporary table on DuckDB, a persisted DataFrame on
    Spark); ``.release()`` frees it."""
    # Ibis' pyspark cache() runs the SQL without registering the in-memory tables it reads (the
    # range tables) first; every other execution path does this step
    register = getattr(backend(expr), "_run_pre_execute_hooks", None)
    if register is not None:
        register(expr)
    return expr.cache()


def _unique(name: str | None) -> str:
    """A fresh table name: two opens on one connection must not replace each other's view."""
    return name or f"packets_{next(_names)}"


_names = itertools.count(1)


def whole_seconds(ts: ibis.Value) -> ibis.Value:
    """Whole seconds since the epoch, floored: the same on every engine (a bare epoch_seconds
    keeps or rounds the fraction on DuckDB and drops it on Spark)."""
    return ts.truncate("s").epoch_seconds()


def packets_from_files(
    con: ibis.BaseBackend, files: Sequence[str | Path], name: str | None = None
) -> ibis.Table:
    """The packet table backed by Parquet files (read where they lie, never loaded whole)."""
    if is_spark(con):
        from honeyscope.analyse import spark

        return spark.packets_from_files(con, files, _unique(name))
    paths = [str(f) for f in files]
    if not paths:
        return packets_from_arrow(con, schema.empty(), name)
    return con.read_parquet(paths, table_name=_unique(name))


def packets_from_arrow(con: ibis.BaseBackend, table: pa.Table, name: str | None = None) -> ibis.Table:
    """The packet table from an in-memory Arrow table (tests, small inputs)."""
    if is_spark(con):
        from honeyscope.analyse import spark

        return spark.packets_from_arrow(con, table, _unique(name))
    return con.create_table(_unique(name), table, overwrite=True)
