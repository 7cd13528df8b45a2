"""The posts' charts, drawn with matplotlib directly: faceted daily bars, port box plot, trends.

:func:`daily_chart` takes :func:`honeyscope.analyse.explore.daily`'s frame and returns a
:class:`FacetBars`: Part 1's ``ggplot(d, aes(day, count, fill = host)) + geom_bar(stat =
"identity") + facet_wrap(~host, scales = "free") + theme_bw()`` drawn with matplotlib alone (one
panel per sensor in ggplot2's wrap layout, ggplot2's hue palette, theme_bw's grey strips and
grid, free or shared scales). It lays itself out at the size it is drawn at (no tight-bbox pass)
and imports neither plotnine nor pyplot: measured with ``benchmarks/bench_part1.py``, a fraction
of the time plotnine took for the same chart. :func:`port_box_chart` (:class:`PortBox`) and
:func:`port_trend_chart` (:class:`PortTrend`: loess from scikit-misc, as plotnine's
``geom_smooth`` computed it) are drawn the same way, and so are the report's other charts:
:class:`Series` (lines or points over days with a legend), :class:`LogBars` (bars on a log10
scale) and :class:`Tiles` (a heat map with a colour bar). :func:`save` writes these, or a
plotnine ``ggplot`` (the CLI's ports chart), as PNG or SVG; :func:`png_bytes` encodes them.

Labels that come from log lines (sensor names) are made printable with
:func:`honeyscope.render.escape.chart_label` (``$`` escaped: no matplotlib mathtext) so a host
name cannot inject markup into a facet strip.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from honeyscope.render.escape import chart_label

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.figure import Figure

#: Fewer days than this in a port's series: no smoothed trend (loess needs points to fit).
MIN_TREND_DAYS = 10

#: Figure size (inches) and resolution of saved charts.
SIZE = (10.0, 6.5)
DPI = 100

_label = chart_label

# theme_bw's colours as plotnine has them: panel and strip borders, ticks, tick labels, strips, grid
_BORDER, _TICKS, _TICK_TEXT = "#7F7F7F", "#333333", "#4D4D4D"
_STRIP, _GRID, _STRIP_TEXT = "#CCCCCC", "#E5E5E5", "#1A1A1A"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# text sizes (points) as the plotnine theme had them: title 13 bold, strips 9, tick labels 8
_TITLE, _AXIS_TITLE, _STRIP_SIZE, _TICK = 13, 11, 9, 8
_PT = 1 / 72  # inches per point
_DIGIT = 0.64  # DejaVu Sans' digit advance, in ems


def hue_palette(n: int) -> list[str]:
    """ggplot2's default discrete colours, ``scales::hue_pal()(n)``: ``n`` hues evenly spaced from
    15° in HCL at chroma 100 and luminance 65, converted as R's ``hcl()`` does (CIE-LUV, D65 white,
    sRGB gamma, out-of-gamut channels clipped)."""
    if n <= 0:
        return []
    h = np.radians((15 + np.arange(n) * 360 / n) % 360)
    c, lum = 100.0, 65.0
    xn, yn, zn = 95.047, 100.000, 108.883
    un, vn = 4 * xn / (xn + 15 * yn + 3 * zn), 9 * yn / (xn + 15 * yn + 3 * zn)
    u, v = c * np.cos(h), c * np.sin(h)
    y = yn * ((lum + 16) / 116) ** 3 if lum > 7.999592 else yn * lum / 903.3
    up, vp = u / (13 * lum) + un, v / (13 * lum) + vn
    x = 9.0 * y * up / (4 * vp)
    z = -x / 3 - 5 * y + 3 * y / vp
    rgb = np.array([[3.240479, -1.537150, -0.498535],
                    [-0.969256, 1.875992, 0.041556],
                    [0.055648, -0.204043, 1.057311]]) @ np.vstack([x, np.full(n, y), z]) / yn
    rgb = np.where(rgb > 0.00304, 1.055 * np.abs(rgb) ** (1 / 2.4) - 0.055, 12.92 * rgb)
    rgb = np.rint(255 * np.clip(rgb, 0, 1)).astype(int)
    return ["#" + "".join(f"{int(ch):02X}" for ch in col) for col in rgb.T]


def wrap_dims(n: int) -> tuple[int, int]:
    """``(rows, columns)`` of ``facet_wrap`` for ``n`` panels (ggplot2's ``wrap_dims``, which is R's
    ``n2mfrow`` transposed): 1–3 in a row, up to 6 in 2 rows, up to 12 in 3 columns, then square."""
    if n <= 3:
        return 1, max(n, 1)
    if n <= 6:
        return 2, (n + 1) // 2
    if n <= 12:
        return (n + 2) // 3, 3
    rows = math.ceil(math.sqrt(n))
    return math.ceil(n / rows), rows


_Q = (1, 5, 2, 2.5, 4, 3)
_W = (0.25, 0.2, 0.5, 0.05)


def _breaks(lo: float, hi: float, m: int = 5, within: tuple[float, float] | None = None) -> np.ndarray:
    """ggplot2's breaks for a continuous range: Talbot, Lin and Hanrahan's "extended" labelling
    (R's ``labeling::extended``, mizani's ``breaks_extended``; nice steps 1, 5, 2, 2.5, 4, 3,
    about ``m`` breaks), those within ``within`` (the scale's expanded limits; default
    ``[lo, hi]``)."""
    if not hi > lo:
        return np.array([lo])
    span, n, eps = hi - lo, len(_Q), 1e-10
    best, best_score = (lo, hi, hi - lo), -2.0
    j = 1
    while j < 50:
        for i, q in enumerate(_Q, 1):
            sm = 2 - (i - 1) / (n - 1) - j
            if _W[0] * sm + _W[1] + _W[2] + _W[3] < best_score:
                j = 50
                break
            k = 2
            while k < 50:
                dm = 2 - (k - 1) / (m - 1) if k >= m else 1.0
                if _W[0] * sm + _W[1] + _W[2] * dm + _W[3] < best_score:
                    break
                z = math.ceil(math.log10(span / (k + 1) / j / q))
                while z < 50:
                    step = j * q * 10.0**z
                    cover = step * (k - 1)
                    cm = 1 - 0.5 * ((cover - span) / 2) ** 2 * 2 / (0.1 * span) ** 2 if cover > span else 1.0
                    if _W[0] * sm + _W[1] * cm + _W[2] * dm + _W[3] < best_score:
                        break
                    for start in range(math.floor(hi / step) * j - (k - 1) * j, math.ceil(lo / step) * j + 1):
                        lmin = start * (step / j)
                        lmax = lmin + step * (k - 1)
                        zero = (lmin % step < eps or step - lmin % step < eps) and lmin <= 0 <= lmax
                        s = 1 - (i - 1) / (n - 1) - j + zero
                        c = 1 - 0.5 * ((hi - lmax) ** 2 + (lo - lmin) ** 2) / (0.1 * span) ** 2
                        r, rt = (k - 1) / (lmax - lmin), (m - 1) / (max(lmax, hi) - min(lo, lmin))
                        g = 2 - max(r / rt, rt / r)
                        score = _W[0] * s + _W[1] * c + _W[2] * g + _W[3]
                        if score > best_score:
                            best, best_score = (lmin, lmax, step), score
                    z += 1
                k += 1
        j += 1
    lmin, lmax, step = best
    b = np.arange(round((lmax - lmin) / step) + 1) * step + lmin
    lo, hi = within or (lo, hi)
    return b[(b >= lo - 1e-9 * span) & (b <= hi + 1e-9 * span)]


def _number_labels(values: np.ndarray) -> list[str]:
    """Plain numbers, one number of decimals for all (``0``, ``2500``; ``0.0``, ``2.5``)."""
    decimals = 0
    while decimals < 6 and np.any(np.abs(values * 10**decimals - np.rint(values * 10**decimals)) > 1e-6):
        decimals += 1
    return [f"{v:.{decimals}f}" for v in values + 0.0]  # + 0.0: no "-0"


def _day_breaks(lo: float, hi: float, span: float) -> tuple[np.ndarray, list[str]]:
    """Date breaks (days since 1970) within ``[lo, hi]`` and their labels, by the whole chart's
    ``span`` in days as the plotnine chart had them: months (``%b``) over 120 days, weeks from a
    Monday (``%d %b``) over 28, else every 1, 2, 3 or 7 days."""
    first, last = math.ceil(lo), math.floor(hi)
    if span > 120:
        months = np.arange(np.datetime64(int(first), "D").astype("datetime64[M]"),
                           np.datetime64(int(last), "D").astype("datetime64[M]") + 1)
        days = months.astype("datetime64[D]").astype(np.int64)
        keep = (days >= lo) & (days <= hi)
        return days[keep].astype(float), [_MONTHS[int(m) % 12] for m in months.astype(np.int64)[keep]]
    if span > 28:
        days = np.arange(first + (4 - first) % 7, last + 1, 7)  # 1970-01-05 was a Monday
    else:
        step = next(s for s in (1, 2, 3, 7, 14) if (last - first) / s <= 6)
        days = np.arange(first, last + 1, step)
    dates = days.astype("datetime64[D]")
    dom = (dates - dates.astype("datetime64[M]")).astype(np.int64) + 1
    month = dates.astype("datetime64[M]").astype(np.int64) % 12
    return days.astype(float), [f"{d:02d} {_MONTHS[m]}" for d, m in zip(dom, month, strict=True)]


def _expand(r: tuple[float, float], mult: float = 0.0, add: float = 0.0) -> tuple[float, float]:
    """A scale's range widened as ggplot2's ``expand``: ``mult`` of the range and ``add`` units."""
    pad = mult * (r[1] - r[0]) + add
    return r[0] - pad, r[1] + pad


def _span(values: list[np.ndarray], lo0: float | None = None, hi0: float | None = None,
          half: float = 0.0) -> tuple[float, float]:
    """The range of ``values`` (± ``half``), reaching ``lo0``/``hi0`` when given (bars from 0)."""
    v = [a[np.isfinite(a)] for a in (np.asarray(x, dtype=float) for x in values)]
    v = [a for a in v if len(a)]  # missing values are left out, as ggplot2 removes them
    if not v:
        return (0.0, 1.0)
    lo = min(float(np.nanmin(a)) for a in v) - half
    hi = max(float(np.nanmax(a)) for a in v) + half
    lo = min(lo, lo0) if lo0 is not None else lo
    hi = max(hi, hi0) if hi0 is not None else hi
    return (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)


def _grid_figure(size: tuple[float, float], dpi: float, *, labels: list[str] | None, cols: int,
                 xranges: list[tuple[float, float]], ydata: list[tuple[float, float]],
                 free_x: bool, free_y: bool, xbreaks, draw, title: str, xlab: str,
                 ylab: str, ybreaks=None, xrotation: float = 0.0, grid: bool = True,
                 legend: _Legend | None = None,
                 ylimits: tuple[float, float] | None = None) -> Figure:
    """A figure of panels in ggplot2's theme_bw look, laid out at ``size`` by hand.

    ``labels``: a strip above each panel (facets), or None for one panel without strip;
    ``xranges``: each panel's x limits (expanded); ``ydata``: each panel's y range, expanded 5 %
    (ggplot2's default) for its limits and broken as ggplot2 does; ``xbreaks(lo, hi)``: the x
    breaks and labels within x limits; ``draw(i, fx, fy, fig)``: adds panel ``i``'s geometry, ``fx``
    and ``fy`` mapping data to figure coordinates. Everything is drawn in figure coordinates with
    a few collections and texts, without Axes: matplotlib's Axes and Tick objects cost more than
    the picture itself. ``ybreaks(lo, hi)``: the y breaks and labels within y limits, instead of
    ggplot2's numeric ones (a log or discrete scale); ``xrotation``: the x labels turned by this
    many degrees (read from their right end, as ``element_text(rotation=45, ha="right")``);
    ``grid``: the panel's grid lines at the breaks (none under a heat map's tiles); ``legend``:
    a guide at the right of the panels (:class:`_Legend`); ``ylimits``: the y limits of every
    panel as they are (a discrete scale), instead of ``ydata`` expanded.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.figure import Figure

    width, height = size
    fig = Figure(figsize=size, dpi=dpi, facecolor="white")
    FigureCanvasAgg(fig)
    n = len(xranges)
    rows = max(1, math.ceil(n / cols))
    yranges = [ylimits or _expand(r, 0.05) for r in ydata]
    yticks = []
    for (lo, hi), limits in zip(ydata, yranges, strict=True):  # the data's breaks within the limits
        if ybreaks is not None:
            yticks.append(ybreaks(*limits))
            continue
        b = _breaks(lo, hi, within=limits)
        yticks.append((b, _number_labels(b)))

    tick_len, tick_pad = 2.75 * _PT, 2.2 * _PT
    label_w = max([len(s) for _, labs in yticks for s in labs] + [1]) * _DIGIT * _TICK * _PT
    ytick_w = label_w + tick_len + tick_pad
    xtick_h = _TICK * 1.2 * _PT + tick_len + tick_pad
    if xrotation:  # the longest label, turned: its height grows with its length
        xlabels = [s for i in range(len(xranges)) for s in xbreaks(*xranges[i])[1]]
        longest = max([len(s) for s in xlabels] + [1]) * _DIGIT * _TICK * _PT
        xtick_h += longest * math.sin(math.radians(xrotation))
    strip_h = _STRIP_SIZE * 2.0 * _PT if labels is not None else 0.0
    edge, gap = 0.1, 0.08
    left = edge + _AXIS_TITLE * 1.3 * _PT + ytick_w
    right = edge + 0.1 + (legend.width() if legend is not None else 0.0)
    top = edge + _TITLE * 1.4 * _PT
    bottom = edge + _AXIS_TITLE * 1.3 * _PT + xtick_h
    hgap = gap + (ytick_w if free_y else 0)
    vgap = gap + (xtick_h if free_x else 0)
    pw = max((width - left - right - (cols - 1) * hgap) / cols, 0.1)
    ph = max((height - top - bottom - rows * strip_h - (rows - 1) * vgap) / rows, 0.1)

    grid_on = grid
    grid, marks, frames, strips = [], [], [], []
    texts: list[tuple[float, float, str, dict[str, Any]]] = []
    tick_text = {"size": _TICK, "color": _TICK_TEXT}
    for i in range(n):
        r, c = divmod(i, cols)
        x0 = left + c * (pw + hgap)
        y0 = height - top - strip_h - r * (strip_h + ph + vgap) - ph
        (xlo, xhi), (ylo, yhi) = xranges[i], yranges[i]

        def fx(v, x0=x0, xlo=xlo, xhi=xhi):
            return (x0 + (np.asarray(v, dtype=float) - xlo) / (xhi - xlo) * pw) / width

        def fy(v, y0=y0, ylo=ylo, yhi=yhi):
            return (y0 + (np.asarray(v, dtype=float) - ylo) / (yhi - ylo) * ph) / height

        a, b, t, u = x0 / width, (x0 + pw) / width, y0 / height, (y0 + ph) / height
        frames.append([(a, t), (b, t), (b, u), (a, u)])
        if labels is not None:
            s_top = (y0 + ph + strip_h) / height
            strips.append([(a, u), (b, u), (b, s_top), (a, s_top)])
            texts.append(((a + b) / 2, (u + s_top) / 2, labels[i],
                          {"ha": "center", "va": "center", "size": _STRIP_SIZE, "color": _STRIP_TEXT}))
        draw(i, fx, fy, fig)
        ticks, labs = yticks[i]
        for ty, lab in zip(fy(ticks), labs, strict=True):
            if grid_on:
                grid.append([(a, ty), (b, ty)])
            if free_y or c == 0:
                marks.append([(a - tick_len / width, ty), (a, ty)])
                texts.append((a - (tick_len + tick_pad) / width, ty, lab,
                              {"ha": "right", "va": "center_baseline", **tick_text}))
        xt, xl = xbreaks(xlo, xhi)
        below = i + cols >= n  # no panel under this one: its x axis is labelled
        for tx, lab in zip(fx(xt), xl, strict=True):
            if grid_on:
                grid.append([(tx, t), (tx, u)])
            if free_x or below:
                marks.append([(tx, t - tick_len / height), (tx, t)])
                texts.append((tx, t - (tick_len + tick_pad) / height, lab,
                              {"ha": "right", "va": "top", "rotation": xrotation,
                               "rotation_mode": "anchor", **tick_text} if xrotation else
                              {"ha": "center", "va": "top", **tick_text}))
    on_fig = {"transform": fig.transFigure}
    fig.add_artist(LineCollection(grid, colors=_GRID, linewidths=1.0, zorder=1, **on_fig))
    fig.add_artist(PolyCollection(frames, facecolors="none", edgecolors=_BORDER, linewidths=1.0,
                                  zorder=3, **on_fig))
    if strips:
        fig.add_artist(PolyCollection(strips, facecolors=_STRIP, edgecolors=_BORDER, linewidths=1.0,
                                      zorder=3, **on_fig))
    fig.add_artist(LineCollection(marks, colors=_TICKS, linewidths=0.8, zorder=3, **on_fig))
    panels_w = cols * pw + (cols - 1) * hgap
    panels_h = height - top - bottom
    texts += [
        ((left + panels_w / 2) / width, 1 - edge / height, title,
         {"ha": "center", "va": "top", "size": _TITLE, "weight": "bold"}),
        ((left + panels_w / 2) / width, edge / height, xlab,
         {"ha": "center", "va": "bottom", "size": _AXIS_TITLE}),
        (edge / width, (bottom + panels_h / 2) / height, ylab,
         {"ha": "left", "va": "center", "rotation": 90, "size": _AXIS_TITLE}),
    ]
    if legend is not None:  # at the right of the panels, centred on them (ggplot2's guide)
        legend.draw(fig, (width - edge - legend.width()) / width, (bottom + panels_h / 2) / height,
                    width, height)
    for tx, ty, s, kw in texts:
        fig.text(tx, ty, s, zorder=4, **kw)
    return fig


