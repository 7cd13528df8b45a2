"""Text output laid out like R's console, so the analyst recognises the posts' printouts.

* :func:`r_format` is R's ``format()`` of a numeric vector (``formatReal``: common fixed or
  scientific notation, ``digits`` significant digits);
* :func:`summary_text` is ``print(summary(data.frame))`` (blocks of ``label:value`` columns,
  wrapped to ``width``);
* :func:`named_vector_text` is the print of a named vector (``summary(factor(x))``);
* :func:`frame_text` is the print of a ``data.frame`` (``head(hosts)``).

Every string cell passes through :func:`honeyscope.render.escape.value_text` *before* it is
measured, so hostile text (escape sequences, newlines or tabs in a host name) cannot shift or
recolour the layout, and a name longer than 200 characters is cut with an ellipsis.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from honeyscope.render.escape import value_text
from honeyscope.store.frames import format_times, output_frame, time_text

#: R's ``getOption("width")``.
WIDTH = 80
#: Significant digits of summary blocks. R's rule is ``max(3, getOption("digits") - 3)``; the
#: posts' printouts (``1.68e+07``, ``2.15e+09``) were made with 3, so 3 reproduces them.
SUMMARY_DIGITS = 3


def _esc(value: object) -> str:
    return value_text(value)


# --- numbers -------------------------------------------------------------------------------------


def _sci(x: float, digits: int) -> tuple[int, int]:
    """(exponent, significant digits needed) of ``x`` rounded to ``digits`` significant digits."""
    if x == 0:
        return 0, 1
    mant, exp = f"{abs(x):.{digits - 1}e}".split("e")
    sig = mant.replace(".", "").rstrip("0")
    return int(exp), max(1, len(sig))


def r_format(values: Sequence[float], digits: int = 7, scipen: int = 0) -> list[str]:
    """R's ``format(x, digits = digits)`` for a numeric vector: one notation for all, right-justified.

    Fixed notation when its width is at most the scientific one (+ ``scipen``); NaN/None → ``NA``.
    """
    xs = [None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)
          for v in values]
    finite = [x for x in xs if x is not None and math.isfinite(x)]
    if not finite:
        return [("NA" if x is None else str(x)).rjust(2) for x in xs]
    neg = int(any(x < 0 for x in finite))
    rgt = mxsl = mxl = mxe = -(10**9)
    mne = 10**9
    mxns = 0
    for x in finite:
        kp, nsig = _sci(x, digits)
        left = kp + 1
        sleft = int(x < 0) + (1 if left <= 0 else left)
        rgt = max(rgt, nsig - left)
        mxsl = max(mxsl, sleft)
        mxl = max(mxl, left)
        mxns = max(mxns, nsig)
        mxe = max(mxe, kp)
        mne = min(mne, kp)
    if mxl < 0:
        mxsl = 1 + neg
    rgt = max(rgt, 0)
    w_fixed = mxsl + rgt + (rgt != 0)
    d = mxns - 1
    w_sci = neg + (d > 0) + d + 4 + (2 if (mxe >= 100 or mne <= -99) else 1)
    if w_fixed <= w_sci + scipen:
        out = [None if x is None else f"{x:.{rgt}f}" for x in xs]
    else:
        out = [None if x is None else f"{x:.{d}e}" for x in xs]
    cells = ["NA" if s is None else s for s in out]
    width = max(len(s) for s in cells)
    return [s.rjust(width) for s in cells]


def zapsmall(values: Sequence[float], digits: int) -> list[float]:
    """R's ``zapsmall(x, digits)``: round so that the largest value keeps ``digits`` digits."""
    arr = np.asarray(values, dtype="float64")
    mx = np.nanmax(np.abs(arr)) if arr.size else 0.0
    if not mx > 0:
        return arr.tolist()
    return np.round(arr, max(0, digits - math.ceil(math.log10(mx)))).tolist()


def _int_cells(values: Sequence[int]) -> list[str]:
    cells = [str(int(v)) for v in values]
    w = max((len(c) for c in cells), default=0)
    return [c.rjust(w) for c in cells]


# --- summary(data.frame) -------------------------------------------------------------------------


def _block_cells(kind: str, stats: list[str], values: list[object], digits: int) -> list[str]:
    """The ``value`` parts of one summary column, as R's ``format.summaryDefault`` would."""
    if kind == "numeric":
        nums = [float(v) for v in values]  # type: ignore[arg-type]
        has_na = stats[-1] == "NA's"
        z = zapsmall(nums, digits)
        body = r_format(z[:-1] if has_na else z, digits)
        cells = [*body, str(int(nums[-1]))] if has_na else body
    elif kind == "time":
        cells = [
            time_text(pd.Timestamp(v)) if s in ("First", "Last") else str(v)
            for s, v in zip(stats, values, strict=True)
        ]
    else:
        cells = _int_cells(values)  # type: ignore[arg-type]
    w = max(len(c) for c in cells)
    return [c.ljust(w) for c in cells]


