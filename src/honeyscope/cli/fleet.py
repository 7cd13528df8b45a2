"""``honeyscope enrich``, ``sources``, ``source``, ``scans`` and ``compare``."""

from __future__ import annotations

import argparse

from honeyscope.cli.common import analysis_parser, emit, non_negative, positive, run_analysis


def register(sub: argparse._SubParsersAction) -> None:
    e = analysis_parser(sub, "enrich")
    e.add_argument("--top", type=non_negative, default=0, help="only the N busiest sources (0: all)")
    e.add_argument("--by", choices=("source", "country", "asn"), default="source",
                   help="one row per source (default), per country or per ASN")
    e.set_defaults(func=_enrich)

    s = analysis_parser(sub, "sources")
    s.add_argument("--top", type=non_negative, default=30, help="rows (default 30; 0: all)")
    s.add_argument("--sort", choices=("sensors", "packets", "ports", "first_seen"),
                   default="sensors", help="order (default: most sensors, then packets)")
    s.add_argument("--summary", action="store_true", help="sources per reach level instead")
    s.set_defaults(func=_sources)

    one = analysis_parser(sub, "source")
    one.add_argument("--limit", type=positive, default=1000, help="at most this many packets")
    one.set_defaults(func=_source)

    sc = analysis_parser(sub, "scans")
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

    c = analysis_parser(sub, "compare")
    c.add_argument("--by", choices=("sensor", "day", "hour", "week", "sensor-day"),
                   default="sensor")
    c.set_defaults(func=_compare)


def _enrich(args: argparse.Namespace) -> int:
    emit(run_analysis(args, "enrich", top=args.top, by=args.by), args.format)
    return 0


def _sources(args: argparse.Namespace) -> int:
    emit(run_analysis(args, "sources", top=args.top, sort=args.sort, summary=args.summary), args.format)
    return 0


def _source(args: argparse.Namespace) -> int:
    emit(run_analysis(args, "source", ip=args.ip, limit=args.limit), args.format)
    return 0


def _scans(args: argparse.Namespace) -> int:
    df = run_analysis(args, "scans", min_ports=args.min_ports, min_targets=args.min_targets,
                      min_protocols=args.min_protocols, no_ack=args.no_ack,
                      window_hours=args.window_hours, pattern=args.pattern, top=args.top,
                      summary=args.summary)
    emit(df, args.format)
    return 0


def _compare(args: argparse.Namespace) -> int:
    emit(run_analysis(args, "compare", by=args.by), args.format)
    return 0
