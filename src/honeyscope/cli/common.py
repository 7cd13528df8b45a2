"""Arguments and output shared by the analysis commands."""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from honeyscope.render.escape import cell, needs_crlf, plain_terminal, value_text

FORMATS = ("text", "csv", "json")

# --- option types: a bad value is a one-line usage error (exit 2) --------------------------------


def _number(text: str, kind: type[int] | type[float]):
    try:
        v = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a {'whole number' if kind is int else 'number'}") from None
    if kind is float and not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return v


def non_negative(text: str) -> int:
    """A whole number ≥ 0 (``--top 0`` means all where the help says so)."""
    n = _number(text, int)
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {n}")
    return n


def positive(text: str) -> int:
    """A whole number ≥ 1."""
    n = _number(text, int)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {n}")
    return n


def non_negative_float(text: str) -> float:
    x = _number(text, float)
    if x < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return x


def probability(text: str) -> float:
    """A number strictly between 0 and 1 (a significance level)."""
    x = _number(text, float)
    if not 0 < x < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), not {text}")
    return x


#: Protocol names the kernel's LOG target prints (``PROTO=``), in lower case; numbers 0-255 too.
KNOWN_PROTOS = ("tcp", "udp", "udplite", "sctp", "dccp", "icmp", "icmpv6", "ah", "esp", "gre")


def protocol(text: str, *, allow_all: bool = False, choices: tuple[str, ...] = KNOWN_PROTOS) -> str:
    """A protocol name the kernel logs (case-insensitive), a protocol number 0-255, or ``all``."""
    t = text.strip().lower()
    if (allow_all and t == "all") or t in choices:
        return t
    if choices is KNOWN_PROTOS and t.isdigit() and int(t) <= 255:
        return t
    extra = ", all" if allow_all else ""
    raise argparse.ArgumentTypeError(
        f"unknown protocol {text!r}: use {', '.join(choices)}{extra}"
        + (" or a number 0-255" if choices is KNOWN_PROTOS else ""))


def port_spec(text: str) -> tuple[str, int]:
    """``PROTO/PORT`` such as ``tcp/23``: a protocol with ports and a port 0-65535."""
    proto, sep, port = text.partition("/")
    if not sep or not port.strip().isdigit():
        raise argparse.ArgumentTypeError(f"wants PROTO/PORT such as tcp/23, not {text!r}")
    p = protocol(proto, choices=("tcp", "udp", "udplite", "sctp", "dccp"))
    n = int(port)
    if n > 65535:
        raise argparse.ArgumentTypeError(f"port {n} is out of range (0-65535)")
    return p.upper(), n


def engine(text: str) -> str:
    """``duckdb``, ``local``, ``local[N]`` / ``local[*]``, or ``spark://HOST:PORT``."""
    t = text.strip()
    if t in ("duckdb", "local") or re.fullmatch(r"local\[(\*|[1-9][0-9]*)(,\s*[0-9]+)?\]", t):
        return t
    m = re.fullmatch(r"spark://([^:/\s]+):([0-9]{1,5})", t)
    if m and 0 < int(m.group(2)) <= 65535:
        return t
    raise argparse.ArgumentTypeError(
        f"unknown engine {text!r}: use duckdb, local[N] or spark://HOST:PORT")


def output_file(text: str) -> str:
    """A file to write: ``-`` (stdout), or a path whose directory exists and that is no directory."""
    if text == "-":
        return text
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a directory, not a file")
    parent = path.parent
    if not parent.is_dir():
        what = "is not a directory" if parent.exists() else "does not exist"
        raise argparse.ArgumentTypeError(f"the directory of {text}, {parent}, {what}")
    return text


def store_dir(text: str) -> str:
    """A store directory (existing or to be created): anything but an existing file."""
    if Path(text).exists() and not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a store directory")
    return text


def year(text: str) -> int:
    """A year for year-less stamps: the same range as ``honeyscope ingest --year``."""
    from honeyscope.ingest.run import MAX_YEAR, MIN_YEAR

    n = _number(text, int)
    if not MIN_YEAR <= n <= MAX_YEAR:
        raise argparse.ArgumentTypeError(f"must be a year from {MIN_YEAR} to {MAX_YEAR}, not {n}")
    return n


def sensor_name(text: str) -> str:
    """A sensor name: not empty, no blank or control character."""
    if not text.strip() or any(c.isspace() or ord(c) < 32 for c in text):
        raise argparse.ArgumentTypeError(f"wants a name without blanks, not {text!r}")
    return text


def add_source_args(p: argparse.ArgumentParser) -> None:
    """SOURCE... (a store directory, or data files ingested on the fly) and engine options."""
    p.add_argument(
        "source", nargs="+", metavar="SOURCE",
        help="a store directory, or data files (raw logs, marx CSV) ingested on the fly",
    )
    p.add_argument(
        "--engine", default="duckdb", type=engine,
        help="duckdb (default, in-process), spark://HOST:PORT or local[N]",
    )
    p.add_argument("--year", type=year, help="year of year-less syslog stamps (files only)")
    p.add_argument("--tz", default="UTC", help="zone of stamps without offset (files only)")
    p.add_argument("--sensor", type=sensor_name, help="sensor name for lines without a host (files only)")


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


def _string_columns(df: pd.DataFrame) -> list:
    return [c for c in df.columns if df[c].dtype == object or pd.api.types.is_string_dtype(df[c])]


def _map_strings(df: pd.DataFrame, fn: Callable[[object], object]) -> pd.DataFrame:
    """``df`` with ``fn`` applied to its string cells (other cells as they are)."""
    if not len(df):
        return df
    out = df.copy()
    for c in _string_columns(out):
        out[c] = out[c].map(lambda v: fn(v) if isinstance(v, str) else v).astype(object)
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
    from honeyscope.render.console import empty_note, json_text, output_frame

    stop_spinner()
    out = out or sys.stdout
    if df.empty:  # an empty result of a valid selection: a note on stderr, a well-formed empty output
        print(f"honeyscope: note: {empty_note(df)}", file=sys.stderr)
        if fmt == "text":
            return
    if fmt in ("csv", "json"):
        df = output_frame(df)  # RFC 3339 times, integer ports
    if fmt == "csv":
        tty = hasattr(out, "isatty") and out.isatty()
        safe = _map_strings(df, (lambda v: cell(value_text(v))) if tty else cell)
        crlf = any(needs_crlf(safe[c]) for c in _string_columns(safe))
        safe.to_csv(out, index=False, lineterminator="\r\n" if crlf else "\n")
    elif fmt == "json":
        # ASCII only: control, C1 and bidi characters from log lines arrive as \u escapes
        out.write(json_text(df))
        out.write("\n")
    else:
        shown = _map_strings(df, value_text)
        body = text(shown) if text else output_frame(shown).to_string(index=False)
        out.write(plain_terminal(body) + "\n")
