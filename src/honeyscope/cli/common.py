"""Arguments and output shared by the analysis commands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import pandas as pd

from honeyscope.render.escape import cell, plain_terminal

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


def emit(
    df: pd.DataFrame,
    fmt: str,
    text: Callable[[pd.DataFrame], str] | None = None,
    out=None,
) -> None:
    """Print ``df`` as text (``text(df)``, default: aligned table), CSV or JSON, escaped for its target."""
    stop_spinner()
    out = out or sys.stdout
    if fmt == "csv":
        safe = df.map(cell) if len(df) else df
        safe.to_csv(out, index=False, lineterminator="\n")
    elif fmt == "json":
        # ASCII only: control, C1 and bidi characters from log lines arrive as \u escapes
        out.write(df.to_json(orient="records", date_format="iso", force_ascii=True))
        out.write("\n")
    else:
        body = text(df) if text else df.to_string(index=False)
        out.write(plain_terminal(body) + "\n")
