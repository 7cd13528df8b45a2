"""``honeyscope summary``, ``count``, ``daily``, ``ports`` and ``port-sources``: the posts' analyses.

Each command: SOURCE... (a store or data files), ``--format text|csv|json``, ``--plot FILE.png|svg``
(and ``--scales free|fixed`` for the faceted charts). The work is done by
:mod:`honeyscope.analyse.explore`; text by :mod:`honeyscope.render.console`, charts by
:mod:`honeyscope.render.charts`.
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from honeyscope.cli.common import (
    add_format_arg,
    add_source_args,
    emit,
    open_source,
    output_file,
    positive,
    protocol,
)


def _add_plot_args(p: argparse.ArgumentParser, scales: bool = True) -> None:
    p.add_argument("--plot", metavar="FILE", type=output_file,
                   help="also draw the chart to FILE.png or FILE.svg")
    if scales:
        p.add_argument("--scales", choices=("free", "fixed"), default=None,
                       help="y scales of the panels (default free; fixed with --ma)")


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("summary", help="R's summary() of the packets, domain-aware")
    add_source_args(s)
    add_format_arg(s)
    s.add_argument("--width", type=positive, default=80, help="text width (default 80)")
    s.set_defaults(func=_summary)

    c = sub.add_parser("count", help="packets per value of columns, NA included")
    add_source_args(c)
    add_format_arg(c)
    c.add_argument("--by", required=True, metavar="COL[,COL]", help="columns to count by")
    c.set_defaults(func=_count)

    d = sub.add_parser("daily", help="packets (or distinct sources) per sensor per UTC day")
    add_source_args(d)
    add_format_arg(d)
    d.add_argument("--unique", action="store_true", help="count distinct sources, not packets")
    d.add_argument("--ma", type=positive, metavar="N",
                   help="centred N-day moving average (R's filter(x, rep(1/N, N)))")
    d.add_argument("--by", choices=("host", "none"), default="host",
                   help="one series per sensor (default) or one for all")
    _add_plot_args(d)
    d.set_defaults(func=_daily)

    p = sub.add_parser("ports", help="top destination ports, per protocol")
    add_source_args(p)
    add_format_arg(p)
    p.add_argument("--proto", default="tcp", type=lambda v: protocol(v, allow_all=True),
                   help="tcp (default), udp, all, or a protocol name")
    p.add_argument("--top", type=positive, default=10, help="how many ports (default 10)")
    p.add_argument("--by", choices=("host", "none"), default="none",
                   help="the top ports of each sensor (host) or overall (default)")
    _add_plot_args(p, scales=False)
    p.set_defaults(func=_ports)

    q = sub.add_parser("port-sources",
                       help="part 2: average distinct sources per sensor per day, top ports")
    add_source_args(q)
    add_format_arg(q)
    q.add_argument("--proto", default="tcp", type=lambda v: protocol(v, choices=("tcp", "udp")),
                   help="tcp (default) or udp")
    q.add_argument("--top", type=positive, default=10, help="how many ports (default 10)")
    q.add_argument("--chart", choices=("box", "trend"), default="box",
                   help="with --plot: the box plot (default) or the per-port trends")
    _add_plot_args(q, scales=False)
    q.set_defaults(func=_port_sources)


def _plot(plot, path: str | None) -> None:
    if not path:
        return
    from honeyscope.render import charts

    charts.save(plot, path)
    print(f"wrote {path}", file=sys.stderr)


def _summary(args: argparse.Namespace) -> int:
    from honeyscope.analyse import explore
    from honeyscope.render import console

    df = explore.summary(open_source(args))
    emit(df, args.format, lambda d: console.summary_text(d, width=args.width))
    return 0


def _count(args: argparse.Namespace) -> int:
    from honeyscope.analyse import explore
    from honeyscope.render import console

    by = [b.strip() for b in args.by.split(",") if b.strip()]
    df = explore.count(open_source(args), by)
    emit(df, args.format, lambda d: console.count_text(d, by))
    return 0


def _daily(args: argparse.Namespace) -> int:
    from honeyscope.analyse import explore
    from honeyscope.render import console

    df = explore.daily(open_source(args), unique=args.unique, ma=args.ma,
                       by_host=args.by == "host")
    out = df.copy()
    out["day"] = out["day"].dt.strftime("%Y-%m-%d")
    emit(out, args.format, console.daily_text)
    if args.plot:
        from honeyscope.render import charts

        what = "Distinct sources" if args.unique else "Packets"
        title = f"{what} per sensor per day" + (f", {args.ma}-day moving average" if args.ma else "")
        scales = args.scales or ("fixed" if args.ma else "free")
        ylab = "distinct sources" if args.unique else "packets"
        _plot(charts.daily_chart(df, scales=scales, title=title, ylab=ylab), args.plot)
    return 0


def _ports(args: argparse.Namespace) -> int:
    from honeyscope.analyse import explore
    from honeyscope.render import console

    df = explore.ports(open_source(args), proto=args.proto, top=args.top,
                       by_host=args.by == "host")
    emit(df, args.format, console.ports_text)
    if args.plot:
        _plot(_ports_chart(df, args.proto), args.plot)
    return 0


def _ports_chart(df: pd.DataFrame, proto: str):
    from plotnine import aes, coord_flip, geom_col, ggplot, labs

    from honeyscope.render import charts

    d = df.copy()
    key = "host" if "host" in d.columns else None
    d["label"] = d["port"].astype(str)
    if "proto" in d.columns:
        d["label"] = d["proto"].astype(str) + "/" + d["label"]
    order = list(dict.fromkeys(d["label"]))[::-1]
    d["label"] = pd.Categorical(d["label"], categories=order, ordered=True)
    if key:
        d["host"] = d["host"].map(charts._label)
    p = (
        ggplot(d, aes("label", "count"))
        + geom_col(fill="steelblue", position="identity")
        + coord_flip()
        + labs(title=f"Top destination ports ({proto.upper()})", x="port", y="packets")
        + charts._theme()
    )
    if key:
        from plotnine import facet_wrap

        p += facet_wrap("~host", scales="free")
    return p


def _port_sources(args: argparse.Namespace) -> int:
    from honeyscope.analyse import explore
    from honeyscope.render import console

    df = explore.port_sources(open_source(args), proto=args.proto, top=args.top)
    out = df.copy()
    out["day"] = out["day"].dt.strftime("%Y-%m-%d")
    emit(out, args.format, lambda _d: console.port_sources_text(df))
    if args.plot:
        from honeyscope.render import charts

        name = args.proto.upper()
        if args.chart == "trend":
            plot = charts.port_trend_chart(df, xlab="day (UTC)")
        else:
            plot = charts.port_box_chart(df, xlab=f"{name} Destination Port",
                                         title=f"Average distinct sources per sensor per day, "
                                               f"top {name} ports")
        _plot(plot, args.plot)
    return 0
