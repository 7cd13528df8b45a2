"""Arguments and output shared by the analysis commands."""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from honeyscope.render.escape import cell, needs_crlf, plain_terminal, value_text

if TYPE_CHECKING:  # pandas and the analysis stack load when a command uses them, not to parse options
    import pandas as pd

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




def protocol(text: str, *, allow_all: bool = False, choices: tuple[str, ...] | None = None) -> str:
    """A protocol name the kernel logs (case-insensitive), a protocol number 0-255, or ``all``;
    ``choices``: only these names (no numbers)."""
    known = choices is None
    if choices is None:
        from honeyscope.analyse.select import KNOWN_PROTOS

        choices = KNOWN_PROTOS
    t = text.strip().lower()
    if (allow_all and t == "all") or t in choices:
        return t
    if known and t.isdigit() and int(t) <= 255:
        return t
    extra = ", all" if allow_all else ""
    raise argparse.ArgumentTypeError(
        f"unknown protocol {text!r}: use {', '.join(choices)}{extra}"
        + (" or a number 0-255" if known else ""))


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


def _option_type(parser: str) -> Callable[[str], object]:
    """An argparse type from the parser ``parser`` of :mod:`honeyscope.analyse.select` (ValueError →
    exit 2), imported when an option is given (building the parser loads no analysis stack)."""
    def convert(text: str) -> object:
        from honeyscope.analyse import select

        try:
            getattr(select, parser)(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
        return text  # kept as written: the API parses it (one parser), messages quote it
    convert.__name__ = parser.removeprefix("parse_")
    return convert


def add_selection_args(p: argparse.ArgumentParser, *, own: tuple[str, ...] = ()) -> None:
    """The selection every analysis, ``export`` and ``report`` take (see
    :mod:`honeyscope.analyse.select`); ``own``: options the command defines itself with that
    meaning (``ports --proto``)."""
    g = p.add_argument_group("selection (every analysis, export and report)")
    g.add_argument("--from", dest="start", metavar="WHEN", type=_option_type("parse_time"),
                   help="first day (UTC, YYYY-MM-DD) or time (RFC 3339: 2013-04-01T06:00:00Z), inclusive")
    g.add_argument("--to", dest="end", metavar="WHEN", type=_option_type("parse_time"),
                   help="last day (UTC), or time, inclusive")
    g.add_argument("--sensors", metavar="A,B", type=_option_type("parse_sensors"),
                   help="only these sensors (an unknown one is an error naming those there are)")
    g.add_argument("--src", metavar="CIDR[,CIDR]", type=_option_type("parse_src"),
                   help="only sources in these blocks (an address, 192.0.2.0/24, 2001:db8::/32)")
    if "proto" not in own:
        g.add_argument("--proto", metavar="P[,P]", type=_option_type("parse_proto"),
                       help="only these protocols (tcp, udp, icmp, ... or a number)")
    if "port" not in own:
        g.add_argument("--port", metavar="N[,N]", type=_option_type("parse_port"),
                       help="only these destination ports")


def add_source_args(p: argparse.ArgumentParser, *, own: tuple[str, ...] = ()) -> None:
    """SOURCE... (a store directory, or data files ingested on the fly), engine options, and the
    selection (:func:`add_selection_args`)."""
    p.add_argument(
        "source", nargs="+", metavar="SOURCE",
        help="a store directory, or data files (raw logs, marx CSV) ingested on the fly",
    )
    p.add_argument(
        "--engine", default="duckdb", type=engine,
        help="duckdb (default, in-process), spark://HOST:PORT or local[N]",
    )
    p.add_argument("--year", type=year, help="year of year-less syslog stamps (files only)")
    p.add_argument("--tz", help="zone of stamps without offset (files only; default UTC)")
    p.add_argument("--sensor", type=sensor_name, help="sensor name for lines without a host (files only)")
    add_selection_args(p, own=own)


def add_format_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=FORMATS, default="text", help="output format (default text)")


def analysis_parser(sub: argparse._SubParsersAction, command: str) -> argparse.ArgumentParser:
    """The sub-command of the registry's analysis ``command``: its help line from the registry,
    SOURCE..., engine, selection and ``--format``; the caller adds the analysis' own options."""
    from honeyscope.analyse import registry

    a = registry.BY_COMMAND[command]
    own = tuple(p.name for p in a.params if p.name in registry.SELECTION_OPTIONS.values())
    p = sub.add_parser(command, help=a.summary)  # description and epilog: cli.build_parser
    for param in a.params:
        if param.positional:
            p.add_argument(param.name, metavar=param.option, help=param.help)
    add_source_args(p, own=own)
    add_format_arg(p)
    return p


def selection_kwargs(args: argparse.Namespace, *, own: tuple[str, ...] = ()) -> dict:
    """The selection options as the API's keywords (``start``, ``end``, ``sensors``, ``src``,
    ``proto``, ``port``), leaving out those the command uses as its own parameter."""
    from honeyscope.analyse.registry import SELECTION_OPTIONS

    return {k: getattr(args, k, None) for k in SELECTION_OPTIONS.values() if k not in own}


def _packets(args: argparse.Namespace):
    """The packet table (Ibis) named by the parsed SOURCE arguments, not yet selected."""
    from honeyscope import api

    return api.open_packets(
        args.source, engine=args.engine, year=args.year, tz=args.tz, sensor=args.sensor
    )


def open_source(args: argparse.Namespace):
    """The packet table (Ibis) named by the parsed SOURCE arguments, restricted to the command's
    selection (checked: an unknown sensor or no packet left is an error). For commands that call
    an analysis themselves; the registry's analyses go through :func:`run_analysis`."""
    from honeyscope.analyse import select

    return select.apply(_packets(args), select.selection(**selection_kwargs(args)))


def run_analysis(args: argparse.Namespace, name: str, **params):
    """``honeyscope.api.<name>`` on the command's SOURCE with its selection and ``params``: the
    one way every analysis command computes its result (the API applies the selection)."""
    from honeyscope import api
    from honeyscope.analyse import registry

    analysis = registry.get(name)
    own = tuple(p.name for p in analysis.params)
    return getattr(api, name)(_packets(args), **params, **selection_kwargs(args, own=own))


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
    import pandas as pd

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