def _header(column: str, kind: str, is_also_numeric: bool) -> str:
    if kind == "category" and is_also_numeric:
        return f"factor({column})"
    if kind == "time":
        return f"range({column})"
    return column


def summary_text(df: pd.DataFrame, width: int = WIDTH, digits: int = SUMMARY_DIGITS) -> str:
    """R's print of ``summary(data.frame)`` for :func:`honeyscope.analyse.explore.summary`'s frame.

    Each (column, kind) block becomes one R column ``label:value``; ports and ICMP types appear as
    numbers (like the seed) and again as ``factor(dpt)`` (as the post argues they should).
    """
    if df.empty:
        return "(no data)"
    numeric_cols = set(df.loc[df["kind"] == "numeric", "column"])
    columns: list[tuple[str, list[str]]] = []
    for (col, kind), block in df.groupby(["column", "kind"], sort=False):
        stats = [_esc(s) for s in block["stat"]]
        labels = [s.ljust(max(len(x) for x in stats)) for s in stats]
        values = _block_cells(kind, list(block["stat"]), list(block["value"]), digits)
        cells = [f"{lab}:{val}  " for lab, val in zip(labels, values, strict=True)]
        name = _esc(_header(str(col), str(kind), col in numeric_cols))
        pad = math.floor(len(labels[0]) - len(name) / 2)
        columns.append((" " * max(pad, 0) + name, cells))
    return _layout_columns(columns, width)


def _layout_columns(columns: list[tuple[str, list[str]]], width: int) -> str:
    """print.table(right = FALSE) of equal-height columns, wrapped like R to ``width``."""
    nrow = max(len(c) for _, c in columns)
    widths = [max(len(h), *(len(x) for x in c)) for h, c in columns]
    blocks: list[list[int]] = []
    cur: list[int] = []
    used = 0
    for i, w in enumerate(widths):
        if cur and used + 1 + w > width:
            blocks.append(cur)
            cur, used = [], 0
        cur.append(i)
        used += 1 + w
    blocks.append(cur)
    lines: list[str] = []
    for b in blocks:
        lines.append("".join(" " + columns[i][0].ljust(widths[i]) for i in b))
        for r in range(nrow):
            row = []
            for i in b:
                cells = columns[i][1]
                row.append(" " + (cells[r] if r < len(cells) else "").ljust(widths[i]))
            lines.append("".join(row))
    return "\n".join(line.rstrip() for line in lines)


# --- named vectors and data frames ---------------------------------------------------------------


