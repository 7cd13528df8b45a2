"""Export the store's packets: the seed's own CSV layout (``marx``), or every canonical column as CSV,
JSON lines or Parquet. Streams through DuckDB: the table is never held in memory whole.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import duckdb

from honeyscope import schema
from honeyscope.render.escape import FORMULA_START_PATTERN, NUMBER_PATTERN
from honeyscope.store.store import Store

FORMATS = ("marx", "csv", "parquet", "jsonl")

# A cell a spreadsheet would read as a formula gets a leading quote, at its start and after each line
# break inside it: render.escape.cell's rule, in SQL (RE2 has no lookahead: two passes catch "\r\r=").
_AFTER_BREAK = r"regexp_replace({c}, '([\r\n])([=+\-@\t\r])', '\1''\2', 'g')"
_BROKEN = _AFTER_BREAK.format(c=_AFTER_BREAK)  # keeps one "{c}", filled by _SAFE.format(c=...)
_SAFE = (
    f"CASE WHEN regexp_matches({{c}}, '{FORMULA_START_PATTERN}') AND NOT regexp_matches({{c}}, "
    f"'{NUMBER_PATTERN}') THEN '''' || {_BROKEN} ELSE {_BROKEN} END"
)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _select(fmt: str) -> str:
    if fmt == "marx":
        cols = [
            "strftime(time, '%Y-%m-%d %H:%M:%S') AS datetime",
            _SAFE.format(c="host") + " AS host",
            "src_int AS src",
            _SAFE.format(c="proto") + " AS proto",
            "icmp_type AS type",
            "spt",
            "dpt",
        ]
        return ", ".join(cols)
    out = []
    for name, typ, _ in schema.COLUMNS:
        if fmt == "csv" and str(typ) == "string":
            out.append(_SAFE.format(c=_q(name)) + f" AS {_q(name)}")
        else:
            out.append(_q(name))
    return ", ".join(out)


def export(store: Store, fmt: str, out: str) -> int:
    """Write the store's packets to ``out`` (a path, or ``-`` for stdout) in ``fmt``; returns the rows
    written.

    Rows come in input order, then line order: exporting an ingested marx CSV as ``marx`` gives back
    the same rows in the same order.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    if out != "-":
        target_path = Path(out)
        if target_path.is_dir():
            raise IsADirectoryError(f"{out} is a directory, not a file")
        if not target_path.parent.is_dir():
            raise FileNotFoundError(f"the directory of {out}, {target_path.parent}, does not exist")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    order = {str(store.path / p): n for n, i in enumerate(store.inputs) for p in i["parts"]}
    if order:
        con.execute("CREATE TEMP TABLE part_order(filename VARCHAR, n INTEGER)")
        con.executemany("INSERT INTO part_order VALUES (?, ?)", list(order.items()))
        files = "[" + ", ".join(_lit(f) for f in order) + "]"
        rel = (
            f"SELECT p.* EXCLUDE (filename), o.n AS _n FROM read_parquet({files}, filename = true) p "
            "JOIN part_order o USING (filename)"
        )
    else:
        con.register("empty_packets", schema.empty())
        rel = "SELECT *, 0 AS _n FROM empty_packets"
    query = f"SELECT {_select(fmt)} FROM ({rel}) ORDER BY _n, line"
    options = {
        "marx": "FORMAT CSV, HEADER true",
        "csv": "FORMAT CSV, HEADER true",
        "jsonl": "FORMAT JSON",
        "parquet": "FORMAT PARQUET, COMPRESSION zstd",
    }[fmt]
    with tempfile.TemporaryDirectory() as tmp:
        target = str(Path(tmp) / f"export.{fmt}") if out == "-" else str(out)
        written = con.execute(f"COPY ({query}) TO {_lit(target)} ({options})").fetchone()
        rows = written[0] if written else 0  # what COPY wrote, not what the manifest says
        if out == "-":
            with open(target, "rb") as f:
                shutil.copyfileobj(f, sys.stdout.buffer)
            sys.stdout.buffer.flush()
    return int(rows)
