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

# A cell a spreadsheet would read as a formula gets a leading quote: render.escape.cell's rule, in SQL.
_SAFE = (
    f"CASE WHEN regexp_matches({{c}}, '{FORMULA_START_PATTERN}') AND NOT regexp_matches({{c}}, "
    f"'{NUMBER_PATTERN}') THEN '''' || {{c}} ELSE {{c}} END"
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
    """Write the store's packets to ``out`` (a path, or ``-`` for stdout) in ``fmt``; returns rows.

    Rows come in input order, then line order: exporting an ingested marx CSV as ``marx`` gives back
    the same rows in the same order.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
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
        con.execute(f"COPY ({query}) TO {_lit(target)} ({options})")
        rows = sum(i["rows"] for i in store.inputs)
        if out == "-":
            with open(target, "rb") as f:
                shutil.copyfileobj(f, sys.stdout.buffer)
            sys.stdout.buffer.flush()
    return int(rows)