def named_vector_text(names: Sequence[object], values: Sequence[object], width: int = WIDTH) -> str:
    """R's print of a named vector: names over values, one common column width, wrapped."""
    if not len(names):
        return "named integer(0)"
    vals = list(values)
    if all(isinstance(v, (int, np.integer)) for v in vals):
        cells = _int_cells(vals)  # type: ignore[arg-type]
    else:
        cells = r_format([float(v) for v in vals])  # type: ignore[arg-type]
    labels = [_esc(n) for n in names]
    w = max(max(len(x) for x in labels), max(len(x) for x in cells))
    per_line = max(1, width // (w + 1))
    lines = []
    for i in range(0, len(labels), per_line):
        lines.append(" ".join(x.rjust(w) for x in labels[i : i + per_line]))
        lines.append(" ".join(x.rjust(w) for x in cells[i : i + per_line]))
    return "\n".join(lines)


def _column_cells(s: pd.Series) -> list[str]:
    if pd.api.types.is_datetime64_any_dtype(s):
        return ["NA" if v is None else v for v in format_times(s)]
    if pd.api.types.is_integer_dtype(s) or pd.api.types.is_bool_dtype(s):
        return ["NA" if pd.isna(v) else str(v) for v in s]
    if pd.api.types.is_float_dtype(s):
        return r_format(s.tolist(), digits=7)
    return ["NA" if v is None or (isinstance(v, float) and math.isnan(v)) else _esc(v) for v in s]


def frame_text(
    df: pd.DataFrame, row_names: bool = True, width: int = WIDTH, left: Sequence[str] = ()
) -> str:
    """R's print of a data.frame: right-justified columns (``left`` ones left), row numbers first."""
    if df.empty:
        return f"<0 rows> (or 0-length row.names): {', '.join(map(str, df.columns))}"
    cols: list[tuple[str, list[str]]] = []
    if row_names:
        cols.append(("", [str(i + 1) for i in range(len(df))]))
    for c in df.columns:
        cols.append((_esc(c), _column_cells(df[c])))
    widths = [max(len(h), *(len(x) for x in cells)) for h, cells in cols]
    lefts = [(row_names and i == 0) or h in left for i, (h, _) in enumerate(cols)]
    rows = [[h for h, _ in cols]] + [[cells[r] for _, cells in cols] for r in range(len(df))]
    lines = [
        " ".join(x.ljust(w) if lj else x.rjust(w)
                 for x, w, lj in zip(row, widths, lefts, strict=True))
        for row in rows
    ]
    del width  # R wraps wide frames; these are narrow
    return "\n".join(line.rstrip() for line in lines)


# --- CSV and JSON of a result: one timestamp format, integers as integers ---------------------
# (output_frame, from honeyscope.store.frames: RFC 3339 times and integer ports of a frame)



#: The note of an empty result whose analysis gave no reason of its own.
EMPTY_NOTE = "the result is empty: the packets hold nothing this analysis counts"


def empty_note(df: pd.DataFrame) -> str:
    """The one sentence shown (on stderr) for an empty result: the analysis' own reason
    (``df.attrs["note"]``), else :data:`EMPTY_NOTE`."""
    return value_text(df.attrs.get("note") or EMPTY_NOTE)


def json_text(df: pd.DataFrame) -> str:
    """``df`` as a JSON array of records: times as :func:`output_frame` writes them, integers as
    JSON integers, NaN/NA as ``null``, ASCII only (control and bidi characters as ``\\u``
    escapes), ``/`` not escaped."""
    records = json.loads(output_frame(df).to_json(orient="records", date_format="iso"))
    return json.dumps(records, ensure_ascii=True)


# --- the analyses' text --------------------------------------------------------------------------


def count_text(df: pd.DataFrame, by: Sequence[str], width: int = WIDTH) -> str:
    """A one-column count without names as R's ``summary(factor(x))``; else a data frame."""
    by = list(by)
    if len(by) == 1 and "name" not in df.columns:
        labels = ["NA's" if pd.isna(v) else v for v in df[by[0]]]
        return named_vector_text(labels, df["count"].tolist(), width)
    shown = df.copy()
    for c in by:
        shown[c] = shown[c].astype("object").where(shown[c].notna(), "NA's").astype(str)
    if "name" in shown.columns:
        shown = shown[[*by, "count", "name"]]
        shown["name"] = shown["name"].fillna("")
    return frame_text(shown, row_names=False, width=width, left=("name",))


def ports_text(df: pd.DataFrame, width: int = WIDTH) -> str:
    """Top ports as R's ``summary(factor(ports), maxsum = N + 1)``: ports over counts, (Other)."""
    other = df.attrs.get("other")
    if "host" in df.columns:
        parts = []
        for host, block in df.groupby("host", sort=False):
            parts.append(f"{_esc(host)}:")
            o = other.get(host) if isinstance(other, dict) else None
            parts.append(_ports_vector(block, o, width))
            parts.append("")
        return "\n".join(parts).rstrip()
    return _ports_vector(df, other if isinstance(other, int) else None, width)


def _ports_vector(df: pd.DataFrame, other: int | None, width: int) -> str:
    if "proto" in df.columns:
        labels = [f"{p}/{port}" for p, port in zip(df["proto"], df["port"], strict=True)]
    else:
        labels = [str(p) for p in df["port"]]
    values = [int(v) for v in df["count"]]
    if other:
        labels.append("(Other)")
        values.append(int(other))
    return named_vector_text(labels, values, width)


def port_sources_text(df: pd.DataFrame, width: int = WIDTH) -> str:
    """Per port (in rank order) the five-number summary and mean of the daily metric, and days."""
    if df.empty:
        return ""
    order = df.attrs.get("ports") or list(dict.fromkeys(df["port"]))
    rows = []
    for port in order:
        v = df.loc[df["port"] == port, "value"].to_numpy(dtype="float64")
        q = np.quantile(v, [0, 0.25, 0.5, 0.75, 1]) if v.size else [np.nan] * 5
        rows.append({
            "port": int(port), "Min.": q[0], "1st Qu.": q[1], "Median": q[2],
            "Mean": float(v.mean()) if v.size else np.nan, "3rd Qu.": q[3], "Max.": q[4],
            "days": int(v.size),
        })
    table = pd.DataFrame(rows)
    for c in ("Min.", "1st Qu.", "Median", "Mean", "3rd Qu.", "Max."):
        table[c] = table[c].round(2)
    return (
        "average distinct sources per sensor per day, by destination port\n"
        + frame_text(table, row_names=False, width=width)
    )


def daily_text(df: pd.DataFrame, width: int = WIDTH) -> str:
    """``day host value`` as R prints ``aggregate()``'s data frame."""
    return frame_text(df, row_names=True, width=width)
