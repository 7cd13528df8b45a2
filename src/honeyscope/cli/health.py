"""``honeyscope health``, ``gaps``, ``trends``, ``anomalies`` and ``survival``."""

from __future__ import annotations

import argparse

import pandas as pd

from honeyscope.cli.common import (
    add_format_arg,
    add_source_args,
    emit,
    non_negative_float,
    open_source,
    port_spec,
    positive,
    probability,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("health", help="sensor health: completeness, rate-limit capping, per day")
    add_source_args(p)
    add_format_arg(p)
    p.add_argument("--by", choices=("sensor", "day", "hour"), default="sensor",
                   help="one row per sensor (default: completeness and capping), per sensor-day "
                        "or per sensor-hour (rows, lower-bound marks)")
    p.set_defaults(func=_health)

    g = sub.add_parser("gaps", help="silences beyond a sensor's own normal quiet periods")
    add_source_args(g)
    add_format_arg(g)
    g.add_argument("--min-gap", type=non_negative_float, default=1.0, metavar="HOURS",
                   help="never call a silence shorter than this a gap (default 1)")
    g.add_argument("--alpha", type=probability, default=0.01,
                   help="flag when fewer than ALPHA silences this long are expected (default 0.01)")
    g.add_argument("--quiet", action="store_true",
                   help="also show each sensor's longest normal silence")
    g.set_defaults(func=_gaps)

    t = sub.add_parser("trends", help="level shifts per sensor and port, or a before/after test")
    add_source_args(t)
    add_format_arg(t)
    t.add_argument("--metric", choices=("sources", "packets"), default="sources")
    t.add_argument("--top", type=positive, default=30, help="sensor-port series to test (default 30)")
    t.add_argument("--port", metavar="PROTO/PORT", type=port_spec,
                   help="test whether this port's Part-2 metric rose after --split (e.g. tcp/23)")
    t.add_argument("--split", metavar="DATE", help="first day of the 'after' period (YYYY-MM-DD)")
    t.set_defaults(func=_trends)

    a = sub.add_parser("anomalies", help="spikes, dips, changepoints, emerging ports, with why")
    add_source_args(a)
    add_format_arg(a)
    a.add_argument("--metric", choices=("sources", "packets", "both"), default="sources",
                   help="daily distinct sources, packets, or both in one Bonferroni family")
    a.add_argument("--top", type=positive, default=30, help="sensor-port series to test (default 30)")
    a.set_defaults(func=_anomalies)

    s = sub.add_parser("survival", help="time to first probe per port; time between new sources")
    add_source_args(s)
    add_format_arg(s)
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
    from honeyscope.analyse import health

    t = open_source(args)
    caps = health.capping(t)
    if args.by == "sensor":
        df = health.completeness(t)
        capped = caps.groupby("host")["freq"].agg(lambda s: ",".join(s)) if len(caps) else {}
        df["capped"] = df["host"].map(capped).fillna("") if len(caps) else ""
        emit(df, args.format)
        if args.format == "text" and len(caps):
            emit(caps[["why"]], "text", _why_text)
    else:
        emit(health.health(t, freq=args.by, caps=caps), args.format)
    return 0


def _gaps(args: argparse.Namespace) -> int:
    from honeyscope.analyse import health

    t = open_source(args)
    o = health.GapOptions(alpha=args.alpha, min_gap=args.min_gap * 3600)
    df = health.gaps(t, o, include_quiet=args.quiet)
    emit(_flags(df), args.format, _why_text)
    return 0


def _trends(args: argparse.Namespace) -> int:
    from honeyscope.analyse import trends

    t = open_source(args)
    if args.port:
        if not args.split:
            raise ValueError("--port needs --split DATE")
        proto, port = args.port
        res = trends.rise_test(t, proto, port, args.split)
        emit(pd.DataFrame([res]), args.format, lambda df: str(df["why"].iloc[0]))
        return 0
    s = trends.series(t, ("host",), args.metric)
    sp = trends.series(t, ("host", "proto", "dpt"), args.metric, top=args.top)
    family = trends.changepoint_tests(s) + trends.changepoint_tests(sp)  # one family per run
    df = pd.concat([trends.changepoints(s, metric=args.metric, family=family),
                    trends.changepoints(sp, metric=args.metric, family=family)], ignore_index=True)
    emit(_flags(df), args.format, _why_text)
    return 0


def _anomalies(args: argparse.Namespace) -> int:
    from honeyscope.analyse import trends

    t = open_source(args)
    emit(_flags(trends.anomalies(t, metric=args.metric, top_ports=args.top)), args.format, _why_text)
    return 0


def _survival(args: argparse.Namespace) -> int:
    from honeyscope.analyse import survival

    t = open_source(args)
    if args.new_sources:
        emit(survival.new_source_intervals(t), args.format)
        return 0
    fp = survival.first_probe(t, top=args.top)
    emit(fp if args.by_sensor else survival.survival_summary(fp), args.format)
    return 0
