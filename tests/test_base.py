"""The shared building blocks of the analyses (:mod:`honeyscope.analyse.base`) on rows written here,
and the analyses that once counted rows without a time as if they had one."""

from __future__ import annotations

import ibis
import pandas as pd
import pyarrow as pa

from honeyscope import schema
from honeyscope.analyse import base, engine, health


def _rows(times: list[str | None], host: str = "s1") -> pa.Table:
    """One sensor's rows at ``times`` (UTC text; None: a dmesg row, uptime only)."""
    ts = [None if x is None else pd.Timestamp(x, tz="UTC") for x in times]
    return schema.conform(pa.table({
        "time": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "host": pa.array([host] * len(ts)),
        "src": pa.array(["192.0.2.1"] * len(ts)),
        "proto": pa.array(["TCP"] * len(ts)),
        "dpt": pa.array([22] * len(ts), pa.uint16()),
    }))


def _table(*parts: pa.Table):
    return engine.packets_from_arrow(engine.connect(), pa.concat_tables(parts))


# three packets, so two silences between them (10:00 -> 12:00 -> 15:30), and one dmesg row
TIMES = ["2024-01-01 10:00:00", "2024-01-01 12:00:00", "2024-01-01 15:30:00"]


def test_gaps_leave_rows_without_a_time_out():
    t = _table(_rows([*TIMES, None]), _rows([None, "2024-01-01 11:00:00"], host="s2"))
    g = health.gaps_expr(t).order_by(["host", "start"]).execute()
    s1 = g[g.host == "s1"]
    assert len(s1) == 2  # counted by hand: 10:00-12:00 and 12:00-15:30
    assert s1.gap.tolist() == [2 * 3600, 3.5 * 3600]
    assert g[g.host == "s2"].empty  # one timed packet: no silence at all
    stats = health.gap_stats(t).set_index("host")
    assert int(stats.loc["s1", "n_gaps"]) == 2
    assert int(stats.loc["s1", "max"]) == int(3.5 * 3600)


def test_sensor_spans_from_timed_rows_only():
    t = _table(_rows([None, *TIMES]), _rows([None], host="dmesg-only"))
    sp = base.sensor_spans_expr(t).execute().set_index("host")
    assert list(sp.index) == ["s1"]  # a sensor with no wall clock has no span
    assert sp.loc["s1", "first"] == pd.Timestamp(TIMES[0], tz="UTC")
    assert sp.loc["s1", "last"] == pd.Timestamp(TIMES[-1], tz="UTC")
    whole = base.sensor_spans_expr(t, by=()).execute()
    assert len(whole) == 1 and whole["last"].iloc[0] == pd.Timestamp(TIMES[-1], tz="UTC")


def test_zero_fill_adds_the_silent_bins_of_each_group():
    counts = pd.DataFrame({
        "host": ["a", "a", "b"],
        "bin": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 13:00", "2024-01-02 00:00"]),
        "rows": [5, 2, 7],
    })
    import ibis

    con = engine.connect()
    out = con.execute(base.zero_fill(ibis.memtable(counts), ["host"], "bin", "h", "rows")
                      .order_by(["host", "bin"]))
    # a: 10, 11, 12, 13 h (two silent hours inside its span); b: one hour; nothing across hosts
    assert out.host.tolist() == ["a"] * 4 + ["b"]
    assert out.rows.tolist() == [5, 0, 0, 2, 7]
    assert pd.to_datetime(out.bin).dt.hour.tolist() == [10, 11, 12, 13, 0]


def test_the_report_data_and_heat_map_aggregates_count_by_hand():
    """What the data section and the sensor x port heat map read, from rows written here."""
    from honeyscope.analyse import explore

    def rows(host, dpts, src="192.0.2.1", day="2024-01-01"):
        n = len(dpts)
        return schema.conform(pa.table({
            "time": pa.array([pd.Timestamp(f"{day} 10:00", tz="UTC")] * n, pa.timestamp("us", tz="UTC")),
            "host": pa.array([host] * n), "src": pa.array([src] * n),
            "proto": pa.array(["TCP"] * n), "dpt": pa.array(dpts, pa.uint16()),
        }))

    t = _table(rows("a", [22, 22, 22, 23]), rows("a", [80], src="192.0.2.2", day="2024-01-03"),
               rows("b", [23, 23]))
    heat = explore.port_host_share_expr(t, [22, 23]).execute()
    # a: 3 to 22 and 1 to 23 of its 4 packets to those ports (80 is not one); b: all to 23
    assert heat[["host", "dpt", "count"]].values.tolist() == [["a", 22, 3], ["a", 23, 1], ["b", 23, 2]]
    assert heat.share.tolist() == [0.75, 0.25, 1.0]
    per = explore.sensors_expr(t).execute()
    assert per[["host", "packets", "sources", "days"]].values.tolist() == [["a", 5, 2, 2], ["b", 2, 1, 1]]
    o = explore.overview_expr(t).execute().iloc[0]
    assert (o.packets, o.sensors, o.sources) == (7, 2, 2)


def test_all_timed_rows_need_no_filter_and_keep_their_values():
    """A table declared all timed (its time typed never null) gives timed() nothing to filter:
    the same table back, the same rows; the table of the Parquet files stays read by name."""
    rows = _rows(TIMES)
    t = _table(rows)
    known = base.all_timed(t)
    assert not known.schema()["time"].nullable and t.schema()["time"].nullable
    assert base.timed(known) is known
    assert "WHERE" not in ibis.to_sql(known.group_by("host").aggregate(n=known.count()))
    # a table made from it (a filter, a group-by) is still known to be timed
    some = known.filter(known.dpt == 22)
    assert base.timed(some) is some
    assert known.execute()["time"].tolist() == t.execute()["time"].tolist()
    # over a filter (not a table of the engine) the time is cast to its own type: same values
    f = base.all_timed(t.filter(t.dpt == 22))
    assert not f.schema()["time"].nullable
    assert sorted(f.execute()["time"]) == [pd.Timestamp(x, tz="UTC") for x in TIMES]


def test_report_keeps_the_timed_packets_and_declares_them():
    """The report's packets: those with a wall clock; when the count of the others is 0 nothing
    is filtered (and the time is declared never null); when it is not, they are left out."""
    from honeyscope.render.report import ReportOptions, restrict

    t = _table(_rows([*TIMES, None]))
    kept = restrict(t, ReportOptions(), timeless=1)
    assert len(kept.execute()) == 3 and not kept.schema()["time"].nullable
    assert base.timed(kept) is kept
    whole = _table(_rows(TIMES))
    kept = restrict(whole, ReportOptions(), timeless=0)
    assert len(kept.execute()) == 3 and base.timed(kept) is kept
    assert "WHERE" not in ibis.to_sql(kept.count().as_table())
