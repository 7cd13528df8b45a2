"""Events: hand-built packet tables with hand-computed answers, and the bundled data's largest
events against a direct DuckDB computation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import ibis
import pandas as pd
import pytest

from conftest import canonical
from honeyscope.analyse import events

D0 = datetime(2024, 3, 1, tzinfo=UTC)


def _table(rows: list[dict]) -> ibis.Table:
    from honeyscope.analyse import engine

    return engine.packets_from_arrow(engine.connect(), canonical(rows, host="s1", dst="10.0.0.1"))


def _background(day: datetime, host: str, n: int, port: int = 22) -> list[dict]:
    """``n`` packets from ``n`` different sources (no event on their own)."""
    return [{"time": day + timedelta(minutes=i), "host": host, "src": f"198.51.100.{i % 250 + 1}",
             "proto": "TCP", "spt": 40000, "dpt": port} for i in range(n)]


def test_flood_share_and_sentence():
    day = D0 + timedelta(days=3)
    flood = [{"time": day + timedelta(hours=7, minutes=46, seconds=i), "host": "s1",
              "src": "8.8.8.8", "proto": "UDP", "spt": 5000, "dpt": 2193} for i in range(600)]
    small = [{"time": day + timedelta(hours=9, seconds=i), "host": "s2", "src": "8.8.4.4",
              "proto": "UDP", "spt": 5000, "dpt": 2193} for i in range(400)]  # under 500
    t = _table(flood + small + _background(day, "s1", 200) + _background(day, "s2", 10))
    ev = events.events(t, kinds=("flood",))
    assert len(ev) == 1
    e = ev.iloc[0]
    assert (e.event, e.kind, e.src, e.sensors, e.ports, e.packets) == (
        "E1", "flood", "8.8.8.8", "s1", "UDP/2193", 600)
    assert e.share == pytest.approx(600 / 800)  # 600 of s1's 800 packets that day
    assert e.start == pd.Timestamp(day + timedelta(hours=7, minutes=46))
    assert e.end == pd.Timestamp(day + timedelta(hours=7, minutes=46, seconds=599))
    assert e.asn == 15169 and e.cc == "US"
    assert events.describe(e) == (
        "8.8.8.8 (AS15169 GOOGLE, United States of America) sent 600 UDP packets to port 2193 "
        "on s1 between 07:46 and 07:55 on 2024-03-04, 75% of that sensor's traffic that day.")
    # a higher share threshold drops it
    assert events.events(t, events.EventOptions(flood_min_share=0.8), kinds=("flood",)).empty


def test_sweep_window_and_net():
    day = D0 + timedelta(days=1)
    one = [{"time": day + timedelta(minutes=i), "src": "9.9.9.1", "proto": "TCP", "spt": 40000,
            "dpt": 1000 + i} for i in range(25)]                   # 25 ports in 25 minutes
    slow = [{"time": day + timedelta(days=i % 3, minutes=i), "src": "9.9.9.77", "proto": "TCP",
             "spt": 40000, "dpt": 2000 + i} for i in range(30)]    # 30 ports over 3 days: 10/day
    net = [{"time": day + timedelta(minutes=i), "src": f"5.5.5.{1 + i % 2}", "proto": "UDP",
            "spt": 40000, "dpt": 3000 + i} for i in range(30)]     # 2 sources, 15 ports each
    t = _table(one + slow + net)
    o = events.EventOptions(sweep_min_packets=20)
    ev = events.events(t, o, kinds=("sweep",)).set_index("src")
    assert sorted(ev.index) == ["5.5.5.0/24", "9.9.9.1"]
    assert ev.loc["9.9.9.1", "ports"] == "TCP/1000-1024 (25 ports)"
    assert ev.loc["9.9.9.1", "packets"] == 25
    assert (ev.loc["5.5.5.0/24", "sources"], ev.loc["5.5.5.0/24", "packets"]) == (2, 30)
    assert ev.loc["5.5.5.0/24", "ports"] == "UDP/3000-3029 (30 ports)"
    # a 6-day window sees the slow sweep (fixed bins since the epoch: 2024-02-29..03-05 whole)
    wide = events.events(t, events.EventOptions(sweep_min_packets=20, window_hours=144),
                         kinds=("sweep",))
    assert "9.9.9.77" in wide.src.tolist()


def test_campaign_against_baseline():
    rows = []
    for d in range(40):  # port 7777: one source a day for 40 days
        rows.append({"time": D0 + timedelta(days=d, hours=1), "src": f"203.0.113.{d + 1}",
                     "proto": "TCP", "spt": 40000, "dpt": 7777})
    surge = D0 + timedelta(days=40)
    rows += [{"time": surge + timedelta(minutes=i), "src": f"192.0.2.{i + 1}", "proto": "TCP",
              "spt": 40000, "dpt": 7777, "host": f"s{i % 3}"} for i in range(45)]
    t = _table(rows)
    ev = events.events(t, kinds=("campaign",))
    assert len(ev) == 1
    e = ev.iloc[0]
    assert (e.kind, e.sources, e.packets, e.ports, e.sensor_count) == ("campaign", 45, 45,
                                                                       "TCP/7777", 3)
    assert e.start.date() == surge.date()
    # 45 sources vs a baseline of 1 a day: 45x; a ratio of 50 is not met
    assert events.events(t, events.EventOptions(campaign_ratio=50), kinds=("campaign",)).empty


@pytest.mark.slow  # more than 2 s on 2 cores (CI runs it)
def test_backscatter_events_are_replies_not_floods_or_sweeps():
    day = D0 + timedelta(days=2)
    dns = [{"time": day + timedelta(seconds=i), "src": "1.1.1.1", "proto": "UDP", "spt": 53,
            "dpt": 30000 + i} for i in range(150)]
    redirects = [{"time": day + timedelta(seconds=i), "src": "10.1.1.1", "proto": "ICMP",
                  "icmp_type": 5, "icmp_code": 1} for i in range(150)]
    t = _table(dns + redirects)
    ev = events.events(t)
    assert ev.kind.tolist() == ["backscatter"]  # not a sweep of 150 ports; redirects: nothing
    e = ev.iloc[0]
    assert (e.src, e.packets, e.ports, e.share) == ("1.1.1.1", 150, "DNS-REPLY", 0.5)


def test_rate_capped_sensor():
    rows = []
    for m in range(40):  # 40 busy minutes, each with exactly 5 packets logged (a limit of 5/min)
        rows += [{"time": D0 + timedelta(minutes=m, seconds=s), "src": f"198.51.100.{s + 1}",
                  "proto": "TCP", "spt": 40000, "dpt": 22} for s in range(5)]
    t = _table(rows)
    ev = events.events(t, kinds=("rate-capped",))
    assert ev.kind.tolist() == ["rate-capped"]
    assert ev.iloc[0].packets == 200 and ev.iloc[0].sensors == "s1"


def test_options_and_kinds_are_checked():
    with pytest.raises(ValueError, match="share"):
        events.EventOptions(flood_min_share=2)
    with pytest.raises(ValueError, match="positive"):
        events.EventOptions(window_hours=0)
    t = _table(_background(D0, "s1", 3))
    with pytest.raises(ValueError, match="unknown event kind"):
        events.events(t, kinds=("storm",))
    assert events.events(t).empty


def test_for_day_links():
    ev = pd.DataFrame({
        "event": ["E1", "E2"], "sensors": ["s1", "s1,s2"],
        "start": pd.to_datetime(["2024-03-01 10:00", "2024-03-02 23:00"], utc=True),
        "end": pd.to_datetime(["2024-03-01 11:00", "2024-03-03 01:00"], utc=True),
    })
    assert events.for_day(ev, "s1", "2024-03-01") == ["E1"]
    assert events.for_day(ev, "s2", "2024-03-03") == ["E2"]
    assert events.for_day(ev, "", "2024-03-02") == ["E2"]
    assert events.for_day(ev, "s3", "2024-03-01") == []


@pytest.mark.slow  # ingests a log on the fly: ~8 s on the shared machine
def test_cli_events(tmp_path, capsys):
    from honeyscope.cli import main

    log = tmp_path / "k.log"
    line = ("Mar  3 21:{m:02d}:{s:02d} s1 kernel: [UFW BLOCK] IN=eth0 OUT= MAC= SRC=8.8.8.8 "
            "DST=10.0.0.1 LEN=40 TOS=0x00 PREC=0x00 TTL=50 ID=1 PROTO=UDP SPT=5000 DPT=2193 LEN=20\n")
    log.write_text("".join(line.format(m=i // 60, s=i % 60) for i in range(600)))
    assert main(["events", str(log), "--year", "2024", "--format", "csv"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("event,kind,src")
    assert out[1].startswith("E1,flood,8.8.8.8")
    assert main(["events", str(log), "--year", "2024", "--flood-min-share", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "flood_min_share" in err
    assert main(["events", str(log), "--year", "2024", "--kind", "flood",
                 "--flood-min-packets", "1000"]) == 0
    assert "no events" in capsys.readouterr().err


@pytest.mark.slow  # the whole bundled data set, ~5 s on the shared machine
def test_marx_largest_events_match_duckdb(marx, marx_parquet):
    import duckdb

    ev = events.events(marx)
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    # the largest single-source, single-port, single-sensor day, and its share of the day
    top = con.execute(f"""
        with e as (select src, host, proto, dpt, time::date d, count(*) n
                   from read_parquet('{marx_parquet}') group by all),
             t as (select host, time::date d, count(*) tot from read_parquet('{marx_parquet}')
                   group by all)
        select src, host, proto, dpt, n, n / tot from e join t using (host, d)
        order by n desc limit 1""").fetchone()
    first = ev.iloc[0]
    assert first.kind == "flood"
    assert (first.src, first.sensors, first.ports, first.packets) == (
        top[0], top[1], f"{top[2]}/{top[3]}", top[4])
    assert first.share == pytest.approx(top[5])
    # the wide port sweep: the most ports one source reached in one UTC day
    sw = con.execute(f"""
        select src, time::date d, count(distinct dpt) ports, count(*) n
        from read_parquet('{marx_parquet}') group by all order by ports desc limit 1""").fetchone()
    sweeps = ev[(ev.kind == "sweep") & (ev.src == sw[0])]
    row = sweeps[sweeps.start.dt.date == sw[1]].iloc[0]
    assert row.ports.endswith(f"({sw[2]} ports)") and row.packets == sw[3]
    # the five largest events are floods and that sweep
    assert set(ev.head(5).kind) == {"flood", "sweep"}
