"""Exact values of the posts ("Inspecting Internet Traffic" parts 1-2) from the bundled marx data,
plus independent pandas computations of the derived metrics."""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from honeyscope import schema
from honeyscope.analyse import engine, explore, names
from honeyscope.render import console


@pytest.fixture(scope="module")
def t(marx_arrow):
    con = engine.connect()
    con.con.register("packets", marx_arrow)
    return con.table("packets")


@pytest.fixture(scope="module")
def pdf(marx_arrow) -> pd.DataFrame:
    return marx_arrow.select(["time", "host", "src", "proto", "dpt"]).to_pandas()


def _tiny(rows: list[dict]) -> ibis.Table:
    cols = {k: [r.get(k) for r in rows] for k in ("time", "host", "src", "proto", "dpt", "icmp_type")}
    tb = schema.conform(pa.table({
        "time": pa.array(cols["time"], schema.TIME_TYPE),
        "host": pa.array(cols["host"], pa.string()),
        "src": pa.array(cols["src"], pa.string()),
        "proto": pa.array(cols["proto"], pa.string()),
        "dpt": pa.array(cols["dpt"], pa.uint16()),
        "icmp_type": pa.array(cols["icmp_type"], pa.uint8()),
    }))
    con = engine.connect()
    con.con.register("tiny", tb)
    return con.table("tiny")


def _ts(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2013, 3, day, hour, tzinfo=dt.UTC)


# --- summary: Part 1's summary(csv) ---------------------------------------------------------------


def _block(s: pd.DataFrame, column: str, kind: str) -> dict:
    b = s[(s["column"] == column) & (s["kind"] == kind)]
    return dict(zip(b["stat"], b["value"], strict=True))


@pytest.fixture(scope="module")
def raw_marx() -> dict[str, np.ndarray]:
    """The numeric columns of marx.csv.gz as pyarrow's CSV reader reads them (not honeyscope's
    parser), nulls dropped."""
    import pyarrow.csv as pcsv

    from conftest import bundled

    tb = pcsv.read_csv(bundled("marx.csv.gz"),
                       convert_options=pcsv.ConvertOptions(include_columns=["src", "dpt"]))
    return {c: tb.column(c).drop_null().to_numpy() for c in tb.column_names}


def test_summary_exact_values(t, raw_marx):
    s = explore.summary(t)
    assert _block(s, "host", "category") == {
        "groucho-tokyo": 126189, "groucho-oregon": 94076, "groucho-singapore": 78151,
        "groucho-us-east": 31779, "groucho-norcal": 24566, "groucho-sydney": 24456,
        "(Other)": 72364,
    }
    assert _block(s, "proto", "category") == {"TCP": 327991, "UDP": 78779, "ICMP": 44811}
    assert _block(s, "time", "category") == {
        "2013-08-26T23:39:53Z": 96, "2013-08-26T23:38:52Z": 81, "2013-03-21T02:51:27Z": 78,
        "2013-07-24T07:55:02Z": 67, "2013-04-28T04:10:16Z": 63, "2013-04-28T04:10:19Z": 63,
        "(Other)": 451133,
    }
    assert _block(s, "time", "time") == {
        "First": "2013-03-03T21:53:59Z", "Last": "2013-09-08T05:55:13Z", "Days": 190,
    }
    assert _block(s, "src", "address") == {"Distinct": 69602}
    # the post prints src to 3 digits (test_summary_text_reproduces_post); to the last digit
    # against numpy (R's type 7 quantiles) over the raw CSV column
    src = _block(s, "src_int", "numeric")
    x = raw_marx["src"]
    assert [src[k] for k in ("Min.", "1st Qu.", "Median", "3rd Qu.", "Max.")] == \
        np.percentile(x.astype("float64"), [0, 25, 50, 75, 100]).tolist()
    assert src["Mean"] == pytest.approx(x.mean(), rel=1e-12)
    dpt = _block(s, "dpt", "numeric")
    assert [dpt[k] for k in ("Min.", "1st Qu.", "Median", "3rd Qu.", "Max.", "NA's")] == [
        0, 445, 1433, 3389, 65500, 44811]
    assert dpt["Mean"] == pytest.approx(raw_marx["dpt"].mean(), rel=1e-12)
    spt = _block(s, "spt", "numeric")
    assert [spt[k] for k in ("Min.", "1st Qu.", "Median", "3rd Qu.", "Max.", "NA's")] == [
        0, 6000, 6000, 33461, 65535, 44811]
    ty = _block(s, "icmp_type", "numeric")
    assert [ty[k] for k in ("Min.", "1st Qu.", "Median", "3rd Qu.", "Max.", "NA's")] == [
        0, 8, 8, 8, 13, 406770]
    assert ty["Mean"] == pytest.approx(336750 / 44811, rel=1e-12)
    # ports as categories: part 2's summary(factor(csv$dpt)) head
    fd = _block(s, "dpt", "category")
    assert list(fd.items())[:4] == [("1433", 109425), ("445", 40611), ("3389", 30077),
                                    ("80", 19575)]
    assert fd["NA's"] == 44811
    # empty canonical columns are left out
    assert "tcp_flags" not in set(s["column"])


