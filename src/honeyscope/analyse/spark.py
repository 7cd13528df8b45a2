"""Apache Spark (PySpark) as the engine: the same Ibis analyses, on a cluster or ``local[N]``.

* :func:`connect` builds a SparkSession for a master URL (``spark://HOST:PORT`` or ``local[N]``)
  with settings for a small box (session time zone UTC, few shuffle partitions, Arrow transfers)
  and wraps it in Ibis' pyspark backend.
* :func:`packets_from_files` reads the store's Parquet files where they lie (a list of files, a
  directory, or a URL such as ``s3a://bucket/store/packets``). Spark has no unsigned integers:
  uint8 comes back as int16, uint16 as int32, uint32 as int64 (the values are unchanged).
* :func:`same_result` runs one analysis on two engines and compares the DataFrames after
  normalising types and row order (what "identical results" means across engines).

The standalone master and worker that tests and benchmarks start on 127.0.0.1 are test/ops
tooling: :class:`honeyscope.ops.spark_cluster.StandaloneCluster`.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa

from honeyscope import schema

#: Spark settings for a 2-core, 24 GiB machine; override with ``connect(..., conf={...})``.
DEFAULT_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "true",
    "spark.driver.memory": "4g",
    "spark.executor.memory": "4g",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.files.maxPartitionBytes": str(128 * 1024 * 1024),
}

#: Spark's type for each Arrow type of the canonical schema (Spark has no unsigned ints).
_SPARK_TYPE = {
    pa.uint8(): "SMALLINT",
    pa.uint16(): "INT",
    pa.uint32(): "BIGINT",
    pa.float64(): "DOUBLE",
    pa.string(): "STRING",
    pa.bool_(): "BOOLEAN",
    schema.TIME_TYPE: "TIMESTAMP",
}


def java_available() -> bool:
    return shutil.which("java") is not None or bool(os.environ.get("JAVA_HOME"))


def _session(master: str, conf: dict[str, str] | None = None, app_name: str = "honeyscope"):
    from pyspark.sql import SparkSession

    # executors and Python workers must use this interpreter (the venv), and the driver must be
    # reachable from the workers: loopback when the master is local
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    settings = dict(DEFAULT_CONF)
    host = master.removeprefix("spark://").rsplit(":", 1)[0]
    if master.startswith("local") or host in ("127.0.0.1", "localhost"):
        settings.setdefault("spark.driver.host", "127.0.0.1")
        settings.setdefault("spark.driver.bindAddress", "127.0.0.1")
    settings.update(conf or {})
    active = SparkSession.getActiveSession()
    if active is not None and active.sparkContext.master != master:
        active.stop()  # getOrCreate would silently hand back the session on the other master
    builder = SparkSession.builder.master(master).appName(app_name)
    for k, v in settings.items():
        builder = builder.config(k, v)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def connect(master: str, *, conf: dict[str, str] | None = None) -> ibis.BaseBackend:
    """An Ibis pyspark backend on ``master`` (``spark://HOST:PORT``, ``local``, ``local[N]``)."""
    if not (master.startswith("spark://") or master.startswith("local")):
        raise ValueError(f"not a Spark master URL: {master!r} (spark://HOST:PORT or local[N])")
    if not java_available():
        raise RuntimeError("Spark needs Java (17): no java on PATH and no JAVA_HOME")
    try:
        import pyspark  # noqa: F401
    except ModuleNotFoundError as e:
        raise RuntimeError(
            "the Spark engine needs the spark extra: pip install 'honeyscope[spark]'"
        ) from e
    return ibis.pyspark.connect(_session(master, conf))



def _spark_schema_ddl() -> str:
    return ", ".join(f"`{f.name}` {_SPARK_TYPE[f.type]}" for f in schema.SCHEMA)


def packets_from_files(
    con: ibis.BaseBackend, files: Sequence[str | Path] | str | Path, name: str = "packets"
) -> ibis.Table:
    """The packet table on Spark, backed by Parquet read where it lies.

    ``files``: Parquet files, a directory (read recursively; Hive partition directories such as
    ``month=2013-03`` are not turned into columns) or URLs Spark can read (``s3a://...``,
    ``hdfs://...``). Columns come back in canonical order with Spark's signed types.
    """
    session = con._session
    if isinstance(files, str | Path):
        files = [files]
    paths = [_normalise_path(f) for f in files]
    if not paths:
        df = session.createDataFrame([], _spark_schema_ddl())
    else:
        reader = session.read.option("recursiveFileLookup", "true")
        df = reader.parquet(*paths).select(*schema.COLUMN_NAMES)
    df.createOrReplaceTempView(name)
    return con.table(name)


def _normalise_path(p: str | Path) -> str:
    s = str(p)
    if "://" in s:
        return s
    return str(Path(s).absolute())


def spark_safe(table: pa.Table) -> pa.Table:
    """``table`` with unsigned integer columns widened to the signed types Spark uses."""
    widen = {pa.uint8(): pa.int16(), pa.uint16(): pa.int32(), pa.uint32(): pa.int64(),
             pa.uint64(): pa.decimal128(20, 0)}
    fields = [pa.field(f.name, widen.get(f.type, f.type)) for f in table.schema]
    return table.cast(pa.schema(fields))


def packets_from_arrow(con: ibis.BaseBackend, table: pa.Table, name: str = "packets") -> ibis.Table:
    """The packet table on Spark from an in-memory Arrow table (tests, small inputs)."""
    df = con._session.createDataFrame(spark_safe(table))  # Spark 4 takes Arrow tables
    df.createOrReplaceTempView(name)
    return con.table(name)


# -- comparing engines ------------------------------------------------------------------------
def normalise(df: pd.DataFrame, sort: bool = True) -> pd.DataFrame:
    """``df`` in an engine-neutral form: integer columns as nullable Int64, floats as float64,
    timestamps as UTC, dates as ``datetime.date``-valued object columns, missing values as NA,
    rows sorted by every column (unless ``sort`` is False), index reset."""
    out = pd.DataFrame(index=range(len(df)))
    for c in df.columns:
        s = df[c].reset_index(drop=True)
        if pd.api.types.is_bool_dtype(s.dtype):
            s = s.astype("boolean")
        elif pd.api.types.is_integer_dtype(s.dtype):
            s = s.astype("Int64")
        elif pd.api.types.is_float_dtype(s.dtype):
            f = s.astype("float64")
            whole = f.dropna()
            s = f.astype("Int64") if len(whole) and np.all(np.mod(whole, 1) == 0) and (
                whole.abs().max() < 2**53) else f
        elif isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(s.dtype):
            s = pd.to_datetime(s, utc=True).astype("datetime64[us, UTC]")
        elif s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            s = s.map(_plain, na_action="ignore").astype(object).where(s.notna(), None)
        out[c] = s
    if sort and len(out.columns) and len(out):
        keys = [out[c].map(_sort_key) for c in out.columns]
        order = pd.DataFrame({i: k for i, k in enumerate(keys)}).sort_values(
            list(range(len(keys))), kind="stable").index
        out = out.loc[order].reset_index(drop=True)
    return out


def _plain(v: Any) -> Any:
    if isinstance(v, pd.Timestamp):
        return v.tz_localize("UTC") if v.tzinfo is None else v.tz_convert("UTC")
    if isinstance(v, np.generic):
        return v.item()
    return v


def _sort_key(v: Any) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return "\x00"
    if isinstance(v, int | float | np.integer | np.floating):
        return f"\x01{float(v):+030.10f}"
    return f"\x02{v}"


def compare_frames(a: pd.DataFrame, b: pd.DataFrame, *, sort: bool = True,
                   rtol: float = 1e-9) -> list[str]:
    """Differences between two analysis results after :func:`normalise` (empty: identical).
    Floats are equal within ``rtol`` (sums in another order differ in the last bits)."""
    problems: list[str] = []
    if list(a.columns) != list(b.columns):
        return [f"columns differ: {list(a.columns)} vs {list(b.columns)}"]
    if len(a) != len(b):
        problems.append(f"row counts differ: {len(a)} vs {len(b)}")
        return problems
    na, nb = normalise(a, sort), normalise(b, sort)
    for c in na.columns:
        x, y = na[c], nb[c]
        if pd.api.types.is_float_dtype(x.dtype) or pd.api.types.is_float_dtype(y.dtype):
            xf, yf = x.astype("float64").to_numpy(), y.astype("float64").to_numpy()
            same = np.isclose(xf, yf, rtol=rtol, atol=0, equal_nan=True)
        else:
            xs, ys = x.astype(object), y.astype(object)
            same = np.array([
                ((p is None or p is pd.NA) and (q is None or q is pd.NA)) or
                (p is not None and p is not pd.NA and q is not None and q is not pd.NA and p == q)
                for p, q in zip(xs, ys, strict=True)
            ], dtype=bool)
        if not same.all():
            i = int(np.flatnonzero(~same)[0])
            problems.append(f"column {c!r}: {int((~same).sum())} rows differ, first at row {i}: "
                            f"{x.iloc[i]!r} vs {y.iloc[i]!r}")
    return problems


def same_result(analysis: Callable[..., pd.DataFrame], left: ibis.Table, right: ibis.Table,
                *args: Any, sort: bool = True, **kwargs: Any) -> list[str]:
    """Run ``analysis(t, *args, **kwargs)`` on two packet tables (e.g. DuckDB and Spark) and
    return the differences of the results (empty: identical after :func:`normalise`)."""
    a = analysis(left, *args, **kwargs)
    b = analysis(right, *args, **kwargs)
    if isinstance(a, ibis.Expr):
        a = a.execute()
    if isinstance(b, ibis.Expr):
        b = b.execute()
    return compare_frames(a, b, sort=sort)