# legend text sizes as plotnine's theme_bw has them (points): title 11, labels 8.8; keys 17.28
_LEGEND_TITLE, _LEGEND_TEXT, _KEY = 11, 8.8, 17.28
_EM = 0.6  # a letter's mean advance in DejaVu Sans, in ems


@dataclass
class _Legend:
    """ggplot2's guide at the right of the panels: a ``title`` and one key per ``entries`` item
    (``(label, colour)``) drawn as ``kind`` (``line``, ``point`` or ``fill``); or, with
    ``gradient`` (low, high colours) and ``breaks`` (positions 0-1 and labels), a colour bar."""

    title: str
    entries: list[tuple[str, str]] = field(default_factory=list)
    kind: str = "line"
    linewidth: float = 1.0
    alpha: float = 1.0
    gradient: tuple[str, str] | None = None
    breaks: list[tuple[float, str]] = field(default_factory=list)

    def width(self) -> float:
        labels = [e[0] for e in self.entries] + [b[1] for b in self.breaks]
        text = max([len(s) for s in labels] + [1]) * _EM * _LEGEND_TEXT * _PT
        title = max(len(s) for s in (self.title or " ").split("\n")) * _EM * _LEGEND_TITLE * _PT
        return 0.15 + max(_KEY * _PT + 0.08 + text, title) + 0.1

    def draw(self, fig: Figure, x0: float, yc: float, width: float, height: float) -> None:
        from matplotlib.collections import LineCollection, PolyCollection
        from matplotlib.lines import Line2D

        on_fig = {"transform": fig.transFigure, "zorder": 4}
        key_w, key_h = _KEY * _PT / width, _KEY * _PT / height
        x = x0 + 0.15 / width
        title_h = (self.title.count("\n") + 1) * _LEGEND_TITLE * 1.2 * _PT / height
        body_h = 5 * key_h if self.gradient else len(self.entries) * key_h
        top = yc + (title_h + 0.08 / height + body_h) / 2
        if self.title:
            fig.text(x, top, self.title, ha="left", va="top", size=_LEGEND_TITLE, zorder=4)
        y1 = top - title_h - 0.08 / height  # top of the keys
        if self.gradient:
            from matplotlib.colors import LinearSegmentedColormap

            cmap = LinearSegmentedColormap.from_list("legend", list(self.gradient))
            steps = 40
            cells = [[(x, y1 - body_h * (k + 1) / steps), (x + key_w, y1 - body_h * (k + 1) / steps),
                      (x + key_w, y1 - body_h * k / steps), (x, y1 - body_h * k / steps)]
                     for k in range(steps)]
            fig.add_artist(PolyCollection(cells, facecolors=[cmap(1 - (k + 0.5) / steps)
                                                             for k in range(steps)],
                                          edgecolors="none", **on_fig))
            ticks = []
            for pos, lab in self.breaks:
                ty = y1 - body_h + pos * body_h
                ticks += [[(x, ty), (x + key_w / 5, ty)], [(x + key_w * 4 / 5, ty), (x + key_w, ty)]]
                fig.text(x + key_w + 0.08 / width, ty, lab, ha="left", va="center",
                         size=_LEGEND_TEXT, color=_TICK_TEXT, zorder=4)
            fig.add_artist(LineCollection(ticks, colors="white", linewidths=0.8, **on_fig))
            return
        for k, (label, colour) in enumerate(self.entries):
            kx, ky = x + key_w / 2, y1 - (k + 0.5) * key_h
            if self.kind == "line":
                fig.add_artist(Line2D([x + key_w * 0.1, x + key_w * 0.9], [ky, ky], color=colour,
                                      linewidth=self.linewidth, alpha=self.alpha, **on_fig))
            elif self.kind == "point":
                fig.add_artist(Line2D([kx], [ky], linestyle="none", marker="o", color=colour,
                                      markersize=self.linewidth, markeredgewidth=0, alpha=self.alpha,
                                      **on_fig))
            else:
                fig.add_artist(PolyCollection([[(x, ky - key_h / 2), (x + key_w, ky - key_h / 2),
                                                (x + key_w, ky + key_h / 2), (x, ky + key_h / 2)]],
                                              facecolors=colour, edgecolors="none", **on_fig))
            fig.text(x + key_w + 0.08 / width, ky, label, ha="left", va="center",
                     size=_LEGEND_TEXT, color=_TICK_TEXT, zorder=4)


