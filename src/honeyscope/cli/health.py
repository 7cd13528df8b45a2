"""``honeyscope health``, ``gaps``, ``trends``, ``anomalies`` and ``survival``."""

from __future__ import annotations

import argparse

import pandas as pd

from honeyscope.cli.common import (
    analysis_parser,
    emit,
    non_negative_float,
    port_spec,
    positive,
    probability,
    run_analysis,
)

#: exit code of ``anomalies --fail-on-flags`` when something is flagged
EXIT_FLAGGED = 3


def register(sub: argparse._SubParsersAction) -> None:
    p = analysis_parser(sub, "health")
    p.add_argument("--by", choices=("sensor", "day", "hour"), default="sensor",
                   help="one row per sensor (default: completeness and capping), per sensor-day "
                        "or per sensor-hour (rows, lower-bound marks)")
    p.set_defaults(func=_health)

    g = analysis_parser(sub, "gaps")
    g.add_argument("--min-gap", type=non_negative_float, default=1.0, metavar="HOURS",
                   help="never call a silence shorter than this a gap (default 1)")
    g.add_argument("--alpha", type=probability, default=0.01,
                   help="flag when fewer than ALPHA silences this long are expected (default 0.01)")
    g.add_argument("--quiet", action="store_true",
                   help="also show each sensor's longest normal silence")
    g.set_defaults(func=_gaps)

    t = analysis_parser(sub, "trends")
    t.add_argument("--metric", choices=("sources", "packets"), default="sources")
    t.add_argument("--top", type=positive, default=30, help="sensor-port series to test (default 30)")
    t.add_argument("--rise", metavar="PROTO/PORT", type=port_spec,
                   help="test whether this port's Part-2 metric rose after --split (e.g. tcp/23)")
    t.add_argument("--split", metavar="DATE", help="first day of the 'after' period (YYYY-MM-DD)")
    t.set_defaults(func=_trends)

    a = analysis_parser(sub, "anomalies")
    a.add_argument("--metric", choices=("sources", "packets", "both"), default="sources",
                   help="daily distinct sources, packets, or both in one Bonferroni family")
    a.add_argument("--top", type=positive, default=30, help="sensor-port series to test (default 30)")
    a.add_argument("--fail-on-flags", action="store_true",
                   help=f"exit {EXIT_FLAGGED} when anything is flagged (for cron or CI alerting)")
    a.set_defaults(func=_anomalies)

    s = analysis_parser(sub, "survival")
    s.add_argument("--top", type=positive, default=20, help="ports (most sensors reached; default 20)")
    s.add_argument("--by-sensor", action="store_true", help="one row per sensor and port")
    s.add_argument("--new-sources", action="store_true",
                   help="the distribution of time between never-seen-before sources, per sensor")
    s.set_defaults(func=_survival)


def _why_text(df: pd.DataFrame) -> str:
    """Text layout for flag tables: one flag per line, its reason in words."""
    return "\n".join(str(w) for w in df["why"])


def _flags(df: pd.DataFrame) -> pd.DataFrame:
    """A flag table; empty, it carries emit's note (stderr, exit 0): nothing flagged."""
    if df.empty:
        df.attrs["note"] = "nothing flagged"
    return df


def _health(args: argparse.Namespace) -> int:
    df = run_analysis(args, "health", by=args.by)
    caps = df.attrs.get("capping")
    emit(df, args.format)
    if args.by == "sensor" and args.format == "text" and caps is not None and len(caps):
        emit(caps[["why"]], "text", _why_text)
    return 0


def _gaps(args: argparse.Namespace) -> int:
    df = run_analysis(args, "gaps", min_gap=args.min_gap, alpha=args.alpha, quiet=args.quiet)
    emit(_flags(df), args.format, _why_text)
    return 0


def _trends(args: argparse.Namespace) -> int:
    if args.rise and not args.split:
        raise ValueError("--rise needs --split DATE")
    rise = f"{args.rise[0]}/{args.rise[1]}" if args.rise else None
    df = run_analysis(args, "trends", metric=args.metric, top=args.top, rise=rise,
                      split=args.split if rise else None)
    if rise:
        emit(df, args.format, lambda d: str(d["why"].iloc[0]))
    else:
        emit(_flags(df), args.format, _why_text)
    return 0


def _anomalies(args: argparse.Namespace) -> int:
    df = run_analysis(args, "anomalies", metric=args.metric, top=args.top)
    emit(_flags(df), args.format, _why_text)
    return EXIT_FLAGGED if args.fail_on_flags and len(df) else 0


def _survival(args: argparse.Namespace) -> int:
    df = run_analysis(args, "survival", top=args.top, by_sensor=args.by_sensor,
                      new_sources=args.new_sources)
    emit(df, args.format)
    return 0
