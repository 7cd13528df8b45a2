"""The Python API: any SOURCE (pandas, polars, Arrow, Ibis, a store), results as pandas or polars,
the selection as keywords named as on the CLI, a useful Store repr, inline display in a notebook."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

import honeyscope
from honeyscope.analyse import registry
from honeyscope.analyse.select import SelectionError

#: five packets: a and b twice, c once (hand-written; counts below are read off it)
FRAME = pd.DataFrame({
    "time": pd.to_datetime(["2013-03-01 10:00:00", "2013-03-01 11:00:00", "2013-03-02 10:00:00",
                            "2013-03-03 10:00:00", "2013-03-03 12:30:00"]).tz_localize("UTC"),
    "host": ["a", "a", "b", "b", "c"],
    "src": ["1.1.1.1", "1.1.1.2", "2001:db8::1", "2001:db8:1::5", "3.3.3.3"],
    "src_int": pd.array([16843009, 16843010, None, None, 50529027], dtype="UInt32"),
    "family": pd.array([4, 4, 6, 6, 4], dtype="UInt8"),
    "proto": ["TCP", "TCP", "UDP", "ICMPv6", "TCP"],
    "dpt": pd.array([22, 23, 53, None, 22], dtype="UInt16"),
})


def _by_host(df) -> dict[str, int]:
    if not isinstance(df, pd.DataFrame):
        df = df.to_pandas()
    return dict(zip(df["host"], df["count"], strict=True))


@pytest.mark.parametrize("kind", ["pandas", "polars", "arrow", "ibis"])
def test_any_source(kind):
    """A polars frame used to fail with `OSError: File name too long`."""
    import ibis
    import polars as pl

    source = {"pandas": lambda: FRAME, "polars": lambda: pl.from_pandas(FRAME),
              "arrow": lambda: pa.Table.from_pandas(FRAME, preserve_index=False),
              "ibis": lambda: ibis.memtable(FRAME)}[kind]()
    if kind == "ibis":  # an Ibis table is taken as the packet table itself: give it every column
        source = honeyscope.packets_of(FRAME)
    assert _by_host(honeyscope.count(source, "host")) == {"a": 2, "b": 2, "c": 1}


def test_results_as_polars_or_arrow():
    import polars as pl

    got = honeyscope.count(FRAME, by="host", to="polars")
    assert isinstance(got, pl.DataFrame) and _by_host(got) == {"a": 2, "b": 2, "c": 1}
    got = honeyscope.count(FRAME, by="host", to="arrow")
    assert isinstance(got, pa.Table) and got.num_rows == 3
    with pytest.raises(ValueError, match="polars"):
        honeyscope.count(FRAME, by="host", to="excel")


def test_selection_keywords_as_on_the_cli():
    assert _by_host(honeyscope.count(FRAME, by="host", sensors=["a", "b"], start="2013-03-02")) == {"b": 2}
    assert _by_host(honeyscope.count(FRAME, by="host", port=22)) == {"a": 1, "c": 1}
    assert _by_host(honeyscope.count(FRAME, by="host", proto="icmpv6")) == {"b": 1}
    assert _by_host(honeyscope.count(FRAME, by="host", end="2013-03-01T10:00:00Z")) == {"a": 1}
    # IPv6 blocks: 2001:db8::/48 holds 2001:db8::1 but not 2001:db8:1::5
    assert _by_host(honeyscope.count(FRAME, by="host", src="2001:db8::/48,3.3.3.0/24")) == {"b": 1, "c": 1}
    with pytest.raises(SelectionError, match="a, b, c"):
        honeyscope.count(FRAME, by="host", sensors="zz")
    with pytest.raises(ValueError, match="after"):
        honeyscope.daily(FRAME, start="2013-03-03", end="2013-03-01")


def test_names_match_the_cli():
    per_host = honeyscope.daily(FRAME, by="host")
    assert per_host[["host", "value"]].values.tolist() == [["a", 2], ["b", 1], ["b", 1], ["c", 1]]
    overall = honeyscope.daily(FRAME, by="none")
    assert "host" not in overall.columns and overall["value"].tolist() == [2, 1, 2]
    with pytest.raises(ValueError, match="host"):
        honeyscope.daily(FRAME, by="sensor")


def test_not_a_source():
    with pytest.raises(TypeError, match="SOURCE"):
        honeyscope.count(42, by="host")


def test_store_repr(tmp_path):
    f = tmp_path / "five.csv"
    f.write_text("datetime,host,src,proto,type,spt,dpt\n"
                 "2013-03-01 10:00:00,a,16843009,TCP,,1,22\n"
                 "2013-03-03 12:30:00,c,50529027,TCP,,1,22\n"
                 "2013-03-02 10:00:00,b,33686018,UDP,,1,53\n")
    honeyscope.ingest([str(f)], tmp_path / "s")
    store = honeyscope.open_store(tmp_path / "s")
    assert repr(store) == (f"Store({str(tmp_path / 's')!r}: 3 rows, 3 sensors, "
                           "2013-03-01T10:00:00Z to 2013-03-03T12:30:00Z)")


def test_inline_table_in_a_notebook():
    table = honeyscope.ports(FRAME, top=2)
    html = table._repr_html_()
    assert "<table" in html and "<td>22</td>" in html
    with pytest.raises(ValueError, match="no chart"):
        honeyscope.chart(honeyscope.count(FRAME, by="host"))


@pytest.mark.slow  # draws a PNG
def test_inline_chart_in_a_notebook():
    import base64

    chart = honeyscope.chart(honeyscope.daily(FRAME))
    if hasattr(chart, "_repr_mimebundle_"):  # what IPython's display asks first, then _repr_png_
        bundle = chart._repr_mimebundle_()
        png = (bundle[0] if isinstance(bundle, tuple) else bundle)["image/png"]
    else:
        png = chart._repr_png_()
    png = base64.b64decode(png) if isinstance(png, str) else png
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_help_shows_a_result():
    """help(honeyscope.daily) shows a call and its result: the first days of groucho-eu as Part 1
    of the posts counts them (6, 104 and 99 packets from 2013-03-03)."""
    import re

    shown = re.findall(r"groucho-eu (\d{4}-\d\d-\d\d) +(\d+)", honeyscope.daily.__doc__)
    assert shown[:3] == [("2013-03-03", "6"), ("2013-03-04", "104"), ("2013-03-05", "99")]


def test_defaults_per_sensor_and_pandas():
    """Without ``by`` and ``to``: one row per sensor and day (as the CLI's daily), as pandas."""
    got = honeyscope.daily(FRAME)
    assert isinstance(got, pd.DataFrame)
    assert got[["host", "value"]].values.tolist() == [["a", 2], ["b", 1], ["b", 1], ["c", 1]]
    assert isinstance(honeyscope.count(FRAME, "host"), pd.DataFrame)


@pytest.mark.slow  # every analysis once: ~8 s of Ibis compiling
@pytest.mark.parametrize("name", [a.name for a in registry.ANALYSES])
def test_every_analysis_gives_pandas_by_default(name):
    """README: results come back as pandas by default (``ip`` gives a card of pandas tables)."""
    need = {"count": {"by": "host"}, "source": {"ip": "1.1.1.1"}, "ip": {"addr": "1.1.1.1"}}
    got = getattr(honeyscope, name)(FRAME, **need.get(name, {}))
    if name == "ip":
        assert got.packets == 1 and isinstance(got.ports, pd.DataFrame)
    else:
        assert isinstance(got, pd.DataFrame), type(got)


def test_export_takes_the_selection(tmp_path):
    f = tmp_path / "three.csv"
    f.write_text("datetime,host,src,proto,type,spt,dpt\n"
                 "2013-03-01 10:00:00,a,16843009,TCP,,1,22\n"
                 "2013-03-03 12:30:00,c,50529027,TCP,,1,22\n"
                 "2013-03-02 10:00:00,b,33686018,UDP,,1,53\n")
    honeyscope.ingest([str(f)], tmp_path / "s")
    out = tmp_path / "x.csv"
    assert honeyscope.export(tmp_path / "s", "csv", out, port=22, end="2013-03-02") == 1
    assert pd.read_csv(out)["src"].tolist() == ["1.1.1.1"]
    with pytest.raises(SelectionError, match="a, b, c"):
        honeyscope.export(tmp_path / "s", "csv", out, sensors="d")
