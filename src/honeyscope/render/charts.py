"""The posts' charts with plotnine (ggplot2's grammar): faceted daily bars, port box plot, trends.

Every function takes the DataFrame of the matching analysis in :mod:`honeyscope.analyse.explore`
and returns a plotnine ``ggplot``; :func:`save` writes it as PNG or SVG. Labels that come from log
lines (sensor names) are made printable with :func:`honeyscope.render.escape.plain_terminal` and
their ``$`` escaped (no matplotlib mathtext) so a host name cannot inject markup into a facet strip.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from plotnine import (
    aes,
    element_blank,
    element_text,
    facet_wrap,
    geom_boxplot,
    geom_col,
    geom_jitter,
    geom_smooth,
    ggplot,
    labs,
    scale_x_date,
    scale_y_continuous,
    theme,
    theme_bw,
)

from honeyscope.render.escape import chart_label

# Speed notes (measured with benchmarks/bench_part1.py): the charts are built with ``+=`` (plotnine's
# ``+`` deep-copies the whole plot and theme at every step) and without minor breaks (the theme
# hides minor grid lines anyway, but matplotlib still builds a tick object for each: same pixels,
# less work).

#: Fewer days than this in a port's series: no smoothed trend (loess needs points to fit).
MIN_TREND_DAYS = 10

#: Figure size (inches) and resolution of saved charts.
SIZE = (10.0, 6.5)
DPI = 100


_label = chart_label


def _facet_labels(df: pd.DataFrame, column: str) -> pd.DataFrame:
    out = df.copy()
    out[column] = out[column].map(_label)
    return out


def _date_axis(days: pd.Series):
    span = (days.max() - days.min()).days if len(days) else 0
    kw = {"expand": (0.01, 0), "minor_breaks": None}
    if span > 120:
        return scale_x_date(date_breaks="1 month", date_labels="%b", **kw)
    if span > 28:
        return scale_x_date(date_breaks="1 week", date_labels="%d %b", **kw)
    return scale_x_date(date_labels="%d %b", **kw)


def _y_axis():
    """The y scale without minor breaks (their grid lines are blank in :func:`_theme`)."""
    return scale_y_continuous(minor_breaks=None)


def _theme(ncol_labels: bool = False):
    t = theme_bw()
    t += theme(
        legend_position="none",
        plot_title=element_text(size=13, weight="bold"),
        strip_text=element_text(size=9),
        axis_text=element_text(size=8),
        panel_grid_minor=element_blank(),
    )
    if ncol_labels:
        t += theme(axis_text_x=element_text(rotation=0))
    return t


def daily_chart(
    df: pd.DataFrame,
    scales: str = "free",
    title: str = "Packets per day",
    ylab: str = "packets",
) -> ggplot:
    """Part 1's bars: one panel per sensor (``facet_wrap(~host)``), width-1 bars, a colour each.

    ``df`` is :func:`honeyscope.analyse.explore.daily`'s frame (``day, host, value``; without
    ``host`` a single panel). ``scales``: ``free`` (each panel its own y) or ``fixed``.
    """
    if scales not in ("free", "fixed", "free_y", "free_x"):
        raise ValueError("scales must be free or fixed")
    d = df.copy()
    d["day"] = pd.to_datetime(d["day"])
    if "host" not in d.columns:
        d["host"] = "all sensors"
    d = _facet_labels(d, "host")
    p = ggplot(d, aes("day", "value", fill="host"))
    p += [
        geom_col(width=1.0, size=0, position="identity"),  # no stacking: one bar per x
        facet_wrap("~host", scales=scales),
        _date_axis(d["day"]),
        _y_axis(),
        labs(title=title, x="day (UTC)", y=ylab),
        _theme(),
    ]
    return p


def _port_levels(df: pd.DataFrame) -> pd.Categorical:
    """``df``'s ports as ordered categories: the rank order of ``df.attrs['ports']`` when given
    (:func:`honeyscope.analyse.explore.port_sources`), else the order of appearance."""
    order = [str(p) for p in (df.attrs.get("ports") or list(dict.fromkeys(df["port"])))]
    return pd.Categorical(df["port"].astype(str), categories=order, ordered=True)


def port_box_chart(
    df: pd.DataFrame,
    title: str = "Average distinct sources per sensor per day, top TCP ports",
    xlab: str = "TCP Destination Port",
    ylab: str = "Average Unique Source Addresses per day",
) -> ggplot:
    """Part 2's box plot of :func:`honeyscope.analyse.explore.port_sources` (fill lightsteelblue),
    ports in rank order."""
    d = df.copy()
    d["port"] = _port_levels(df)
    p = ggplot(d, aes("port", "value"))
    p += [
        geom_boxplot(fill="lightsteelblue", outlier_size=1.2, outlier_alpha=0.7),
        _y_axis(),
        labs(title=title, x=xlab, y=ylab),
        _theme(),
    ]
    return p


def port_trend_chart(
    df: pd.DataFrame,
    title: str = "Average distinct sources per sensor per day, by port, with loess trend",
    xlab: str = "day (UTC)",
    ylab: str = "Average Unique Source Addresses per day",
    method: str | None = None,
) -> ggplot:
    """Part 2's faceted series: one panel per port (2 columns, free scales), daily points jittered
    in magenta (alpha 0.5) and a smoothed trend with its 99% band. ``method``: ``loess`` (R's,
    needs scikit-misc) or ``lowess`` (statsmodels); default loess when available."""
    if method is None:
        try:
            import skmisc.loess  # noqa: F401

            method = "loess"
        except ImportError:  # pragma: no cover - depends on the installation
            method = "lowess"
    d = df.copy()
    d["day"] = pd.to_datetime(d["day"])
    d["port"] = _port_levels(df)
    # a trend needs days: loess fails on a handful of points, so short series get none
    smooth = d[d.groupby("port", observed=True)["day"].transform("count") >= MIN_TREND_DAYS]
    p = ggplot(d, aes("day", "value"))
    p += [
        facet_wrap("~port", ncol=2, scales="free"),
        geom_jitter(size=1, alpha=0.5, color="magenta", width=0.3, height=0, random_state=1),
    ]
    if len(smooth):
        p += geom_smooth(aes(group=1), data=smooth, method=method, level=0.99, se=True,
                         color="#3366FF", fill="#999999", size=0.9)
    p += [
        _date_axis(d["day"]),
        _y_axis(),
        labs(title=title, x=xlab, y=ylab),
        _theme(),
    ]
    return p


def save(plot: ggplot, path: str | Path, size: tuple[float, float] = SIZE, dpi: int = DPI) -> Path:
    """Write ``plot`` to ``path``; the format follows the suffix (``.png`` or ``.svg``)."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg"):
        raise ValueError(f"plots are written as .png or .svg, not {path.suffix or 'no suffix'}")
    plot.save(path, format=fmt, width=size[0], height=size[1], dpi=dpi, verbose=False)
    return path


def ports_chart(df: pd.DataFrame, proto: str = "tcp") -> ggplot:
    """The top ports as horizontal bars: :func:`honeyscope.analyse.explore.ports`'s frame
    (``port, count``; with ``proto`` a ``PROTO/port`` label; with ``host`` one panel per sensor)."""
    from plotnine import coord_flip

    d = df.copy()
    key = "host" if "host" in d.columns else None
    d["label"] = d["port"].astype(str)
    if "proto" in d.columns:
        d["label"] = d["proto"].astype(str) + "/" + d["label"]
    order = list(dict.fromkeys(d["label"]))[::-1]
    d["label"] = pd.Categorical(d["label"], categories=order, ordered=True)
    if key:
        d["host"] = d["host"].map(_label)
    p = (
        ggplot(d, aes("label", "count"))
        + geom_col(fill="steelblue", position="identity")
        + coord_flip()
        + labs(title=f"Top destination ports ({proto.upper()})", x="port", y="packets")
        + _theme()
    )
    if key:
        p += facet_wrap("~host", scales="free")
    return p
