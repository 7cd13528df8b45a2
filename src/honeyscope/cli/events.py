"""``honeyscope events``: floods, sweeps, campaigns, backscatter and rate-capped sensors, with who."""

from __future__ import annotations

import argparse
from dataclasses import fields

import pandas as pd

from honeyscope.cli.common import analysis_parser, emit, non_negative, run_analysis

#: the columns of the text table (the CSV and JSON carry every column)
TEXT_COLUMNS = ["event", "kind", "src", "cc", "asn", "ports", "sensors", "start", "end", "packets",
                "share"]


def register(sub: argparse._SubParsersAction) -> None:
    from honeyscope.analyse.events import KINDS, EventOptions

    p = analysis_parser(sub, "events")
    p.add_argument("--kind", action="append", choices=KINDS, metavar="KIND",
                   help=f"only these kinds (repeat; {', '.join(KINDS)}; default all)")
    p.add_argument("--top", type=non_negative, default=50, help="rows (default 50; 0: all)")
    p.add_argument("--sentences", action="store_true",
                   help="one sentence per event instead of a table (text format)")
    defaults = EventOptions()
    for f in fields(EventOptions):
        kind = float if isinstance(getattr(defaults, f.name), float) else int
        p.add_argument(f"--{f.name.replace('_', '-')}", type=kind, default=getattr(defaults, f.name),
                       dest=f.name, help=f"threshold (default {getattr(defaults, f.name)})")
    p.set_defaults(func=_events)


def _events(args: argparse.Namespace) -> int:
    from honeyscope.analyse import events

    thresholds = {f.name: getattr(args, f.name) for f in fields(events.EventOptions)}
    df = run_analysis(args, "events", kind=args.kind, top=args.top, **thresholds)
    if df.empty:  # emit prints it as the one note of an empty result
        df.attrs["note"] = "no events above the thresholds"
    if args.format == "text" and args.sentences:
        emit(df, "text", text=lambda d: "\n".join(f"{e.event}: {events.describe(e)}"
                                                  for _, e in d.iterrows()))
    elif args.format == "text":
        emit(df, "text", text=_table)
    else:
        emit(df, args.format)
    return 0


def _table(df: pd.DataFrame) -> str:
    if df.empty:
        return "no events"
    show = df[TEXT_COLUMNS].copy()
    show["share"] = show["share"].map(lambda v: "NA" if pd.isna(v) else f"{v:.1%}")
    show["asn"] = show["asn"].map(lambda v: "unknown" if pd.isna(v) else f"AS{int(v)}")
    show["sensors"] = show["sensors"].map(_compact)
    return show.to_string(index=False)


def _compact(value: object, first: int = 2) -> str:
    """``a,b,c,d`` as ``a,b +2``: long sensor lists stay on one line."""
    if not isinstance(value, str):
        return "" if value is None else str(value)
    items = value.split(",")
    return value if len(items) <= first else ",".join(items[:first]) + f" +{len(items) - first}"
