"""The posts' charts: Part 1's faceted bars (matplotlib) with the look of the R originals, the
port charts, the report's line, log-bar and heat-map charts, saved as PNG/SVG."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from honeyscope.render import charts


def _daily(hosts=("a", "b"), days=20) -> pd.DataFrame:
    day = pd.date_range("2013-03-03", periods=days, freq="D")
    return pd.concat(
        [pd.DataFrame({"day": day, "host": h, "value": range(i, i + days)})
         for i, h in enumerate(hosts)], ignore_index=True)


def _ports(days=40) -> pd.DataFrame:
    day = pd.date_range("2013-03-03", periods=days, freq="D")
    df = pd.concat([pd.DataFrame({"port": p, "day": day, "value": [p % 7 + i % 5 for i in
                                                                    range(days)]})
                    for p in (1433, 22, 80)], ignore_index=True)
    df.attrs["ports"] = [1433, 22, 80]
    return df


def _texts(fig) -> list[str]:
    return [t.get_text() for t in fig.texts]


def test_daily_chart_facets_bars_and_labels():
    """One panel per sensor (facet_wrap(~host), free scales), width-1 bars, title and axis titles,
    no legend."""
    p = charts.daily_chart(_daily(), scales="free", title="T", ylab="Y axis")
    assert p.labels == ["a", "b"] and p.free_x and p.free_y
    # sensor b's bars: 20 days from 2013-03-03 (15767 days after 1970-01-01), values 1..20
    label, x, y = p.panels[1]
    assert label == "b" and x.tolist() == [15767.0 + i for i in range(20)]
    assert y.tolist() == [float(v) for v in range(1, 21)]
    fig = p.figure(size=(6, 4), dpi=50)
    texts = _texts(fig)
    assert {"T", "Y axis", "day (UTC)", "a", "b"} <= set(texts)  # the titles asked for; UTC days
    assert fig.legends == []
    bars = [c for c in fig.artists if c.__class__.__name__ == "PolyCollection" and c.get_zorder() == 2]
    xa, xb = (c.get_paths()[0].vertices[:, 0] for c in bars)  # one outline of bars a panel
    assert xb.min() > xa.max()  # two panels side by side (1 row x 2 columns)
    # width-1 bars side by side: 20 bars have 21 equally spaced edges
    edges = np.unique(np.round(xb, 9))
    assert len(edges) == 21 and np.allclose(np.diff(edges), np.diff(edges)[0])
    # free scales: each panel its own y ticks (both labelled); fixed: only the first column
    assert texts.count("0") == 2 and "20" in texts
    fixed = charts.daily_chart(_daily(), scales="fixed")
    assert not fixed.free_x and not fixed.free_y
    assert _texts(fixed.figure()).count("0") == 1
    with pytest.raises(ValueError):
        charts.daily_chart(_daily(), scales="sideways")


def test_daily_chart_panel_order_and_hue_palette():
    """Panels in facet_wrap's order (sorted names) and ggplot2's hue palette; expected colours
    from R: ``scales::hue_pal()(9)`` and ``(2)``."""
    assert charts.hue_palette(9) == ["#F8766D", "#D39200", "#93AA00", "#00BA38", "#00C19F",
                                     "#00B9E3", "#619CFF", "#DB72FB", "#FF61C3"]
    assert charts.hue_palette(2) == ["#F8766D", "#00BFC4"]
    p = charts.daily_chart(_daily(hosts=("zeta", "alpha", "mid")))
    assert p.labels == ["alpha", "mid", "zeta"] and p.colours == charts.hue_palette(3)
    assert charts.daily_chart(_daily().drop(columns="host")).labels == ["all sensors"]


def test_wrap_layout_and_breaks_as_ggplot2():
    """facet_wrap's grid (ggplot2's wrap_dims: R's n2mfrow transposed) and the y breaks of
    labeling::extended (values printed by R 4.2's labeling::extended(0, hi, 5), cut at hi)."""
    assert [charts.wrap_dims(n) for n in (1, 2, 3, 4, 5, 7, 9, 10, 13)] == [
        (1, 1), (1, 2), (1, 3), (2, 2), (2, 3), (3, 3), (3, 3), (4, 3), (4, 4)]
    r = {530: [0, 100, 200, 300, 400, 500], 1250: [0, 250, 500, 750, 1000, 1250],
         980: [0, 250, 500, 750], 11600: [0, 3000, 6000, 9000], 1210: [0, 300, 600, 900, 1200],
         1: [0, 0.25, 0.5, 0.75, 1], 7.3: [0, 2, 4, 6], 0.004: [0, 0.001, 0.002, 0.003, 0.004]}
    for hi, want in r.items():
        assert np.allclose(charts._breaks(0, hi), want), hi


def test_port_charts_boxes_and_trends():
    """The box plot: ports in rank order, fill lightsteelblue, R's boxplot statistics; the trend
    chart: a panel per port in rank order, magenta points and a smoothed line (2 columns)."""
    box = charts.port_box_chart(_ports())
    assert box.ports == ["1433", "22", "80"]
    # the post's geom_boxplot(fill = "lightsteelblue"): three boxes drawn in that colour
    from matplotlib.colors import to_rgba

    drawn = [c for c in box.figure(size=(6, 4), dpi=50).artists
             if c.__class__.__name__ == "PolyCollection" and len(c.get_facecolor())]  # filled
    assert len(drawn) == 1 and len(drawn[0].get_paths()) == 3
    assert [tuple(c) for c in drawn[0].get_facecolor()] == [to_rgba("lightsteelblue")]
    # port 1433: 1433 % 7 = 5, values 5 + i % 5 for 40 days = 5..9 eight times each; R's
    # quantile(rep(5:9, each = 8)) is 5 6 7 8 9, no value beyond 1.5 IQR
    lo, q1, med, q3, hi, out = box.stats()[0]
    assert (lo, q1, med, q3, hi) == (5, 6, 7, 8, 9) and len(out) == 0
    trend = charts.port_trend_chart(_ports(), method="lowess")
    assert [p[0] for p in trend.panels] == ["1433", "22", "80"]
    fig = trend.figure(size=(6, 5), dpi=50)
    lines = [a for a in fig.artists if a.__class__.__name__ == "Line2D"]
    assert sum(a.get_color() == "magenta" and a.get_alpha() == 0.5 for a in lines) == 3
    assert sum(a.get_color() == "#3366FF" for a in lines) == 3  # 40 days: a trend each
    pts = [a for a in lines if a.get_color() == "magenta"]
    xs = [float(np.min(a.get_xdata())) for a in pts]
    assert xs[0] + 0.3 < xs[1] and abs(xs[2] - xs[0]) < 0.01  # two columns: 1433, 22 / 80
    short = charts.port_trend_chart(_ports(days=charts.MIN_TREND_DAYS - 1), method="lowess")
    assert all(short.trend(x, y) is None for _, x, y in short.panels)


def test_save_png_and_svg_and_hostile_labels(tmp_path):
    d = _daily(hosts=("$\\alpha$ evil\x1b[2J",), days=5)
    chart = charts.daily_chart(d)
    png = charts.save(chart, tmp_path / "d.png", size=(4, 3), dpi=50)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert chart.labels == ["\\$\\alpha\\$ evil\\x1b[2J"]  # no mathtext, ESC shown as text
    svg_bars = charts.save(chart, tmp_path / "d.svg", size=(4, 3)).read_text()
    assert "<svg" in svg_bars and "\x1b" not in svg_bars
    svg = charts.save(charts.port_box_chart(_ports(10)), tmp_path / "b.svg", size=(4, 3))
    text = svg.read_text()
    assert "<svg" in text and "\x1b" not in text
    with pytest.raises(ValueError):
        charts.save(charts.daily_chart(_daily()), tmp_path / "x.jpg")


@pytest.mark.slow
def test_trend_chart_with_loess_renders(tmp_path):
    out = charts.save(charts.port_trend_chart(_ports(60), method="loess"), tmp_path / "t.png",
                      size=(5, 4), dpi=50)
    assert out.stat().st_size > 1000


def test_png_is_matplotlibs_picture_without_alpha():
    """The report's PNGs: the very pixels matplotlib's own PNG writer gives for the same figure,
    stored as RGB (the charts are opaque: an alpha channel only costs encoding time)."""
    import io

    from PIL import Image

    chart = charts.daily_chart(_daily())
    png = chart.render("png", (5, 3), 60)
    ref = io.BytesIO()
    chart.figure((5, 3), 60).savefig(ref, format="png", dpi=60)
    ours, theirs = Image.open(io.BytesIO(png)), Image.open(ref)
    assert ours.mode == "RGB" and ours.size == theirs.size == (300, 180)
    assert np.array_equal(np.asarray(ours.convert("RGBA")), np.asarray(theirs.convert("RGBA")))
    assert b"tEXt" not in png and b"Software" not in png  # the same bytes every run


def _artists(fig, kind: str) -> list:
    return [a for a in fig.artists if a.__class__.__name__ == kind]


def test_series_chart_lines_points_legend_and_vline():
    """The report's line charts (geom_line, colour = key): a line per series in its colour, a
    legend naming them; as points (geom_point) with a dashed line at the split day."""
    x = charts._days(pd.date_range("2013-03-03", periods=5, freq="D"))
    assert x.tolist() == [15767.0, 15768.0, 15769.0, 15770.0, 15771.0]  # days since 1970-01-01
    s = charts.Series([("a", x, np.arange(5.0)), ("b", x, np.arange(5.0) * 2)], ["#F8766D", "#00BFC4"],
                      "T", "day", "n", legend="sensor", ylim=(0, 24), ybreaks=[0, 6, 12, 18, 24])
    fig = s.figure((6, 4), 50)
    lines = _artists(fig, "Line2D")
    assert [ln.get_color() for ln in lines[:2]] == ["#F8766D", "#00BFC4"]
    assert np.allclose(np.diff(lines[1].get_ydata()) / np.diff(lines[0].get_ydata()), 2)  # b = 2a
    texts = _texts(fig)
    assert {"T", "day", "n", "sensor", "a", "b"} <= set(texts)
    assert [t for t in texts if t.isdigit()][:5] == ["0", "6", "12", "18", "24"]  # the fixed breaks
    p = charts.Series([("after", x[3:], np.ones(2)), ("before", x[:3], np.ones(3))], ["#e7298a", "#1f78b4"],
                      "P", "day", "v", points=True, vline=x[3])
    fig = p.figure((6, 4), 50)
    pts = [ln for ln in _artists(fig, "Line2D") if ln.get_linestyle() == "None"]
    assert [len(ln.get_xdata()) for ln in pts[:2]] == [2, 3]
    (dash,) = [c for c in _artists(fig, "LineCollection") if c.get_linestyle()[0][1] is not None]
    seg = dash.get_segments()[0]
    assert seg[0][0] == seg[1][0] == pytest.approx(pts[0].get_xdata()[0])  # at the first day after


def test_log_bars_and_heat_map():
    """sources per k on scale_y_log10 (breaks at powers of ten; bars rise from the panel's
    bottom) and the sensor x port tiles (the lowest share in the low colour, the highest in the
    high one, no tile where a sensor never saw the port)."""
    at, labels = charts._log_breaks(np.log10(20), np.log10(60000))
    assert labels == ["100", "1000", "10000"] and np.allclose(at, [2, 3, 4])
    assert charts._log_breaks(np.log10(50), np.log10(60))[1] == ["50", "60"]  # within one decade
    bars = charts.LogBars(["1", "2", "9"], np.array([60000.0, 20.0, 1500.0]), "B", "k", "sources")
    fig = bars.figure((6, 4), 50)
    (cols,) = [c for c in _artists(fig, "PolyCollection") if c.get_zorder() == 2]
    tops = [p.vertices[:, 1].max() for p in cols.get_paths()]
    bottoms = {round(p.vertices[:, 1].min(), 9) for p in cols.get_paths()}
    assert len(bottoms) == 1 and tops[0] > tops[2] > tops[1]
    # log scale: 60000/1500 is 40 times, 1500/20 is 75 times: heights above 20 in that ratio
    assert (tops[0] - tops[2]) / (tops[2] - tops[1]) == pytest.approx(np.log(40) / np.log(75))
    assert {"100", "1000", "10000"} <= set(_texts(fig))
    share = np.array([[0.1, np.nan], [0.5, 0.3]])
    tiles = charts.Tiles(["22", "80"], ["a", "b"], share, "H", "port", "sensor", legend="share")
    fig = tiles.figure((6, 3), 50)
    (cells,) = [c for c in _artists(fig, "PolyCollection") if c.get_zorder() == 2]
    colours = cells.get_facecolors()
    assert len(colours) == 3
    from matplotlib.colors import to_hex

    hexes = [to_hex(c) for c in colours]
    assert hexes[0] == "#f4f7fb" and hexes[1] == "#17324f"  # a/22 = 0.1 lowest, b/22 = 0.5 highest
    rotated = [t for t in fig.texts if t.get_text() in ("22", "80")]
    assert [t.get_rotation() for t in rotated] == [45, 45]


def test_series_without_values_draws_an_empty_panel():
    """A series whose values are all missing (ggplot2 drops them) gives a chart, not a warning."""
    import warnings

    x = charts._days(pd.date_range("2013-03-03", periods=3, freq="D"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        png = charts.Series([("a", x, np.full(3, np.nan))], ["#F8766D"], "T", "day", "n").render(
            "png", (4, 3), 40)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
