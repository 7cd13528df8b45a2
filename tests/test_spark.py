"""The analyses on Apache Spark give the same results as on DuckDB.

Fast tests check the comparison helper itself; the ``slow`` ones start Spark (``local[2]``, and a
real standalone master + worker on 127.0.0.1) and compare with DuckDB every analysis the registry
(:mod:`honeyscope.analyse.registry`) marks ``spark=True``, through its API function, the
selection included.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect

import pandas as pd
import pytest

from conftest import needs_spark
from honeyscope import api
from honeyscope.analyse import engine, registry
from honeyscope.analyse import spark as hs_spark

needs_java = needs_spark  # pyspark and Java, else skipped with the reason
needs_pyspark = needs_spark


# -- the comparison helper (no Spark needed) ----------------------------------------------------
def test_compare_ignores_row_order_and_int_widths():
    a = pd.DataFrame({"port": pd.Series([22, 80], dtype="uint16"), "n": [3.0, 5.0]})
    b = pd.DataFrame({"port": pd.Series([80, 22], dtype="int32"), "n": [5, 3]})
    assert hs_spark.compare_frames(a, b) == []


def test_compare_finds_differences():
    a = pd.DataFrame({"host": ["x", "y"], "v": [1.0, 2.0]})
    assert hs_spark.compare_frames(a, a.assign(v=[1.0, 2.5])) != []
    assert hs_spark.compare_frames(a, a.iloc[:1]) == ["row counts differ: 2 vs 1"]
    assert hs_spark.compare_frames(a, a.rename(columns={"v": "w"})) != []
    assert hs_spark.compare_frames(a, a.assign(host=["x", None])) != []
    # timestamps: naive-UTC vs tz-aware UTC are the same instant
    t = pd.DataFrame({"t": pd.to_datetime(["2013-03-03 21:53:59"]).tz_localize("UTC")})
    assert hs_spark.compare_frames(t, t.assign(t=t.t.dt.tz_localize(None))) == []
    assert hs_spark.compare_frames(t, t.assign(t=t.t + pd.Timedelta("1s"))) != []


def test_compare_float_tolerance():
    a = pd.DataFrame({"m": [0.1 + 0.2]})
    assert hs_spark.compare_frames(a, pd.DataFrame({"m": [0.3]})) == []
    assert hs_spark.compare_frames(a, pd.DataFrame({"m": [0.3001]})) != []


def test_spark_safe_widens_unsigned():
    from honeyscope import schema

    t = hs_spark.spark_safe(schema.empty())
    assert t.schema.field("src_int").type == "int64"
    assert t.schema.field("dpt").type == "int32"
    assert t.schema.field("ttl").type == "int16"
    assert t.schema.field("time").type == schema.TIME_TYPE


def test_engine_rejects_unknown():
    with pytest.raises(ValueError):
        hs_spark.connect("yarn")


# -- on Spark ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def duck(marx_parquet):
    return engine.packets_from_files(engine.connect(), [marx_parquet])


@pytest.fixture(scope="module")
def local_spark(marx_parquet):
    con = hs_spark.connect("local[2]")
    yield hs_spark.packets_from_files(con, [marx_parquet])


#: for each analysis of the registry with ``spark=True``: the keywords of its API function to run
#: on both engines; each must give the same DataFrame (tests/test_api_registry.py checks that the
#: keys are exactly the registry's Spark analyses)
CASES: dict[str, list[dict]] = {
    "summary": [{}],
    "count": [{"by": ["host"]}, {"by": ["proto", "icmp_type"]},
              # the selection, on Spark too: a /8, a protocol, a port and a UTC month
              {"by": ["host"], "src": "61.0.0.0/8", "proto": "tcp", "port": "1433",
               "start": "2013-04-01", "end": "2013-04-30"}],
    "daily": [{}, {"unique": True}, {"ma": 7}, {"by": "none"},
              {"sensors": "groucho-eu,groucho-tokyo", "start": "2013-05-01T12:00:00Z"}],
    "ports": [{}, {"proto": "udp", "by": "host"}],
    "port_sources": [{}],
    "enrich": [{"by": "country"}, {"by": "asn"}],
    "sources": [{"top": 0}, {"summary": True}],
    "source": [{"ip": "183.91.14.60"}],
    "scans": [{"top": 0}, {"summary": True}],
    "compare": [{}, {"by": "day"}, {"by": "sensor-day"}],
    "health": [{}, {"by": "day"}],
    "gaps": [{"quiet": True}],
    "survival": [{}, {"by_sensor": True}, {"new_sources": True}],
}

#: known not to run identically on Spark yet: (analysis) -> reason (tell the owner)
KNOWN: dict[str, str] = {
}


def _params():
    marks = [pytest.mark.slow, needs_pyspark, needs_java]
    for a in registry.ANALYSES:
        if not a.spark:
            continue
        for kw in CASES.get(a.name, [{}]):
            m = [*marks, pytest.mark.xfail(reason=KNOWN[a.name], strict=True)] if a.name in KNOWN else marks
            yield pytest.param(a.name, kw, marks=m,
                               id=f"{a.name}-{'-'.join(map(str, kw.values())) or 'default'}")


@pytest.mark.parametrize(("name", "kw"), list(_params()))
def test_same_on_spark_local(duck, local_spark, name, kw):
    fn = getattr(api, name)  # the API function: the selection and the analysis, as users call it
    assert hs_spark.same_result(fn, duck, local_spark, **kw) == []


@pytest.mark.slow
@needs_pyspark
@needs_java
def test_spark_types_and_utc(duck, local_spark):
    """Unsigned columns come back signed but with the same values; times stay UTC."""
    sch = local_spark.schema()
    assert sch["src_int"].is_int64() and sch["dpt"].is_int32() and sch["ttl"].is_int16()
    cols = ["time", "host", "src_int", "dpt"]
    a = duck.select(cols).order_by(cols).limit(5).execute()
    b = local_spark.select(cols).order_by(cols).limit(5).execute()
    assert hs_spark.compare_frames(a, b, sort=False) == []
    first = local_spark.time.min().execute()
    assert pd.Timestamp(first).tz_localize(None) == pd.Timestamp("2013-03-03 21:53:59")
    assert local_spark.src_int.max().execute() > 2**31  # no overflow into negatives
    assert local_spark.count().execute() == 451_581
    assert local_spark.time.date().nunique().execute() == 190


@pytest.mark.slow
@needs_pyspark
@needs_java
def test_spark_reads_directory_and_empty(tmp_path, marx_arrow):
    import pyarrow.parquet as pq

    from honeyscope.synth import fleet

    spec = fleet.FleetSpec(sensors=3, rows=30_000, seed=1, days=40)
    fleet.write_store(spec, tmp_path / "store")  # month subdirectories
    con = hs_spark.connect("local[2]")
    # its own view name: "packets" would replace the view the module's fixture reads
    t = hs_spark.packets_from_files(con, tmp_path / "store" / "packets", name="fleet_dir")
    assert t.columns == tuple(engine_columns())
    assert t.count().execute() == 30_000
    empty = hs_spark.packets_from_files(con, [], name="nothing")
    assert empty.count().execute() == 0
    pq.write_table(marx_arrow.slice(0, 10), tmp_path / "ten.parquet")
    assert hs_spark.packets_from_files(con, [tmp_path / "ten.parquet"], "ten").count().execute() == 10


def engine_columns() -> list[str]:
    from honeyscope import schema

    return schema.COLUMN_NAMES


@pytest.mark.slow
@needs_pyspark
@needs_java
def test_every_single_argument_analysis(duck, local_spark):
    """Every public analysis taking only the packet table runs on Spark with DuckDB's result."""
    failures, ran, not_tables = [], 0, set()
    for mod in ("explore", "health", "survival", "trends", "fleet", "scans", "services", "enrich"):
        m = importlib.import_module(f"honeyscope.analyse.{mod}")  # a missing module is a failure
        for name, fn in inspect.getmembers(m, inspect.isfunction):
            if fn.__module__ != m.__name__ or name.startswith("_"):
                continue
            params = list(inspect.signature(fn).parameters.values())
            if not params or params[0].name != "t" or any(
                p.default is inspect.Parameter.empty for p in params[1:]
            ) or f"{mod}.{name}" in KNOWN or f"{mod}.{name.removesuffix('_expr')}" in KNOWN:
                continue
            try:
                a = fn(duck)
                if hasattr(a, "execute"):
                    a = a.execute()
            except Exception as e:  # never skipped silently: it failed on DuckDB already
                failures.append(f"{mod}.{name} on DuckDB: {type(e).__name__}: {str(e)[:300]}")
                continue
            if not isinstance(a, pd.DataFrame):
                not_tables.add(f"{mod}.{name}")
                continue
            ran += 1
            try:
                b = fn(local_spark)
                b = b.execute() if hasattr(b, "execute") else b
                diff = hs_spark.compare_frames(a, b)
            except Exception as e:
                diff = [f"{type(e).__name__}: {str(e)[:300]}"]
            if diff:
                failures.append(f"{mod}.{name}: {diff}")
    # the only ones not compared: a number, a dict of test results and a dense array
    assert not_tables == {"survival.fleet_new_per_day", "trends.rise_test", "trends.series"}
    assert ran >= 30 and failures == []
