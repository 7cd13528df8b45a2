"""The seeded fleet generator: determinism, exact counts, the shape of the traffic, its outputs."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from honeyscope import schema
from honeyscope.synth import fleet

SPEC = fleet.FleetSpec(sensors=6, rows=60_000, seed=7, days=14)


@pytest.fixture(scope="module")
def table() -> pa.Table:
    return pa.concat_tables(fleet.generate(SPEC))


@pytest.fixture(scope="module")
def df(table) -> pl.DataFrame:
    return pl.from_arrow(table)


def test_exact_rows_schema_and_determinism(table):
    assert table.num_rows == 60_000
    assert table.schema == schema.SCHEMA
    again = pa.concat_tables(fleet.generate(SPEC))
    assert again.equals(table)
    other = pa.concat_tables(fleet.generate(fleet.FleetSpec(sensors=6, rows=60_000, seed=8,
                                                            days=14)))
    assert not other.equals(table)


def test_days_sensors_and_period(df):
    t = df["time"]
    assert t.min() >= datetime(2024, 1, 1, tzinfo=UTC)
    assert t.max() < datetime(2024, 1, 15, tzinfo=UTC)
    assert df["time"].dt.date().n_unique() == 14
    hosts = sorted(df["host"].unique())
    assert hosts == sorted(s.host for s in fleet.plan(SPEC).sensors)
    assert len(hosts) == 6
    # every sensor has its own address, and dst is it
    per = df.filter(pl.col("family") == 4).group_by("host").agg(pl.col("dst").n_unique())
    assert per["dst"].to_list() == [1] * 6


def test_sorted_and_line_numbers(df):
    # within each day's chunk rows run by (host, time); line numbers count each sensor's rows
    for _h, g in df.group_by("host"):
        assert g["line"].sort().to_list() == list(range(1, g.height + 1))
        assert (g["source"] == f"{g['host'][0]}.log").all()
    day = df.filter(pl.col("time").dt.date() == datetime(2024, 1, 3).date())
    keys = day.select("host", "time")
    assert keys.equals(keys.sort("host", "time", maintain_order=True))


def test_traffic_shape_like_marx(df):
    n = df.height
    share = dict(df.group_by("proto").len().iter_rows())
    assert 0.65 < share["TCP"] / n < 0.82
    assert 0.10 < share["UDP"] / n < 0.25
    assert 0.05 < (share["ICMP"] + share.get("ICMPv6", 0)) / n < 0.14
    tcp = df.filter(pl.col("proto") == "TCP").group_by("dpt").len().sort("len", descending=True)
    assert tcp["dpt"][0] == 1433
    assert set(tcp["dpt"].head(6).to_list()) >= {1433, 445, 3389}
    icmp = df.filter(pl.col("proto") == "ICMP").group_by("icmp_type").len()
    top_type = icmp.sort("len", descending=True)["icmp_type"][0]
    assert top_type == 8
    assert (df.filter(pl.col("proto") == "TCP")["spt"] == 6000).mean() > 0.2
    # IPv6 present and canonical, IPv4 ints agree with text
    v6 = df.filter(pl.col("family") == 6)
    assert 0 < v6.height < 0.03 * n
    assert v6["src_int"].null_count() == v6.height
    v4 = df.filter(pl.col("family") == 4).head(1000)
    text = [".".join(str((x >> s) & 255) for s in (24, 16, 8, 0)) for x in v4["src_int"]]
    assert text == v4["src"].to_list()
    assert df["src"].n_unique() > 0.05 * n  # a long tail of sources, not a handful


def test_weekly_cycle_and_scanners(df):
    daily = df.group_by(pl.col("time").dt.date().alias("d")).len()
    wk = daily.with_columns(we=pl.col("d").dt.weekday() >= 6)
    mean = wk.group_by("we").agg(pl.col("len").mean())
    m = dict(mean.iter_rows())
    assert m[True] < m[False]
    # scanners: sources that hit every sensor on the same port within minutes
    sweeps = (
        df.group_by("src", "dpt")
        .agg(pl.col("host").n_unique().alias("h"),
             (pl.col("time").max() - pl.col("time").min()).alias("span"))
        .filter(pl.col("h") == 6)
    )
    assert (sweeps["span"].dt.total_seconds() < 3600).sum() >= 50


def test_floods_make_spikes(df):
    per_min = df.group_by("host", pl.col("time").dt.truncate("1m")).len()
    top = per_min["len"].max()
    assert top > 20 * per_min["len"].median()


def test_format_lines_matches_format_line(table):
    from honeyscope.synth import lines
    sample = table.take(np.arange(0, table.num_rows, 97))
    rows = sample.to_pylist()
    for framing in fleet.FRAMINGS:
        mine = fleet.format_lines(sample, framing).to_pylist()
        for got, row in zip(mine, rows, strict=True):
            p = {k: v for k, v in row.items() if v is not None}
            p["prefix"] += " "
            assert got == lines.format_line(p, framing)


def test_bad_spec():
    with pytest.raises(ValueError):
        fleet.FleetSpec(sensors=0)
    with pytest.raises(ValueError):
        fleet.FleetSpec(scan_share=0.7, flood_share=0.5)


def test_store_output(tmp_path, table):
    from honeyscope.store.store import Store

    record = fleet.write_store(SPEC, tmp_path / "store")
    st = Store(tmp_path / "store")
    assert st.ledger()["rows"] == 60_000 == record["rows"]
    assert all("2024-01" in f.parent.name for f in st.packet_files())  # partitioned by month
    assert st.table().sort_by([("host", "ascending"), ("time", "ascending"), ("line", "ascending")]
                              ).equals(table.sort_by([("host", "ascending"), ("time", "ascending"),
                                                      ("line", "ascending")]))
    assert st.meta["fleet"]["spec"]["seed"] == 7


#: The fleet of SPEC at a tenth of its rows: the fast tier's logs-parse-back (the whole SPEC: slow).
SMALL_SPEC = fleet.FleetSpec(sensors=6, rows=6_000, seed=7, days=14)


@pytest.mark.parametrize("spec", [SMALL_SPEC, pytest.param(SPEC, marks=pytest.mark.slow)],
                         ids=["6k", "60k"])
def test_logs_parse_back(tmp_path, spec):
    """Raw logs written per sensor ingest back to the same packets (rfc3164 loses sub-seconds)."""
    from honeyscope import api
    table = pa.concat_tables(fleet.generate(spec))
    files = fleet.write_logs(spec, tmp_path / "logs")
    assert len(files) == 6
    assert sum(len(f.read_bytes().splitlines()) for f in files) == spec.rows
    api.ingest([str(tmp_path / "logs")], tmp_path / "store")
    got = pl.from_arrow(api.open_store(tmp_path / "store").table())
    want = pl.from_arrow(table)
    assert got.height == want.height
    cols = ["src", "dst", "proto", "spt", "dpt", "icmp_type", "icmp_code", "len", "ttl",
            "tcp_flags", "inner_src", "prefix", "action"]
    key = ["host", "line"]
    g = got.with_columns(pl.col("source").str.extract(r"([^/]+)\.log$").alias("host_file"))
    assert (g["host_file"] == g["host"]).all()
    a = g.select(*key, *cols, "time").sort(key)
    b = want.select(*key, *cols, "time").sort(key)
    assert a.select(*key, *cols).equals(b.select(*key, *cols))
    # whole seconds in the rfc3164 framings, microseconds in rfc3339
    assert ((a["time"] - b["time"]).dt.total_microseconds().abs() < 1_000_000).all()


@pytest.mark.slow  # more than 2 s on 2 cores (CI runs it)
def test_cli_generate(tmp_path, capsys):
    from honeyscope.cli import main

    assert main(["generate", "--sensors", "3", "--rows", "5000", "--days", "3",
                 "--store", str(tmp_path / "s"), "--json"]) == 0
    out = capsys.readouterr().out
    assert '"rows": 5000' in out
    from honeyscope.store.store import Store

    assert Store(tmp_path / "s").ledger()["rows"] == 5000


# -- on two cores: ranges of days in worker processes, the same output --------------------------
def test_split_days_covers_all_days_in_order():
    for days, workers in ((28, 2), (365, 2), (28, 3), (3, 2), (1, 4), (10, 1)):
        ranges = fleet.split_days(days, workers)
        assert [d for r in ranges for d in r] == list(range(days))
        assert len(ranges) == min(workers, days)
    # the later worker first counts the earlier days, so it gets fewer of its own
    assert fleet.split_days(28, 2) == [range(0, 16), range(16, 28)]


def test_generate_a_range_of_days_is_the_same_rows(table):
    ranges = fleet.split_days(SPEC.days, 2)
    parts = [pa.concat_tables(fleet.generate(SPEC, days=r)) for r in ranges]
    assert pa.concat_tables(parts).equals(table)  # line numbers go on across the ranges


@pytest.mark.slow  # more than 2 s on 2 cores (CI runs it)
def test_store_on_two_workers_equals_one(tmp_path, table):
    from honeyscope.store.store import Store

    record = fleet.write_store(SPEC, tmp_path / "store", workers=2)
    st = Store(tmp_path / "store")
    assert record["rows"] == 60_000 == st.ledger()["rows"]
    assert sum(record["hosts"].values()) == 60_000
    assert not (tmp_path / "store" / "staging").exists() or not any(
        (tmp_path / "store" / "staging").iterdir())
    key = [("host", "ascending"), ("time", "ascending"), ("line", "ascending")]
    assert st.table().sort_by(key).equals(table.sort_by(key))


@pytest.mark.slow  # more than 3 s on 2 cores (CI runs it)
def test_logs_on_two_workers_are_byte_identical(tmp_path):
    one = fleet.write_logs(SPEC, tmp_path / "one")
    two = fleet.write_logs(SPEC, tmp_path / "two", workers=2)
    assert [f.name for f in one] == [f.name for f in two]
    for a, b in zip(one, two, strict=True):
        assert a.read_bytes() == b.read_bytes()
        assert a.stat().st_mtime == b.stat().st_mtime
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(
        [f.name for f in one] + ["fleet.json"])