# The post's printed summary(csv), rows as R laid them out (src is our src_int).
POST_SUMMARY = """\
                host           src_int          proto
 groucho-tokyo    :126189   Min.   :1.68e+07   TCP :327991
 groucho-oregon   : 94076   1st Qu.:1.17e+09   UDP : 78779
 groucho-singapore: 78151   Median :2.03e+09   ICMP: 44811
 groucho-us-east  : 31779   Mean   :2.15e+09
 groucho-norcal   : 24566   3rd Qu.:3.16e+09
 groucho-sydney   : 24456   Max.   :3.76e+09
 (Other)          : 72364
      spt             dpt          icmp_type
 Min.   :    0   Min.   :    0   Min.   : 0
 1st Qu.: 6000   1st Qu.:  445   1st Qu.: 8
 Median : 6000   Median : 1433   Median : 8
 Mean   :18685   Mean   : 6684   Mean   : 8
 3rd Qu.:33461   3rd Qu.: 3389   3rd Qu.: 8
 Max.   :65535   Max.   :65500   Max.   :13
 NA's   :44811   NA's   :44811   NA's   :406770"""


def test_summary_text_reproduces_post(t):
    s = explore.summary(t, ["host", "src_int", "proto", "spt", "dpt", "icmp_type"])
    seed = s[(s["kind"] != "category") | ~s["column"].isin(["spt", "dpt", "icmp_type"])]
    assert console.summary_text(seed, width=72) == POST_SUMMARY


def test_r_format_rules():
    assert console.r_format([16777254, 1169129130, 2031191236, 2154901582.01], 3) == [
        "1.68e+07", "1.17e+09", "2.03e+09", "2.15e+09"]
    assert console.r_format([0, 445, 1433, 6684.26, 3389, 65500], 3) == [
        "    0", "  445", " 1433", " 6684", " 3389", "65500"]
    assert console.r_format([41.857142857, 52.0], 7) == ["41.85714", "52.00000"]
    assert console.r_format([0.5, None], 7) == ["0.5", " NA"]
    assert console.zapsmall([0, 8, 7.5149, 13, 406770], 3) == [0, 8, 8, 13, 406770]


# --- count: Part 1's summary(factor(csv$type)) ----------------------------------------------------


def test_count_icmp_types(t):
    c = explore.count(t, "icmp_type")
    got = dict(zip(c["icmp_type"].astype("object").where(c["icmp_type"].notna(), "NA"),
                   c["count"], strict=True))
    assert got == {0: 536, 3: 4251, 5: 127, 8: 38597, 11: 1156, 12: 2, 13: 142, "NA": 406770}
    assert list(c["name"][:4]) == ["echo reply", "destination unreachable", "redirect",
                                   "echo request"]
    assert c["name"].iloc[-1] == ""
    text = console.count_text(c.drop(columns="name"), ["icmp_type"], width=72)
    assert text == (
        "     0      3      5      8     11     12     13   NA's\n"
        "   536   4251    127  38597   1156      2    142 406770"
    )


def test_count_two_columns_and_errors(t):
    c = explore.count(t, ["proto", "host"])
    assert len(c) == 27 and c["count"].sum() == 451581
    assert c.iloc[0].tolist()[:2] == ["ICMP", "groucho-eu"]
    with pytest.raises(ValueError, match="no such column"):
        explore.count(t, ["nope"])


