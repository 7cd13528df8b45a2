"""Sensor health: gaps vs quiet, rate-limit capping, completeness — planted cases and marx."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from honeyscope import schema
from honeyscope.analyse import engine, health

T0 = pd.Timestamp("2024-01-01", tz="UTC")


def packets(times: np.ndarray, host: str, src: list[str] | np.ndarray | None = None,
            dpt: int | np.ndarray = 22, proto: str = "TCP") -> pa.Table:
    """Canonical rows at ``times`` (seconds after T0) for one sensor."""
    n = len(times)
    us = (T0.value // 1000 + (np.asarray(times) * 1e6).astype("int64"))
    src = src if src is not None else [f"198.51.100.{i % 250}" for i in range(n)]
    dpts = np.broadcast_to(np.asarray(dpt, dtype="uint16"), (n,))
    return schema.conform(pa.table({
        "time": pa.array(us, pa.timestamp("us", tz="UTC")),
        "host": pa.array([host] * n),
        "src": pa.array(list(src)),
        "proto": pa.array([proto] * n),
        "dpt": pa.array(dpts, pa.uint16()),
    }))


def ibis_table(where: Path, *tables: pa.Table):
    """The rows as an Ibis table on a fresh DuckDB, read from Parquet (in ``where``) like a store's."""
    import pyarrow.parquet as pq

    path = where / "p.parquet"
    pq.write_table(pa.concat_tables(tables), path)
    return engine.packets_from_files(engine.connect(), [path])


def poisson_times(rng: np.random.Generator, rate_per_s: float, seconds: float) -> np.ndarray:
    n = rng.poisson(rate_per_s * seconds)
    return np.sort(rng.uniform(0, seconds, n))


@pytest.fixture(scope="module")
def planted_gap(tmp_path_factory):
    """Sensor a: ~1 packet/min for 10 days with a planted 12-hour outage from day 4 12:00;
    sensor b: the same traffic and no outage; sensor c: bursty (long quiet nights) but no outage."""
    rng = np.random.default_rng(7)
    span = 10 * 86400
    a = poisson_times(rng, 1 / 60, span)
    gap_lo, gap_hi = 4.5 * 86400, 5 * 86400
    a = a[(a < gap_lo) | (a >= gap_hi)]
    b = poisson_times(rng, 1 / 60, span)
    # c: busy 8 hours a day, nearly silent otherwise: 16-hour nights are its normal quiet
    c = poisson_times(rng, 1 / 30, span)
    c = c[(c % 86400) < 8 * 3600]
    before, after = a[a < gap_lo].max(), a[a >= gap_hi].min()
    t = ibis_table(tmp_path_factory.mktemp("gap"), packets(a, "a"), packets(b, "b"), packets(c, "c"))
    return t, before, after


def test_planted_gap_found_and_nothing_else(planted_gap):
    t, before, after = planted_gap
    g = health.gaps(t)
    assert list(g["host"]) == ["a"]
    row = g.iloc[0]
    assert row["kind"] == "gap"
    assert row["start"] == T0 + pd.Timedelta(microseconds=int(before * 1e6))
    assert row["end"] == T0 + pd.Timedelta(microseconds=int(after * 1e6))
    assert row["hours"] == pytest.approx((after - before) / 3600, abs=1 / 3600)
    assert row["expected"] < 1e-6
    assert "a: silent 12.0 h from 2024-01-05 11:5" in row["why"] and "-> gap" in row["why"]


def test_normal_nightly_quiet_is_not_a_gap(planted_gap):
    t, _, _ = planted_gap
    g = health.gaps(t, include_quiet=True)
    quiet_c = g[(g["host"] == "c")]
    assert list(quiet_c["kind"]) == ["quiet"]
    assert quiet_c["hours"].iloc[0] > 15  # 16-hour nights are long, but normal for c
    assert "normal quiet" in quiet_c["why"].iloc[0]