#: zlib level of the PNGs (PIL's default). Dropping the alpha channel of an opaque chart is what
#: makes the encoding cheaper: measured on the report's charts at 192 dpi, RGB took 0.13-0.16 s
#: where RGBA took 0.17-0.36 s, for 10 % fewer bytes; lower levels were no faster on RGB and
#: 20-40 % larger.
PNG_LEVEL = 6


def png_bytes(fig: Figure) -> bytes:
    """``fig`` (on an Agg canvas) drawn at its own size and resolution, as PNG bytes: RGB when
    every pixel is opaque (the charts' white background: the same pixels as RGBA, a quarter
    fewer bytes to compress), else RGBA; no text chunk (the same bytes each run)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    rgba = canvas.buffer_rgba()
    w, h = canvas.get_width_height(physical=True)
    image = Image.frombuffer("RGBA", (w, h), rgba, "raw", "RGBA", 0, 1)
    if image.getextrema()[3] == (255, 255):  # PIL's own passes: 4-5x faster than numpy's copies
        image = image.convert("RGB")
    dpi = round(fig.dpi)
    buf = io.BytesIO()
    image.save(buf, format="png", compress_level=PNG_LEVEL, dpi=(dpi, dpi))
    return buf.getvalue()


class _Chart:
    """A chart drawn when :meth:`figure` (or :meth:`render`, :func:`save`) is called, at the size
    asked for; in a notebook it shows itself (``_repr_png_``)."""

    def figure(self, size: tuple[float, float] = SIZE, dpi: float = DPI) -> Figure:  # pragma: no cover
        raise NotImplementedError

    def render(self, fmt: str = "png", size: tuple[float, float] = SIZE, dpi: float = DPI) -> bytes:
        """The chart as PNG or SVG bytes (no timestamp or software stamp: the same bytes each run)."""
        fig = self.figure(size, dpi)
        if fmt == "png":
            return png_bytes(fig)
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=dpi, metadata={"Date": None, "Creator": None})
        return buf.getvalue()

    def save(self, path: str | Path, size: tuple[float, float] = SIZE, dpi: int = DPI) -> Path:
        """Write the chart to ``path`` (PNG or SVG by its suffix); see :func:`save`."""
        return save(self, path, size=size, dpi=dpi)

    def _repr_png_(self) -> bytes:
        return self.render("png")


def _date_breaks(span: float):
    return lambda lo, hi: _day_breaks(lo, hi, span)


@dataclass
class FacetBars(_Chart):
    """Part 1's faceted bars. ``panels``: ``(label, x, y)`` per panel in panel order, ``x`` in
    days since 1970 (bar centres, width one day); ``free_x``/``free_y``: each panel its own x/y
    scale (else one shared)."""

    panels: list[tuple[str, np.ndarray, np.ndarray]]
    free_x: bool
    free_y: bool
    title: str
    xlab: str
    ylab: str
    colours: list[str]

    @property
    def labels(self) -> list[str]:
        return [p[0] for p in self.panels]

    def figure(self, size: tuple[float, float] = SIZE, dpi: float = DPI) -> Figure:
        """The chart as a matplotlib ``Figure`` (Agg canvas, no pyplot) of ``size`` inches."""
        from matplotlib.collections import PolyCollection

        xs, ys = [p[1] for p in self.panels], [p[2] for p in self.panels]
        all_x = _span(xs)
        # bars reach half a day each side and start at 0; x expands 1 %, y 5 % (the old theme's)
        xr = [_expand(_span([x] if self.free_x and len(x) else xs, half=0.5), 0.01) for x in xs]
        yr = [_span([y] if self.free_y and len(y) else ys, 0.0, 0.0) for y in ys]

        def draw(i, fx, fy, fig):
            _, x, y = self.panels[i]
            if len(x):  # width-1 bars from 0 as one polygon: the same pixels, one path
                e = np.column_stack([x - 0.5, x + 0.5]).ravel()
                h = np.repeat(y, 2)
                verts = np.column_stack([fx(np.concatenate([e[:1], e, e[-1:]])),
                                         fy(np.concatenate([[0.0], h, [0.0]]))])
                fig.add_artist(PolyCollection([verts], facecolors=self.colours[i % len(self.colours)],
                                              edgecolors="none", linewidths=0, zorder=2,
                                              transform=fig.transFigure))

        return _grid_figure(size, dpi, labels=self.labels, cols=wrap_dims(len(self.panels))[1],
                            xranges=xr, ydata=yr, free_x=self.free_x, free_y=self.free_y,
                            xbreaks=_date_breaks(all_x[1] - all_x[0] - 1), draw=draw,
                            title=self.title, xlab=self.xlab, ylab=self.ylab)


@dataclass
class PortBox(_Chart):
    """Part 2's box plot: one box per port (in rank order), ggplot2's statistics (type-7
    quartiles, whiskers to the furthest value within 1.5 IQR, the values beyond as points)."""

    ports: list[str]
    values: list[np.ndarray]
    title: str
    xlab: str
    ylab: str
    fill: str = "lightsteelblue"

    def stats(self) -> list[tuple[float, float, float, float, float, np.ndarray]]:
        """Per port: lower whisker, Q1, median, Q3, upper whisker, outliers."""
        out = []
        for v in self.values:
            if not len(v):
                out.append((np.nan,) * 5 + (np.array([]),))
                continue
            q1, med, q3 = np.quantile(v, [0.25, 0.5, 0.75])
            iqr = q3 - q1
            inside = v[(v >= q1 - 1.5 * iqr) & (v <= q3 + 1.5 * iqr)]
            out.append((float(inside.min()), q1, med, q3, float(inside.max()),
                        v[(v < q1 - 1.5 * iqr) | (v > q3 + 1.5 * iqr)]))
        return out

    def figure(self, size: tuple[float, float] = SIZE, dpi: float = DPI) -> Figure:
        from matplotlib.collections import LineCollection, PolyCollection
        from matplotlib.lines import Line2D

        stats = self.stats()
        k = len(self.ports)
        yr = _span(self.values)
        xr = _expand((1.0, float(max(k, 1))), 0, 0.6)  # a discrete scale: 0.6 of a step each side

        def draw(i, fx, fy, fig):
            boxes, lines, out_x, out_y = [], [], [], []
            for j, (lo, q1, med, q3, hi, outl) in enumerate(stats, 1):
                if np.isnan(med):
                    continue
                a, b = fx(j - 0.45), fx(j + 0.45)
                boxes.append([(a, fy(q1)), (b, fy(q1)), (b, fy(q3)), (a, fy(q3))])
                lines += [[(fx(j), fy(q3)), (fx(j), fy(hi))], [(fx(j), fy(q1)), (fx(j), fy(lo))]]
                lines.append([(a, fy(med)), (b, fy(med))])
                out_x += [fx(j)] * len(outl)
                out_y += list(fy(outl))
            on_fig = {"transform": fig.transFigure, "zorder": 2}
            fig.add_artist(LineCollection(lines, colors="#333333", linewidths=1.0, **on_fig))
            fig.add_artist(PolyCollection(boxes, facecolors=self.fill, edgecolors="#333333",
                                          linewidths=1.0, **on_fig))
            fig.add_artist(LineCollection(lines[2::3], colors="#333333", linewidths=2.0,
                                          transform=fig.transFigure, zorder=2.5))  # medians
            if out_x:
                fig.add_artist(Line2D(out_x, out_y, linestyle="none", marker="o", markersize=3.5,
                                      color="#333333", alpha=0.7, markeredgewidth=0, **on_fig))

        def xbreaks(lo, hi):
            return np.arange(1, k + 1, dtype=float), list(self.ports)

        return _grid_figure(size, dpi, labels=None, cols=1, xranges=[xr], ydata=[yr],
                            free_x=True, free_y=True, xbreaks=xbreaks, draw=draw,
                            title=self.title, xlab=self.xlab, ylab=self.ylab)


@dataclass
class PortTrend(_Chart):
    """Part 2's faceted series: a panel per port (2 columns, free scales), the daily values as
    jittered magenta points and, where a series has :data:`MIN_TREND_DAYS`, a loess trend (span
    0.75, degree 2, as ggplot2's ``geom_smooth(method = "loess")``) with its band."""

    panels: list[tuple[str, np.ndarray, np.ndarray]]
    title: str
    xlab: str
    ylab: str
    level: float = 0.99
    method: str = "loess"
    seed: int = 1

    def trend(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...] | None:
        """80 points of the smoothed trend over ``x``'s range: ``x, fit, low, high``."""
        if len(x) < MIN_TREND_DAYS:
            return None
        grid = np.linspace(x.min(), x.max(), 80)
        if self.method == "loess":
            from skmisc.loess import loess

            lo = loess(x, y, span=0.75)
            lo.fit()
            pred = lo.predict(grid, stderror=True)
            ci = pred.confidence(alpha=1 - self.level)
            return grid, np.asarray(pred.values), np.asarray(ci.lower), np.asarray(ci.upper)
        from statsmodels.nonparametric.smoothers_lowess import lowess

        fit = lowess(y, x, frac=2 / 3, return_sorted=True)
        values = np.interp(grid, fit[:, 0], fit[:, 1])
        return grid, values, values, values

    def figure(self, size: tuple[float, float] = SIZE, dpi: float = DPI) -> Figure:
        from matplotlib.collections import PolyCollection
        from matplotlib.lines import Line2D

        rng = np.random.default_rng(self.seed)
        jitter = [x + rng.uniform(-0.3, 0.3, len(x)) for _, x, _ in self.panels]
        trends = [self.trend(x, y) for _, x, y in self.panels]
        xs = [p[1] for p in self.panels]
        all_x = _span(xs)
        xr = [_expand(_span([x]), 0.01) for x in xs]
        yr = [_span([y] + ([t[2], t[3]] if t else []))
              for (_, _, y), t in zip(self.panels, trends, strict=True)]

        def draw(i, fx, fy, fig):
            on_fig = {"transform": fig.transFigure}
            t = trends[i]
            if t is not None:
                gx, fit, low, high = t
                band = np.column_stack([fx(np.concatenate([gx, gx[::-1]])),
                                        fy(np.concatenate([low, high[::-1]]))])
                fig.add_artist(PolyCollection([band], facecolors="#999999", alpha=0.4,
                                              edgecolors="none", zorder=2.2, **on_fig))
                fig.add_artist(Line2D(fx(gx), fy(fit), color="#3366FF", linewidth=1.6, zorder=2.4,
                                      **on_fig))
            fig.add_artist(Line2D(fx(jitter[i]), fy(self.panels[i][2]), linestyle="none", marker="o",
                                  markersize=3.2, markeredgewidth=0, color="magenta", alpha=0.5,
                                  zorder=2.3, **on_fig))

        return _grid_figure(size, dpi, labels=[p[0] for p in self.panels], cols=2, xranges=xr,
                            ydata=yr, free_x=True, free_y=True,
                            xbreaks=_date_breaks(all_x[1] - all_x[0]), draw=draw,
                            title=self.title, xlab=self.xlab, ylab=self.ylab)


#: ggplot2's line width and point size unit: one ``size`` is a millimetre, in points
_MM = 72.27 / 25.4


def _days(values: Any) -> np.ndarray:
    """Dates or times as (fractional) days since 1970, the x of the charts over time."""
    import pandas as pd

    t = pd.to_datetime(pd.Series(values))
    if getattr(t.dt, "tz", None) is not None:
        t = t.dt.tz_convert("UTC").dt.tz_localize(None)
    return t.to_numpy("datetime64[us]").astype(np.int64) / 86_400e6


@dataclass
class Series(_Chart):
    """One panel of coloured series over days, as ``ggplot(d, aes(day, value, colour = key)) +
    geom_line()`` (or ``geom_point``) ``+ theme_bw()``: ``series`` ``(label, x, y)`` in legend
    order, ``x`` in days since 1970; a legend of the colours at the right; ``vline``: a dashed
    vertical line at that day; ``ylim``/``ybreaks``: fixed y limits and breaks
    (``scale_y_continuous(limits=..., breaks=...)``; values must lie within the limits)."""

    series: list[tuple[str, np.ndarray, np.ndarray]]
    colours: list[str]
    title: str
    xlab: str
    ylab: str
    legend: str = ""
    points: bool = False
    size: float = 0.5  # ggplot2's size: line width or point size, in mm
    alpha: float = 1.0
    vline: float | None = None
    ylim: tuple[float, float] | None = None
    ybreaks: list[float] | None = None

    def figure(self, size: tuple[float, float] = SIZE, dpi: float = DPI) -> Figure:
        from matplotlib.collections import LineCollection
        from matplotlib.lines import Line2D

        xs, ys = [x for _, x, _ in self.series], [y for _, _, y in self.series]
        x_all = _span(xs + ([np.array([self.vline])] if self.vline is not None else []))
        xr = _expand(x_all, 0.05)
        yr = self.ylim if self.ylim is not None else _span(ys)
        width = self.size * _MM

        def draw(i, fx, fy, fig):
            on_fig = {"transform": fig.transFigure}
            for k, (_, x, y) in enumerate(self.series):
                colour = self.colours[k % len(self.colours)]
                if self.points:
                    fig.add_artist(Line2D(fx(x), fy(y), linestyle="none", marker="o", color=colour,
                                          markersize=width * 1.5, markeredgewidth=0, alpha=self.alpha,
                                          zorder=2, **on_fig))
                elif len(x):
                    fig.add_artist(Line2D(fx(x), fy(y), color=colour, linewidth=width, alpha=self.alpha,
                                          solid_joinstyle="round", zorder=2, **on_fig))
            if self.vline is not None:
                lo, hi = _expand(yr, 0.05)  # across the panel
                fig.add_artist(LineCollection([[(fx(self.vline), fy(lo)), (fx(self.vline), fy(hi))]],
                                              colors="black", linewidths=0.5 * _MM, linestyles=(0, (4, 4)),
                                              zorder=2.5, **on_fig))

        ybreaks = None
        if self.ybreaks is not None:
            b = np.asarray(self.ybreaks, dtype=float)
            ybreaks = lambda lo, hi: (b[(b >= lo) & (b <= hi)], _number_labels(b[(b >= lo) & (b <= hi)]))  # noqa: E731
        legend = _Legend(self.legend, [(lab, self.colours[k % len(self.colours)])
                                       for k, (lab, _, _) in enumerate(self.series)],
                         kind="point" if self.points else "line",
                         linewidth=width * (1.5 if self.points else 1), alpha=self.alpha)
        return _grid_figure(size, dpi, labels=None, cols=1, xranges=[xr], ydata=[yr], free_x=True,
                            free_y=True, xbreaks=_date_breaks(x_all[1] - x_all[0]), draw=draw,
                            title=self.title, xlab=self.xlab, ylab=self.ylab, ybreaks=ybreaks,
                            legend=legend)


@dataclass
class LogBars(_Chart):
    """Bars of ``values`` per category ``levels`` on a log10 y scale, as ``geom_col(fill=...) +
    scale_y_log10()``: bars rise from the bottom of the panel (log 0 is minus infinity), the y
    range is that of the bars' tops, breaks at powers of ten."""

    levels: list[str]
    values: np.ndarray
    title: str
    xlab: str
    ylab: str
    fill: str = "#4477aa"

    def figure(self, size: tuple[float, float] = SIZE, dpi: float = DPI) -> Figure:
        from matplotlib.collections import PolyCollection

        v = np.asarray(self.values, dtype=float)
        logs = np.log10(v[v > 0]) if (v > 0).any() else np.array([0.0])
        yr = _span([logs])
        k = len(self.levels)
        xr = _expand((1.0, float(max(k, 1))), 0, 0.6)

        def draw(i, fx, fy, fig):
            lo = _expand(yr, 0.05)[0]
            bars = [[(fx(j - 0.45), fy(lo)), (fx(j + 0.45), fy(lo)), (fx(j + 0.45), fy(top)),
                     (fx(j - 0.45), fy(top))]
                    for j, top in enumerate(np.log10(np.where(v > 0, v, np.nan)), 1) if top == top]
            fig.add_artist(PolyCollection(bars, facecolors=self.fill, edgecolors="none", zorder=2,
                                          transform=fig.transFigure))

        return _grid_figure(size, dpi, labels=None, cols=1, xranges=[xr], ydata=[yr], free_x=True,
                            free_y=True, xbreaks=lambda lo, hi: (np.arange(1, k + 1, dtype=float),
                                                                 list(self.levels)),
                            draw=draw, title=self.title, xlab=self.xlab, ylab=self.ylab,
                            ybreaks=_log_breaks)


def _log_breaks(lo: float, hi: float) -> tuple[np.ndarray, list[str]]:
    """Breaks of a log10 scale within ``[lo, hi]`` (log10 units), labelled with their values:
    powers of ten; 1, 2 and 5 times them where fewer than two powers fall within."""
    for steps in ((1,), (1, 2, 5), (1, 2, 3, 4, 5, 6, 7, 8, 9)):
        values = np.array([m * 10.0**e for e in range(math.floor(lo) - 1, math.ceil(hi) + 1)
                           for m in steps])
        at = np.log10(values)
        keep = (at >= lo - 1e-9) & (at <= hi + 1e-9)
        if keep.sum() >= 2:
            break
    return at[keep], _number_labels(values[keep])


@dataclass
class Tiles(_Chart):
    """A heat map, as ``geom_tile(colour="white") + scale_fill_gradient(low, high)``: ``values``
    (rows: ``ylevels`` from the bottom, columns: ``xlevels``; NaN: no tile), a colour bar at the
    right, the x labels turned 45 degrees."""

    xlevels: list[str]
    ylevels: list[str]
    values: np.ndarray
    title: str
    xlab: str
    ylab: str
    legend: str = ""
    low: str = "#f4f7fb"
    high: str = "#17324f"

    def figure(self, size: tuple[float, float] = SIZE, dpi: float = DPI) -> Figure:
        from matplotlib.collections import PolyCollection
        from matplotlib.colors import LinearSegmentedColormap

        v = np.asarray(self.values, dtype=float)
        nx, ny = len(self.xlevels), len(self.ylevels)
        vlo, vhi = (float(np.nanmin(v)), float(np.nanmax(v))) if np.isfinite(v).any() else (0.0, 1.0)
        cmap = LinearSegmentedColormap.from_list("fill", [self.low, self.high])
        xr, yr = _expand((1.0, float(max(nx, 1))), 0, 0.6), (1.0, float(max(ny, 1)))

        def draw(i, fx, fy, fig):
            cells, colours = [], []
            for r in range(ny):
                for c in range(nx):
                    if v[r, c] == v[r, c]:
                        a, b = fx(c + 0.5), fx(c + 1.5)
                        lo, hi = fy(r + 0.5), fy(r + 1.5)
                        cells.append([(a, lo), (b, lo), (b, hi), (a, hi)])
                        colours.append(cmap((v[r, c] - vlo) / (vhi - vlo) if vhi > vlo else 0.5))
            fig.add_artist(PolyCollection(cells, facecolors=colours, edgecolors="white", linewidths=0.1 * _MM,
                                          zorder=2, transform=fig.transFigure))

        ticks = _breaks(vlo, vhi) if vhi > vlo else np.array([vlo])
        labels = _number_labels(ticks)
        pos = [((t - vlo) / (vhi - vlo) if vhi > vlo else 0.5, lab)
               for t, lab in zip(ticks, labels, strict=True)]
        legend = _Legend(self.legend, gradient=(self.low, self.high), breaks=pos)
        # a discrete y scale: the tiles' edges (0.5 beyond the first and last level) plus 0.1
        ylim = _expand(yr, 0, 0.6)
        return _grid_figure(size, dpi, labels=None, cols=1, xranges=[xr], ydata=[yr],
                            free_x=True, free_y=True,
                            xbreaks=lambda lo, hi: (np.arange(1, nx + 1, dtype=float), list(self.xlevels)),
                            draw=draw, title=self.title, xlab=self.xlab, ylab=self.ylab,
                            ybreaks=lambda lo, hi: (np.arange(1, ny + 1, dtype=float), list(self.ylevels)),
                            xrotation=45, legend=legend, ylimits=ylim)


def _theme(ncol_labels: bool = False):
    """plotnine's theme_bw as the charts use it (no legend, small strips and tick labels)."""
    from plotnine import element_blank, element_text, theme, theme_bw

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


def _facet_labels(df: pd.DataFrame, column: str) -> pd.DataFrame:
    out = df.copy()
    out[column] = out[column].map(_label)
    return out


def daily_chart(
    df: pd.DataFrame,
    scales: str = "free",
    title: str = "Packets per day",
    ylab: str = "packets",
) -> FacetBars:
    """Part 1's bars: one panel per sensor (``facet_wrap(~host)``), width-1 bars, a colour each.

    ``df`` is :func:`honeyscope.analyse.explore.daily`'s frame (``day, host, value``; without
    ``host`` a single panel). ``scales``: ``free`` (each panel its own x and y), ``fixed``,
    ``free_x`` or ``free_y``.
    Panels are in the sorted order of the (escaped) sensor names, as ``facet_wrap`` orders them.
    """
    days, hosts, values = daily_arrays(df)
    return facet_bars(days, hosts, values, scales=scales, title=title, ylab=ylab)


def daily_arrays(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """:func:`honeyscope.analyse.explore.daily`'s frame as plain arrays (what :func:`facet_bars`
    draws, and what a process without pandas can be sent): days since 1970, the sensor names as
    they are (None without ``host``), the values as floats."""
    import pandas as pd

    days = pd.to_datetime(df["day"]).to_numpy("datetime64[D]").astype(np.int64)
    hosts = df["host"].to_numpy(dtype=object) if "host" in df.columns else None
    return days, hosts, df["value"].to_numpy(dtype=float)


def facet_bars(days: np.ndarray, hosts: np.ndarray | None, values: np.ndarray, *,
               scales: str = "free", title: str = "Packets per day",
               ylab: str = "packets") -> FacetBars:
    """:func:`daily_chart` from plain arrays (:func:`daily_arrays`): ``days`` since 1970, the
    sensor of each value (None: one panel, all sensors), ``values`` (NaN: no bar)."""
    if scales not in ("free", "fixed", "free_y", "free_x"):
        raise ValueError("scales must be free or fixed")
    days = np.asarray(days).astype(float)
    values = np.asarray(values, dtype=float)
    hosts = (np.array([_label(h) for h in hosts], dtype=object) if hosts is not None
             else np.full(len(values), "all sensors", dtype=object))
    keep = ~np.isnan(values)
    days, hosts, values = days[keep], hosts[keep], values[keep]
    names, code = np.unique(hosts.astype(str), return_inverse=True) if len(hosts) else (
        np.array(["all sensors"]), np.zeros(0, dtype=int))
    order = np.lexsort((days, code))
    bounds = np.searchsorted(code[order], np.arange(len(names) + 1))
    panels = [(str(name), days[order][bounds[k]:bounds[k + 1]], values[order][bounds[k]:bounds[k + 1]])
              for k, name in enumerate(names)]
    return FacetBars(panels, free_x=scales in ("free", "free_x"), free_y=scales in ("free", "free_y"),
                     title=title, xlab="day (UTC)", ylab=ylab,
                     colours=hue_palette(len(panels)))


def _port_levels(df: pd.DataFrame) -> pd.Categorical:
    """``df``'s ports as ordered categories: the rank order of ``df.attrs['ports']`` when given
    (:func:`honeyscope.analyse.explore.port_sources`), else the order of appearance."""
    import pandas as pd

    order = [str(p) for p in (df.attrs.get("ports") or list(dict.fromkeys(df["port"])))]
    return pd.Categorical(df["port"].astype(str), categories=order, ordered=True)


def port_box_chart(
    df: pd.DataFrame,
    title: str = "Average distinct sources per sensor per day, top TCP ports",
    xlab: str = "TCP Destination Port",
    ylab: str = "Average Unique Source Addresses per day",
) -> PortBox:
    """Part 2's box plot of :func:`honeyscope.analyse.explore.port_sources` (fill lightsteelblue),
    ports in rank order."""
    levels = _port_levels(df)
    values = df["value"].to_numpy(dtype=float)
    codes = np.asarray(levels.codes)
    ports = [str(p) for p in levels.categories]
    return PortBox(ports, [values[(codes == k) & ~np.isnan(values)] for k in range(len(ports))],
                   title=title, xlab=xlab, ylab=ylab)


def port_trend_chart(
    df: pd.DataFrame,
    title: str = "Average distinct sources per sensor per day, by port, with loess trend",
    xlab: str = "day (UTC)",
    ylab: str = "Average Unique Source Addresses per day",
    method: str | None = None,
) -> PortTrend:
    """Part 2's faceted series: one panel per port (2 columns, free scales), daily points jittered
    in magenta (alpha 0.5) and a smoothed trend with its 99% band. ``method``: ``loess`` (R's,
    needs scikit-misc) or ``lowess`` (statsmodels); default loess when available."""
    import pandas as pd

    if method is None:
        try:
            import skmisc.loess  # noqa: F401

            method = "loess"
        except ImportError:  # pragma: no cover - depends on the installation
            method = "lowess"
    levels = _port_levels(df)
    codes = np.asarray(levels.codes)
    days = pd.to_datetime(df["day"]).to_numpy("datetime64[D]").astype(np.int64).astype(float)
    values = df["value"].to_numpy(dtype=float)
    panels = []
    for k, port in enumerate(levels.categories):
        sel = (codes == k) & ~np.isnan(values)
        order = np.argsort(days[sel], kind="stable")
        panels.append((chart_label(port), days[sel][order], values[sel][order]))
    return PortTrend(panels, title=title, xlab=xlab, ylab=ylab, method=method)


def save(plot: Any, path: str | Path, size: tuple[float, float] = SIZE, dpi: int = DPI) -> Path:
    """Write ``plot`` (a chart of this module or a plotnine ``ggplot``) to ``path``; the format
    follows the suffix (``.png`` or ``.svg``)."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg"):
        raise ValueError(f"plots are written as .png or .svg, not {path.suffix or 'no suffix'}")
    if isinstance(plot, _Chart):
        data = plot.render(fmt, size, dpi)  # drawn before the file is opened: no half-written file
        with open(path, "wb") as f:
            f.write(data)
    else:
        plot.save(path, format=fmt, width=size[0], height=size[1], dpi=dpi, verbose=False)
    return path


def ports_chart(df: pd.DataFrame, proto: str = "tcp") -> Any:
    """The top ports as horizontal bars: :func:`honeyscope.analyse.explore.ports`'s frame
    (``port, count``; with ``proto`` a ``PROTO/port`` label; with ``host`` one panel per sensor);
    a plotnine plot."""
    import pandas as pd
    from plotnine import aes, coord_flip, facet_wrap, geom_col, ggplot, labs

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
