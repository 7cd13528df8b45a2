"""Safe HTML building blocks for the report: every value is escaped on its way in.

A report section is a :class:`Section` whose ``body`` is made only with these helpers (or with
:func:`honeyscope.render.escape.html` around every interpolated value).
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd

from honeyscope.render.escape import html as esc
from honeyscope.render.escape import html_value


@dataclass
class Section:
    """One section of the report: an anchor id, a title, a safe HTML body, and key findings."""

    id: str
    title: str
    body: str
    findings: list[str] = field(default_factory=list)  # plain text, escaped when rendered
    #: where a finding's figure comes from: finding -> (anchor id, label); default the section
    refs: dict[str, tuple[str, str]] = field(default_factory=dict)


def fmt(value: Any, digits: int = 2) -> str:
    """A value as display text: thousands separators, a fixed number of decimals, NA for missing."""
    if value is None or value is pd.NA or value is pd.NaT or (
        isinstance(value, float) and math.isnan(value)
    ):
        return "NA"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, pd.Timestamp | datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S") if (
            value.hour or value.minute or value.second) else value.strftime("%Y-%m-%d")
    if isinstance(value, date):
        return value.isoformat()
    try:
        import numpy as np

        if isinstance(value, np.integer):
            return f"{int(value):,}"
        if isinstance(value, np.floating):
            return fmt(float(value), digits)
    except ImportError:  # pragma: no cover
        pass
    return str(value)


#: Numbers that are names (ports, ICMP types, AS numbers): shown without thousands separators.
CODE_COLUMNS = {"port", "spt", "dpt", "icmp_type", "icmp_code", "type", "code", "asn", "as", "year",
                "inner_spt", "inner_dpt", "family"}


def is_code(column: object) -> bool:
    name = str(column).lower()
    return name in CODE_COLUMNS or name.endswith(("port", "_port", "asn"))


def _code(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "NA"
    try:
        return str(int(value))
    except (TypeError, ValueError):
        return str(value)


def para(text: str) -> str:
    return f"<p>{esc(text)}</p>"


def bullets(items: Iterable[str]) -> str:
    return "<ul>" + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>"


def compact(value: Any, first: int = 3, sep: str = ">") -> str:
    """A long ``sep``-joined list (a sensor chain) as safe HTML: its first ``first`` items and
    "+N", the whole text on hover (``title``); short values as they are."""
    text = fmt(value)
    items = text.split(sep)
    if len(items) <= first:
        return esc(text)
    shown = sep.join(items[:first]) + f" +{len(items) - first}"
    return f'<span class="compact" title="{esc(text)}">{esc(shown)}</span>'


def clip(value: Any, width: int = 24) -> str:
    """Text longer than ``width`` cut with an ellipsis, as safe HTML, the whole on hover."""
    text = fmt(value)
    if len(text) <= width:
        return esc(text)
    return f'<span class="compact" title="{esc(text)}">{esc(text[:width - 1])}…</span>'


def link_list(targets: Iterable[str], prefix: str = "") -> str:
    """Anchors to ``#{prefix}{t}`` for each target, as safe HTML (``E1 E4``)."""
    return " ".join(f'<a href="#{esc(prefix + t)}">{esc(t)}</a>' for t in targets)


def table(
    df: pd.DataFrame,
    *,
    caption: str | None = None,
    max_rows: int = 50,
    digits: int = 2,
    index: bool = False,
    id: str | None = None,
    row_ids: Sequence[str] | None = None,
    html_cells: dict[str, Any] | None = None,
) -> str:
    """A pandas DataFrame as an escaped HTML table; numbers right-aligned with separators.

    ``id``: the table's anchor; ``row_ids``: an anchor per row; ``html_cells``: column -> a
    function of the value returning *safe* HTML (built with :func:`compact`, :func:`link_list`
    or :func:`esc`), for columns that show more than text."""
    if index:
        df = df.reset_index()
    shown = df.head(max_rows)
    head = "".join(f"<th>{esc(c)}</th>" for c in shown.columns)
    numeric = [pd.api.types.is_numeric_dtype(shown[c]) for c in shown.columns]
    codes = [is_code(c) for c in shown.columns]
    special = [(html_cells or {}).get(c) for c in shown.columns]
    rows = []
    for i, rec in enumerate(shown.itertuples(index=False)):
        cells = "".join(
            f"<td>{fn(v)}</td>" if fn is not None
            else f'<td class="num">{html_value(_code(v) if code else fmt(v, digits))}</td>'
            if num
            else f"<td>{html_value(fmt(v, digits))}</td>"
            for v, num, code, fn in zip(rec, numeric, codes, special, strict=True)
        )
        rid = f' id="{esc(row_ids[i])}"' if row_ids is not None and i < len(row_ids) else ""
        rows.append(f"<tr{rid}>{cells}</tr>")
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    more = (
        f'<p class="more">{esc(f"{len(df) - max_rows:,} more rows not shown")}</p>'
        if len(df) > max_rows
        else ""
    )
    tid = f' id="{esc(id)}"' if id else ""
    return (f'<div class="wide"><table{tid}>{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>{more}")


def key_values(pairs: Sequence[tuple[str, Any]]) -> str:
    """A two-column definition table."""
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{html_value(fmt(v))}</td></tr>" for k, v in pairs)
    return f'<table class="kv"><tbody>{rows}</tbody></table>'


def figure(plot: Any, *, title: str, width: float = 10, height: float = 6, dpi: int = 96) -> str:
    """A chart inline as a PNG data URI inside <img>: a :class:`honeyscope.render.charts.FacetBars`
    (or any object with its ``render(fmt, size, dpi)``), a plotnine plot or a matplotlib figure.

    Drawn at twice ``dpi`` (sharp on high-density screens) and shown at ``dpi`` CSS pixels per
    inch through the ``width``/``height`` attributes. Measured on the marx report: the same time
    as the former inline SVG (text as paths) and about a third of its bytes; an image inside
    <img> runs no script and loads nothing, whatever text it carries. A chart that lays itself
    out (``render``) is drawn once, at its size, without pyplot or a tight-bbox pass.
    """
    if hasattr(plot, "render"):
        png = plot.render("png", (width, height), 2 * dpi)
    else:
        import matplotlib.pyplot as plt

        if hasattr(plot, "draw") and hasattr(plot, "theme"):  # plotnine: lay out once, at the size
            from plotnine import theme

            fig = (plot + theme(figure_size=(width, height), dpi=2 * dpi)).draw()
        else:  # a matplotlib figure
            fig = plot
            fig.set_size_inches(width, height)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=2 * dpi, metadata={"Software": None}, bbox_inches="tight")
        plt.close(fig)
        png = buf.getvalue()
    w, h = (int.from_bytes(png[i : i + 4], "big") // 2 for i in (16, 20))  # IHDR size
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure><img class="chart" alt="{esc(title)}" width="{w}" height="{h}" '
        f'src="data:image/png;base64,{data}"><figcaption>{esc(title)}</figcaption></figure>'
    )