def test_min_gap_and_alpha_options(planted_gap):
    t, _, _ = planted_gap
    assert health.gaps(t, health.GapOptions(min_gap=13 * 3600)).empty
    # a very strict alpha still keeps a 12-hour hole in a once-a-minute sensor
    assert list(health.gaps(t, health.GapOptions(alpha=1e-6))["host"]) == ["a"]
    assert health.gaps(t, health.GapOptions(alpha=1e-10)).empty  # expected is 2.4e-10


def test_gap_probability_is_the_product_of_empty_hour_shares(planted_gap):
    t, _, _ = planted_gap
    row = health.gaps(t).iloc[0]
    # 12 whole hours (12:00-24:00 of day 4), each empty on 1 of the sensor's 10 days
    assert row["whole_hours"] == 12
    assert row["p"] == pytest.approx(0.1**12, rel=1e-9)
    assert row["expected"] == pytest.approx(240 * 0.1**12, rel=1e-9)


@pytest.mark.parametrize("reuse", [False, True])
def test_completeness_counts_hours(planted_gap, reuse):
    t, _, _ = planted_gap
    # reuse: from the per sensor-hour counts (hourly_expr) the health section shares
    c = health.completeness(t, health.hourly_expr(t) if reuse else None).set_index("host")
    # b: a packet in every hour of 240 (Poisson 60/h never gives an empty hour here)
    assert c.loc["b", "hours_in_span"] == 240
    assert c.loc["b", "hours_with_data"] == 240
    # a: 12 empty hours
    assert c.loc["a", "hours_with_data"] == 228
    assert c.loc["a", "completeness"] == pytest.approx(228 / 240)
    # c: 8 of 24 hours a day
    assert c.loc["c", "hours_with_data"] == 80


def token_bucket(arrivals: np.ndarray, rate_per_s: float, burst: int) -> np.ndarray:
    """The arrivals that iptables' ``-m limit --limit RATE --limit-burst BURST`` lets through."""
    kept = []
    tokens, last = float(burst), 0.0
    for x in arrivals:
        tokens = min(burst, tokens + (x - last) * rate_per_s)
        last = x
        if tokens >= 1:
            tokens -= 1
            kept.append(x)
    return np.array(kept)


@pytest.fixture(scope="module")
def capped(tmp_path_factory):
    """Sensor capped: ~12 packets/min offered, logged through --limit 5/minute --limit-burst 5;
    sensor hourly: 3/hour burst 5 (iptables' default) under steady load; sensor free: Poisson
    3/min without a limit; sensor heavy: Pareto-bursty traffic without a limit."""
    rng = np.random.default_rng(11)
    span = 2 * 86400
    offered = poisson_times(rng, 12 / 60, span)
    cap = token_bucket(offered, 5 / 60, 5)
    hourly = token_bucket(poisson_times(rng, 1 / 60, 20 * 86400), 3 / 3600, 5)
    free = poisson_times(rng, 3 / 60, span)
    bursts = np.sort(np.concatenate(
        [s + rng.uniform(0, 60, int(k)) for s, k in
         zip(rng.uniform(0, span, 3000), rng.pareto(1.2, 3000) + 1, strict=True)]))
    t = ibis_table(tmp_path_factory.mktemp("capped"), packets(cap, "capped"), packets(hourly, "hourly"),
                   packets(free, "free"), packets(bursts, "heavy"))
    return t, len(offered), len(cap)


def test_capping_detected_with_its_rate(capped):
    t, offered, kept = capped
    assert kept < offered / 2  # the limit really did drop packets
    c = health.capping(t)
    found = {(h, f): cap for h, f, cap in zip(c["host"], c["freq"], c["cap"], strict=True)}
    assert found.get(("capped", "minute")) == 5
    assert found.get(("hourly", "hour")) == 3
    assert not any(h in ("free", "heavy") for h, _ in found)
    why = c.loc[(c["host"] == "capped") & (c["freq"] == "minute"), "why"].iloc[0]
    assert "exactly 5 packets" in why and "lower bounds" in why


