"""Survival time: time to first probe (with censoring) and time between new sources."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from honeyscope import schema
from honeyscope.analyse import engine, survival

T0 = pd.Timestamp("2024-03-01", tz="UTC")

# (host, seconds after T0, source, port)
ROWS = [
    ("a", 0, "10.0.0.1", 80),  # a starts
    ("a", 3600, "10.0.0.2", 22),  # first 22 on a: 1 h after start
    ("a", 7200, "10.0.0.1", 22),
    ("a", 10800, "10.0.0.3", 23),  # first 23 on a: 3 h
    ("a", 36000, "10.0.0.2", 80),  # a ends at 10 h
    ("b", 1800, "10.0.0.9", 23),  # b starts
    ("b", 1800 + 7200, "10.0.0.8", 22),  # first 22 on b: 2 h after its start
    ("b", 1800 + 9000, "10.0.0.9", 22),
    ("b", 1800 + 18000, "10.0.0.7", 23),  # b ends at 5 h; never saw 80 -> censored at 5 h
    ("c", 0, "10.0.0.5", 443),  # c starts; never sees 22 or 23
    ("c", 4 * 3600, "10.0.0.5", 443),  # ends at 4 h
]


@pytest.fixture()
def t(tmp_path):
    us = [T0.value // 1000 + int(s * 1e6) for _, s, _, _ in ROWS]
    tab = schema.conform(pa.table({
        "time": pa.array(us, pa.timestamp("us", tz="UTC")),
        "host": pa.array([h for h, *_ in ROWS]),
        "src": pa.array([s for _, _, s, _ in ROWS]),
        "proto": pa.array(["TCP"] * len(ROWS)),
        "dpt": pa.array([p for *_, p in ROWS], pa.uint16()),
    }))
    path = tmp_path / "p.parquet"
    pq.write_table(tab, path)
    return engine.packets_from_files(engine.connect(), [path])


def test_first_probe_with_censoring(t):
    fp = survival.first_probe(t, ports=[("TCP", 22), ("TCP", 80)])
    got = {(r.host, r.dpt): (round(r.hours, 6), r.seen) for r in fp.itertuples()}
    assert got == {
        ("a", 22): (1.0, True), ("b", 22): (2.0, True), ("c", 22): (4.0, False),
        ("a", 80): (0.0, True), ("b", 80): (5.0, False), ("c", 80): (4.0, False),
    }


def test_top_ports_order_and_kaplan_meier_median(t):
    fp = survival.first_probe(t, top=2)
    # 22 and 23 both reach 2 sensors; 22 has more packets (4 vs 3)
    assert list(dict.fromkeys(zip(fp["proto"], fp["dpt"], strict=True))) == [("TCP", 22),
                                                                           ("TCP", 23)]
    s = survival.survival_summary(fp).set_index("dpt")
    # port 22: probed at 1 h (a) and 2 h (b), c censored at 4 h: KM 2/3 after 1 h, 1/3 after 2 h
    assert s.loc[22, "probed"] == 2 and s.loc[22, "sensors"] == 3
    assert s.loc[22, "median_hours"] == 2.0
    assert s.loc[22, "min_hours"] == 1.0 and s.loc[22, "max_hours"] == 2.0
    # port 23: b at 0 h, a at 3 h, c censored at 4 h -> median 3 h
    assert s.loc[23, "median_hours"] == 3.0


def test_kaplan_meier_censoring():
    km = survival.kaplan_meier(np.array([1.0, 2.0, 3.0, 4.0]), np.array([True, False, True, False]))
    assert list(km["hours"]) == [1.0, 3.0]
    assert km["survival"].tolist() == pytest.approx([0.75, 0.75 * 0.5])


def test_new_source_intervals(t):
    ns = survival.new_source_intervals(t).set_index("host")
    # a: new sources at 0 (.1), 1 h (.2), 3 h (.3) -> intervals 3600, 7200
    assert ns.loc["a", "sources"] == 3
    assert ns.loc["a", "median_s"] == 5400
    assert ns.loc["a", "max_s"] == 7200
    # a reported for 10 h, not a week: its 3 new sources over its 10 h, per day (not 3 / 7)
    assert ns.loc["a", "first_week_per_day"] == pytest.approx(3 / (10 / 24))
    # b: .9 at 0, .8 at 2 h, .7 at 5 h -> 7200, 10800
    assert ns.loc["b", "mean_s"] == 9000
    # c: one source, no interval
    assert ns.loc["c", "sources"] == 1 and pd.isna(ns.loc["c", "median_s"])
    d = survival.new_sources_daily(t)
    assert d.groupby("host")["new"].sum().to_dict() == {"a": 3, "b": 3, "c": 1}


def test_marx_first_probe_matches_pandas(marx_arrow, marx):
    df = marx_arrow.select(["time", "host", "src", "proto", "dpt"]).to_pandas()
    start = df.groupby("host")["time"].min()
    p = df[(df["proto"] == "TCP") & (df["dpt"] == 1433)]
    first = p.groupby("host")["time"].min()
    expect = ((first - start[first.index]).dt.total_seconds() / 3600).sort_index()
    fp = survival.first_probe(marx, ports=[("TCP", 1433)]).set_index("host")["hours"]
    assert fp.sort_index().to_numpy() == pytest.approx(expect.to_numpy(), abs=1 / 3600)
    s = survival.survival_summary(survival.first_probe(marx, top=10))
    assert len(s) == 10 and (s["probed"] == 9).all()
    assert s.iloc[0]["dpt"] == 1433
    # TCP/135 is the slow one on this data: all 9 sensors probed, so the Kaplan-Meier median is
    # the plain median of their 9 waits (the 5th), about 42 h
    p135 = df[(df["proto"] == "TCP") & (df["dpt"] == 135)].groupby("host")["time"].min()
    waits = (p135 - start[p135.index]).dt.total_seconds() / 3600
    assert len(waits) == 9 and 41 < np.median(waits) < 43
    assert s.set_index("dpt").loc[135, "median_hours"] == pytest.approx(np.median(waits), abs=1 / 3600)


def test_marx_new_sources(marx_arrow, marx):
    """Against pandas: each (sensor, source) pair's first packet; per sensor, the seconds
    between consecutive first packets."""
    ns = survival.new_source_intervals(marx).set_index("host")
    df = marx_arrow.select(["time", "host", "src"]).to_pandas()
    first = df.groupby(["host", "src"])["time"].min().reset_index()
    assert ns["sources"].sum() == len(first)  # (sensor, source) pairs
    tokyo = first[first["host"] == "groucho-tokyo"].sort_values(["time", "src"])
    assert ns.loc["groucho-tokyo", "sources"] == len(tokyo) == df.loc[df["host"] == "groucho-tokyo",
                                                                      "src"].nunique()
    gaps = tokyo["time"].diff().dt.total_seconds().dropna()
    assert ns.loc["groucho-tokyo", "median_s"] == np.median(gaps)
    assert ns.loc["groucho-tokyo", "max_s"] == gaps.max()


def test_fleet_new_sources_count_a_source_once(t):
    """By hand over ROWS (all on 2024-03-01): 7 distinct sources, each new once."""
    d = survival.new_sources_fleet(t)
    assert d["new"].tolist() == [7]
    per_sensor = survival.new_sources_daily(t)["new"].sum()
    assert per_sensor == 3 + 3 + 1  # a: .1 .2 .3; b: .9 .8 .7; c: .5 — no overlap here
    # the data span 10 h, not a week: 7 new sources over 10 h, per day
    assert survival.fleet_new_per_day(t, days=7) == pytest.approx(7 / (10 / 24))


def test_marx_fleet_new_per_day_is_not_the_sum_over_sensors(marx_arrow, marx):
    """The fleet-wide count against pandas: each source's first day anywhere."""
    df = marx_arrow.select(["time", "src"]).to_pandas()
    first = df.groupby("src")["time"].min()
    recent = (first > df["time"].max() - pd.Timedelta(days=7)).sum() / 7
    assert survival.fleet_new_per_day(marx) == pytest.approx(recent)
    assert round(recent) == 398  # the independent recomputation (not 646)
    # per sensor, summed over sensors, the same sources count again at every sensor
    summed = survival.new_source_intervals(marx)["last_week_per_day"].sum()
    assert summed > recent * 1.3
