"""``honeyscope summary``, ``count``, ``daily``, ``ports`` and ``port-sources``: the posts' analyses.

Each command: SOURCE... (a store or data files), ``--format text|csv|json``, ``--plot FILE.png|svg``
(and ``--scales free|fixed`` for the faceted charts). The work is done by
:mod:`honeyscope.analyse.explore`; text by :mod:`honeyscope.render.console`, charts by
:mod:`honeyscope.render.charts`.
"""

from __future__ import annotations

import argparse
import sys

from honeyscope.cli.common import (
    analysis_parser,
    emit,
    output_file,
    positive,
    protocol,
    run_analysis,
)


def _add_plot_args(p: argparse.ArgumentParser, scales: bool = True) -> None:
    p.add_argument("--plot", metavar="FILE", type=output_file,
                   help="also draw the chart to FILE.png or FILE.svg")
    if scales:
        p.add_argument("--scales", choices=("free", "fixed"), default=None,
                       help="y scales of the panels (default free; fixed with --ma)")


def register(sub: argparse._SubParsersAction) -> None:
    s = analysis_parser(sub, "summary")
    s.add_argument("--width", type=positive, default=80, help="text width (default 80)")
    s.set_defaults(func=_summary)

    c = analysis_parser(sub, "count")
    c.add_argument("--by", required=True, metavar="COL[,COL]", help="columns to count by")
    c.set_defaults(func=_count)

    d = analysis_parser(sub, "daily")
    d.add_argument("--unique", action="store_true", help="count distinct sources, not packets")
    d.add_argument("--ma", type=positive, metavar="N",
                   help="centred N-day moving average (R's filter(x, rep(1/N, N)))")
    d.add_argument("--by", choices=("host", "none"), default="host",
                   help="one series per sensor (default) or one for all")
    _add_plot_args(d)
    d.set_defaults(func=_daily)

    p = analysis_parser(sub, "ports")
    p.add_argument("--proto", default="tcp", type=lambda v: protocol(v, allow_all=True),
                   help="tcp (default), udp, all, or a protocol name")
    p.add_argument("--top", type=positive, default=10, help="how many ports (default 10)")
    p.add_argument("--by", choices=("host", "none"), default="none",
                   help="the top ports of each sensor (host) or overall (default)")
    _add_plot_args(p, scales=False)
    p.set_defaults(func=_ports)

    q = analysis_parser(sub, "port-sources")
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
    from honeyscope.render import console

    df = run_analysis(args, "summary")
    emit(df, args.format, lambda d: console.summary_text(d, width=args.width))
    return 0


def _count(args: argparse.Namespace) -> int:
    from honeyscope.render import console

    by = [b.strip() for b in args.by.split(",") if b.strip()]
    df = run_analysis(args, "count", by=by)
    emit(df, args.format, lambda d: console.count_text(d, by))
    return 0


def _daily(args: argparse.Namespace) -> int:
    from honeyscope.render import console

    df = run_analysis(args, "daily", unique=args.unique, ma=args.ma, by=args.by)
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
    from honeyscope.render import console

    df = run_analysis(args, "ports", proto=args.proto, top=args.top, by=args.by)
    emit(df, args.format, console.ports_text)
    if args.plot:
        from honeyscope.render import charts

        _plot(charts.ports_chart(df, args.proto), args.plot)
    return 0


def _port_sources(args: argparse.Namespace) -> int:
    from honeyscope.render import console

    df = run_analysis(args, "port_sources", proto=args.proto, top=args.top)
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