def test_count_names_icmpv6_and_protocols():
    tiny = _tiny([
        {"time": _ts(3), "host": "a", "src": "::1", "proto": "ICMPv6", "icmp_type": 128},
        {"time": _ts(3), "host": "a", "src": "1.2.3.4", "proto": "ICMP", "icmp_type": 8},
        {"time": _ts(3), "host": "a", "src": "1.2.3.4", "proto": "47"},
    ])
    c = explore.count(tiny, "icmp_type")
    assert dict(zip(c["icmp_type"].dropna(), c["name"][:2], strict=True)) == {
        8: "echo request", 128: "echo request"}
    p = explore.count(tiny, "proto")
    assert dict(zip(p["proto"], p["name"], strict=True)) == {
        "47": "GRE", "ICMP": "", "ICMPv6": ""}
    assert names.icmp_code_name(3, 3) == "port unreachable"
    assert names.icmp_code_name(1, 4, v6=True) == "port unreachable"
    assert names.protocol_name(132) == "SCTP"


# --- daily ---------------------------------------------------------------------------------------


def test_daily_first_rows_groucho_eu(t):
    d = explore.daily(t)
    eu = d[d["host"] == "groucho-eu"].head(6)
    assert eu["value"].tolist() == [6, 104, 99, 71, 112, 73]
    assert eu["day"].dt.strftime("%Y-%m-%d").tolist()[0] == "2013-03-03"
    assert d["value"].sum() == 451581
    assert len(d) == 9 * 190  # all 9 sensors have packets on each of the 190 days
    assert console.daily_text(eu.reset_index(drop=True)).split("\n")[1] == (
        "1 groucho-eu 2013-03-03     6")


def test_daily_unique_and_ma_against_pandas(t, pdf):
    u = explore.daily(t, unique=True)
    p = pdf.assign(day=pdf["time"].dt.tz_convert("UTC").dt.date)
    ref = p.groupby(["host", "day"])["src"].nunique()
    got = u.assign(day=u["day"].dt.date).set_index(["host", "day"])["value"]
    assert got.sort_index().tolist() == ref.sort_index().tolist()

    ma = explore.daily(t, unique=True, ma=7)
    for host, g in ref.groupby(level=0):
        x = g.to_numpy(dtype="float64")
        expect = np.convolve(x, np.ones(7) / 7, mode="valid")  # R filter(sides=2), full windows
        mine = ma.loc[ma["host"] == host, "value"].to_numpy()
        np.testing.assert_allclose(mine, expect, rtol=1e-12)
        first = ma.loc[ma["host"] == host, "day"].iloc[0].date()
        assert first == sorted(g.index.get_level_values(1))[3]  # centred: 3 days in
    eu = ma[ma["host"] == "groucho-eu"]["value"].head(2).tolist()
    assert eu == pytest.approx([293 / 7, 334 / 7])
    # the same average from the executed daily counts (no second pass over the packets)
    again = explore.moving_average(u, 7)
    pd.testing.assert_frame_equal(again, ma[["host", "day", "value"]], check_exact=True)


def test_daily_fills_gaps_with_zero_and_even_window():
    rows = [{"time": _ts(d), "host": "a", "src": "1.1.1.1", "proto": "TCP", "dpt": 22}
            for d in (3, 3, 4, 7, 8)]
    rows.append({"time": _ts(5), "host": "b", "src": "2.2.2.2", "proto": "TCP", "dpt": 22})
    tiny = _tiny(rows)
    d = explore.daily(tiny)
    assert d[d["host"] == "a"]["value"].tolist() == [2, 1, 0, 0, 1, 1]
    assert d[d["host"] == "b"]["value"].tolist() == [1]  # own span only
    m = explore.daily(tiny, ma=4)  # R sides=2, even: 1 behind, 2 ahead
    a = m[m["host"] == "a"]
    assert a["day"].dt.day.tolist() == [4, 5, 6]
    assert a["value"].tolist() == pytest.approx([0.75, 0.5, 0.5])
    assert m[m["host"] == "b"].empty
    m2 = explore.moving_average(d, 4)  # from the counts: the same hand-computed days and values
    assert m2[m2["host"] == "a"]["day"].dt.day.tolist() == [4, 5, 6]
    assert m2[m2["host"] == "a"]["value"].tolist() == pytest.approx([0.75, 0.5, 0.5])
    assert m2[m2["host"] == "b"].empty
    allh = explore.daily(tiny, by_host=False)
    assert "host" not in allh.columns and allh["value"].tolist() == [2, 1, 1, 0, 1, 1]
    # without hosts: windows over [2, 1, 1, 0, 1, 1] of 4 (1 behind, 2 ahead): days 4 to 6
    assert explore.moving_average(allh, 4)["value"].tolist() == pytest.approx([1.0, 0.75, 0.75])


