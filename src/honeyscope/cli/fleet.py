"""``honeyscope enrich``, ``sources``, ``source``, ``scans`` and ``compare``."""

from __future__ import annotations

import argparse

import ibis

from honeyscope.cli.common import add_format_arg, add_source_args, emit, non_negative, open_source, positive


def register(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("enrich", help="country and ASN of every source (offline database)")
    add_source_args(e)
    add_format_arg(e)
    e.add_argument("--top", type=non_negative, default=0, help="only the N busiest sources (0: all)")
    e.add_argument("--by", choices=("source", "country", "asn"), default="source",
                   help="one row per source (default), per country or per ASN")
    e.set_defaults(func=_enrich)

    s = sub.add_parser("sources", help="each source across the fleet: sensors reached, order, reach")
    add_source_args(s)
    add_format_arg(s)
    s.add_argument("--top", type=non_negative, default=30, help="rows (default 30; 0: all)")
    s.add_argument("--sort", choices=("sensors", "packets", "ports", "first_seen"),
                   default="sensors", help="order (default: most sensors, then packets)")
    s.add_argument("--summary", action="store_true", help="sources per reach level instead")
    s.set_defaults(func=_sources)

    one = sub.add_parser("source", help="timeline of one or more sources across all sensors")
    one.add_argument("ip", metavar="IP", help="source address (comma-separated for several)")
    add_source_args(one)
    add_format_arg(one)
    one.add_argument("--limit", type=positive, default=1000, help="at most this many packets")
    one.set_defaults(func=_source)

    sc = sub.add_parser("scans", help="vertical/horizontal/block/protocol scans and backscatter")
    add_source_args(sc)
    add_format_arg(sc)
    sc.add_argument("--min-ports", type=positive, default=10, help="vertical: ports on one target")
    sc.add_argument("--min-targets", type=positive, default=5, help="horizontal: targets on one port")
    sc.add_argument("--min-protocols", type=positive, default=5, help="protocol scan: IP protocols")
    sc.add_argument("--no-ack", action="store_true", help="leave ACK scans out (psad's default)")
    sc.add_argument("--window-hours", type=float, default=24.0,
                    help="count ports/targets within windows of this many hours (default 24)")
    sc.add_argument("--pattern", help="only this pattern (vertical, horizontal, block, ...)")
    sc.add_argument("--top", type=non_negative, default=50, help="rows (default 50; 0: all)")
    sc.add_argument("--summary", action="store_true", help="counts per pattern and type")
    sc.set_defaults(func=_scans)

    c = sub.add_parser("compare", help="fair comparison: per sensor, or per day / sensors reporting")
    add_source_args(c)
    add_format_arg(c)
    c.add_argument("--by", choices=("sensor", "day", "hour", "week", "sensor-day"),
                   default="sensor")
    c.set_defaults(func=_compare)


def _limit(t: ibis.Table, n: int) -> ibis.Table:
    return t.limit(n) if n and n > 0 else t


def _enrich(args: argparse.Namespace) -> int:
    from honeyscope.analyse import enrich

    s = enrich.origin_rollup(enrich.sources(open_source(args)), args.by)
    emit(_limit(s, args.top).execute(), args.format)
    return 0


def _sources(args: argparse.Namespace) -> int:
    from honeyscope.analyse import fleet

    p = fleet.source_profiles(open_source(args))
    if args.summary:
        emit(fleet.reach_summary(p).execute(), args.format)
        return 0
    order = {
        "sensors": [ibis.desc("sensors"), ibis.desc("packets")],
        "packets": [ibis.desc("packets")],
        "ports": [ibis.desc("ports"), ibis.desc("packets")],
        "first_seen": ["first_seen"],
    }[args.sort]
    emit(_limit(p.order_by([*order, "src"]), args.top).execute(), args.format)
    return 0


def _source(args: argparse.Namespace) -> int:
    from honeyscope.analyse import fleet

    ips = [i.strip() for i in args.ip.split(",") if i.strip()]
    t = fleet.source_timeline(open_source(args), ips)
    df = _limit(t, args.limit).execute()
    if df.empty:
        raise ValueError(f"no packets from {', '.join(ips)}")
    emit(df, args.format)
    return 0


def _scans(args: argparse.Namespace) -> int:
    from honeyscope.analyse import scans

    found = scans.scans(
        open_source(args), min_ports=args.min_ports, min_targets=args.min_targets,
        min_protocols=args.min_protocols, include_ack=not args.no_ack,
        window_hours=args.window_hours,
    )
    if args.pattern:
        found = found.filter(found.pattern == args.pattern)
    if args.summary:
        emit(scans.pattern_counts(found).execute(), args.format)
        return 0
    cols = ["src", "cc", "asn", "scan_type", "psad_name", "pattern", "kind", "packets", "targets",
            "sensors",
            "ports", "port_range", "src_protocols", "first_seen", "last_seen"]
    emit(_limit(found, args.top).execute()[cols], args.format)
    return 0


def _compare(args: argparse.Namespace) -> int:
    from honeyscope.analyse import fleet

    t = open_source(args)
    if args.by == "sensor":
        df = fleet.compare_sensors(t).execute()
    elif args.by == "sensor-day":
        df = fleet.fair_by_sensor(t, "day").execute()
    else:
        df = fleet.fair_daily(t, args.by).execute()
    emit(df, args.format)
    return 0
