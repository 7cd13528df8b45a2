"""The posts' charts build as plotnine objects with the grammar of the R originals and save."""

from __future__ import annotations

import pandas as pd
import pytest
from plotnine import ggplot

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


def test_daily_chart_grammar():
    p = charts.daily_chart(_daily(), scales="free", title="T")
    assert isinstance(p, ggplot)
    assert p.facet.__class__.__name__ == "facet_wrap" and p.facet.free == {"x": True, "y": True}
    assert p.labels.title == "T" and p.labels.y == "packets"
    geom = p.layers[0].geom
    assert geom.__class__.__name__ == "geom_col" and geom.params["width"] == 1.0
    assert p.theme.themeables["legend_position"].properties["value"] == "none"
    fixed = charts.daily_chart(_daily(), scales="fixed")
    assert fixed.facet.free == {"x": False, "y": False}
    with pytest.raises(ValueError):
        charts.daily_chart(_daily(), scales="sideways")


def test_port_charts_grammar():
    box = charts.port_box_chart(_ports())
    assert box.layers[0].geom.aes_params["fill"] == "lightsteelblue"
    assert list(box.data["port"].cat.categories) == ["1433", "22", "80"]
    trend = charts.port_trend_chart(_ports(), method="lowess")
    kinds = [layer.geom.__class__.__name__ for layer in trend.layers]
    assert kinds == ["geom_jitter", "geom_smooth"]
    assert trend.layers[0].geom.aes_params["color"] == "magenta"
    assert trend.facet._ncol == 2 and trend.facet.free == {"x": True, "y": True}


def test_save_png_and_svg_and_hostile_labels(tmp_path):
    d = _daily(hosts=("$\\alpha$ evil\x1b[2J",), days=5)
    png = charts.save(charts.daily_chart(d), tmp_path / "d.png", size=(4, 3), dpi=50)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
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
