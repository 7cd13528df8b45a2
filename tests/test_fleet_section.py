"""The fleet report sections on the bundled data."""

from __future__ import annotations

import pytest

from honeyscope.analyse import engine
from honeyscope.render.sections import ReportContext
from honeyscope.render.sections.fleet import build


@pytest.mark.slow  # ~8-11 s on the shared 2-core machine
def test_sections_on_marx(marx):
    ctx = ReportContext(packets=marx, con=engine.backend(marx))
    secs = build(ctx)  # its time is benchmarks/bench_fleet_sections.py's, not a test's
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


@pytest.mark.slow  # more than 3 s on 2 cores (CI runs it)
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


@pytest.mark.slow  # the four fleet sections: ~10 s on the shared machine
def test_backscatter_finding_counts_distinct_sources():
    """One source replying with SYN-ACKs and RSTs is one backscatter source, not two (the old
    finding summed sources per scan type)."""
    from datetime import UTC, datetime, timedelta

    import pyarrow as pa

    from honeyscope import schema
    from honeyscope.analyse import engine

    n = 12
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    rows = {
        "time": pa.array([t0 + timedelta(minutes=i) for i in range(2 * n)], schema.TIME_TYPE),
        "host": ["s1"] * (2 * n),
        "src": ["8.8.8.8"] * (2 * n),
        "dst": ["192.0.2.1"] * (2 * n),
        "proto": ["TCP"] * (2 * n),
        "spt": pa.array([80] * (2 * n), pa.uint16()),
        "dpt": pa.array([40000 + i for i in range(2 * n)], pa.uint16()),
        "tcp_flags": ["ACK SYN"] * n + ["RST"] * n,
    }
    con = engine.connect()
    t = con.create_table("bs_distinct", schema.conform(pa.table(rows)), overwrite=True)
    ctx = ReportContext(packets=t, con=con)
    secs = build(ctx)
    f = [x for x in ctx.findings if "are backscatter" in x]
    assert f == ["24 packets from 1 distinct sources are backscatter (replies to spoofed "
                 "traffic), not probes."]
    scans_sec = secs[-1]
    assert scans_sec.refs[f[0]][0] == "scans-types"
    assert 'id="scans-types"' in scans_sec.body


def test_origin_tables_unknowns_once_and_input_country_first():
    import numpy as np
    import pandas as pd

    from honeyscope.render.sections.fleet import UNKNOWN, origin_tables

    s = pd.DataFrame({
        "addr": ["1.1.1.1", "2.2.2.2", "10.0.0.1", "10.0.0.2", "3.3.3.3"],
        "packets": [10, 20, 100, 50, 5],
        "cc": ["AU", "FR", None, None, "US"],
        "country": ["Australia", "France", None, None, "United States"],
        "input_cc": ["NZ", None, None, None, None],
        "input_country": ["New Zealand", None, None, None, None],
        "asn": [13335.0, 3215.0, np.nan, np.nan, 40676.0],
        "as_name": ["CLOUDFLARENET", "Orange", None, None, None],
    })
    by_cc, by_asn, no_cc, no_asn = origin_tables(s)
    # the input's country for 1.1.1.1; the two private sources counted apart, once
    assert by_cc[["cc", "packets"]].values.tolist() == [["FR", 20], ["NZ", 10], ["US", 5]]
    assert no_cc == (2, 150) and no_asn == (2, 150)
    assert by_asn.asn.tolist() == [3215, 13335, 40676]  # no NA row among the ranked
    assert by_asn.set_index("asn").loc[40676, "as_name"] == UNKNOWN
    assert by_cc.share.sum() == pytest.approx(35 / 185)
