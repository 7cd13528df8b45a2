"""Trends and anomalies: planted spike, changepoint, emerging port, weekday pattern; marx port 23."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats

from honeyscope import schema
from honeyscope.analyse import engine, trends

DAY0 = pd.Timestamp("2024-01-01", tz="UTC")  # a Monday
N_DAYS = 112
SPIKE = ("s1", 22, 50, 400)  # host, port, day index, sources
CHANGE = ("s2", 445, 70)  # host, port, first day of the new level (10 -> 40 sources/day)
EMERGE = (5555, 80)  # port, first day (5 sources/day on every sensor)


def _build() -> pa.Table:
    rng = np.random.default_rng(2024)
    hosts, srcs, dpts, secs = [], [], [], []

    def add(host: str, port: int, day: int, n: int) -> None:
        for i in range(n):
            hosts.append(host)
            srcs.append(f"src-{port}-{day}-{i}")
            dpts.append(port)
        secs.extend((day * 86400 + rng.uniform(3600, 82800, n)).tolist())

    for host in ("s1", "s2", "s3"):
        for day in range(N_DAYS):
            weekend = (DAY0 + pd.Timedelta(days=day)).dayofweek >= 5
            n22 = rng.poisson(15 if weekend else 40)
            if (host, 22, day) == SPIKE[:3]:
                n22 = SPIKE[3]
            add(host, 22, day, n22)
            level = 40 if (host == CHANGE[0] and day >= CHANGE[2]) else 10
            add(host, 445, day, rng.poisson(level))
            if day >= EMERGE[1]:
                add(host, EMERGE[0], day, rng.poisson(5) + 1)
        # whole first and last days
        add(host, 80, 0, 0)
        hosts += [host, host]
        srcs += ["edge-a", "edge-b"]
        dpts += [80, 80]
        secs += [30.0, N_DAYS * 86400 - 30.0]
    us = DAY0.value // 1000 + (np.array(secs) * 1e6).astype("int64")
    return schema.conform(pa.table({
        "time": pa.array(us, pa.timestamp("us", tz="UTC")),
        "host": pa.array(hosts),
        "src": pa.array(srcs),
        "proto": pa.array(["TCP"] * len(hosts)),
        "dpt": pa.array(dpts, pa.uint16()),
    }))


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    path = tmp_path_factory.mktemp("trends") / "p.parquet"
    pq.write_table(_build(), path)
    return path


@pytest.fixture()
def t(planted):
    return engine.packets_from_files(engine.connect(), [planted])


def _day(i: int):
    return (DAY0 + pd.Timedelta(days=i)).date()


def test_series_is_dense_with_zero_days(t):
    s = trends.series(t, ("host", "proto", "dpt"), "sources")
    assert s.values.shape == (9, N_DAYS)  # 3 sensors x (22, 445, 5555); port 80 has 1 day
    k = s.keys.reset_index(drop=True)
    i = k.index[(k["host"] == "s1") & (k["dpt"] == 5555)][0]
    assert (s.values[i, : EMERGE[1]] == 0).all()
    j = k.index[(k["host"] == "s1") & (k["dpt"] == 22)][0]
    assert s.values[j, SPIKE[2]] == SPIKE[3]


def test_planted_spike_is_the_only_spike(t):
    s = trends.series(t, ("host", "proto", "dpt"), "sources")
    sp = trends.spikes(s, metric="sources", dips=False)
    assert len(sp) == 1
    row = sp.iloc[0]
    assert (row["host"], int(row["dpt"]), row["day"]) == ("s1", 22, _day(SPIKE[2]))
    assert row["value"] == SPIKE[3]
    assert 30 < row["expected"] < 50  # a weekday's level, not the weekly mean
    assert row["ratio"] > 8 and row["z"] > 4 and row["p_adj"] < 1e-50
    assert row["why"].startswith(f"s1 TCP/22 on Tue {_day(SPIKE[2])}: 400 distinct sources")


def test_weekends_are_not_dips_thanks_to_the_weekday_baseline(t):
    s = trends.series(t, ("host", "proto", "dpt"), "sources")
    b = trends.baseline(s)
    p22 = (s.keys["dpt"] == 22).to_numpy()
    # port 22: 40 sources on weekdays, 15 at weekends; the baseline knows it
    assert b.weekday[p22, 5:].mean() == pytest.approx(np.log(16 / 41), abs=0.15)
    assert b.weekday[p22, :5].mean() == pytest.approx(0, abs=0.1)
    weekend = np.asarray(s.days.dayofweek >= 5)
    assert np.median(b.expected[np.ix_(p22, weekend)]) == pytest.approx(15, abs=3)
    assert np.median(b.expected[np.ix_(p22, ~weekend)]) == pytest.approx(40, abs=4)
    sp = trends.spikes(trends.series(t, ("host",), "sources"), metric="sources")
    assert (sp["kind"] == "dip").sum() == 0


def test_planted_changepoint(t):
    s = trends.series(t, ("host", "proto", "dpt"), "sources")
    cp = trends.changepoints(s, metric="sources")
    hit = cp[(cp["host"] == "s2") & (cp["dpt"] == 445)]
    assert len(hit) == 1
    row = hit.iloc[0]
    assert abs((pd.Timestamp(row["day"]) - pd.Timestamp(_day(CHANGE[2]))).days) <= 1
    assert row["before"] == pytest.approx(10, rel=0.15)
    assert row["after"] == pytest.approx(40, rel=0.15)
    assert row["p_adj"] < 1e-10
    assert "rose from" in row["why"]
    # the other sensors' port 445 did not change; port 5555 going from 0 to ~6 is a real change
    others = cp[(cp["dpt"] == 445) & (cp["host"] != "s2")]
    assert others.empty


def test_pettitt_known_value():
    x = np.array([0.0] * 10 + [1.0] * 10)
    k, big_k, p = trends.pettitt(x)
    assert k == 10
    assert big_k == 100
    assert p == pytest.approx(2 * np.exp(-6 * 100**2 / (20**3 + 20**2)))
    assert trends.pettitt(np.zeros(20))[2] == 1.0


def test_emerging_port(t):
    em = trends.emerging_ports(t)
    assert list(em["dpt"]) == [EMERGE[0]]
    row = em.iloc[0]
    assert row["first_seen"] == _day(EMERGE[1])
    # the first day of the surge, never before the port was first seen
    assert row["day"] == _day(EMERGE[1])
    assert row["prior_mean"] == 0
    assert row["p_adj"] < 1e-6


def test_anomalies_combines_and_explains(t):
    a = trends.anomalies(t)
    kinds = set(zip(a["scope"], a["kind"], strict=True))
    assert ("sensor-port", "spike") in kinds
    assert ("sensor-port", "changepoint") in kinds
    assert ("fleet-port", "emerging") in kinds
    assert a["why"].str.len().min() > 40
    assert (a["significance"] < 0.01).all()


def test_rise_test_detects_a_planted_rise(t):
    r = trends.rise_test(t, "TCP", 445, _day(CHANGE[2]))
    # Part 2's metric averages over sensors: (10+10+40)/3 = 20 after vs 10 before
    assert r["median_before"] == pytest.approx(10, abs=1.5)
    assert r["median_after"] == pytest.approx(20, abs=2)
    assert r["mw_p"] < 1e-10 and r["cles"] > 0.95
    assert r["rate_ratio"] == pytest.approx(2.0, rel=0.1)
    assert r["rr_low"] < r["rate_ratio"] < r["rr_high"]
    flat = trends.rise_test(t, "TCP", 22, _day(56))
    assert flat["mw_p"] > 0.01
    assert flat["rr_low"] < 1 < flat["rr_high"]


# ----------------------------------------------------------------------------------------------
# the bundled data: "is the rise of port 23 since May significant?"


def test_marx_port23_rise_matches_independent_computation(marx_arrow, marx):
    df = marx_arrow.select(["time", "host", "src", "proto", "dpt"]).to_pandas()
    p = df[(df["proto"] == "TCP") & (df["dpt"] == 23)].copy()
    p["day"] = p["time"].dt.date
    per = p.groupby(["day", "host"])["src"].nunique()
    metric = per.groupby("day").mean()
    split = pd.Timestamp("2013-05-01").date()
    before = metric[metric.index < split].to_numpy()
    after = metric[metric.index >= split].to_numpy()
    expect = stats.mannwhitneyu(after, before, alternative="greater")

    r = trends.rise_test(marx, "TCP", 23, "2013-05-01")
    assert (r["days_before"], r["days_after"]) == (59, 131) == (len(before), len(after))
    assert r["median_before"] == pytest.approx(np.median(before))
    assert r["median_after"] == pytest.approx(np.median(after))
    assert r["mw_u"] == expect.statistic
    assert r["mw_p"] == pytest.approx(expect.pvalue)
    # the answer: no significant rise since May
    assert r["median_before"] == pytest.approx(31 / 6)
    assert r["mw_p"] == pytest.approx(0.767, abs=0.001)
    assert 0.85 < r["rate_ratio"] < 1.0 and r["rr_high"] > 1
    assert "no" not in r["why"][:10]


def test_marx_anomalies_find_the_august_1433_surge(marx, marx_arrow):
    a = trends.anomalies(marx)
    # the two strongest flags: groucho-eu's whole day and its TCP/1433 on 2013-08-07
    top = a.head(2)
    assert set(top["host"]) == {"groucho-eu"} and set(top["day"].astype(str)) == {"2013-08-07"}
    assert set(top["port"]) == {"", "TCP/1433"} and (top["kind"] == "spike").all()
    assert top["effect"].max() > 10
    # one family for the whole run, stated on every row
    fam = a.attrs["family"]
    assert fam > 30_000 and a["test"].str.endswith(f"Bonferroni over {fam:,} tests").all()
    cp = a[(a["kind"] == "changepoint") & (a["host"] == "groucho-singapore")
           & (a["port"] == "TCP/135")]
    # its strongest changepoint against Pettitt's statistic written out, U_k = sum over i <= k < j
    # of sign(x_j - x_i), on the daily distinct sources counted by pandas (zero-filled days): the
    # new level starts the day after the k of the largest |U_k| (2013-06-10: about 8 -> 38 a day)
    import pyarrow.compute as pc

    m = marx_arrow
    p = m.filter(pc.and_(pc.and_(pc.equal(m["host"], "groucho-singapore"), pc.equal(m["proto"], "TCP")),
                         pc.equal(m["dpt"], 135))).select(["time", "src"]).to_pandas()
    span = pc.min_max(m["time"]).as_py()
    days = pd.date_range(span["min"].date(), span["max"].date()).date
    x = p.groupby(p["time"].dt.date)["src"].nunique().reindex(days, fill_value=0).to_numpy(float)
    sign = np.sign(x[None, :] - x[:, None])
    u = np.abs([sign[: k + 1, k + 1:].sum() for k in range(len(x) - 1)])
    assert cp.sort_values("significance").iloc[0]["day"] == days[int(np.argmax(u)) + 1]
