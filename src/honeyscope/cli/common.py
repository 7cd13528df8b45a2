"""Arguments and output shared by the analysis commands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import pandas as pd

from honeyscope.render.escape import cell, needs_crlf, plain_terminal, value_text

FORMATS = ("text", "csv", "json")


def add_source_args(p: argparse.ArgumentParser) -> None:
    """SOURCE... (a store directory, or data files ingested on the fly) and engine options."""
    p.add_argument(
        "source", nargs="+", metavar="SOURCE",
        help="a store directory, or data files (raw logs, marx CSV) ingested on the fly",
    )
    p.add_argument(
        "--engine", default="duckdb",
        help="duckdb (default, in-process), spark://HOST:PORT or local[N]",
    )
    p.add_argument("--year", type=int, help="year of year-less syslog stamps (files only)")
    p.add_argument("--tz", default="UTC", help="zone of stamps without offset (files only)")
    p.add_argument("--sensor", help="sensor name for lines without a host (files only)")


def add_format_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=FORMATS, default="text", help="output format (default text)")


def open_source(args: argparse.Namespace):
    """The packet table (Ibis) named by the parsed SOURCE arguments."""
    from honeyscope import api

    return api.open_packets(
        args.source, engine=args.engine, year=args.year, tz=args.tz, sensor=args.sensor
    )


_spinner = None


def start_spinner(text: str) -> None:
    """A spinner on stderr while a command works (terminals only); :func:`emit` stops it."""
    global _spinner
    if _spinner is None and sys.stderr.isatty():
        from rich.console import Console

        _spinner = Console(stderr=True).status(plain_terminal(text))
        _spinner.start()


def stop_spinner() -> None:
    global _spinner
    if _spinner is not None:
        _spinner.stop()
        _spinner = None


def _map_strings(df: pd.DataFrame, fn: Callable[[object], object]) -> pd.DataFrame:
    """``df`` with ``fn`` applied to its string cells (other cells as they are)."""
    if not len(df):
        return df
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object or pd.api.types.is_string_dtype(out[c]):
            out[c] = out[c].map(lambda v: fn(v) if isinstance(v, str) else v)
    return out


def emit(
    df: pd.DataFrame,
    fmt: str,
    text: Callable[[pd.DataFrame], str] | None = None,
    out=None,
) -> None:
    """Print ``df`` as text (``text(df)``, default: aligned table), CSV or JSON, escaped for its target.

    Text: every value through :func:`~honeyscope.render.escape.value_text` before the layout
    (controls, newlines and tabs visible; names cut at 200 characters). CSV: formulas defused
    (also after a line break inside a value), a value holding CR or LF quoted; on a terminal the
    values are shown as in text, so no control character reaches it. JSON: ASCII only."""
    stop_spinner()
    out = out or sys.stdout
    if fmt == "csv":
        tty = hasattr(out, "isatty") and out.isatty()
        safe = _map_strings(df, (lambda v: cell(value_text(v))) if tty else cell)
        crlf = any(needs_crlf(safe[c]) for c in safe.columns if safe[c].dtype == object)
        safe.to_csv(out, index=False, lineterminator="\r\n" if crlf else "\n")
    elif fmt == "json":
        # ASCII only: control, C1 and bidi characters from log lines arrive as \u escapes
        out.write(df.to_json(orient="records", date_format="iso", force_ascii=True))
        out.write("\n")
    else:
        shown = _map_strings(df, value_text)
        body = text(shown) if text else shown.to_string(index=False)
        out.write(plain_terminal(body) + "\n")
