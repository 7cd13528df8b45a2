"""Health, trends and survival give the same answers on Spark as on DuckDB (slow: starts a JVM)."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest

from conftest import needs_spark
from honeyscope.analyse import engine, health, survival, trends

pytestmark = [pytest.mark.slow, needs_spark]


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    from honeyscope.analyse import spark
    from test_trends import _build  # the planted spike / changepoint / emerging-port data

    path = tmp_path_factory.mktemp("spark") / "p.parquet"
    pq.write_table(_build(), path)
    con = spark.connect("local[1]")
    return spark, engine.packets_from_files(engine.connect(), [path]), \
        spark.packets_from_files(con, [path])


CHECKS = {
    "completeness": health.completeness,
    "gaps": lambda t: health.gaps(t, include_quiet=True),
    "capping": health.capping,
    "health": health.health,
    # from the per sensor-hour counts the report's health section shares
    "completeness_hourly": lambda t: health.completeness(t, health.hourly_expr(t)),
    "gaps_hourly": lambda t: health.gaps(t, include_quiet=True, hours=health.hourly_expr(t)),
    "health_hourly": lambda t: health.health(t, hours=health.hourly_expr(t)),
    "anomalies": trends.anomalies,
    "rise": lambda t: pd.DataFrame([trends.rise_test(t, "TCP", 445, "2024-03-11")]),
    "first_probe": lambda t: survival.first_probe(t, top=3),
    # Spark's quantiles are approximate: compare the exact columns
    "new_sources": lambda t: survival.new_source_intervals(t).drop(
        columns=["median_s", "p90_s", "p99_s"]),
}


@pytest.mark.parametrize("name", list(CHECKS))
def test_same_on_spark(engines, name):
    spark, duck, sp = engines
    a, b = CHECKS[name](duck), CHECKS[name](sp)
    assert len(a) > 0 or name == "capping"
    assert spark.compare_frames(a, b) == []