# --- ports: Part 2 -------------------------------------------------------------------------------


def test_ports_tcp_top(t):
    p = explore.ports(t, proto="tcp", top=9)
    assert list(zip(p["port"], p["count"], strict=True)) == [
        (1433, 109425), (445, 40611), (3389, 30077), (80, 19574), (8080, 15406),
        (22, 15102), (3306, 14512), (135, 10180), (23, 8330)]
    assert p.attrs["other"] == 64774
    assert console.ports_text(p, width=72).split("\n")[-1].strip() == "64774"


def test_ports_all_and_by_host(t, pdf):
    a = explore.ports(t, proto="all", top=5)
    top = (pdf.dropna(subset=["dpt"]).groupby(["proto", "dpt"]).size().reset_index(name="n")
           .sort_values(["n", "dpt", "proto"], ascending=[False, True, True]).head(5))  # ties: port
    assert a.values.tolist() == [[p, int(d), n] for p, d, n in top.itertuples(index=False)]
    h = explore.ports(t, proto="udp", top=2, by_host=True)
    udp = pdf[pdf["proto"] == "UDP"]
    ref = (udp.groupby(["host", "dpt"]).size().reset_index(name="n")
           .sort_values(["host", "n", "dpt"], ascending=[True, False, True])
           .groupby("host").head(2))
    assert h["count"].tolist() == ref["n"].tolist()
    assert h["port"].tolist() == ref["dpt"].astype(int).tolist()
    assert int((pdf.loc[pdf["proto"] == "TCP", "dpt"] == 1434).sum()) == 8


def test_port_sources_against_pandas_and_post(t, pdf):
    ps = explore.port_sources(t, proto="tcp", top=10)
    tcp = pdf[pdf["proto"] == "TCP"].assign(day=pdf["time"].dt.date)
    uniq = tcp[["day", "host", "src", "dpt"]].drop_duplicates()
    vc = uniq["dpt"].value_counts().reset_index()
    vc.columns = ["dpt", "n"]
    top = vc.sort_values(["n", "dpt"], ascending=[False, True])["dpt"].astype(int).head(10)
    assert ps.attrs["ports"] == top.tolist()
    assert ps.attrs["ports"] == [1433, 3389, 445, 22, 3306, 8080, 80, 23, 135, 443]
    per_host = uniq.groupby(["dpt", "day", "host"]).size()
    avg = per_host.groupby(level=["dpt", "day"]).mean()
    for port in (1433, 135, 443):
        mine = ps[ps["port"] == port]["value"].to_numpy()
        np.testing.assert_allclose(mine, avg.loc[port].to_numpy(), rtol=1e-12)
    by_port = ps.groupby("port")["value"]
    # the post: "38 hosts scanning port 1433 and 13 hosts scanning for port 3389";
    # 1433 "spike[s] up over 60 ... and yet dip down under 20"
    assert 33 < by_port.mean()[1433] < 39 and 12 < by_port.mean()[3389] < 14
    assert by_port.max()[1433] > 60 and by_port.min()[1433] < 20
    with pytest.raises(ValueError):
        explore.port_sources(t, proto="all")


def test_expressions_are_ibis(t):
    for e in (explore.daily_expr(t, unique=True, ma=7), explore.ports_expr(t),
              explore.port_sources_expr(t), explore.count_expr(t, ["proto"]),
              explore.summary_expr(t, ["host", "dpt", "src", "time"])):
        assert isinstance(e, ibis.Table)
        assert "SELECT" in ibis.to_sql(e, dialect="duckdb")


def test_hostile_host_names_are_escaped_in_text():
    evil = "evil\x1b[31m\u202e"
    tiny = _tiny([{"time": _ts(3), "host": evil, "src": "1.1.1.1", "proto": "TCP", "dpt": 22}])
    text = console.daily_text(explore.daily(tiny)) + console.summary_text(explore.summary(tiny))
    assert "\x1b" not in text and "\u202e" not in text
    assert "evil\\x1b[31m\\u202e" in text
