"""Fair comparison and sources across the fleet, on constructed tables and on marx."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import ibis
import pyarrow as pa
import pytest

from honeyscope import schema
from honeyscope.analyse import engine, fleet

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def packets(rows: list[tuple[int, str, str, str, int | None]], where: Path) -> ibis.Table:
    """rows: (seconds after T0, host, src, proto, dpt), read from a Parquet file in ``where``."""
    t = pa.table({
        "time": pa.array([T0 + timedelta(seconds=r[0]) for r in rows], schema.TIME_TYPE),
        "host": [r[1] for r in rows],
        "src": [r[2] for r in rows],
        "proto": [r[3] for r in rows],
        "dpt": pa.array([r[4] for r in rows], pa.uint16()),
    })
    con = engine.connect()
    return con.read_parquet(_write(schema.conform(t), where), table_name="p")


def _write(t: pa.Table, where: Path) -> str:
    import pyarrow.parquet as pq

    path = where / f"p{len(list(where.glob('*.parquet')))}.parquet"
    pq.write_table(t, path)
    return str(path)


@pytest.fixture()
def sweep(tmp_path) -> ibis.Table:
    # N = 3 sensors. 1.2.3.4 sweeps all three (a, then c 60 s later, then b 120 s later);
    # 1.2.3.5 (same /24) hits a twice; 5.6.7.8 hits b once; 2001:db8::1 and 2001:db8::2 (same /64)
    # hit c on day 2.
    return packets([
        (0, "a", "1.2.3.4", "TCP", 22), (60, "c", "1.2.3.4", "TCP", 23),
        (180, "b", "1.2.3.4", "TCP", 22), (200, "a", "1.2.3.4", "UDP", 53),
        (10, "a", "1.2.3.5", "TCP", 80), (20, "a", "1.2.3.5", "TCP", 80),
        (30, "b", "5.6.7.8", "TCP", 445),
        (86_400, "c", "2001:db8::1", "TCP", 22), (86_500, "c", "2001:db8::2", "TCP", 22),
    ], tmp_path)


def test_source_profiles(sweep):
    p = fleet.source_profiles(sweep).execute().set_index("src")
    a = p.loc["1.2.3.4"]
    assert (a.sensors, a.fleet, a.packets, a.ports) == (3, 3, 4, 3)
    assert a.order == "a>c>b"
    assert a.sweep_seconds == 180
    assert a.median_lag_seconds == 90  # lags 60 and 120
    assert a.protocols == "TCP,UDP"
    assert (a.reach, a.reach_label) == (4, "swept the whole fleet")
    assert p.loc["1.2.3.5", "reach"] == 1
    assert p.loc["5.6.7.8", "reach_label"] == "touched one sensor once"
    assert p.loc["5.6.7.8", "coverage"] == pytest.approx(1 / 3)


def test_fair_daily_prefixes_and_sensors(sweep):
    d = fleet.fair_daily(sweep).execute()
    assert d.sensors.tolist() == [3, 1]
    assert d.packets.tolist() == [7, 2]
    assert d.packets_per_sensor.tolist() == pytest.approx([7 / 3, 2])
    assert d.sources.tolist() == [3, 2]
    assert d.prefixes.tolist() == [2, 1]  # 1.2.3.0/24 + 5.6.7.0/24; one /64
    s = fleet.fair_by_sensor(sweep).execute()
    a = s[(s.host == "a")].iloc[0]
    assert (a.packets, a.sources, a.prefixes) == (4, 2, 1)


def test_source_prefixes(sweep):
    p = fleet.source_prefixes(sweep).execute().set_index("addr")
    assert p.loc["1.2.3.4", "src_net"] == "1.2.3.0/24"
    assert p.loc["2001:db8::2", "src_net"] == "2001:db8::/64"


def test_timeline(sweep):
    t = fleet.source_timeline(sweep, ["1.2.3.4"]).execute()
    assert t.host.tolist() == ["a", "c", "b", "a"]
    assert t.first_at_sensor.tolist() == [True, True, True, False]
    assert t.gap_seconds.tolist()[1:] == [60, 120, 20]


@pytest.mark.slow  # more than 2 s on 2 cores (CI runs it)
def test_marx_reach(marx, marx_parquet):
    p = fleet.source_profiles(marx)
    k = fleet.sensors_reached(p).execute().set_index("sensors")
    assert k.sources.sum() == 69_602  # distinct sources (data README)
    # sources by the number of sensors they reached, and those with one packet, in plain SQL
    import duckdb

    con = duckdb.connect()
    per = dict(con.execute(f"""select n, count(*) from (select src, count(distinct host) n
        from read_parquet('{marx_parquet}') group by src) group by n""").fetchall())
    assert k["sources"].to_dict() == per
    once = con.execute(f"""select count(*) from (select src from read_parquet('{marx_parquet}')
        group by src having count(*) = 1)""").fetchone()[0]
    r = fleet.reach_summary(p).execute().set_index("reach")
    assert r.loc[0, "sources"] == once  # one packet, one sensor
    top = p.order_by(ibis.desc("packets")).limit(1).execute().iloc[0]
    assert top.fleet == 9


@pytest.mark.slow  # more than 2 s on 2 cores (CI runs it)
def test_marx_fair_daily(marx):
    d = fleet.fair_daily(marx).execute()
    assert len(d) == 190
    assert (d.sensors == 9).all()  # every host has rows every day (data README)
    assert d.packets.sum() == 451_581
    c = fleet.compare_sensors(marx).execute()
    assert c.iloc[0].host == "groucho-tokyo"
    assert c.iloc[0].packets == 126_189


def test_reuse_gives_the_same(sweep):
    """The shared pieces a report passes in give what the functions compute on their own."""
    from honeyscope.analyse import enrich

    geo = enrich.source_geo(sweep).cache()
    pref = fleet.source_prefixes(sweep, geo=geo)
    assert pref.execute().sort_values("addr").reset_index(drop=True).equals(
        fleet.source_prefixes(sweep).execute().sort_values("addr").reset_index(drop=True))
    per = fleet.fair_by_sensor(sweep, "day", pref).cache()
    a = fleet.fair_daily(sweep).execute()
    b = fleet.fair_daily(sweep, prefixes=pref, by_sensor=per).execute()
    assert a.equals(b)


def test_order_and_lags_in_whole_seconds(tmp_path):
    """Sub-second stamps: the sensor order follows the exact times; gaps are in whole seconds
    (the same on every engine)."""
    t = packets([(0, "b", "7.7.7.7", "TCP", 1), (0, "a", "7.7.7.7", "TCP", 1),
                 (3, "c", "7.7.7.7", "TCP", 1)], tmp_path)
    p = fleet.source_profiles(t).execute().iloc[0]
    assert p.order == "a>b>c"  # same second: by sensor name
    assert (p.sweep_seconds, p.median_lag_seconds) == (3, 1.5)  # lags 0 and 3
    d = packets_at([0.9, 1.2], ["x", "y"], tmp_path)
    p = fleet.source_profiles(d).execute().iloc[0]
    assert p.order == "x>y"
    assert (p.sweep_seconds, p.median_lag_seconds) == (1, 1)


def packets_at(seconds: list[float], hosts: list[str], where: Path) -> ibis.Table:
    t = pa.table({
        "time": pa.array([T0 + timedelta(seconds=s) for s in seconds], schema.TIME_TYPE),
        "host": hosts, "src": ["7.7.7.8"] * len(hosts), "proto": ["TCP"] * len(hosts),
    })
    return engine.connect().read_parquet(_write(schema.conform(t), where), table_name="q")


def test_order_survives_awkward_sensor_names(tmp_path):
    t = packets([(0, "z>1", "6.6.6.6", "UDP", 1), (5, "0000000001", "6.6.6.6", "UDP", 1),
                 (9, "ä b", "6.6.6.6", "UDP", 1)], tmp_path)
    assert fleet.source_profiles(t).execute().iloc[0].order == "z>1>0000000001>ä b"
