"""The fleet report sections on the bundled data."""

from __future__ import annotations

import time

import pytest

from honeyscope.render.sections import ReportContext
from honeyscope.render.sections.fleet import build


@pytest.mark.slow  # ~8-11 s on the shared 2-core machine
def test_sections_on_marx(marx):
    ctx = ReportContext(packets=marx, con=marx._find_backend())
    t0 = time.perf_counter()
    secs = build(ctx)
    elapsed = time.perf_counter() - t0
    assert [s.id for s in secs] == ["origin", "compare", "sources", "scans"]
    html = "".join(s.body for s in secs)
    assert "IPFire" in html and "2022-10-29" in html
    assert "Chinanet Backbone" in html
    assert "1,350" in html  # sources that reached all 9 sensors
    assert "20,666" in html  # one packet, one sensor
    assert "183.91.14.60" in html  # largest scan
    assert "<script" not in html
    assert ctx.meta["enrichment"]["license"] == "CC BY-SA 4.0"
    f = " ".join(ctx.findings)
    assert "China" in f and "backscatter" in f
    assert elapsed < 30


def _small(con):
    """Most packets from private (unresolvable) sources: the busiest country/ASN group is NA."""
    from datetime import UTC, datetime, timedelta

    import pyarrow as pa

    from honeyscope import schema

    n = 40
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    rows = {
        "time": pa.array([t0 + timedelta(hours=7 * i) for i in range(n)], schema.TIME_TYPE),
        "host": [f"s{i % 3}" for i in range(n)],
        "src": ["10.0.0.1" if i % 4 else "8.8.8.8" for i in range(n)],
        "dst": ["192.0.2.1"] * n,
        "proto": ["TCP"] * n,
        "dpt": pa.array([22 + i for i in range(n)], pa.uint16()),
    }
    return con.create_table("fleet_small", schema.conform(pa.table(rows)), overwrite=True)


def test_sections_small_unresolved_and_cache_released():
    from honeyscope.analyse import engine

    con = engine.connect()
    t = _small(con)
    def tables() -> set[str]:  # temporary ones included
        return {r[0] for r in con.raw_sql("SELECT table_name FROM duckdb_tables()").fetchall()}

    before = tables()
    ctx = ReportContext(packets=t, con=con)
    secs = build(ctx)
    assert [s.id for s in secs] == ["origin", "compare", "sources", "scans"]
    f = " ".join(ctx.findings)
    assert "AS15169 GOOGLE" in f  # the busiest *resolved* network, not the NA group
    assert "nan" not in f.lower()
    assert tables() == before  # the shared intermediate tables were dropped