def test_capped_days_are_marked_lower_bounds(capped):
    t, _, _ = capped
    caps = health.capping(t)
    h = health.health(t, caps=caps)
    by = h.groupby("host")["lower_bound"].all()
    assert by["capped"] and by["hourly"]
    assert not h.loc[h["host"].isin(["free", "heavy"]), "lower_bound"].any()
    assert h.loc[h["host"] == "capped", "capped_bins"].sum() > 1000


def test_health_with_rejects_and_zero_days(tmp_path):
    rng = np.random.default_rng(3)
    times = np.concatenate([poisson_times(rng, 1 / 600, 86400),  # day 0
                            2 * 86400 + poisson_times(rng, 1 / 600, 86400)])  # day 2 (day 1 silent)
    t = ibis_table(tmp_path, packets(times, "s1"))
    rej = pd.DataFrame({"host": ["s1", "s1"], "day": ["2024-01-01", "2024-01-02"],
                        "rejects": [5, 7]})
    for hours in (None, health.hourly_expr(t)):  # from the packets, from the per-hour counts
        h = health.health(t, rejects=rej, hours=hours)
        assert list(h["rows"]) == [int((times < 86400).sum()), 0, int((times >= 86400).sum())]
        assert list(h["rejects"]) == [5, 7, 0]
        assert list(h["lines"]) == [h["rows"][0] + 5, 7, h["rows"][2]]
        assert h["reject_share"][1] == 1.0
        assert list(h["active_hours"])[1] == 0
        # active hours of day 0: the distinct clock hours of its packets
        assert h["active_hours"].iloc[0] == len(np.unique(times[times < 86400] // 3600))


# ----------------------------------------------------------------------------------------------
# the bundled data


@pytest.mark.parametrize("reuse", [False, True])
def test_marx_completeness(marx, marx_parquet, reuse):
    c = health.completeness(marx, health.hourly_expr(marx) if reuse else None).set_index("host")
    assert c["rows"].sum() == 451_581
    assert (c["days_with_data"] == 190).all()  # every sensor has rows every day (data README)
    # clock hours with a packet, and clock hours from the first packet's to the last's, in SQL
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    sql = con.execute(f"""
        select host, count(distinct date_trunc('hour', time)) as with_data,
               (epoch(date_trunc('hour', max(time))) - epoch(date_trunc('hour', min(time)))) / 3600
                   + 1 as in_span
        from read_parquet('{marx_parquet}') group by host order by host""").df().set_index("host")
    assert c["hours_with_data"].to_dict() == sql["with_data"].to_dict()
    assert c["hours_in_span"].to_dict() == sql["in_span"].astype(int).to_dict()
    assert c["completeness"].to_dict() == pytest.approx((sql["with_data"] / sql["in_span"]).to_dict())


@pytest.mark.slow  # more than 2 s on 2 cores (CI runs it)
def test_marx_has_no_gaps_and_no_capping(marx, marx_parquet):
    # per sensor, in plain SQL: its longest silence between two packets, and whether one silence
    # holds a whole empty clock hour (the next packet at least 2 h after the hour of the previous)
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    sql = con.execute(f"""
        select host, max(epoch(time) - epoch(prev)) as longest,
               bool_or(time >= date_trunc('hour', prev) + interval 2 hour) as empty_hour
        from (select host, time, lag(time) over (partition by host order by time) as prev
              from read_parquet('{marx_parquet}') where time is not null)
        group by host""").df().set_index("host")
    s = health.gap_stats(marx).set_index("host")
    assert s["max"].to_dict() == sql["longest"].to_dict()  # groucho-sydney's: 13,000 s, 3.6 h
    g = health.gaps(marx, include_quiet=True)
    assert (g["kind"] == "quiet").all()
    # the silences looked at are those with an empty clock hour; the three busiest sensors had none
    assert set(g["host"]) == set(sql.index[sql["empty_hour"]])
    assert health.capping(marx).empty


def test_marx_daily_health_matches_part1(marx):
    h = health.health(marx)
    eu = h[h["host"] == "groucho-eu"]["rows"].head(6).tolist()
    assert eu == [6, 104, 99, 71, 112, 73]
    assert h["rows"].sum() == 451_581
    assert not h["lower_bound"].any()
