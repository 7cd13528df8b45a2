"""Where analyses run: an Ibis backend, DuckDB in-process by default.

Every analysis in :mod:`honeyscope.analyse` is an Ibis expression over the canonical packet table
(:mod:`honeyscope.schema`); this module only decides which engine evaluates it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import ibis
import pyarrow as pa

DEFAULT_ENGINE = "duckdb"


def connect(engine: str = DEFAULT_ENGINE) -> ibis.BaseBackend:
    """An Ibis backend for ``engine``: ``duckdb`` (default, in-process), or a Spark master URL
    (``spark://HOST:PORT``, ``local[N]``) handled by :mod:`honeyscope.analyse.spark`."""
    if engine in ("duckdb", "", None):
        return ibis.duckdb.connect()
    if engine.startswith(("spark://", "local")):
        from honeyscope.analyse import spark  # optional dependency

        return spark.connect(engine)
    raise ValueError(f"unknown engine {engine!r}: use duckdb, spark://HOST:PORT or local[N]")


def packets_from_files(
    con: ibis.BaseBackend, files: Sequence[str | Path], name: str = "packets"
) -> ibis.Table:
    """The packet table backed by Parquet files (read where they lie, never loaded whole)."""
    paths = [str(f) for f in files]
    if not paths:
        from honeyscope import schema

        return con.create_table(name, schema.empty(), overwrite=True)
    return con.read_parquet(paths, table_name=name)


def packets_from_arrow(con: ibis.BaseBackend, table: pa.Table, name: str = "packets") -> ibis.Table:
    """The packet table from an in-memory Arrow table (tests, small inputs)."""
    return con.create_table(name, table, overwrite=True)
